"""Non-finite tensors, found before they are trained on, saved or loaded.

A diverging run can keep a finite loss while its BN running statistics overflow (train
mode normalises with the batch's statistics, so the loss never sees them): the loss check
of :func:`~.mutual.mutual_step` alone lets such a run save, and exit 0 with, weights that
score at random. :func:`non_finite_state` is the cheap check of a model after each
optimizer step (one host synchronisation); :func:`first_non_finite` names the first bad
tensor of a state (a checkpoint's nested dicts and lists) before it is written or loaded.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

import torch
import torch.nn as nn

__all__ = ["NonFiniteError", "describe", "first_non_finite", "non_finite_state"]


class NonFiniteError(FloatingPointError):
    """Weights, buffers or optimizer state with NaN or infinite values; the message names
    when (epoch, iteration), the first bad tensor and the last good checkpoint."""


def _floating(value: Any) -> bool:
    return torch.is_tensor(value) and value.is_floating_point()


def describe(name: str, tensor: torch.Tensor) -> str:
    """``name`` and how many of its values are NaN or infinite."""
    bad = int((~torch.isfinite(tensor)).sum())
    return f"{name} ({bad} of {tensor.numel()} values NaN or infinite)"


def first_non_finite(tree: Any, prefix: str = "") -> Optional[str]:
    """The first floating tensor of ``tree`` (tensors in nested mappings, lists and
    tuples, in their order) holding a NaN or an infinity, described (:func:`describe`)
    under its path (keys joined by ``/``); None when every one is finite."""
    if _floating(tree):
        return None if bool(torch.isfinite(tree).all()) else describe(prefix or "tensor", tree)
    if isinstance(tree, dict):
        items: Iterable[tuple[Any, Any]] = tree.items()
    elif isinstance(tree, (list, tuple)):
        items = enumerate(tree)
    else:
        return None
    for key, value in items:
        found = first_non_finite(value, f"{prefix}/{key}" if prefix else str(key))
        if found is not None:
            return found
    return None


def non_finite_state(model: nn.Module) -> Optional[str]:
    """The model's first parameter or buffer with a NaN or an infinity (described), or
    None; one synchronisation with the device when all are finite."""
    named = [
        (name, t) for name, t in (*model.named_parameters(), *model.named_buffers()) if _floating(t)
    ]
    if not named:
        return None
    with torch.no_grad():
        if bool(torch.stack([torch.isfinite(t).all() for _, t in named]).all()):
            return None
        return next(describe(n, t) for n, t in named if not bool(torch.isfinite(t).all()))
