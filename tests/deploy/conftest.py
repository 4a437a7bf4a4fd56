"""A tiny adaptive model calibrated at a few configurations, and its table."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
import torch.nn as nn

from mutualnet3d.engine.forward import forward_at
from mutualnet3d.evaluation import ConfigResult
from mutualnet3d.models import get_model_builder
from mutualnet3d.slim import BNCalibrator, SubnetConfig, count_flops

# slow_tiny runs 4 frames of 32 px at full size. Made-up accuracies: 0.75x-24px-3f is
# dominated (by 1.00x-16px-2f, cheaper and better), the others form the front.
CONFIGS = {
    SubnetConfig(0.5, 16, 2): 40.0,
    SubnetConfig(1.0, 16, 2): 55.0,
    SubnetConfig(0.75, 24, 3): 50.0,
    SubnetConfig(0.5, 24, 4): 52.0,
    SubnetConfig(1.0, 32, 4): 70.0,
}


@dataclass
class Calibrated:
    model: nn.Module
    table: list[ConfigResult]
    clip: torch.Tensor  # a full-size batch of 2 clips


def calibrate(name: str, configs: dict[SubnetConfig, float]) -> Calibrated:
    """``name`` built with random weights, calibrated on one random batch per config."""
    torch.manual_seed(0)
    model = get_model_builder(name)().eval()
    clip = model.example_input(batch_size=2)
    clip = [torch.randn_like(x) for x in clip] if isinstance(clip, list) else torch.randn_like(clip)
    calibrator = BNCalibrator(model)
    for config in configs:
        calibrator.update(config.width, config.key, lambda m, c=config: forward_at(m, clip, c))
    calibrator.finish()
    table = []
    for config, metric in configs.items():
        flops = count_flops(
            model, model.example_args(config.spatial, config.temporal), config.width
        )
        table.append(
            ConfigResult(config.width, config.spatial, config.temporal, flops / 1e9, 0.1, metric)
        )
    return Calibrated(model, table, clip)


@pytest.fixture(scope="module")
def calibrated() -> Calibrated:
    return calibrate("slow_tiny", CONFIGS)
