"""One MutualNet training iteration (paper sections 3.2, 4.2.1 and 4.2.2).

The full network (largest width, full spatial and temporal size) learns the labels; each
other sub-network, fed the same decoded clip down-sampled on the device, learns the full
network's detached predictions (KL divergence), or the labels when distillation is off.
Each loss is back-propagated as soon as it is computed, so the graphs of two sub-networks
never coexist: peak memory is the largest sub-network's, and the accumulated gradients
equal those of the summed loss. The caller then takes one optimizer step.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..slim import set_width
from ..utils.resample import resize_clip
from .sampling import SubnetConfig

__all__ = [
    "StepResult",
    "distillation_loss",
    "model_forward",
    "mutual_step",
    "resize_input",
    "scale_boxes",
]

Inputs = Any  # a tensor, or [slow, fast] for SlowFast


def resize_input(inputs: Inputs, config: SubnetConfig) -> Inputs:
    """The input of ``config`` made from the full-size one: only the Slow pathway shrinks."""
    if isinstance(inputs, (list, tuple)):
        return [resize_clip(inputs[0], config.spatial, config.temporal), *inputs[1:]]
    return resize_clip(inputs, config.spatial, config.temporal)


def scale_boxes(
    boxes: torch.Tensor, before: Sequence[int], after: Sequence[int]
) -> torch.Tensor:
    """Boxes (N, 5) ``[batch index, x1, y1, x2, y2]`` in pixels of frames of size
    ``before`` (H, W), moved to frames resized to ``after``: each axis by its own ratio,
    which is what the interpolation did (short sides are rounded)."""
    sy, sx = after[0] / before[0], after[1] / before[1]
    return boxes * boxes.new_tensor([1.0, sx, sy, sx, sy])


def model_forward(
    boxes: Optional[torch.Tensor] = None,
) -> Callable[[nn.Module, Inputs, SubnetConfig], torch.Tensor]:
    """``forward(model, inputs, config)``: how a model runs at a configuration.

    A classifier takes the resized input (:func:`resize_input`). A detector
    (``boxes`` given, (N, 5) in pixels of the full-size input) also takes the boxes,
    scaled with the Slow pathway's frames: its RoI features come from that pathway's
    feature map, so the boxes must shrink with it.
    """

    def forward(model: nn.Module, inputs: Inputs, config: SubnetConfig) -> torch.Tensor:
        resized = resize_input(inputs, config)
        if boxes is None:
            return model(resized)
        slow = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        slow_resized = resized[0] if isinstance(resized, (list, tuple)) else resized
        return model(resized, scale_boxes(boxes, slow.shape[-2:], slow_resized.shape[-2:]))

    return forward


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, multi_label: bool) -> torch.Tensor:
    """Loss of a sub-network learning the full network's (detached) logits.

    Single-label: KL(teacher softmax || student softmax), batch mean, as the official
    MutualNet code. Multi-label (Charades): binary cross entropy to the teacher's
    sigmoid probabilities, the per-class analogue.
    """
    if multi_label:
        return F.binary_cross_entropy_with_logits(student, torch.sigmoid(teacher))
    return F.kl_div(F.log_softmax(student, dim=1), F.softmax(teacher, dim=1), reduction="batchmean")


@dataclass
class StepResult:
    """Losses of one iteration (floats) and the full network's logits (detached)."""

    loss: float
    full_loss: float
    sub_losses: list[float]
    logits: torch.Tensor
    configs: list[SubnetConfig]


def mutual_step(
    model: nn.Module,
    inputs: Inputs,
    labels: torch.Tensor,
    configs: Sequence[SubnetConfig],
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    distill: bool = True,
    multi_label: bool = False,
    forward: Optional[Callable[[nn.Module, Inputs, SubnetConfig], torch.Tensor]] = None,
    autocast: Optional[Callable[[], ContextManager]] = None,
    backward: Optional[Callable[[torch.Tensor], None]] = None,
    no_sync: Optional[Callable[[], ContextManager]] = None,
) -> StepResult:
    """Forward and backward the cohort ``configs`` (the first is the full network).

    Gradients accumulate into ``.grad``; zeroing them and stepping the optimizer are the
    caller's.

    Args:
        model: the adaptive model (or its DistributedDataParallel wrapper).
        inputs: the full-size batch, already on the device.
        labels: targets for ``criterion``.
        configs: full network first, then the students (from ``ConfigSampler.sample``).
        criterion: the label loss.
        distill: students learn the full network's predictions (else the labels).
        multi_label: sigmoid outputs (Charades), for the distillation loss.
        forward: ``forward(model, inputs, config)`` -> logits; defaults to
            :func:`model_forward` (resize the inputs, call the model); detectors pass
            ``model_forward(boxes)``.
        autocast: context for the forward passes (mixed precision).
        backward: ``backward(loss)``; defaults to ``loss.backward()`` (pass a
            GradScaler's ``lambda l: scaler.scale(l).backward()``).
        no_sync: DDP's ``model.no_sync``: all backward passes but the last skip the
            gradient all-reduce, so one all-reduce happens per iteration.

    Raises:
        FloatingPointError: a loss is NaN or infinite (nothing is back-propagated from it).
    """
    forward = forward or model_forward()
    autocast = autocast or contextlib.nullcontext
    backward = backward or (lambda loss: loss.backward())
    no_sync = no_sync or contextlib.nullcontext
    losses: list[float] = []
    teacher: Optional[torch.Tensor] = None
    full_logits: Optional[torch.Tensor] = None
    for index, config in enumerate(configs):
        last = index == len(configs) - 1
        with set_width(model, config.width, warn_uncalibrated=False), autocast():
            logits = forward(model, inputs, config)
            if teacher is None:
                loss = criterion(logits, labels)
            elif distill:
                loss = distillation_loss(logits.float(), teacher, multi_label)
            else:
                loss = criterion(logits, labels)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"loss is {loss.item()} for sub-network {index} (width {config.width:.3f}, "
                f"{config.spatial} px, {config.temporal} frames)"
            )
        with contextlib.nullcontext() if last else no_sync():
            backward(loss)
        if teacher is None:
            teacher = logits.detach().float()
            full_logits = teacher
        losses.append(loss.item())
    return StepResult(sum(losses), losses[0], losses[1:], full_logits, list(configs))
