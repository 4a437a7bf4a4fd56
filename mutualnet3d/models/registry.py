"""A small registry of model builders: top-level names only (style guide, principle 4).

A variant is data: its family with some defaults, ``functools.partial(family,
**defaults)`` under a name and a docstring (:func:`register_variant`). Its signature is
the family's with those defaults, so :func:`~mutualnet3d.models.model_kwargs` can read
which arguments it takes. A variant fixes its architecture (``slow_r50`` is a Slow R50
whatever the config says); PySlowFast's own model names (``ResNet``, ``SlowFast``,
``X3D``, ``PTV*``) are registered with :func:`register_pyslowfast_name` and build the
architecture their config describes (MODEL.ARCH, RESNET.*, X3D.*).
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any, Callable, Optional, TypeVar

import torch.nn as nn

__all__ = [
    "register_model", "register_variant", "register_pyslowfast_name", "get_model_builder",
    "list_models", "canonical_name", "reads_architecture",
]

Builder = TypeVar("Builder", bound=Callable[..., nn.Module])
_MODELS: dict[str, Callable[..., nn.Module]] = {}


def canonical_name(name: str) -> str:
    """Case, '_' and '-' do not matter: ``MobileNetV1`` and ``mobilenet_v1`` are one."""
    return re.sub(r"[_\-\s]", "", name).lower()


def register_model(fn: Builder, name: Optional[str] = None) -> Builder:
    """Register a builder under ``name`` (default: its ``__name__``); a second one of that
    name is an error. Also a decorator."""
    name = name or fn.__name__
    key = canonical_name(name)
    if key in _MODELS:
        raise ValueError(f"model {name!r} is already registered")
    _MODELS[key] = fn
    return fn


def register_variant(
    name: str, doc: str, family: Callable[..., nn.Module], /, **defaults: Any
) -> partial:
    """Register ``partial(family, **defaults)`` as ``name``, documented by ``doc``."""
    variant = partial(family, **defaults)
    variant.__name__, variant.__doc__ = name, doc
    return register_model(variant, name)


def register_pyslowfast_name(
    name: str, doc: str, family: Callable[..., nn.Module], /, **fixed: Any
) -> partial:
    """Register PySlowFast's model name ``name`` for ``family``: unlike a variant's, its
    architecture arguments come from the config, except those ``fixed`` here."""
    variant = register_variant(name, doc, family, **fixed)
    variant.reads_architecture = True
    return variant


def reads_architecture(builder: Callable[..., nn.Module]) -> bool:
    """Whether ``builder`` is one of PySlowFast's names (architecture from the config)."""
    return getattr(builder, "reads_architecture", False)


def get_model_builder(name: str) -> Callable[..., nn.Module]:
    try:
        return _MODELS[canonical_name(name)]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; registered: {', '.join(list_models())}") from None


def list_models() -> list[str]:
    """Registered model names, sorted."""
    return sorted(fn.__name__ for fn in _MODELS.values())
