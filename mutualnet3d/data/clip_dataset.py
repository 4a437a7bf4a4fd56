"""Videos cut into clips PySlowFast's way: what Kinetics and Charades share.

:class:`ClipDataset` holds the clip arguments, test views, spatial sampling,
normalisation, pathway packing, per-sample seeding and the retries on unreadable
videos; a subclass says how its annotations are read and how one clip is loaded.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
from torch.utils.data import Dataset

from ..utils.resample import temporal_indices
from . import transforms as T
from .decoder import DecodeError
from .failures import FailureLog

__all__ = [
    "MODES",
    "ClipDataset",
    "VideoDecodeWarning",
    "check_clip_arguments",
    "pack_pathways",
    "sample_generator",
]

MODES = ("train", "val", "test")


class VideoDecodeWarning(UserWarning):
    """A video (or one of its frames) was skipped: missing, empty, corrupt or truncated."""


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
    sampling_rate: int,
    jitter_scales: Sequence[int],
    mean: Sequence[float],
    std: Sequence[float],
    alpha: Optional[int],
    max_retries: int,
) -> None:
    """Check the arguments every video data set takes; raise ``ValueError`` naming one."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if num_frames < 1 or sampling_rate < 1:
        raise ValueError(
            f"need num_frames >= 1 and sampling_rate >= 1, got {num_frames}, {sampling_rate}"
        )
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


def sample_generator(seed: Optional[int], epoch: int, index: int) -> Optional[torch.Generator]:
    """The generator of sample ``index``'s random draws: None (torch's global RNG) when
    ``seed`` is None, else seeded by a fixed mix of ``(seed, epoch, index)``, so a sample
    gets the same draws whichever DataLoader worker loads it."""
    if seed is None:
        return None
    mixed = ((seed * 1_000_003 + epoch) * 1_000_003 + index) % (2**63 - 1)
    return torch.Generator().manual_seed(mixed)


class ClipDataset(Dataset):
    """Base of the video classification data sets (Kinetics, Charades).

    Each item is a dict: ``inputs`` (list per pathway of float (C, T, H, W) tensors,
    normalised with ``mean``/``std``; T = ``num_frames`` for the Fast or single pathway,
    ``num_frames // alpha`` for the Slow one; H = W = ``crop_size``, or
    ``test_crop_size`` in test), ``label`` (what :meth:`load_clip` returns),
    ``index`` (dataset index of the sample returned), ``video_index`` (the video's
    rank among the annotated videos, 0-based) and ``view`` (``temporal *
    num_spatial_crops + spatial``; 0 in train/val).

    Spatial sampling (PySlowFast's): train scales the short side to a size drawn
    uniformly in ``jitter_scales`` (its inverse uniformly with
    ``inverse_uniform_sampling``, PySlowFast's X3D recipes), takes a random
    ``crop_size`` square and flips with probability 0.5 if ``random_flip``; val scales
    to ``jitter_scales[0]`` and takes the centre ``crop_size`` square. Test: with 3
    crops the short side is scaled to ``test_crop_size`` and the left/centre/right
    (top/centre/bottom for portrait frames) squares of ``test_crop_size`` are taken;
    with 1 crop the short side is scaled to ``jitter_scales[0]`` and the centre square
    of ``test_crop_size`` is taken.

    Unreadable videos: each failed attempt (a :class:`DecodeError` from
    :meth:`load_clip`: a missing, empty, corrupt or truncated video or frame file) warns
    (:class:`VideoDecodeWarning`, naming the video and the file) and is counted in
    :attr:`failures` (file path -> failed attempts; each DataLoader worker process
    counts its own). Train/val then try another video drawn at random, up to
    ``max_retries`` times (``max_retries + 1`` attempts in all), and the returned sample
    is that video's (its ``index``, ``video_index`` and ``label``); when all fail,
    ``RuntimeError`` names the last file and the failure counts. Test views must stay
    with their video, so test retries the same view up to ``max_retries`` times
    (transient I/O errors) and then raises ``RuntimeError`` naming the file, as
    PySlowFast does. ``max_failure_ratio`` (None: off) raises ``RuntimeError`` once more
    than that fraction of the videos have failed in this process, to stop a run on a
    broken copy of the data set.

    Randomness: ``seed=None`` draws from torch's global RNG (the DataLoader seeds each
    worker differently every epoch). An int makes each sample's draws a function of
    ``(seed, epoch, index)`` only, independent of workers; call :meth:`set_epoch` every
    epoch or augmentations repeat.

    A subclass implements :attr:`num_videos`, :meth:`video_name` and :meth:`load_clip`,
    and reads its annotations before it calls ``super().__init__`` with ``source`` (the
    annotation file, named in errors) and the clip arguments: the failure log is sized
    by ``num_videos``.
    """

    def __init__(
        self,
        mode: str,
        *,
        source: str,
        num_frames: int,
        sampling_rate: int,
        jitter_scales: Sequence[int],
        crop_size: int,
        test_crop_size: int,
        num_ensemble_views: int,
        num_spatial_crops: int,
        mean: Sequence[float],
        std: Sequence[float],
        random_flip: bool,
        inverse_uniform_sampling: bool,
        alpha: Optional[int],
        max_retries: int,
        max_failure_ratio: Optional[float],
        seed: Optional[int],
    ) -> None:
        check_clip_arguments(
            mode, num_frames=num_frames, sampling_rate=sampling_rate,
            jitter_scales=jitter_scales, mean=mean, std=std, alpha=alpha,
            max_retries=max_retries,
        )
        #: the short side test views are scaled to (test mode), else None
        self.test_scale: Optional[int] = None
        if mode == "test":
            if num_ensemble_views < 1 or num_spatial_crops not in (1, 3):
                raise ValueError(
                    "need num_ensemble_views >= 1 and num_spatial_crops in (1, 3), got "
                    f"{num_ensemble_views}, {num_spatial_crops}"
                )
            # PySlowFast: 3 crops cut the scaled frame's full short side; 1 crop a centre.
            self.test_scale = test_crop_size if num_spatial_crops == 3 else int(jitter_scales[0])
            if test_crop_size > self.test_scale:
                raise ValueError(
                    f"test_crop_size {test_crop_size} exceeds the test short side {self.test_scale}"
                )
        elif crop_size > jitter_scales[0]:
            raise ValueError(f"crop_size {crop_size} exceeds jitter_scales[0] {jitter_scales[0]}")

        self.mode = mode
        self.num_frames = num_frames
        self.sampling_rate = sampling_rate
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
        self.failures = FailureLog(
            source=source, unit="videos", num_samples=self.num_videos,
            max_ratio=max_failure_ratio, category=VideoDecodeWarning,
        )

    @property
    def num_videos(self) -> int:
        """Videos in the annotations."""
        raise NotImplementedError

    def video_name(self, video: int) -> str:
        """What warnings call video ``video`` (its path or id)."""
        raise NotImplementedError

    def load_clip(
        self, video: int, temporal: int, generator: Optional[torch.Generator]
    ) -> tuple[torch.Tensor, Any]:
        """``(uint8 (T, H, W, 3) frames, label)`` of one clip of video ``video``.

        ``temporal`` is the test view's clip index among ``num_ensemble_views`` evenly
        spaced ones, -1 for a random clip (train/val). Raises :class:`DecodeError` (its
        ``filename`` the file that failed) for an unreadable video or frame.
        """
        raise NotImplementedError

    @property
    def num_failures(self) -> int:
        """Failed clip loads so far in this process (all files)."""
        return self.failures.attempts

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
        generator = sample_generator(self.seed, self.epoch, index)
        video, temporal, spatial = self.view_of(index)
        for attempt in range(self.max_retries + 1):
            try:
                frames, label = self.load_clip(video, temporal, generator)
                break
            except DecodeError as error:
                path = error.filename
                self.failures.record(path, video, f"video {self.video_name(video)}", error)
            if self.mode != "test" and attempt < self.max_retries:
                video = index = int(torch.randint(self.num_videos, (), generator=generator))
        else:
            note = "; test views are never replaced by another video" if self.mode == "test" else ""
            raise self.failures.exhausted(self.mode, self.max_retries, path, note)
        # Normalise after cropping: it is per-channel affine, so it commutes with bilinear
        # scaling and cropping, and costs fewer pixels.
        clip = self._spatial(T.to_float_clip(frames), spatial, generator)
        clip = T.normalize(clip, self.mean, self.std).contiguous()
        return {
            "inputs": pack_pathways(clip, self.alpha),
            "label": label,
            "index": index,
            "video_index": video,
            "view": index % self.num_views,
        }
