"""Weights from a file into a model: fine-tuning and test-only runs, from any format.

:func:`load_pretrained` (TRAIN.CHECKPOINT_FILE_PATH) and :func:`load_for_test`
(TEST.CHECKPOINT_FILE_PATH) take every format :func:`~.weights_file.read_weights`
recognises: ours, PyTorchVideo's (state dicts, hub files), PySlowFast's (its own models,
its PTV* models) and Caffe2 pickles. The file is never unpickled with code: PyTorch files
with ``weights_only=True``, Caffe2 pickles with a restricted unpickler.

Names are then moved to the model's:

* PySlowFast's (and Caffe2's, renamed to PySlowFast's first) by the family table of
  :mod:`.pyslowfast_names` that covers most of the model's keys;
* a classification network's under a detector's (:func:`classifier_to_detector`), as the
  paper's AVA runs start from Kinetics.

Unlike PySlowFast's loader, which skips a tensor of another shape silently, every tensor
that is not loaded is named (:class:`LoadReport`, and a log line each), and a file from
which nothing loads is an error naming the file and the format it was taken for.

A test-only run (:func:`load_for_test`) takes a file only when it defines the whole
network: a model tensor the file lacks (it would be tested at random), a file tensor the
model lacks (the file's network is another one: PySlowFast's X3D has a BN after the
first shortcut convolution that PyTorchVideo's lacks, a non-local block...), a tensor of
another shape and a classifier of another class count (random scores) are errors, all
named in one message, before the model is changed. Our own checkpoints load strictly
there, calibrated BN statistics included.

An X3D file of one layout (PySlowFast's ``X3D``: a BN on res2's first shortcut;
PyTorchVideo's and PySlowFast's ``PTVX3D``: none) loaded into a model of the other is
told so, with the model name to build (:func:`~.pyslowfast_names.x3d_layout_hint`): in
a test-only run's error, in a fine-tuning run's log and report (``hints``).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, NamedTuple, Optional

import torch
import torch.nn as nn

from .pyslowfast_names import TargetNames, best_family, x3d_layout_hint
from .weights_file import FORMATS, WeightsFile, read_weights

__all__ = ["LoadReport", "classifier_to_detector", "load_for_test", "load_pretrained"]

_logger = logging.getLogger(__name__)
# A slim BN's calibrated statistics (mutualnet3d.slim): registered on demand, so a fresh
# model has none; fine-tuning would make them stale anyway.
_CALIBRATED = re.compile(r"(?:^|\.)stats_\w+_(?:mean|var)$")


@dataclass(frozen=True)
class LoadReport:
    """What a load did; lists hold names in the file's / the model's order.

    Attributes:
        path, format: the file and the format it was taken for (``FORMATS``).
        names: how names were moved to the model's: ``"as is"``, a PySlowFast family
            (``"resnet"``, ``"x3d"``), ``+ classifier -> detector``.
        loaded, total: tensors copied in; tensors of the model.
        missing: model tensors absent from the file (BN ``num_batches_tracked`` counters
            excepted: Caffe2 files lack them and a BN with a momentum never reads them).
        unexpected: file tensors the model lacks (after renaming).
        mismatched: ``"key: file shape vs model shape"``.
        reinitialized: the classifier, when re-initialised for another class count.
        inflated: 2D kernels inflated into the model's 3D ones (``inflate=True``).
        skipped: file entries that are not weights of this model: Caffe2's solver blobs,
            our calibrated BN statistics when fine-tuning.
        epochs_done: the epochs the file's run had finished, when it says (ours and
            PySlowFast's checkpoints), else None.
        hints: what the tensors not loaded say of the file (an X3D of the other layout,
            and the model name to build for it).
    """

    path: str
    format: str
    names: str
    loaded: int
    total: int
    missing: list[str]
    unexpected: list[str]
    mismatched: list[str]
    reinitialized: list[str]
    inflated: list[str]
    skipped: list[str]
    epochs_done: Optional[int] = None
    hints: list[str] = field(default_factory=list)


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


def _model_names(
    model: nn.Module, weights: WeightsFile, model_state: Mapping[str, torch.Tensor]
) -> tuple[str, dict[str, torch.Tensor]]:
    """``(how, state under the model's names)``: PySlowFast names by the best family's
    table; a classifier's names moved to a detector's."""
    names, state = "as is", weights.state
    if weights.pyslowfast_names:
        target = TargetNames.of(model_state, model.head_name, model.num_pathways == 2)
        names, state = best_family(state, model_state, target)
    if model.detects and any(k.startswith("blocks.") for k in state):
        state = classifier_to_detector(state, model_state, model.head_name)
        names += " + classifier -> detector"
    return names, state


def _fit(
    value: torch.Tensor, shape: torch.Size, *, inflate: bool, pad: bool
) -> tuple[Optional[torch.Tensor], bool]:
    """``(value shaped as the model's tensor or None, whether it was inflated)``.

    ``pad``: a tensor with fewer dimensions whose shape matches once trailing 1s are
    added is reshaped (Caffe2 stores some 1x1x1 convolutions as matrices; PySlowFast's
    loader does the same). ``inflate``: a 2D kernel (O, I, H, W) becomes the model's 3D
    one (O, I, T, H, W), repeated over T and divided by T (I3D; PySlowFast's
    TRAIN.CHECKPOINT_INFLATE), so a static clip gives the 2D network's response.
    """
    if value.shape == shape:
        return value, False
    padded = tuple(value.shape) + (1,) * (len(shape) - value.dim())
    if pad and value.dim() < len(shape) and padded == tuple(shape):
        return value.reshape(shape), False
    if inflate and value.dim() == 4 and len(shape) == 5:
        if value.shape[:2] == shape[:2] and value.shape[2:] == shape[3:]:
            frames = shape[2]
            return value.unsqueeze(2).repeat(1, 1, frames, 1, 1) / frames, True
    return None, False


class _Plan(NamedTuple):
    names: str
    to_load: dict[str, torch.Tensor]  # the model's names and shapes
    missing: list[str]
    unexpected: list[str]
    mismatched: list[str]
    inflated: list[str]
    skipped: list[str]
    class_counts: Optional[tuple[int, int]]  # (file, model): the classifier's only difference
    hints: tuple[str, ...] = ()  # why tensors do not load (x3d_layout_hint)


def _plan(model: nn.Module, weights: WeightsFile, inflate: bool, calibrated: bool) -> _Plan:
    """What would load, and every tensor that would not (nothing is loaded yet).

    ``calibrated``: our calibrated BN statistics are skipped rather than unexpected.
    """
    model_state = model.state_dict()
    names, state = _model_names(model, weights, model_state)
    head = model.head_name
    head_keys = {f"{head}.{n}" for n, _ in model.get_classifier().named_parameters(recurse=False)}
    plan = _Plan(names, {}, [], [], [], [], list(weights.skipped), None)
    class_counts = None
    for key, value in state.items():
        if key not in model_state:
            skip = calibrated and _CALIBRATED.search(key)
            (plan.skipped if skip else plan.unexpected).append(key)
            continue
        target = model_state[key]
        fitted, inflated = _fit(
            value, target.shape, inflate=inflate, pad=weights.format == "caffe2"
        )
        if fitted is not None:
            plan.to_load[key] = fitted
            if inflated:
                plan.inflated.append(key)
        elif (
            key in head_keys and value.dim() == target.dim() and value.shape[1:] == target.shape[1:]
        ):
            class_counts = (int(value.shape[0]), int(target.shape[0]))
        else:
            plan.mismatched.append(
                f"{key}: {tuple(value.shape)} in file vs {tuple(target.shape)} in model"
            )
    plan.missing.extend(
        k for k in model_state if k not in state and not k.endswith(".num_batches_tracked")
    )
    layout = x3d_layout_hint(model_state, state)
    return plan._replace(class_counts=class_counts, hints=(layout,) if layout else ())


def _report(weights: WeightsFile, plan: _Plan, total: int, reinitialized: list[str]) -> LoadReport:
    return LoadReport(
        path=weights.path,
        format=weights.format,
        names=plan.names,
        loaded=len(plan.to_load),
        total=total,
        missing=plan.missing,
        unexpected=plan.unexpected,
        mismatched=plan.mismatched,
        reinitialized=reinitialized,
        inflated=plan.inflated,
        skipped=plan.skipped,
        epochs_done=weights.epochs_done,
        hints=list(plan.hints),
    )


def _log(log: logging.Logger, report: LoadReport) -> None:
    """A warning for each tensor not loaded, then the summary naming the format."""
    path = report.path
    for what, keys in (
        ("not in the file (left as initialised)", report.missing),
        ("unused (not in the model)", report.unexpected),
        ("shape mismatch, not loaded", report.mismatched),
    ):
        for key in keys:
            log.warning("%s: %s: %s", path, what, key)
    for hint in report.hints:
        log.warning("%s: %s", path, hint)
    if report.skipped:
        shown = ", ".join(report.skipped[:8]) + (", ..." if len(report.skipped) > 8 else "")
        log.info(
            "%s: %d entries that are not weights skipped: %s", path, len(report.skipped), shown
        )
    if report.inflated:
        log.info("%s: 2D kernels inflated to 3D: %s", path, ", ".join(report.inflated))
    log.info(
        "%s: loaded %d of %d tensors (%s format: %s; names %s)",
        path,
        report.loaded,
        report.total,
        report.format,
        FORMATS[report.format],
        report.names,
    )


def load_pretrained(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    checkpoint_type: str = "pytorch",
    inflate: bool = False,
    logger: Optional[logging.Logger] = None,
) -> LoadReport:
    """Initialise ``model`` from pre-trained weights for fine-tuning.

    Every tensor whose name (after renaming, module docstring) and shape match the
    model's is copied in (``load_state_dict(strict=False)``); nothing else is, and each
    other one is logged (``logger.warning``) and named in the report. The classifier is
    special: when its weight/bias differ from the file's only in the class count
    (dimension 0), it is re-initialised with the model's class count
    (``model.reset_classifier``). Our calibrated BN statistics are skipped (fine-tuning
    makes them stale).

    Args:
        model: a :class:`~mutualnet3d.models.SlimNet` (``head_name``, ``get_classifier``,
            ``reset_classifier``, ``detects``, ``num_pathways``); it keeps its class count.
        path: a ``.pyth`` / ``.pt`` / ``.pkl`` file.
        checkpoint_type: ``"pytorch"`` or ``"caffe2"`` (TRAIN.CHECKPOINT_TYPE).
        inflate: inflate 2D kernels into the model's 3D ones (TRAIN.CHECKPOINT_INFLATE).
        logger: where to log (default: this module's).

    Raises:
        CheckpointError: the file is no weights file, or nothing in it loads.
    """
    log = logger or _logger
    weights = read_weights(path, checkpoint_type)
    plan = _plan(model, weights, inflate, calibrated=True)
    if not plan.to_load:
        raise weights.error(
            f"no tensor loads into {type(model).__name__} (file keys such as "
            f"{list(weights.state)[:3]}, model keys such as {list(model.state_dict())[:3]})"
        )
    model.load_state_dict(plan.to_load, strict=False)
    reinitialized: list[str] = []
    if plan.class_counts is not None:
        model.reset_classifier(model.get_classifier().out_features)
        reinitialized.append(model.head_name)
        log.info(
            "%s: classifier %s re-initialised (%d classes in the model, %d in the file)",
            weights.path,
            model.head_name,
            plan.class_counts[1],
            plan.class_counts[0],
        )
    report = _report(weights, plan, len(model.state_dict()), reinitialized)
    _log(log, report)
    return report


def _test_problems(plan: _Plan, head: str) -> list[str]:
    """Why a test-only run cannot use ``plan`` (empty: it can); what the file is
    (``plan.hints``, only where tensors do not load) first."""
    problems = list(plan.hints)
    if plan.class_counts is not None:
        file_classes, model_classes = plan.class_counts
        problems.append(
            f"the classifier {head} has {file_classes} classes in the file and "
            f"{model_classes} in the model (MODEL.NUM_CLASSES); a test-only run cannot "
            "re-initialise it, its scores would be random"
        )
    if plan.missing:
        problems.append(f"{len(plan.missing)} model tensors not in the file: {plan.missing}")
    if plan.unexpected:
        problems.append(
            f"{len(plan.unexpected)} file tensors the model lacks (another network): "
            f"{plan.unexpected}"
        )
    if plan.mismatched:
        problems.append(f"{len(plan.mismatched)} tensors of another shape: {plan.mismatched}")
    return problems


def load_for_test(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    checkpoint_type: str = "pytorch",
    logger: Optional[logging.Logger] = None,
) -> LoadReport:
    """The weights a test-only run (calibration, search, test) evaluates.

    Our checkpoints load strictly (``load_state_dict(strict=True)``: every tensor,
    calibrated BN statistics included). Any other format loads through the same
    recognition and renaming as :func:`load_pretrained`, and must be as strict: every
    model tensor comes from the file with its shape (BN counters aside), every file
    tensor is the model's (non-weights aside: Caffe2's solver blobs, named in
    ``skipped``), the classifier has the model's class count.

    Raises:
        CheckpointError: naming the file, its format and every problem (a foreign
            format's before the model is changed; ours as ``load_state_dict`` says it).
    """
    log = logger or _logger
    weights = read_weights(path, checkpoint_type)
    if weights.format == "mutualnet3d":
        try:
            model.load_state_dict(weights.state, strict=True)
        except RuntimeError as error:
            raise weights.error(f"does not load strictly into the model: {error}") from error
        plan = _Plan("as is", weights.state, [], [], [], [], [], None)
    else:
        plan = _plan(model, weights, inflate=False, calibrated=False)
        problems = _test_problems(plan, model.head_name)
        if problems:
            raise weights.error("; ".join(problems))
        model.load_state_dict(plan.to_load, strict=False)
    report = _report(weights, plan, len(model.state_dict()), [])
    _log(log, report)
    return report
