"""A finished run's calibrated model: the BN statistics of every configuration.

The calibration stage (``engine/run.py``) stores each configuration's exact BN statistics
under its key (:attr:`~mutualnet3d.slim.SubnetConfig.key`) and saves the model as
``OUTPUT_DIR/checkpoints/checkpoint_calibrated.pyth``. Deployment loads that file and
checks that every configuration it may run has its statistics: it never recalibrates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import torch.nn as nn

from ..engine.checkpoint import checkpoint_dir, load_checkpoint_file
from ..slim import SubnetConfig, slim_modules

__all__ = ["CALIBRATED_NAME", "MissingStatisticsError", "check_calibrated", "load_calibrated"]

CALIBRATED_NAME = "checkpoint_calibrated.pyth"


class MissingStatisticsError(ValueError):
    """A configuration to deploy has no calibrated BN statistics in the model."""


def load_calibrated(model: nn.Module, output_dir: str) -> Path:
    """Load ``output_dir``'s calibrated checkpoint into ``model`` (strictly, without
    running pickles) and return its path.

    Raises:
        FileNotFoundError: the run has no calibrated checkpoint (the message says which
            stage writes it).
    """
    path = checkpoint_dir(output_dir) / CALIBRATED_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no calibrated checkpoint; the calibration stage (MUTUALNET.CALIBRATE "
            f"True) of tools/run_net.py writes it"
        )
    state = load_checkpoint_file(path)
    model.load_state_dict(state["model_state"], strict=True)
    return path


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
