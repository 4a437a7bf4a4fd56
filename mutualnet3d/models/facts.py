"""What the rest of the library needs to know about a model, asked of the model.

:class:`ModelFacts` are read from a built network (``ModelFacts.of(model)``) or, without
building one, from a registered name and its arguments (:func:`describe_model`, which
builds it on the ``meta`` device: no memory, no initialisation cost). The config
package validates a config with the second, the engine asks the real model with the
first; both give the same facts.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Hashable, Iterator, Mapping, Optional

import torch
import torch.nn as nn

from ..slim import SubnetConfig
from .base import SlimNet
from .registry import canonical_name, get_model_builder

__all__ = ["ModelFacts", "describe_model"]


@dataclass(frozen=True)
class ModelFacts:
    """The facts of one network.

    Attributes:
        input_kind: ``"image"`` or ``"video"``.
        alpha: Fast / Slow frame-rate ratio of a two-pathway network, else ``None``.
        detects: a detector (``forward(x, boxes)``).
        full: the full configuration (width 1.0, input size, Slow frames or ``None``).
    """

    input_kind: str
    alpha: Optional[int]
    detects: bool
    full: SubnetConfig

    @property
    def num_pathways(self) -> int:
        return 1 if self.alpha is None else 2

    @classmethod
    def of(cls, model: SlimNet) -> ModelFacts:
        """The facts of a built model."""
        return cls(model.input_kind, model.alpha, model.detects, model.full_config())


def _freeze(value: Any) -> Hashable:
    """A hashable stand-in for an argument value (lists -> tuples, dicts -> items;
    leaves keep their type, so ``4`` and ``4.0`` or ``True`` and ``1`` differ)."""
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(_freeze(v) for v in value)
    hash(value)  # anything else must be hashable already (TypeError otherwise)
    return type(value), value


_CACHE: dict[tuple[str, Hashable], ModelFacts] = {}
# torch.nn.init's in-place initialisers: on the meta device they only cost time (half of a
# build, through their decompositions), there are no values to fill.
_INITIALISERS = (
    "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
)


@contextmanager
def _initialisers_skipped() -> Iterator[None]:
    saved = {name: getattr(nn.init, name) for name in _INITIALISERS}
    try:
        for name in _INITIALISERS:
            setattr(nn.init, name, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for name, fn in saved.items():
            setattr(nn.init, name, fn)


def describe_model(name: str, kwargs: Mapping[str, Any] = {}) -> ModelFacts:
    """The facts of ``get_model_builder(name)(**kwargs)``, without building it for real.

    The model is built under ``torch.device("meta")``; results are cached on the
    canonical name and the arguments. Raises what the builder raises: ``KeyError`` for
    an unknown name, ``TypeError`` / ``ValueError`` for bad arguments.
    """
    key = (canonical_name(name), _freeze(kwargs))
    if key not in _CACHE:
        builder = get_model_builder(name)
        with torch.device("meta"), _initialisers_skipped():
            _CACHE[key] = ModelFacts.of(builder(**kwargs))
    return _CACHE[key]
