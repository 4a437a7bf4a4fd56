"""Tiny networks with calibrated BN statistics, for the deployment tests."""

from __future__ import annotations

import torch
import torch.nn as nn

from mutualnet3d.engine.forward import Inputs, resize_input
from mutualnet3d.models import get_model_builder
from mutualnet3d.slim import SubnetConfig, calibrate_bn


def calibrated_tiny(
    name: str, configs: list[SubnetConfig], align_corners: bool = False
) -> tuple[nn.Module, Inputs]:
    """A tiny model in eval mode with BN statistics calibrated for ``configs`` on random
    clips (trained weights are not needed: any weights must export exactly)."""
    torch.manual_seed(0)
    model = get_model_builder(name)(num_classes=5)
    batches = [model.example_input(batch_size=2) for _ in range(2)]
    for batch in batches:
        for x in batch if isinstance(batch, list) else [batch]:
            x.normal_()
    for config in configs:
        resized = [resize_input(b, config, align_corners=align_corners) for b in batches]
        calibrate_bn(model, resized, config.width, config.key)
    return model.eval(), batches[0]
