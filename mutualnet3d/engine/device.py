"""How a run uses its device: mixed precision, memory format, cuDNN's autotuner, determinism.

``TRAIN.MIXED_PRECISION`` is one code path on every device (:class:`~.train.MutualTrainer`
calls :func:`mixed_autocast` and :func:`scaled_backward`): the forward passes run under
``torch.autocast`` in :func:`autocast_dtype`'s type, float16 on CUDA with a GradScaler
(float16's range needs loss scaling), bfloat16 elsewhere without one (bfloat16 has
float32's range). On the CPU the backward pass of a mixed-precision step runs PyTorch's
own kernels instead of oneDNN's: in torch 2.14.1 oneDNN's bfloat16 weight gradient of a
3D convolution is wrong when the temporal kernel is longer than the clip (measured on an
AVX512-BF16 CPU: NaN, or off by 80% and more, for a 3x1x1 kernel on 2 frames, the
temporal convs of Slow's res4 at a 2-frame sub-network); the forward and input gradients
are right, and float32 is not affected.

``MODEL.CHANNELS_LAST`` stores a network's 5-D (video) or 4-D (image) weights
channels-last (:func:`to_channels_last`); a convolution's output follows its weight's
format, so activations are channels-last from the first convolution on (PyTorch's rule;
on the CPU, 1x1x1 convolutions return the standard format).

``CUDNN_BENCHMARK`` and ``DETERMINISTIC`` are process-wide switches of PyTorch:
:func:`backend_settings` sets them for the duration of a run and restores them after.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import ContextManager, Iterator

import torch
import torch.nn as nn

__all__ = [
    "CUBLAS_WORKSPACE",
    "BackendSpec",
    "autocast_dtype",
    "backend_settings",
    "channels_last_format",
    "grad_scaler",
    "mixed_autocast",
    "scaled_backward",
    "to_channels_last",
]

#: cuBLAS's setting for reproducible results (PyTorch's reproducibility notes), set by
#: DETERMINISTIC unless the environment already sets CUBLAS_WORKSPACE_CONFIG
CUBLAS_WORKSPACE = ":4096:8"
_CUBLAS_ENV = "CUBLAS_WORKSPACE_CONFIG"


def autocast_dtype(device: torch.device) -> torch.dtype:
    """The type mixed precision computes in on ``device``: float16 on CUDA, else bfloat16."""
    return torch.float16 if device.type == "cuda" else torch.bfloat16


def mixed_autocast(device: torch.device) -> ContextManager:
    """``torch.autocast`` on ``device`` in :func:`autocast_dtype`'s type."""
    return torch.autocast(device.type, dtype=autocast_dtype(device))


def grad_scaler(device: torch.device, mixed_precision: bool) -> torch.amp.GradScaler:
    """The loss scaler of a run: enabled with mixed precision on CUDA (float16), disabled
    otherwise (bfloat16 needs none); its state is checkpointed either way."""
    enabled = mixed_precision and device.type == "cuda"
    return torch.amp.GradScaler(device.type, enabled=enabled)


@contextlib.contextmanager
def _without_onednn() -> Iterator[None]:
    # Set the flag itself: torch.backends.mkldnn.flags() also sets oneDNN's TF32 switch,
    # which warns on every call on machines without an Intel GPU.
    saved = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = saved


def scaled_backward(
    loss: torch.Tensor,
    scaler: torch.amp.GradScaler,
    device: torch.device,
    mixed_precision: bool,
) -> None:
    """``scaler.scale(loss).backward()``; with mixed precision on the CPU, without oneDNN
    (its bfloat16 3D-conv weight gradient is wrong for short clips: module docstring)."""
    cpu_bfloat16 = mixed_precision and device.type == "cpu"
    with _without_onednn() if cpu_bfloat16 else contextlib.nullcontext():
        scaler.scale(loss).backward()


def channels_last_format(model: nn.Module) -> torch.memory_format:
    """channels_last_3d for a video network (5-D weights), channels_last for images."""
    return torch.channels_last if model.input_kind == "image" else torch.channels_last_3d


def to_channels_last(model: nn.Module) -> nn.Module:
    """``model`` with its conv weights stored channels-last (:func:`channels_last_format`);
    the values are unchanged, and so are checkpoints (``load_state_dict`` copies values
    into the weights' own format)."""
    return model.to(memory_format=channels_last_format(model))


@dataclass(frozen=True)
class BackendSpec:
    """PyTorch's process-wide switches a run sets (:func:`backend_settings`).

    cudnn_benchmark: ``torch.backends.cudnn.benchmark`` (CUDNN_BENCHMARK): cuDNN times
        its algorithms for each new input shape and keeps the fastest.
    deterministic: DETERMINISTIC: ``torch.use_deterministic_algorithms(True,
        warn_only=True)`` (deterministic kernels where PyTorch has them; PyTorch warns,
        naming the op, for each one that has none, such as the CUDA backward of
        AvgPool3d), ``torch.backends.cudnn.deterministic`` and
        CUBLAS_WORKSPACE_CONFIG :data:`CUBLAS_WORKSPACE` unless set.
    """

    cudnn_benchmark: bool = False
    deterministic: bool = False

    def described(self) -> list[str]:
        """A line for the run's log per switch that is on."""
        lines = []
        if self.cudnn_benchmark:
            lines.append(
                "CUDNN_BENCHMARK True: torch.backends.cudnn.benchmark (cuDNN times its "
                "algorithms for each new input shape and keeps the fastest)"
            )
        if self.deterministic:
            lines.append(
                "DETERMINISTIC True: torch.use_deterministic_algorithms(True, warn_only=True)"
                " and cudnn.deterministic; PyTorch warns, naming the op, where it has no "
                "deterministic algorithm"
            )
        return lines


def _state() -> tuple[bool, bool, bool, bool]:
    cudnn = torch.backends.cudnn
    return (
        cudnn.benchmark,
        cudnn.deterministic,
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )


def _set_state(state: tuple[bool, bool, bool, bool]) -> None:
    benchmark, cudnn_deterministic, deterministic, warn_only = state
    torch.backends.cudnn.benchmark = benchmark
    torch.backends.cudnn.deterministic = cudnn_deterministic
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


@contextlib.contextmanager
def backend_settings(spec: BackendSpec) -> Iterator[None]:
    """PyTorch's switches as ``spec`` says while the block runs, then as they were
    (CUBLAS_WORKSPACE_CONFIG too). The config decides both ways: ``deterministic`` False
    turns deterministic algorithms off. Enter it before the first CUDA matrix product
    (cuBLAS reads its workspace setting once)."""
    saved, cublas = _state(), os.environ.get(_CUBLAS_ENV)
    d = spec.deterministic
    _set_state((spec.cudnn_benchmark, d, d, d))
    if d and cublas is None:
        os.environ[_CUBLAS_ENV] = CUBLAS_WORKSPACE
    try:
        yield
    finally:
        _set_state(saved)
        if cublas is None:
            os.environ.pop(_CUBLAS_ENV, None)
