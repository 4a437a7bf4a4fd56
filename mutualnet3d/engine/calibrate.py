"""BN statistics after training: per configuration (paper section 3.4), and precise BN.

:func:`calibrate_grid` gives every configuration of the evaluation grid its own exact BN
statistics, stored in the model's state under the configuration's key, so deployment
never recalibrates. :func:`precise_bn` recomputes the full configuration's running
statistics before a validation (BN.USE_PRECISE_STATS, as PySlowFast).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn as nn
from fvcore.nn.precise_bn import get_bn_modules, update_bn_stats
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..slim import BNCalibrator, SubnetConfig
from .distributed import all_reduce_sum, get_world_size, is_main_process
from .forward import batch_boxes, batch_inputs, forward_at

__all__ = ["calibrate_grid", "precise_bn"]


@torch.no_grad()
def calibrate_grid(
    model: nn.Module,
    loader: DataLoader,
    configs: Sequence[SubnetConfig],
    num_batches: int,
    device: torch.device,
    *,
    align_corners: bool = False,
) -> int:
    """Exact BN statistics of every configuration on the first ``num_batches`` batches.

    The loader is read once; each batch runs at every configuration, its input resized
    as in training (``align_corners``: MUTUALNET.RESIZE_ALIGN_CORNERS). Processes see
    different batches (as many each), so their statistics are averaged. Returns the
    number of batches used.
    """
    calibrator = BNCalibrator(model)
    used = min(num_batches, len(loader))
    progress = tqdm(total=used, desc="BN calibration", disable=not is_main_process())
    for index, batch in enumerate(loader):
        if index >= used:
            break
        inputs, boxes = batch_inputs(batch, device, model.num_pathways), batch_boxes(batch, device)
        for config in configs:
            calibrator.update(
                config.width,
                config.key,
                lambda m, c=config: forward_at(m, inputs, c, boxes, align_corners=align_corners),
            )
        progress.update()
    progress.close()
    calibrator.finish()
    if get_world_size() > 1:
        for name, buffer in model.named_buffers():
            if ".stats_" in name or name.startswith("stats_"):
                buffer.copy_(all_reduce_sum(buffer.clone()) / get_world_size())
    return used


class _BatchForward(nn.Module):
    """``model`` on a whole batch at ``config``: the one-argument model fvcore's
    precise BN calls (detectors also need the batch's boxes)."""

    def __init__(
        self, model: nn.Module, config: SubnetConfig, device: torch.device, align_corners: bool
    ) -> None:
        super().__init__()
        self.model, self.config, self.device = model, config, device
        self.align_corners = align_corners

    def forward(self, batch: dict[str, Any]) -> torch.Tensor:
        inputs = batch_inputs(batch, self.device, self.model.num_pathways)
        boxes = batch_boxes(batch, self.device)
        return forward_at(self.model, inputs, self.config, boxes, align_corners=self.align_corners)


@torch.no_grad()
def precise_bn(
    model: nn.Module,
    loader: DataLoader,
    config: SubnetConfig,
    num_batches: int,
    device: torch.device,
    *,
    align_corners: bool = False,
) -> None:
    """The running BN statistics of ``config`` recomputed as the average over
    ``num_batches`` batches (fvcore's precise BN), so that validation does not judge
    stale momentum averages; inputs are resized with ``align_corners`` as in training.
    Under DDP each process computes them on its own batches, then they are averaged."""
    forward = _BatchForward(model, config, device, align_corners)
    update_bn_stats(forward, loader, min(num_batches, len(loader)))
    if get_world_size() > 1:
        for module in get_bn_modules(model):
            for buffer in (module.running_mean, module.running_var):
                buffer.copy_(all_reduce_sum(buffer.clone()) / get_world_size())
