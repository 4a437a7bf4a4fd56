"""Adaptive video networks on PyTorchVideo: Slow, SlowFast (Adaptive Fusion) and X3D.

Each network is PyTorchVideo's own (``create_resnet``, ``create_slowfast``,
``create_x3d``), built with its builder and then made adaptive by swapping layers in
place, keeping module names (paper section 4):

* every conv / BN / linear of the adapted pathway becomes its slimmable twin, sharing the
  parameter tensors, so ``state_dict`` keys and shapes are PyTorchVideo's and its
  checkpoints load with ``strict=True``;
* fixed-kernel head pools become global adaptive pools, so any spatial x temporal size
  runs (at the full size both give the same numbers);
* SlowFast's fusions become :class:`AdaptiveFusion`; the Fast pathway stays plain.

At the full configuration the forward pass is PyTorchVideo's, operation for operation.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from pytorchvideo.models.head import ResNetBasicHead, ResNetRoIHead
from pytorchvideo.models.resnet import create_resnet, create_resnet_with_roi_head
from pytorchvideo.models.slowfast import (
    FuseFastToSlow,
    PoolConcatPathway,
    create_slowfast,
    create_slowfast_with_roi_head,
)
from pytorchvideo.models.x3d import ProjectedPool, create_x3d
from torchvision.ops import RoIAlign

from ..slim import (
    ChannelRule,
    SlimBatchNorm3d,
    SlimConv3d,
    SlimLinear,
)
from ..utils.resample import temporal_indices
from .base import SlimClassifier
from .registry import register_model

__all__ = [
    "AdaptiveFusion",
    "VideoDetector",
    "VideoNet",
    "slimify",
    "adaptive_slow",
    "adaptive_slowfast",
    "adaptive_x3d",
    "adaptive_slow_detector",
    "adaptive_slowfast_detector",
]

VideoInput = Union[torch.Tensor, Sequence[torch.Tensor]]


# --------------------------------------------------------------------------------------
# Layer swapping
# --------------------------------------------------------------------------------------
def _to_slim(module: nn.Module, rule: ChannelRule, in_rule: Optional[ChannelRule]) -> nn.Module:
    """The slimmable twin of one plain layer, sharing its parameters and buffers."""
    if isinstance(module, nn.Conv3d):
        new = SlimConv3d(
            module.in_channels, module.out_channels, module.kernel_size, module.stride,
            module.padding, module.dilation, module.groups, module.bias is not None,
            in_rule=in_rule, out_rule=rule, device="meta",
        )
    elif isinstance(module, nn.BatchNorm3d):
        new = SlimBatchNorm3d(
            module.num_features, module.eps, module.momentum, module.affine,
            module.track_running_stats, rule=rule, device="meta",
        )
    elif isinstance(module, nn.Linear):
        new = SlimLinear(
            module.in_features, module.out_features, module.bias is not None,
            in_rule=in_rule, device="meta",
        )
    else:  # pragma: no cover - callers filter
        raise TypeError(type(module))
    for name, param in module.named_parameters(recurse=False):
        setattr(new, name, param)
    for name, buffer in module.named_buffers(recurse=False):
        setattr(new, name, buffer)
    return new.train(module.training)


def slimify(
    root: nn.Module,
    rule: ChannelRule,
    *,
    in_rules: Mapping[str, Optional[ChannelRule]] = {},
    skip: Sequence[str] = (),
) -> None:
    """Swap every Conv3d, BatchNorm3d and Linear under ``root`` for its slimmable twin.

    All channel dimensions follow ``rule`` except: a linear layer's outputs (classes);
    the input dimensions named in ``in_rules`` (qualified module name -> rule, ``None``
    for a fixed input such as RGB); modules under the prefixes in ``skip`` (kept plain).
    """
    targets = [
        (name, m) for name, m in root.named_modules()
        if isinstance(m, (nn.Conv3d, nn.BatchNorm3d, nn.Linear))
        and not any(name == s or name.startswith(s + ".") for s in skip)
    ]
    unknown = set(in_rules) - {name for name, _ in targets}
    if unknown:
        raise KeyError(f"in_rules name modules that are not convertible layers: {sorted(unknown)}")
    for name, module in targets:
        parent_name, _, child = name.rpartition(".")
        parent = root.get_submodule(parent_name) if parent_name else root
        setattr(parent, child, _to_slim(module, rule, in_rules.get(name, rule)))


def _adaptive_pool(pool: nn.Module) -> nn.Module:
    """The adaptive twin of a fixed-kernel head pool.

    A pool over the whole clip becomes a global one; a temporal-only pool (RoI heads,
    kernel (T, 1, 1)) becomes a pool over all frames that keeps the spatial map.
    """
    if not isinstance(pool, nn.AvgPool3d):
        return pool
    kernel = pool.kernel_size if isinstance(pool.kernel_size, tuple) else (pool.kernel_size,) * 3
    if tuple(kernel[1:]) == (1, 1):
        return nn.AdaptiveAvgPool3d((1, None, None))
    return nn.AdaptiveAvgPool3d(1)


def _globalise_pools(root: nn.Module) -> None:
    """Fixed-kernel head pools -> adaptive pools (any clip size then runs)."""
    for module in root.modules():
        if isinstance(module, PoolConcatPathway):
            module.pool = nn.ModuleList(_adaptive_pool(p) for p in module.pool)
        elif isinstance(module, (ResNetBasicHead, ResNetRoIHead, ProjectedPool)):
            module.pool = _adaptive_pool(module.pool)


# --------------------------------------------------------------------------------------
# Adaptive Fusion (paper section 4.2.2, Fig. 6)
# --------------------------------------------------------------------------------------
class AdaptiveFusion(FuseFastToSlow):
    """Fuse the full-size Fast pathway into an adaptive Slow pathway.

    ::

        Fast  {aT, S^2, bC} --conv 5x1x1 (7x1x1), stride a, 2bC out--> BN -> ReLU
                              {T, S^2, 2bC}
                                   | spatial interpolation to (g_s S)^2,
                                   | temporal subsampling to g_t T frames
                                   v
        Slow  {g_t T, (g_s S)^2, g_w C} --concat--> {g_t T, (g_s S)^2, g_w C + 2bC}
                                                   (the last 2bC channels: always Fast)

    The conv that follows each fusion takes the first ``g_w C`` Slow channels plus the
    last ``2bC`` fused ones (``ChannelRule(fixed_tail=2bC)``). Frames are picked with
    the same rule as the Slow clip's (:func:`~mutualnet3d.utils.resample.temporal_indices`).
    Parameter names are PyTorchVideo's ``FuseFastToSlow``; at the full configuration
    the output is identical.
    """

    def forward(self, x: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        x_s, x_f = x
        fuse = self.conv_fast_to_slow(x_f)
        if self.norm is not None:
            fuse = self.norm(fuse)
        if self.activation is not None:
            fuse = self.activation(fuse)
        t, size = x_s.shape[2], x_s.shape[3:]
        if fuse.shape[2] != t:
            fuse = fuse.index_select(2, temporal_indices(fuse.shape[2], t, fuse.device))
        if fuse.shape[3:] != size:
            fuse = F.interpolate(fuse, size=(t, *size), mode="trilinear", align_corners=False)
        return [torch.cat([x_s, fuse], 1), x_f]

    def __init__(
        self,
        conv_fast_to_slow: nn.Module,
        norm: Optional[nn.Module] = None,
        activation: Optional[nn.Module] = None,
    ) -> None:
        # Not FuseFastToSlow.__init__: its set_attributes(self, locals()) also assigns
        # `__class__` from the locals, turning the instance back into a FuseFastToSlow.
        nn.Module.__init__(self)
        self.conv_fast_to_slow = conv_fast_to_slow
        self.norm = norm
        self.activation = activation

    @classmethod
    def from_pytorchvideo(cls, fusion: FuseFastToSlow) -> "AdaptiveFusion":
        return cls(fusion.conv_fast_to_slow, fusion.norm, fusion.activation)


# --------------------------------------------------------------------------------------
# The model contract for video
# --------------------------------------------------------------------------------------
class VideoNet(SlimClassifier):
    """An adaptive video classifier holding PyTorchVideo's ``blocks``.

    ``state_dict`` keys are those of PyTorchVideo's ``Net`` (``blocks.N...``).

    Args:
        blocks: PyTorchVideo's block list, already made adaptive.
        num_frames: Slow (or single) pathway frames at the full configuration.
        crop_size: spatial size at the full configuration.
        alpha: SlowFast's frame-rate ratio (``None`` for single-pathway networks).
        reference: ``(builder, kwargs)`` of the PyTorchVideo network this one adapts;
            ``builder(**kwargs)`` builds its plain twin (same keys, same outputs at the
            full configuration).
    """

    input_kind = "video"

    def __init__(
        self,
        blocks: nn.ModuleList,
        num_frames: int,
        crop_size: int,
        alpha: Optional[int] = None,
        reference: Optional[tuple[Callable[..., nn.Module], dict[str, Any]]] = None,
    ) -> None:
        super().__init__()
        self.reference = reference
        self.blocks = blocks
        self.num_frames = num_frames
        self.crop_size = crop_size
        self.alpha = alpha
        head = blocks[-1]
        self.head_name = f"blocks.{len(blocks) - 1}.proj"
        if not isinstance(getattr(head, "proj", None), nn.Linear):
            raise TypeError("the last block must be a head with a `proj` linear layer")

    @property
    def num_pathways(self) -> int:
        return 1 if self.alpha is None else 2

    def forward_features(self, x: VideoInput) -> torch.Tensor:
        # A fresh list: PyTorchVideo's multi-pathway blocks write into the list they get.
        x = list(x) if self.alpha is not None else x
        for block in self.blocks[:-1]:
            x = block(x)
        return x

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.blocks[-1](features)

    def example_input(
        self, spatial: Optional[int] = None, temporal: Optional[int] = None, batch_size: int = 1
    ) -> VideoInput:
        """A zero clip of the given Slow-pathway size (Fast pathway: always full size)."""
        spatial = spatial or self.crop_size
        temporal = temporal or self.num_frames
        slow = torch.zeros(batch_size, 3, temporal, spatial, spatial)
        if self.alpha is None:
            return slow
        fast = torch.zeros(batch_size, 3, self.num_frames * self.alpha, self.crop_size, self.crop_size)
        return [slow, fast]


# --------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------
def _head_kwargs(dropout_rate: float, head_activation: Optional[type]) -> dict[str, Any]:
    # PySlowFast trains without a head activation (softmax only for evaluation); X3D's
    # PyTorchVideo default applies Softmax even in training, which breaks CE.
    return {"dropout_rate": dropout_rate, "head_activation": head_activation}


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
        **_head_kwargs(dropout_rate, head_activation),
    )
    kwargs.update(pytorchvideo_kwargs)
    net = create_resnet(**kwargs)
    rule = ChannelRule(divisor=width_divisor)
    slimify(net, rule, in_rules={"blocks.0.conv": None})
    _globalise_pools(net)
    return VideoNet(net.blocks, num_frames, crop_size, reference=(create_resnet, kwargs))


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
        slowfast_channel_reduction_ratio=(beta_inv,),
        slowfast_conv_channel_fusion_ratio=fusion_conv_channel_ratio,
        slowfast_fusion_conv_kernel_size=(fusion_kernel_size, 1, 1),
        slowfast_fusion_conv_stride=(alpha, 1, 1),
        head_pool_kernel_sizes=((num_frames, pool, pool), (num_frames * alpha, pool, pool)),
        **_head_kwargs(dropout_rate, head_activation),
    )
    kwargs.update(pytorchvideo_kwargs)
    net = create_slowfast(**kwargs)
    _adapt_slowfast(net, net.blocks, "blocks", f"blocks.{len(net.blocks) - 1}.proj", width_divisor)
    return VideoNet(net.blocks, num_frames, crop_size, alpha, reference=(create_slowfast, kwargs))


def _adapt_slowfast(
    root: nn.Module, blocks: nn.ModuleList, prefix: str, proj: str, width_divisor: int
) -> None:
    """Make a PyTorchVideo SlowFast adaptive in place (classification or detection).

    The Slow pathway slims; the Fast pathway and the fusion convs stay plain; fusions
    become :class:`AdaptiveFusion`; the first block after each fusion and the
    classifier ``proj`` keep the fused channels as a fixed tail of their inputs.
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
            tail = ChannelRule(divisor=width_divisor, fixed_tail=fusion.conv_fast_to_slow.out_channels)
            first = f"{prefix}.{index + 1}.multipathway_blocks.0.res_blocks.0"
            in_rules[f"{first}.branch1_conv"] = tail
            in_rules[f"{first}.branch2.conv_a"] = tail
    in_rules[proj] = ChannelRule(divisor=width_divisor, fixed_tail=fast_channels)
    slimify(root, ChannelRule(divisor=width_divisor), in_rules=in_rules, skip=skip)
    _globalise_pools(root)


def _out_channels(module: nn.Module) -> int:
    """Output channels of a pathway block: those of its last conv or BN."""
    last = [m for m in module.modules() if isinstance(m, (nn.Conv3d, nn.BatchNorm3d))][-1]
    return last.num_features if isinstance(last, nn.BatchNorm3d) else last.out_channels


def adaptive_x3d(
    *,
    num_classes: int = 400,
    dropout_rate: float = 0.5,
    width_divisor: int = 8,
    num_frames: int = 16,
    crop_size: int = 224,
    depth_factor: float = 2.2,
    head_activation: Optional[type] = None,
    **pytorchvideo_kwargs: Any,
) -> VideoNet:
    """Adaptive X3D: PyTorchVideo's ``create_x3d`` with every layer slim.

    Depthwise convolutions keep ``groups == active channels`` and the squeeze-excitation
    hidden size follows the width (paper section 6.1, MobileNetV3).

    Args:
        num_classes, dropout_rate: the head.
        width_divisor: active channels are multiples of this.
        num_frames, crop_size: clip size of the full configuration.
        depth_factor: X3D's depth expansion (2.2 for XS/S/M, 5.0 for L).
        head_activation: PyTorchVideo's head activation (None: raw logits).
        pytorchvideo_kwargs: any other ``create_x3d`` argument.
    """
    kwargs = dict(
        model_num_class=num_classes,
        input_clip_length=num_frames,
        input_crop_size=crop_size,
        depth_factor=depth_factor,
        **_head_kwargs(dropout_rate, head_activation),
    )
    kwargs.update(pytorchvideo_kwargs)
    net = create_x3d(**kwargs)
    slimify(net, ChannelRule(divisor=width_divisor), in_rules={"blocks.0.conv.conv_t": None})
    _globalise_pools(net)
    return VideoNet(net.blocks, num_frames, crop_size, reference=(create_x3d, kwargs))


# --------------------------------------------------------------------------------------
# Detection (AVA): the RoI head
# --------------------------------------------------------------------------------------
class VideoDetector(nn.Module):
    """An adaptive backbone with PyTorchVideo's RoI head, for AVA (paper section 6.5.2).

    Keys are those of PyTorchVideo's ``DetectionBBoxNetwork`` (``model.blocks...``,
    ``detection_head...``). The head pools over time, applies torchvision's ``RoIAlign``
    to the boxes (in input pixels; scale them with the input when the configuration
    shrinks it), max-pools each RoI and classifies it.

    Args:
        model: the backbone (PyTorchVideo ``Net`` without head), already adaptive.
        detection_head: PyTorchVideo's ``ResNetRoIHead``, already adaptive.
        num_frames, crop_size, alpha, reference: as :class:`VideoNet`.
    """

    input_kind = "video"
    head_name = "detection_head.proj"

    def __init__(
        self,
        model: nn.Module,
        detection_head: nn.Module,
        num_frames: int,
        crop_size: int,
        alpha: Optional[int] = None,
        reference: Optional[tuple[Callable[..., nn.Module], dict[str, Any]]] = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.detection_head = detection_head
        self.num_frames = num_frames
        self.crop_size = crop_size
        self.alpha = alpha
        self.reference = reference

    def forward(self, x: VideoInput, bboxes: torch.Tensor) -> torch.Tensor:
        """Scores (N, classes) for boxes (N, 5) = (batch index, x1, y1, x2, y2)."""
        x = list(x) if self.alpha is not None else x
        for block in self.model.blocks:
            x = block(x)
        out = self.detection_head(x, bboxes)
        return out.view(out.shape[0], -1)

    example_input = VideoNet.example_input

    def example_boxes(self, spatial: Optional[int] = None, batch_size: int = 1) -> torch.Tensor:
        """One whole-frame box per clip of :meth:`example_input`: (B, 5) for ``forward``."""
        spatial = float(spatial or self.crop_size)
        return torch.tensor([[i, 0.0, 0.0, spatial, spatial] for i in range(batch_size)])


def _pytorchvideo_detector(
    builder: Callable[..., nn.Module], roi_aligned: bool, **kwargs: Any
) -> nn.Module:
    """PyTorchVideo's detector with RoIAlign's alignment set explicitly.

    PySlowFast trains AVA with detectron2's ``ROIAlign(aligned=True)``
    (DETECTION.ALIGNED); torchvision's default is ``aligned=False``, PyTorchVideo passes
    nothing, and its SlowFast detector ignores a custom head, so the layer is set here.
    """
    net = builder(**kwargs)
    roi = net.detection_head.roi_layer
    net.detection_head.roi_layer = RoIAlign(
        roi.output_size, roi.spatial_scale, roi.sampling_ratio, aligned=roi_aligned
    )
    return net


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
        dropout_rate=dropout_rate,
        stem_conv_kernel_size=(1, 7, 7),
        head_pool_kernel_size=(num_frames, 1, 1),
        head_activation=head_activation,
    )
    kwargs.update(pytorchvideo_kwargs)
    builder = partial(_pytorchvideo_detector, create_resnet_with_roi_head, roi_aligned)
    net = builder(**kwargs)
    slimify(net, ChannelRule(divisor=width_divisor), in_rules={"model.blocks.0.conv": None})
    _globalise_pools(net)
    return VideoDetector(
        net.model, net.detection_head, num_frames, crop_size, reference=(builder, kwargs)
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

    Arguments as :func:`adaptive_slowfast` and :func:`adaptive_slow_detector`.
    """
    kwargs = dict(
        slowfast_channel_reduction_ratio=(beta_inv,),
        slowfast_conv_channel_fusion_ratio=fusion_conv_channel_ratio,
        slowfast_fusion_conv_kernel_size=(fusion_kernel_size, 1, 1),
        slowfast_fusion_conv_stride=(alpha, 1, 1),
        head_pool_kernel_sizes=((num_frames, 1, 1), (num_frames * alpha, 1, 1)),
        model_num_class=num_classes,
        dropout_rate=dropout_rate,
        head_activation=head_activation,
    )
    kwargs.update(pytorchvideo_kwargs)
    builder = partial(_pytorchvideo_detector, create_slowfast_with_roi_head, roi_aligned)
    net = builder(**kwargs)
    _adapt_slowfast(net, net.model.blocks, "model.blocks", "detection_head.proj", width_divisor)
    return VideoDetector(
        net.model, net.detection_head, num_frames, crop_size, alpha, reference=(builder, kwargs)
    )


# --------------------------------------------------------------------------------------
# Registered variants (Kinetics-400 defaults; PySlowFast's model zoo settings)
# --------------------------------------------------------------------------------------
@register_model
def slow_r50(**kwargs) -> VideoNet:
    """Slow 8x8 R50: 8 frames at sampling rate 8, 224 px."""
    return adaptive_slow(**kwargs)


@register_model
def slowfast_r50(**kwargs) -> VideoNet:
    """SlowFast 4x16 R50: 4 Slow / 32 Fast frames, alpha 8, fusion kernel 5."""
    return adaptive_slowfast(**kwargs)


@register_model
def slowfast_r50_8x8(**kwargs) -> VideoNet:
    """SlowFast 8x8 R50: 8 Slow / 32 Fast frames, alpha 4, fusion kernel 7."""
    kwargs = {"num_frames": 8, "alpha": 4, "fusion_kernel_size": 7, **kwargs}
    return adaptive_slowfast(**kwargs)


@register_model
def x3d_xs(**kwargs) -> VideoNet:
    """X3D-XS: 4 frames, 160 px."""
    return adaptive_x3d(**{"num_frames": 4, "crop_size": 160, **kwargs})


@register_model
def x3d_s(**kwargs) -> VideoNet:
    """X3D-S: 13 frames, 160 px."""
    return adaptive_x3d(**{"num_frames": 13, "crop_size": 160, **kwargs})


@register_model
def x3d_m(**kwargs) -> VideoNet:
    """X3D-M: 16 frames, 224 px."""
    return adaptive_x3d(**{"num_frames": 16, "crop_size": 224, **kwargs})


@register_model
def x3d_l(**kwargs) -> VideoNet:
    """X3D-L: 16 frames, 312 px, depth factor 5."""
    return adaptive_x3d(**{"num_frames": 16, "crop_size": 312, "depth_factor": 5.0, **kwargs})


# Tiny variants for tests: the same code paths at a fraction of the channels.
TINY_SLOW = dict(stem_dim_out=8, num_frames=4, crop_size=32)
TINY_SLOWFAST = dict(stem_dim_outs=(16, 2), num_frames=2, alpha=4, crop_size=32)
TINY_X3D = dict(width_factor=0.5, depth_factor=1.0, head_dim_out=32, num_frames=4, crop_size=32)


@register_model
def slow_tiny(**kwargs) -> VideoNet:
    """A Slow R50 with 8 stem channels on 4 x 32 px clips, for tests."""
    return adaptive_slow(**{**TINY_SLOW, **kwargs})


@register_model
def slowfast_tiny(**kwargs) -> VideoNet:
    """A SlowFast R50 with 16 / 2 stem channels on 2 (8) x 32 px clips, for tests."""
    return adaptive_slowfast(**{**TINY_SLOWFAST, **kwargs})


@register_model
def x3d_tiny(**kwargs) -> VideoNet:
    """An X3D at half X3D-XS's width and depth on 4 x 32 px clips, for tests."""
    return adaptive_x3d(**{**TINY_X3D, **kwargs})


@register_model
def slow_r50_detection(**kwargs) -> VideoDetector:
    """Slow R50 4x16 with the RoI head, for AVA."""
    return adaptive_slow_detector(**kwargs)


@register_model
def slowfast_r50_detection(**kwargs) -> VideoDetector:
    """SlowFast R50 8x8 with the RoI head, for AVA."""
    return adaptive_slowfast_detector(**kwargs)


@register_model
def slow_tiny_detection(**kwargs) -> VideoDetector:
    """A tiny Slow detector on 4 x 32 px clips, for tests."""
    return adaptive_slow_detector(**{**TINY_SLOW, **kwargs})


@register_model
def slowfast_tiny_detection(**kwargs) -> VideoDetector:
    """A tiny SlowFast detector on 2 (8) x 32 px clips, for tests."""
    return adaptive_slowfast_detector(**{**TINY_SLOWFAST, **kwargs})
