"""The error and warning types of the config package, and the small checks that raise them."""

from __future__ import annotations

from numbers import Real
from typing import Any, Sequence

__all__ = [
    "ConfigError",
    "ConfigWarning",
    "check_choice",
    "check_whole",
    "is_number",
    "lookup",
]


class ConfigError(ValueError):
    """A config that cannot run; the message names the key (and file) at fault."""


class ConfigWarning(UserWarning):
    """A config that runs but probably not as meant; the message names the keys."""


def is_number(value: Any) -> bool:
    """True for ints and floats; False for bools, which YAML turns ``yes`` into."""
    return isinstance(value, Real) and not isinstance(value, bool)


def check_whole(key: str, value: Any, minimum: int) -> None:
    """Raise unless ``value`` is an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key} must be a whole number >= {minimum}, got {value!r}")


def check_choice(key: str, value: Any, choices: Sequence[Any]) -> None:
    """Raise unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"{key} must be one of {list(choices)}, got {value!r}")


def lookup(cfg: Any, key: str) -> Any:
    """The value of a dotted ``key`` of a config ("NUM_GPUS", "SOLVER.BASE_LR")."""
    node = cfg
    for part in key.split("."):
        node = node[part]
    return node
