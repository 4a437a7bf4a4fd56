"""Configuration: an fvcore ``CfgNode`` with PySlowFast's key names plus ``MUTUALNET``.

Used only at the edge (``tools/run_net.py``, ``build_model``): modules take explicit
arguments. ``load_config`` merges YAML files and ``KEY VALUE`` overrides and validates;
validation never changes a value.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

from fvcore.common.config import CfgNode

from .data import add_data_config
from .defaults import add_run_config
from .model import add_model_config
from .mutualnet import ConfigError, add_mutualnet_config, eval_widths, validate_mutualnet

__all__ = [
    "ConfigError",
    "eval_grid",
    "eval_widths",
    "full_frames",
    "get_cfg",
    "load_config",
    "validate_cfg",
]


def get_cfg() -> CfgNode:
    """A fresh config holding every default."""
    cfg = CfgNode()
    add_run_config(cfg)
    add_data_config(cfg)
    add_model_config(cfg)
    add_mutualnet_config(cfg)
    return cfg


def _key_from_error(error: BaseException) -> str:
    # yacs: KeyError("Non-existent config key: A.B") / AssertionError("Non-existent key: A.B")
    text = error.args[0] if error.args else str(error)
    return str(text).rsplit(":", 1)[-1].strip()


def load_config(
    cfg_files: Union[str, Sequence[str], None] = None,
    opts: Optional[Sequence[str]] = None,
) -> CfgNode:
    """Defaults, then each YAML file in order, then ``KEY VALUE`` overrides; validated.

    ``opts`` may start with ``--opts`` (PySlowFast's newer command line) or not (its
    documented one). Unknown keys raise :class:`ConfigError` naming the key and file.
    """
    cfg = get_cfg()
    files = [cfg_files] if isinstance(cfg_files, str) else list(cfg_files or [])
    for path in files:
        try:
            cfg.merge_from_file(path)
        except (KeyError, AssertionError) as error:
            raise ConfigError(f"{path}: unknown config key {_key_from_error(error)}") from None
        except ValueError as error:
            raise ConfigError(f"{path}: {error}") from None
    opts = list(opts or [])
    if opts[:1] == ["--opts"]:
        opts = opts[1:]
    if len(opts) % 2:
        raise ConfigError(f"overrides must be KEY VALUE pairs, got an odd list: {opts}")
    try:
        cfg.merge_from_list(opts)
    except (KeyError, AssertionError) as error:
        raise ConfigError(f"command line: unknown config key {_key_from_error(error)}") from None
    except ValueError as error:
        raise ConfigError(f"command line: {error}") from None
    validate_cfg(cfg)
    return cfg


def validate_cfg(cfg: CfgNode) -> None:
    """Raise :class:`ConfigError` naming the first key that cannot work."""
    validate_mutualnet(cfg.MUTUALNET)
    if cfg.NUM_GPUS < 0:
        raise ConfigError(f"NUM_GPUS must be >= 0, got {cfg.NUM_GPUS}")
    if cfg.NUM_SHARDS < 1 or not 0 <= cfg.SHARD_ID < cfg.NUM_SHARDS:
        raise ConfigError(
            f"SHARD_ID must be in [0, NUM_SHARDS), got SHARD_ID={cfg.SHARD_ID}, "
            f"NUM_SHARDS={cfg.NUM_SHARDS}"
        )
    processes = max(1, cfg.NUM_GPUS) * cfg.NUM_SHARDS
    for key in ("TRAIN", "TEST"):
        if cfg[key].BATCH_SIZE % processes:
            raise ConfigError(
                f"{key}.BATCH_SIZE ({cfg[key].BATCH_SIZE}) must be divisible by the "
                f"number of processes (max(1, NUM_GPUS) x NUM_SHARDS = {processes})"
            )


def full_frames(cfg: CfgNode) -> Optional[int]:
    """Frames of the (Slow) pathway at the full configuration; None for 2D networks."""
    if cfg.MODEL.ARCH == "2d":
        return None
    if cfg.MODEL.ARCH in cfg.MODEL.MULTI_PATHWAY_ARCH:
        return cfg.DATA.NUM_FRAMES // cfg.SLOWFAST.ALPHA
    return cfg.DATA.NUM_FRAMES


def eval_grid(cfg: CfgNode) -> tuple[list[float], list[int], list[Optional[int]]]:
    """(widths, spatial sizes, temporal sizes) of the configurations to evaluate.

    Sizes are sorted largest first; empty lists fall back as the MUTUALNET keys say.
    """
    node = cfg.MUTUALNET
    spatial = list(node.EVAL_SPATIAL_SIZES or node.SPATIAL_SIZES or [cfg.DATA.TRAIN_CROP_SIZE])
    frames = full_frames(cfg)
    temporal: list[Optional[int]] = [None]
    if frames is not None:
        temporal = list(node.EVAL_TEMPORAL_SIZES or node.TEMPORAL_SIZES or [frames])
    return eval_widths(cfg), sorted(spatial, reverse=True), sorted(temporal, reverse=True)
