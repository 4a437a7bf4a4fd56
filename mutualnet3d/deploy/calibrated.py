"""A finished run's calibrated model: the BN statistics of every configuration.

The calibration stage (``engine/run.py``) stores each configuration's exact BN statistics
under its key (:attr:`~mutualnet3d.slim.SubnetConfig.key`) and saves the model as
``OUTPUT_DIR/checkpoints/checkpoint_calibrated.pyth``. Deployment loads that file
(:func:`~mutualnet3d.deploy.finished_run.load_calibrated`) and checks that every configuration it may run has its statistics: it never recalibrates.
"""

from __future__ import annotations

from typing import Iterable

import torch.nn as nn

from ..slim import SubnetConfig, slim_modules

__all__ = ["MissingStatisticsError", "check_calibrated"]


class MissingStatisticsError(ValueError):
    """A configuration to deploy has no calibrated BN statistics in the model."""


def check_calibrated(model: nn.Module, configs: Iterable[SubnetConfig]) -> None:
    """Every slimmable BN layer of ``model`` holds statistics for every config's key.

    Raises:
        MissingStatisticsError: naming the first configuration without them and how many
            lack them (a model without slimmable BN layers passes: nothing to switch).
    """
    norms = [m for m in slim_modules(model) if hasattr(m, "has_stats")]  # the BN layers
    missing = [c for c in configs if not all(bn.has_stats(c.key) for bn in norms)]
    if missing:
        first = missing[0]
        raise MissingStatisticsError(
            f"no calibrated BN statistics for {len(missing)} configuration(s), first width "
            f"{first.width}, {first.spatial} px, {first.temporal} frames (key {first.key!r}); "
            f"calibrate them (MUTUALNET.CALIBRATE with an evaluation grid that holds them): "
            f"deployment never recalibrates"
        )
