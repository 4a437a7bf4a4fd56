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
from typing import Callable, ContextManager, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..slim import SubnetConfig, set_width
from .forward import Inputs, forward_at

__all__ = ["StepResult", "distillation_loss", "mutual_step"]


def distillation_loss(
    student: torch.Tensor, teacher: torch.Tensor, multi_label: bool
) -> torch.Tensor:
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
    boxes: Optional[torch.Tensor] = None,
    distill: bool = True,
    multi_label: bool = False,
    autocast: Optional[Callable[[], ContextManager]] = None,
    backward: Optional[Callable[[torch.Tensor], None]] = None,
    no_sync: Optional[Callable[[], ContextManager]] = None,
    align_corners: bool = False,
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
        boxes: a detector's (N, 5) boxes in pixels of the full-size input (AVA); they
            are scaled with each sub-network's Slow pathway (:func:`.forward.forward_at`).
        multi_label: sigmoid outputs (Charades, AVA), for the distillation loss.
        autocast: context for the forward passes (mixed precision).
        backward: ``backward(loss)``; defaults to ``loss.backward()`` (pass a
            GradScaler's ``lambda l: scaler.scale(l).backward()``).
        no_sync: DDP's ``model.no_sync``: all backward passes but the last skip the
            gradient all-reduce, so one all-reduce happens per iteration.
        align_corners: of the bilinear resize of each sub-network's input
            (MUTUALNET.RESIZE_ALIGN_CORNERS; :func:`.forward.resize_input`).

    Raises:
        FloatingPointError: a loss is NaN or infinite (nothing is back-propagated from it).
    """
    autocast = autocast or contextlib.nullcontext
    backward = backward or (lambda loss: loss.backward())
    no_sync = no_sync or contextlib.nullcontext
    losses: list[float] = []
    teacher: Optional[torch.Tensor] = None
    full_logits: Optional[torch.Tensor] = None
    for index, config in enumerate(configs):
        last = index == len(configs) - 1
        with set_width(model, config.width, warn_uncalibrated=False), autocast():
            logits = forward_at(model, inputs, config, boxes, align_corners=align_corners)
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
