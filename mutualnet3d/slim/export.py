"""Export one configuration as a static network of ordinary torch layers."""

from __future__ import annotations

import copy
from typing import Optional

import torch.nn as nn

from .layers import SlimModule
from .width import set_width

__all__ = ["export_subnet"]


def _replace_slim(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, SlimModule):
            setattr(module, name, child.export().train(child.training))
        else:
            _replace_slim(child)


def export_subnet(model: nn.Module, width: float, key: Optional[str] = None) -> nn.Module:
    """A standalone copy of ``model`` at ``width`` built from plain torch layers.

    Every slimmable layer is replaced by the plain layer it acts as at ``width``
    (``nn.Conv3d``, ``nn.BatchNorm3d``, ``nn.Linear``...) holding copies of the active
    weights and, for BN, the statistics that eval mode would use under ``key``
    (calibrated ones when present). The original model is not modified. The copy keeps
    ``model``'s training mode.

    Args:
        model: a model with slimmable layers.
        width: fraction of channels, in (0, 1].
        key: BN statistics key; defaults to :func:`~mutualnet3d.slim.stats_key` of the
            width.
    """
    with set_width(model, width, key, warn_uncalibrated=False):
        static = copy.deepcopy(model)
    _replace_slim(static)
    return static
