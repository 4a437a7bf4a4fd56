"""Checkpoints: PySlowFast's layout, written atomically, loaded without running pickles.

``OUTPUT_DIR/checkpoints/checkpoint_epoch_{:05d}.pyth`` holds the epoch, the model state
(calibrated BN statistics included), the optimizer and grad-scaler states, every
process's RNG states and the config. A file is written to a temporary name beside its
target and renamed over it only once complete, so a kill never leaves a broken
checkpoint; loading uses ``torch.load(weights_only=True)``. The RNG states also tell our
checkpoints from PySlowFast's, which hold none (:mod:`.weights_file`).

No checkpoint with a NaN or an infinity is written (:class:`~.finite.NonFiniteError`
instead, naming the tensor and the last good checkpoint), so the newest one on disk is
the last good one. Auto-resume and evaluation take the newest checkpoint that loads
completely into the model (:func:`usable_checkpoint`), passing over, with a warning each,
unreadable ones, other models' and non-finite ones. A run starts by checking its output
folders writable (:func:`check_writable`) and removing the temporary files of writes a
kill interrupted (:func:`remove_stale_temporaries`); a write in progress holds a lock on
its temporary file (POSIX), which the removal respects.
"""

from __future__ import annotations

import io
import logging
import os
import random
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterable, Optional

import numpy as np
import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel

from .distributed import all_gather_objects, get_rank, get_world_size, is_main_process
from .finite import NonFiniteError, first_non_finite, non_finite_state
from .pretrained import load_for_test
from .weights_file import CheckpointError, unreadable

try:
    import fcntl
except ImportError:  # not POSIX: no locks, a run removes every temporary file it finds
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "Checkpointer",
    "OutputFolderError",
    "check_writable",
    "checkpoint_dir",
    "checkpoint_path",
    "last_good",
    "save_checkpoint",
    "load_checkpoint_file",
    "latest_checkpoint",
    "load_for_eval",
    "rank_rng_state",
    "remove_stale_temporaries",
    "require_finite",
    "rng_state",
    "set_rng_state",
    "unwrap",
    "usable_checkpoint",
]

logger = logging.getLogger(__name__)
_NAME = re.compile(r"^checkpoint_epoch_(\d{5})\.pyth$")
# save_checkpoint's temporary files: mkstemp(prefix=".{name}.", suffix=".tmp")
_TEMPORARY = ".checkpoint_*.tmp"
# A temporary file modified this recently may be between its creation and its lock.
_FRESH_S = 5.0
# A slim BN's calibrated statistics, registered on demand when a state dict holds them.
_CALIBRATED = re.compile(r"(?:^|\.)stats_\w+_(?:mean|var)$")


class OutputFolderError(OSError):
    """An output folder that cannot be written; the message names it."""


def checkpoint_dir(output_dir: str) -> Path:
    return Path(output_dir) / "checkpoints"


def checkpoint_path(output_dir: str, epoch: int) -> Path:
    """PySlowFast's name for the checkpoint after ``epoch`` (1-based) epochs."""
    return checkpoint_dir(output_dir) / f"checkpoint_epoch_{epoch:05d}.pyth"


def save_checkpoint(path: os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file, fsync, rename).

    Raises:
        NonFiniteError: a floating tensor of ``state`` holds a NaN or an infinity; it is
            named, with the epoch (``state["epoch"]``) and the last good checkpoint of the
            folder, and nothing is written.
    """
    path = Path(path)
    bad = first_non_finite(state)
    if bad is not None:
        raise NonFiniteError(
            f"{_when(path, state)}: {bad}; {path.name} not written, {last_good(path.parent)}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if fcntl is not None:  # a run starting meanwhile keeps a locked file
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
            if fcntl is not None:
                os.replace(tmp, path)  # renamed while still locked
        if fcntl is None:
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _when(path: Path, state: Any) -> str:
    epoch = state.get("epoch") if isinstance(state, dict) else None
    if epoch is not None and _NAME.match(path.name):
        return f"end of epoch {epoch}"
    return f"writing {path.name}" + (f" (epoch {epoch})" if epoch is not None else "")


def last_good(folder: os.PathLike) -> str:
    """``"the last good checkpoint is <path>"``: the newest readable checkpoint of the
    checkpoint folder ``folder``; or that there is none."""
    folder = Path(folder)
    for path in _numbered(folder):
        try:
            state = load_checkpoint_file(path)
        except CheckpointError:
            continue
        if isinstance(state, dict) and "model_state" in state:
            return f"the last good checkpoint is {path}"
    return f"there is no good checkpoint in {folder}"


def load_checkpoint_file(path: os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a checkpoint without executing pickled code (``weights_only=True``).

    Raises:
        CheckpointError: the file is not readable so (empty, text, truncated, pickled
            code), in one line naming it.
    """
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:  # noqa: BLE001 - torch raises many kinds; all are named
        raise unreadable(path, error, "as a PyTorch file with weights_only=True") from None


def _numbered(folder: Path) -> list[Path]:
    """``folder``'s ``checkpoint_epoch_*.pyth`` files, newest first."""
    if not folder.is_dir():
        return []
    found = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name)))
    return [path for _, path in reversed(found)]


def latest_checkpoint(output_dir: str) -> Optional[Path]:
    """The newest checkpoint in ``output_dir`` that loads, or None.

    A file that does not load (truncated or corrupt, e.g. copied by hand) is skipped
    with a warning naming it, and the next newest is tried. Whether it fits a model is
    :func:`usable_checkpoint`'s question.
    """
    for path in _numbered(checkpoint_dir(output_dir)):
        try:
            state = load_checkpoint_file(path)
        except CheckpointError as error:
            logger.warning("skipping unreadable checkpoint %s", error)
            continue
        if isinstance(state, dict) and "model_state" in state and "epoch" in state:
            return path
        logger.warning("skipping checkpoint %s: no model_state/epoch", path)
    return None


def _misfit(model: nn.Module, state: Any) -> Optional[str]:
    """Why ``state`` would not load strictly into ``model`` (None: it would)."""
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        return "its model_state is not a state dict of tensors"
    own = model.state_dict()
    shapes = [
        f"{k}: {tuple(v.shape)} in the file vs {tuple(own[k].shape)} in the model"
        for k, v in state.items()
        if k in own and v.shape != own[k].shape
    ]
    if shapes:
        return f"wrong shapes ({len(shapes)} tensors), first {shapes[0]}"
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own and not _CALIBRATED.search(k)]
    if not missing and not unexpected:
        return None
    first = [f"first missing {missing[0]}"] if missing else []
    first += [f"first unexpected {unexpected[0]}"] if unexpected else []
    return (
        f"another model's keys: {len(missing)} of the model's missing, {len(unexpected)} "
        f"unexpected ({', '.join(first)})"
    )


def _unusable(path: Path, model: nn.Module, keys: tuple[str, ...]) -> tuple[Any, Optional[str]]:
    """``(state, None)`` when ``path`` loads completely into ``model`` with finite
    ``keys`` of its state, else ``(None, why not)``."""
    try:
        state = load_checkpoint_file(path)
    except CheckpointError as error:
        return None, f"unreadable: {str(error).removeprefix(f'{path}: ')}"
    if not isinstance(state, dict) or "model_state" not in state or "epoch" not in state:
        return None, "no model_state and epoch (not a checkpoint of this library)"
    misfit = _misfit(model, state["model_state"])
    if misfit is not None:
        return None, misfit
    bad = first_non_finite({key: state.get(key) for key in keys})
    if bad is not None:
        return None, f"non-finite tensor {bad}"
    return state, None


def usable_checkpoint(
    output_dir: str, model: nn.Module, *, optimizer_state: bool = False
) -> Optional[tuple[Path, dict[str, Any]]]:
    """The newest checkpoint of ``output_dir`` that loads completely into ``model``, and
    its state; None when the folder has no checkpoint.

    Each newer one is passed over with a warning naming it and why: unreadable (empty,
    truncated...), wrong shapes (the first key and both shapes), another model's keys
    (missing and unexpected counts), a NaN or an infinity in its model state (and, with
    ``optimizer_state``, in its optimizer state).

    Raises:
        CheckpointError: there are checkpoints, and none loads (each named, with why).
    """
    folder = checkpoint_dir(output_dir)
    keys = ("model_state", "optimizer_state") if optimizer_state else ("model_state",)
    passed = []
    for path in _numbered(folder):
        state, problem = _unusable(path, model, keys)
        if problem is None:
            return path, state
        logger.warning("passing over checkpoint %s: %s", path, problem)
        passed.append(f"{path.name}: {problem}")
    if not passed:
        return None
    shown = "; ".join(passed[:3]) + ("; ..." if len(passed) > 3 else "")
    raise CheckpointError(
        f"{folder}: none of its {len(passed)} checkpoints loads into this "
        f"{type(model).__name__} ({shown}); move them away or use another OUTPUT_DIR"
    )


def require_finite(model: nn.Module, output_dir: str, when: str) -> None:
    """Raises :class:`~.finite.NonFiniteError` naming ``when``, the model's first
    non-finite parameter or buffer and the last good checkpoint of ``output_dir``."""
    bad = non_finite_state(unwrap(model))
    if bad is not None:
        raise NonFiniteError(f"{when}: {bad}; {last_good(checkpoint_dir(output_dir))}")


def check_writable(folders: Iterable[os.PathLike]) -> None:
    """Each folder made if missing, and a file created and removed in it.

    Raises:
        OutputFolderError: naming the first folder that cannot be written (read-only, a
            file in its place, a full disk...).
    """
    for folder in map(Path, folders):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".write_probe.", dir=folder)
            os.close(fd)
            os.unlink(probe)
        except OSError as error:
            reason = error.strerror or str(error)
            raise OutputFolderError(
                f"{folder}: the output folder is not writable ({type(error).__name__}: "
                f"{reason}); nothing was run"
            ) from None


def _unlocked(f: IO[bytes]) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def remove_stale_temporaries(output_dir: str) -> tuple[int, int]:
    """Remove the temporary files (``.checkpoint_*.tmp``) that writes interrupted by a
    kill left in ``output_dir``'s checkpoint folder; one being written (locked, or
    modified in the last seconds) stays. Logs and returns ``(files, bytes)`` removed."""
    folder = checkpoint_dir(output_dir)
    count = size = 0
    for path in sorted(folder.glob(_TEMPORARY)) if folder.is_dir() else []:
        try:
            with open(path, "rb") as f:
                stat = os.fstat(f.fileno())
                if time.time() - stat.st_mtime < _FRESH_S or not _unlocked(f):
                    continue
            path.unlink()
        except FileNotFoundError:
            continue
        count, size = count + 1, size + stat.st_size
    if count:
        logger.info(
            "removed %d stale temporary file(s) of interrupted checkpoint writes (%d bytes) "
            "from %s",
            count,
            size,
            folder,
        )
    return count, size


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
    the newest checkpoint of ``output_dir`` that loads completely into the model
    (:func:`usable_checkpoint`) is taken, strictly. A file with a NaN or an infinity is
    an error (a given one) or passed over (``output_dir``'s).
    """
    if checkpoint:
        load_for_test(model, checkpoint, checkpoint_type=checkpoint_type, logger=logger)
        return Path(checkpoint)
    found = usable_checkpoint(output_dir, model)
    if found is None and fallback:
        load_for_test(model, fallback, checkpoint_type=fallback_type, logger=logger)
        return Path(fallback)
    if found is None:
        logger.warning("no checkpoint found: evaluating the initial weights")
        return None
    path, state = found
    model.load_state_dict(state["model_state"], strict=True)
    logger.info("loaded %s", path)
    return path


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel wrapper (or the model itself)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


@dataclass(frozen=True)
class Checkpointer:
    """Writes a run's checkpoints (main process only) in PySlowFast's layout.

    Each holds the epoch, the model state (calibrated BN statistics included), the
    optimizer and grad-scaler states, the optimizer's class name (``"optimizer_name"``:
    a resume with another is refused), the RNG states and the config (``config_text``,
    the YAML of the run's config) under ``"cfg"``, as before. Nothing non-finite is
    written (:func:`save_checkpoint`).
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
            "optimizer_name": type(optimizer).__name__ if optimizer is not None else None,
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
