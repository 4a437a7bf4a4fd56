"""Metrics of one batch, at one or many configurations."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
import torch.nn as nn

from ..slim import set_width
from .distributed import all_gather_cpu, all_reduce_sum
from .mutual import resize_input
from .sampling import SubnetConfig

__all__ = ["top_k_correct", "forward_configs", "evaluate_configs", "Accumulator"]


def top_k_correct(logits: torch.Tensor, labels: torch.Tensor, ks: Sequence[int] = (1, 5)) -> list[int]:
    """How many rows have their label among the top-k scores, for each k."""
    k = min(max(ks), logits.shape[1])
    hits = logits.topk(k, dim=1).indices.eq(labels.view(-1, 1))
    return [int(hits[:, : min(kk, k)].any(dim=1).sum()) for kk in ks]


@torch.no_grad()
def forward_configs(
    model: nn.Module, inputs: Any, grid: Sequence[SubnetConfig], keys: Sequence[str]
) -> list[torch.Tensor]:
    """Logits of one decoded batch at every configuration (resized on the device)."""
    outputs = []
    for config, key in zip(grid, keys):
        with set_width(model, config.width, key, warn_uncalibrated=False):
            outputs.append(model(resize_input(inputs, config)).float())
    return outputs


class Accumulator:
    """One configuration's predictions over a data set, reduced over processes.

    Single-label: top-1 and top-5 hits (summed). Multi-label: sigmoid scores and labels,
    gathered for the mean average precision over classes with positives (PySlowFast's
    Charades metric). :meth:`result` returns (top-1 or mAP, top-5 or None) in percent.
    """

    def __init__(self, multi_label: bool) -> None:
        self.multi_label = multi_label
        self.counts = torch.zeros(3, dtype=torch.float64)
        self.scores: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []

    def add(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        if self.multi_label:
            self.scores.append(torch.sigmoid(logits.float()).cpu())
            self.labels.append(labels.float().cpu())
        else:
            top1, top5 = top_k_correct(logits, labels)
            self.counts += torch.tensor([top1, top5, len(labels)], dtype=torch.float64)

    def result(self) -> tuple[float, Optional[float]]:
        if self.multi_label:
            from .metrics import mean_average_precision

            scores = torch.cat(all_gather_cpu(torch.cat(self.scores)))
            labels = torch.cat(all_gather_cpu(torch.cat(self.labels)))
            return round(100 * mean_average_precision(scores.numpy(), labels.numpy()), 3), None
        counts = all_reduce_sum(self.counts.clone())
        total = max(counts[2].item(), 1.0)
        return round(100 * counts[0].item() / total, 3), round(100 * counts[1].item() / total, 3)


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
    for index, logits in enumerate(forward_configs(model, inputs, grid, keys)):
        top1, top5 = top_k_correct(logits, labels)
        counts[index] = torch.tensor([top1, top5, len(labels)], dtype=torch.float64)
    return counts
