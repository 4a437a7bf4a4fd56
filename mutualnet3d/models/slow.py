"""The adaptive Slow network (SlowFast's Slow pathway alone) and its RoI-head detector.

PyTorchVideo's ``create_resnet`` / ``create_resnet_with_roi_head`` with every layer
slimmable but the RGB input (paper section 4; the detector: section 6.5.2, AVA).
"""

from __future__ import annotations

from functools import partial
from typing import Any, Optional

from pytorchvideo.models.resnet import create_resnet, create_resnet_with_roi_head

from .registry import register_variant
from .video_net import VideoDetector, VideoNet, head_kwargs, make_adaptive, pytorchvideo_detector

__all__ = ["adaptive_slow", "adaptive_slow_detector"]


def adaptive_slow(
    *,
    num_classes: int = 400,
    dropout_rate: float = 0.5,
    width_divisor: int = 8,
    num_frames: int = 8,
    crop_size: int = 224,
    head_activation: Optional[type] = None,
    **pytorchvideo_kwargs: Any,
) -> VideoNet:
    """Adaptive Slow pathway network: PyTorchVideo's ``create_resnet``, every layer slim.

    The stem is 1x7x7, as SlowFast's Slow pathway and PyTorchVideo's ``slow_r50``
    (``create_resnet``'s default 3x7x7 stem is another network).

    Args:
        num_classes, dropout_rate: the head.
        width_divisor: active channels are multiples of this.
        num_frames, crop_size: clip size of the full configuration (sizes the head pool
            of the reference network; the adaptive network pools globally).
        head_activation: PyTorchVideo's head activation (None: raw logits).
        pytorchvideo_kwargs: any other ``create_resnet`` argument.
    """
    kwargs = dict(
        model_num_class=num_classes,
        stem_conv_kernel_size=(1, 7, 7),
        head_pool_kernel_size=(num_frames, crop_size // 32, crop_size // 32),
        **head_kwargs(dropout_rate, head_activation),
    )
    kwargs.update(pytorchvideo_kwargs)
    net = create_resnet(**kwargs)
    head = f"blocks.{len(net.blocks) - 1}.proj"
    make_adaptive(net, width_divisor, head, in_rules={"blocks.0.conv": None})
    return VideoNet(
        net.blocks, num_frames=num_frames, crop_size=crop_size, reference=(create_resnet, kwargs)
    )


def adaptive_slow_detector(
    *,
    num_classes: int = 80,
    dropout_rate: float = 0.5,
    width_divisor: int = 8,
    num_frames: int = 4,
    crop_size: int = 224,
    roi_aligned: bool = True,
    head_activation: Optional[type] = None,
    **pytorchvideo_kwargs: Any,
) -> VideoDetector:
    """Adaptive Slow R50 with the RoI head: PyTorchVideo's ``create_resnet_with_roi_head``.

    Args:
        num_classes: AVA actions (80, of which 60 are evaluated).
        dropout_rate: before the classifier.
        width_divisor: active channels are multiples of this.
        num_frames, crop_size: clip size of the full configuration.
        roi_aligned: RoIAlign's half-pixel alignment (PySlowFast: True).
        head_activation: PyTorchVideo's default is Sigmoid; None gives logits, which the
            BCE-with-logits loss and the distillation loss take (sigmoid at evaluation).
        pytorchvideo_kwargs: any other ``create_resnet_with_roi_head`` argument.
    """
    kwargs = dict(
        model_num_class=num_classes,
        stem_conv_kernel_size=(1, 7, 7),
        head_pool_kernel_size=(num_frames, 1, 1),
        **head_kwargs(dropout_rate, head_activation),
    )
    kwargs.update(pytorchvideo_kwargs)
    builder = partial(pytorchvideo_detector, create_resnet_with_roi_head, roi_aligned)
    net = builder(**kwargs)
    stem = {"model.blocks.0.conv": None}
    make_adaptive(net, width_divisor, VideoDetector.head_name, in_rules=stem)
    return VideoDetector(
        net.model, net.detection_head, num_frames=num_frames, crop_size=crop_size,
        reference=(builder, kwargs),
    )


# Variants (Kinetics-400 / AVA defaults: PySlowFast's model zoo settings) and tiny twins
# for tests (the same code paths at a fraction of the channels).
TINY_SLOW = dict(stem_dim_out=8, num_frames=4, crop_size=32)

slow_r50 = register_variant(
    "slow_r50", "Slow 8x8 R50: 8 frames at sampling rate 8, 224 px.", adaptive_slow
)
slow_tiny = register_variant(
    "slow_tiny", "A Slow R50 with 8 stem channels on 4 x 32 px clips, for tests.",
    adaptive_slow, **TINY_SLOW,
)
slow_r50_detection = register_variant(
    "slow_r50_detection", "Slow R50 4x16 with the RoI head, for AVA.", adaptive_slow_detector
)
slow_tiny_detection = register_variant(
    "slow_tiny_detection", "A tiny Slow detector on 4 x 32 px clips, for tests.",
    adaptive_slow_detector, **TINY_SLOW,
)
