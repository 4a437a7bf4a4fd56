"""Deployment's fixtures: a tiny finished run of the Moving Digits demo, trained once per
test session, and a tiny adaptive model calibrated at a few configurations with its table."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
import torch
import torch.nn as nn

from mutualnet3d.config import load_config
from mutualnet3d.data import build_dataset
from mutualnet3d.deploy import load_calibrated, search_rows, validation_batches
from mutualnet3d.engine import run
from mutualnet3d.engine.forward import forward_at
from mutualnet3d.engine.spec import RunSpec
from mutualnet3d.evaluation import ConfigResult
from mutualnet3d.models import get_model_builder
from mutualnet3d.slim import BNCalibrator, SubnetConfig, count_flops

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "configs" / "Demo" / "MutualNet_Slow_Digits.yaml")


@dataclass
class TinyRun:
    """A finished run: ``tools/*.py --cfg cfg *opts`` reads it; ``rows`` is its search table."""

    cfg: str
    opts: list[str]
    output_dir: Path
    rows: list[ConfigResult]

    def args(self, *flags: str) -> list[str]:
        """A tool's command line: ``--cfg``, ``flags``, then the run's overrides."""
        return ["--cfg", self.cfg, *flags, *self.opts]


def tiny_run_opts(output: Path) -> list[str]:
    """The demo shrunk to seconds: 24 clips, one epoch, a 2 x 2 x 2 grid, no test."""
    opts = {
        "OUTPUT_DIR": str(output),
        "MOVING_DIGITS.NUM_TRAIN_CLIPS": "24",
        "MOVING_DIGITS.NUM_VAL_CLIPS": "24",
        "SOLVER.MAX_EPOCH": "1",
        "TRAIN.BATCH_SIZE": "8",
        "TEST.BATCH_SIZE": "8",
        "BN.USE_PRECISE_STATS": "False",
        "MUTUALNET.BN_CALIB_BATCHES": "1",
        "MUTUALNET.EVAL_WIDTHS": "[0.5, 1.0]",
        "MUTUALNET.EVAL_SPATIAL_SIZES": "[32, 16]",
        "MUTUALNET.EVAL_TEMPORAL_SIZES": "[8, 2]",
        "TEST.ENABLE": "False",
        "LOG_MODEL_INFO": "False",
    }
    return [item for pair in opts.items() for item in pair]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> TinyRun:
    """The demo config trained, calibrated and searched at test size (~10 s)."""
    output = tmp_path_factory.mktemp("tiny_run")
    opts = tiny_run_opts(output)
    run(load_config(DEMO, opts))
    return TinyRun(DEMO, opts, output, search_rows(str(output))[0])


@pytest.fixture(scope="session")
def adaptive(tiny_run):
    """The run's adaptive network (calibrated checkpoint) and a batch of 4 val clips."""
    spec = RunSpec.from_cfg(load_config(tiny_run.cfg, tiny_run.opts))
    model = spec.model.build().eval()
    load_calibrated(model, spec.output_dir)
    dataset = build_dataset(spec.train_data, "val", alpha=model.alpha)
    return model, validation_batches(dataset, 4, 4, model.num_pathways)[0]


def load_tool(name: str) -> ModuleType:
    """``tools/{name}.py`` as a module, for its ``main(argv)``."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# slow_tiny runs 4 frames of 32 px at full size. Made-up accuracies: 0.75x-24px-3f is
# dominated (by 1.00x-16px-2f, cheaper and better), the others form the front.
CONFIGS = {
    SubnetConfig(0.5, 16, 2): 40.0,
    SubnetConfig(1.0, 16, 2): 55.0,
    SubnetConfig(0.75, 24, 3): 50.0,
    SubnetConfig(0.5, 24, 4): 52.0,
    SubnetConfig(1.0, 32, 4): 70.0,
}


@dataclass
class Calibrated:
    model: nn.Module
    table: list[ConfigResult]
    clip: torch.Tensor  # a full-size batch of 2 clips


def calibrate(name: str, configs: dict[SubnetConfig, float]) -> Calibrated:
    """``name`` built with random weights, calibrated on one random batch per config."""
    torch.manual_seed(0)
    model = get_model_builder(name)().eval()
    clip = model.example_input(batch_size=2)
    clip = [torch.randn_like(x) for x in clip] if isinstance(clip, list) else torch.randn_like(clip)
    calibrator = BNCalibrator(model)
    for config in configs:
        calibrator.update(config.width, config.key, lambda m, c=config: forward_at(m, clip, c))
    calibrator.finish()
    table = []
    for config, metric in configs.items():
        flops = count_flops(
            model, model.example_args(config.spatial, config.temporal), config.width
        )
        table.append(
            ConfigResult(config.width, config.spatial, config.temporal, flops / 1e9, 0.1, metric)
        )
    return Calibrated(model, table, clip)


@pytest.fixture(scope="module")
def calibrated() -> Calibrated:
    return calibrate("slow_tiny", CONFIGS)
