"""Typed settings of the data sets: frozen dataclasses that check themselves.

Each spec raises ``ValueError`` naming its field and the value when built with a value
that cannot work, so a data set receives only valid settings and checks no more than
what depends on its split (a crop that must fit the scaled frame, for example).
Defaults are PySlowFast's (its ``defaults.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch

from .transforms import normalize

__all__ = [
    "SPLITS",
    "ClipSampling",
    "ColorAugmentation",
    "Normalization",
    "RetryPolicy",
    "SpatialSampling",
    "TestViews",
    "check_split",
]

#: the splits every data set takes (torchvision's word; PySlowFast calls it ``mode``)
SPLITS = ("train", "val", "test")


def check_split(split: str) -> None:
    """Raise ``ValueError`` unless ``split`` is one of :data:`SPLITS`."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _invalid(spec: object, field: str, rule: str, value: Any) -> ValueError:
    return ValueError(f"{type(spec).__name__}.{field} must be {rule}, got {value!r}")


@dataclass(frozen=True)
class ClipSampling:
    """Which frames a clip takes: ``num_frames`` frames ``sampling_rate`` apart.

    ``sampling_rate`` counts frames at ``target_fps`` (frames per second): a decoded
    video at another rate covers the same seconds (Kinetics, PySlowFast's
    ``DATA.TARGET_FPS``). Frame lists (Charades, AVA) are sampled as listed.
    """

    num_frames: int
    sampling_rate: int
    target_fps: float = 30

    def __post_init__(self) -> None:
        if self.num_frames < 1:
            raise _invalid(self, "num_frames", ">= 1", self.num_frames)
        if self.sampling_rate < 1:
            raise _invalid(self, "sampling_rate", ">= 1", self.sampling_rate)
        if not self.target_fps > 0:
            raise _invalid(self, "target_fps", "> 0", self.target_fps)


@dataclass(frozen=True)
class SpatialSampling:
    """Scales, crops (pixels) and flips; how each split uses them is the data set's.

    ``jitter_scales``: ``(min, max)`` short side of the training scale jitter (val
    scales to ``min``); ``crop_size``: the train/val square; ``test_crop_size``: the
    test square; ``random_flip``: horizontal flips in training; ``inverse_uniform``:
    draw the inverse of the scale uniformly (PySlowFast's ``DATA.INV_UNIFORM_SAMPLE``);
    ``scales_relative`` / ``aspect_relative``: the area and aspect ranges of images'
    random resized crops (PySlowFast's TRAIN_JITTER_*_RELATIVE; empty: the defaults).
    """

    jitter_scales: tuple[int, int] = (256, 320)
    crop_size: int = 224
    test_crop_size: int = 256
    random_flip: bool = True
    inverse_uniform: bool = False
    scales_relative: tuple[float, ...] = ()
    aspect_relative: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        scales = tuple(self.jitter_scales)
        if len(scales) != 2 or not 0 < scales[0] <= scales[1]:
            raise _invalid(self, "jitter_scales", "[min, max] with 0 < min <= max", scales)
        # Stored as a tuple of ints, so a spec built from a config list still hashes.
        object.__setattr__(self, "jitter_scales", (int(scales[0]), int(scales[1])))
        for field in ("scales_relative", "aspect_relative"):
            values = tuple(float(v) for v in getattr(self, field))
            if values and not (len(values) == 2 and 0 < values[0] <= values[1]):
                raise _invalid(self, field, "empty or [min, max] with 0 < min <= max", values)
            object.__setattr__(self, field, values)
        if self.crop_size < 1:
            raise _invalid(self, "crop_size", ">= 1", self.crop_size)
        if self.test_crop_size < 1:
            raise _invalid(self, "test_crop_size", ">= 1", self.test_crop_size)


@dataclass(frozen=True)
class TestViews:
    """Test clips per video: ``num_ensemble_views`` evenly spaced clips, each cut into
    ``num_spatial_crops`` squares (1: the centre; 3: left, centre, right).

    ``use_offset`` (PySlowFast's DATA.USE_OFFSET_SAMPLING) chooses where the clips of a
    decoded video start (:func:`~mutualnet3d.data.decoder.clip_start`): False, its
    default, at ``delta * i / n``; True, from the first frame to the last.
    """

    __test__ = False  # pytest: not a test class despite its name

    num_ensemble_views: int = 10
    num_spatial_crops: int = 3
    use_offset: bool = False

    def __post_init__(self) -> None:
        if self.num_ensemble_views < 1:
            raise _invalid(self, "num_ensemble_views", ">= 1", self.num_ensemble_views)
        if self.num_spatial_crops not in (1, 3):
            raise _invalid(self, "num_spatial_crops", "1 or 3", self.num_spatial_crops)

    @property
    def num_views(self) -> int:
        """Views per video: ``num_ensemble_views * num_spatial_crops``."""
        return self.num_ensemble_views * self.num_spatial_crops


@dataclass(frozen=True)
class ColorAugmentation:
    """Colour augmentation of training images (ImageNet's data set).

    ``jitter``: brightness, contrast and saturation jitter of this strength, torchvision's
    ``ColorJitter(jitter, jitter, jitter)`` (each factor uniform in ``[max(0, 1 - jitter),
    1 + jitter]``, the three in random order); ``lighting_std``: the std of AlexNet's PCA
    lighting noise (:func:`~mutualnet3d.data.transforms.lighting`) with ``eigval`` and
    ``eigvec`` (rows R, G, B; columns the components; pixels in [0, 1] units). 0 turns
    either off. Defaults: off, with PySlowFast's DATA.TRAIN_PCA_EIGVAL / EIGVEC.
    """

    jitter: float = 0.0
    lighting_std: float = 0.0
    eigval: tuple[float, ...] = (0.225, 0.224, 0.229)
    eigvec: tuple[tuple[float, ...], ...] = (
        (-0.5675, 0.7192, 0.4009),
        (-0.5808, -0.0045, -0.8140),
        (-0.5836, -0.6948, 0.4203),
    )

    def __post_init__(self) -> None:
        for field in ("jitter", "lighting_std"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise _invalid(self, field, "a number >= 0", value)
            object.__setattr__(self, field, float(value))
        eigval = tuple(float(v) for v in self.eigval)
        if len(eigval) != 3:
            raise _invalid(self, "eigval", "3 numbers", self.eigval)
        eigvec = tuple(tuple(float(v) for v in row) for row in self.eigvec)
        if len(eigvec) != 3 or any(len(row) != 3 for row in eigvec):
            raise _invalid(self, "eigvec", "3 rows of 3 numbers", self.eigvec)
        object.__setattr__(self, "eigval", eigval)
        object.__setattr__(self, "eigvec", eigvec)

    @property
    def enabled(self) -> bool:
        return self.jitter > 0 or self.lighting_std > 0


@dataclass(frozen=True)
class Normalization:
    """Per-channel ``(pixel - mean) / std`` of RGB pixels in [0, 1]: 3 values each.

    ``bgr``: the channels are then reversed (PySlowFast's DATA.REVERSE_INPUT_CHANNEL,
    for weights trained on BGR input), after the RGB normalisation, as PySlowFast does.
    Calling the spec applies it to a (C, ...) tensor.
    """

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    bgr: bool = False

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        clip = normalize(clip, self.mean, self.std)
        return clip.flip(0) if self.bgr else clip

    def __post_init__(self) -> None:
        if len(self.mean) != 3:
            raise _invalid(self, "mean", "3 values", self.mean)
        if len(self.std) != 3 or min(self.std) <= 0:
            raise _invalid(self, "std", "3 values > 0", self.std)
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))


@dataclass(frozen=True)
class RetryPolicy:
    """What a data set does about samples that fail to load.

    ``max_retries``: further attempts after a failure (another sample or the same one,
    as the data set's split allows), so ``max_retries + 1`` in all. ``max_failure_ratio``:
    stop with ``RuntimeError`` once more than this fraction of the samples have failed
    in a process (None: never), so a run on a broken copy of the data ends early.
    """

    max_retries: int = 10
    max_failure_ratio: Optional[float] = None

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise _invalid(self, "max_retries", ">= 0", self.max_retries)
        ratio = self.max_failure_ratio
        if ratio is not None and not 0 <= ratio <= 1:
            raise _invalid(self, "max_failure_ratio", "None or in [0, 1]", ratio)
