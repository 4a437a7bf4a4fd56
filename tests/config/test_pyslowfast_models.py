"""PySlowFast's model names and keys: its files select the network they describe; what
they ask for and is not built is refused at load, naming the key."""

from __future__ import annotations

import re

import pytest

from mutualnet3d.config import ConfigError, load_config
from mutualnet3d.models import describe_model, get_model_builder, model_kwargs

# A small run, so that each case below sets only its model keys.
RUN = ["NUM_GPUS", "0", "TRAIN.BATCH_SIZE", "2", "TEST.BATCH_SIZE", "2"]
ONE = ["DATA.INPUT_CHANNEL_NUM", "[3]"]
KINETICS_101 = ["RESNET.DEPTH", "101", "RESNET.NUM_BLOCK_TEMP_KERNEL", "[[3], [4], [23], [3]]"]
AVA = ["TRAIN.DATASET", "ava", "TEST.DATASET", "ava", "DETECTION.ENABLE", "True",
       "MODEL.LOSS_FUNC", "bce", "MODEL.HEAD_ACT", "sigmoid", "MODEL.NUM_CLASSES", "80",
       "RESNET.SPATIAL_STRIDES", "[[1, 1], [2, 2], [2, 2], [1, 1]]",
       "RESNET.SPATIAL_DILATIONS", "[[1, 1], [1, 1], [1, 1], [2, 2]]"]


def load(*opts: str):
    return load_config(None, RUN + list(opts))


# (MODEL_NAME, MODEL.ARCH, other keys) -> arguments the builder gets, and what it is:
# (pathways, Slow frames, detects). The fast suite runs one per PySlowFast name.
CASES = [
    ("ResNet", "i3d", KINETICS_101 + ONE, dict(arch="i3d", depth=101), (1, 8, False)),
    ("ResNet_nopool", "c2d", ONE, dict(arch="c2d", depth=50), (1, 8, False)),
    ("PTVResNet", "slow", ONE + ["DATA.NUM_FRAMES", "4"], dict(arch="slow"), (1, 4, False)),
    ("SlowFast", "slowfast", ["SLOWFAST.ALPHA", "4", "DATA.NUM_FRAMES", "32"] + AVA,
     dict(depth=50, detection=True, spatial_strides=[[1, 1], [2, 2], [2, 2], [1, 1]]),
     (2, 8, True)),
    ("X3D", "x3d", ONE + ["X3D.WIDTH_FACTOR", "2.0", "X3D.DIM_C1", "4", "X3D.DIM_C5", "32",
                          "RESNET.TRANS_FUNC", "x3d_transform"],  # X3D.DEPTH_FACTOR 1.0
     dict(arch="x3d", width_factor=2.0, stem_dim_in=4, depth_factor=1.0), (1, 8, False)),
]
SLOW_CASES = [
    ("ResNet", "c2d", ONE, dict(arch="c2d", depth=50), (1, 8, False)),
    ("ResNet", "c2d", KINETICS_101 + ONE, dict(arch="c2d", depth=101), (1, 8, False)),
    ("ResNet", "i3d", ONE, dict(arch="i3d", depth=50), (1, 8, False)),
    ("ResNet", "slow", ONE, dict(arch="slow", depth=50), (1, 8, False)),
    ("ResNet", "slow", KINETICS_101 + ONE, dict(arch="slow", depth=101), (1, 8, False)),
    ("ResNet", "slow", ONE + AVA[:-4] + ["RESNET.SPATIAL_STRIDES", "[[1], [2], [2], [1]]",
                                         "RESNET.SPATIAL_DILATIONS", "[[1], [1], [1], [2]]"],
     dict(arch="slow", detection=True), (1, 8, True)),
    ("PTVResNet", "c2d", ONE, dict(arch="c2d"), (1, 8, False)),
    ("PTVResNet", "i3d", ONE, dict(arch="i3d"), (1, 8, False)),
    ("SlowFast", "slowfast", ["DATA.NUM_FRAMES", "32"], dict(depth=50), (2, 4, False)),
    ("PTVSlowFast", "slowfast", ["RESNET.DEPTH", "101", "DATA.NUM_FRAMES", "32"],
     dict(depth=101), (2, 4, False)),
    ("SlowFast", "slowfast", ["RESNET.DEPTH", "101", "SLOWFAST.ALPHA", "4", "DATA.NUM_FRAMES",
                              "32"] + AVA, dict(depth=101, detection=True), (2, 8, True)),
    ("X3D", "x3d", ONE + ["X3D.WIDTH_FACTOR", "2.0", "X3D.DEPTH_FACTOR", "5.0",
                          "X3D.BOTTLENECK_FACTOR", "2.25", "RESNET.TRANS_FUNC", "x3d_transform"],
     dict(arch="x3d", depth_factor=5.0), (1, 8, False)),
    ("PTVX3D", "x3d", ONE + ["X3D.WIDTH_FACTOR", "2.0", "RESNET.TRANS_FUNC", "x3d_transform"],
     dict(arch="x3d", width_factor=2.0), (1, 8, False)),
]


def check_selects(name, arch, opts, arguments, facts):
    cfg = load("MODEL.MODEL_NAME", name, "MODEL.ARCH", arch, *opts)
    kwargs = model_kwargs(cfg)
    assert arguments.items() <= kwargs.items()
    described = describe_model(name, kwargs)
    assert (described.num_pathways, described.full.temporal, described.detects) == facts


@pytest.mark.parametrize("name, arch, opts, arguments, facts", CASES, ids=[c[0] for c in CASES])
def test_pyslowfast_names_select_their_network(name, arch, opts, arguments, facts):
    check_selects(name, arch, opts, arguments, facts)


@pytest.mark.slow
@pytest.mark.parametrize("name, arch, opts, arguments, facts", SLOW_CASES)
def test_every_pyslowfast_combination_selects_its_network(name, arch, opts, arguments, facts):
    check_selects(name, arch, opts, arguments, facts)


def test_the_config_reaches_the_layers():
    # ResNet with PySlowFast's AVA strides and widths: res5 keeps stride 1, dilated; the
    # stem has WIDTH_PER_GROUP channels; BN and classifier start as the keys say.
    from mutualnet3d.models import build_model

    cfg = load("MODEL.MODEL_NAME", "ResNet", "MODEL.ARCH", "i3d", "RESNET.WIDTH_PER_GROUP", "8",
               "RESNET.SPATIAL_STRIDES", "[[1], [2], [2], [1]]", "RESNET.SPATIAL_DILATIONS",
               "[[1], [1], [1], [2]]", "RESNET.ZERO_INIT_FINAL_BN", "False",
               "MODEL.FC_INIT_STD", "0.5", "DATA.TRAIN_CROP_SIZE", "32",
               "DATA.TRAIN_JITTER_SCALES", "[36, 40]", "DATA.TEST_CROP_SIZE", "32", *ONE)
    model = build_model(cfg)
    res5 = model.blocks[5].res_blocks[0].branch2.conv_b
    assert (res5.stride, res5.dilation, res5.padding) == ((1, 1, 1), (1, 2, 2), (0, 2, 2))
    assert model.blocks[0].conv.out_channels == 8
    assert model.blocks[0].conv.kernel_size == (5, 7, 7)  # I3D's stem
    assert bool((model.blocks[1].res_blocks[0].branch2.norm_c.weight == 1).all())
    assert model.get_classifier().weight.std().item() == pytest.approx(0.5, rel=0.2)


# Each setting that is not built, refused with one line naming the key and the value.
SLOW = ["MODEL.ARCH", "slow", "MODEL.MODEL_NAME", "slow_tiny"] + ONE
X3D = ["MODEL.ARCH", "x3d", "MODEL.MODEL_NAME", "x3d_tiny"] + ONE
REFUSED = [
    (["MODEL.MODEL_NAME", "PTVCSN"], r"MODEL.MODEL_NAME: unknown model 'PTVCSN'; registered: "),
    (["MODEL.MODEL_NAME", "MViT"], r"MODEL.MODEL_NAME: unknown model 'MViT'; registered: "),
    (["NONLOCAL.LOCATION", "[[[], []], [[1, 3], []], [[], []], [[], []]]"],
     r"NONLOCAL.LOCATION must hold no blocks"),
    (["RESNET.NUM_GROUPS", "32"], r"RESNET.NUM_GROUPS must be one of [1] (ResNeXt"),
    (["RESNET.DEPTH", "152"], r"RESNET.DEPTH 152 cannot be built by MODEL.MODEL_NAME "
     r"'SlowFast': one of [50, 101], got 152"),
    (["RESNET.DEPTH", "101", "RESNET.NUM_BLOCK_TEMP_KERNEL", "[[3], [4], [24], [3]]"],
     r"RESNET.NUM_BLOCK_TEMP_KERNEL [[3], [4], [24], [3]] cannot be built by MODEL.MODEL_NAME "
     r"'SlowFast': pathway 0 res4 has 23 blocks"),
    (["MODEL.MODEL_NAME", "ResNet", "MODEL.ARCH", "x3d"] + ONE,
     r"MODEL.ARCH 'x3d' cannot be built by MODEL.MODEL_NAME 'ResNet': one of ['2d', 'c2d', "),
    (["MODEL.MODEL_NAME", "X3D", "MODEL.ARCH", "x3d"] + ONE,  # X3D.* left unexpanded
     r"RESNET.TRANS_FUNC 'bottleneck_transform' cannot be built by MODEL.MODEL_NAME 'X3D'"),
    (["MODEL.MODEL_NAME", "X3D", "MODEL.ARCH", "x3d", "RESNET.TRANS_FUNC", "x3d_transform",
      "X3D.WIDTH_FACTOR", "0.5"] + ONE,
     r"X3D.WIDTH_FACTOR 0.5 cannot be built by MODEL.MODEL_NAME 'X3D': PySlowFast's X3D "
     r"rounds the widths to (6, 6, 12, 24, 48)"),
    (SLOW + ["RESNET.DEPTH", "101"], r"RESNET.DEPTH 101 does not match MODEL.MODEL_NAME "
     r"'slow_tiny', which is built with depth=50 (leave RESNET.DEPTH at PySlowFast's default"),
    (SLOW + ["MODEL.ARCH", "i3d"], r"MODEL.ARCH 'i3d' does not match MODEL.MODEL_NAME "
     r"'slow_tiny', which is built with arch='slow' (set it to that)"),
    # Keys a single-pathway network or a classifier does not read.
    (SLOW + ["SLOWFAST.ALPHA", "4"], r"SLOWFAST.ALPHA 4 is not read by MODEL.MODEL_NAME "
     r"'slow_tiny': it must stay at its default 8"),
    (SLOW + ["SLOWFAST.FUSION_KERNEL_SZ", "7"], r"SLOWFAST.FUSION_KERNEL_SZ 7 is not read by"),
    (SLOW + ["DETECTION.ALIGNED", "False"], r"DETECTION.ALIGNED False is read by detectors only"),
    (X3D + ["X3D.DEPTH_FACTOR", "2.2"], r"X3D.DEPTH_FACTOR 2.2 does not match MODEL.MODEL_NAME "
     r"'x3d_tiny', which is built with depth_factor=1.0"),
    (X3D + ["RESNET.SPATIAL_DILATIONS", "[[1], [1], [1], [2]]"],
     r"RESNET.SPATIAL_DILATIONS [[1], [1], [1], [2]] is not read by MODEL.MODEL_NAME "
     r"'x3d_tiny': it must stay at its default [[1], [1], [1], [1]]"),
    (X3D + ["RESNET.WIDTH_PER_GROUP", "32"], r"RESNET.WIDTH_PER_GROUP 32 is not read by"),
    (["MODEL.ARCH", "2d", "MODEL.MODEL_NAME", "mobilenet_v1_tiny", "RESNET.ZERO_INIT_FINAL_BN",
      "False"] + ONE, r"RESNET.ZERO_INIT_FINAL_BN False is not read by MODEL.MODEL_NAME "
     r"'mobilenet_v1_tiny'"),
    (["MODEL.ARCH", "2d", "MODEL.MODEL_NAME", "mobilenet_v1_tiny", "MODEL.FC_INIT_STD", "0.1"]
     + ONE, r"MODEL.FC_INIT_STD 0.1 is not read by MODEL.MODEL_NAME 'mobilenet_v1_tiny'"),
    (SLOW + ["MODEL.HEAD_ACT", "sigmoid"],
     r"MODEL.HEAD_ACT 'sigmoid' does not fit one label per clip"),
    (SLOW + ["MODEL.HEAD_ACT", "none"], r"MODEL.HEAD_ACT 'none' does not fit one label per clip"),
]


@pytest.mark.parametrize("opts, message", REFUSED, ids=[m[:30] for _, m in REFUSED])
def test_settings_not_built_are_refused_naming_the_key(opts, message):
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        load(*opts)


def test_a_pyslowfast_file_may_repeat_what_a_variant_is():
    # PySlowFast's keys at the variant's values (or left at their defaults) agree.
    load(*SLOW, "RESNET.NUM_BLOCK_TEMP_KERNEL", "[[3], [4], [6], [3]]", "RESNET.DEPTH", "50")
    load("MODEL.MODEL_NAME", "slowfast_tiny", "SLOWFAST.ALPHA", "4", "DATA.NUM_FRAMES", "8",
         "RESNET.NUM_BLOCK_TEMP_KERNEL", "[[3, 3], [4, 4], [6, 6], [3, 3]]")
    assert get_model_builder("i3d_r101").keywords["depth"] == 101
