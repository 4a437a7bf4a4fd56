"""A weights file read and its format recognised, without running pickled code.

:func:`read_weights` tells the formats apart from the file itself:

* a zip file (PyTorch's format since 1.6) or a pickle opening with PyTorch's legacy magic
  number is a PyTorch file, read with ``torch.load(weights_only=True)``; its payload is
  then, in this order:

  - ``"mutualnet3d"``: our checkpoint (``model_state``, ``epoch`` and ``rng_state``:
    :class:`~.checkpoint.Checkpointer` writes RNG states, PySlowFast does not);
  - ``"pyslowfast"``: PySlowFast's own models (``s1.pathway0_stem...``; any family of
    :data:`~.pyslowfast_names.FAMILIES`) under ``model_state``;
  - ``"pyslowfast-ptv"``: PySlowFast's PTV* models (``ptv_model_builder.py``), which keep
    PyTorchVideo's network as ``self.model``: a PySlowFast checkpoint (``model_state`` and
    ``epoch``) with ``model.`` keys, or a state dict whose keys are all under ``model.``;
    the prefix is removed (a PTV detector's ``detection_head`` keys keep their names);
  - ``"pytorchvideo"``: the rest: PyTorchVideo state dicts, plain or as its hub files
    store them (``{"model_state": ...}``);

* any other pickle is a ``"caffe2"`` checkpoint, read by :mod:`.caffe2`'s restricted
  unpickler; with ``checkpoint_type="caffe2"`` (PySlowFast's CHECKPOINT_TYPE) the file
  must be one.

DDP's ``module.`` prefixes are removed in every format. A file that is none of these
(an empty or a text file among them: :func:`unreadable`) or that holds a NaN or an
infinity raises :class:`CheckpointError` naming the file and the format it was taken for
(and the first non-finite tensor).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from typing import Any, Mapping

import torch

from .caffe2 import ForbiddenGlobal, caffe2_blobs, caffe2_to_pyslowfast, read_pickle
from .finite import first_non_finite
from .pyslowfast_names import is_pyslowfast_state

__all__ = [
    "CHECKPOINT_TYPES",
    "FORMATS",
    "CheckpointError",
    "WeightsFile",
    "read_weights",
    "strip_prefix",
    "unreadable",
]

#: format -> what it is (the log names both)
FORMATS: dict[str, str] = {
    "mutualnet3d": "our checkpoint",
    "pytorchvideo": "PyTorchVideo's names: a state dict or a hub file",
    "pyslowfast": "a PySlowFast checkpoint of its own models",
    "pyslowfast-ptv": "a PySlowFast checkpoint of a PTV* model, model. prefix removed",
    "caffe2": "a Caffe2 pickle, PySlowFast's blob names",
}
#: PySlowFast's TRAIN/TEST.CHECKPOINT_TYPE values
CHECKPOINT_TYPES = ("pytorch", "caffe2")
_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization's MAGIC_NUMBER


class CheckpointError(ValueError):
    """A weights file that cannot be used; the message names the file and its format."""


@dataclass(frozen=True)
class WeightsFile:
    """A file's tensors: PySlowFast's names (formats pyslowfast, caffe2: unmapped Caffe2
    blobs keep their names) or PyTorchVideo's / ours (the others)."""

    path: str
    format: str
    state: dict[str, torch.Tensor]
    skipped: tuple[str, ...] = ()  # entries that are not weights (Caffe2's solver blobs)
    # Epochs the file's run had finished (PySlowFast stores the last one's 0-based index);
    # None when the file does not say (state dicts, hub and Caffe2 files).
    epochs_done: int | None = None

    @property
    def pyslowfast_names(self) -> bool:
        return self.format in ("pyslowfast", "caffe2")

    def error(self, problem: str) -> CheckpointError:
        """A :class:`CheckpointError` naming the file and the format it was taken for."""
        return CheckpointError(
            f"{self.path} (taken for {self.format}: {FORMATS[self.format]}): {problem}"
        )


def strip_prefix(state: Mapping[str, Any], prefix: str = "module.") -> dict[str, Any]:
    """``state`` with every leading ``prefix`` removed (DDP's ``module.``, repeated)."""
    out: dict[str, Any] = {}
    for key, value in state.items():
        while key.startswith(prefix):
            key = key[len(prefix) :]
        out[key] = value
    return out


def _text_head(path: str) -> str | None:
    """The first line's start when the file opens with text (UTF-8, no control bytes)."""
    with open(path, "rb") as f:
        raw = f.read(256)
    head = raw.decode("utf-8", errors="replace")
    if len(raw) == 256:
        head = head.rstrip("\ufffd")  # perhaps a character cut in two
    if not head.strip() or any(
        c == "\ufffd" or (c not in "\t\n\r" and not c.isprintable()) for c in head
    ):
        return None
    return head.strip().splitlines()[0][:40]


def unreadable(path: str | os.PathLike, error: BaseException, reader: str) -> CheckpointError:
    """A one-line :class:`CheckpointError` for a file ``reader`` could not read: an empty
    file, a text file (its first characters), or ``error``'s type and message."""
    path = os.fspath(path)
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        return CheckpointError(f"{path}: empty file (0 bytes), not a checkpoint")
    try:
        head = _text_head(path)
    except OSError:
        head = None
    if head is not None:
        return CheckpointError(
            f"{path}: a text file (starting {head!r}), not a PyTorch or Caffe2 checkpoint"
        )
    message = " ".join(str(error).split())[:300]
    return CheckpointError(f"{path}: not readable {reader}: {type(error).__name__}: {message}")


def read_weights(path: str | os.PathLike, checkpoint_type: str = "pytorch") -> WeightsFile:
    """The tensors of ``path`` and the format they were recognised as (module docstring).

    Args:
        path: a ``.pyth`` / ``.pt`` / ``.pkl`` file.
        checkpoint_type: ``"pytorch"`` (the file decides) or ``"caffe2"`` (the file must
            be a Caffe2 pickle), PySlowFast's TRAIN/TEST.CHECKPOINT_TYPE.

    Raises:
        CheckpointError: the file is none of the formats, or a tensor of its weights is
            NaN or infinite (the first one named).
    """
    weights = _read_weights(os.fspath(path), checkpoint_type)
    bad = first_non_finite(weights.state)
    if bad is not None:
        raise weights.error(f"non-finite weights: {bad}; refusing to load them")
    return weights


def _read_weights(path: str, checkpoint_type: str) -> WeightsFile:
    if checkpoint_type not in CHECKPOINT_TYPES:
        raise ValueError(
            f"checkpoint type must be one of {CHECKPOINT_TYPES}, got {checkpoint_type!r}"
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such weights file")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"{path}: empty file (0 bytes), not a checkpoint")
    caffe2 = checkpoint_type == "caffe2"
    if zipfile.is_zipfile(path):
        if caffe2:
            raise CheckpointError(
                f"{path}: a PyTorch (zip) file, but the checkpoint type is caffe2"
            )
        return _torch_file(path)
    with open(path, "rb") as f:
        try:
            first = read_pickle(f, path)
        except ForbiddenGlobal as error:
            raise CheckpointError(f"{error} (taken for caffe2: {FORMATS['caffe2']})") from error
        except Exception as error:  # noqa: BLE001 - whatever a corrupt pickle raises
            raise unreadable(
                path,
                error,
                f"as a PyTorch zip file or a pickle (taken for caffe2: {FORMATS['caffe2']})",
            ) from error
    if isinstance(first, int) and first == _TORCH_LEGACY_MAGIC:
        if caffe2:
            raise CheckpointError(
                f"{path}: a PyTorch (legacy) file, but the checkpoint type is caffe2"
            )
        return _torch_file(path)
    try:
        blobs = caffe2_blobs(first, path)
    except ValueError as error:
        raise CheckpointError(f"{error} (taken for caffe2: {FORMATS['caffe2']})") from None
    converted = caffe2_to_pyslowfast(blobs)
    weights = WeightsFile(path, "caffe2", converted.state, tuple(converted.skipped))
    if not converted.state:
        raise weights.error(f"none of its {len(blobs)} blobs is a weight")
    return weights


def _torch_file(path: str) -> WeightsFile:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many kinds; all are fatal here
        raise unreadable(
            path, error, "as a PyTorch file with weights_only=True (no pickled code runs)"
        ) from error
    if not isinstance(payload, Mapping):
        raise CheckpointError(
            f"{path}: a PyTorch file holding a {type(payload).__name__}, not a state dict "
            "or checkpoint"
        )
    wrapped = "model_state" in payload
    state = payload["model_state"] if wrapped else payload
    if not isinstance(state, Mapping) or not state:
        raise CheckpointError(f"{path}: empty or invalid model state")
    bad = [k for k, v in state.items() if not isinstance(k, str) or not torch.is_tensor(v)]
    if bad:
        raise CheckpointError(f"{path}: entries that are not named tensors: {bad[:5]}")
    state = strip_prefix(state)
    fmt = _torch_format(payload, state)
    if fmt == "pyslowfast-ptv":
        state = {k[len("model.") :] if k.startswith("model.") else k: v for k, v in state.items()}
    return WeightsFile(path, fmt, state, epochs_done=_epochs_done(payload, fmt))


def _epochs_done(payload: Mapping[str, Any], fmt: str) -> int | None:
    epoch = payload.get("epoch") if "model_state" in payload else None
    if not isinstance(epoch, int) or isinstance(epoch, bool):
        return None
    # Ours counts finished epochs; PySlowFast saves the finished epoch's 0-based index.
    return epoch if fmt == "mutualnet3d" else epoch + 1


def _torch_format(payload: Mapping[str, Any], state: Mapping[str, torch.Tensor]) -> str:
    pyslowfast_checkpoint = "model_state" in payload and "epoch" in payload
    if pyslowfast_checkpoint and "rng_state" in payload:
        return "mutualnet3d"
    if is_pyslowfast_state(state):
        return "pyslowfast"
    under_model = [k.startswith("model.") for k in state]
    if all(under_model) or (pyslowfast_checkpoint and any(under_model)):
        return "pyslowfast-ptv"
    return "pytorchvideo"
