"""Calibration and search on CUDA: the CPU's statistics and accuracies, and a whole run
(train, calibrate, search, test) on the GPU.

Marked ``cuda``: skipped, saying so, without a GPU (tests/conftest.py).
"""

from __future__ import annotations

import copy
import importlib
import json

import pytest
import torch

from mutualnet3d.config import load_config
from mutualnet3d.engine import run
from mutualnet3d.engine.calibrate import calibrate_grid
from mutualnet3d.engine.checkpoint import load_checkpoint_file
from mutualnet3d.engine.evaluate import Accumulator, forward_configs, search
from mutualnet3d.models import get_model_builder
from mutualnet3d.slim import SubnetConfig
from tests.deploy.conftest import DEMO, tiny_run_opts

from .helpers import float32_only

pytestmark = pytest.mark.cuda

run_module = importlib.import_module("mutualnet3d.engine.run")  # the package's run is its function
CPU, CUDA = torch.device("cpu"), torch.device("cuda")
GRID = [SubnetConfig(w, s, t) for w in (0.5, 1.0) for s in (32, 24) for t in (4, 2)]
CLASSES = 10


def _batches(model, count: int, size: int) -> list[dict]:
    """Collated batches of random clips and labels, on the CPU (the engine moves them)."""
    generator = torch.Generator().manual_seed(0)
    shape = model.example_input(batch_size=size).shape
    return [
        {
            "inputs": [torch.randn(shape, generator=generator)],
            "label": torch.randint(0, CLASSES, (size,), generator=generator),
        }
        for _ in range(count)
    ]


@float32_only()  # float32 on both sides
def test_calibration_and_search_on_cuda_give_the_cpus_statistics_and_accuracies():
    torch.manual_seed(0)
    # Logits spread apart (no zero-initialised last BN, a wide classifier), so that top-1
    # does not hang on float32 rounding.
    model = get_model_builder("slow_tiny")(
        num_classes=CLASSES, dropout_rate=0.0, zero_init_final_bn=False, fc_init_std=1.0
    )
    batches = _batches(model, 3, 8)
    on_cpu, on_cuda = copy.deepcopy(model), copy.deepcopy(model).to(CUDA)
    assert calibrate_grid(on_cpu, batches, GRID, 2, CPU) == 2
    assert calibrate_grid(on_cuda, batches, GRID, 2, CUDA) == 2
    expected = {k: v for k, v in on_cpu.state_dict().items() if ".stats_" in k}
    got = on_cuda.state_dict()
    assert len({k.split(".stats_")[1].rsplit("_", 1)[0] for k in expected}) == len(GRID)
    for key, value in expected.items():
        assert got[key].is_cuda
        torch.testing.assert_close(got[key].cpu(), value, rtol=1e-4, atol=1e-5, msg=key)
    tables = [
        search(m, batches, GRID, [Accumulator(False) for _ in GRID], device)
        for m, device in ((on_cpu, CPU), (on_cuda, CUDA))
    ]
    assert tables[1] == tables[0]  # configurations, GFLOPs, parameters, top-1, top-5
    assert len({row.metric for row in tables[0]}) > 1  # the configurations differ
    inputs = batches[0]["inputs"][0]
    for a, b in zip(
        forward_configs(on_cpu, inputs, GRID), forward_configs(on_cuda, inputs.to(CUDA), GRID)
    ):
        torch.testing.assert_close(b.cpu(), a, rtol=1e-4, atol=1e-4)


def test_a_run_trains_calibrates_searches_and_tests_on_cuda(tmp_path, monkeypatch):
    devices = []
    device_for_rank = run_module.device_for_rank
    monkeypatch.setattr(
        run_module, "device_for_rank", lambda n: devices.append(device_for_rank(n)) or devices[-1]
    )
    opts = [*tiny_run_opts(tmp_path), "NUM_GPUS", "1", "TEST.ENABLE", "True"]
    opts += ["TRAIN.MIXED_PRECISION", "True", "MODEL.CHANNELS_LAST", "True"]
    run(load_config(DEMO, opts))
    assert [d.type for d in devices] == ["cuda"]
    rows = json.loads((tmp_path / "search_table.json").read_text())["configurations"]
    assert len(rows) == 8 and all(0 <= r["top1"] <= 100 for r in rows)
    state = load_checkpoint_file(tmp_path / "checkpoints" / "checkpoint_calibrated.pyth")
    keys = {k.split(".stats_")[1].rsplit("_", 1)[0] for k in state["model_state"] if ".stats_" in k}
    assert len(keys) == 8  # 2 widths x 2 sizes x 2 frame counts
    test = json.loads((tmp_path / "test_results.json").read_text())
    assert test["complete_videos"] == test["videos"] > 0
