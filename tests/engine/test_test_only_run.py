"""TEST.CHECKPOINT_FILE_PATH: a test-only run (calibration, search, test) from a PySlowFast
or Caffe2 checkpoint, as PySlowFast documents testing its zoo's models; the checkpoint
settings reach the loaders as typed arguments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mutualnet3d.config import load_config
from mutualnet3d.engine import RunSpec, run
from mutualnet3d.engine.checkpoint import load_checkpoint_file
from mutualnet3d.engine.weights_file import CheckpointError
from tests.e2e.test_run_net import SLOW, tiny_opts

from .foreign_formats import reference, write_format

X3D_XS = str(Path(SLOW).parent / "MutualNet_X3D_XS.yaml")


def test_the_checkpoint_settings_are_typed_pieces_of_the_spec() -> None:
    opts = ["TRAIN.CHECKPOINT_TYPE", "caffe2", "TRAIN.CHECKPOINT_INFLATE", "True"]
    spec = RunSpec.from_cfg(load_config(SLOW, [*opts, "TEST.CHECKPOINT_TYPE", "caffe2"]))
    assert (spec.train.init_checkpoint_type, spec.train.inflate) == ("caffe2", True)
    assert spec.test.checkpoint_type == "caffe2"
    default = RunSpec.from_cfg(load_config(SLOW))
    assert (default.train.init_checkpoint_type, default.test.checkpoint_type) == ("pytorch",) * 2


@pytest.mark.slow  # a whole test-only run: calibration, search and the multi-view test
@pytest.mark.parametrize("fmt, checkpoint_type", [("pyslowfast", "pytorch"), ("caffe2", "caffe2")])
def test_a_test_only_run_from_a_foreign_checkpoint(
    kinetics_dir, tmp_path: Path, fmt: str, checkpoint_type: str
) -> None:
    _, state = reference("slow_tiny", num_classes=2)
    path = write_format(tmp_path / "zoo", fmt, "slow_tiny", state)
    out = tmp_path / "out"
    extra = {
        "TRAIN.ENABLE": "False",
        "TEST.CHECKPOINT_FILE_PATH": str(path),
        "TEST.CHECKPOINT_TYPE": checkpoint_type,
        "MUTUALNET.BN_CALIB_BATCHES": "1",
    }
    run(load_config(SLOW, tiny_opts(kinetics_dir, out, **extra)))

    log = (out / "stdout.log").read_text()
    assert f"{path}: loaded" in log and f"({fmt} format" in log
    test = json.loads((out / "test_results.json").read_text())
    assert test["videos"] == 4 and test["complete_videos"] == 4
    assert len(json.loads((out / "search_table.json").read_text())["configurations"]) == 8
    # The calibrated network is the file's (its weights; BN statistics added per config).
    calibrated = load_checkpoint_file(out / "checkpoints" / "checkpoint_calibrated.pyth")
    key = "blocks.3.res_blocks.0.branch2.conv_a.weight"
    assert torch.equal(calibrated["model_state"][key], state[key])


@pytest.mark.slow
def test_a_test_only_run_refuses_a_checkpoint_of_another_class_count(
    kinetics_dir, tmp_path: Path
) -> None:
    _, state = reference("slow_tiny", num_classes=5)
    path = write_format(tmp_path / "zoo", "pyslowfast", "slow_tiny", state)
    extra = {"TRAIN.ENABLE": "False", "TEST.CHECKPOINT_FILE_PATH": str(path)}
    cfg = load_config(SLOW, tiny_opts(kinetics_dir, tmp_path / "out", **extra))
    with pytest.raises(CheckpointError, match=r"zoo\.pyth .*5 classes in the file and 2"):
        run(cfg)


@pytest.mark.slow
@pytest.mark.parametrize("layout, other", [("X3D", "PTVX3D"), ("PTVX3D", "X3D")])
def test_a_test_only_run_from_an_x3d_file_of_the_other_layout_names_the_model_to_build(
    kinetics_dir, tmp_path: Path, layout: str, other: str
) -> None:
    """PySlowFast's X3D (a BN on res2's first shortcut) and PTVX3D (PyTorchVideo's X3D)
    read the same X3D.* sizes; a file of one refused by the other says which to use."""
    sizes = {"width_factor": 2.0, "depth_factor": 1.0, "head_dim_out": 32, "stem_dim_in": 4}
    _, state = reference(layout, num_classes=2, num_frames=4, crop_size=32, **sizes)
    path = write_format(tmp_path / "zoo", "pyslowfast", layout, state)
    extra = {
        "TRAIN.ENABLE": "False",
        "TEST.CHECKPOINT_FILE_PATH": str(path),
        "MODEL.MODEL_NAME": other,
        "X3D.WIDTH_FACTOR": "2.0",
        "X3D.DEPTH_FACTOR": "1.0",
        "X3D.DIM_C5": "32",
        "X3D.DIM_C1": "4",
        "RESNET.TRANS_FUNC": "x3d_transform",
        "MUTUALNET.TEMPORAL_SIZES": "[4, 2]",
    }
    cfg = load_config(X3D_XS, tiny_opts(kinetics_dir, tmp_path / "out", **extra))
    hint = rf"zoo\.pyth .*build MODEL\.MODEL_NAME {layout} or"
    with pytest.raises(CheckpointError, match=hint) as error:
        run(cfg)
    # the networks differ by that BN alone
    assert "another shape" not in str(error.value) and "branch1_norm" in str(error.value)


@pytest.mark.slow  # a training run, then the test of the file's weights
def test_after_training_the_test_checkpoint_takes_precedence(kinetics_dir, tmp_path: Path) -> None:
    """PySlowFast's run_net tests TEST.CHECKPOINT_FILE_PATH after training, not the
    trained weights; calibration and test here do the same."""
    _, state = reference("slow_tiny", num_classes=2)
    path = write_format(tmp_path / "zoo", "pyslowfast", "slow_tiny", state)
    out = tmp_path / "out"
    extra = {
        "SOLVER.MAX_EPOCH": "1",
        "TEST.CHECKPOINT_FILE_PATH": str(path),
        "MUTUALNET.BN_CALIB_BATCHES": "1",
        "MUTUALNET.EVAL_WIDTHS": "[1.0]",
    }
    run(load_config(SLOW, tiny_opts(kinetics_dir, out, **extra)))
    log = (out / "stdout.log").read_text()
    assert log.index('"_type": "train_iter"') < log.index(f"{path}: loaded")
    calibrated = load_checkpoint_file(out / "checkpoints" / "checkpoint_calibrated.pyth")
    key = "blocks.3.res_blocks.0.branch2.conv_a.weight"
    assert torch.equal(calibrated["model_state"][key], state[key])
