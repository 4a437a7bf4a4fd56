"""Checkpoint files in other libraries' formats, written from name tables of their own.

The tables below were read off PySlowFast's modules (not taken from our loader, so that
a test checks the loader against PySlowFast's names rather than against itself):

* PySlowFast's own models (``slowfast/models/video_model_builder.py``): stages ``s1`` (the
  stem: ``stem_helper.py``'s ``pathway{p}_stem`` with ``conv``, ``bn``; X3D's stem
  ``conv_xy``, ``conv``, ``bn``) to ``s5`` (``resnet_helper.py``: ``pathway{p}_res{i}``
  with ``branch1``, ``branch1_bn``, ``branch2`` = ``a``, ``a_bn``, ``b``, ``b_bn``, X3D's
  ``se.fc1`` / ``se.fc2``, ``c``, ``c_bn``), fusions ``s{n}_fuse`` (``conv_f2s``, ``bn``)
  and the head (``head_helper.py``: ``projection``; X3D's ``conv_5``, ``conv_5_bn``,
  ``lin_5``). Its stages s2..s5 are, in PyTorchVideo's networks, the blocks holding
  ``res_blocks``, in order: C2D's and I3D's temporal pool after res2 (PySlowFast's
  ``pathway0_pool``, without tensors) is a block of its own there (``blocks.2``), so
  their s3 is ``blocks.3``. PySlowFast's X3D has ``branch1_bn`` on res2's first block,
  PyTorchVideo's X3D does not (its ``branch1_norm`` exists only where channels change);
* PySlowFast's PTV* models (``ptv_model_builder.py``): PyTorchVideo's network as
  ``self.model``, a detector's head as ``self.detection_head``;
* Caffe2 blobs (the examples of ``slowfast/utils/c2_model_loading.py`` and the Caffe2
  model zoo): ``conv1_w``, ``res_conv1_bn_s``, ``res2_0_branch2a_w``, ``..._bn_riv``,
  ``t_`` for the Fast pathway, ``t_pool1_subsample`` / ``t_res{n}_{i}_branch2c_bn_subsample``
  for the fusions, ``pred_w``; solver blobs ``*_momentum``, ``lr``, ``model_iter``.
"""

from __future__ import annotations

import functools
import io
import pickle
import re
import struct
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch

from mutualnet3d.models import get_model_builder
from tests.models.helpers import randomise_bn

TINY = dict(width_divisor=2)


def family(name: str) -> str:
    """The tables below that name ``name``'s layers: X3D's (either layout: PySlowFast's
    X3D only adds res2's first ``branch1_bn``) or the ResNets' (C2D, I3D, Slow, SlowFast,
    their detectors)."""
    return "x3d" if name.lower().startswith(("x3d", "ptvx3d")) else "resnet"


# PyTorchVideo layer (inside a stem, a res block, a fusion, the head) -> PySlowFast layer
STEM = {
    "resnet": {"conv": "conv", "norm": "bn"},
    "x3d": {"conv.conv_t": "conv_xy", "conv.conv_xy": "conv", "norm": "bn"},
}
_BOTTLENECK = {"branch1_conv": "branch1", "branch1_norm": "branch1_bn"}
_BOTTLENECK.update({f"branch2.conv_{x}": f"branch2.{x}" for x in "abc"})
BLOCK = {
    "resnet": {**_BOTTLENECK, **{f"branch2.norm_{x}": f"branch2.{x}_bn" for x in "abc"}},
    "x3d": {
        **_BOTTLENECK,
        "branch2.norm_a": "branch2.a_bn",
        "branch2.norm_b.0": "branch2.b_bn",
        "branch2.norm_b.1.block.0": "branch2.se.fc1",
        "branch2.norm_b.1.block.2": "branch2.se.fc2",
        "branch2.norm_c": "branch2.c_bn",
    },
}
FUSION = {"conv_fast_to_slow": "conv_f2s", "norm": "bn"}
HEAD = {
    "resnet": {"proj": "projection"},
    "x3d": {
        "pool.pre_conv": "conv_5",
        "pool.pre_norm": "conv_5_bn",
        "pool.post_conv": "lin_5",
        "proj": "projection",
    },
}
_PTV_KEY = re.compile(
    r"^blocks\.(?P<block>\d+)(?:\.multipathway_blocks\.(?P<p>\d+))?"
    r"(?:\.res_blocks\.(?P<i>\d+))?\.(?P<layer>.+)\.(?P<tensor>[a-z_]+)$"
)

# PySlowFast layer -> Caffe2 layer; a Caffe2 blob is ``{layer}_{suffix}``
C2_STEM = {"conv": "conv1", "bn": "res_conv1_bn", "conv_xy": "conv1_xy"}
C2_BLOCK = {"branch1": "branch1", "branch1_bn": "branch1_bn"}
C2_BLOCK.update({f"branch2.{x}": f"branch2{x}" for x in "abc"})
C2_BLOCK.update({f"branch2.{x}_bn": f"branch2{x}_bn" for x in "abc"})
C2_BLOCK.update({f"branch2.se.fc{k}": f"branch2b_bn_fc{k}" for k in "12"})
C2_HEAD = {"projection": "pred", "conv_5": "conv_5", "conv_5_bn": "conv_5_bn", "lin_5": "lin_5"}
C2_SUFFIX = {"weight": "w", "bias": "b"}
C2_BN_SUFFIX = {"weight": "s", "bias": "b", "running_mean": "rm", "running_var": "riv"}
_PYSF_KEY = re.compile(
    r"^s(?P<s>\d)(?:\.pathway(?P<p>\d)_(?:stem|res(?P<i>\d+))|(?P<fuse>_fuse))?"
    r"\.(?P<layer>.+)\.(?P<tensor>[a-z_]+)$"
)
SOLVER_BLOBS = ["conv1_w_momentum", "pred_b_momentum", "lr", "model_iter"]


# --------------------------------------------------------------------------------------
# Reference weights
# --------------------------------------------------------------------------------------
def reference(
    name: str, num_classes: int = 5, **arch: Any
) -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
    """PyTorchVideo's twin of ``name`` (with ``arch``, builder arguments such as a
    PySlowFast name's sizes) in eval mode with random BN statistics, and its state dict
    (a new dict; its tensors must not be modified). Built once per name and arguments."""
    net = _reference(name, num_classes, tuple(sorted(arch.items())))
    return net, dict(net.state_dict())


@functools.lru_cache(maxsize=None)
def _reference(name: str, num_classes: int, arch: tuple) -> torch.nn.Module:
    torch.manual_seed(11)  # not the seed of the models under test: no equal init
    model = get_model_builder(name)(num_classes=num_classes, **TINY, **dict(arch))
    builder, kwargs = model.reference
    net = builder(**kwargs)
    randomise_bn(net)
    return net.eval()


def build(name: str, num_classes: int = 5, **arch: Any) -> torch.nn.Module:
    torch.manual_seed(5)  # not the reference's seed: a tensor left as built cannot pass
    return get_model_builder(name)(num_classes=num_classes, **TINY, **arch)


@functools.lru_cache(maxsize=None)
def _built(name: str, num_classes: int, arch: tuple) -> torch.nn.Module:
    return build(name, num_classes, **dict(arch))


def scrambled(name: str, num_classes: int = 5, **arch: Any) -> torch.nn.Module:
    """A model of ``name`` (built once per name, class count and ``arch``: a test must
    not change its structure) whose every tensor holds noise, so that only loading can
    give it the reference's outputs."""
    model = _built(name, num_classes, tuple(sorted(arch.items())))
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
    return model


def assert_same_outputs(
    model: torch.nn.Module, net: torch.nn.Module, *, of_scale: bool = False
) -> None:
    """``model`` at its full configuration computes what PyTorchVideo's ``net`` does,
    within 1e-4; ``of_scale``: within 1e-4 of the outputs' largest magnitude (full-size
    networks with random weights compute outputs of ~1e4, where float32's own rounding
    exceeds 1e-4)."""
    model.eval()
    generator = torch.Generator().manual_seed(3)
    args = model.example_args(batch_size=2)
    x = args[0]
    x = (
        [torch.randn(t.shape, generator=generator) for t in x]
        if isinstance(x, list)
        else (torch.randn(x.shape, generator=generator))
    )
    with torch.no_grad():
        expected = net(list(x) if isinstance(x, list) else x, *args[1:])
        out = model(x, *args[1:])
    expected = expected.reshape(out.shape)
    scale = float(expected.abs().max())
    assert scale > 1e-3
    torch.testing.assert_close(
        out, expected, rtol=0, atol=1e-4 * (max(scale, 1.0) if of_scale else 1)
    )


# --------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------
def pyslowfast_state(state: dict[str, torch.Tensor], family: str) -> dict[str, torch.Tensor]:
    """A PyTorchVideo classifier's or detector's state under PySlowFast's names."""
    matches = [m for k in state if (m := _PTV_KEY.match(_backbone(k)))]
    last = max(int(m.group("block")) for m in matches)
    # PySlowFast's stage of each block: the stem s1, then s2.. for the blocks with
    # res_blocks in order (a pooling block between them has no tensors and no stage)
    residual = sorted({int(m.group("block")) for m in matches if m.group("i") is not None})
    stages = {0: 1, **{block: n + 2 for n, block in enumerate(residual)}}
    out = {}
    for key, value in state.items():
        out[_pyslowfast_key(_backbone(key), family, last, stages)] = value
    return out


def _backbone(key: str) -> str:
    """A detector's keys as a classifier's (PySlowFast names both alike)."""
    key = key.removeprefix("model.")
    return (
        "blocks.99.proj." + key.rsplit(".", 1)[1] if key.startswith("detection_head.proj.") else key
    )


def _pyslowfast_key(key: str, family: str, last: int, stages: dict[int, int]) -> str:
    m = _PTV_KEY.match(key)
    block, layer, tensor = int(m.group("block")), m.group("layer"), m.group("tensor")
    pathway = m.group("p") or "0"
    if layer.startswith("multipathway_fusion."):
        return f"s{stages[block]}_fuse.{FUSION[layer.split('.', 1)[1]]}.{tensor}"
    if block == 0:
        return f"s1.pathway{pathway}_stem.{STEM[family][layer]}.{tensor}"
    if m.group("i") is not None:
        res = f"s{stages[block]}.pathway{pathway}_res{m.group('i')}"
        return f"{res}.{BLOCK[family][layer]}.{tensor}"
    if block in (last, 99):
        return f"head.{HEAD[family][layer]}.{tensor}"
    raise KeyError(key)


def caffe2_blobs(pyslowfast: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """PySlowFast-named tensors as Caffe2 blobs (BN counters dropped: Caffe2 has none)."""
    return {blob: pyslowfast[key].numpy().copy() for key, blob in caffe2_names(pyslowfast).items()}


def caffe2_names(pyslowfast: Iterable[str]) -> dict[str, str]:
    """PySlowFast key -> Caffe2 blob name, for every key but the BN counters."""
    keys = [k for k in pyslowfast if not k.endswith("num_batches_tracked")]
    fast_blocks: dict[int, int] = {}  # stage -> the Fast pathway's last block there
    for key in keys:
        if m := re.match(r"^s(\d)\.pathway1_res(\d+)\.", key):
            fast_blocks[int(m.group(1))] = max(fast_blocks.get(int(m.group(1)), 0), int(m.group(2)))
    return {key: _caffe2_name(key, fast_blocks) for key in keys}


def _caffe2_name(key: str, fast_blocks: dict[int, int]) -> str:
    m = _PYSF_KEY.match(key)
    if m is None:  # the head
        head, layer, tensor = key.split(".")
        c2_layer = C2_HEAD[layer]
    else:
        stage, layer, tensor = int(m.group("s")), m.group("layer"), m.group("tensor")
        fast = "t_" if m.group("p") == "1" else ""
        if m.group("fuse"):
            where = (
                "t_pool1_subsample"
                if stage == 1
                else f"t_res{stage}_{fast_blocks[stage]}_branch2c_bn_subsample"
            )
            c2_layer = where if layer == "conv_f2s" else f"{where}_bn"
        elif m.group("i") is None:
            c2_layer = fast + C2_STEM[layer]
        else:
            c2_layer = f"{fast}res{stage}_{m.group('i')}_{C2_BLOCK[layer]}"
    suffix = (C2_BN_SUFFIX if c2_layer.endswith("bn") else C2_SUFFIX)[tensor]
    return f"{c2_layer}_{suffix}"


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------
def write_pyslowfast(path: Path, state: dict[str, torch.Tensor], family: str) -> Path:
    """What PySlowFast's save_checkpoint writes for one of its own models (DDP-trained)."""
    renamed = {f"module.{k}": v for k, v in pyslowfast_state(state, family).items()}
    torch.save(
        {"epoch": 10, "model_state": renamed, "optimizer_state": {}, "cfg": "MODEL: {}"}, path
    )
    return path


def write_ptv(path: Path, state: dict[str, torch.Tensor]) -> Path:
    """What PySlowFast writes for a PTV* model: PyTorchVideo's names under ``model.``
    (a detector's RoI head beside it, as ``detection_head``)."""
    renamed = {
        k if k.startswith(("model.", "detection_head.")) else f"model.{k}": v
        for k, v in state.items()
    }
    torch.save(
        {"epoch": 10, "model_state": renamed, "optimizer_state": {}, "cfg": "MODEL: {}"}, path
    )
    return path


class _Python2Pickler(pickle._Pickler):
    """Protocol 2 as Python 2 wrote it: ``bytes`` as ``str`` opcodes (as NumPy's raw array
    data was), NumPy under ``numpy.core`` (rewritten in :func:`write_caffe2`)."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_python2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_python2_str


def python2_pickle(obj: Any) -> bytes:
    buffer = io.BytesIO()
    _Python2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue().replace(b"numpy._core.", b"numpy.core.")


def write_caffe2(path: Path, blobs: dict[str, np.ndarray], solver: bool = True) -> Path:
    """A Caffe2 checkpoint as PySlowFast's zoo holds them: a Python 2 pickle of
    ``{"blobs": ...}`` with str names, and the solver's blobs unless ``solver`` is off."""
    blobs = dict(blobs)
    if solver:
        blobs.update({name: np.ones(1, np.float32) for name in SOLVER_BLOBS})
    payload = {b"blobs": {name.encode(): value for name, value in blobs.items()}}
    path.write_bytes(python2_pickle(payload))
    return path


def write_format(path: Path, fmt: str, name: str, state: dict[str, torch.Tensor]) -> Path:
    """``state`` (PyTorchVideo's names of ``name``) written in format ``fmt``."""
    if fmt == "pyslowfast":
        return write_pyslowfast(path.with_suffix(".pyth"), state, family(name))
    if fmt == "pyslowfast-ptv":
        return write_ptv(path.with_suffix(".pyth"), state)
    if fmt == "caffe2":
        blobs = caffe2_blobs(pyslowfast_state(state, family(name)))
        return write_caffe2(path.with_suffix(".pkl"), blobs)
    torch.save({"model_state": state}, path.with_suffix(".pyth"))  # a PyTorchVideo hub file
    return path.with_suffix(".pyth")
