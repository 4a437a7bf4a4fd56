"""The deployable network of one configuration: a static sub-network and its input rule.

:func:`deployable` cuts the configuration out of the adaptive network
(:func:`~mutualnet3d.slim.export_subnet`, with the configuration's calibrated BN
statistics) and wraps it in :class:`DeployedNet`, whose ``forward`` takes one tensor per
pathway as named arguments (``clip``, ``slow``/``fast``, ``image``) so that every export
format sees the same signature. Two input rules (``input_size``):

* ``"full"`` (the default of ``tools/export_net.py``): the exported model takes the clip
  the data pipeline makes for the full configuration (the Slow pathway's full frames at
  the crop size) and resizes it inside, with the engine's rule
  (:func:`~mutualnet3d.utils.resample.resize_clip`: PySlowFast's linspace frames,
  bilinear resizing, MUTUALNET.RESIZE_ALIGN_CORNERS). Its outputs are the adaptive
  network's on the same decoded clip (:func:`~mutualnet3d.engine.forward.forward_at`),
  whatever the budget, and one preprocessing serves every budget.
* ``"config"``: the exported model takes the Slow pathway already at the configuration's
  size; the caller resizes as above.

The Fast pathway of SlowFast always keeps its full size (paper section 4.2).
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from pytorchvideo.layers.swish import Swish

from ..slim import SubnetConfig, export_subnet, slim_modules
from ..slim.layers import _SlimBatchNormNd
from ..utils.resample import resize_clip, temporal_indices

__all__ = [
    "INPUT_SIZES",
    "ClipResize",
    "DeployedNet",
    "NotDeployable",
    "PlainSwish",
    "deployable",
    "input_names",
    "input_shapes",
    "missing_statistics",
]

#: the exported model's input rule: the full configuration's clip, or the configuration's
INPUT_SIZES = ("full", "config")


class NotDeployable(ValueError):
    """A model or configuration that cannot be exported; the message says why."""


class PlainSwish(nn.Module):
    """``x * sigmoid(x)``: PyTorchVideo's ``Swish`` (X3D) as plain operators.

    PyTorchVideo computes it in a Python autograd function, which TorchScript's tracer
    cannot record; its forward is exactly this expression, so outputs do not change."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


class ClipResize(nn.Module):
    """:func:`~mutualnet3d.utils.resample.resize_clip` for one input shape, planned once.

    The frame indices and the output size are computed at construction from the input's
    (T, H, W) (``frames`` None for images), so ``forward`` holds no shape arithmetic and
    traces to the same graph for any batch size; it performs resize_clip's operations
    (``index_select`` of the linspace frames, then bilinear ``F.interpolate`` of the
    frames with ``align_corners``), so outputs are identical.

    Args:
        size: the input's (H, W); frames: its frame count (None: images).
        spatial, temporal: the configuration's short side and Slow frames (None: kept).
        align_corners: F.interpolate's (MUTUALNET.RESIZE_ALIGN_CORNERS).
    """

    def __init__(
        self,
        size: Sequence[int],
        frames: Optional[int],
        spatial: Optional[int],
        temporal: Optional[int],
        *,
        align_corners: bool,
    ) -> None:
        super().__init__()
        shape = (1, 3, frames, *size) if frames is not None else (1, 3, *size)
        planned = resize_clip(torch.empty(shape, device="meta"), spatial, temporal)
        self.align_corners = align_corners
        self.out_size = tuple(planned.shape[-2:])
        self.resize = self.out_size != tuple(size)
        picks = frames is not None and temporal is not None and temporal != frames
        indices = temporal_indices(frames, temporal) if picks else torch.zeros(0, dtype=torch.long)
        self.register_buffer("indices", indices, persistent=False)
        self.picks = picks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.picks:
            x = x.index_select(2, self.indices)
        if not self.resize:
            return x
        if x.dim() == 4:
            return F.interpolate(
                x, size=self.out_size, mode="bilinear", align_corners=self.align_corners
            )
        b, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * t, c, h, w)
        frames = F.interpolate(
            frames, size=self.out_size, mode="bilinear", align_corners=self.align_corners
        )
        return frames.reshape(b, t, c, *self.out_size).transpose(1, 2)


class DeployedNet(nn.Module):
    """A static network and its Slow (or single) input's resize: one forward signature.

    ``forward(clip)`` (or ``image``) for one pathway, ``forward(slow, fast)`` for two;
    returns the logits (B, classes). ``resize`` None takes inputs at the network's size.
    """

    def __init__(self, net: nn.Module, resize: Optional[ClipResize], two_pathways: bool) -> None:
        super().__init__()
        self.net = net
        self.resize = resize if resize is not None else nn.Identity()
        self.two_pathways = two_pathways

    def forward(self, x: torch.Tensor, fast: Optional[torch.Tensor] = None) -> torch.Tensor:
        x = self.resize(x)
        return self.net([x, fast] if self.two_pathways else x)


def missing_statistics(model: nn.Module, key: str) -> int:
    """How many of ``model``'s slim BN layers hold no calibrated statistics under ``key``."""
    layers = [m for m in slim_modules(model) if isinstance(m, _SlimBatchNormNd)]
    return sum(not m.has_stats(key) for m in layers)


def input_names(model: nn.Module) -> list[str]:
    """The exported model's input names: ``image``, ``clip``, or ``slow`` and ``fast``."""
    if model.input_kind == "image":
        return ["image"]
    return ["slow", "fast"] if model.num_pathways == 2 else ["clip"]


def input_shapes(
    model: nn.Module, config: SubnetConfig, input_size: str
) -> dict[str, list[object]]:
    """Each input's shape, ``"batch"`` first: at the full configuration's size
    (``input_size`` "full") or the Slow pathway at ``config``'s ("config")."""
    full = model.example_input()
    full = list(full) if isinstance(full, (list, tuple)) else [full]
    if input_size == "config":
        full[0] = resize_clip(full[0].to("meta"), config.spatial, config.temporal)
    return {name: ["batch", *x.shape[1:]] for name, x in zip(input_names(model), full)}


def _plain_activations(net: nn.Module) -> None:
    for name, child in net.named_children():
        if isinstance(child, Swish):
            setattr(net, name, PlainSwish())
        else:
            _plain_activations(child)


def deployable(
    model: nn.Module, config: SubnetConfig, *, input_size: str = "full", align_corners: bool
) -> DeployedNet:
    """``model`` at ``config`` as a static, eval-mode :class:`DeployedNet`.

    The sub-network is :func:`~mutualnet3d.slim.export_subnet`'s at ``config.width``
    with the statistics calibrated for ``config.key`` (full width: the same key);
    ``input_size`` is one of :data:`INPUT_SIZES` (module docstring).

    Raises:
        NotDeployable: a detector (its boxes are not exported), an unknown
            ``input_size``, or no calibrated BN statistics for ``config`` (naming its key).
    """
    if model.detects:
        raise NotDeployable("detectors are not exported: their RoI head takes boxes")
    if input_size not in INPUT_SIZES:
        raise NotDeployable(f"input_size must be one of {INPUT_SIZES}, got {input_size!r}")
    missing = missing_statistics(model, config.key)
    if missing:
        raise NotDeployable(
            f"no calibrated BN statistics for {config.key} in {missing} BN layers: "
            "calibrate this configuration first (MUTUALNET.CALIBRATE with it in the grid)"
        )
    net = export_subnet(model, config.width, config.key).eval()
    _plain_activations(net)
    resize = None
    if input_size == "full":
        full = model.example_input()
        slow = full[0] if isinstance(full, (list, tuple)) else full
        frames = slow.shape[2] if slow.dim() == 5 else None
        resize = ClipResize(
            slow.shape[-2:], frames, config.spatial, config.temporal, align_corners=align_corners
        )
    # On the model's device: the resize's frame indices are a buffer (a CUDA model's
    # export takes CUDA clips).
    device = next(model.parameters()).device
    return DeployedNet(net, resize, model.num_pathways == 2).to(device).eval()
