"""Optimizer, learning-rate schedule and losses, with PySlowFast's semantics."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "WEIGHT_DECAY_RULES",
    "LRSchedule",
    "OptimizerSpec",
    "build_criterion",
    "build_optimizer",
    "decayed_parameters",
    "set_lr",
]

Criterion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: SOLVER.WEIGHT_DECAY_RULE values: which parameters SOLVER.WEIGHT_DECAY applies to
WEIGHT_DECAY_RULES = ("pyslowfast", "mutualnet")

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


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
    weight_decay_rule: str = "pyslowfast"  # WEIGHT_DECAY_RULE (ours): pyslowfast, mutualnet

    def __post_init__(self) -> None:
        if self.weight_decay_rule not in WEIGHT_DECAY_RULES:
            raise ValueError(
                f"weight-decay rule {self.weight_decay_rule!r} is not one of "
                f"{', '.join(WEIGHT_DECAY_RULES)}"
            )


def build_optimizer(model: nn.Module, spec: OptimizerSpec) -> torch.optim.Optimizer:
    """SGD (or Adam/AdamW) with the weight-decay groups of ``spec.weight_decay_rule``.

    ``pyslowfast``: batch-norm parameters decay by ``bn_weight_decay``; other 1-D
    parameters (biases) by 0 when ``zero_wd_1d_param``; everything else, conv weights of
    any rank included (a filter on 4-D weights would silently skip Conv3d), by
    ``weight_decay``. ``mutualnet`` (the official MutualNet code): only the weights
    :func:`decayed_parameters` names decay, by ``weight_decay``; all else by 0.
    """
    if spec.weight_decay_rule == "mutualnet":
        groups = _mutualnet_groups(model, spec.weight_decay)
    else:
        groups = _pyslowfast_groups(model, spec)
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


def decayed_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The weights the official MutualNet code decays: those of each conv (1D, 2D or 3D,
    slimmable ones included) and linear layer, except depthwise convs.

    Decided per module, not by tensor rank: the official ``get_optimizer`` (train.py)
    picks 4-D tensors whose second dimension is not 1 and 2-D tensors, which would miss
    every 5-D Conv3d weight. A conv is depthwise when ``groups == in_channels > 1`` (one
    input channel per group, the official ``size(1) == 1``). Biases, normalisation
    layers and any other parameter never decay. Each parameter once (shared ones too),
    in ``named_modules`` order; frozen ones (``requires_grad`` False) left out.
    """
    params, seen = [], set()
    for _, module in model.named_modules():
        if isinstance(module, _CONVS):
            if module.groups > 1 and module.groups == module.in_channels:
                continue
        elif not isinstance(module, nn.Linear):
            continue
        weight = module.weight
        if weight is not None and weight.requires_grad and id(weight) not in seen:
            seen.add(id(weight))
            params.append(weight)
    return params


def _mutualnet_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay = decayed_parameters(model)
    chosen = {id(p) for p in decay}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in chosen]
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": rest, "weight_decay": 0.0},
    ]


def _pyslowfast_groups(model: nn.Module, spec: OptimizerSpec) -> list[dict]:
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
    return [
        {"params": decay, "weight_decay": spec.weight_decay},
        {"params": bn, "weight_decay": spec.bn_weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


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
