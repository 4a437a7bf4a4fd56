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

Spatial sampling, normalisation, test views, pathways and retries are
:class:`~mutualnet3d.data.clip_dataset.ClipDataset`'s, as for Kinetics.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np
import torch

from .clip_dataset import ClipDataset
from .decoder import sample_frame_indices
from .frames import load_frames

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


class Charades(ClipDataset):
    """Multi-label clips from a Charades frame list (PySlowFast's format and sampling).

    Each item is a dict as :class:`~mutualnet3d.data.clip_dataset.ClipDataset` returns,
    with ``label`` a float32 multi-hot tensor of shape (``num_classes``,).

    Temporal sampling: a clip covers ``num_frames * sampling_rate`` frames of the list
    and takes ``num_frames`` indices spread over it by ``linspace`` (truncated, clamped
    to the video: short videos repeat frames). Train/val draw the start uniformly; test
    view ``i`` takes clip ``i // num_spatial_crops`` of ``num_ensemble_views`` evenly
    spaced ones (:func:`~mutualnet3d.data.decoder.sample_frame_indices` with equal frame
    rates). Spatial sampling and the view order are ClipDataset's.

    Labels, as PySlowFast's ``Charades``: in train, the union of the labels of every
    frame from the clip's first sampled frame to its last (frames between sampled ones
    included); in val and test, the union over the whole video (PySlowFast's
    ``convert_to_video_level_labels``), so all views of a video share the label that
    video-level mAP scores them against.

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
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.csv_path = csv_path
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
        super().__init__(
            mode, source=csv_path, num_frames=num_frames, sampling_rate=sampling_rate,
            jitter_scales=jitter_scales, crop_size=crop_size, test_crop_size=test_crop_size,
            num_ensemble_views=num_ensemble_views, num_spatial_crops=num_spatial_crops,
            mean=mean, std=std, random_flip=random_flip,
            inverse_uniform_sampling=inverse_uniform_sampling, alpha=alpha,
            max_retries=max_retries, max_failure_ratio=max_failure_ratio, seed=seed,
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
        if self.mode == "train":
            start, stop = start + min(frame_indices), start + max(frame_indices) + 1
        target = torch.zeros(self.num_classes, dtype=torch.float32)
        for set_id in np.unique(self._frame_labels[start:stop]).tolist():
            target[list(self.label_sets[set_id])] = 1.0
        return target

    def load_clip(
        self, video: int, temporal: int, generator: Optional[torch.Generator]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # Equal rates: the clip covers num_frames * sampling_rate frames of the list.
        frame_indices = sample_frame_indices(
            self.num_video_frames(video), self.num_frames, self.sampling_rate, 1.0, 1.0,
            clip_index=temporal, num_clips=self.num_ensemble_views, generator=generator,
        ).tolist()
        paths = self.frame_paths(video)
        frames = load_frames([paths[i] for i in frame_indices])
        return frames, self.clip_label(video, frame_indices)
