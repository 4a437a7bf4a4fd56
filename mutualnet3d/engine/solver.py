"""Optimizer, learning-rate schedule and losses, with PySlowFast's semantics."""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from fvcore.common.config import CfgNode

__all__ = ["build_optimizer", "lr_at_epoch", "set_lr", "build_criterion"]


def build_optimizer(model: nn.Module, cfg: CfgNode) -> torch.optim.Optimizer:
    """SGD (or Adam/AdamW) with PySlowFast's weight-decay groups.

    Batch-norm parameters decay by ``BN.WEIGHT_DECAY``; other 1-D parameters (biases) by
    0 when ``SOLVER.ZERO_WD_1D_PARAM``; everything else, conv weights of any rank
    included (a filter on 4-D weights would silently skip Conv3d), by
    ``SOLVER.WEIGHT_DECAY``.
    """
    bn, no_decay, decay = [], [], []
    for module in model.modules():
        is_bn = isinstance(module, nn.modules.batchnorm._NormBase)
        for param in module.parameters(recurse=False):
            if not param.requires_grad:
                continue
            if is_bn:
                bn.append(param)
            elif param.ndim <= 1 and cfg.SOLVER.ZERO_WD_1D_PARAM:
                no_decay.append(param)
            else:
                decay.append(param)
    groups = [
        {"params": decay, "weight_decay": cfg.SOLVER.WEIGHT_DECAY},
        {"params": bn, "weight_decay": cfg.BN.WEIGHT_DECAY},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    method = cfg.SOLVER.OPTIMIZING_METHOD
    if method == "sgd":
        return torch.optim.SGD(
            groups, lr=cfg.SOLVER.BASE_LR, momentum=cfg.SOLVER.MOMENTUM,
            dampening=cfg.SOLVER.DAMPENING, nesterov=cfg.SOLVER.NESTEROV,
        )
    if method in ("adam", "adamw"):
        cls = torch.optim.Adam if method == "adam" else torch.optim.AdamW
        return cls(groups, lr=cfg.SOLVER.BASE_LR)
    raise ValueError(f"SOLVER.OPTIMIZING_METHOD {method!r} is not one of sgd, adam, adamw")


def lr_at_epoch(cfg: CfgNode, epoch: float) -> float:
    """Learning rate at a fractional epoch: the policy, with linear warm-up first."""
    solver = cfg.SOLVER
    lr = _policy_lr(cfg, epoch)
    if epoch < solver.WARMUP_EPOCHS:
        end = _policy_lr(cfg, solver.WARMUP_EPOCHS)
        lr = solver.WARMUP_START_LR + (end - solver.WARMUP_START_LR) * epoch / solver.WARMUP_EPOCHS
    return lr


def _policy_lr(cfg: CfgNode, epoch: float) -> float:
    solver = cfg.SOLVER
    if solver.LR_POLICY == "cosine":
        offset = solver.WARMUP_EPOCHS if solver.COSINE_AFTER_WARMUP else 0.0
        progress = (epoch - offset) / (solver.MAX_EPOCH - offset)
        return solver.COSINE_END_LR + (solver.BASE_LR - solver.COSINE_END_LR) * (
            math.cos(math.pi * progress) + 1.0
        ) * 0.5
    if solver.LR_POLICY == "steps_with_relative_lrs":
        # PySlowFast: STEPS start at 0 ([0, 41, 49]); LRS[i] holds from STEPS[i] on.
        steps = list(solver.STEPS) + [solver.MAX_EPOCH]
        index = next((i for i, step in enumerate(steps) if epoch < step), len(steps)) - 1
        return solver.LRS[index] * solver.BASE_LR
    if solver.LR_POLICY == "constant":
        return solver.BASE_LR
    raise ValueError(f"SOLVER.LR_POLICY {solver.LR_POLICY!r} is not cosine, steps_with_relative_lrs or constant")


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def build_criterion(cfg: CfgNode) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The label loss named by ``MODEL.LOSS_FUNC``."""
    name = cfg.MODEL.LOSS_FUNC
    if name == "cross_entropy":
        return nn.CrossEntropyLoss(label_smoothing=cfg.MODEL.LABEL_SMOOTHING)
    if name == "bce_logit":
        return nn.BCEWithLogitsLoss()
    if name == "bce":  # PySlowFast's bce takes probabilities; logits are more stable
        return lambda logits, target: F.binary_cross_entropy(torch.sigmoid(logits), target)
    raise ValueError(f"MODEL.LOSS_FUNC {name!r} is not cross_entropy, bce or bce_logit")
