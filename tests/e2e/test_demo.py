"""The demo configs (embedded digits, no files) run end to end at test size."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mutualnet3d.config import load_config
from mutualnet3d.engine import run

pytestmark = pytest.mark.slow  # whole runs of the command

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "Demo"


def _opts(output: Path, **extra: str) -> list[str]:
    opts = {
        "OUTPUT_DIR": str(output),
        "SOLVER.MAX_EPOCH": "1",
        "TRAIN.BATCH_SIZE": "4",
        "TEST.BATCH_SIZE": "6",
        "MUTUALNET.BN_CALIB_BATCHES": "1",
        "LOG_PERIOD": "1",
        **extra,
    }
    return [item for pair in opts.items() for item in pair]


def test_video_demo_trains_searches_prints_the_query_table_and_tests(tmp_path):
    out = tmp_path / "demo"
    opts = _opts(
        out,
        **{
            "MOVING_DIGITS.NUM_TRAIN_CLIPS": "8",
            "MOVING_DIGITS.NUM_VAL_CLIPS": "6",
            "MUTUALNET.EVAL_WIDTHS": "[0.5, 1.0]",
            "MUTUALNET.EVAL_SPATIAL_SIZES": "[32, 16]",
            "MUTUALNET.EVAL_TEMPORAL_SIZES": "[8, 2]",
        },
    )
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "run_net.py"),
            "--cfg",
            str(DEMO / "MutualNet_Slow_Digits.yaml"),
            *opts,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "query table: the best configuration for any budget" in result.stderr
    search = json.loads((out / "search_table.json").read_text())["configurations"]
    assert len(search) == 8
    gflops = sorted(c["gflops"] for c in search)
    assert gflops[-1] / gflops[0] > 10  # the grid spans more than 10x in cost
    for name in (
        "query_table.csv",
        "accuracy_flops.png",
        "checkpoints/checkpoint_epoch_00001.pyth",
        "checkpoints/checkpoint_calibrated.pyth",
    ):
        assert (out / name).is_file(), name
    test = json.loads((out / "test_results.json").read_text())
    assert test["videos"] == 6 and 0.0 <= test["top1"] <= 100.0


def test_image_demo_runs_the_2d_digits(tmp_path):
    out = tmp_path / "digits2d"
    cfg = load_config(
        str(DEMO / "MutualNet_MobileNetV1_Digits.yaml"),
        _opts(
            out,
            **{
                "MUTUALNET.EVAL_WIDTHS": "[0.25, 1.0]",
                "TRAIN.BATCH_SIZE": "1000",
                "TEST.BATCH_SIZE": "500",
                "MUTUALNET.EVAL_SPATIAL_SIZES": "[28, 16]",
            },
        ),
    )
    # An epoch of the 4,000 digits in 4 iterations: 28-px images are cheap.
    run(cfg)
    search = json.loads((out / "search_table.json").read_text())["configurations"]
    assert {(c["width"], c["spatial"]) for c in search} == {
        (w, s) for w in (0.25, 1.0) for s in (28, 16)
    }
    assert all(c["temporal"] is None for c in search)
