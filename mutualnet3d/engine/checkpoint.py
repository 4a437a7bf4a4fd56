"""Checkpoints: PySlowFast's layout, written atomically, loaded without running pickles.

``OUTPUT_DIR/checkpoints/checkpoint_epoch_{:05d}.pyth`` holds the epoch, the model state
(calibrated BN statistics included), the optimizer and grad-scaler states, every
process's RNG states and the config. A file is written to a temporary name beside its
target and renamed over it only once complete, so a kill never leaves a broken
checkpoint; loading uses ``torch.load(weights_only=True)``. The RNG states also tell our
checkpoints from PySlowFast's, which hold none (:mod:`.weights_file`).
"""

from __future__ import annotations

import io
import logging
import os
import random
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel

from .distributed import all_gather_objects, get_rank, get_world_size, is_main_process
from .pretrained import load_for_test

__all__ = [
    "Checkpointer",
    "checkpoint_dir",
    "checkpoint_path",
    "save_checkpoint",
    "load_checkpoint_file",
    "latest_checkpoint",
    "load_for_eval",
    "rank_rng_state",
    "rng_state",
    "set_rng_state",
    "unwrap",
]

logger = logging.getLogger(__name__)
_NAME = re.compile(r"^checkpoint_epoch_(\d{5})\.pyth$")


def checkpoint_dir(output_dir: str) -> Path:
    return Path(output_dir) / "checkpoints"


def checkpoint_path(output_dir: str, epoch: int) -> Path:
    """PySlowFast's name for the checkpoint after ``epoch`` (1-based) epochs."""
    return checkpoint_dir(output_dir) / f"checkpoint_epoch_{epoch:05d}.pyth"


def save_checkpoint(path: os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint_file(path: os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a checkpoint without executing pickled code (``weights_only=True``)."""
    return torch.load(path, map_location=map_location, weights_only=True)


def latest_checkpoint(output_dir: str) -> Optional[Path]:
    """The newest checkpoint in ``output_dir`` that loads, or None.

    A file that does not load (truncated or corrupt, e.g. copied by hand) is skipped
    with a warning naming it, and the next newest is tried.
    """
    folder = checkpoint_dir(output_dir)
    if not folder.is_dir():
        return None
    found = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name)))
    for _, path in reversed(found):
        try:
            state = load_checkpoint_file(path)
        except Exception as error:  # noqa: BLE001 - any unreadable file is skipped
            logger.warning("skipping unreadable checkpoint %s: %s", path, error)
            continue
        if "model_state" in state and "epoch" in state:
            return path
        logger.warning("skipping checkpoint %s: no model_state/epoch", path)
    return None


def load_for_eval(
    model: nn.Module,
    checkpoint: str,
    output_dir: str,
    checkpoint_type: str = "pytorch",
    *,
    fallback: str = "",
    fallback_type: str = "pytorch",
) -> Optional[Path]:
    """Weights for calibration, search and test, in PySlowFast's order: ``checkpoint`` if
    given (TEST.CHECKPOINT_FILE_PATH, of type ``checkpoint_type``: TEST.CHECKPOINT_TYPE),
    else the newest of ``output_dir``, else ``fallback`` (TRAIN.CHECKPOINT_FILE_PATH, of
    type ``fallback_type``: where PySlowFast's c2/ test files name the zoo's weights);
    None (and a warning) when there is none, leaving the initial weights.

    ``checkpoint`` may be in any format :func:`~.pretrained.load_for_test` takes (ours
    loads strictly; PyTorchVideo's, PySlowFast's and Caffe2's must define the whole network);
    the newest checkpoint of ``output_dir`` is ours and loads strictly.
    """
    if checkpoint:
        load_for_test(model, checkpoint, checkpoint_type=checkpoint_type, logger=logger)
        return Path(checkpoint)
    path = latest_checkpoint(output_dir)
    if path is None and fallback:
        load_for_test(model, fallback, checkpoint_type=fallback_type, logger=logger)
        return Path(fallback)
    if path is None:
        logger.warning("no checkpoint found: evaluating the initial weights")
        return None
    model.load_state_dict(load_checkpoint_file(path)["model_state"], strict=True)
    logger.info("loaded %s", path)
    return path


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel wrapper (or the model itself)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


@dataclass(frozen=True)
class Checkpointer:
    """Writes a run's checkpoints (main process only) in PySlowFast's layout.

    Each holds the epoch, the model state (calibrated BN statistics included), the
    optimizer and grad-scaler states, the RNG states and the config (``config_text``,
    the YAML of the run's config) under ``"cfg"``, as before.
    """

    output_dir: str
    config_text: str

    def save(
        self,
        model: nn.Module,
        epoch: int,
        optimizer: Optional[torch.optim.Optimizer] = None,
        scaler: Optional[torch.amp.GradScaler] = None,
        name: Optional[str] = None,
    ) -> Optional[Path]:
        """``checkpoint_epoch_{epoch:05d}.pyth`` (or ``name``); None off the main process.

        Every process must call it: each one's RNG states are gathered (``rng_states``,
        in rank order; ``rng_state`` is rank 0's, as before) so that each rank of a
        resumed run draws what it would have drawn (:func:`rank_rng_state`)."""
        states = _gather_rng_states()
        if not is_main_process():
            return None
        state = {
            "epoch": epoch,
            "model_state": unwrap(model).state_dict(),
            "optimizer_state": optimizer.state_dict() if optimizer is not None else None,
            "scaler_state": scaler.state_dict() if scaler is not None else None,
            "rng_state": states[0],
            "rng_states": states,
            "cfg": self.config_text,
        }
        path = (
            checkpoint_path(self.output_dir, epoch)
            if name is None
            else checkpoint_dir(self.output_dir) / name
        )
        save_checkpoint(path, state)
        logger.info("saved checkpoint %s", path)
        return path


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch (and CUDA) RNG states, in weights-only-loadable types."""
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].copy()), *np_state[2:]],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _gather_rng_states() -> list[dict[str, Any]]:
    """Every process's :func:`rng_state`, in rank order. Each travels as the bytes of
    ``torch.save`` and is read back with ``weights_only=True``: gathering tensors inside
    objects fails in torch 2.14 (UntypedStorage has no dtype), and no peer's pickle runs."""
    buffer = io.BytesIO()
    torch.save(rng_state(), buffer)
    blobs = all_gather_objects(buffer.getvalue())
    return [torch.load(io.BytesIO(blob), weights_only=True) for blob in blobs]


def rank_rng_state(checkpoint: dict[str, Any], path: os.PathLike) -> Optional[dict[str, Any]]:
    """This rank's RNG states in ``checkpoint`` (read from ``path``), or None if it has
    none. A checkpoint written by another number of processes (or before per-rank
    states were saved) gives rank 0's to every rank, with a warning: the run goes on,
    but its random draws differ from an uninterrupted run's."""
    states = checkpoint.get("rng_states")
    if states is not None and len(states) == get_world_size():
        return states[get_rank()]
    if get_world_size() > 1:
        saved = f"{len(states)} processes" if states is not None else "rank 0 only"
        logger.warning(
            "%s holds the random states of %s, resumed by %d processes: every rank "
            "restarts from rank 0's, so random draws differ from an uninterrupted run",
            path,
            saved,
            get_world_size(),
        )
    return checkpoint.get("rng_state")


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_to_tuple(state["python"]))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy(), *rest))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_tuple(value: Any) -> Any:
    # random.setstate wants tuples; a round trip may turn them into lists.
    return tuple(_to_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value
