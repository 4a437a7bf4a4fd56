"""Switching a whole model to one configuration: width and BN statistics key."""

from __future__ import annotations

import warnings
from typing import Iterator, NamedTuple, Optional

import torch.nn as nn

from .layers import SlimModule, _SlimBatchNormNd

__all__ = ["SubnetConfig", "WidthSwitch", "set_width", "stats_key", "slim_modules", "get_width"]


def stats_key(width: float, spatial: Optional[int] = None, temporal: Optional[int] = None) -> str:
    """Name of one configuration's BN statistics, e.g. ``w0p75_s160_t5``.

    BN statistics depend on the width and on the input size (paper section 3.4), so 2D
    runs key them by width and resolution, video runs by width, spatial and temporal
    size; a key with the width alone is the default of :func:`set_width`.
    """
    key = f"w{width:.4g}".replace(".", "p")
    if spatial is not None:
        key += f"_s{int(spatial)}"
    if temporal is not None:
        key += f"_t{int(temporal)}"
    return key


class SubnetConfig(NamedTuple):
    """One configuration: width in (0, 1], input size in pixels, Slow-pathway frames.

    ``temporal`` is ``None`` for images. :attr:`key` names its BN statistics.
    """

    width: float
    spatial: int
    temporal: Optional[int] = None

    @property
    def key(self) -> str:
        """:func:`stats_key` of this configuration."""
        return stats_key(self.width, self.spatial, self.temporal)


def slim_modules(model: nn.Module) -> Iterator[SlimModule]:
    """All slimmable layers of ``model``."""
    return (m for m in model.modules() if isinstance(m, SlimModule))


def get_width(model: nn.Module) -> float:
    """The width ``model`` currently runs at (1.0 for a model with no slimmable layer)."""
    return next((m.width for m in slim_modules(model)), 1.0)


class set_width:  # noqa: N801 - used like a function, also as a context manager
    """Run ``model`` at ``width`` with the BN statistics stored under ``key``.

    ``key`` defaults to :func:`stats_key` of the width alone. Works as a call or as a
    context manager that restores the previous width and key on exit::

        set_width(model, 0.5)
        with set_width(model, 0.75, stats_key(0.75, 160)):
            logits = model(x)

    Args:
        model: any module; only its slimmable layers change.
        width: fraction of channels, in (0, 1].
        key: BN statistics key (see :class:`~mutualnet3d.slim.layers._SlimBatchNormNd`).
        warn_uncalibrated: warn when the model holds calibrated statistics but none for
            ``key`` (eval mode would then use the full network's statistics).
    """

    def __init__(
        self,
        model: nn.Module,
        width: float,
        key: Optional[str] = None,
        *,
        warn_uncalibrated: bool = True,
    ) -> None:
        if not 0.0 < width <= 1.0:
            raise ValueError(f"width must be in (0, 1], got {width}")
        key = stats_key(width) if key is None else key
        self._model = model
        self._previous = [(m, m.width, getattr(m, "stats_key", None)) for m in slim_modules(model)]
        calibrated = False
        found = False
        for module, _, _ in self._previous:
            module.width = width
            if isinstance(module, _SlimBatchNormNd):
                module.stats_key = key
                calibrated = calibrated or bool(module.calibrated_keys())
                found = found or module.has_stats(key)
        if warn_uncalibrated and calibrated and not found and width < 1.0:
            warnings.warn(
                f"no calibrated BN statistics for {key!r}; eval mode falls back to the "
                f"full network's running statistics (run calibrate_bn for this key)",
                stacklevel=2,
            )

    def __enter__(self) -> nn.Module:
        return self._model

    def __exit__(self, *exc) -> None:
        for module, width, key in self._previous:
            module.width = width
            if isinstance(module, _SlimBatchNormNd):
                module.stats_key = key


class WidthSwitch:
    """:func:`set_width` for a model switched call after call (a deployment): the
    slimmable layers are found once, and each switch only writes their width and their
    BN statistics key, as :func:`set_width` does, without walking the module tree
    (on a 100-layer network, microseconds instead of a third of a millisecond).

    The model's layers must not be added or replaced afterwards. No warning about
    uncalibrated keys: check the keys once beforehand.
    """

    def __init__(self, model: nn.Module) -> None:
        self._modules = list(slim_modules(model))
        self._norms = [m for m in self._modules if isinstance(m, _SlimBatchNormNd)]
        # Plain instance attributes can be written straight into the instance dict (what
        # nn.Module.__setattr__ does for them after its checks); a descriptor cannot.
        self._plain = not any(
            hasattr(getattr(type(m), name, None), "__set__")
            for m in self._modules
            for name in ("width", "stats_key")
        )

    def __call__(self, width: float, key: Optional[str] = None) -> None:
        """Run the model at ``width`` with the statistics of ``key`` (default: the
        width's, as :func:`set_width`)."""
        if not 0.0 < width <= 1.0:
            raise ValueError(f"width must be in (0, 1], got {width}")
        key = stats_key(width) if key is None else key
        if not self._plain:
            for module in self._modules:
                module.width = width
            for module in self._norms:
                module.stats_key = key
            return
        for module in self._modules:
            module.__dict__["width"] = width
        for module in self._norms:
            module.__dict__["stats_key"] = key
