"""A small registry of model builders: top-level names only (style guide, principle 4)."""

from __future__ import annotations

import re
from typing import Callable, TypeVar

import torch.nn as nn

__all__ = ["register_model", "get_model_builder", "list_models", "canonical_name"]

Builder = TypeVar("Builder", bound=Callable[..., nn.Module])
_MODELS: dict[str, Callable[..., nn.Module]] = {}


def canonical_name(name: str) -> str:
    """Case, '_' and '-' do not matter: ``MobileNetV1`` and ``mobilenet_v1`` are one."""
    return re.sub(r"[_\-\s]", "", name).lower()


def register_model(fn: Builder) -> Builder:
    """Register a builder under its function name; a second one of that name is an error."""
    key = canonical_name(fn.__name__)
    if key in _MODELS:
        raise ValueError(f"model {fn.__name__!r} is already registered")
    _MODELS[key] = fn
    return fn


def get_model_builder(name: str) -> Callable[..., nn.Module]:
    try:
        return _MODELS[canonical_name(name)]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; registered: {', '.join(list_models())}") from None


def list_models() -> list[str]:
    """Registered model names, sorted."""
    return sorted(fn.__name__ for fn in _MODELS.values())
