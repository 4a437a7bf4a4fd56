"""Caffe2 ``.pkl`` checkpoints (most of PySlowFast's model zoo), read without running code.

A Caffe2 checkpoint is a Python 2 pickle of ``{"blobs": {name: numpy array}, ...}`` (or
of the blob dict itself, as Detectron's ImageNet models). :func:`read_pickle` reads it
with :class:`RestrictedUnpickler`, which resolves only the globals NumPy needs to rebuild
arrays and those of plain containers, so a file cannot run code: any other global (say
``os.system``) raises :class:`ForbiddenGlobal` before anything is called.

Blob names are Caffe2's (``res2_0_branch2a_bn_s``); :func:`caffe2_to_pyslowfast` renames
them to PySlowFast's (``s2.pathway0_res0.branch2.a_bn.weight``), which
:mod:`.pyslowfast_names` then renames to PyTorchVideo's. The mapping is PySlowFast's
(``slowfast/utils/c2_model_loading.py``), written here as a table of layers
(:data:`CAFFE2_LAYERS`) and of tensor suffixes (:data:`CAFFE2_TENSORS`).
"""

from __future__ import annotations

import codecs
import collections
import pickle
import re
from typing import Any, BinaryIO, Mapping, NamedTuple

import numpy as np
import torch

from .layer_names import LayerRule, LayerTable

__all__ = [
    "ALLOWED_GLOBALS",
    "CAFFE2_LAYERS",
    "CAFFE2_TENSORS",
    "Caffe2State",
    "ForbiddenGlobal",
    "RestrictedUnpickler",
    "caffe2_to_pyslowfast",
    "read_pickle",
]


def _numpy_globals() -> dict[tuple[str, str], Any]:
    """NumPy's array-rebuilding functions under the module names pickles use: NumPy 1
    writes ``numpy.core.*``, NumPy 2 ``numpy._core.*``. The functions are taken from
    NumPy's own reductions, so nothing is imported by name."""
    reconstruct = np.ndarray(0).__reduce__()[0]
    scalar = np.float32(0).__reduce__()[0]
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]
    found: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray}
    found[("numpy", "dtype")] = np.dtype
    for core in ("numpy.core", "numpy._core"):
        found[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        found[(f"{core}.multiarray", "scalar")] = scalar
        found[(f"{core}.numeric", "_frombuffer")] = frombuffer
    return found


#: (module, name) -> object: every global a Caffe2 pickle may name. NumPy's array,
#: dtype and scalar reconstruction, and what plain containers need: sets, ordered dicts
#: and ``_codecs.encode`` (how a protocol-2 pickle written by Python 3 holds bytes).
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    **_numpy_globals(),
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "bytearray"): bytearray,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("_codecs", "encode"): codecs.encode,
}
_PYTHON2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class ForbiddenGlobal(pickle.UnpicklingError):
    """A pickle names a global outside :data:`ALLOWED_GLOBALS`."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED_GLOBALS` (nothing is imported).

    Python 2 pickles are read with the ``latin1`` encoding, so that NumPy's raw array
    data, stored as Python 2 ``str``, comes back byte for byte.
    """

    def __init__(self, file: BinaryIO, name: str) -> None:
        super().__init__(file, encoding="latin1")
        self.name = name

    def find_class(self, module: str, name: str) -> Any:
        module = _PYTHON2_MODULES.get(module, module)
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise ForbiddenGlobal(
                f"{self.name}: refused to unpickle the global {module}.{name} (a Caffe2 "
                "checkpoint may hold only NumPy arrays in plain containers; nothing was run)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError(
            f"{self.name}: a persistent id in the pickle (a PyTorch legacy file?), refused"
        )


def read_pickle(file: BinaryIO, name: str) -> Any:
    """The first object pickled in ``file``, read by :class:`RestrictedUnpickler`."""
    return RestrictedUnpickler(file, name).load()


# --------------------------------------------------------------------------------------
# Blob names
# --------------------------------------------------------------------------------------
def _pathways(caffe2: str, pyslowfast: str) -> tuple[LayerRule, LayerRule]:
    """A layer of the Slow pathway and its Fast twin (Caffe2 prefixes it ``t_``)."""
    fast = pyslowfast.replace("pathway0", "pathway1")
    return LayerRule(caffe2, pyslowfast), LayerRule(f"t_{caffe2}", fast)


_RES = "res{stage}_{i}_branch"
_PYSF_RES = "s{stage}.pathway0_res{i}"

#: Caffe2 layer -> PySlowFast layer (PySlowFast's c2_model_loading.py): stems
#: (``conv1``; X3D's ``conv1_xy``), bottleneck blocks (``res{stage}_{i}_branch1``,
#: ``_branch2{a,b,c}`` and their ``_bn``), X3D's SE (``_branch2b_bn_fc{k}``) and head
#: (``conv_5``, ``lin_5``), the fusions (``t_pool1_subsample``,
#: ``t_res{stage}_{i}_branch2c_bn_subsample``) and the classifier (``pred``).
CAFFE2_LAYERS = LayerTable(
    (
        *_pathways("conv1", "s1.pathway0_stem.conv"),
        *_pathways("res_conv1_bn", "s1.pathway0_stem.bn"),
        LayerRule("conv1_xy", "s1.pathway0_stem.conv_xy"),
        *_pathways(f"{_RES}1", f"{_PYSF_RES}.branch1"),
        *_pathways(f"{_RES}1_bn", f"{_PYSF_RES}.branch1_bn"),
        *(r for x in "abc" for r in _pathways(f"{_RES}2{x}", f"{_PYSF_RES}.branch2.{x}")),
        *(r for x in "abc" for r in _pathways(f"{_RES}2{x}_bn", f"{_PYSF_RES}.branch2.{x}_bn")),
        LayerRule(f"{_RES}2b_bn_fc{{k}}", f"{_PYSF_RES}.branch2.se.fc{{k}}"),
        LayerRule("t_pool1_subsample", "s1_fuse.conv_f2s"),
        LayerRule("t_pool1_subsample_bn", "s1_fuse.bn"),
        LayerRule(f"t_{_RES}2c_bn_subsample", "s{stage}_fuse.conv_f2s"),
        LayerRule(f"t_{_RES}2c_bn_subsample_bn", "s{stage}_fuse.bn"),
        LayerRule("conv_5", "head.conv_5"),
        LayerRule("conv_5_bn", "head.conv_5_bn"),
        LayerRule("lin_5", "head.lin_5"),
        LayerRule("lin_5_bn", "head.lin_5_bn"),
        LayerRule("pred", "head.projection"),
    )
)

#: a blob's last ``_``-separated part -> the tensor's name (BN: scale s, bias b,
#: running mean rm, running variance riv; others: weight w, bias b)
CAFFE2_TENSORS = {
    "w": "weight",
    "b": "bias",
    "s": "weight",
    "rm": "running_mean",
    "riv": "running_var",
}

#: blobs of the solver, not of the network: momentum buffers, learning rate, iteration
_SOLVER_BLOB = re.compile(r"^(?:.+_momentum|lr|model_iter)$")


class Caffe2State(NamedTuple):
    state: dict[str, torch.Tensor]  # PySlowFast names (unmapped blobs keep Caffe2's)
    skipped: list[str]  # solver blobs and blobs that are not numeric arrays


def caffe2_blobs(payload: Any, name: str) -> Mapping[str, Any]:
    """The blob dict of an unpickled Caffe2 checkpoint (``payload["blobs"]`` or the
    payload itself); ValueError naming ``name`` when it is neither."""
    blobs = payload.get("blobs", payload) if isinstance(payload, Mapping) else None
    if not isinstance(blobs, Mapping) or not blobs:
        kind = type(payload).__name__ if blobs is None else "no blobs"
        raise ValueError(f"{name}: not a Caffe2 checkpoint ({kind})")
    if not any(isinstance(v, np.ndarray) for v in blobs.values()):
        raise ValueError(f"{name}: not a Caffe2 checkpoint (no array among its entries)")
    return blobs


def caffe2_to_pyslowfast(blobs: Mapping[str, Any]) -> Caffe2State:
    """Caffe2 blobs as tensors under PySlowFast's names (see :data:`CAFFE2_LAYERS`).

    Solver blobs (momentum buffers, ``lr``, ``model_iter``) and entries that are not
    numeric arrays are skipped and named; a blob the table does not know keeps its
    Caffe2 name, so that loading reports it. Arrays are copied into new tensors.
    """
    state: dict[str, torch.Tensor] = {}
    skipped: list[str] = []
    for blob, value in blobs.items():
        numeric = isinstance(value, np.ndarray) and value.dtype.kind in "biuf"
        if not isinstance(blob, str) or _SOLVER_BLOB.match(blob) or not numeric:
            skipped.append(str(blob))
            continue
        layer, _, suffix = blob.rpartition("_")
        renamed = CAFFE2_LAYERS.rename(layer) if suffix in CAFFE2_TENSORS else None
        key = blob if renamed is None else f"{renamed}.{CAFFE2_TENSORS[suffix]}"
        state[key] = torch.tensor(value)
    return Caffe2State(state, skipped)
