"""Every configuration's logits on a split, kept to study deployment policies offline.

A policy that picks configurations per clip (:mod:`.cascade`) is judged exactly and
cheaply on logits kept once per configuration: each clip is decoded once and run at
every configuration with its calibrated statistics, as the search does
(:func:`~mutualnet3d.engine.evaluate.forward_configs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from ..engine.evaluate import forward_configs
from ..engine.forward import batch_inputs
from ..slim import SubnetConfig

__all__ = ["SplitLogits", "collect_logits"]


@dataclass(frozen=True)
class SplitLogits:
    """``logits`` (configurations, clips, classes) float32 and ``labels`` (clips,) int64."""

    logits: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.logits.dim() != 3 or self.logits.shape[1] != self.labels.shape[0]:
            raise ValueError(
                f"logits must be (configurations, clips, classes) for {self.labels.shape[0]} "
                f"labels, got {tuple(self.logits.shape)}"
            )

    def accuracy(self, index: int) -> float:
        """Top-1 (%) of configuration ``index``."""
        hits = self.logits[index].argmax(-1) == self.labels
        return 100.0 * hits.double().mean().item()


@torch.no_grad()
def collect_logits(
    model: nn.Module,
    loader: DataLoader,
    configs: Sequence[SubnetConfig],
    device: torch.device,
    *,
    align_corners: bool = False,
) -> SplitLogits:
    """The logits of every clip of ``loader`` at every configuration (its calibrated
    statistics, its input resized with ``align_corners``), one process.

    Single-label classification only: a detector's boxes or multi-hot labels have no one
    class per clip. Raises ValueError for them.
    """
    if model.detects:
        raise ValueError("collect_logits keeps one prediction per clip: not for detectors")
    model.eval()
    parts: list[list[torch.Tensor]] = [[] for _ in configs]
    labels = []
    for batch in loader:
        if batch["label"].dim() != 1:
            raise ValueError("collect_logits needs one label per clip (not multi-label data)")
        inputs = batch_inputs(batch, device, model.num_pathways)
        outputs = forward_configs(model, inputs, configs, align_corners=align_corners)
        for part, logits in zip(parts, outputs):
            part.append(logits.cpu())
        labels.append(batch["label"].long().cpu())
    return SplitLogits(torch.stack([torch.cat(p) for p in parts]), torch.cat(labels))
