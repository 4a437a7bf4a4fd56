"""BN re-calibration per configuration (paper section 3.4, following US-Nets)."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

import torch
import torch.nn as nn

from .layers import _Moments, _SlimBatchNormNd
from .width import set_width, stats_key

__all__ = ["BNCalibrator", "calibrate_bn"]


class BNCalibrator:
    """Accumulates exact BN statistics for several configurations in one pass over data.

    Each :meth:`update` runs one forward pass at one configuration, in eval mode (dropout
    off) while the slimmable BN layers normalise with batch statistics, as in training,
    and add the batch to the exact mean and unbiased variance of that configuration's
    inputs (a float64 merge of per-batch moments, so unequal batch sizes are fine).
    :meth:`finish` stores the statistics under each key, next to those of other
    configurations, which it never overwrites. So a data loader can be read once and
    every configuration calibrated on each decoded batch.

    US-Nets' helper ran the model in eval mode without this switch and so never updated
    anything (their issue #35).
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.norms = [m for m in model.modules() if isinstance(m, _SlimBatchNormNd)]
        self.moments: dict[str, dict[int, _Moments]] = {}
        self.batches: dict[str, int] = {}

    @torch.no_grad()
    def update(self, width: float, key: str, forward: Callable[[nn.Module], Any]) -> None:
        """Run ``forward(model)`` at ``width``, accumulating statistics for ``key``."""
        moments = self.moments.setdefault(key, {})
        was_training = self.model.training
        self.model.eval()
        for index, bn in enumerate(self.norms):
            bn._moments = moments.setdefault(index, _Moments())
        try:
            with set_width(self.model, width, key, warn_uncalibrated=False):
                forward(self.model)
        finally:
            for bn in self.norms:
                bn._moments = None
            self.model.train(was_training)
        self.batches[key] = self.batches.get(key, 0) + 1

    def finish(self) -> dict[str, int]:
        """Store the statistics of every key; returns the batches seen per key."""
        for key, moments in self.moments.items():
            for index, bn in enumerate(self.norms):
                m = moments.get(index)
                if m is not None and m.mean is not None:  # layers never reached keep theirs
                    bn.set_stats(key, *m.result())
        self.moments.clear()
        return dict(self.batches)


@torch.no_grad()
def calibrate_bn(
    model: nn.Module,
    batches: Iterable[Any],
    width: float,
    key: Optional[str] = None,
    *,
    forward: Optional[Callable[[nn.Module, Any], Any]] = None,
) -> int:
    """Re-estimate every slimmable BN layer's statistics for one configuration.

    See :class:`BNCalibrator`: exact mean and unbiased variance of each layer's inputs
    over ``batches``, stored under ``key``.

    Args:
        model: a model with slimmable BN layers.
        batches: model inputs (tensors, or lists of tensors for multi-pathway models),
            or anything ``forward`` accepts. Lower resolutions are the caller's choice:
            the statistics are those of the inputs given.
        width: the configuration's width.
        key: statistics key; defaults to :func:`~mutualnet3d.slim.stats_key` of the width.
        forward: ``forward(model, batch)`` runs one batch; defaults to ``model(batch)``.

    Returns:
        The number of batches used.
    """
    key = stats_key(width) if key is None else key
    forward = forward or (lambda m, batch: m(batch))
    calibrator = BNCalibrator(model)
    for batch in batches:
        calibrator.update(width, key, lambda m, b=batch: forward(m, b))
    if not calibrator.batches:
        raise ValueError("calibrate_bn got no batches")
    return calibrator.finish()[key]
