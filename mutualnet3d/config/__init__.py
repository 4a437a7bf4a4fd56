"""Configuration: an fvcore ``CfgNode`` with PySlowFast's keys plus ``MUTUALNET``.

Used only at the edge (``tools/run_net.py``, the engine's ``RunSpec``, ``build_model``):
modules take explicit arguments. :func:`load_config` merges YAML files (with ``_BASE_``)
and ``KEY VALUE`` overrides, then validates: every mistake that can be seen before
training is refused there, with one line naming the keys and values. Nothing is frozen
and validation never changes a value.
"""

from __future__ import annotations

import os
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
    file that sets it; a value of the wrong type names the key too. ``processes``: the
    job's process count when the launcher decides it (see :func:`check_process_layout`).
    """
    cfg = get_cfg()
    if isinstance(cfg_files, (str, os.PathLike)):
        cfg_files = [cfg_files]
    for path in map(os.fspath, cfg_files or []):
        if _read_yaml(path) is None:
            continue  # an empty (or comments-only) file sets nothing
        try:
            cfg.merge_from_file(path)
        except KeyError as error:  # yacs: "Non-existent config key: A.B"
            key = _key_from_error(error)
            where = _file_setting(key, path) or path
            if where != path:
                where = f"{where} (a _BASE_ of {path})"
            raise ConfigError(f"{where}: {_unknown(key)}") from None
        except _MERGE_ERRORS as error:
            raise ConfigError(f"{path}: {error}") from None
    _merge_overrides(cfg, list(opts or []))
    validate_cfg(cfg, processes)
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
    """The mapping a YAML file holds (None if empty); ConfigError if it is not one."""
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file ({error})") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: must hold a mapping of keys, got {type(data)}")
    return data


def _file_setting(key: str, path: str) -> Optional[str]:
    """The file of ``path``'s ``_BASE_`` chain that sets ``key`` (None if not found).

    yacs reports an unknown key only after the chain is merged; naming the base file
    that holds it saves the user a search.
    """
    try:
        data = _read_yaml(path) or {}
    except ConfigError:
        return None
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            break
        node = node[part]
    else:
        return path
    bases = data.get(BASE_KEY) or []
    for base in [bases] if isinstance(bases, str) else bases:
        # fvcore resolves a relative _BASE_ against the including file's folder.
        base = os.path.expanduser(base)
        if not base.startswith(("/", "https://", "http://")):
            base = os.path.join(os.path.dirname(path), base)
        found = _file_setting(key, base)
        if found is not None:
            return found
    return None
