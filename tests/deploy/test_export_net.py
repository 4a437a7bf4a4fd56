"""tools/export_net.py on a finished run: each format at three budgets, verified; the
ONNX file in onnxruntime alone; refusals that leave the output folder as it was."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from mutualnet3d.data.moving_digits import MOTIONS
from mutualnet3d.deploy import (
    LatencyRow,
    LatencyTable,
    by_budget,
    sha256_file,
    write_latency_tables,
)
from mutualnet3d.engine.evaluate import forward_configs
from mutualnet3d.engine.forward import resize_input
from mutualnet3d.slim import SubnetConfig

from .conftest import load_tool

pytestmark = [
    pytest.mark.slow,  # a trained run, then exports (the ONNX exporter ~5 s each)
    # The tests load TorchScript files themselves, as a user does; torch 2.14 says it is
    # deprecated on every load.
    pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning"),
]


@pytest.fixture(scope="module")
def export_net():
    return load_tool("export_net")


def _budgets(rows):
    """The cheapest configuration's cost, a middle one's and the dearest's."""
    costs = sorted(r.gflops for r in rows)
    return [costs[0], costs[len(costs) // 2], costs[-1]]


def _reference(model, batch, card):
    c = card["configuration"]
    config = SubnetConfig(c["width"], c["spatial"], c["temporal"])
    return config, forward_configs(model, batch, [config])[0]


def _run_file(fmt, path, inputs):
    """The file run as a user runs it, with torch's own loaders."""
    with torch.no_grad():
        if fmt == "torchscript":
            return torch.jit.load(str(path))(*inputs)
        return torch.export.load(str(path)).module()(*inputs)


@pytest.mark.parametrize("fmt", ["torchscript", "onnx", "pt"])
@pytest.mark.parametrize("which", [0, 1, 2])
def test_three_budgets_in_each_format(tiny_run, adaptive, export_net, fmt, which, tmp_path):
    budget = _budgets(tiny_run.rows)[which]
    out = tmp_path / "out"
    args = tiny_run.args("--budget-gflops", repr(budget), "--format", fmt, "--out", str(out))
    assert export_net.main(args) == 0
    name = {"torchscript": "model.ts", "onnx": "model.onnx", "pt": "model.pt2"}[fmt]
    assert sorted(p.name for p in out.iterdir()) == sorted([name, "model_card.json"])
    assert not list(tmp_path.glob(".*"))  # no temporary folder left beside it
    card = json.loads((out / "model_card.json").read_text())
    chosen = by_budget(tiny_run.rows, budget)
    assert card["configuration"] == {
        "width": chosen.width,
        "spatial": chosen.spatial,
        "temporal": chosen.temporal,
        "bn_statistics": SubnetConfig(chosen.width, chosen.spatial, chosen.temporal).key,
    }
    assert card["gflops"] == chosen.gflops <= budget
    assert card["accuracy"] == {"split": "val", "top1": chosen.metric, "top5": chosen.top5}
    assert 0 <= card["verification"]["max_abs_logits_difference"] <= 1e-4
    assert card["verification"]["validation_clips"] == 8
    checkpoint = tiny_run.output_dir / "checkpoints" / "checkpoint_calibrated.pyth"
    assert card["source"] == {"checkpoint": str(checkpoint), "sha256": sha256_file(checkpoint)}
    assert card["class_names"] == list(MOTIONS)
    assert card["input"]["takes"] == "full"
    assert card["input"]["shapes"] == {"clip": ["batch", 3, 8, 32, 32]}
    frames, spatial = chosen.temporal, chosen.spatial
    assert card["input"]["network_shapes"] == {"clip": ["batch", 3, frames, spatial, spatial]}
    assert card["preprocessing"]["frames"] == 8 and card["preprocessing"]["crop_size"] == 32
    assert card["preprocessing"]["mean"] == [0.1] * 3 and card["preprocessing"]["std"] == [0.25] * 3
    if fmt != "onnx":  # the ONNX file has its own test, in onnxruntime alone
        model, batch = adaptive
        _, expected = _reference(model, batch, card)
        got = _run_file(fmt, out / name, [batch])
        assert (got - expected).abs().max().item() <= 1e-4


# Imports onnxruntime and numpy only, and proves it: the ONNX file needs nothing else.
ONNX_ALONE = """
import sys
import numpy as np
import onnxruntime
model, clips, out = sys.argv[1:]
session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
np.save(out, session.run(None, {name: np.load(clips)})[0])
loaded = [m for m in sys.modules if m.split(".")[0] in ("mutualnet3d", "torch", "pytorchvideo")]
assert not loaded, loaded
"""


def test_the_onnx_file_runs_in_onnxruntime_alone(tiny_run, adaptive, export_net, tmp_path):
    out = tmp_path / "onnx"
    args = tiny_run.args("--config", "0.5,16,2", "--format", "onnx", "--out", str(out))
    assert export_net.main(args) == 0
    model, batch = adaptive
    card = json.loads((out / "model_card.json").read_text())
    _, expected = _reference(model, batch, card)
    np.save(tmp_path / "clips.npy", batch.numpy())
    result = subprocess.run(
        [sys.executable, "-c", ONNX_ALONE, str(out / "model.onnx"), str(tmp_path / "clips.npy"),
         str(tmp_path / "logits.npy")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    logits = torch.from_numpy(np.load(tmp_path / "logits.npy"))
    assert logits.shape == (4, len(MOTIONS))
    assert (logits - expected).abs().max().item() <= 1e-4


def test_the_configuration_size_input(tiny_run, adaptive, export_net, tmp_path):
    out = tmp_path / "config"
    flags = ["--config", "0.5,16,2", "--input", "config", "--format", "torchscript"]
    assert export_net.main(tiny_run.args(*flags, "--out", str(out))) == 0
    card = json.loads((out / "model_card.json").read_text())
    assert card["input"]["takes"] == "config"
    assert card["input"]["shapes"] == {"clip": ["batch", 3, 2, 16, 16]}
    model, batch = adaptive
    config, expected = _reference(model, batch, card)
    got = _run_file("torchscript", out / "model.ts", [resize_input(batch, config)])
    assert (got - expected).abs().max().item() <= 1e-4


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def test_a_budget_below_the_cheapest_names_it(tiny_run, export_net, tmp_path, capsys):
    cheapest = min(tiny_run.rows, key=lambda r: r.gflops)
    out = tmp_path / "out"
    args = tiny_run.args("--budget-gflops", "1e-9", "--format", "pt", "--out", str(out))
    assert export_net.main(args) == 2
    err = _one_line_error(capsys)
    assert f"the cheapest is width 0.5, 16 px, 2 frames at {cheapest.gflops:g} GFLOPs" in err
    assert not out.exists()


def test_an_unsearched_configuration_is_refused(tiny_run, export_net, tmp_path, capsys):
    args = tiny_run.args("--config", "0.75,32,8", "--format", "pt", "--out", str(tmp_path / "o"))
    assert export_net.main(args) == 2
    assert "widths [0.5, 1.0], spatial sizes [16, 32] and frames [2, 8]" in _one_line_error(capsys)


@pytest.mark.parametrize("existing", [False, True])
def test_a_mismatch_writes_nothing(tiny_run, export_net, tmp_path, capsys, monkeypatch, existing):
    import mutualnet3d.deploy.export as export_module

    real = export_module.deployable

    def perturbed(*args, **kwargs):  # an export that went wrong: one weight off
        net = real(*args, **kwargs)
        with torch.no_grad():
            next(net.parameters()).mul_(1.5)
        return net

    monkeypatch.setattr(export_module, "deployable", perturbed)
    out = tmp_path / "out"
    if existing:  # a folder in use keeps exactly what it held
        out.mkdir()
        (out / "model_card.json").write_text("{}")
    args = tiny_run.args("--config", "1.0,32,8", "--format", "torchscript", "--out", str(out))
    assert export_net.main(args) == 2
    err = _one_line_error(capsys)
    assert "differs from the adaptive network" in err and "> 0.0001" in err
    assert [p.name for p in tmp_path.iterdir()] == (["out"] if existing else [])
    if existing:
        assert [p.name for p in out.iterdir()] == ["model_card.json"]
        assert (out / "model_card.json").read_text() == "{}"


def test_a_latency_budget_needs_the_latency_table(tiny_run, export_net, tmp_path, capsys):
    run_copy = tmp_path / "run"
    shutil.copytree(tiny_run.output_dir, run_copy)
    opts = [*tiny_run.opts[:1], str(run_copy), *tiny_run.opts[2:]]  # OUTPUT_DIR comes first
    args = ["--cfg", tiny_run.cfg, "--budget-ms", "5", "--format", "pt", "--out"]
    assert export_net.main([*args, str(tmp_path / "a"), *opts]) == 2
    assert "latency_table.json" in _one_line_error(capsys)
    # The table tools/measure_latency.py writes, at 1 ms per MFLOP: the cheapest alone
    # fits 0.5 ms.
    rows = tuple(
        LatencyRow(r, {1: r.gflops * 1000}, {1: 0.0}, {1: r.gflops * 1000}) for r in tiny_run.rows
    )
    write_latency_tables(LatencyTable(rows, "top1", "a CPU", 1, (1,), 1, 3), str(run_copy))
    assert export_net.main([*args[:3], "0.5", *args[4:], str(tmp_path / "b"), *opts]) == 0
    card = json.loads((tmp_path / "b" / "model_card.json").read_text())
    cheapest = min(tiny_run.rows, key=lambda r: r.gflops)
    assert card["configuration"]["spatial"] == cheapest.spatial
    assert card["configuration"]["temporal"] == cheapest.temporal
