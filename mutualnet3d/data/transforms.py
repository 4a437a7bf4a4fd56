"""Spatial transforms of a clip, and PCA lighting noise, on plain torch tensors.

The spatial ones follow PySlowFast's rules. Every function takes and returns a float clip
of shape (C, T, H, W) (sizes in pixels; ``normalize`` and ``lighting`` take a (C, H, W)
image too); random ones draw from ``generator`` (``None``: torch's global RNG, which the DataLoader
seeds per worker). Nothing here imports ``pytorchvideo.transforms``, which does not
work with the installed torchvision.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "to_float_clip",
    "short_side_scale",
    "random_short_side_scale",
    "random_crop",
    "center_crop",
    "uniform_crop",
    "horizontal_flip",
    "random_horizontal_flip",
    "normalize",
    "lighting",
    "Lighting",
]


def to_float_clip(frames: torch.Tensor) -> torch.Tensor:
    """uint8 frames (T, H, W, C) -> float clip (C, T, H, W) in [0, 1]."""
    if frames.dim() != 4:
        raise ValueError(f"expected frames (T, H, W, C), got shape {tuple(frames.shape)}")
    return frames.permute(3, 0, 1, 2).float().div_(255.0)


def short_side_scale(clip: torch.Tensor, size: int) -> torch.Tensor:
    """Resize so the short side is ``size`` px, keeping the aspect ratio.

    The long side is ``floor(long * size / short)`` (PySlowFast's rule); bilinear,
    ``align_corners=False``. A clip whose short side already is ``size`` is returned.
    """
    c, t, h, w = clip.shape
    if min(h, w) == size:
        return clip
    if h <= w:
        new_h, new_w = size, int(math.floor(w * size / h))
    else:
        new_h, new_w = int(math.floor(h * size / w)), size
    # Frames are the batch of a 2D interpolation: (T, C, H, W).
    frames = F.interpolate(
        clip.transpose(0, 1), size=(new_h, new_w), mode="bilinear", align_corners=False
    )
    return frames.transpose(0, 1)


def random_short_side_scale(
    clip: torch.Tensor,
    min_size: int,
    max_size: int,
    generator: Optional[torch.Generator] = None,
    inverse_uniform: bool = False,
) -> torch.Tensor:
    """Scale jitter: short side to an integer drawn uniformly in [min_size, max_size].

    ``inverse_uniform`` draws ``1 / size`` uniformly in ``[1 / max_size, 1 / min_size]``
    instead and rounds (PySlowFast's DATA.INV_UNIFORM_SAMPLE, used by its X3D recipes),
    which favours the smaller scales.
    """
    if not 0 < min_size <= max_size:
        raise ValueError(f"need 0 < min_size <= max_size, got {min_size}, {max_size}")
    if inverse_uniform:
        u = float(torch.rand((), generator=generator))
        size = round(1.0 / (1.0 / max_size + u * (1.0 / min_size - 1.0 / max_size)))
    else:
        size = int(torch.randint(min_size, max_size + 1, (), generator=generator))
    return short_side_scale(clip, size)


def _check_crop(clip: torch.Tensor, size: int) -> tuple[int, int]:
    h, w = clip.shape[-2:]
    if size > min(h, w):
        raise ValueError(f"crop of {size} px does not fit frames of {h}x{w}")
    return h, w


def random_crop(
    clip: torch.Tensor, size: int, generator: Optional[torch.Generator] = None
) -> torch.Tensor:
    """A ``size`` x ``size`` crop at a uniformly drawn offset (every offset possible)."""
    h, w = _check_crop(clip, size)
    y = int(torch.randint(0, h - size + 1, (), generator=generator))
    x = int(torch.randint(0, w - size + 1, (), generator=generator))
    return clip[..., y : y + size, x : x + size]


def center_crop(clip: torch.Tensor, size: int) -> torch.Tensor:
    """The centre ``size`` x ``size`` crop (offsets rounded up, as PySlowFast)."""
    return uniform_crop(clip, size, 1)


def uniform_crop(clip: torch.Tensor, size: int, spatial_index: int) -> torch.Tensor:
    """Test crop ``spatial_index`` in {0, 1, 2} of a ``size`` x ``size`` square.

    Along the long side: 0 = left (top for portrait frames), 1 = centre, 2 = right
    (bottom); the short side is centred. Offsets as PySlowFast's ``uniform_crop``.
    """
    if spatial_index not in (0, 1, 2):
        raise ValueError(f"spatial_index must be 0, 1 or 2, got {spatial_index}")
    h, w = _check_crop(clip, size)
    y = int(math.ceil((h - size) / 2))
    x = int(math.ceil((w - size) / 2))
    if h > w:
        y = (0, y, h - size)[spatial_index]
    else:
        x = (0, x, w - size)[spatial_index]
    return clip[..., y : y + size, x : x + size]


def horizontal_flip(clip: torch.Tensor) -> torch.Tensor:
    """Mirror left-right (the W axis)."""
    return clip.flip(-1)


def random_horizontal_flip(
    clip: torch.Tensor, p: float = 0.5, generator: Optional[torch.Generator] = None
) -> torch.Tensor:
    """Mirror left-right with probability ``p``."""
    if float(torch.rand((), generator=generator)) < p:
        return horizontal_flip(clip)
    return clip


def normalize(clip: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """``(clip - mean) / std`` per channel (dim 0) of a (C, T, H, W) clip or (C, H, W)
    image; ``mean``, ``std`` in [0, 1] units."""
    if len(mean) != clip.shape[0] or len(std) != clip.shape[0]:
        raise ValueError(
            f"mean/std need one value per channel ({clip.shape[0]}), got {len(mean)}, {len(std)}"
        )
    shape = (-1,) + (1,) * (clip.dim() - 1)
    m = torch.as_tensor(mean, dtype=clip.dtype, device=clip.device).view(shape)
    s = torch.as_tensor(std, dtype=clip.dtype, device=clip.device).view(shape)
    return (clip - m) / s


def lighting(
    image: torch.Tensor,
    alpha_std: float,
    eigval: Sequence[float],
    eigvec: Sequence[Sequence[float]],
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """AlexNet's PCA lighting noise on an RGB image (3, H, W) or clip (3, T, H, W).

    Draws ``alpha ~ N(0, alpha_std**2)`` per principal component, once per call, and adds
    the RGB offset ``eigvec @ (alpha * eigval)`` to every pixel (``eigvec``'s columns
    are the components, its rows R, G, B; ``eigval`` their eigenvalues, for pixels in
    [0, 1] units). Not clamped, as AlexNet, fb.resnet.torch and PySlowFast. A float
    image is returned as a new tensor; ``alpha_std`` 0 returns ``image`` itself.
    """
    if image.shape[0] != 3:
        raise ValueError(f"lighting needs 3 (RGB) channels first, got shape {tuple(image.shape)}")
    if alpha_std == 0:
        return image
    alpha = torch.randn(3, generator=generator, dtype=torch.float64) * alpha_std
    vec = torch.as_tensor(eigvec, dtype=torch.float64)
    val = torch.as_tensor(eigval, dtype=torch.float64)
    offset = (vec @ (alpha * val)).to(image.dtype)
    return image + offset.view((3,) + (1,) * (image.dim() - 1))


class Lighting:
    """:func:`lighting` as a transform: ``Lighting(0.1, eigval, eigvec)(image)``; each call
    draws a new ``alpha`` from ``generator`` (``None``: torch's global RNG)."""

    def __init__(
        self,
        alpha_std: float,
        eigval: Sequence[float],
        eigvec: Sequence[Sequence[float]],
        generator: Optional[torch.Generator] = None,
    ) -> None:
        if not alpha_std >= 0:
            raise ValueError(f"alpha_std must be >= 0, got {alpha_std!r}")
        self.alpha_std = float(alpha_std)
        self.eigval = tuple(float(v) for v in eigval)
        self.eigvec = tuple(tuple(float(v) for v in row) for row in eigvec)
        if len(self.eigval) != 3 or len(self.eigvec) != 3 or any(len(r) != 3 for r in self.eigvec):
            raise ValueError(f"need 3 eigenvalues and 3x3 eigenvectors, got {eigval!r}, {eigvec!r}")
        self.generator = generator

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return lighting(image, self.alpha_std, self.eigval, self.eigvec, self.generator)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alpha_std={self.alpha_std})"
