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


def resize_input(inputs: Inputs, config: SubnetConfig) -> Inputs:
    """The input of ``config`` made from the full-size one: only the Slow pathway shrinks."""
    if isinstance(inputs, (list, tuple)):
        return [resize_clip(inputs[0], config.spatial, config.temporal), *inputs[1:]]
    return resize_clip(inputs, config.spatial, config.temporal)


def scale_boxes(boxes: torch.Tensor, before: Sequence[int], after: Sequence[int]) -> torch.Tensor:
    """Boxes (N, 5) ``[batch index, x1, y1, x2, y2]`` in pixels of frames of size
    ``before`` (H, W), moved to frames resized to ``after``: each axis by its own ratio,
    which is what the interpolation did (short sides are rounded)."""
    sy, sx = after[0] / before[0], after[1] / before[1]
    return boxes * boxes.new_tensor([1.0, sx, sy, sx, sy])


def forward_at(
    model: nn.Module, inputs: Inputs, config: SubnetConfig, boxes: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """The model's output for full-size ``inputs`` resized to ``config``.

    The caller sets the width (:func:`~mutualnet3d.slim.set_width`); this resizes the
    input and, for a detector (``boxes`` (N, 5) in pixels of the full-size input), scales
    the boxes with the Slow pathway.
    """
    resized = resize_input(inputs, config)
    if boxes is None:
        return model(resized)
    slow = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
    slow_resized = resized[0] if isinstance(resized, (list, tuple)) else resized
    return model(resized, scale_boxes(boxes, slow.shape[-2:], slow_resized.shape[-2:]))
