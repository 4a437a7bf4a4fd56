"""Deployment on a tiny trained run: BudgetedModel against the static exports of its
query table, tools/measure_latency.py and tools/cascade.py."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
import torch

from mutualnet3d.config import load_config
from mutualnet3d.deploy import BudgetedModel, load_calibrated, subnet_config
from mutualnet3d.engine import run
from mutualnet3d.engine.forward import resize_input
from mutualnet3d.engine.spec import RunSpec
from mutualnet3d.evaluation import read_table
from mutualnet3d.slim import export_subnet

pytestmark = pytest.mark.slow  # a training run, then the tools on it

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "configs" / "Demo" / "MutualNet_Slow_Digits.yaml")


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> list[str]:
    """One epoch of 24 digit clips, calibration and search of 8 configurations on val
    (24 clips; test holds 24 other digits); returns the overrides that name it."""
    opts = {
        "OUTPUT_DIR": str(tmp_path_factory.mktemp("deploy") / "run"),
        "MOVING_DIGITS.NUM_TRAIN_CLIPS": "24",
        "MOVING_DIGITS.NUM_VAL_CLIPS": "24",
        "MOVING_DIGITS.SIZE": "36",
        "DATA.TRAIN_CROP_SIZE": "32",
        "SOLVER.MAX_EPOCH": "1",
        "TRAIN.BATCH_SIZE": "4",
        "TEST.BATCH_SIZE": "12",
        "BN.USE_PRECISE_STATS": "False",
        "MUTUALNET.EVAL_WIDTHS": "[0.5, 1.0]",
        "MUTUALNET.EVAL_SPATIAL_SIZES": "[32, 16]",
        "MUTUALNET.EVAL_TEMPORAL_SIZES": "[8, 2]",
        "MUTUALNET.BN_CALIB_BATCHES": "1",
        "TEST.ENABLE": "False",
        "LOG_MODEL_INFO": "False",
    }
    opts = [item for pair in opts.items() for item in pair]
    run(load_config(DEMO, opts))
    return opts


def _budgeted_equals_static(opts: list[str]) -> None:
    """At every configuration of the run's query table, in both orders, a budget call
    gives the static export's logits."""
    spec = RunSpec.from_cfg(load_config(DEMO, opts))
    model = spec.model.build()
    load_calibrated(model, spec.output_dir)
    query = read_table(str(Path(spec.output_dir) / "query_table.json"))
    budgeted = BudgetedModel(model, query, align_corners=spec.resize_align_corners)
    clip = torch.randn(2, 3, 8, 32, 32, generator=torch.Generator().manual_seed(0))
    for row in [*query, *query[::-1]]:
        config = subnet_config(row)
        static = export_subnet(model, config.width, config.key).eval()
        with torch.no_grad():
            expected = static(resize_input(clip, config, align_corners=spec.resize_align_corners))
        got = budgeted(clip, budget_gflops=row.gflops)
        assert budgeted.last_config == config
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_budgeted_model_gives_the_static_exports_logits_on_the_query_table(tiny_run):
    _budgeted_equals_static(tiny_run)


DEMO_OUTPUT = os.environ.get("MUTUALNET3D_DEMO_OUTPUT", "")


@pytest.mark.skipif(
    not DEMO_OUTPUT,
    reason="set MUTUALNET3D_DEMO_OUTPUT to a finished run of configs/Demo/"
    "MutualNet_Slow_Digits.yaml (its OUTPUT_DIR) to check its query table",
)
def test_budgeted_model_gives_the_static_exports_logits_on_the_demos_query_table():
    _budgeted_equals_static(["OUTPUT_DIR", DEMO_OUTPUT])


def test_measure_latency_writes_the_table_both_fronts_and_their_differences(tiny_run, capsys):
    tool = _tool("measure_latency")
    argv = ["--cfg", DEMO, "--batch", "1", "2", "--warmup", "1", "--repeats", "2", *tiny_run]
    assert tool.main(argv) == 0
    printed = capsys.readouterr().out
    out = Path(tiny_run[1])
    table = json.loads((out / "latency_table.json").read_text())
    assert len(table["configurations"]) == 8 and table["batch_sizes"] == [1, 2]
    assert table["threads"] == torch.get_num_threads() and table["device"]
    assert all(c["latency_ms_b2"] > 0 for c in table["configurations"])
    front = json.loads((out / "query_table_latency.json").read_text())["configurations"]
    assert all(c["on_latency_front"] for c in front)
    assert "on the FLOPs front only" in printed or "hold the same configurations" in printed
    assert (out / "accuracy_latency.png").stat().st_size > 5000


def test_cascade_fits_on_val_and_reports_on_test_beside_the_static_table(tiny_run, capsys):
    tool = _tool("cascade")
    assert tool.main(["--cfg", DEMO, "--max-stages", "2", *tiny_run]) == 0
    printed = capsys.readouterr().out
    out = Path(tiny_run[1])
    result = json.loads((out / "cascade.json").read_text())
    query = read_table(str(out / "query_table.json"))
    assert (result["fit_split"], result["report_split"]) == ("val", "test")
    for entry, row in zip(result["configurations"], query):  # the search's val top-1 again
        assert entry["gflops"] == row.gflops and entry["val_top1"] == pytest.approx(row.metric)
    assert len(result["budgets"]) == 2 * len(query) - 1
    for record in result["budgets"]:
        assert record["fit"]["avg_gflops"] <= record["budget_gflops"] * (1 + 1e-9)
        assert record["fit"]["top1"] >= record["static"]["fit_top1"]
        assert sum(record["report"]["exits"]) == 24  # every test clip answered once
    assert "static query table" in printed and "warning" not in printed
    assert (out / "cascade_accuracy_flops.png").stat().st_size > 5000
    cheapest = min(query, key=lambda r: r.gflops)
    assert tool.main(["--budgets", "1e-9", "--cfg", DEMO, *tiny_run]) == 2
    assert f"below the cheapest configuration of the query table, {cheapest.name}" in (
        capsys.readouterr().err
    )
