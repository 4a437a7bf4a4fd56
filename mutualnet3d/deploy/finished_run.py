"""What deployment reads from a finished run's OUTPUT_DIR.

``tools/run_net.py`` leaves there ``checkpoints/checkpoint_calibrated.pyth`` (the
weights with every searched configuration's BN statistics, written by the calibration
stage), ``search_table.json`` (every configuration's GFLOPs, parameters and accuracy on
the validation split) and, where the latency was measured, ``latency_table.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Optional

import torch.nn as nn

from ..engine.checkpoint import checkpoint_dir, load_checkpoint_file
from ..evaluation import ConfigResult, read_table
from .latency import read_latency_table

__all__ = [
    "CALIBRATED",
    "IncompleteRun",
    "calibrated_checkpoint",
    "latency_rows",
    "load_calibrated",
    "search_rows",
    "sha256_file",
]

#: the calibration stage's checkpoint, in OUTPUT_DIR/checkpoints
CALIBRATED = "checkpoint_calibrated.pyth"


class IncompleteRun(RuntimeError):
    """OUTPUT_DIR lacks what deployment needs, or holds it unreadable (one line)."""


def calibrated_checkpoint(output_dir: str) -> Path:
    """``OUTPUT_DIR/checkpoints/checkpoint_calibrated.pyth``; IncompleteRun if missing."""
    path = checkpoint_dir(output_dir) / CALIBRATED
    if not path.is_file():
        raise IncompleteRun(
            f"{path}: no calibrated checkpoint; run the calibration and search of this "
            "config first (tools/run_net.py with MUTUALNET.CALIBRATE and SEARCH True)"
        )
    return path


def load_calibrated(model: nn.Module, output_dir: str) -> Path:
    """Load the calibrated checkpoint into ``model`` (strictly, ``weights_only=True``);
    returns its path.

    Raises:
        IncompleteRun: missing, unreadable, or another model's weights.
    """
    path = calibrated_checkpoint(output_dir)
    try:
        state = load_checkpoint_file(path)
    except Exception as error:  # noqa: BLE001 - CheckpointError's message names the file
        raise IncompleteRun(str(error)) from None
    if not isinstance(state, dict) or "model_state" not in state:
        raise IncompleteRun(f"{path}: not a checkpoint of this library (no model_state)")
    try:
        model.load_state_dict(state["model_state"], strict=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise IncompleteRun(
            f"{path} does not load into this {type(model).__name__} (is it this config's "
            f"run?): {first}"
        ) from None
    return path


def _table_path(output_dir: str, name: str) -> Path:
    return Path(output_dir) / name


def search_rows(output_dir: str) -> tuple[list[ConfigResult], str]:
    """``search_table.json``'s configurations and its metric's name (top1, map)."""
    path = _table_path(output_dir, "search_table.json")
    if not path.is_file():
        raise IncompleteRun(
            f"{path}: no search table; run the search of this config first "
            "(tools/run_net.py with MUTUALNET.SEARCH True)"
        )
    with open(path) as f:
        metric = json.load(f)["metric"]
    return read_table(str(path)), metric


def latency_rows(
    output_dir: str, batch_size: Optional[int] = None
) -> Optional[list[tuple[ConfigResult, float]]]:
    """``latency_table.json``'s configurations (``tools/measure_latency.py``) with their
    median ms at ``batch_size`` (default: the first measured); None if absent."""
    path = _table_path(output_dir, "latency_table.json")
    if not path.is_file():
        return None
    table = read_latency_table(str(path))
    cost = table.cost(batch_size)
    return [(row.result, cost(row)) for row in table.rows]


def sha256_file(path: os.PathLike) -> str:
    """The file's SHA-256, hexadecimal."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
