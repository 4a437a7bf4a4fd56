"""Charades: PySlowFast's frame lists -> normalised clips with multi-hot labels.

The csv lists one JPEG frame per row (:mod:`~mutualnet3d.data.frame_lists`, PySlowFast's
format); ``path`` is relative to ``path_prefix`` (DATA.PATH_PREFIX) and ``labels`` holds
the frame's class ids. Frames are already at a fixed rate: a clip takes every
``sampling_rate``-th frame of the list (:func:`clip_frame_indices`, PySlowFast's
``get_seq_frames``).

Spatial sampling, normalisation, test views, pathways and retries are
:class:`~mutualnet3d.data.clip_dataset.ClipDataset`'s, as for Kinetics.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np
import torch

from .clip_dataset import ClipDataset
from .frame_lists import read_frame_lists
from .frames import load_frames
from .specs import ClipSampling, Normalization, RetryPolicy, SpatialSampling, TestViews

__all__ = ["Charades", "clip_frame_indices"]


def clip_frame_indices(
    total: int,
    num_frames: int,
    sampling_rate: int,
    clip_index: int = -1,
    num_clips: int = 1,
    generator: Optional[torch.Generator] = None,
) -> list[int]:
    """The frames of one clip of a ``total``-frame list: PySlowFast's Charades rule.

    The clip is ``num_frames`` frames ``sampling_rate`` apart, ``length = (num_frames -
    1) * sampling_rate + 1`` frames in all, from ``start`` on (indices clamped to the
    list: short videos repeat their last frame). ``clip_index == -1`` (train, val)
    draws ``start`` uniformly among the whole numbers of ``[0, total - length]``, or of
    ``[total - length, 0]`` when the video is shorter than the clip (then the first
    frames repeat). Test view ``clip_index`` of ``num_clips`` starts at
    ``round(clip_index * max(total - length, 0) / (num_clips - 1))``; a single view at
    0 (where PySlowFast divides by zero).
    """
    if total < 1:
        raise ValueError(f"a video needs at least one frame, got {total}")
    length = (num_frames - 1) * sampling_rate + 1
    if clip_index == -1:
        low, high = sorted((0, total - length))
        start = int(torch.randint(low, high + 1, (), generator=generator))
    elif not 0 <= clip_index < num_clips:
        raise ValueError(f"clip_index must be -1 or in [0, {num_clips}), got {clip_index}")
    else:
        gap = max(total - length, 0) / (num_clips - 1) if num_clips > 1 else 0.0
        start = int(round(gap * clip_index))
    return [max(min(start + i * sampling_rate, total - 1), 0) for i in range(num_frames)]


class Charades(ClipDataset):
    """Multi-label clips from a Charades frame list (PySlowFast's format and sampling).

    Each item is a dict as :class:`~mutualnet3d.data.clip_dataset.ClipDataset` returns,
    with ``label`` a float32 multi-hot tensor of shape (``num_classes``,).

    Temporal sampling (:func:`clip_frame_indices`, PySlowFast's): ``num_frames`` frames
    ``sampling_rate`` apart; train/val draw the start, test view ``i`` takes clip ``i //
    num_spatial_crops`` of ``num_ensemble_views`` evenly spaced ones. Spatial sampling
    and the view order are ClipDataset's.

    Labels, as PySlowFast's ``Charades``: in train, the union of the labels of every
    frame from the clip's first sampled frame to its last (frames between sampled ones
    included); in val and test, the union over the whole video (PySlowFast's
    ``convert_to_video_level_labels``), so all views of a video share the label that
    video-level mAP scores them against.

    The list is checked as it is read (:func:`~mutualnet3d.data.frame_lists.read_frame_lists`):
    labels in ``[0, num_classes)``, UTF-8, and frames listed twice for a video warned
    (kept, as PySlowFast) or, with ``allow_duplicates`` False, refused.

    Broken frames: a missing, empty or corrupt frame file fails its clip, which is
    retried and counted in :attr:`failures` (frame path -> failed attempts) as
    ClipDataset says for unreadable videos.

    Storage: the frame list of Charades holds millions of rows, so paths are kept in one
    numpy byte array and labels as ids of distinct label sets. Unlike lists of Python
    strings, these are not copied page by page into every forked DataLoader worker as
    reference counts change.
    """

    def __init__(
        self,
        csv_path: str,
        split: str,
        *,
        sampling: ClipSampling,
        spatial: SpatialSampling = SpatialSampling(),
        views: TestViews = TestViews(),
        normalization: Normalization,
        retry: RetryPolicy = RetryPolicy(),
        alpha: Optional[int] = None,
        seed: Optional[int] = None,
        path_prefix: str = "",
        num_classes: int = 157,
        allow_duplicates: bool = True,
    ) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.csv_path = csv_path
        self.path_prefix = path_prefix
        self.num_classes = num_classes
        names, paths, labels = read_frame_lists(
            csv_path, num_classes=num_classes, allow_duplicates=allow_duplicates
        )
        #: ``original_vido_id`` of each video, in csv order
        self.video_names = names
        lengths = np.array([len(p) for p in paths], dtype=np.int64)
        #: frames of video ``v`` are rows ``offsets[v]:offsets[v + 1]`` of the flat arrays
        self.offsets = np.concatenate([[0], np.cumsum(lengths)])
        self._paths = np.array([os.fsencode(p) for video in paths for p in video], dtype=bytes)
        label_sets: dict[tuple[int, ...], int] = {}
        self._frame_labels = np.array(
            [label_sets.setdefault(s, len(label_sets)) for video in labels for s in video],
            dtype=np.int32,
        )
        #: distinct label sets; frame ``i``'s labels are ``label_sets[_frame_labels[i]]``
        self.label_sets = list(label_sets)
        super().__init__(
            split, source=csv_path, sampling=sampling, spatial=spatial, views=views,
            normalization=normalization, retry=retry, alpha=alpha, seed=seed,
        )

    @property
    def num_videos(self) -> int:
        """Videos (distinct ``original_vido_id``) in the csv."""
        return len(self.video_names)

    def video_name(self, video: int) -> str:
        return self.video_names[video]

    def num_video_frames(self, video: int) -> int:
        """Frames listed for video ``video``."""
        return int(self.offsets[video + 1] - self.offsets[video])

    def frame_paths(self, video: int) -> list[str]:
        """Frame files of video ``video`` in csv order, joined to ``path_prefix``."""
        rows = self._paths[self.offsets[video] : self.offsets[video + 1]]
        return [os.path.join(self.path_prefix, os.fsdecode(p)) for p in rows]

    def clip_label(self, video: int, frame_indices: Sequence[int]) -> torch.Tensor:
        """float32 multi-hot (num_classes,) of a clip of ``video`` with these frames.

        Train: union over frames ``min(frame_indices)`` to ``max(frame_indices)``;
        val/test: union over the whole video (see the class docstring).
        """
        start, stop = int(self.offsets[video]), int(self.offsets[video + 1])
        if self.split == "train":
            start, stop = start + min(frame_indices), start + max(frame_indices) + 1
        target = torch.zeros(self.num_classes, dtype=torch.float32)
        for set_id in np.unique(self._frame_labels[start:stop]).tolist():
            target[list(self.label_sets[set_id])] = 1.0
        return target

    def load_clip(
        self, video: int, temporal: int, generator: Optional[torch.Generator]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.sampling
        frame_indices = clip_frame_indices(
            self.num_video_frames(video), s.num_frames, s.sampling_rate,
            clip_index=temporal, num_clips=self.views.num_ensemble_views, generator=generator,
        )
        paths = self.frame_paths(video)
        frames = load_frames([paths[i] for i in frame_indices])
        return frames, self.clip_label(video, frame_indices)
