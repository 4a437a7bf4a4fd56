"""Videos cut into clips and test views PySlowFast's way: what Kinetics and Charades share.

:class:`ClipDataset` adds the test views and PySlowFast's classification crops to
:class:`~mutualnet3d.data.video_dataset.VideoDataset`; a subclass says how its
annotations are read and how one clip is loaded.
"""

from __future__ import annotations

from typing import Any, Optional

import torch

from . import transforms as T
from .specs import ClipSampling, Normalization, RetryPolicy, SpatialSampling, TestViews
from .video_dataset import VideoDataset

__all__ = ["ClipDataset"]


class ClipDataset(VideoDataset):
    """Base of the video classification data sets (Kinetics, Charades).

    Each item is a dict: ``inputs`` (list per pathway of float (C, T, H, W) tensors,
    normalised with ``normalization``; T = ``sampling.num_frames`` for the Fast or
    single pathway, ``num_frames // alpha`` for the Slow one; H = W =
    ``spatial.crop_size``, or ``spatial.test_crop_size`` in test), ``label`` (what
    :meth:`load_clip` returns), ``index`` (dataset index of the sample returned),
    ``video_index`` (the video's rank among the annotated videos, 0-based) and ``view``
    (``temporal * num_spatial_crops + spatial``; 0 in train/val).

    Spatial sampling (PySlowFast's): train scales the short side to a size drawn
    uniformly in ``jitter_scales`` (its inverse uniformly with ``inverse_uniform``,
    PySlowFast's X3D recipes), takes a random ``crop_size`` square and flips with
    probability 0.5 if ``random_flip``; val scales to ``jitter_scales[0]`` and takes the
    centre ``crop_size`` square. Test: with 3 crops the short side is scaled to
    ``test_crop_size`` and the left/centre/right (top/centre/bottom for portrait frames)
    squares of ``test_crop_size`` are taken; with 1 crop the short side is scaled to
    ``jitter_scales[0]`` and the centre square of ``test_crop_size`` is taken.

    Unreadable videos: each failed attempt (a :class:`DecodeError` from
    :meth:`load_clip`: a missing, empty, corrupt or truncated video or frame file) warns
    (:class:`VideoDecodeWarning`, naming the video and the file) and is counted in
    :attr:`failures` (file path -> failed attempts; each DataLoader worker process
    counts its own). Train/val then try another video drawn at random, up to
    ``retry.max_retries`` times, and the returned sample is that video's (its
    ``index``, ``video_index`` and ``label``); when all fail, ``RuntimeError`` names the
    last file and the failure counts. Test views must stay with their video, so test
    retries the same view (transient I/O errors) and then raises ``RuntimeError``
    naming the file, as PySlowFast does. ``retry.max_failure_ratio`` (None: off) raises
    ``RuntimeError`` once more than that fraction of the videos have failed in this
    process, to stop a run on a broken copy of the data set.

    Randomness: see ``seed`` in :class:`VideoDataset`.

    A subclass implements :attr:`num_videos`, :meth:`video_name` and :meth:`load_clip`,
    and reads its annotations before it calls ``super().__init__`` with ``source`` (the
    annotation file, named in errors): the failure log is sized by ``num_videos``.
    """

    NEVER_REPLACED = "; test views are never replaced by another video"

    def __init__(
        self,
        split: str,
        *,
        source: str,
        sampling: ClipSampling,
        spatial: SpatialSampling,
        views: TestViews,
        normalization: Normalization,
        retry: RetryPolicy,
        alpha: Optional[int],
        seed: Optional[int],
    ) -> None:
        super().__init__(
            split, source=source, unit="videos", num_samples=self.num_videos,
            sampling=sampling, spatial=spatial, normalization=normalization, retry=retry,
            alpha=alpha, seed=seed,
        )
        self.views = views
        #: the short side test views are scaled to (test split), else None
        self.test_scale: Optional[int] = None
        scales, crop, test_crop = spatial.jitter_scales, spatial.crop_size, spatial.test_crop_size
        if split == "test":
            # PySlowFast: 3 crops cut the scaled frame's full short side; 1 crop a centre.
            self.test_scale = test_crop if views.num_spatial_crops == 3 else scales[0]
            if test_crop > self.test_scale:
                raise ValueError(
                    f"test_crop_size {test_crop} exceeds the test short side {self.test_scale}"
                )
        elif crop > scales[0]:
            raise ValueError(f"crop_size {crop} exceeds jitter_scales[0] {scales[0]}")
        #: views per video: one clip in train/val
        self.num_views = views.num_views if split == "test" else 1

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

        ``temporal`` is the test view's clip index among ``views.num_ensemble_views``
        evenly spaced ones, -1 for a random clip (train/val). Raises
        :class:`DecodeError` (its ``filename`` the file that failed) for an unreadable
        video or frame.
        """
        raise NotImplementedError

    def __len__(self) -> int:
        """Videos (train/val) or videos x views (test)."""
        return self.num_videos * self.num_views

    def view_of(self, index: int) -> tuple[int, int, int]:
        """``(video index, temporal index, spatial index)`` of dataset index ``index``.

        Test: view = index % views, temporal = view // crops, spatial = view % crops
        (always 1, the centre, with one crop). Train/val: ``(index, -1, -1)``, random.
        """
        if self.split != "test":
            return index, -1, -1
        video, view = divmod(index, self.num_views)
        crops = self.views.num_spatial_crops
        temporal, spatial = divmod(view, crops)
        return video, temporal, spatial if crops == 3 else 1

    def _spatial(
        self, clip: torch.Tensor, spatial: int, generator: Optional[torch.Generator]
    ) -> torch.Tensor:
        s = self.spatial
        if self.split == "train":
            clip = T.random_short_side_scale(
                clip, *s.jitter_scales, generator=generator, inverse_uniform=s.inverse_uniform
            )
            clip = T.random_crop(clip, s.crop_size, generator=generator)
            if s.random_flip:
                clip = T.random_horizontal_flip(clip, 0.5, generator=generator)
        elif self.split == "val":
            clip = T.center_crop(T.short_side_scale(clip, s.jitter_scales[0]), s.crop_size)
        else:
            clip = T.short_side_scale(clip, self.test_scale)
            clip = T.uniform_crop(clip, s.test_crop_size, spatial)
        return clip

    def __getitem__(self, index: int) -> dict[str, Any]:
        index, generator = self._begin(index)
        video, temporal, spatial = self.view_of(index)
        loaded, (frames, label) = self._retries(
            lambda v: self.load_clip(v, temporal, generator),
            video,
            lambda v, error: (error.filename, f"video {self.video_name(v)}"),
            generator,
        )
        if loaded != video:  # a replacement (train/val, where index == video)
            index = video = loaded
        clip = self._spatial(T.to_float_clip(frames), spatial, generator)
        return {
            "inputs": self._inputs(clip),
            "label": label,
            "index": index,
            "video_index": video,
            "view": index % self.num_views,
        }
