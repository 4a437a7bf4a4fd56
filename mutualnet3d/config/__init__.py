"""Configuration: an fvcore ``CfgNode`` with PySlowFast's keys plus ``MUTUALNET``.

Used only at the edge (``tools/run_net.py``, the engine's ``RunSpec``, ``build_model``):
modules take explicit arguments. :func:`load_config` merges YAML files (with ``_BASE_``)
and ``KEY VALUE`` overrides, then validates: every mistake that can be seen before
training is refused there, with one line naming the keys and values. Nothing is frozen
and validation never changes a value.
"""

from __future__ import annotations

import os
import re
from typing import Any, Optional, Sequence, Union

import yaml
from fvcore.common.config import BASE_KEY, CfgNode

from .compat import check_fixed, equivalent_settings, not_built_node
from .data import add_data_config, validate_data
from .defaults import add_run_config, check_process_layout, sync_bn_group, validate_run
from .errors import ConfigError, ConfigWarning
from .model import add_model_config, validate_model
from .mutualnet import (
    add_mutualnet_config,
    check_against_model,
    eval_grid,
    eval_widths,
    validate_mutualnet,
)

__all__ = [
    "ConfigError",
    "ConfigWarning",
    "check_process_layout",
    "eval_grid",
    "equivalent_settings",
    "eval_widths",
    "get_cfg",
    "load_config",
    "sync_bn_group",
    "validate_cfg",
]

PathLike = Union[str, "os.PathLike[str]"]

# What merging a file raises besides unknown keys: type mismatches (yacs names the key),
# unreadable or invalid _BASE_ files, "Cannot inherit key" from fvcore.
_MERGE_ERRORS = (ValueError, AssertionError, TypeError, OSError, yaml.YAMLError)


def get_cfg() -> CfgNode:
    """A fresh, unfrozen config holding every default."""
    cfg = CfgNode()
    add_run_config(cfg)
    add_data_config(cfg)
    add_model_config(cfg)
    add_mutualnet_config(cfg)
    return cfg


def validate_cfg(cfg: CfgNode, processes: Optional[int] = None) -> None:
    """Raise :class:`ConfigError` naming the first key that cannot work.

    Each node alone first, then the network (built on the meta device) and the sizes
    against it; :class:`ConfigWarning` for evaluated sizes that were never trained.
    ``processes``: see :func:`check_process_layout`.
    """
    validate_mutualnet(cfg.MUTUALNET)
    validate_run(cfg, processes)
    validate_data(cfg)
    check_fixed(cfg)
    check_against_model(cfg, validate_model(cfg))


def load_config(
    cfg_files: Union[PathLike, Sequence[PathLike], None] = None,
    opts: Optional[Sequence[str]] = None,
    *,
    processes: Optional[int] = None,
) -> CfgNode:
    """Defaults, then each YAML file in order, then ``KEY VALUE`` overrides; validated.

    ``opts`` may start with ``--opts`` (PySlowFast's newer command line) or not (its
    older one). An unknown key raises :class:`ConfigError` naming the full key and the
    file that sets it; a value of the wrong type names the key too. A value the
    validation refuses is named with the file that sets it (its ``_BASE_`` chain
    followed), when a file does: ``file: KEY ... got VALUE``. A ``_BASE_`` loop and a
    file that is not UTF-8 are refused naming the files. ``processes``: the job's
    process count when the launcher decides it (see :func:`check_process_layout`).
    """
    cfg = get_cfg()
    if isinstance(cfg_files, (str, os.PathLike)):
        cfg_files = [cfg_files]
    sources: dict[str, str] = {}  # key -> the file that sets it, as messages name it
    for path in map(os.fspath, cfg_files or []):
        settings = _file_settings(path)  # every file of the chain read: loops, encodings
        if _read_yaml(path) is None:
            continue  # an empty (or comments-only) file sets nothing
        try:
            cfg.merge_from_file(path)
        except KeyError as error:  # yacs: "Non-existent config key: A.B"
            key = _key_from_error(error)
            raise ConfigError(f"{_where(_setting(key, settings), path)}: {_unknown(key)}") from None
        except _MERGE_ERRORS as error:
            raise ConfigError(f"{path}: {error}") from None
        sources.update({key: _where(where, path) for key, where in settings.items()})
    opts = list(opts or [])
    _merge_overrides(cfg, opts)
    for key in opts[1 if opts[:1] == ["--opts"] else 0 :: 2]:
        sources[key] = ""  # the command line's value: no file to name
    try:
        validate_cfg(cfg, processes)
    except ConfigError as error:
        where = _source(str(error), sources)
        if where is None:
            raise
        raise ConfigError(f"{where}: {error}") from None
    return cfg


def _merge_overrides(cfg: CfgNode, opts: list[str]) -> None:
    """Merge ``KEY VALUE`` pairs, checking each key first so errors can name it."""
    if opts[:1] == ["--opts"]:
        opts = opts[1:]
    if len(opts) % 2:
        raise ConfigError(f"overrides must be KEY VALUE pairs, got an odd list: {opts}")
    for key in opts[0::2]:
        node: Any = cfg
        for part in key.split("."):
            if not isinstance(node, CfgNode) or part not in node or part == BASE_KEY:
                raise ConfigError(f"command line: {_unknown(key)}")
            node = node[part]
        if isinstance(node, CfgNode):
            raise ConfigError(f"command line: {key} is a node; set {key}.<KEY> instead")
    try:
        cfg.merge_from_list(opts)
    except (ValueError, KeyError, AssertionError) as error:
        raise ConfigError(f"command line: {_message(error)}") from None


def _unknown(key: str) -> str:
    """Why ``key`` is refused: a PySlowFast feature not built here, or no such key."""
    return not_built_node(key) or f"unknown config key {key}"


def _message(error: BaseException) -> str:
    # KeyError's str() is the repr of its argument; show the text itself.
    return str(error.args[0]) if error.args else type(error).__name__


def _key_from_error(error: BaseException) -> str:
    return _message(error).rsplit(":", 1)[-1].strip()


def _read_yaml(path: str) -> Optional[dict[str, Any]]:
    """The mapping a YAML file holds (None if empty); ConfigError if it is not one.

    The file must be UTF-8 (YAML's encoding, and what fvcore reads): other bytes are
    named with their line and byte offset.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file ({error})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ConfigError(
            f"{path}, line {line}: not UTF-8 (byte {raw[error.start]:#04x} at offset "
            f"{error.start}); save the file as UTF-8"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        message = " ".join(str(error).split())  # one line
        raise ConfigError(f"{path}: not valid YAML ({message})") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: must hold a mapping of keys, got {type(data)}")
    return data


def _bases(data: dict[str, Any], path: str) -> list[str]:
    """The ``_BASE_`` files of a file's mapping, resolved as fvcore does (relative to
    the including file's folder); URLs are left to fvcore."""
    bases = data.get(BASE_KEY) or []
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError(f"{path}: _BASE_ must be a file name or a list of them, got {bases!r}")
    resolved = []
    for base in bases:
        if base.startswith(("https://", "http://")):
            continue
        base = os.path.expanduser(base)
        resolved.append(base if base.startswith("/") else os.path.join(os.path.dirname(path), base))
    return resolved


def _file_settings(path: str, chain: tuple[str, ...] = ()) -> dict[str, str]:
    """Each key the file ``path`` sets with its ``_BASE_`` files, and the file that sets
    it, as fvcore merges them (a file over its bases, a later base over an earlier).

    Keys are dotted leaves (``SOLVER.MAX_EPOCH``; a node set to something else than a
    mapping is a leaf). Every file of the chain is read: a ``_BASE_`` loop raises
    :class:`ConfigError` naming the chain of files, where fvcore would recurse forever.
    """
    chain = (*chain, path)
    real = [os.path.realpath(p) for p in chain]
    if real[-1] in real[:-1]:
        raise ConfigError(f"{chain[0]}: _BASE_ files form a loop: {' -> '.join(chain)}")
    data = _read_yaml(path) or {}
    settings: dict[str, str] = {}
    for base in _bases(data, path):
        settings.update(_file_settings(base, chain))
    settings.update((key, path) for key in _leaves(data) if key != BASE_KEY)
    return settings


def _leaves(data: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for name, value in data.items():
        if isinstance(value, dict) and value:
            keys += _leaves(value, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def _setting(key: str, settings: dict[str, str]) -> Optional[str]:
    """The file that sets ``key``, or a key under it (a node), among ``settings``."""
    return next(
        (where for k, where in settings.items() if k == key or k.startswith(f"{key}.")), None
    )


def _where(where: Optional[str], path: str) -> str:
    """How a message names the file: ``path``, or ``base (a _BASE_ of path)``."""
    if where is None or where == path:
        return path
    return f"{where} (a _BASE_ of {path})"


# Dotted upper-case names of a message: the candidates for the keys it names.
_KEY = re.compile(r"\b[A-Z][A-Z0-9_]*(?:\.[A-Z][A-Za-z0-9_]*)*\b")


def _source(message: str, sources: dict[str, str]) -> Optional[str]:
    """The file setting the first key ``message`` names that a file sets (None when the
    key comes from the command line or the defaults)."""
    for key in _KEY.findall(message):
        if key in sources:
            return sources[key] or None
    return None
