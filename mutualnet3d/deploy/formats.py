"""Writing a deployable network in each export format, and running a written file.

Every format keeps the batch dimension free and every other dimension fixed (a
configuration has one input size):

* ``torchscript`` -> ``model.ts``: ``torch.jit.trace`` (scripting fails on PyTorchVideo's
  numpy-typed strides), loaded with ``torch.jit.load``, no Python class needed. torch
  2.14 deprecates TorchScript in favour of ``torch.export`` (``pt``);
* ``onnx`` -> ``model.onnx``: ``torch.onnx.export(dynamo=True)`` (needs ``onnxscript``),
  weights inside the file; PyTorch's legacy exporter (``dynamo=False``) refuses the
  adaptive head pools once the batch dimension is free. Runs in onnxruntime alone;
* ``pt`` -> ``model.pt2``: a ``torch.export`` ExportedProgram (``torch.export.save``),
  loaded with ``torch.export.load(path).module()``, again without this library and
  without unpickling code. ``.pt2`` is PyTorch's name for that archive (``torch.load``
  does not read it).

:func:`load_runner` runs a written file the way a user would load it, so verification
(:mod:`.verify`) checks the file, not the object it was made from.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn as nn

__all__ = ["FILE_NAMES", "FORMATS", "load_runner", "save_model"]

#: the written file of each format
FILE_NAMES = {"torchscript": "model.ts", "onnx": "model.onnx", "pt": "model.pt2"}
FORMATS = tuple(FILE_NAMES)

#: Runs a written model: one float tensor per input, in order -> logits (B, classes).
Runner = Callable[[Sequence[torch.Tensor]], torch.Tensor]

# torch.export's upper bound of the free batch dimension (any bound works at run time).
_MAX_BATCH = 4096


def _batch_dims(count: int) -> tuple[dict[int, object], ...]:
    batch = torch.export.Dim("batch", min=1, max=_MAX_BATCH)
    return tuple({0: batch} for _ in range(count))


@contextlib.contextmanager
def _quiet_torchscript() -> Iterator[None]:
    """torch 2.14 says TorchScript is deprecated on every trace, save and load: said once
    in the module docstring and docs/DEPLOY.md instead of in every command's output. The
    tracer also warns at every shape test of the models (resample's, the fusion's): they
    depend only on the frame and pixel sizes, which an export fixes, and verification
    runs the file at two batch sizes."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", r".*torch\.jit.*deprecated", FutureWarning)
        warnings.filterwarnings("ignore", r".*TorchScript.*deprecated", FutureWarning)
        yield


def _deploy_extra(error: ImportError) -> ImportError:
    return ImportError(
        f"ONNX export needs the deploy extra ({error.name} is missing): pip install -e '.[deploy]'"
    )


def _save_onnx(
    net: nn.Module, example: tuple[torch.Tensor, ...], names: list[str], path: str
) -> None:
    try:
        import onnxscript  # noqa: F401 - the dynamo exporter imports it; fail clearly here
    except ImportError as error:
        raise _deploy_extra(error) from None
    with warnings.catch_warnings():
        # Two pathways share the one batch dimension, which the exporter remarks on.
        warnings.filterwarnings("ignore", r".*axis name: batch will not be used", UserWarning)
        torch.onnx.export(
            net,
            example,
            path,
            dynamo=True,
            input_names=names,
            output_names=["logits"],
            dynamic_shapes=_batch_dims(len(example)),
            external_data=False,  # one file: the sub-networks here are far below ONNX's 2 GB
            verbose=False,
        )


@torch.no_grad()
def save_model(
    net: nn.Module, example: Sequence[torch.Tensor], names: list[str], fmt: str, path: str
) -> None:
    """Write ``net`` (eval mode, one tensor per input name) as ``fmt`` to ``path``.

    ``example``: a valid input (batch size >= 2, so that no size-1 batch is specialised);
    ``names``: the inputs' names (ONNX's; the others take inputs by position).
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    example = tuple(example)
    if fmt == "torchscript":
        with _quiet_torchscript():
            torch.jit.save(torch.jit.trace(net, example, check_trace=False), path)
    elif fmt == "onnx":
        _save_onnx(net, example, names, path)
    else:
        program = torch.export.export(net, example, dynamic_shapes=_batch_dims(len(example)))
        torch.export.save(program, path)


def _onnx_runner(path: str) -> Runner:
    try:
        import onnxruntime
    except ImportError as error:
        raise _deploy_extra(error) from None
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    def run(inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        # onnxruntime's CPU provider: inputs from any device, logits back on theirs.
        feed = {n: np.ascontiguousarray(x.detach().cpu().numpy()) for n, x in zip(names, inputs)}
        return torch.from_numpy(session.run(None, feed)[0]).to(inputs[0].device)

    return run


def load_runner(fmt: str, path: str) -> Runner:
    """A function running the ``fmt`` file at ``path`` (no gradients): TorchScript and
    torch.export files on the device they were written from, ONNX files in onnxruntime on
    the CPU (inputs from any device; the logits come back on the inputs')."""
    if not os.path.isfile(path):
        raise FileNotFoundError(path)
    if fmt == "onnx":
        return _onnx_runner(path)
    if fmt == "torchscript":
        with _quiet_torchscript():
            module = torch.jit.load(path)
    else:
        module = torch.export.load(path).module()

    def run(inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():
            return module(*inputs)

    return run
