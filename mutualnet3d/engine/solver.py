"""Optimizer, learning-rate schedule and losses, with PySlowFast's semantics."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["LRSchedule", "OptimizerSpec", "build_criterion", "build_optimizer", "set_lr"]

Criterion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class OptimizerSpec:
    """SOLVER's optimizer keys (PySlowFast's names in the comments)."""

    method: str = "sgd"  # OPTIMIZING_METHOD: sgd, adam, adamw
    base_lr: float = 0.1  # BASE_LR
    momentum: float = 0.9  # MOMENTUM (SGD)
    dampening: float = 0.0  # DAMPENING (SGD)
    nesterov: bool = True  # NESTEROV (SGD)
    weight_decay: float = 1e-4  # WEIGHT_DECAY
    bn_weight_decay: float = 0.0  # BN.WEIGHT_DECAY
    zero_wd_1d_param: bool = False  # ZERO_WD_1D_PARAM


def build_optimizer(model: nn.Module, spec: OptimizerSpec) -> torch.optim.Optimizer:
    """SGD (or Adam/AdamW) with PySlowFast's weight-decay groups.

    Batch-norm parameters decay by ``bn_weight_decay``; other 1-D parameters (biases) by
    0 when ``zero_wd_1d_param``; everything else, conv weights of any rank included (a
    filter on 4-D weights would silently skip Conv3d), by ``weight_decay``.
    """
    bn, no_decay, decay = [], [], []
    for module in model.modules():
        is_bn = isinstance(module, nn.modules.batchnorm._NormBase)
        for param in module.parameters(recurse=False):
            if not param.requires_grad:
                continue
            if is_bn:
                bn.append(param)
            elif param.ndim <= 1 and spec.zero_wd_1d_param:
                no_decay.append(param)
            else:
                decay.append(param)
    groups = [
        {"params": decay, "weight_decay": spec.weight_decay},
        {"params": bn, "weight_decay": spec.bn_weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    if spec.method == "sgd":
        return torch.optim.SGD(
            groups,
            lr=spec.base_lr,
            momentum=spec.momentum,
            dampening=spec.dampening,
            nesterov=spec.nesterov,
        )
    if spec.method in ("adam", "adamw"):
        cls = torch.optim.Adam if spec.method == "adam" else torch.optim.AdamW
        return cls(groups, lr=spec.base_lr)
    raise ValueError(f"optimizer {spec.method!r} is not one of sgd, adam, adamw")


@dataclass(frozen=True)
class LRSchedule:
    """The learning rate at a fractional epoch: the policy, after a linear warm-up.

    SOLVER's keys: ``policy`` (LR_POLICY: cosine, steps_with_relative_lrs, constant),
    BASE_LR, MAX_EPOCH, COSINE_END_LR, COSINE_AFTER_WARMUP, STEPS and LRS (LRS[i] holds
    from epoch STEPS[i] on, STEPS starting at 0), WARMUP_EPOCHS, WARMUP_START_LR.
    """

    base_lr: float
    max_epoch: int
    policy: str = "cosine"
    cosine_end_lr: float = 0.0
    cosine_after_warmup: bool = False
    steps: tuple[float, ...] = ()
    lrs: tuple[float, ...] = ()
    warmup_epochs: float = 0.0
    warmup_start_lr: float = 0.01

    def __post_init__(self) -> None:
        if self.policy not in ("cosine", "steps_with_relative_lrs", "constant"):
            raise ValueError(
                f"LR policy {self.policy!r} is not cosine, steps_with_relative_lrs or constant"
            )

    def __call__(self, epoch: float) -> float:
        lr = self._policy(epoch)
        if epoch < self.warmup_epochs:
            end = self._policy(self.warmup_epochs)
            lr = self.warmup_start_lr + (end - self.warmup_start_lr) * epoch / self.warmup_epochs
        return lr

    def _policy(self, epoch: float) -> float:
        if self.policy == "cosine":
            offset = self.warmup_epochs if self.cosine_after_warmup else 0.0
            progress = (epoch - offset) / (self.max_epoch - offset)
            return (
                self.cosine_end_lr
                + (self.base_lr - self.cosine_end_lr) * (math.cos(math.pi * progress) + 1.0) * 0.5
            )
        if self.policy == "steps_with_relative_lrs":
            steps = list(self.steps) + [self.max_epoch]
            index = next((i for i, step in enumerate(steps) if epoch < step), len(steps)) - 1
            return self.lrs[index] * self.base_lr
        return self.base_lr


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def build_criterion(name: str, label_smoothing: float = 0.0) -> Criterion:
    """The label loss named by MODEL.LOSS_FUNC (cross_entropy, bce, bce_logit)."""
    if name == "cross_entropy":
        return nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    if name == "bce_logit":
        return nn.BCEWithLogitsLoss()
    if name == "bce":  # PySlowFast's bce takes probabilities; logits are more stable
        return lambda logits, target: F.binary_cross_entropy(torch.sigmoid(logits), target)
    raise ValueError(f"loss {name!r} is not cross_entropy, bce or bce_logit")
