"""Metrics of one batch, at one or many configurations."""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import torch
import torch.nn as nn

from ..slim import set_width
from .distributed import all_gather_cpu, all_reduce_sum
from .ava_eval import AvaEvaluator
from .mutual import model_forward
from .sampling import SubnetConfig

__all__ = [
    "Accumulator",
    "DetectionAccumulator",
    "evaluate_configs",
    "forward_configs",
    "top_k_correct",
]


def top_k_correct(logits: torch.Tensor, labels: torch.Tensor, ks: Sequence[int] = (1, 5)) -> list[int]:
    """How many rows have their label among the top-k scores, for each k."""
    k = min(max(ks), logits.shape[1])
    hits = logits.topk(k, dim=1).indices.eq(labels.view(-1, 1))
    return [int(hits[:, : min(kk, k)].any(dim=1).sum()) for kk in ks]


@torch.no_grad()
def forward_configs(
    model: nn.Module,
    inputs: Any,
    grid: Sequence[SubnetConfig],
    keys: Sequence[str],
    forward: Optional[Callable[[nn.Module, Any, SubnetConfig], torch.Tensor]] = None,
) -> list[torch.Tensor]:
    """Logits of one decoded batch at every configuration (resized on the device).

    ``forward`` as in :func:`~mutualnet3d.engine.mutual.mutual_step` (detectors:
    ``model_forward(boxes)``).
    """
    forward = forward or model_forward()
    outputs = []
    for config, key in zip(grid, keys):
        with set_width(model, config.width, key, warn_uncalibrated=False):
            outputs.append(forward(model, inputs, config).float())
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

    def add(self, logits: torch.Tensor, batch: dict[str, Any]) -> None:
        """Add a batch's logits; its targets are ``batch["label"]``."""
        labels = batch["label"]
        if self.multi_label:
            self.scores.append(torch.sigmoid(logits.float()).cpu())
            self.labels.append(labels.float().cpu())
        else:
            top1, top5 = top_k_correct(logits, labels.to(logits.device))
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


class DetectionAccumulator:
    """One configuration's box scores over an AVA split: frame-level mAP (%).

    Keeps each box's sigmoid scores with its normalised box and ``[video, second]``
    (``batch["ori_boxes"]``, ``batch["metadata"]`` from
    :func:`~mutualnet3d.data.ava.ava_collate`), gathers them from every process and
    scores them with ``evaluator``. :meth:`result` returns (mAP, None), as
    :class:`Accumulator`; :attr:`details` then holds the per-class APs.
    """

    def __init__(self, evaluator: AvaEvaluator) -> None:
        self.evaluator = evaluator
        self.parts: list[torch.Tensor] = []
        self.details: dict[str, object] = {}

    def add(self, logits: torch.Tensor, batch: dict[str, Any]) -> None:
        """Add the scores of a batch's boxes (one row of ``logits`` per box)."""
        scores = torch.sigmoid(logits.float()).double().cpu()
        self.parts.append(torch.cat(
            [scores, batch["ori_boxes"].double(), batch["metadata"].double()], dim=1
        ))

    def result(self) -> tuple[float, Optional[float]]:
        # One tensor per process: scores, boxes and metadata stay row-aligned. A process
        # without samples sends an empty one.
        local = torch.cat(self.parts) if self.parts else torch.zeros(0, 0, dtype=torch.float64)
        rows = torch.cat([part for part in all_gather_cpu(local) if part.numel()])
        scores, boxes, metadata = rows[:, :-6], rows[:, -6:-2], rows[:, -2:].long()
        self.details = self.evaluator(scores, boxes, metadata)
        return round(100 * float(self.details["mAP"]), 3), None


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
