"""Checking an exported file against the adaptive network it was cut from.

The reference is what the search measured: the adaptive network at the configuration,
with its calibrated statistics, on full-size inputs resized by the engine
(:func:`~mutualnet3d.engine.evaluate.forward_configs`). The exported file gets the same
inputs, resized first when it takes the configuration's size. Batches are checked whole
and one clip alone, so a file that fixed its batch size fails too.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from ..engine.evaluate import forward_configs
from ..engine.forward import Inputs, resize_input
from ..slim import SubnetConfig
from .formats import Runner

__all__ = ["DEFAULT_TOLERANCE", "ExportMismatch", "max_difference", "verify_export"]

#: the largest absolute difference of logits accepted between export and adaptive network
DEFAULT_TOLERANCE = 1e-4


class ExportMismatch(RuntimeError):
    """The exported model's logits differ from the adaptive network's beyond tolerance."""


def _as_list(inputs: Inputs) -> list[torch.Tensor]:
    return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]


def max_difference(
    runner: Runner,
    model: nn.Module,
    config: SubnetConfig,
    inputs: Inputs,
    *,
    input_size: str,
    align_corners: bool,
) -> float:
    """The largest absolute logit difference on one full-size batch ``inputs``
    (a tensor, or ``[slow, fast]``) between ``runner`` and ``model`` at ``config``;
    infinite when the shapes differ or the export gives a NaN."""
    model.eval()
    expected = forward_configs(model, inputs, [config], align_corners=align_corners)[0]
    given = resize_input(inputs, config, align_corners=align_corners)
    given = _as_list(inputs if input_size == "full" else given)
    got = runner(given).float()
    if got.shape != expected.shape or not torch.isfinite(got).all():
        return float("inf")
    return (got - expected).abs().max().item()


def verify_export(
    runner: Runner,
    model: nn.Module,
    config: SubnetConfig,
    batches: Sequence[Inputs],
    *,
    input_size: str,
    align_corners: bool,
    tolerance: float = DEFAULT_TOLERANCE,
) -> float:
    """The largest difference over ``batches`` and the first clip alone (see
    :func:`max_difference`).

    Raises:
        ExportMismatch: it exceeds ``tolerance`` (one line, with both numbers).
    """
    if not batches:
        raise ValueError("verify_export needs at least one batch")
    first = [x[:1] for x in _as_list(batches[0])]
    checks = [*batches, first if len(first) > 1 else first[0]]
    worst = max(
        max_difference(runner, model, config, b, input_size=input_size, align_corners=align_corners)
        for b in checks
    )
    if not worst <= tolerance:
        clips = sum(_as_list(b)[0].shape[0] for b in batches)
        raise ExportMismatch(
            f"the exported model differs from the adaptive network at {config.key}: max abs "
            f"logits difference {worst:.3g} > {tolerance:g} on {clips} validation clips"
        )
    return worst
