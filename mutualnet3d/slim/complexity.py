"""FLOPs and parameters of any configuration, counted with fvcore (paper sections 3.4, 4.3).

FLOPs are fvcore's: one multiply-add counts as one FLOP, as in the papers. ``ops``
selects which operators count: ``"conv_linear"`` (convolutions and matrix products,
the MobileNet/ResNet papers' convention) or ``"all"`` (fvcore's total, which PySlowFast
reports for video networks: adds batch norm, pooling, upsampling...).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Optional, Sequence

import torch
import torch.nn as nn
from fvcore.nn import FlopCountAnalysis

from .layers import SlimModule
from .width import set_width

__all__ = ["Complexity", "count_flops", "count_params", "complexity_table"]

# fvcore's operator names for convolution and matrix products.
_CONV_LINEAR_OPS = {"conv", "linear", "matmul", "addmm", "bmm", "einsum"}


@dataclass(frozen=True)
class Complexity:
    """Cost of one configuration: GFLOPs (multiply-adds) and parameters (millions)."""

    width: float
    spatial: int
    temporal: Optional[int]
    gflops: float
    mparams: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_params(model: nn.Module, width: float = 1.0) -> int:
    """Parameters used at ``width``: active slices of slimmable layers, all the others."""
    total = 0
    with set_width(model, width, warn_uncalibrated=False):
        slim = [m for m in model.modules() if isinstance(m, SlimModule)]
        slim_params = {id(p) for m in slim for p in m.parameters(recurse=False)}
        for m in slim:
            total += sum(t.numel() for t in m.active_parameters())
        total += sum(p.numel() for p in model.parameters() if id(p) not in slim_params)
    return total


@torch.no_grad()
def count_flops(
    model: nn.Module, inputs: Any, width: float = 1.0, ops: str = "conv_linear"
) -> int:
    """Multiply-adds of one forward pass of ``inputs`` at ``width`` (fvcore).

    Args:
        model: any model; it is run in eval mode and its mode is restored.
        inputs: the model's input (tensor, or list of tensors for SlowFast), or a
            tuple of its positional arguments (a detector's ``(clip, boxes)``).
        width: fraction of channels.
        ops: ``"conv_linear"`` or ``"all"`` (see the module docstring).
    """
    if ops not in ("conv_linear", "all"):
        raise ValueError(f"ops must be 'conv_linear' or 'all', got {ops!r}")
    was_training = model.training
    model.eval()
    # fvcore logs every operator it does not count (slicing, activations...).
    logger = logging.getLogger("fvcore.nn.jit_analysis")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with set_width(model, width, warn_uncalibrated=False):
            args = inputs if isinstance(inputs, tuple) else (inputs,)
            analysis = FlopCountAnalysis(model, args)
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            by_op = analysis.by_operator()
    finally:
        logger.setLevel(level)
        model.train(was_training)
    if ops == "all":
        return int(sum(by_op.values()))
    return int(sum(v for k, v in by_op.items() if k in _CONV_LINEAR_OPS))


def complexity_table(
    model: nn.Module,
    make_input: Callable[[int, Optional[int]], Any],
    widths: Sequence[float],
    spatial_sizes: Sequence[int],
    temporal_sizes: Iterable[Optional[int]] = (None,),
    ops: str = "conv_linear",
) -> list[Complexity]:
    """Cost of every width x spatial x temporal configuration.

    Args:
        model: a slimmable model.
        make_input: ``make_input(spatial, temporal)`` returns a batch-1 input of that
            size (``temporal`` is ``None`` for images).
        widths, spatial_sizes, temporal_sizes: the grid.
        ops: which operators count (see :func:`count_flops`).
    """
    temporal_sizes = list(temporal_sizes)
    rows = []
    for width in widths:
        params = count_params(model, width) / 1e6
        for spatial in spatial_sizes:
            for temporal in temporal_sizes:
                flops = count_flops(model, make_input(spatial, temporal), width, ops)
                rows.append(Complexity(width, spatial, temporal, flops / 1e9, params))
    return rows
