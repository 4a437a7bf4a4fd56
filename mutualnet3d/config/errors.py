"""The one error type of the config package, and small checks that raise it."""

from __future__ import annotations

from numbers import Real
from typing import Any

__all__ = ["ConfigError", "check_whole", "is_number"]


class ConfigError(ValueError):
    """A config that cannot run; the message names the key (and file) at fault."""


def is_number(value: Any) -> bool:
    """True for ints and floats; False for bools, which YAML turns ``yes`` into."""
    return isinstance(value, Real) and not isinstance(value, bool)


def check_whole(key: str, value: Any, minimum: int) -> None:
    """Raise unless ``value`` is an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key} must be a whole number >= {minimum}, got {value!r}")
