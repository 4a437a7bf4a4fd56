"""load_config refuses, before any work, every mistake it can see: one line naming the keys.

Each case of the list below would otherwise fail later (at model build, at the first
iteration, at the first sub-network, after training at the test) or run silently wrong.
"""

from __future__ import annotations

import re
import warnings

import pytest

from mutualnet3d.config import ConfigError, ConfigWarning, get_cfg, load_config, validate_cfg

# A small single-pathway video setting, so that the cases below change one thing.
SLOW = [
    "MODEL.ARCH",
    "slow",
    "MODEL.MODEL_NAME",
    "slow_tiny",
    "DATA.INPUT_CHANNEL_NUM",
    "[3]",
    "DATA.NUM_FRAMES",
    "8",
    "DATA.TRAIN_CROP_SIZE",
    "32",
    "DATA.TRAIN_JITTER_SCALES",
    "[36, 40]",
    "DATA.TEST_CROP_SIZE",
    "32",
]
SLOWFAST = [
    "MODEL.MODEL_NAME",
    "slowfast_tiny",
    "DATA.NUM_FRAMES",
    "32",
    "SLOWFAST.ALPHA",
    "4",
    "DATA.TRAIN_CROP_SIZE",
    "32",
    "DATA.TRAIN_JITTER_SCALES",
    "[36, 40]",
    "DATA.TEST_CROP_SIZE",
    "32",
]
IMAGES = [
    "MODEL.ARCH",
    "2d",
    "MODEL.MODEL_NAME",
    "mobilenet_v1_tiny",
    "DATA.INPUT_CHANNEL_NUM",
    "[3]",
    "TRAIN.DATASET",
    "mnist_digits",
    "TEST.DATASET",
    "mnist_digits",
    "DATA.TRAIN_CROP_SIZE",
    "28",
    "TEST.NUM_ENSEMBLE_VIEWS",
    "1",
    "TEST.NUM_SPATIAL_CROPS",
    "1",
]


def test_width_range_message():
    with pytest.raises(ConfigError) as info:
        load_config(None, ["MUTUALNET.WIDTH_RANGE", "[0.9, 0.5]"])
    assert str(info.value) == (
        "MUTUALNET.WIDTH_RANGE must be [min, max] with 0 < min <= max <= 1.0, got [0.9, 0.5]"
    )


@pytest.mark.parametrize(
    "key, value",
    [
        ("WIDTH_RANGE", "[0.9, 0.5]"),  # empty range
        ("WIDTH_RANGE", "[0.0, 1.0]"),  # min <= 0
        ("WIDTH_RANGE", "[-0.5, 1.0]"),
        ("WIDTH_RANGE", "[0.5, 1.5]"),  # wider than the full network
        ("WIDTH_RANGE", "[0.25, 0.9]"),  # the full network is width 1.0
        ("WIDTH_RANGE", "[0.5]"),  # not two numbers
        ("WIDTH_RANGE", "[0.25, 0.5, 1.0]"),
        ("WIDTH_RANGE", "['a', 1.0]"),
        ("WIDTH_DIVISOR", "0"),
        ("NUM_RANDOM", "-1"),
        ("SPATIAL_SIZES", "[224, 0]"),
        ("TEMPORAL_SIZES", "[8, -3]"),
        ("EVAL_SPATIAL_SIZES", "[0]"),
        ("EVAL_TEMPORAL_SIZES", "[4, 0]"),
        ("SPATIAL_SIZES", "[224, 160.5]"),  # not a whole number
        ("EVAL_WIDTHS", "[0.5, 1.2]"),  # width > max
        ("EVAL_WIDTHS", "[0.1, 1.0]"),  # width < min
        ("EVAL_WIDTH_STEP", "0.0"),
        ("EVAL_WIDTH_STEP", "-0.05"),
        ("BN_CALIB_BATCHES", "0"),
        ("SAMPLING", "random"),
        ("STATIC_WIDTH", "0.0"),
        ("TEST_WIDTH", "1.5"),
        ("STATIC_SPATIAL_SIZE", "-1"),
        ("TEST_TEMPORAL_SIZE", "-2"),
    ],
)
def test_invalid_mutualnet_setting_names_key(key, value):
    with pytest.raises(ConfigError, match=rf"^MUTUALNET\.{key}\b"):
        load_config(None, [f"MUTUALNET.{key}", value])
    # validate_cfg alone raises the same, on a config changed in code.
    cfg = get_cfg()
    cfg.merge_from_list([f"MUTUALNET.{key}", value])
    with pytest.raises(ConfigError, match=rf"^MUTUALNET\.{key}\b"):
        validate_cfg(cfg)


def test_eval_widths_inside_the_range_are_valid():
    cfg = load_config(
        None,
        ["MUTUALNET.WIDTH_RANGE", "[0.5, 1.0]", "MUTUALNET.EVAL_WIDTHS", "[0.5, 1.0]"],
    )
    assert cfg.MUTUALNET.EVAL_WIDTHS == [0.5, 1.0]


# ----------------------------------------------------------------------------------
# Sizes against what the data gives the full network (its input and its frames)
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "base, key, value, named",
    [
        (SLOW, "TEMPORAL_SIZES", "[16, 8]", "DATA.NUM_FRAMES 8"),
        (SLOW, "EVAL_TEMPORAL_SIZES", "[9]", "DATA.NUM_FRAMES 8"),
        (SLOW, "STATIC_TEMPORAL_SIZE", "12", "DATA.NUM_FRAMES 8"),
        (SLOW, "TEST_TEMPORAL_SIZE", "10", "DATA.NUM_FRAMES 8"),
        # SlowFast: the Slow pathway has NUM_FRAMES // ALPHA frames.
        (SLOWFAST, "TEMPORAL_SIZES", "[16, 8]", "DATA.NUM_FRAMES 32 // SLOWFAST.ALPHA 4"),
        (SLOWFAST, "EVAL_TEMPORAL_SIZES", "[32]", "DATA.NUM_FRAMES 32 // SLOWFAST.ALPHA 4"),
        (SLOW, "SPATIAL_SIZES", "[40, 32]", "DATA.TRAIN_CROP_SIZE 32"),
        (SLOW, "EVAL_SPATIAL_SIZES", "[36]", "DATA.TRAIN_CROP_SIZE 32"),
        (SLOW, "STATIC_SPATIAL_SIZE", "33", "DATA.TRAIN_CROP_SIZE 32"),
        (SLOWFAST, "TEST_SPATIAL_SIZE", "64", "DATA.TRAIN_CROP_SIZE 32"),
        (IMAGES, "SPATIAL_SIZES", "[32, 28]", "DATA.TRAIN_CROP_SIZE 28"),
    ],
)
def test_sizes_above_what_the_data_gives_are_refused(base, key, value, named):
    with pytest.raises(
        ConfigError,
        match=rf"^MUTUALNET\.{key} must not exceed .*{re.escape(named)}.*got {re.escape(value)}$",
    ):
        load_config(None, base + [f"MUTUALNET.{key}", value])


def test_sizes_up_to_the_full_network_load():
    cfg = load_config(
        None,
        SLOWFAST + ["MUTUALNET.TEMPORAL_SIZES", "[8, 4]", "MUTUALNET.SPATIAL_SIZES", "[32, 16]"],
    )
    assert cfg.MUTUALNET.TEMPORAL_SIZES == [8, 4]


@pytest.mark.parametrize(
    "key, value",
    [("TEMPORAL_SIZES", "[8]"), ("EVAL_TEMPORAL_SIZES", "[2]"), ("TEST_TEMPORAL_SIZE", "4")],
)
def test_frame_counts_for_an_image_network_are_refused(key, value):
    with pytest.raises(
        ConfigError,
        match=rf"^MUTUALNET\.{key} must be empty \(or 0\): mobilenet_v1_tiny takes images",
    ):
        load_config(None, IMAGES + [f"MUTUALNET.{key}", value])


def test_a_slow_pathway_without_frames_is_refused():
    with pytest.raises(
        ConfigError,
        match=r"^DATA\.NUM_FRAMES 4 gives the Slow pathway no frame .*SLOWFAST\.ALPHA 8",
    ):
        load_config(None, ["DATA.NUM_FRAMES", "4"])


# ----------------------------------------------------------------------------------
# Evaluated or tested configurations never trained: warnings, not errors
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "opts, named",
    [
        (
            ["MUTUALNET.SPATIAL_SIZES", "[32, 24]", "MUTUALNET.EVAL_SPATIAL_SIZES", "[32, 16]"],
            r"MUTUALNET\.EVAL_SPATIAL_SIZES \[16\] lie outside the trained sizes \[24, 32\]",
        ),
        (
            ["MUTUALNET.TEMPORAL_SIZES", "[8, 6]", "MUTUALNET.EVAL_TEMPORAL_SIZES", "[8, 4, 2]"],
            r"MUTUALNET\.EVAL_TEMPORAL_SIZES \[4, 2\] lie outside the trained sizes \[6, 8\]",
        ),
        (
            ["MUTUALNET.SPATIAL_SIZES", "[32, 24]", "MUTUALNET.TEST_SPATIAL_SIZE", "20"],
            r"MUTUALNET\.TEST_SPATIAL_SIZE 20 lies outside the trained sizes \[24, 32\]",
        ),
        (
            ["MUTUALNET.TEMPORAL_SIZES", "[8, 6]", "MUTUALNET.TEST_TEMPORAL_SIZE", "3"],
            r"MUTUALNET\.TEST_TEMPORAL_SIZE 3 lies outside the trained sizes \[6, 8\]",
        ),
        (
            ["MUTUALNET.WIDTH_RANGE", "[0.5, 1.0]", "MUTUALNET.TEST_WIDTH", "0.25"],
            r"MUTUALNET\.TEST_WIDTH 0\.25 lies below the trained widths",
        ),
    ],
)
def test_untrained_evaluation_sizes_warn(opts, named):
    with pytest.warns(ConfigWarning, match=named):
        load_config(None, SLOW + opts)


def test_no_warning_inside_the_trained_sizes_or_for_stages_that_do_not_run():
    opts = [
        "MUTUALNET.SPATIAL_SIZES",
        "[32, 24]",
        "MUTUALNET.EVAL_SPATIAL_SIZES",
        "[32, 28, 24]",
        "MUTUALNET.TEST_SPATIAL_SIZE",
        "28",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        load_config(None, SLOW + opts)
        # No search, no test: nothing is evaluated at the untrained sizes.
        load_config(
            None,
            SLOW
            + [
                "MUTUALNET.SPATIAL_SIZES",
                "[32, 24]",
                "MUTUALNET.EVAL_SPATIAL_SIZES",
                "[16]",
                "MUTUALNET.TEST_SPATIAL_SIZE",
                "16",
                "MUTUALNET.CALIBRATE",
                "False",
                "MUTUALNET.SEARCH",
                "False",
                "TEST.ENABLE",
                "False",
            ],
        )


# ----------------------------------------------------------------------------------
# The model, the solver, the run
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "opts, message",
    [
        (
            ["MODEL.MODEL_NAME", "slowfast_r500"],
            r"^MODEL\.MODEL_NAME: unknown model 'slowfast_r500'; registered: ",
        ),
        (
            ["MODEL.ARCH", "slow", "MODEL.MODEL_NAME", "slowfast_r50"],
            r"^MODEL\.ARCH 'slow' does not match MODEL\.MODEL_NAME 'slowfast_r50', which takes video in 2 pathway",
        ),
        (
            ["MODEL.ARCH", "slow"],
            r"^MODEL\.ARCH 'slow' cannot be built by MODEL\.MODEL_NAME 'SlowFast': one of \['slowfast'\]",
        ),
        (
            SLOW + ["MODEL.ARCH", "2d"],
            r"^MODEL\.ARCH '2d' does not match MODEL\.MODEL_NAME 'slow_tiny'",
        ),
        (
            IMAGES + ["MODEL.ARCH", "slow"],
            r"^MODEL\.ARCH 'slow' does not match MODEL\.MODEL_NAME 'mobilenet_v1_tiny', which takes images",
        ),
        (
            SLOW
            + [
                "TRAIN.DATASET",
                "ava",
                "TEST.DATASET",
                "ava",
                "DETECTION.ENABLE",
                "True",
                "MODEL.LOSS_FUNC",
                "bce_logit",
            ],
            r"^DETECTION\.ENABLE is True but MODEL\.MODEL_NAME 'slow_tiny' does not detect",
        ),
        (
            SLOW + ["DATA.INPUT_CHANNEL_NUM", "[3, 3]"],
            r"^DATA\.INPUT_CHANNEL_NUM must be \[3\] .*slow_tiny",
        ),
        (
            [
                "MODEL.MODEL_NAME",
                "x3d_tiny",
                "MODEL.ARCH",
                "x3d",
                "DATA.INPUT_CHANNEL_NUM",
                "[3]",
                "DATA.TRAIN_CROP_SIZE",
                "20",
            ],
            r"^MODEL\.MODEL_NAME 'x3d_tiny' cannot be built with \{.*'crop_size': 20.*\}: AssertionError",
        ),
        (
            ["MODEL.LOSS_FUNC", "focal"],
            r"^MODEL\.LOSS_FUNC must be one of \['cross_entropy', 'bce', 'bce_logit'\], got 'focal'",
        ),
        (
            ["DATA.MULTI_LABEL", "True"],
            r"^MODEL\.LOSS_FUNC 'cross_entropy' does not fit multi-hot targets",
        ),
        (
            ["MODEL.LOSS_FUNC", "bce_logit"],
            r"^MODEL\.LOSS_FUNC 'bce_logit' does not fit one label per clip",
        ),
        (
            ["DATA.MULTI_LABEL", "True", "MODEL.LOSS_FUNC", "bce", "MODEL.LABEL_SMOOTHING", "0.1"],
            r"^MODEL\.LABEL_SMOOTHING \(0\.1\) smooths cross_entropy only",
        ),
        (
            ["TEST.CHECKPOINT_TYPE", "pth"],
            r"^TEST\.CHECKPOINT_TYPE must be one of \['pytorch', 'caffe2'\], got 'pth'",
        ),
        (
            ["SOLVER.LR_POLICY", "cosine_annealing"],
            r"^SOLVER\.LR_POLICY must be one of \['cosine', 'steps_with_relative_lrs', 'constant'\], got 'cosine_annealing'",
        ),
        (
            ["SOLVER.OPTIMIZING_METHOD", "lamb"],
            r"^SOLVER\.OPTIMIZING_METHOD must be one of \['sgd', 'adam', 'adamw'\], got 'lamb'",
        ),
        (
            [
                "SOLVER.LR_POLICY",
                "steps_with_relative_lrs",
                "SOLVER.STEPS",
                "[10, 20]",
                "SOLVER.LRS",
                "[1, 0.1]",
            ],
            r"^SOLVER\.STEPS must start at 0 .*STEPS=\[10, 20\], LRS=\[1, 0\.1\]",
        ),
        (
            [
                "SOLVER.LR_POLICY",
                "steps_with_relative_lrs",
                "SOLVER.STEPS",
                "[0, 20]",
                "SOLVER.LRS",
                "[1]",
            ],
            r"^SOLVER\.STEPS must start at 0 .*a SOLVER\.LRS entry for each step",
        ),
        (
            ["SOLVER.MAX_EPOCH", "10", "SOLVER.WARMUP_EPOCHS", "10.0"],
            r"^SOLVER\.WARMUP_EPOCHS must be in \[0, SOLVER\.MAX_EPOCH=10\), got 10\.0",
        ),
        (["SOLVER.MAX_EPOCH", "0"], r"^SOLVER\.MAX_EPOCH must be a whole number >= 1"),
        (
            ["TRAIN.CHECKPOINT_PERIOD", "0"],
            r"^TRAIN\.CHECKPOINT_PERIOD must be a whole number >= 1",
        ),
        (["LOG_PERIOD", "0"], r"^LOG_PERIOD must be a whole number >= 1"),
        (
            ["TRAIN.DATASET", "kinetic"],
            r"^TRAIN\.DATASET must be one of \[.*'kinetics'.*\], got 'kinetic'",
        ),
        (["TEST.DATASET", "ssv2"], r"^TEST\.DATASET must be one of .* got 'ssv2'"),
        (
            ["TEST.NUM_SPATIAL_CROPS", "2"],
            r"^TEST\.NUM_SPATIAL_CROPS must be one of \[1, 3\], got 2",
        ),
        (
            ["TEST.NUM_ENSEMBLE_VIEWS", "0"],
            r"^TEST\.NUM_ENSEMBLE_VIEWS must be a whole number >= 1",
        ),
        (
            ["DATA.ENSEMBLE_METHOD", "mean"],
            r"^DATA\.ENSEMBLE_METHOD must be one of \['sum', 'max'\], got 'mean'",
        ),
        (["DATA.STD", "[0.2, 0.2]"], r"^DATA\.STD must hold 3 numbers"),
        (
            ["DATA.TRAIN_CROP_SIZE", "288"],
            r"^DATA\.TRAIN_CROP_SIZE \(288\) must be in \[1, DATA\.TRAIN_JITTER_SCALES\[0\] = 256\]",
        ),
        (
            ["TEST.NUM_SPATIAL_CROPS", "1", "DATA.TEST_CROP_SIZE", "288"],
            r"^DATA\.TEST_CROP_SIZE \(288\) must be in \[1, DATA\.TRAIN_JITTER_SCALES\[0\] = 256\] with TEST\.NUM_SPATIAL_CROPS 1",
        ),
        (
            ["DATA.TRAIN_JITTER_SCALES", "[320, 256]"],
            r"^DATA\.TRAIN_JITTER_SCALES must be \[min, max\]",
        ),
    ],
)
def test_mistakes_seen_before_training_are_refused_at_load(opts, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, opts)


@pytest.mark.parametrize(
    "opts, key",
    [
        (["NUM_GPUS", "-1"], "NUM_GPUS"),
        (["NUM_SHARDS", "0"], "NUM_SHARDS"),
        (["NUM_SHARDS", "2", "SHARD_ID", "2"], "SHARD_ID"),
        (["NUM_GPUS", "8", "TRAIN.BATCH_SIZE", "12"], "TRAIN.BATCH_SIZE"),
        (["NUM_GPUS", "4", "TEST.BATCH_SIZE", "6"], "TEST.BATCH_SIZE"),
        (
            ["NUM_GPUS", "0", "NUM_SHARDS", "3", "TRAIN.BATCH_SIZE", "64"],
            "TRAIN.BATCH_SIZE",
        ),
        (["TRAIN.BATCH_SIZE", "0"], "TRAIN.BATCH_SIZE"),
        (["SOLVER.CLIP_GRAD_VAL", "'big'"], "SOLVER.CLIP_GRAD_VAL"),
        (["SOLVER.CLIP_GRAD_L2NORM", "-1.0"], "SOLVER.CLIP_GRAD_L2NORM"),
        (["BN.MOMENTUM", "0.01"], "BN.MOMENTUM"),
        (["MODEL.ARCH", "mvit"], "MODEL.ARCH"),
        (["MODEL.LABEL_SMOOTHING", "1.0"], "MODEL.LABEL_SMOOTHING"),
        (["MODEL.DROPOUT_RATE", "-0.1"], "MODEL.DROPOUT_RATE"),
        (["RESNET.TRANS_FUNC", "basic_transform"], "RESNET.TRANS_FUNC"),
        (["RESNET.STRIDE_1X1", "True"], "RESNET.STRIDE_1X1"),
        (["X3D.BN_LIN5", "True"], "X3D.BN_LIN5"),
        (["NONLOCAL.LOCATION", "[[[]], [[]], [[1, 3]], [[]]]"], "NONLOCAL.LOCATION"),
    ],
)
def test_invalid_run_and_model_settings_name_key(opts, key):
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)}\b"):
        load_config(None, opts)


@pytest.mark.parametrize(
    "opts",
    [
        ["NUM_GPUS", "8", "TRAIN.BATCH_SIZE", "64", "TEST.BATCH_SIZE", "64"],
        ["NUM_GPUS", "0", "TRAIN.BATCH_SIZE", "3", "TEST.BATCH_SIZE", "5"],  # 1 process
        ["NUM_GPUS", "2", "NUM_SHARDS", "2", "SHARD_ID", "1", "TRAIN.BATCH_SIZE", "8"],
    ],
)
def test_valid_process_layouts(opts):
    load_config(None, opts)


@pytest.mark.parametrize(
    "opts, message",
    [
        (["BN.NORM_TYPE", "sub_batchnorm"], r"^BN\.NORM_TYPE must be one of \['batchnorm', 'sync_batchnorm'\]"),
        (["BN.NUM_SPLITS", "2"], r"^BN\.NUM_SPLITS must be 1 \(sub_batchnorm is not built\)"),
        (["BN.NUM_SYNC_DEVICES", "4"], r"^BN\.NUM_SYNC_DEVICES 4 / BN\.GLOBAL_SYNC False act with BN\.NORM_TYPE sync_batchnorm only"),
        (["NUM_GPUS", "8", "BN.NORM_TYPE", "sync_batchnorm", "BN.NUM_SYNC_DEVICES", "3"],
         r"^BN\.NUM_SYNC_DEVICES \(3\) must divide the number of processes \(8\)"),
    ],
)
def test_batch_norm_settings_that_cannot_act_are_refused(opts, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, opts)


def test_sync_batchnorm_groups_follow_the_processes():
    from mutualnet3d.config import sync_bn_group

    cfg = load_config(None, ["NUM_GPUS", "8", "BN.NORM_TYPE", "sync_batchnorm", "BN.NUM_SYNC_DEVICES", "4"])
    assert sync_bn_group(cfg, 8) == 4
    # One process (Charades' published file on one GPU or the CPU): plain BN, as PySlowFast.
    assert sync_bn_group(cfg, 1) == 1
    cfg.BN.GLOBAL_SYNC = True
    assert sync_bn_group(cfg, 8) == 8
    assert sync_bn_group(load_config(), 8) == 1


def test_a_launcher_decided_process_count_is_checked_too():
    # torchrun's WORLD_SIZE or run_net's --num_procs, not NUM_GPUS x NUM_SHARDS.
    opts = ["NUM_GPUS", "0", "TRAIN.BATCH_SIZE", "6", "TEST.BATCH_SIZE", "4"]
    load_config(None, opts, processes=2)
    with pytest.raises(
        ConfigError,
        match=r"^TRAIN\.BATCH_SIZE \(6\) must be divisible by the number of processes \(the launcher's world size = 4\)",
    ):
        load_config(None, opts, processes=4)
