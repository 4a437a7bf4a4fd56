"""Adaptive X3D (paper section 6.1): PyTorchVideo's ``create_x3d`` with every layer slim.

Depthwise convolutions keep ``groups == active channels`` and the squeeze-excitation
hidden size follows the width (MobileNetV3's rule: "we multiply the width factor to both
the backbone network and SE block").
"""

from __future__ import annotations

from typing import Any, Optional

from pytorchvideo.models.x3d import create_x3d

from .registry import register_variant
from .video_net import VideoNet, head_kwargs, make_adaptive

__all__ = ["adaptive_x3d"]


def adaptive_x3d(
    *,
    num_classes: int = 400,
    dropout_rate: float = 0.5,
    width_divisor: int = 8,
    num_frames: int = 16,
    crop_size: int = 224,
    width_factor: float = 2.0,
    depth_factor: float = 2.2,
    bottleneck_factor: float = 2.25,
    head_dim_out: int = 2048,
    stem_dim_in: int = 12,
    head_activation: Optional[type] = None,
    **pytorchvideo_kwargs: Any,
) -> VideoNet:
    """Adaptive X3D: PyTorchVideo's ``create_x3d`` with every layer slim.

    Args:
        num_classes, dropout_rate: the head.
        width_divisor: active channels are multiples of this.
        num_frames, crop_size: clip size of the full configuration.
        width_factor, depth_factor, bottleneck_factor: X3D's expansions of the channels,
            the block counts (2.2 for XS/S/M, 5.0 for L) and each block's inner width
            (PySlowFast's X3D.WIDTH_FACTOR, DEPTH_FACTOR, BOTTLENECK_FACTOR).
        head_dim_out, stem_dim_in: channels of the head's last conv and of the stem
            before expansion (X3D.DIM_C5, DIM_C1).
        head_activation: PyTorchVideo's head activation (None: raw logits).
        pytorchvideo_kwargs: any other ``create_x3d`` argument.
    """
    kwargs = dict(
        model_num_class=num_classes,
        input_clip_length=num_frames,
        input_crop_size=crop_size,
        width_factor=width_factor,
        depth_factor=depth_factor,
        bottleneck_factor=bottleneck_factor,
        head_dim_out=head_dim_out,
        stem_dim_in=stem_dim_in,
        **head_kwargs(dropout_rate, head_activation),
    )
    kwargs.update(pytorchvideo_kwargs)
    net = create_x3d(**kwargs)
    head = f"blocks.{len(net.blocks) - 1}.proj"
    make_adaptive(net, width_divisor, head, in_rules={"blocks.0.conv.conv_t": None})
    return VideoNet(
        net.blocks, num_frames=num_frames, crop_size=crop_size, reference=(create_x3d, kwargs)
    )


# Variants (Kinetics-400, PySlowFast's model zoo settings) and a tiny twin for tests.
x3d_xs = register_variant(
    "x3d_xs", "X3D-XS: 4 frames, 160 px.", adaptive_x3d, num_frames=4, crop_size=160
)
x3d_s = register_variant(
    "x3d_s", "X3D-S: 13 frames, 160 px.", adaptive_x3d, num_frames=13, crop_size=160
)
x3d_m = register_variant(
    "x3d_m", "X3D-M: 16 frames, 224 px.", adaptive_x3d, num_frames=16, crop_size=224
)
x3d_l = register_variant(
    "x3d_l", "X3D-L: 16 frames, 312 px, depth factor 5.", adaptive_x3d,
    num_frames=16, crop_size=312, depth_factor=5.0,
)
x3d_tiny = register_variant(
    "x3d_tiny", "An X3D at half X3D-XS's width and depth on 4 x 32 px clips, for tests.",
    adaptive_x3d, width_factor=0.5, depth_factor=1.0, head_dim_out=32, num_frames=4, crop_size=32,
)
