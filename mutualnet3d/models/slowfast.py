"""Adaptive SlowFast (paper section 4.2) and its RoI-head detector.

The Slow pathway adapts; the Fast pathway stays full size and is fused into it by
:class:`~mutualnet3d.models.fusion.AdaptiveFusion`. PyTorchVideo's ``create_slowfast``
/ ``create_slowfast_with_roi_head``.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Optional

import torch.nn as nn
from pytorchvideo.models.slowfast import (
    FuseFastToSlow,
    create_slowfast,
    create_slowfast_with_roi_head,
)

from ..slim import ChannelRule
from .fusion import AdaptiveFusion
from .registry import register_variant
from .video_net import VideoDetector, VideoNet, head_kwargs, make_adaptive, pytorchvideo_detector

__all__ = ["adaptive_slowfast", "adaptive_slowfast_detector"]


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
    head_activation: Optional[type] = None,
    **pytorchvideo_kwargs: Any,
) -> VideoNet:
    """Adaptive SlowFast: the Slow pathway adapts, the Fast pathway stays full size.

    PyTorchVideo's ``create_slowfast``; the Slow pathway's layers become slimmable, each
    fusion an :class:`AdaptiveFusion`, and every layer reading fused features (the first
    block of the next stage, the classifier) keeps the fused channels as a fixed tail.

    Args:
        num_classes, dropout_rate: the head.
        width_divisor: active Slow channels are multiples of this.
        num_frames: Slow pathway frames at the full configuration (Fast: ``alpha`` x).
        alpha, beta_inv, fusion_conv_channel_ratio, fusion_kernel_size: SlowFast's
            (PySlowFast's SLOWFAST.ALPHA, BETA_INV, FUSION_CONV_CHANNEL_RATIO,
            FUSION_KERNEL_SZ).
        crop_size: spatial size at the full configuration.
        head_activation: PyTorchVideo's head activation (None: raw logits).
        pytorchvideo_kwargs: any other ``create_slowfast`` argument.
    """
    pool = crop_size // 32
    kwargs = dict(
        model_num_class=num_classes,
        **_fusion_kwargs(alpha, beta_inv, fusion_conv_channel_ratio, fusion_kernel_size),
        head_pool_kernel_sizes=((num_frames, pool, pool), (num_frames * alpha, pool, pool)),
        **head_kwargs(dropout_rate, head_activation),
    )
    kwargs.update(pytorchvideo_kwargs)
    net = create_slowfast(**kwargs)
    _adapt_slowfast(net, net.blocks, "blocks", f"blocks.{len(net.blocks) - 1}.proj", width_divisor)
    return VideoNet(
        net.blocks, num_frames=num_frames, crop_size=crop_size, alpha=alpha,
        reference=(create_slowfast, kwargs),
    )


def adaptive_slowfast_detector(
    *,
    num_classes: int = 80,
    dropout_rate: float = 0.5,
    width_divisor: int = 8,
    num_frames: int = 8,
    alpha: int = 4,
    beta_inv: int = 8,
    fusion_conv_channel_ratio: int = 2,
    fusion_kernel_size: int = 7,
    crop_size: int = 224,
    roi_aligned: bool = True,
    head_activation: Optional[type] = None,
    **pytorchvideo_kwargs: Any,
) -> VideoDetector:
    """Adaptive SlowFast R50 with the RoI head: ``create_slowfast_with_roi_head``.

    Arguments as :func:`adaptive_slowfast` and
    :func:`~mutualnet3d.models.slow.adaptive_slow_detector`.
    """
    kwargs = dict(
        **_fusion_kwargs(alpha, beta_inv, fusion_conv_channel_ratio, fusion_kernel_size),
        head_pool_kernel_sizes=((num_frames, 1, 1), (num_frames * alpha, 1, 1)),
        model_num_class=num_classes,
        **head_kwargs(dropout_rate, head_activation),
    )
    kwargs.update(pytorchvideo_kwargs)
    builder = partial(pytorchvideo_detector, create_slowfast_with_roi_head, roi_aligned)
    net = builder(**kwargs)
    _adapt_slowfast(net, net.model.blocks, "model.blocks", VideoDetector.head_name, width_divisor)
    return VideoDetector(
        net.model, net.detection_head, num_frames=num_frames, crop_size=crop_size, alpha=alpha,
        reference=(builder, kwargs),
    )


# Variants (Kinetics-400 / AVA defaults: PySlowFast's model zoo settings) and tiny twins
# for tests (the same code paths at a fraction of the channels).
TINY_SLOWFAST = dict(stem_dim_outs=(16, 2), num_frames=2, alpha=4, crop_size=32)

slowfast_r50 = register_variant(
    "slowfast_r50", "SlowFast 4x16 R50: 4 Slow / 32 Fast frames, alpha 8, fusion kernel 5.",
    adaptive_slowfast,
)
slowfast_r50_8x8 = register_variant(
    "slowfast_r50_8x8", "SlowFast 8x8 R50: 8 Slow / 32 Fast frames, alpha 4, fusion kernel 7.",
    adaptive_slowfast, num_frames=8, alpha=4, fusion_kernel_size=7,
)
slowfast_tiny = register_variant(
    "slowfast_tiny", "A SlowFast R50 with 16 / 2 stem channels on 2 (8) x 32 px clips, for tests.",
    adaptive_slowfast, **TINY_SLOWFAST,
)
slowfast_r50_detection = register_variant(
    "slowfast_r50_detection", "SlowFast R50 8x8 with the RoI head, for AVA.",
    adaptive_slowfast_detector,
)
slowfast_tiny_detection = register_variant(
    "slowfast_tiny_detection", "A tiny SlowFast detector on 2 (8) x 32 px clips, for tests.",
    adaptive_slowfast_detector, **TINY_SLOWFAST,
)
