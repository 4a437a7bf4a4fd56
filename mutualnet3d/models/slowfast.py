"""Adaptive SlowFast (paper section 4.2) and its RoI-head detector.

The Slow pathway adapts; the Fast pathway stays full size and is fused into it by
:class:`~mutualnet3d.models.fusion.AdaptiveFusion`. PyTorchVideo's ``create_slowfast``
/ ``create_slowfast_with_roi_head`` with PySlowFast's sizes (:mod:`.layout`: R50 or
R101, the temporal kernels of each pathway's blocks, strides and dilations).
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Literal, Optional

import torch.nn as nn
from pytorchvideo.models.slowfast import (
    FuseFastToSlow,
    create_slowfast,
    create_slowfast_with_roi_head,
)

from ..slim import ChannelRule
from .base import SlimNet
from .fusion import AdaptiveFusion
from .layout import PathwayLayout, PerStage, check_choice, resnet_layouts
from .registry import register_pyslowfast_name, register_variant
from .video_net import (
    VideoDetector,
    VideoNet,
    head_kwargs,
    make_adaptive,
    pytorchvideo_detector,
    set_initialisation,
)

__all__ = ["adaptive_slowfast"]


def _fusion_kwargs(
    alpha: int, beta_inv: int, fusion_conv_channel_ratio: int, fusion_kernel_size: int
) -> dict[str, Any]:
    """PySlowFast's SLOWFAST keys under PyTorchVideo's argument names."""
    return dict(
        slowfast_channel_reduction_ratio=(beta_inv,),
        slowfast_conv_channel_fusion_ratio=fusion_conv_channel_ratio,
        slowfast_fusion_conv_kernel_size=(fusion_kernel_size, 1, 1),
        slowfast_fusion_conv_stride=(alpha, 1, 1),
    )


def _adapt_slowfast(net: nn.Module, blocks: nn.ModuleList, prefix: str, head: str,
                    width_divisor: int) -> None:
    """Make a PyTorchVideo SlowFast adaptive in place (classification or detection).

    The Slow pathway slims; the Fast pathway and the fusion convs stay plain; fusions
    become :class:`AdaptiveFusion`; the first block after each fusion and the
    classifier ``head`` keep the fused channels as a fixed tail of their inputs.
    """
    in_rules: dict[str, Optional[ChannelRule]] = {f"{prefix}.0.multipathway_blocks.0.conv": None}
    skip = []
    fast_channels = 0
    for index, block in enumerate(blocks):
        if not hasattr(block, "multipathway_blocks"):
            continue
        skip.append(f"{prefix}.{index}.multipathway_blocks.1")  # the Fast pathway
        fast_channels = _out_channels(block.multipathway_blocks[1])
        fusion = block.multipathway_fusion
        if isinstance(fusion, FuseFastToSlow):
            skip.append(f"{prefix}.{index}.multipathway_fusion")
            block.multipathway_fusion = AdaptiveFusion.from_pytorchvideo(fusion)
            fused = fusion.conv_fast_to_slow.out_channels
            tail = ChannelRule(divisor=width_divisor, fixed_tail=fused)
            first = f"{prefix}.{index + 1}.multipathway_blocks.0.res_blocks.0"
            in_rules[f"{first}.branch1_conv"] = tail
            in_rules[f"{first}.branch2.conv_a"] = tail
    in_rules[head] = ChannelRule(divisor=width_divisor, fixed_tail=fast_channels)
    make_adaptive(net, width_divisor, head, in_rules, skip)


def _out_channels(module: nn.Module) -> int:
    """Output channels of a pathway block: those of its last conv or BN."""
    last = [m for m in module.modules() if isinstance(m, (nn.Conv3d, nn.BatchNorm3d))][-1]
    return last.num_features if isinstance(last, nn.BatchNorm3d) else last.out_channels


def _pathway_kwargs(layouts: tuple[PathwayLayout, ...], depth: int, width: int,
                    beta_inv: int) -> dict[str, Any]:
    """``create_slowfast``'s arguments for the two pathways' layouts."""
    slow, fast = layouts
    return dict(
        model_depth=depth,
        stem_dim_outs=(width, width // beta_inv),
        stem_conv_kernel_sizes=tuple((p.stem_kernel, 7, 7) for p in layouts),
        stage_conv_a_kernel_sizes=(slow.conv_a_kernel_sizes(), fast.conv_a_kernel_sizes()),
        stage_conv_b_dilations=(slow.conv_b_dilations(), fast.conv_b_dilations()),
        stage_spatial_strides=(slow.spatial_strides, fast.spatial_strides),
    )


def _head_pools(layouts: tuple[PathwayLayout, ...], detection: bool, num_frames: int,
                alpha: int, crop_size: int) -> dict[str, Any]:
    """The reference network's head pools (the adaptive one pools globally) and, for a
    detector, the RoI scale of res5 (1 / its stride in input pixels)."""
    frames = (num_frames, num_frames * alpha)
    if detection:
        return dict(head_pool_kernel_sizes=tuple((t, 1, 1) for t in frames),
                    head_spatial_scale=1.0 / layouts[0].spatial_stride)
    sizes = [max(1, crop_size // p.spatial_stride) for p in layouts]
    return dict(head_pool_kernel_sizes=tuple((t, s, s) for t, s in zip(frames, sizes)))


def adaptive_slowfast(
    *,
    num_classes: int = 400,
    dropout_rate: float = 0.5,
    width_divisor: int = 8,
    num_frames: int = 4,
    alpha: int = 8,
    beta_inv: int = 8,
    fusion_conv_channel_ratio: int = 2,
    fusion_kernel_size: int = 5,
    crop_size: int = 224,
    arch: Literal["slowfast"] = "slowfast",
    depth: Literal[50, 101] = 50,
    num_block_temp_kernel: PerStage = (3, 4, 6, 3),
    spatial_strides: PerStage = (1, 2, 2, 2),
    spatial_dilations: PerStage = (1, 1, 1, 1),
    width_per_group: int = 64,
    trans_func: Literal["bottleneck_transform"] = "bottleneck_transform",
    detection: bool = False,
    roi_aligned: bool = True,
    zero_init_final_bn: bool = True,
    fc_init_std: float = 0.01,
    head_activation: Optional[type] = None,
    **pytorchvideo_kwargs: Any,
) -> SlimNet:
    """Adaptive SlowFast: the Slow pathway adapts, the Fast pathway stays full size.

    PyTorchVideo's ``create_slowfast`` (``detection``: ``create_slowfast_with_roi_head``);
    the Slow pathway's layers become slimmable, each fusion an :class:`AdaptiveFusion`,
    and every layer reading fused features (the first block of the next stage, the
    classifier) keeps the fused channels as a fixed tail.

    Args:
        num_classes, dropout_rate: the head.
        width_divisor: active Slow channels are multiples of this.
        num_frames: Slow pathway frames at the full configuration (Fast: ``alpha`` x).
        alpha, beta_inv, fusion_conv_channel_ratio, fusion_kernel_size: SlowFast's
            (PySlowFast's SLOWFAST.ALPHA, BETA_INV, FUSION_CONV_CHANNEL_RATIO,
            FUSION_KERNEL_SZ).
        crop_size: spatial size at the full configuration.
        arch, depth, num_block_temp_kernel, spatial_strides, spatial_dilations:
            PySlowFast's MODEL.ARCH, RESNET.DEPTH, NUM_BLOCK_TEMP_KERNEL, SPATIAL_STRIDES,
            SPATIAL_DILATIONS (per stage, one entry for both pathways or one each).
        width_per_group: Slow stem channels (RESNET.WIDTH_PER_GROUP; Fast: / beta_inv).
        trans_func: the block (RESNET.TRANS_FUNC): the bottleneck only.
        detection: PyTorchVideo's RoI head (AVA) instead of the global one.
        roi_aligned: RoIAlign's half-pixel alignment (PySlowFast: DETECTION.ALIGNED).
        zero_init_final_bn, fc_init_std: RESNET.ZERO_INIT_FINAL_BN, MODEL.FC_INIT_STD.
        head_activation: PyTorchVideo's head activation (None: raw logits).
        pytorchvideo_kwargs: any other ``create_slowfast(_with_roi_head)`` argument.
    """
    check_choice("arch", arch, ("slowfast",))
    check_choice("trans_func", trans_func, ("bottleneck_transform",))
    layouts = resnet_layouts(arch, depth, num_block_temp_kernel, spatial_strides,
                             spatial_dilations)
    kwargs = dict(
        model_num_class=num_classes,
        **_fusion_kwargs(alpha, beta_inv, fusion_conv_channel_ratio, fusion_kernel_size),
        **_pathway_kwargs(layouts, depth, width_per_group, beta_inv),
        **_head_pools(layouts, detection, num_frames, alpha, crop_size),
        **head_kwargs(dropout_rate, head_activation),
    )
    kwargs.update(pytorchvideo_kwargs)
    builder: Callable[..., nn.Module] = create_slowfast
    if detection:
        builder = partial(pytorchvideo_detector, create_slowfast_with_roi_head, roi_aligned)
    net = builder(**kwargs)
    set_initialisation(net, zero_init_final_bn, fc_init_std)
    clip = dict(num_frames=num_frames, crop_size=crop_size, alpha=alpha,
                reference=(builder, kwargs))
    if detection:
        _adapt_slowfast(net, net.model.blocks, "model.blocks", VideoDetector.head_name,
                        width_divisor)
        return VideoDetector(net.model, net.detection_head, **clip)
    head = f"blocks.{len(net.blocks) - 1}.proj"
    _adapt_slowfast(net, net.blocks, "blocks", head, width_divisor)
    return VideoNet(net.blocks, **clip)


# PySlowFast's names: the network SLOWFAST.*, MODEL.ARCH and RESNET.* describe. Its
# PTVSlowFast builds the same tensors with PyTorchVideo (for every published file).
register_pyslowfast_name(
    "SlowFast", "PySlowFast's SlowFast: R50/R101 (RESNET.DEPTH), its SLOWFAST.* fusion.",
    adaptive_slowfast,
)
register_pyslowfast_name(
    "PTVSlowFast", "PySlowFast's PyTorchVideo SlowFast: the same network as SlowFast.",
    adaptive_slowfast,
)

# Variants (Kinetics-400 / AVA defaults: PySlowFast's model zoo settings; TxS: T Slow
# frames at sampling rate S) and tiny twins for tests (the same code paths at a
# fraction of the channels).
R101 = dict(depth=101, num_block_temp_kernel=(3, 4, 23, 3))
AVA = dict(num_classes=80, detection=True, spatial_strides=(1, 2, 2, 1),
           spatial_dilations=(1, 1, 1, 2), num_frames=8, alpha=4, fusion_kernel_size=7)
TINY = dict(width_per_group=16, num_frames=2, alpha=4, crop_size=32)
FAST_8X8 = dict(num_frames=8, alpha=4, fusion_kernel_size=7)

slowfast_r50 = register_variant(
    "slowfast_r50", "SlowFast 4x16 R50: 4 Slow / 32 Fast frames, alpha 8, fusion kernel 5.",
    adaptive_slowfast,
)
slowfast_r50_8x8 = register_variant(
    "slowfast_r50_8x8", "SlowFast 8x8 R50: 8 Slow / 32 Fast frames, alpha 4, fusion kernel 7.",
    adaptive_slowfast, **FAST_8X8,
)
slowfast_r50_16x8 = register_variant(
    "slowfast_r50_16x8", "SlowFast 16x8 R50: 16 Slow / 64 Fast frames, alpha 4, kernel 7 "
    "(PySlowFast's Charades model).", adaptive_slowfast, **{**FAST_8X8, "num_frames": 16},
)
slowfast_r101 = register_variant(
    "slowfast_r101", "SlowFast 4x16 R101.", adaptive_slowfast, **R101,
)
slowfast_r101_8x8 = register_variant(
    "slowfast_r101_8x8", "SlowFast 8x8 R101 (kernel 5 fusion, as PySlowFast's R101 files).",
    adaptive_slowfast, num_frames=8, alpha=4, **R101,
)
slowfast_r101_50_50_16x8 = register_variant(
    "slowfast_r101_50_50_16x8", "SlowFast 16x8 R101_50_50: an R101 whose res4 has R50's "
    "six temporal blocks (PySlowFast's zoo).", adaptive_slowfast,
    depth=101, num_frames=16, alpha=4,
)
slowfast_tiny = register_variant(
    "slowfast_tiny", "A SlowFast R50 with 16 / 2 stem channels on 2 (8) x 32 px clips, for tests.",
    adaptive_slowfast, **TINY,
)
slowfast_r50_detection = register_variant(
    "slowfast_r50_detection", "SlowFast R50 8x8 with the RoI head, for AVA.",
    adaptive_slowfast, **AVA,
)
slowfast_tiny_detection = register_variant(
    "slowfast_tiny_detection", "A tiny SlowFast detector on 2 (8) x 32 px clips, for tests.",
    adaptive_slowfast, **{**AVA, **TINY},
)
