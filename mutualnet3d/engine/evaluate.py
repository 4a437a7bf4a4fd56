"""Metrics of one batch, at one or many configurations."""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn as nn

from ..slim import set_width
from .mutual import resize_input
from .sampling import SubnetConfig

__all__ = ["top_k_correct", "evaluate_configs"]


def top_k_correct(logits: torch.Tensor, labels: torch.Tensor, ks: Sequence[int] = (1, 5)) -> list[int]:
    """How many rows have their label among the top-k scores, for each k."""
    k = min(max(ks), logits.shape[1])
    hits = logits.topk(k, dim=1).indices.eq(labels.view(-1, 1))
    return [int(hits[:, : min(kk, k)].any(dim=1).sum()) for kk in ks]


@torch.no_grad()
def evaluate_configs(
    model: nn.Module,
    inputs: Any,
    labels: torch.Tensor,
    grid: Sequence[SubnetConfig],
    keys: Sequence[str],
) -> torch.Tensor:
    """Top-1 hits, top-5 hits and count of one decoded batch at every configuration.

    The batch is decoded once; each configuration only resizes it on the device and
    switches the model to its width and BN statistics ``keys[i]``. Returns a
    (len(grid), 3) float64 tensor.
    """
    counts = torch.zeros(len(grid), 3, dtype=torch.float64)
    for index, (config, key) in enumerate(zip(grid, keys)):
        with set_width(model, config.width, key, warn_uncalibrated=False):
            logits = model(resize_input(inputs, config))
        top1, top5 = top_k_correct(logits, labels)
        counts[index] = torch.tensor([top1, top5, len(labels)], dtype=torch.float64)
    return counts
