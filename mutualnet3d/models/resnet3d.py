"""Adaptive single-pathway 3D ResNets: C2D, I3D and Slow (PySlowFast's ``ResNet``).

PyTorchVideo's ``create_resnet`` / ``create_resnet_with_roi_head`` with PySlowFast's
sizes (:mod:`.layout`: stage depths, per-block temporal kernels, pool1, strides and
dilations) and every layer slimmable but the RGB input (paper section 4; the
detector: section 6.5.2, AVA). C2D and I3D are the Non-local paper's baselines (Table
1: a 2D ResNet, and one with 5x7x7 stem and 3x1x1 kernels in alternate blocks, both
with a temporal max pool after res2); Slow is SlowFast's Slow pathway alone (SlowFast
paper, Table 1: 1x7x7 stem, 3x1x1 kernels in res4 and res5).
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Literal, Optional

import torch
import torch.nn as nn
from pytorchvideo.models.resnet import create_resnet, create_resnet_with_roi_head

from .base import SlimNet
from .layout import PathwayLayout, PerStage, check_choice, per_pathway, resnet_layouts
from .registry import register_pyslowfast_name, register_variant
from .resnet import pyslowfast_image_resnet
from .video_net import (
    VideoDetector,
    VideoNet,
    head_kwargs,
    make_adaptive,
    pytorchvideo_detector,
    set_initialisation,
)

__all__ = ["TemporalPool1", "adaptive_resnet3d"]


class TemporalPool1(nn.MaxPool3d):
    """C2D's and I3D's max pool after res2, kernel = stride = (k, 1, 1) (PySlowFast's
    pool1): a clip of fewer than k frames (a small configuration) is pooled to one."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2] < self.kernel_size[0]:
            return x.amax(2, keepdim=True)
        return super().forward(x)


def _pytorchvideo_kwargs(layout: PathwayLayout, depth: int, width_per_group: int) -> dict:
    """``create_resnet``'s arguments for ``layout`` (its stem and stages)."""
    return dict(
        model_depth=depth,
        stem_dim_out=width_per_group,
        stem_conv_kernel_size=(layout.stem_kernel, 7, 7),
        stage1_pool=TemporalPool1 if layout.pool1 > 1 else None,
        stage1_pool_kernel_size=(layout.pool1, 1, 1),
        stage_conv_a_kernel_size=layout.conv_a_kernel_sizes(),
        stage_conv_b_dilation=layout.conv_b_dilations(),
        stage_spatial_h_stride=layout.spatial_strides,
        stage_spatial_w_stride=layout.spatial_strides,
    )


def _head_kwargs(
    layout: PathwayLayout, detection: bool, num_frames: int, crop_size: int
) -> dict[str, Any]:
    """The reference network's head pool (the adaptive one pools globally) and, for a
    detector, the RoI scale of res5 (1 / its stride in input pixels)."""
    frames = max(1, num_frames // layout.pool1)
    if detection:
        return dict(head_pool_kernel_size=(frames, 1, 1),
                    head_spatial_scale=1.0 / layout.spatial_stride)
    size = max(1, crop_size // layout.spatial_stride)
    return dict(head_pool_kernel_size=(frames, size, size))


def adaptive_resnet3d(
    *,
    num_classes: int = 400,
    dropout_rate: float = 0.5,
    width_divisor: int = 8,
    num_frames: int = 8,
    crop_size: int = 224,
    arch: Literal["2d", "c2d", "i3d", "slow"] = "slow",
    depth: Literal[50, 101] = 50,
    num_block_temp_kernel: Optional[PerStage] = (3, 4, 6, 3),
    spatial_strides: PerStage = (1, 2, 2, 2),
    spatial_dilations: PerStage = (1, 1, 1, 1),
    width_per_group: int = 64,
    trans_func: Literal["bottleneck_transform"] = "bottleneck_transform",
    pool1: bool = True,
    detection: bool = False,
    roi_aligned: bool = True,
    zero_init_final_bn: bool = True,
    fc_init_std: float = 0.01,
    head_activation: Optional[type] = None,
    **pytorchvideo_kwargs: Any,
) -> SlimNet:
    """An adaptive C2D, I3D or Slow ResNet, a classifier or (``detection``) a detector;
    with ``arch="2d"``, PySlowFast's ImageNet ResNet (:func:`.resnet.pyslowfast_image_resnet`).

    Args:
        num_classes, dropout_rate: the head.
        width_divisor: active channels are multiples of this.
        num_frames, crop_size: clip size of the full configuration (sizes the head pool
            of the reference network; the adaptive network pools globally).
        arch, depth, num_block_temp_kernel, spatial_strides, spatial_dilations:
            PySlowFast's MODEL.ARCH, RESNET.DEPTH, NUM_BLOCK_TEMP_KERNEL, SPATIAL_STRIDES,
            SPATIAL_DILATIONS (per stage res2..res5; see :func:`.layout.resnet_layouts`).
        width_per_group: channels of the stem and of res2's 3x3 conv (RESNET.WIDTH_PER_GROUP).
        trans_func: the block (RESNET.TRANS_FUNC): the bottleneck only.
        pool1: the temporal pool after res2 of C2D and I3D (False: ``ResNet_nopool``).
        detection: PyTorchVideo's RoI head (AVA) instead of the global one.
        roi_aligned: RoIAlign's half-pixel alignment (PySlowFast: DETECTION.ALIGNED).
        zero_init_final_bn, fc_init_std: RESNET.ZERO_INIT_FINAL_BN, MODEL.FC_INIT_STD.
        head_activation: PyTorchVideo's head activation (None: raw logits, which the
            losses and the evaluation take).
        pytorchvideo_kwargs: any other ``create_resnet(_with_roi_head)`` argument.
    """
    check_choice("arch", arch, ("2d", "c2d", "i3d", "slow"))
    if arch == "2d":
        return _image_resnet(
            depth, spatial_strides, spatial_dilations, detection,
            num_classes=num_classes, dropout_rate=dropout_rate, width_divisor=width_divisor,
            crop_size=crop_size, width_per_group=width_per_group,
            zero_init_final_bn=zero_init_final_bn, fc_init_std=fc_init_std,
        )
    check_choice("trans_func", trans_func, ("bottleneck_transform",))
    (layout,) = resnet_layouts(
        arch, depth, num_block_temp_kernel, spatial_strides, spatial_dilations, pool1=pool1
    )
    kwargs = dict(
        model_num_class=num_classes,
        **_pytorchvideo_kwargs(layout, depth, width_per_group),
        **_head_kwargs(layout, detection, num_frames, crop_size),
        **head_kwargs(dropout_rate, head_activation),
    )
    kwargs.update(pytorchvideo_kwargs)
    builder: Callable[..., nn.Module] = create_resnet
    if detection:
        builder = partial(pytorchvideo_detector, create_resnet_with_roi_head, roi_aligned)
    net = builder(**kwargs)
    set_initialisation(net, zero_init_final_bn, fc_init_std)
    clip = dict(num_frames=num_frames, crop_size=crop_size, reference=(builder, kwargs))
    if detection:
        make_adaptive(net, width_divisor, VideoDetector.head_name, {"model.blocks.0.conv": None})
        return VideoDetector(net.model, net.detection_head, **clip)
    head = f"blocks.{len(net.blocks) - 1}.proj"
    make_adaptive(net, width_divisor, head, in_rules={"blocks.0.conv": None})
    return VideoNet(net.blocks, **clip)


def _image_resnet(depth, spatial_strides, spatial_dilations, detection, **kwargs: Any) -> SlimNet:
    # Strides, dilations and detection would change PySlowFast's 2D network; the temporal
    # kernels would not (its "2d" basis is 1 throughout), as there.
    for name, value, default in (
        ("spatial_strides", spatial_strides, (1, 2, 2, 2)),
        ("spatial_dilations", spatial_dilations, (1, 1, 1, 1)),
    ):
        if per_pathway(name, value, 1) != (default,):
            raise ValueError(f"{name}: arch '2d' builds {default}, got {value!r}")
    if detection:
        raise ValueError("detection: arch '2d' builds False, got True")
    return pyslowfast_image_resnet(depth=depth, **kwargs)


# PySlowFast's names: the network MODEL.ARCH and RESNET.* describe (its ResNet builds
# C2D, I3D and Slow; PTVResNet builds them with PyTorchVideo and gives every block of a
# stage its kernel pattern, whatever RESNET.NUM_BLOCK_TEMP_KERNEL says).
register_pyslowfast_name(
    "ResNet", "PySlowFast's ResNet: C2D, I3D or Slow (MODEL.ARCH), R50/R101 (RESNET.DEPTH).",
    adaptive_resnet3d,
)
register_pyslowfast_name(
    "ResNet_nopool", "PySlowFast's C2D without the temporal pool after res2 (its c2/ zoo).",
    adaptive_resnet3d, pool1=False,
)
register_pyslowfast_name(
    "PTVResNet", "PySlowFast's PyTorchVideo ResNet: every block of a stage takes its "
    "kernel pattern (RESNET.NUM_BLOCK_TEMP_KERNEL is not read).",
    adaptive_resnet3d, num_block_temp_kernel=None,
)

# Variants (Kinetics-400 / AVA, PySlowFast's model zoo settings; 8x8: 8 frames at
# sampling rate 8) and tiny twins for tests (the same code paths at 1/8 of the channels).
R101 = dict(depth=101, num_block_temp_kernel=(3, 4, 23, 3))
AVA = dict(num_classes=80, detection=True, spatial_strides=(1, 2, 2, 1),
           spatial_dilations=(1, 1, 1, 2))  # res5 at stride 16, dilated
TINY = dict(width_per_group=8, num_frames=4, crop_size=32)

c2d_r50 = register_variant(
    "c2d_r50", "C2D 8x8 R50: 1x7x7 stem, no temporal kernel, pool1.", adaptive_resnet3d,
    arch="c2d",
)
c2d_r101 = register_variant("c2d_r101", "C2D 8x8 R101.", adaptive_resnet3d, arch="c2d", **R101)
i3d_r50 = register_variant(
    "i3d_r50", "I3D 8x8 R50: 5x7x7 stem, 3x1x1 kernels in alternate blocks, pool1.",
    adaptive_resnet3d, arch="i3d",
)
i3d_r101 = register_variant("i3d_r101", "I3D 8x8 R101.", adaptive_resnet3d, arch="i3d", **R101)
slow_r50 = register_variant(
    "slow_r50", "Slow 8x8 R50: 8 frames at sampling rate 8, 224 px.", adaptive_resnet3d
)
slow_r50_4x16 = register_variant(
    "slow_r50_4x16", "Slow 4x16 R50: 4 frames at sampling rate 16.", adaptive_resnet3d,
    num_frames=4,
)
slow_r101 = register_variant("slow_r101", "Slow 8x8 R101.", adaptive_resnet3d, **R101)
slow_r50_detection = register_variant(
    "slow_r50_detection", "Slow R50 4x16 with the RoI head, for AVA.", adaptive_resnet3d,
    num_frames=4, **AVA,
)
c2d_tiny = register_variant(
    "c2d_tiny", "A C2D R50 with 8 stem channels on 4 x 32 px clips, for tests.",
    adaptive_resnet3d, arch="c2d", **TINY,
)
i3d_tiny = register_variant(
    "i3d_tiny", "An I3D R50 with 8 stem channels on 4 x 32 px clips, for tests.",
    adaptive_resnet3d, arch="i3d", **TINY,
)
slow_tiny = register_variant(
    "slow_tiny", "A Slow R50 with 8 stem channels on 4 x 32 px clips, for tests.",
    adaptive_resnet3d, **TINY,
)
slow_tiny_detection = register_variant(
    "slow_tiny_detection", "A tiny Slow detector on 4 x 32 px clips, for tests.",
    adaptive_resnet3d, **{**AVA, **TINY},
)
