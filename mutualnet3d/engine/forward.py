"""Running a model on a decoded batch at one configuration (paper sections 3.2 and 4.2).

A batch is decoded once, at the full size; each configuration only resizes it on the
device. Only the Slow (or single) pathway shrinks: the Fast pathway always runs at full
size and reaches the Slow one through the Adaptive Fusion. A detector's boxes follow the
Slow pathway's frames, whose feature map its RoI head pools.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

import torch
import torch.nn as nn

from ..slim import SubnetConfig
from ..utils.resample import resize_clip

__all__ = [
    "Inputs",
    "batch_boxes",
    "batch_inputs",
    "batch_targets",
    "forward_at",
    "resize_input",
    "scale_boxes",
]

Inputs = Union[torch.Tensor, list[torch.Tensor]]  # a clip or image batch, or [slow, fast]


def batch_inputs(batch: Mapping[str, Any], device: torch.device, num_pathways: int) -> Inputs:
    """The model input of a collated batch on ``device``: a tensor, or a list per pathway."""
    inputs = [x.to(device, non_blocking=True) for x in batch["inputs"]]
    return inputs if num_pathways > 1 else inputs[0]


def batch_boxes(batch: Mapping[str, Any], device: torch.device) -> Optional[torch.Tensor]:
    """A detection batch's (N, 5) boxes on ``device``; None for classification batches."""
    boxes = batch.get("boxes")
    return None if boxes is None else boxes.to(device, non_blocking=True)


def batch_targets(batch: Mapping[str, Any], device: torch.device) -> torch.Tensor:
    """Per-clip labels, or a detection batch's per-box multi-hot ``labels``."""
    return (batch["labels"] if "boxes" in batch else batch["label"]).to(device)


def resize_input(inputs: Inputs, config: SubnetConfig, *, align_corners: bool = False) -> Inputs:
    """The input of ``config`` made from the full-size one: only the Slow pathway shrinks,
    bilinearly with ``align_corners`` (:func:`~mutualnet3d.utils.resample.resize_clip`;
    MUTUALNET.RESIZE_ALIGN_CORNERS)."""
    slow = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
    resized = resize_clip(slow, config.spatial, config.temporal, align_corners=align_corners)
    return [resized, *inputs[1:]] if isinstance(inputs, (list, tuple)) else resized


def scale_boxes(boxes: torch.Tensor, before: Sequence[int], after: Sequence[int]) -> torch.Tensor:
    """Boxes (N, 5) ``[batch index, x1, y1, x2, y2]`` in pixels of frames of size
    ``before`` (H, W), moved to frames resized to ``after``: each axis by its own ratio,
    which is what the interpolation did (short sides are rounded)."""
    sy, sx = after[0] / before[0], after[1] / before[1]
    return boxes * boxes.new_tensor([1.0, sx, sy, sx, sy])


def forward_at(
    model: nn.Module,
    inputs: Inputs,
    config: SubnetConfig,
    boxes: Optional[torch.Tensor] = None,
    *,
    align_corners: bool = False,
) -> torch.Tensor:
    """The model's output for full-size ``inputs`` resized to ``config``.

    The caller sets the width (:func:`~mutualnet3d.slim.set_width`); this resizes the
    input (:func:`resize_input`, with ``align_corners``) and, for a detector (``boxes``
    (N, 5) in pixels of the full-size input), scales the boxes with the Slow pathway.
    """
    resized = resize_input(inputs, config, align_corners=align_corners)
    if boxes is None:
        return model(resized)
    slow = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
    slow_resized = resized[0] if isinstance(resized, (list, tuple)) else resized
    return model(resized, scale_boxes(boxes, slow.shape[-2:], slow_resized.shape[-2:]))
