"""Kinetics: ``{split}.csv`` of ``path label`` lines -> normalised clips, PySlowFast's way.

Train: one clip per video at a random time, scale jitter, random crop and flip.
Val: one clip per video at a random time, short side ``jitter_scales[0]``, centre crop.
Test: ``num_ensemble_views`` evenly spaced clips x ``num_spatial_crops`` crops per video;
dataset index ``i`` is view ``i % views`` of video ``i // views``.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Optional, Sequence

import torch
from torch.utils.data import Dataset

from ..utils.resample import temporal_indices
from . import transforms as T
from .decoder import DecodeError, decode_clip

__all__ = ["Kinetics", "VideoDecodeWarning", "pack_pathways", "read_annotations"]

MODES = ("train", "val", "test")


class VideoDecodeWarning(UserWarning):
    """A video was skipped: missing, empty (0 bytes), corrupt or truncated."""


def read_annotations(
    csv_path: str, path_prefix: str = "", separator: str = " "
) -> list[tuple[str, int]]:
    """``(video path, label)`` per line of ``csv_path``; paths joined to ``path_prefix``.

    No header; blank lines are skipped. A whitespace ``separator`` (the default " ")
    splits on any run of whitespace, as PySlowFast's first versions did; any other
    separator splits exactly and strips the fields. A line without exactly two fields
    or with a label that is not a non-negative integer raises ``ValueError`` naming the
    file and the 1-based line number.
    """
    entries: list[tuple[str, int]] = []
    with open(csv_path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            if separator.strip():
                fields = [field.strip() for field in line.split(separator)]
            else:
                fields = line.split()
            if len(fields) != 2 or not fields[0]:
                raise ValueError(
                    f"{csv_path}, line {number}: expected 'path{separator}label', "
                    f"got {line.rstrip()!r} ({len(fields)} fields)"
                )
            path, label = fields
            try:
                value = int(label)
            except ValueError:
                value = -1
            if value < 0:
                raise ValueError(
                    f"{csv_path}, line {number}: label must be a non-negative integer, "
                    f"got {label!r}"
                )
            entries.append((os.path.join(path_prefix, path), value))
    if not entries:
        raise ValueError(f"{csv_path}: no videos listed")
    return entries


def pack_pathways(clip: torch.Tensor, alpha: Optional[int]) -> list[torch.Tensor]:
    """Model inputs from a (C, T, H, W) clip: ``[clip]``, or ``[slow, fast]`` for SlowFast.

    The Fast pathway is the clip; the Slow one takes ``T // alpha`` frames spread evenly
    over it (:func:`mutualnet3d.utils.resample.temporal_indices`, PySlowFast's rule).
    """
    if alpha is None:
        return [clip]
    slow = clip.index_select(1, temporal_indices(clip.shape[1], clip.shape[1] // alpha))
    return [slow, clip]


def check_clip_arguments(
    mode: str,
    *,
    num_frames: int,
    jitter_scales: Sequence[int],
    crop_size: int,
    test_crop_size: int,
    num_ensemble_views: int,
    num_spatial_crops: int,
    mean: Sequence[float],
    std: Sequence[float],
    alpha: Optional[int],
    max_retries: int,
) -> Optional[int]:
    """Check the clip arguments the video data sets share; raise ValueError naming one.

    Returns the short side test views are scaled to (test mode), else None.
    """
    test_scale = None
    if len(jitter_scales) != 2 or not 0 < jitter_scales[0] <= jitter_scales[1]:
        raise ValueError(
            f"jitter_scales must be [min, max] with 0 < min <= max, got {jitter_scales}"
        )
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ValueError(f"mean and std need 3 values, std > 0; got {mean}, {std}")
    if alpha is not None and not 1 <= alpha <= num_frames:
        raise ValueError(f"alpha must be in [1, num_frames={num_frames}], got {alpha}")
    if max_retries < 0:
        raise ValueError(f"max_retries must be >= 0, got {max_retries}")
    if mode == "test":
        if num_ensemble_views < 1 or num_spatial_crops not in (1, 3):
            raise ValueError(
                "need num_ensemble_views >= 1 and num_spatial_crops in (1, 3), got "
                f"{num_ensemble_views}, {num_spatial_crops}"
            )
        # PySlowFast: 3 crops cut the scaled frame's full short side; 1 crop a centre.
        test_scale = test_crop_size if num_spatial_crops == 3 else int(jitter_scales[0])
        if test_crop_size > test_scale:
            raise ValueError(
                f"test_crop_size {test_crop_size} exceeds the test short side {test_scale}"
            )
    elif crop_size > jitter_scales[0]:
        raise ValueError(f"crop_size {crop_size} exceeds jitter_scales[0] {jitter_scales[0]}")
    return test_scale


class Kinetics(Dataset):
    """Kinetics-style video classification from a ``path label`` csv.

    Each item is a dict: ``inputs`` (list per pathway of float (C, T, H, W) tensors,
    normalised with ``mean``/``std``; T = ``num_frames`` for the Fast or single pathway,
    ``num_frames // alpha`` for the Slow one; H = W = ``crop_size``, or
    ``test_crop_size`` in test), ``label`` (int), ``index`` (dataset index of the sample
    returned), ``video_index`` (line of the video among the csv's videos, 0-based) and
    ``view`` (``temporal * num_spatial_crops + spatial``; 0 in train/val).

    Test spatial sampling: with 3 crops the short side is scaled to ``test_crop_size``
    and the left/centre/right (top/centre/bottom for portrait frames) squares of
    ``test_crop_size`` are taken; with 1 crop the short side is scaled to
    ``jitter_scales[0]`` and the centre square of ``test_crop_size`` is taken
    (PySlowFast's ``Kinetics.__getitem__``).

    Unreadable videos: each failed attempt on a missing, empty, corrupt or truncated file
    warns (:class:`VideoDecodeWarning`, naming the file) and is counted in
    :attr:`failures` (path -> failed attempts; each DataLoader worker process counts its
    own). Train/val then try another video drawn at random, up to ``max_retries`` times
    (``max_retries + 1`` attempts in all), and the returned sample is that video's (its
    ``index``, ``video_index`` and ``label``); when all fail, ``RuntimeError`` names the
    last file and the failure counts.
    Test views must stay with their video, so test retries the same view up to
    ``max_retries`` times (transient I/O errors) and then raises ``RuntimeError`` naming
    the file, as PySlowFast does. ``max_failure_ratio`` (None: off) raises
    ``RuntimeError`` once more than that fraction of the csv's videos have failed in this
    process, to stop a run on a broken copy of the data set.

    Scale jitter draws the short side uniformly in ``jitter_scales``, or its inverse
    uniformly with ``inverse_uniform_sampling`` (PySlowFast's X3D recipes).

    Randomness: ``seed=None`` draws from torch's global RNG (the DataLoader seeds each
    worker differently every epoch). An int makes each sample's draws a function of
    ``(seed, epoch, index)`` only, independent of workers; call :meth:`set_epoch` every
    epoch or augmentations repeat.
    """

    def __init__(
        self,
        csv_path: str,
        mode: str,
        *,
        path_prefix: str = "",
        separator: str = " ",
        num_frames: int,
        sampling_rate: int,
        target_fps: float = 30,
        jitter_scales: Sequence[int] = (256, 320),
        crop_size: int = 224,
        test_crop_size: int = 256,
        num_ensemble_views: int = 10,
        num_spatial_crops: int = 3,
        mean: Sequence[float],
        std: Sequence[float],
        random_flip: bool = True,
        inverse_uniform_sampling: bool = False,
        alpha: Optional[int] = None,
        max_retries: int = 10,
        max_failure_ratio: Optional[float] = None,
        seed: Optional[int] = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if num_frames < 1 or sampling_rate < 1 or target_fps <= 0:
            raise ValueError(
                "need num_frames >= 1, sampling_rate >= 1, target_fps > 0, got "
                f"{num_frames}, {sampling_rate}, {target_fps}"
            )
        self.test_scale = check_clip_arguments(
            mode, num_frames=num_frames, jitter_scales=jitter_scales, crop_size=crop_size,
            test_crop_size=test_crop_size, num_ensemble_views=num_ensemble_views,
            num_spatial_crops=num_spatial_crops, mean=mean, std=std, alpha=alpha,
            max_retries=max_retries,
        )

        self.csv_path = csv_path
        self.mode = mode
        entries = read_annotations(csv_path, path_prefix, separator)
        self.videos = [path for path, _ in entries]
        self.labels = [label for _, label in entries]
        self.num_frames = num_frames
        self.sampling_rate = sampling_rate
        self.target_fps = target_fps
        self.jitter_scales = (int(jitter_scales[0]), int(jitter_scales[1]))
        self.crop_size = crop_size
        self.test_crop_size = test_crop_size
        self.num_ensemble_views = num_ensemble_views
        self.num_spatial_crops = num_spatial_crops
        # Views per video: one clip in train/val.
        self.num_views = num_ensemble_views * num_spatial_crops if mode == "test" else 1
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.random_flip = random_flip
        self.inverse_uniform_sampling = inverse_uniform_sampling
        self.alpha = alpha
        self.max_retries = max_retries
        self.max_failure_ratio = max_failure_ratio
        self.seed = seed
        self.epoch = 0
        self.failures: dict[str, int] = {}

    @property
    def num_videos(self) -> int:
        """Videos listed in the csv."""
        return len(self.videos)

    @property
    def num_failures(self) -> int:
        """Failed decode attempts so far in this process (all files)."""
        return sum(self.failures.values())

    def __len__(self) -> int:
        """Videos (train/val) or videos x views (test)."""
        return self.num_videos * self.num_views

    def set_epoch(self, epoch: int) -> None:
        """Epoch mixed into the per-sample seed (only used when ``seed`` is set)."""
        self.epoch = epoch

    def view_of(self, index: int) -> tuple[int, int, int]:
        """``(video index, temporal index, spatial index)`` of dataset index ``index``.

        Test: view = index % views, temporal = view // crops, spatial = view % crops
        (always 1, the centre, with one crop). Train/val: ``(index, -1, -1)``, random.
        """
        if self.mode != "test":
            return index, -1, -1
        video, view = divmod(index, self.num_views)
        temporal, spatial = divmod(view, self.num_spatial_crops)
        return video, temporal, spatial if self.num_spatial_crops == 3 else 1

    def _generator(self, index: int) -> Optional[torch.Generator]:
        if self.seed is None:
            return None
        # A fixed mix of (seed, epoch, index): the same draws whichever worker asks.
        mixed = ((self.seed * 1_000_003 + self.epoch) * 1_000_003 + index) % (2**63 - 1)
        return torch.Generator().manual_seed(mixed)

    def _record_failure(self, path: str, error: DecodeError) -> None:
        self.failures[path] = self.failures.get(path, 0) + 1
        warnings.warn(
            f"skipping video {path} ({error}); failure {self.failures[path]} of this file",
            VideoDecodeWarning,
            stacklevel=3,
        )
        ratio = self.max_failure_ratio
        if ratio is not None and len(self.failures) > ratio * self.num_videos:
            raise RuntimeError(
                f"{len(self.failures)} of {self.num_videos} videos in {self.csv_path} failed "
                f"to decode (more than max_failure_ratio {ratio}); last: {path}"
            )

    def _decode(
        self, video: int, temporal: int, generator: Optional[torch.Generator]
    ) -> torch.Tensor:
        return decode_clip(
            self.videos[video], self.num_frames, self.sampling_rate, self.target_fps,
            clip_index=temporal, num_clips=self.num_ensemble_views, generator=generator,
        )

    def _spatial(
        self, clip: torch.Tensor, spatial: int, generator: Optional[torch.Generator]
    ) -> torch.Tensor:
        if self.mode == "train":
            clip = T.random_short_side_scale(
                clip, *self.jitter_scales, generator=generator,
                inverse_uniform=self.inverse_uniform_sampling,
            )
            clip = T.random_crop(clip, self.crop_size, generator=generator)
            if self.random_flip:
                clip = T.random_horizontal_flip(clip, 0.5, generator=generator)
        elif self.mode == "val":
            clip = T.center_crop(T.short_side_scale(clip, self.jitter_scales[0]), self.crop_size)
        else:
            clip = T.short_side_scale(clip, self.test_scale)
            clip = T.uniform_crop(clip, self.test_crop_size, spatial)
        return clip

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        generator = self._generator(index)
        video, temporal, spatial = self.view_of(index)
        for attempt in range(self.max_retries + 1):
            path = self.videos[video]
            try:
                frames = self._decode(video, temporal, generator)
                break
            except DecodeError as error:
                self._record_failure(path, error)
            if self.mode != "test" and attempt < self.max_retries:
                video = index = int(torch.randint(self.num_videos, (), generator=generator))
        else:
            note = "; test views are never replaced by another video" if self.mode == "test" else ""
            raise RuntimeError(
                f"{self.mode}: no decodable video after {self.max_retries} retries; last "
                f"failed file {path} ({self.failures[path]} failures); {self.num_failures} "
                f"failed attempts on {len(self.failures)} files so far{note}"
            )
        # Normalise after cropping: it is per-channel affine, so it commutes with bilinear
        # scaling and cropping, and costs fewer pixels.
        clip = self._spatial(T.to_float_clip(frames), spatial, generator)
        clip = T.normalize(clip, self.mean, self.std).contiguous()
        return {
            "inputs": pack_pathways(clip, self.alpha),
            "label": self.labels[video],
            "index": index,
            "video_index": video,
            "view": index % self.num_views,
        }

