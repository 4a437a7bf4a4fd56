"""Clips stored as one image file per frame (Charades' ``Charades_v1_rgb`` JPEGs).

Frames are decoded with Pillow, not ``torchvision.io.decode_jpeg``: torchvision 0.29
deprecates its image decoders and warns on every call, which would flood data loader
workers. Both use libjpeg(-turbo), so the pixels agree.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from PIL import Image

from .decoder import DecodeError, check_file

__all__ = ["FrameLoadError", "load_frame", "load_frames"]


class FrameLoadError(DecodeError):
    """A frame file is missing, empty, corrupt, truncated or of another size; names it.

    A :class:`~mutualnet3d.data.decoder.DecodeError`, so code that skips undecodable
    videos skips clips with a broken frame alike. ``filename`` is the frame's path.
    """

    action = "load frame"


# What Pillow raises for missing, unknown, corrupt or truncated files (its
# UnidentifiedImageError and "image file is truncated" are OSErrors; some plugins raise
# SyntaxError or EOFError).
_PIL_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def load_frame(path: str) -> np.ndarray:
    """One frame file as a uint8 RGB array of shape (H, W, 3).

    Any format Pillow reads by content works (JPEG is what Charades ships); grayscale,
    palette and CMYK images become RGB. Raises :class:`FrameLoadError` naming ``path``
    for a missing, empty (0 bytes), unreadable or truncated file; a truncated JPEG is
    an error rather than a partly grey frame (Pillow's default).
    """
    check_file(path, FrameLoadError)
    try:
        with Image.open(path) as image:
            # convert() forces the lazy decode inside the try, so corruption surfaces here.
            return np.asarray(image.convert("RGB"))
    except _PIL_ERRORS as error:
        raise FrameLoadError(path, f"{type(error).__name__}: {error}") from error


def load_frames(paths: Sequence[str]) -> torch.Tensor:
    """Frame files -> uint8 tensor (T, H, W, 3), RGB, T = ``len(paths)``, in that order.

    A path listed more than once (short videos repeat frames) is decoded once. All frames
    must share one size; a frame of another size raises :class:`FrameLoadError` naming it
    and the expected size, as do the failures of :func:`load_frame`.
    """
    if not paths:
        raise ValueError("no frame paths given")
    decoded: dict[str, np.ndarray] = {}
    size = None
    for path in paths:
        if path in decoded:
            continue
        frame = load_frame(path)
        if size is None:
            size = frame.shape
        elif frame.shape != size:
            raise FrameLoadError(
                path,
                f"size {frame.shape[0]}x{frame.shape[1]} differs from the clip's first "
                f"frame ({size[0]}x{size[1]}, {paths[0]})",
            )
        decoded[path] = frame
    return torch.from_numpy(np.stack([decoded[path] for path in paths]))
