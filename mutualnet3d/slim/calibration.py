"""BN re-calibration per configuration (paper section 3.4, following US-Nets)."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

import torch
import torch.nn as nn

from .layers import _Moments, _SlimBatchNormNd
from .width import set_width, stats_key

__all__ = ["calibrate_bn"]


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

    The model runs in eval mode (dropout off) while its slimmable BN layers normalise
    with batch statistics, as in training, and accumulate the exact mean and unbiased
    variance of all their inputs over ``batches`` (a float64 merge of per-batch moments,
    so unequal batch sizes are fine). The result is stored under ``key`` next to the
    statistics of other configurations, which it never overwrites. US-Nets' helper ran
    the model in eval mode without this switch and so never updated anything (their
    issue #35).

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
    norms = [m for m in model.modules() if isinstance(m, _SlimBatchNormNd)]
    was_training = model.training
    model.eval()
    for bn in norms:
        bn._moments = _Moments()
    count = 0
    try:
        with set_width(model, width, key, warn_uncalibrated=False):
            for batch in batches:
                forward(model, batch)
                count += 1
        if count == 0:
            raise ValueError("calibrate_bn got no batches")
        for bn in norms:
            if bn._moments.mean is not None:  # layers the forward never reached keep theirs
                bn.set_stats(key, *bn._moments.result())
    finally:
        for bn in norms:
            bn._moments = None
        model.train(was_training)
    return count
