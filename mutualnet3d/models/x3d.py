"""Adaptive X3D (paper section 6.1): PyTorchVideo's ``create_x3d`` with every layer slim.

Depthwise convolutions keep ``groups == active channels`` and the squeeze-excitation
hidden size follows the width (MobileNetV3's rule: "we multiply the width factor to both
the backbone network and SE block").

Two layouts of the same network: PyTorchVideo's (its hub checkpoints, PySlowFast's
``PTVX3D``) and PySlowFast's own ``X3D``, whose res2 first block normalises its
shortcut (a BN after the strided 1x1x1 conv, which PyTorchVideo omits when the block
keeps its channel count) and which rounds expanded widths to whole channels
(PyTorchVideo: to multiples of 8; the two agree for X3D-XS/S/M/L).
"""

from __future__ import annotations

from typing import Any, Literal, Optional

import torch.nn as nn
from pytorchvideo.models.x3d import create_x3d

from .layout import TEMPORAL_KERNEL_BASIS, check_choice
from .registry import register_pyslowfast_name, register_variant
from .video_net import VideoNet, head_kwargs, make_adaptive, set_initialisation

__all__ = ["adaptive_x3d", "create_pyslowfast_x3d"]

_STAGE_DEPTHS = (1, 2, 5, 3)  # X3D's blocks per stage before the depth factor


def _round(width: float, multiplier: float, divisor: int, min_width: int) -> int:
    """X3D's width rounding (PySlowFast's and PyTorchVideo's ``round_width``)."""
    width *= multiplier
    out = max(min_width, int(width + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * width else out


def _widths(stem_dim_in: int, width_factor: float, pyslowfast: bool) -> tuple[int, ...]:
    """Stem and res2..res5 output channels: PySlowFast's X3D rounds the expanded widths
    to whole channels (at least 1), PyTorchVideo's to multiples of 8 (at least 8)."""
    divisor, least = (1, 1) if pyslowfast else (8, 8)
    bases = [stem_dim_in]
    for _ in range(3):  # each stage doubles the last, in multiples of 8
        bases.append(_round(bases[-1], 2.0, 8, least))
    return tuple(_round(w, width_factor, divisor, least) for w in [stem_dim_in, *bases])


def create_pyslowfast_x3d(**kwargs: Any) -> nn.Module:
    """PySlowFast's X3D in PyTorchVideo's names: ``create_x3d(**kwargs)`` plus the BN
    on the shortcut of res2's first block (``blocks.1.res_blocks.0.branch1_norm``)."""
    net = create_x3d(**kwargs)
    first = net.blocks[1].res_blocks[0]
    first.branch1_norm = nn.BatchNorm3d(first.branch1_conv.out_channels)
    return net


def adaptive_x3d(
    *,
    num_classes: int = 400,
    dropout_rate: float = 0.5,
    width_divisor: int = 8,
    num_frames: int = 16,
    crop_size: int = 224,
    arch: Literal["x3d"] = "x3d",
    width_factor: float = 2.0,
    depth_factor: float = 2.2,
    bottleneck_factor: float = 2.25,
    head_dim_out: int = 2048,
    stem_dim_in: int = 12,
    trans_func: Literal["x3d_transform"] = "x3d_transform",
    pyslowfast_layout: bool = False,
    zero_init_final_bn: bool = True,
    fc_init_std: float = 0.01,
    head_activation: Optional[type] = None,
    **pytorchvideo_kwargs: Any,
) -> VideoNet:
    """Adaptive X3D: PyTorchVideo's ``create_x3d`` with every layer slim.

    Args:
        num_classes, dropout_rate: the head.
        width_divisor: active channels are multiples of this.
        num_frames, crop_size: clip size of the full configuration.
        arch: MODEL.ARCH (its temporal kernels: 5 in the stem, 3 in every block).
        width_factor, depth_factor, bottleneck_factor: X3D's expansions of the channels,
            the block counts (2.2 for XS/S/M, 5.0 for L) and each block's inner width
            (PySlowFast's X3D.WIDTH_FACTOR, DEPTH_FACTOR, BOTTLENECK_FACTOR).
        head_dim_out, stem_dim_in: channels of the head's last conv and of the stem
            before expansion (X3D.DIM_C5, DIM_C1).
        trans_func: the block (RESNET.TRANS_FUNC): X3D's only.
        pyslowfast_layout: PySlowFast's X3D (the BN on res2's first shortcut) instead of
            PyTorchVideo's; the widths of both roundings must agree.
        zero_init_final_bn, fc_init_std: RESNET.ZERO_INIT_FINAL_BN, MODEL.FC_INIT_STD.
        head_activation: PyTorchVideo's head activation (None: raw logits).
        pytorchvideo_kwargs: any other ``create_x3d`` argument.
    """
    check_choice("arch", arch, ("x3d",))
    check_choice("trans_func", trans_func, ("x3d_transform",))
    (stem, *stages), = TEMPORAL_KERNEL_BASIS[arch]
    kwargs = dict(
        model_num_class=num_classes,
        input_clip_length=num_frames,
        input_crop_size=crop_size,
        width_factor=width_factor,
        depth_factor=depth_factor,
        bottleneck_factor=bottleneck_factor,
        head_dim_out=head_dim_out,
        stem_dim_in=stem_dim_in,
        stem_conv_kernel_size=(stem[0], 3, 3),
        stage_conv_kernel_size=tuple((kernel[0], 3, 3) for kernel in stages),
        **head_kwargs(dropout_rate, head_activation),
    )
    kwargs.update(pytorchvideo_kwargs)
    builder = create_pyslowfast_x3d if pyslowfast_layout else create_x3d
    ours = _widths(stem_dim_in, width_factor, pyslowfast=True)
    theirs = _widths(stem_dim_in, width_factor, pyslowfast=False)
    if pyslowfast_layout and ours != theirs:
        raise ValueError(
            f"width_factor: PySlowFast's X3D rounds the widths to {ours}, PyTorchVideo's "
            f"to {theirs} (stem, res2..res5); only factors where they agree are built "
            f"(as 2.0 with stem_dim_in 12), got {width_factor} with stem_dim_in {stem_dim_in}"
        )
    net = builder(**kwargs)
    set_initialisation(net, zero_init_final_bn, fc_init_std)
    head = f"blocks.{len(net.blocks) - 1}.proj"
    make_adaptive(net, width_divisor, head, in_rules={"blocks.0.conv.conv_t": None})
    return VideoNet(
        net.blocks, num_frames=num_frames, crop_size=crop_size, reference=(builder, kwargs)
    )


# PySlowFast's names: the X3D that X3D.* describes, in PySlowFast's layout (X3D) or
# PyTorchVideo's (PTVX3D).
register_pyslowfast_name(
    "X3D", "PySlowFast's X3D (its layout: a BN on res2's first shortcut), sized by X3D.*.",
    adaptive_x3d, pyslowfast_layout=True,
)
register_pyslowfast_name(
    "PTVX3D", "PySlowFast's PyTorchVideo X3D (PyTorchVideo's layout), sized by X3D.*.",
    adaptive_x3d,
)

# Variants (Kinetics-400, PySlowFast's model zoo settings) in PyTorchVideo's layout (its
# hub checkpoints) and PySlowFast's (its zoo's .pyth files), and tiny twins for tests.
XS = dict(num_frames=4, crop_size=160)
S = dict(num_frames=13, crop_size=160)
L = dict(num_frames=16, crop_size=312, depth_factor=5.0)
TINY = dict(width_factor=0.5, depth_factor=1.0, head_dim_out=32, num_frames=4, crop_size=32)
PYSLOWFAST = dict(pyslowfast_layout=True)

x3d_xs = register_variant("x3d_xs", "X3D-XS: 4 frames, 160 px (PyTorchVideo's layout).", adaptive_x3d, **XS)
x3d_s = register_variant("x3d_s", "X3D-S: 13 frames, 160 px (PyTorchVideo's layout).", adaptive_x3d, **S)
x3d_m = register_variant("x3d_m", "X3D-M: 16 frames, 224 px (PyTorchVideo's layout).", adaptive_x3d)
x3d_l = register_variant(
    "x3d_l", "X3D-L: 16 frames, 312 px, depth factor 5 (PyTorchVideo's layout).", adaptive_x3d, **L
)
x3d_xs_pyslowfast = register_variant(
    "x3d_xs_pyslowfast", "X3D-XS in PySlowFast's layout.", adaptive_x3d, **XS, **PYSLOWFAST
)
x3d_s_pyslowfast = register_variant(
    "x3d_s_pyslowfast", "X3D-S in PySlowFast's layout.", adaptive_x3d, **S, **PYSLOWFAST
)
x3d_m_pyslowfast = register_variant(
    "x3d_m_pyslowfast", "X3D-M in PySlowFast's layout.", adaptive_x3d, **PYSLOWFAST
)
x3d_l_pyslowfast = register_variant(
    "x3d_l_pyslowfast", "X3D-L in PySlowFast's layout.", adaptive_x3d, **L, **PYSLOWFAST
)
x3d_tiny = register_variant(
    "x3d_tiny", "A tiny X3D (PyTorchVideo's layout) on 4 x 32 px clips, for tests.",
    adaptive_x3d, **TINY,
)
x3d_tiny_pyslowfast = register_variant(
    "x3d_tiny_pyslowfast", "A tiny X3D in PySlowFast's layout (stem 8 = 4 x 2), for tests.",
    adaptive_x3d, **{**TINY, "width_factor": 2.0, "stem_dim_in": 4}, **PYSLOWFAST,
)
