"""Evaluating a model over a data set, at one configuration or at many from one decode.

:func:`evaluate` is the validation between epochs (one configuration, main BN
statistics); :func:`search` the search stage (every configuration of the grid with its
calibrated statistics, and its cost).

An accumulator collects one configuration's predictions batch by batch and reduces them
over processes; the metrics themselves are :mod:`mutualnet3d.evaluation`'s.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from tqdm import tqdm

from ..evaluation import AvaEvaluator, ConfigResult, mean_average_precision, top_k_correct
from ..slim import SubnetConfig, count_flops, count_params, set_width
from .distributed import all_gather_cpu, all_reduce_sum, is_main_process
from .forward import Inputs, batch_boxes, batch_inputs, forward_at

__all__ = [
    "Accumulator",
    "DetectionAccumulator",
    "evaluate",
    "evaluate_configs",
    "forward_configs",
    "search",
]


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
    :func:`~mutualnet3d.data.collate.ava_collate`), gathers them from every process and
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
        self.parts.append(
            torch.cat([scores, batch["ori_boxes"].double(), batch["metadata"].double()], dim=1)
        )

    def result(self) -> tuple[float, Optional[float]]:
        # One tensor per process: scores, boxes and metadata stay row-aligned. A process
        # without samples sends an empty one.
        local = torch.cat(self.parts) if self.parts else torch.zeros(0, 0, dtype=torch.float64)
        rows = torch.cat([part for part in all_gather_cpu(local) if part.numel()])
        scores, boxes, metadata = rows[:, :-6], rows[:, -6:-2], rows[:, -2:].long()
        self.details = self.evaluator(scores, boxes, metadata)
        return round(100 * float(self.details["mAP"]), 3), None


AnyAccumulator = Union[Accumulator, DetectionAccumulator]


@torch.no_grad()
def forward_configs(
    model: nn.Module,
    inputs: Inputs,
    configs: Sequence[SubnetConfig],
    boxes: Optional[torch.Tensor] = None,
    *,
    align_corners: bool = False,
) -> list[torch.Tensor]:
    """Outputs of one decoded batch at every configuration, each with its BN statistics
    (``config.key``) and its input resized on the device (:func:`.forward.forward_at`,
    with ``align_corners``: MUTUALNET.RESIZE_ALIGN_CORNERS)."""
    outputs = []
    for config in configs:
        with set_width(model, config.width, config.key, warn_uncalibrated=False):
            logits = forward_at(model, inputs, config, boxes, align_corners=align_corners)
            outputs.append(logits.float())
    return outputs


@torch.no_grad()
def evaluate_configs(
    model: nn.Module,
    inputs: Inputs,
    labels: torch.Tensor,
    configs: Sequence[SubnetConfig],
    *,
    align_corners: bool = False,
) -> torch.Tensor:
    """Top-1 hits, top-5 hits and count of one decoded batch at every configuration
    (inputs resized with ``align_corners``).

    Returns a (len(configs), 3) float64 tensor.
    """
    counts = torch.zeros(len(configs), 3, dtype=torch.float64)
    outputs = forward_configs(model, inputs, configs, align_corners=align_corners)
    for index, logits in enumerate(outputs):
        top1, top5 = top_k_correct(logits, labels)
        counts[index] = torch.tensor([top1, top5, len(labels)], dtype=torch.float64)
    return counts


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: DataLoader,
    config: SubnetConfig,
    accumulator: AnyAccumulator,
    device: torch.device,
    *,
    align_corners: bool = False,
) -> tuple[float, Optional[float]]:
    """``accumulator``'s result over ``loader`` at ``config``, with the main BN statistics
    (the running ones of training; validation between epochs); inputs are resized with
    ``align_corners`` as in training."""
    was_training = model.training
    model.eval()
    with set_width(model, config.width, warn_uncalibrated=False):
        for batch in loader:
            inputs, boxes = (
                batch_inputs(batch, device, model.num_pathways),
                batch_boxes(batch, device),
            )
            logits = forward_at(model, inputs, config, boxes, align_corners=align_corners)
            accumulator.add(logits, batch)
    model.train(was_training)
    return accumulator.result()


def search(
    model: nn.Module,
    loader: DataLoader,
    configs: Sequence[SubnetConfig],
    accumulators: Sequence[AnyAccumulator],
    device: torch.device,
    *,
    align_corners: bool = False,
) -> list[ConfigResult]:
    """Every configuration on the validation set, each clip decoded once (paper 3.4).

    Each configuration runs with its calibrated BN statistics, its input resized with
    ``align_corners`` (MUTUALNET.RESIZE_ALIGN_CORNERS) as in training. Every process takes part
    in the reductions; only the main one counts costs (fvcore's total for video, conv +
    linear for images) and returns the table, the others an empty list.
    """
    model.eval()
    for batch in tqdm(loader, desc="search", disable=not is_main_process()):
        inputs = batch_inputs(batch, device, model.num_pathways)
        boxes = batch_boxes(batch, device)
        outputs = forward_configs(model, inputs, configs, boxes, align_corners=align_corners)
        for accumulator, logits in zip(accumulators, outputs):
            accumulator.add(logits, batch)
    metrics = [accumulator.result() for accumulator in accumulators]
    if not is_main_process():
        return []
    ops = "conv_linear" if model.input_kind == "image" else "all"
    results = []
    for config, (metric, top5) in zip(configs, metrics):
        args = model.example_args(config.spatial, config.temporal)
        flops = count_flops(model, args, config.width, ops=ops)
        results.append(
            ConfigResult(
                round(config.width, 4),
                config.spatial,
                config.temporal,
                float(f"{flops / 1e9:.6g}"),
                round(count_params(model, config.width) / 1e6, 4),
                metric,
                top5,
            )
        )
    return results
