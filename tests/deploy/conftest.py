"""A tiny finished run of the Moving Digits demo, trained once per test session."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from mutualnet3d.config import load_config
from mutualnet3d.deploy import load_calibrated, search_rows, validation_batches
from mutualnet3d.engine import run
from mutualnet3d.engine.spec import RunSpec
from mutualnet3d.data import build_dataset
from mutualnet3d.evaluation import ConfigResult

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
