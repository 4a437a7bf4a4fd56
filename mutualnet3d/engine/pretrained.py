"""Weights to fine-tune from: our checkpoints, PyTorchVideo's and PySlowFast's.

:func:`load_pretrained` reads a file with ``torch.load(weights_only=True)`` (no pickled
code runs) and recognises three layouts:

* ``"mutualnet3d"``: our checkpoints (``{"model_state": ..., "epoch": ..., ...}``);
* ``"pytorchvideo"``: PyTorchVideo model-zoo state dicts, plain (``blocks.N...``) or
  wrapped as ``{"model_state": ...}`` (how its hub files are stored);
* ``"pyslowfast"``: PySlowFast checkpoints of its own ``ResNet`` (Slow) and ``SlowFast``
  R50 models, whose names (``s1.pathway0_stem.conv.weight``, ``s2.pathway0_res0.branch1``,
  ``s1_fuse.conv_f2s``, ``head.projection``...) are renamed to PyTorchVideo's, which
  our video models use (:func:`pyslowfast_to_pytorchvideo`).

A detector (AVA) starts from a classification network's weights, as the paper's AVA
runs start from Kinetics: the names are moved to the detector's
(:func:`classifier_to_detector`).

Unlike PySlowFast's own loader, which skips a tensor of another shape silently, every
tensor that is not loaded is reported by name.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any, Mapping, NamedTuple, Optional

import torch
import torch.nn as nn

__all__ = [
    "FORMATS",
    "classifier_to_detector",
    "is_pyslowfast_state",
    "load_pretrained",
    "pyslowfast_to_pytorchvideo",
    "pytorchvideo_to_pyslowfast",
    "strip_prefix",
]

_logger = logging.getLogger(__name__)

FORMATS = ("mutualnet3d", "pytorchvideo", "pyslowfast")

# --------------------------------------------------------------------------------------
# PySlowFast <-> PyTorchVideo names (Slow / SlowFast R50)
# --------------------------------------------------------------------------------------
# PySlowFast (slowfast/models/video_model_builder.py, ResNet and SlowFast): stages
# s1 (stem, VideoModelStem) .. s5 (ResStage), fusions s1_fuse .. s4_fuse
# (FuseFastToSlow: conv_f2s, bn), the head (ResNetBasicHead / ResNetRoIHead: projection).
# stem_helper.py names a pathway's stem `pathway{p}_stem` (early versions: `s{p}_stem`) with
# conv, bn; resnet_helper.py names a block `pathway{p}_res{i}` with branch1, branch1_bn
# and branch2 (BottleneckTransform: a, a_bn, b, b_bn, c, c_bn).
# PyTorchVideo (create_resnet / create_slowfast): blocks.0 the stem (conv, norm),
# blocks.1-4 the stages (res_blocks.i: branch1_conv, branch1_norm, branch2.conv_a,
# norm_a, ...); SlowFast wraps each in multipathway_blocks.p with the fusion in
# multipathway_fusion (conv_fast_to_slow, norm) and pools in blocks.5; the head's linear
# layer is blocks.5.proj (Slow) or blocks.6.proj (SlowFast).
_STEM = re.compile(r"^s1\.(?:pathway|s)(\d+)_stem\.(conv|bn)\.(.+)$")
_RES = re.compile(
    r"^s([2-5])\.pathway(\d+)_res(\d+)\.(branch1|branch1_bn|branch2\.[abc]|branch2\.[abc]_bn)"
    r"\.(.+)$"
)
_FUSE = re.compile(r"^s([1-4])_fuse\.(conv_f2s|bn)\.(.+)$")
_HEAD = re.compile(r"^head\.projection\.(.+)$")
_RES_LAYER = {"branch1": "branch1_conv", "branch1_bn": "branch1_norm"}
_RES_LAYER.update({f"branch2.{x}": f"branch2.conv_{x}" for x in "abc"})
_RES_LAYER.update({f"branch2.{x}_bn": f"branch2.norm_{x}" for x in "abc"})
_FUSE_LAYER = {"conv_f2s": "conv_fast_to_slow", "bn": "norm"}
_STEM_LAYER = {"conv": "conv", "bn": "norm"}


def _default_head(two_pathway: bool, blocks: str) -> str:
    # PyTorchVideo's SlowFast has a PoolConcatPathway block before the head.
    return f"{blocks}.{6 if two_pathway else 5}.proj"


def is_pyslowfast_state(state: Mapping[str, Any]) -> bool:
    """Whether any key of ``state`` (prefixes already stripped) has a PySlowFast name."""
    return any(p.match(k) for k in state for p in (_STEM, _RES, _FUSE, _HEAD))


def _is_two_pathway(keys: Any) -> bool:
    return any(_FUSE.match(k) or ".pathway1_" in k or ".s1_stem." in k for k in keys)


def pyslowfast_to_pytorchvideo(
    state: Mapping[str, torch.Tensor],
    *,
    blocks: str = "blocks",
    head: Optional[str] = None,
) -> dict[str, torch.Tensor]:
    """PySlowFast Slow / SlowFast R50 keys renamed to PyTorchVideo's.

    SlowFast (two pathways) is recognised by fusion or ``pathway1`` keys. A key the
    mapping does not know (a non-local block, X3D's layers...) keeps its name, so that
    loading reports it as unexpected. Tensors are shared, not copied.

    Args:
        state: PySlowFast state dict (``module.`` prefixes already stripped).
        blocks: PyTorchVideo's block list: "blocks" (classification ``Net``) or
            "model.blocks" (``DetectionBBoxNetwork``).
        head: name of the classifier linear layer for ``head.projection`` (default:
            ``{blocks}.5.proj`` for Slow, ``{blocks}.6.proj`` for SlowFast).
    """
    two = _is_two_pathway(state)
    head = head or _default_head(two, blocks)
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        out[_pyslowfast_key(key, two, blocks, head)] = value
    return out


def _pyslowfast_key(key: str, two: bool, blocks: str, head: str) -> str:
    def pathway(stage: int, p: str) -> str:
        return f"{blocks}.{stage}.multipathway_blocks.{p}" if two else f"{blocks}.{stage}"

    if m := _STEM.match(key):
        p, layer, rest = m.groups()
        return f"{pathway(0, p)}.{_STEM_LAYER[layer]}.{rest}"
    if m := _RES.match(key):
        stage, p, block, layer, rest = m.groups()
        return f"{pathway(int(stage) - 1, p)}.res_blocks.{block}.{_RES_LAYER[layer]}.{rest}"
    if m := _FUSE.match(key):
        stage, layer, rest = m.groups()
        return f"{blocks}.{int(stage) - 1}.multipathway_fusion.{_FUSE_LAYER[layer]}.{rest}"
    if m := _HEAD.match(key):
        return f"{head}.{m.group(1)}"
    return key


def pytorchvideo_to_pyslowfast(
    state: Mapping[str, torch.Tensor],
    *,
    blocks: str = "blocks",
    head: Optional[str] = None,
) -> dict[str, torch.Tensor]:
    """The inverse of :func:`pyslowfast_to_pytorchvideo` (PyTorchVideo -> PySlowFast names).

    Writes PySlowFast's current names (``pathway{p}_stem``). A key outside the mapping
    raises ``KeyError``: an export must not produce names PySlowFast cannot load.
    """
    keys = list(state)
    two = any(".multipathway_blocks." in k for k in keys)
    head = head or _default_head(two, blocks)
    inverse: dict[str, str] = {}
    stem_layer = {v: k for k, v in _STEM_LAYER.items()}
    res_layer = {v: k for k, v in _RES_LAYER.items()}
    fuse_layer = {v: k for k, v in _FUSE_LAYER.items()}
    b = re.escape(blocks)
    path = r"\.multipathway_blocks\.(\d+)" if two else r"()"
    stem = re.compile(rf"^{b}\.0{path}\.(conv|norm)\.(.+)$")
    res = re.compile(
        rf"^{b}\.([1-4]){path}\.res_blocks\.(\d+)\.({'|'.join(map(re.escape, res_layer))})"
        r"\.(.+)$"
    )
    fuse = re.compile(rf"^{b}\.([0-3])\.multipathway_fusion\.(conv_fast_to_slow|norm)\.(.+)$")
    head_re = re.compile(rf"^{re.escape(head)}\.(.+)$")
    for key in keys:
        if m := stem.match(key):
            p, layer, rest = m.groups()
            inverse[key] = f"s1.pathway{p or 0}_stem.{stem_layer[layer]}.{rest}"
        elif m := res.match(key):
            stage, p, block, layer, rest = m.groups()
            inverse[key] = f"s{int(stage) + 1}.pathway{p or 0}_res{block}.{res_layer[layer]}.{rest}"
        elif m := fuse.match(key):
            stage, layer, rest = m.groups()
            inverse[key] = f"s{int(stage) + 1}_fuse.{fuse_layer[layer]}.{rest}"
        elif m := head_re.match(key):
            inverse[key] = f"head.projection.{m.group(1)}"
        else:
            raise KeyError(f"no PySlowFast name for {key!r}")
    return {inverse[k]: state[k] for k in keys}


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------
def strip_prefix(state: Mapping[str, Any], prefix: str = "module.") -> dict[str, Any]:
    """``state`` with every leading ``prefix`` removed (DDP's ``module.``, repeated)."""
    out: dict[str, Any] = {}
    for key, value in state.items():
        while key.startswith(prefix):
            key = key[len(prefix) :]
        out[key] = value
    return out


def _unpack(payload: Any, path: str) -> tuple[str, dict[str, torch.Tensor]]:
    """``(format, state dict with PyTorchVideo / our names)`` of a loaded file."""
    if not isinstance(payload, Mapping):
        raise ValueError(f"{path}: not a state dict or checkpoint (got {type(payload).__name__})")
    wrapped = "model_state" in payload
    state = payload["model_state"] if wrapped else payload
    if not isinstance(state, Mapping) or not state:
        raise ValueError(f"{path}: empty or invalid model state")
    bad = [k for k, v in state.items() if not isinstance(k, str) or not torch.is_tensor(v)]
    if bad:
        raise ValueError(f"{path}: entries that are not named tensors: {bad[:5]}")
    state = strip_prefix(state)
    if is_pyslowfast_state(state):
        return "pyslowfast", state
    # Our trainer always writes the epoch next to the model; PyTorchVideo's files hold
    # the model state alone.
    return ("mutualnet3d" if wrapped and "epoch" in payload else "pytorchvideo"), state


def classifier_to_detector(
    state: Mapping[str, torch.Tensor], model_keys: Any, head: str
) -> dict[str, torch.Tensor]:
    """A classification network's weights under a detector's names (Kinetics -> AVA).

    PyTorchVideo's detectors (``DetectionBBoxNetwork``) hold the backbone as
    ``model.blocks.N`` and the classifier as ``detection_head.proj``; the classification
    networks (PyTorchVideo's and ours) as ``blocks.N`` and ``blocks.<last>.proj``. Backbone
    keys the detector has are prefixed with ``model.``; the classifier's linear layer is
    renamed to ``head`` so that a class-count change re-initialises it by name, as for
    classification. Other keys (the classification head's pooling) stay and are reported
    as unused.
    """
    keys = set(model_keys)
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        match = re.match(r"^blocks\.\d+\.proj\.(weight|bias)$", key)
        if f"model.{key}" in keys:
            key = f"model.{key}"
        elif match and f"{head}.{match.group(1)}" in keys:
            key = f"{head}.{match.group(1)}"
        out[key] = value
    return out


def _block_prefix(model_keys: Any) -> str:
    """The model's block-list prefix, for renaming PySlowFast keys: PyTorchVideo's
    detectors hold their backbone as ``model.blocks``, classifiers as ``blocks``."""
    return "model.blocks" if any(k.startswith("model.blocks.") for k in model_keys) else "blocks"


def load_pretrained(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    logger: Optional[logging.Logger] = None,
) -> dict[str, Any]:
    """Initialise ``model`` from pre-trained weights for fine-tuning.

    The file is read with ``torch.load(weights_only=True)`` onto the CPU, its format
    recognised (module docstring), ``module.`` prefixes stripped and PySlowFast names
    renamed. Every tensor whose name and shape match the model's is copied in
    (``load_state_dict(strict=False)``); nothing else is.

    ``model`` follows the library's model contract (:class:`~mutualnet3d.models.SlimNet`:
    ``head_name``, ``get_classifier``, ``reset_classifier``, ``detects``). The classifier
    is special: when its weight/bias differ from the file's only in the class count
    (dimension 0), it is re-initialised with the model's class count
    (``model.reset_classifier``) and named in ``reinitialized``. Every other key that
    is not loaded is logged (``logger.warning``) and returned: ``missing`` (model keys
    absent from the file, BN ``num_batches_tracked`` counters excepted: weights
    converted from Caffe2 lack them and a BN layer with a momentum never reads them),
    ``unexpected`` (file keys the model lacks, after renaming) and ``mismatched``
    (``"key: file shape vs model shape"``, classifier included when more than its class
    count differs).

    Args:
        model: the model to initialise (its own class count is kept).
        path: a ``.pyth`` / ``.pt`` file.
        logger: where to log (default: this module's).

    Returns:
        ``{"format", "loaded" (tensors copied), "missing", "unexpected", "mismatched",
        "reinitialized"}``; lists of names in the file's / model's order.
    """
    log = logger or _logger
    path = os.fspath(path)
    payload = torch.load(path, map_location="cpu", weights_only=True)
    fmt, state = _unpack(payload, path)
    model_state = model.state_dict()
    state = _to_model_names(model, fmt, state, model_state)
    head_name, head_module = model.head_name, model.get_classifier()
    head_keys = {f"{head_name}.{n}" for n, _ in head_module.named_parameters(recurse=False)}
    match = _match(state, model_state, head_keys)
    missing = [k for k in model_state if k not in state and not k.endswith(".num_batches_tracked")]
    result = model.load_state_dict(match.to_load, strict=False)
    if result.unexpected_keys:  # pragma: no cover - to_load only holds model keys
        raise RuntimeError(f"unexpected keys after filtering: {result.unexpected_keys}")

    reinitialized: list[str] = []
    if match.class_count_differs:
        model.reset_classifier(head_module.out_features)
        reinitialized.append(head_name)
        log.info(
            "%s: classifier %s re-initialised (%d classes in the model, file has another "
            "class count)",
            path,
            head_name,
            head_module.out_features,
        )

    _warn_each(log, path, "not in the file (left as initialised)", missing)
    _warn_each(log, path, "unused (not in the model)", match.unexpected)
    _warn_each(log, path, "shape mismatch, not loaded", match.mismatched)
    log.info(
        "%s: loaded %d of %d tensors (%s format)", path, len(match.to_load), len(model_state), fmt
    )
    return {
        "format": fmt,
        "loaded": len(match.to_load),
        "missing": missing,
        "unexpected": match.unexpected,
        "mismatched": match.mismatched,
        "reinitialized": reinitialized,
    }


def _to_model_names(
    model: nn.Module, fmt: str, state: dict[str, torch.Tensor], model_state: Mapping[str, Any]
) -> dict[str, torch.Tensor]:
    """PySlowFast's names renamed to PyTorchVideo's; a classifier's moved to a detector's."""
    blocks = _block_prefix(model_state)
    if fmt == "pyslowfast":
        return pyslowfast_to_pytorchvideo(state, blocks=blocks, head=model.head_name)
    if model.detects and any(k.startswith("blocks.") for k in state):
        return classifier_to_detector(state, model_state, model.head_name)
    return state


class _Match(NamedTuple):
    to_load: dict[str, torch.Tensor]  # name and shape match the model's
    unexpected: list[str]  # file keys the model lacks
    mismatched: list[str]  # "key: file shape vs model shape"
    class_count_differs: bool  # the classifier differs in its class count only


def _match(
    state: Mapping[str, torch.Tensor], model_state: Mapping[str, torch.Tensor], head_keys: set[str]
) -> _Match:
    match = _Match({}, [], [], False)
    differs = False
    for key, value in state.items():
        if key not in model_state:
            match.unexpected.append(key)
            continue
        target = model_state[key]
        if value.shape == target.shape:
            match.to_load[key] = value
        elif key in head_keys and value.shape[1:] == target.shape[1:]:
            differs = True
        else:
            match.mismatched.append(
                f"{key}: {tuple(value.shape)} in file vs {tuple(target.shape)} in model"
            )
    return match._replace(class_count_differs=differs)


def _warn_each(log: logging.Logger, path: str, what: str, keys: list[str]) -> None:
    for key in keys:
        log.warning("%s: %s: %s", path, what, key)
