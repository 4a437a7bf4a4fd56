"""tools/run_net.py's command line: PySlowFast's forms, errors before any work."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = str(ROOT / "configs" / "Demo" / "MutualNet_Slow_Digits.yaml")


@pytest.fixture(scope="module")
def run_net():
    spec = importlib.util.spec_from_file_location("run_net", ROOT / "tools" / "run_net.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--cfg", DEMO, "NUM_GPUS", "0"], ["NUM_GPUS", "0"]),  # PySlowFast's older form
        (["--cfg", DEMO, "--opts", "NUM_GPUS", "0"], ["NUM_GPUS", "0"]),  # its newer one
        (["--cfg", DEMO, "--opts"], []),
        (
            ["--cfg", DEMO, "--num_shards", "2", "--shard_id", "1", "--opts", "RNG_SEED", "3"],
            ["RNG_SEED", "3", "NUM_SHARDS", "2", "SHARD_ID", "1"],
        ),
    ],
)
def test_overrides_with_or_without_opts(run_net, argv, expected):
    assert run_net.overrides(run_net.parse_args(argv)) == expected


def test_a_config_mistake_exits_2_with_one_line_naming_the_key(run_net, capsys):
    assert run_net.main(["--cfg", DEMO, "--opts", "SOLVER.LR_POLICY", "cosine_annealing"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: SOLVER.LR_POLICY must be one of") and "\n" not in error
    # --num_procs decides the processes on the CPU: 32 clips do not divide among 3.
    assert run_net.main(["--cfg", DEMO, "--num_procs", "3"]) == 2
    assert "TRAIN.BATCH_SIZE (32) must be divisible" in capsys.readouterr().err
