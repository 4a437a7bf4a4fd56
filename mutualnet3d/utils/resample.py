"""Lower spatial and temporal resolutions made from a clip already on the device.

One rule serves the input clips of sub-networks (engine) and the Fast-to-Slow fusion
(models), so fused Fast features always line up with the Slow frames they join.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

__all__ = ["temporal_indices", "resize_clip"]


def temporal_indices(length: int, num: int, device: Optional[torch.device] = None) -> torch.Tensor:
    """``num`` frame indices spread evenly over ``length`` frames.

    PySlowFast's rule for picking the Slow pathway's frames out of a clip
    (``torch.linspace(0, length - 1, num)``, truncated to integers).
    """
    if not 0 < num <= length:
        raise ValueError(f"cannot pick {num} frames out of {length}")
    return torch.linspace(0, length - 1, num, device=device).long()


def resize_clip(
    x: torch.Tensor,
    spatial: Optional[int] = None,
    temporal: Optional[int] = None,
    *,
    align_corners: bool = False,
) -> torch.Tensor:
    """Down-sample a (B, C, T, H, W) clip or (B, C, H, W) image batch.

    Frames are subsampled with :func:`temporal_indices` (never interpolated, so every
    frame is a real one); the short spatial side is resized to ``spatial`` by bilinear
    interpolation, as the official 2D MutualNet code does, keeping the aspect ratio.
    ``align_corners`` is ``F.interpolate``'s: True maps the corner pixels' centres onto
    each other (the official 2D code's choice), False scales pixel areas (PyTorch's
    default). ``None`` leaves a dimension as it is; no work is done for an unchanged size.
    """
    if temporal is not None and x.dim() == 5 and x.shape[2] != temporal:
        x = x.index_select(2, temporal_indices(x.shape[2], temporal, x.device))
    if spatial is not None:
        h, w = x.shape[-2:]
        if min(h, w) != spatial:
            size = (spatial, round(w * spatial / h)) if h <= w else (round(h * spatial / w), spatial)
            if x.dim() == 5:
                b, c, t = x.shape[:3]
                frames = x.transpose(1, 2).reshape(b * t, c, h, w)
                frames = F.interpolate(
                    frames, size=size, mode="bilinear", align_corners=align_corners
                )
                x = frames.reshape(b, t, c, *size).transpose(1, 2)
            else:
                x = F.interpolate(x, size=size, mode="bilinear", align_corners=align_corners)
    return x
