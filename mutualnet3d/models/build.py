"""The one adapter from a config to a model (style guide, principle 2)."""

from __future__ import annotations

from typing import Any

import torch.nn as nn
from fvcore.common.config import CfgNode

from .registry import get_model_builder

__all__ = ["build_model", "model_kwargs"]


def model_kwargs(cfg: CfgNode) -> dict[str, Any]:
    """The constructor arguments a config sets, by their keyword names."""
    return {
        "num_classes": cfg.MODEL.NUM_CLASSES,
        "dropout_rate": cfg.MODEL.DROPOUT_RATE,
        "width_divisor": cfg.MUTUALNET.WIDTH_DIVISOR,
    }


def build_model(cfg: CfgNode) -> nn.Module:
    """Build ``cfg.MODEL.MODEL_NAME`` (any registered name) on the CPU.

    Models never see the config: this adapter turns it into keyword arguments. The
    engine moves the model to its device.
    """
    return get_model_builder(cfg.MODEL.MODEL_NAME)(**model_kwargs(cfg))
