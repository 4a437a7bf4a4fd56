"""The adaptive networks have PySlowFast's tensor shapes, written out from its rules.

Expected shapes are data here, from PySlowFast's documented rules (not its code): stage
depths {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}; stem 64 channels, stage s of a ResNet
with 64 * 2^s inner and 256 * 2^s output channels; each block's first conv k x 1 x 1,
its kernels k from the architecture's kernel basis repeated over the first
RESNET.NUM_BLOCK_TEMP_KERNEL blocks (1 after); the Fast pathway at 1 / beta_inv of the
channels, fused into the Slow one by a (5 or 7) x 1 x 1 conv of twice its channels;
X3D's widths of its paper's Table 1 (X3D-M: stem 24, stages 24, 48, 96, 192, inner
2.25x, blocks 3, 5, 11, 7). Networks are built on the meta device; a full-size network
per rule runs in the fast suite, the whole grid in the slow one.
"""

from __future__ import annotations

import pytest
import torch

from mutualnet3d.models import get_model_builder

# The temporal kernels of each block's first conv, res2..res5 (PySlowFast's basis and
# NUM_BLOCK_TEMP_KERNEL), and the stem's: written out per network.
ONES = {50: [[1] * 3, [1] * 4, [1] * 6, [1] * 3], 101: [[1] * 3, [1] * 4, [1] * 23, [1] * 3]}
C2D = ONES
I3D = {50: [[3, 3, 3], [3, 1, 3, 1], [3, 1, 3, 1, 3, 1], [1, 3, 1]],
       101: [[3, 3, 3], [3, 1, 3, 1], [3, 1] * 11 + [3], [1, 3, 1]]}
SLOW = {50: [[1] * 3, [1] * 4, [3] * 6, [3] * 3], 101: [[1] * 3, [1] * 4, [3] * 23, [3] * 3]}
FAST = {50: [[3] * 3, [3] * 4, [3] * 6, [3] * 3], 101: [[3] * 3, [3] * 4, [3] * 23, [3] * 3]}
# R101_50_50: res4's 23 blocks with R50's 6 temporal ones (NUM_BLOCK_TEMP_KERNEL 6).
SLOW_101_50 = [[1] * 3, [1] * 4, [3] * 6 + [1] * 17, [3] * 3]
FAST_101_50 = [[3] * 3, [3] * 4, [3] * 6 + [1] * 17, [3] * 3]


def bottleneck_stages(prefix, kernels, width, extra_in=(0, 0, 0, 0), index=None):
    """Weights of res2..res5 of a bottleneck ResNet (PyTorchVideo's names), with
    ``extra_in`` fused channels added to each stage's input."""
    shapes = {}
    dim_in = width
    for s, stage in enumerate(kernels):
        inner, out = width * 2**s, 4 * width * 2**s
        block = prefix(s if index is None else index[s])
        for j, k in enumerate(stage):
            name, fan_in = f"{block}.res_blocks.{j}", (dim_in + extra_in[s] if j == 0 else out)
            if j == 0:
                shapes[f"{name}.branch1_conv.weight"] = (out, fan_in, 1, 1, 1)
                shapes[f"{name}.branch1_norm.weight"] = (out,)
            for conv, shape in (("a", (inner, fan_in, k, 1, 1)), ("b", (inner, inner, 1, 3, 3)),
                                ("c", (out, inner, 1, 1, 1))):
                shapes[f"{name}.branch2.conv_{conv}.weight"] = shape
                shapes[f"{name}.branch2.norm_{conv}.weight"] = shape[:1]
        dim_in = out
    return shapes


def resnet(kernels, stem, pool1, classes=400, width=64):
    """C2D, I3D, Slow: stem, res2, [pool1], res3..res5, head."""
    index = [1, 3, 4, 5] if pool1 else [1, 2, 3, 4]
    shapes = {"blocks.0.conv.weight": (width, 3, stem, 7, 7), "blocks.0.norm.weight": (width,)}
    shapes |= bottleneck_stages(lambda i: f"blocks.{i}", kernels, width, index=index)
    shapes[f"blocks.{index[-1] + 1}.proj.weight"] = (classes, 32 * width)
    return shapes


def slowfast(slow, fast, fusion_kernel, classes=400, width=64, beta_inv=8):
    """SlowFast: two pathways, four fusions (stem..res4) of 2 x Fast channels each."""
    fast_width = width // beta_inv
    fused = [2 * fast_width * (2 ** (s + 1) if s else 1) for s in range(4)]  # 2x Fast out
    shapes = {}
    for p, (w, stem) in enumerate(((width, 1), (fast_width, 5))):
        shapes[f"blocks.0.multipathway_blocks.{p}.conv.weight"] = (w, 3, stem, 7, 7)
        shapes[f"blocks.0.multipathway_blocks.{p}.norm.weight"] = (w,)
        kernels, extra = (slow, fused) if p == 0 else (fast, (0, 0, 0, 0))
        shapes |= bottleneck_stages(
            lambda i, p=p: f"blocks.{i + 1}.multipathway_blocks.{p}", kernels, w, extra
        )
    for s in range(4):
        fast_out = fused[s] // 2
        shapes[f"blocks.{s}.multipathway_fusion.conv_fast_to_slow.weight"] = (
            2 * fast_out, fast_out, fusion_kernel, 1, 1)
        shapes[f"blocks.{s}.multipathway_fusion.norm.weight"] = (2 * fast_out,)
    shapes["blocks.6.proj.weight"] = (classes, 32 * width + 32 * fast_width)
    return shapes


# X3D's sizes (X3D paper, Table 1; PySlowFast's X3D.* of X3D-M / X3D-L): stem, per stage
# (output channels, inner channels, blocks, squeeze-excitation channels), head.
X3D_M = dict(stem=24, stages=[(24, 54, 3, 8), (48, 108, 5, 8), (96, 216, 11, 16),
                              (192, 432, 7, 32)], head=(432, 2048))
X3D_L = dict(X3D_M, stages=[(24, 54, 5, 8), (48, 108, 10, 8), (96, 216, 25, 16),
                            (192, 432, 15, 32)])


def x3d(stem, stages, head, pyslowfast, classes=400):
    """X3D; PySlowFast's layout also normalises res2's first shortcut."""
    shapes = {"blocks.0.conv.conv_t.weight": (stem, 3, 1, 3, 3),
              "blocks.0.conv.conv_xy.weight": (stem, 1, 5, 1, 1), "blocks.0.norm.weight": (stem,)}
    dim_in = stem
    for s, (out, inner, blocks, se) in enumerate(stages):
        for j in range(blocks):
            name, fan_in = f"blocks.{s + 1}.res_blocks.{j}.branch", dim_in if j == 0 else out
            if j == 0:
                shapes[f"{name}1_conv.weight"] = (out, fan_in, 1, 1, 1)
                if s > 0 or pyslowfast:
                    shapes[f"{name}1_norm.weight"] = (out,)
            shapes[f"{name}2.conv_a.weight"] = (inner, fan_in, 1, 1, 1)
            shapes[f"{name}2.conv_b.weight"] = (inner, 1, 3, 3, 3)  # depthwise
            shapes[f"{name}2.conv_c.weight"] = (out, inner, 1, 1, 1)
            for norm, size in (("norm_a", inner), ("norm_b.0", inner), ("norm_c", out)):
                shapes[f"{name}2.{norm}.weight"] = (size,)
            if j % 2 == 0:  # squeeze-excitation in every other block
                shapes[f"{name}2.norm_b.1.block.0.weight"] = (se, inner, 1, 1, 1)
                shapes[f"{name}2.norm_b.1.block.2.weight"] = (inner, se, 1, 1, 1)
        dim_in = out
    shapes |= {"blocks.5.pool.pre_conv.weight": (head[0], dim_in, 1, 1, 1),
               "blocks.5.pool.pre_norm.weight": (head[0],),
               "blocks.5.pool.post_conv.weight": (head[1], head[0], 1, 1, 1),
               "blocks.5.proj.weight": (classes, head[1])}
    return shapes


def detector(shapes):
    """The same network with the RoI head: PyTorchVideo's ``model.`` and
    ``detection_head.`` names."""
    head = list(shapes)[-1]
    renamed = {f"model.{k}": v for k, v in shapes.items() if k != head}
    return {**renamed, "detection_head.proj.weight": shapes[head]}


def weight_shapes(name, **kwargs):
    with torch.device("meta"):
        model = get_model_builder(name)(**kwargs)
    return {k: tuple(v.shape) for k, v in model.state_dict().items() if k.endswith(".weight")}


# name, builder arguments, expected shapes. Two run in the fast suite (the Fast pathway
# and its fusions, PySlowFast's X3D shortcut norm; pool1 and I3D's kernels are checked
# there on a published file, tests/e2e/test_pyslowfast_configs.py); the slow suite runs
# every variant.
FAST_CASES = [
    ("slowfast_r50_8x8", {}, slowfast(SLOW[50], FAST[50], fusion_kernel=7)),
    ("x3d_m_pyslowfast", {}, x3d(**X3D_M, pyslowfast=True)),
]
SLOW_CASES = [
    ("c2d_r50", {}, resnet(C2D[50], stem=1, pool1=True)),
    ("i3d_r101", {}, resnet(I3D[101], stem=5, pool1=True)),
    ("c2d_r101", {}, resnet(C2D[101], stem=1, pool1=True)),
    ("ResNet_nopool", dict(arch="c2d"), resnet(C2D[50], stem=1, pool1=False)),
    ("i3d_r50", {}, resnet(I3D[50], stem=5, pool1=True)),
    ("PTVResNet", dict(arch="i3d", depth=101), resnet(I3D[101], stem=5, pool1=True)),
    ("slow_r50", {}, resnet(SLOW[50], stem=1, pool1=False)),
    ("slow_r50_4x16", {}, resnet(SLOW[50], stem=1, pool1=False)),
    ("slow_r101", {}, resnet(SLOW[101], stem=1, pool1=False)),
    ("slow_r50_detection", {}, detector(resnet(SLOW[50], stem=1, pool1=False, classes=80))),
    ("slowfast_r50", {}, slowfast(SLOW[50], FAST[50], fusion_kernel=5)),
    ("SlowFast", dict(depth=101, num_block_temp_kernel=[[3, 3], [4, 4], [6, 23], [3, 3]],
                      alpha=4, num_frames=8),  # c2/SLOWFAST_8x8_R101_50_101
     slowfast(SLOW_101_50, FAST[101], fusion_kernel=5)),
    ("slowfast_r50_16x8", {}, slowfast(SLOW[50], FAST[50], fusion_kernel=7)),
    ("slowfast_r101", {}, slowfast(SLOW[101], FAST[101], fusion_kernel=5)),
    ("slowfast_r101_8x8", {}, slowfast(SLOW[101], FAST[101], fusion_kernel=5)),
    ("slowfast_r101_50_50_16x8", {}, slowfast(SLOW_101_50, FAST_101_50, fusion_kernel=5)),
    ("x3d_xs", {}, x3d(**X3D_M, pyslowfast=False)),
    ("x3d_s_pyslowfast", {}, x3d(**X3D_M, pyslowfast=True)),
    ("x3d_m", {}, x3d(**X3D_M, pyslowfast=False)),
    ("x3d_l", {}, x3d(**X3D_L, pyslowfast=False)),
    ("x3d_l_pyslowfast", {}, x3d(**X3D_L, pyslowfast=True)),
]


@pytest.mark.parametrize("name, kwargs, expected", FAST_CASES, ids=[c[0] for c in FAST_CASES])
def test_pyslowfast_shapes(name, kwargs, expected):
    assert weight_shapes(name, **kwargs) == expected


@pytest.mark.slow
@pytest.mark.parametrize("name, kwargs, expected", SLOW_CASES, ids=[c[0] for c in SLOW_CASES])
def test_pyslowfast_shapes_of_every_variant(name, kwargs, expected):
    assert weight_shapes(name, **kwargs) == expected


def test_slowfast_detector_keeps_the_fast_channels_in_its_head():
    # AVA's SlowFast: res5 at stride 1, dilated (no tensor changes), 80 classes.
    expected = slowfast(SLOW[50], FAST[50], fusion_kernel=7, classes=80, width=16)
    assert weight_shapes("slowfast_tiny_detection") == detector(expected)
