"""Charades: PySlowFast's frame lists -> normalised clips with multi-hot labels.

The csv lists one JPEG frame per line, space-separated, after a header line::

    original_vido_id video_id frame_id path labels
    46GP8 0 0 46GP8/46GP8-000001.jpg ""
    46GP8 0 1 46GP8/46GP8-000002.jpg "12,101"

Rows are grouped into videos by ``original_vido_id`` (videos in order of first
appearance, frames in file order, as PySlowFast's ``load_image_lists``); ``path`` is
relative to ``path_prefix`` (DATA.PATH_PREFIX); ``labels`` is the quoted, comma-separated
list of the frame's class ids, possibly empty. Frames are already at a fixed rate, so a
clip covers ``num_frames * sampling_rate`` frames of the list.

Spatial sampling, normalisation, test views and pathways are Kinetics' own (the methods
are shared, not copied).
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from . import transforms as T
from .decoder import sample_frame_indices
from .frames import FrameLoadError, load_frames
from .kinetics import MODES, Kinetics, VideoDecodeWarning, check_clip_arguments, pack_pathways

__all__ = ["CHARADES_HEADER", "Charades", "read_frame_lists"]

#: the header PySlowFast's frame lists start with ("vido" is their spelling)
CHARADES_HEADER = ("original_vido_id", "video_id", "frame_id", "path", "labels")


def read_frame_lists(
    csv_path: str, num_classes: int
) -> tuple[list[str], list[list[str]], list[list[tuple[int, ...]]]]:
    """Parse a Charades frame list: ``(video names, frame paths, frame labels)``.

    Frame paths and labels are lists per video (paths as written in the csv, labels a
    sorted tuple of class ids per frame). The first line must be the header; blank lines
    are skipped; fields are split on any run of whitespace (PySlowFast's ``split()``).
    A missing header, a row without exactly 5 fields, or a label that is not an integer
    in ``[0, num_classes)`` raises ``ValueError`` naming the file and the 1-based line.
    """
    videos: dict[str, tuple[list[str], list[tuple[int, ...]]]] = {}
    with open(csv_path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            fields = line.split()
            if number == 1:
                if tuple(fields) != CHARADES_HEADER:
                    raise ValueError(
                        f"{csv_path}, line 1: expected the header {' '.join(CHARADES_HEADER)!r}, "
                        f"got {line.rstrip()!r}"
                    )
                continue
            if not fields:
                continue
            if len(fields) != 5:
                raise ValueError(
                    f"{csv_path}, line {number}: expected 5 fields ({' '.join(CHARADES_HEADER)}), "
                    f"got {len(fields)}: {line.rstrip()!r}"
                )
            name, _, _, path, labels = fields
            text = labels.replace('"', "")
            try:
                frame_labels = tuple(sorted({int(x) for x in text.split(",")})) if text else ()
            except ValueError:
                frame_labels = (-1,)
            if any(not 0 <= label < num_classes for label in frame_labels):
                raise ValueError(
                    f"{csv_path}, line {number}: labels must be integers in [0, {num_classes}) "
                    f"separated by commas, got {labels!r}"
                )
            paths, per_frame = videos.setdefault(name, ([], []))
            paths.append(path)
            per_frame.append(frame_labels)
    if not videos:
        raise ValueError(f"{csv_path}: no frames listed")
    names = list(videos)
    return names, [videos[n][0] for n in names], [videos[n][1] for n in names]


class Charades(Dataset):
    """Multi-label clips from a Charades frame list (PySlowFast's format and sampling).

    Each item is a dict as :class:`~mutualnet3d.data.kinetics.Kinetics` returns:
    ``inputs`` (list per pathway of float (C, T, H, W) tensors, normalised with
    ``mean``/``std``; T = ``num_frames`` for the Fast or single pathway, ``num_frames //
    alpha`` for the Slow one; H = W = ``crop_size``, or ``test_crop_size`` in test),
    ``label`` (float32 multi-hot tensor of shape (``num_classes``,)), ``index``,
    ``video_index`` (the video's rank among the csv's videos, 0-based) and ``view``.

    Temporal sampling: a clip covers ``num_frames * sampling_rate`` frames of the list
    and takes ``num_frames`` indices spread over it by ``linspace`` (truncated, clamped
    to the video: short videos repeat frames). Train/val draw the start uniformly; test
    view ``i`` takes clip ``i // num_spatial_crops`` of ``num_ensemble_views`` evenly
    spaced ones (:func:`~mutualnet3d.data.decoder.sample_frame_indices` with equal frame
    rates). Spatial sampling (``inverse_uniform_sampling`` too) and the view order are
    Kinetics'.

    Labels, as PySlowFast's ``Charades``: in train, the union of the labels of every
    frame from the clip's first sampled frame to its last (frames between sampled ones
    included); in val and test, the union over the whole video (PySlowFast's
    ``convert_to_video_level_labels``), so all views of a video share the label that
    video-level mAP scores them against.

    Broken frames: a missing, empty or corrupt frame file fails its clip; each failed
    attempt warns (:class:`~mutualnet3d.data.kinetics.VideoDecodeWarning`, naming the
    video and the frame file) and is counted in :attr:`failures` (frame path -> failed
    attempts, per process). Train/val then try another video drawn at random, up to
    ``max_retries`` times; test retries the same view (views must stay with their video).
    When all attempts fail, ``RuntimeError`` names the last file. ``max_failure_ratio``
    (None: off) raises once more than that fraction of the videos has failed.

    Randomness: ``seed`` and :meth:`set_epoch` as in Kinetics (None: torch's global RNG).

    Storage: the frame list of Charades holds millions of rows, so paths are kept in one
    numpy byte array and labels as ids of distinct label sets. Unlike lists of Python
    strings, these are not copied page by page into every forked DataLoader worker as
    reference counts change.
    """

    def __init__(
        self,
        csv_path: str,
        mode: str,
        *,
        path_prefix: str = "",
        num_classes: int = 157,
        num_frames: int,
        sampling_rate: int,
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
        if num_classes < 1 or num_frames < 1 or sampling_rate < 1:
            raise ValueError(
                "need num_classes >= 1, num_frames >= 1, sampling_rate >= 1, got "
                f"{num_classes}, {num_frames}, {sampling_rate}"
            )
        self.test_scale = check_clip_arguments(
            mode, num_frames=num_frames, jitter_scales=jitter_scales, crop_size=crop_size,
            test_crop_size=test_crop_size, num_ensemble_views=num_ensemble_views,
            num_spatial_crops=num_spatial_crops, mean=mean, std=std, alpha=alpha,
            max_retries=max_retries,
        )

        self.csv_path = csv_path
        self.mode = mode
        self.path_prefix = path_prefix
        self.num_classes = num_classes
        names, paths, labels = read_frame_lists(csv_path, num_classes)
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
        self.failures: dict[str, int] = {}
        self._failed_videos: set[int] = set()

    # Shared with Kinetics so the two cannot drift apart: they read only the attributes
    # set above (mode, views, crops, scales, flip, seed, epoch).
    view_of = Kinetics.view_of
    set_epoch = Kinetics.set_epoch
    _generator = Kinetics._generator
    _spatial = Kinetics._spatial

    @property
    def num_videos(self) -> int:
        """Videos (distinct ``original_vido_id``) in the csv."""
        return len(self.video_names)

    @property
    def num_failures(self) -> int:
        """Failed clip loads so far in this process (all files)."""
        return sum(self.failures.values())

    def __len__(self) -> int:
        """Videos (train/val) or videos x views (test)."""
        return self.num_videos * self.num_views

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
        if self.mode == "train":
            start, stop = start + min(frame_indices), start + max(frame_indices) + 1
        target = torch.zeros(self.num_classes, dtype=torch.float32)
        for set_id in np.unique(self._frame_labels[start:stop]).tolist():
            target[list(self.label_sets[set_id])] = 1.0
        return target

    def _record_failure(self, video: int, error: FrameLoadError) -> None:
        path = error.filename
        self.failures[path] = self.failures.get(path, 0) + 1
        self._failed_videos.add(video)
        warnings.warn(
            f"skipping video {self.video_names[video]} ({error}); failure "
            f"{self.failures[path]} of this file",
            VideoDecodeWarning,
            stacklevel=3,
        )
        ratio = self.max_failure_ratio
        if ratio is not None and len(self._failed_videos) > ratio * self.num_videos:
            raise RuntimeError(
                f"{len(self._failed_videos)} of {self.num_videos} videos in {self.csv_path} "
                f"had unreadable frames (more than max_failure_ratio {ratio}); last: {path}"
            )

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        generator = self._generator(index)
        video, temporal, spatial = self.view_of(index)
        for attempt in range(self.max_retries + 1):
            # Equal rates: the clip covers num_frames * sampling_rate frames of the list.
            frame_indices = sample_frame_indices(
                self.num_video_frames(video), self.num_frames, self.sampling_rate, 1.0, 1.0,
                clip_index=temporal, num_clips=self.num_ensemble_views, generator=generator,
            ).tolist()
            paths = self.frame_paths(video)
            try:
                frames = load_frames([paths[i] for i in frame_indices])
                break
            except FrameLoadError as error:
                self._record_failure(video, error)
                path = error.filename
            if self.mode != "test" and attempt < self.max_retries:
                video = index = int(torch.randint(self.num_videos, (), generator=generator))
        else:
            note = "; test views are never replaced by another video" if self.mode == "test" else ""
            raise RuntimeError(
                f"{self.mode}: no readable clip after {self.max_retries} retries; last failed "
                f"file {path} ({self.failures[path]} failures); {self.num_failures} failed "
                f"attempts on {len(self.failures)} files so far{note}"
            )
        # Normalise after cropping, as Kinetics: per-channel affine commutes with crops.
        clip = self._spatial(T.to_float_clip(frames), spatial, generator)
        clip = T.normalize(clip, self.mean, self.std).contiguous()
        return {
            "inputs": pack_pathways(clip, self.alpha),
            "label": self.clip_label(video, frame_indices),
            "index": index,
            "video_index": video,
            "view": index % self.num_views,
        }
