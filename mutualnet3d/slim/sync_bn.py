"""Synchronised batch statistics for the slim BN layers (PySlowFast's BN.NORM_TYPE
``sync_batchnorm``).

In training, a slim BN layer with a sync group normalises with the mean and variance of
its active channels over the batches of every process of the group, as one BN over the
concatenated batch would; gradients flow back through the reduction to every process
(``torch.distributed.nn.functional.all_reduce``). Running statistics follow our BN: they
are kept at full width only, from the group's statistics. Evaluation and BN calibration
are unchanged (the engine averages calibrated statistics over processes itself).

``torch.nn.SyncBatchNorm.convert_sync_batchnorm`` would replace the slim layers by plain
full-width ones, silently breaking every sub-network; :func:`enable_sync_bn` keeps them.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.distributed.nn.functional import all_reduce

__all__ = ["SyncGroup", "enable_sync_bn", "sync_batch_norm", "sync_groups"]


class SyncGroup:
    """A process group handle held by BN layers; copies of a model share it (a group is a
    handle on the processes, not state to duplicate)."""

    def __init__(self, group: Any) -> None:
        self.group = group

    def __deepcopy__(self, memo: dict) -> "SyncGroup":
        return self


def sync_groups(world_size: int, group_size: int) -> list[list[int]]:
    """Ranks of each sync group: consecutive ranks, ``group_size`` each (PySlowFast's
    BN.NUM_SYNC_DEVICES), which must divide ``world_size``."""
    if group_size < 1 or world_size % group_size:
        raise ValueError(f"sync group size {group_size} must divide the {world_size} processes")
    return [list(range(start, start + group_size)) for start in range(0, world_size, group_size)]


def enable_sync_bn(model: nn.Module, group_size: int) -> int:
    """Give every slim BN layer of ``model`` this process's sync group; returns the number
    of layers. Every process must call it (creating a group is collective); a group of
    one process changes nothing."""
    from .layers import _SlimBatchNormNd  # layers imports this module

    groups = sync_groups(dist.get_world_size(), group_size)
    mine = None
    for ranks in groups:
        group = dist.new_group(ranks)
        if dist.get_rank() in ranks:
            mine = group
    layers = [m for m in model.modules() if isinstance(m, _SlimBatchNormNd)]
    for layer in layers:
        layer.sync_group = SyncGroup(mine) if group_size > 1 else None
    return len(layers)


def sync_batch_norm(
    x: torch.Tensor,
    weight: Optional[torch.Tensor],
    bias: Optional[torch.Tensor],
    group: Any,
    eps: float,
    running: Optional[tuple[torch.Tensor, torch.Tensor, float]] = None,
) -> torch.Tensor:
    """Batch norm of ``x`` (N, C, ...) with the statistics of every process of ``group``.

    The per-channel sums of ``x`` and ``x**2`` and the counts are summed over the group
    (differentiably); the variance is ``E[x^2] - E[x]^2`` in float32 (BN inputs are
    O(1)). ``running``: ``(running_mean, running_var, momentum)`` to update in place
    with the group's mean and unbiased variance.
    """
    dims = [0, *range(2, x.dim())]
    channels = x.shape[1]
    x32 = x.float()
    count = x32.new_full((1,), x.numel() // channels)
    totals = all_reduce(torch.cat([x32.sum(dims), x32.square().sum(dims), count]), group=group)
    n = totals[-1]
    mean = totals[:channels] / n
    var = (totals[channels : 2 * channels] / n - mean.square()).clamp_min(0.0)
    if running is not None:
        running_mean, running_var, momentum = running
        with torch.no_grad():
            running_mean.lerp_(mean.detach().to(running_mean.dtype), momentum)
            unbiased = var.detach() * n / (n - 1).clamp_min(1.0)
            running_var.lerp_(unbiased.to(running_var.dtype), momentum)
    shape = (1, channels) + (1,) * (x.dim() - 2)
    y = (x32 - mean.view(shape)) * torch.rsqrt(var.view(shape) + eps)
    if weight is not None:
        y = y * weight.view(shape) + bias.view(shape)
    return y.to(x.dtype)
