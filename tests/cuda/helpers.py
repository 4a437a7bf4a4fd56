"""What the CUDA tests share."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch


@contextlib.contextmanager
def float32_only() -> Iterator[None]:
    """No TF32 in cuDNN's convolutions or cuBLAS's products while the block runs (PyTorch
    lets cuDNN use it by default), so that the GPU computes float32 as the CPU does."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
