"""MUTUALNET.RESIZE_ALIGN_CORNERS: read once into the spec, and the same value resizes every
sub-network's input of a run (training, precise BN, validation, calibration, search, test)."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest

from mutualnet3d.config import ConfigError, get_cfg, load_config, validate_cfg
from mutualnet3d.engine import RunSpec, run
from mutualnet3d.engine import forward as forward_module

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "configs" / "Demo" / "MutualNet_Slow_Digits.yaml")
IMAGENET = sorted((ROOT / "configs" / "ImageNet").glob("*.yaml"))
# The engine functions that resize a sub-network's input, one per stage.
STAGES = {
    "mutual_step",  # training
    "precise_bn",  # BN.USE_PRECISE_STATS before a validation
    "evaluate",  # validation
    "calibrate_grid",  # BN calibration
    "search",  # search
    "test_views",  # multi-view test
}


def test_the_default_is_false_and_the_imagenet_configs_take_the_official_true():
    assert get_cfg().MUTUALNET.RESIZE_ALIGN_CORNERS is False
    assert RunSpec.from_cfg(load_config(DEMO)).resize_align_corners is False
    for path in IMAGENET:
        assert RunSpec.from_cfg(load_config(str(path))).resize_align_corners is True, path


@pytest.mark.parametrize("value", ["1", "yes", "'True'"])
def test_anything_but_a_bool_is_refused_naming_the_key(value):
    with pytest.raises(ConfigError, match=r"MUTUALNET\.RESIZE_ALIGN_CORNERS"):
        load_config(None, ["MUTUALNET.RESIZE_ALIGN_CORNERS", value])
    cfg = get_cfg()
    cfg.MUTUALNET.RESIZE_ALIGN_CORNERS = 1  # set in code: validate_cfg refuses it too
    with pytest.raises(ConfigError, match=r"^MUTUALNET\.RESIZE_ALIGN_CORNERS must be True or"):
        validate_cfg(cfg)


@pytest.mark.slow  # a whole tiny run per value
@pytest.mark.parametrize("align_corners", [True, False])
def test_every_stage_of_a_run_resizes_with_the_configured_value(
    align_corners, tmp_path, monkeypatch
):
    calls: list[tuple[bool, set[str]]] = []
    resize_clip = forward_module.resize_clip

    def recording(*args, **kwargs):
        names = {frame.name for frame in traceback.extract_stack()}
        calls.append((kwargs.get("align_corners"), names & STAGES))
        return resize_clip(*args, **kwargs)

    monkeypatch.setattr(forward_module, "resize_clip", recording)
    opts = {
        "MUTUALNET.RESIZE_ALIGN_CORNERS": str(align_corners),
        "MOVING_DIGITS.NUM_TRAIN_CLIPS": "8",
        "MOVING_DIGITS.NUM_VAL_CLIPS": "4",
        "TRAIN.BATCH_SIZE": "4",
        "TEST.BATCH_SIZE": "4",
        "SOLVER.MAX_EPOCH": "1",
        "BN.NUM_BATCHES_PRECISE": "1",
        "MUTUALNET.BN_CALIB_BATCHES": "1",
        "MUTUALNET.EVAL_WIDTHS": "[0.5, 1.0]",
        "MUTUALNET.EVAL_SPATIAL_SIZES": "[32, 16]",
        "MUTUALNET.EVAL_TEMPORAL_SIZES": "[8]",
        "MUTUALNET.TEST_SPATIAL_SIZE": "24",  # the test resizes too
        "LOG_MODEL_INFO": "False",
        "OUTPUT_DIR": str(tmp_path / "out"),
    }
    run(load_config(DEMO, [item for pair in opts.items() for item in pair]))
    assert {value for value, _ in calls} == {align_corners}
    assert set().union(*(names for _, names in calls)) == STAGES
