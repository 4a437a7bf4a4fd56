"""RunSpec: the config read once into typed pieces; the model supplies its own facts."""

from pathlib import Path

import pytest
import torch.nn as nn

from mutualnet3d.config import ConfigError, load_config
from mutualnet3d.engine import RunSpec, SubnetConfig
from mutualnet3d.engine.spec import ModelSpec, MultiViewSpec
from mutualnet3d.slim import SlimModule

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "configs" / "Demo" / "MutualNet_Slow_Digits.yaml")


def test_the_demo_config_as_a_spec():
    spec = RunSpec.from_cfg(load_config(DEMO), world_size=1)
    assert spec.model.name == "slow_tiny" and spec.model.kwargs["num_frames"] == 8
    assert spec.train.batch_size == 32 and spec.test.batch_size == 64
    assert spec.train.precise_bn_batches == 8 and spec.train.max_epoch == 3
    assert spec.cohort.min_width == 0.5 and spec.cohort.spatial_sizes == (32, 28, 24, 20, 16)
    assert spec.schedule.policy == "cosine" and spec.optimizer.method == "adamw"
    assert spec.train_data.name == spec.test_data.name == "moving_digits"
    assert spec.search.widths == (0.5, 0.75, 1.0)
    assert spec.config_text.startswith("AVA:") and spec.equivalent == ()
    # The grid is completed with the model's own full configuration.
    grid = spec.search.grid(SubnetConfig(1.0, 32, 8))
    assert (
        len(grid) == 27
        and grid[0] == SubnetConfig(0.5, 32, 8)
        and grid[-1] == SubnetConfig(1.0, 16, 2)
    )


def test_batch_sizes_are_per_process_and_must_divide():
    cfg = load_config(DEMO)
    spec = RunSpec.from_cfg(cfg, world_size=4)
    assert (spec.train.batch_size, spec.test.batch_size, spec.search.calib_batch_size) == (8, 16, 8)
    with pytest.raises(ConfigError, match=r"^TRAIN\.BATCH_SIZE \(32\) must be divisible .* = 3\)"):
        RunSpec.from_cfg(cfg, world_size=3)


def test_an_inet_spec_builds_a_plain_narrow_network_and_tests_its_own_configuration():
    cfg = load_config(
        DEMO,
        [
            "MUTUALNET.ENABLE",
            "False",
            "MUTUALNET.STATIC_WIDTH",
            "0.5",
            "MUTUALNET.STATIC_SPATIAL_SIZE",
            "24",
            "MUTUALNET.STATIC_TEMPORAL_SIZE",
            "4",
        ],
    )
    spec = RunSpec.from_cfg(cfg)
    model = spec.model.build()
    assert not any(isinstance(m, SlimModule) for m in model.modules())
    assert isinstance(model.blocks[0].conv, nn.Conv3d) and model.blocks[0].conv.out_channels == 4
    full = model.full_config()
    assert spec.cohort.trained(full) == SubnetConfig(1.0, 24, 4)
    assert spec.test.configuration(full) == SubnetConfig(1.0, 24, 4)
    assert not spec.search.calibrate and not spec.search.search


def test_the_test_views_scale_with_the_tested_configuration():
    test = MultiViewSpec(width=0.5, spatial=112, temporal=4, crop_size=256)
    full = SubnetConfig(1.0, 224, 8)
    tested = test.configuration(full)
    assert tested == SubnetConfig(0.5, 112, 4) and tested.key == "w0p5_s112_t4"
    assert test.input_config(tested, full) == SubnetConfig(0.5, 128, 4)
    assert MultiViewSpec().configuration(SubnetConfig(1.0, 224)) == SubnetConfig(1.0, 224, None)


def test_learning_rates_scale_with_the_shards_as_pyslowfast_scales_them():
    opts = [
        "SOLVER.BASE_LR_SCALE_NUM_SHARDS",
        "True",
        "NUM_SHARDS",
        "4",
        "TRAIN.BATCH_SIZE",
        "32",
        "TEST.BATCH_SIZE",
        "64",
        "SOLVER.WARMUP_START_LR",
        "0.002",
        "SOLVER.COSINE_END_LR",
        "0.0001",
    ]
    cfg = load_config(DEMO, opts)
    spec = RunSpec.from_cfg(cfg, world_size=4)
    assert spec.lr_scale == 4 and spec.optimizer.base_lr == pytest.approx(0.04)
    assert spec.schedule.base_lr == pytest.approx(0.04)
    assert (spec.schedule.warmup_start_lr, spec.schedule.cosine_end_lr) == pytest.approx(
        (0.008, 0.0004)
    )
    assert cfg.SOLVER.BASE_LR == 0.01  # the config keeps what it says
    unscaled = RunSpec.from_cfg(load_config(DEMO, opts[2:]), world_size=4)
    assert unscaled.lr_scale == 1 and unscaled.schedule.base_lr == pytest.approx(0.01)


def test_the_run_says_which_x3d_layout_a_name_builds():
    assert "its layout: a BN on res2's first shortcut" in ModelSpec("X3D", {}).description
    for name in ("PTVX3D", "x3d_m", "x3d_tiny"):
        assert "PyTorchVideo's layout" in ModelSpec(name, {}).description
    assert "PySlowFast's layout" in ModelSpec("x3d_m_pyslowfast", {}).description
