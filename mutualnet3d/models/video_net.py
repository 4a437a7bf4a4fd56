"""Adaptive video networks on PyTorchVideo's blocks: classifier and detector.

Each family (:mod:`.slow`, :mod:`.slowfast`, :mod:`.x3d`) builds PyTorchVideo's own
network with its builder and makes it adaptive in place, keeping module names (paper
section 4):

* every conv / BN / linear of the adapted pathway becomes its slimmable twin sharing the
  parameter tensors (:func:`~mutualnet3d.slim.convert_to_slim`), so ``state_dict`` keys
  and shapes are PyTorchVideo's and its checkpoints load with ``strict=True``;
* fixed-kernel head pools become global adaptive pools (:func:`globalise_pools`), so any
  spatial x temporal size runs (at the full size both give the same numbers).

At the full configuration the forward pass is PyTorchVideo's, operation for operation.
The result is wrapped in :class:`VideoNet` or :class:`VideoDetector`, both on the one
model contract (:class:`~mutualnet3d.models.base.SlimNet`).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Sequence

import torch
import torch.nn as nn
from fvcore.nn.weight_init import c2_msra_fill
from pytorchvideo.models.head import ResNetBasicHead, ResNetRoIHead
from pytorchvideo.models.slowfast import PoolConcatPathway
from pytorchvideo.models.x3d import ProjectedPool
from torchvision.ops import RoIAlign

from ..slim import ChannelRule, convert_to_slim
from .base import ModelInput, SlimNet

__all__ = [
    "VideoNet", "VideoDetector", "make_adaptive", "globalise_pools", "pytorchvideo_detector",
    "set_initialisation",
]

#: ``(builder, kwargs)``: ``builder(**kwargs)`` is the plain PyTorchVideo network
Reference = tuple[Callable[..., nn.Module], dict[str, Any]]


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


def globalise_pools(root: nn.Module) -> None:
    """Fixed-kernel head pools -> adaptive pools (any clip size then runs)."""
    for module in root.modules():
        if isinstance(module, PoolConcatPathway):
            module.pool = nn.ModuleList(_adaptive_pool(p) for p in module.pool)
        elif isinstance(module, (ResNetBasicHead, ResNetRoIHead, ProjectedPool)):
            module.pool = _adaptive_pool(module.pool)


def make_adaptive(
    net: nn.Module,
    width_divisor: int,
    head: str,
    in_rules: Mapping[str, Optional[ChannelRule]],
    skip: Sequence[str] = (),
) -> None:
    """PyTorchVideo's ``net`` made adaptive in place: slim layers, global head pools.

    Every channel follows ``ChannelRule(divisor=width_divisor)`` except ``in_rules``
    (the RGB stem: ``None``), the classes of the classifier ``head``, and ``skip``.
    """
    rule = ChannelRule(divisor=width_divisor)
    convert_to_slim(net, rule, in_rules=in_rules, out_rules={head: None}, skip=skip)
    globalise_pools(net)


# PyTorchVideo's networks start as PySlowFast's with RESNET.ZERO_INIT_FINAL_BN True
# (every residual branch's last BN at gamma 0) and MODEL.FC_INIT_STD 0.01.
_PYTORCHVIDEO_FC_INIT_STD = 0.01


@torch.no_grad()
def set_initialisation(net: nn.Module, zero_init_final_bn: bool, fc_init_std: float) -> None:
    """PySlowFast's initialisation settings on a freshly built PyTorchVideo network.

    ``zero_init_final_bn``: the last BN of every residual branch starts at gamma 0
    (PyTorchVideo's default) or 1. ``fc_init_std``: the std of the linear layers' N(0,
    std) weights. Call it before :func:`make_adaptive` (the slim layers drop the flag
    PyTorchVideo marks those BNs with).
    """
    if not fc_init_std > 0:
        raise ValueError(f"fc_init_std: must be > 0, got {fc_init_std!r}")
    for m in net.modules():
        if not zero_init_final_bn and getattr(m, "block_final_bn", False):
            nn.init.ones_(m.weight)
        if isinstance(m, nn.Linear) and fc_init_std != _PYTORCHVIDEO_FC_INIT_STD:
            nn.init.normal_(m.weight, 0.0, fc_init_std)


def head_kwargs(dropout_rate: float, head_activation: Optional[type]) -> dict[str, Any]:
    """The head arguments of PyTorchVideo's builders.

    PySlowFast trains without a head activation (softmax only for evaluation); X3D's
    PyTorchVideo default applies Softmax even in training, which breaks CE.
    """
    return {"dropout_rate": dropout_rate, "head_activation": head_activation}


def _run_blocks(blocks: Sequence[nn.Module], x: ModelInput, two_pathways: bool) -> Any:
    # A fresh list: PyTorchVideo's multi-pathway blocks write into the list they get.
    x = list(x) if two_pathways else x
    for block in blocks:
        x = block(x)
    return x


class VideoNet(SlimNet):
    """An adaptive video classifier holding PyTorchVideo's ``blocks``.

    ``state_dict`` keys are those of PyTorchVideo's ``Net`` (``blocks.N...``); the
    classifier is the head's ``proj`` (``blocks.<last>.proj``).

    Args:
        blocks: PyTorchVideo's block list, already adaptive; the last is the head.
        num_frames, crop_size, alpha: the full configuration (see
            :class:`~mutualnet3d.models.base.SlimNet`).
        reference: ``(builder, kwargs)`` of the PyTorchVideo network this one adapts;
            ``builder(**kwargs)`` builds its plain twin (same keys, same outputs at the
            full configuration).
    """

    input_kind = "video"

    def __init__(
        self,
        blocks: nn.ModuleList,
        *,
        num_frames: int,
        crop_size: int,
        alpha: Optional[int] = None,
        reference: Optional[Reference] = None,
    ) -> None:
        super().__init__(crop_size=crop_size, num_frames=num_frames, alpha=alpha)
        if not isinstance(getattr(blocks[-1], "proj", None), nn.Linear):
            raise TypeError("the last block must be a head with a `proj` linear layer")
        self.reference = reference
        self.blocks = blocks
        self.head_name = f"blocks.{len(blocks) - 1}.proj"

    def forward_features(self, x: ModelInput) -> Any:
        """The last stage's feature maps (a list of two for two pathways)."""
        return _run_blocks(self.blocks[:-1], x, self.alpha is not None)

    def forward_head(self, features: Any) -> torch.Tensor:
        """PyTorchVideo's head: pool, dropout, classifier: (B, classes)."""
        return self.blocks[-1](features)

    def init_conv(self, conv: nn.Module) -> None:
        """PyTorchVideo's rule (``init_net_weights``): fvcore's ``c2_msra_fill``."""
        c2_msra_fill(conv)


class VideoDetector(SlimNet):
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
    detects = True

    def __init__(
        self,
        model: nn.Module,
        detection_head: nn.Module,
        *,
        num_frames: int,
        crop_size: int,
        alpha: Optional[int] = None,
        reference: Optional[Reference] = None,
    ) -> None:
        super().__init__(crop_size=crop_size, num_frames=num_frames, alpha=alpha)
        self.model = model
        self.detection_head = detection_head
        self.reference = reference

    def forward_features(self, x: ModelInput) -> Any:
        """The backbone's feature maps (a list of two for two pathways)."""
        return _run_blocks(self.model.blocks, x, self.alpha is not None)

    def forward_head(self, features: Any, boxes: torch.Tensor) -> torch.Tensor:
        """Scores (N, classes) for boxes (N, 5) = (batch index, x1, y1, x2, y2)."""
        out = self.detection_head(features, boxes)
        return out.view(out.shape[0], -1)

    def init_conv(self, conv: nn.Module) -> None:
        """PyTorchVideo's rule (``init_net_weights``): fvcore's ``c2_msra_fill``."""
        c2_msra_fill(conv)


def pytorchvideo_detector(
    builder: Callable[..., nn.Module], roi_aligned: bool, **kwargs: Any
) -> nn.Module:
    """PyTorchVideo's detector with RoIAlign's alignment set explicitly, its classifier
    initialised as PySlowFast's.

    PySlowFast trains AVA with detectron2's ``ROIAlign(aligned=True)``
    (DETECTION.ALIGNED); torchvision's default is ``aligned=False``, PyTorchVideo passes
    nothing, and its SlowFast detector ignores a custom head, so the layer is set here.
    PyTorchVideo initialises the backbone only (``Net``), leaving the RoI head's linear
    layer at ``nn.Linear``'s default (uniform over its fan-in); PySlowFast's
    ``init_weights`` draws every linear layer, that one included, from N(0,
    MODEL.FC_INIT_STD): it starts at N(0, 0.01) here, as PyTorchVideo's other linear
    layers, and :func:`set_initialisation` applies another std to all of them.
    """
    net = builder(**kwargs)
    roi = net.detection_head.roi_layer
    net.detection_head.roi_layer = RoIAlign(
        roi.output_size, roi.spatial_scale, roi.sampling_ratio, aligned=roi_aligned
    )
    with torch.no_grad():
        nn.init.normal_(net.detection_head.proj.weight, 0.0, _PYTORCHVIDEO_FC_INIT_STD)
        if net.detection_head.proj.bias is not None:
            nn.init.zeros_(net.detection_head.proj.bias)
    return net
