"""Kinetics: ``{split}.csv`` of ``path label`` lines -> normalised clips, PySlowFast's way.

Train: one clip per video at a random time, scale jitter, random crop and flip.
Val: one clip per video at a random time, short side ``jitter_scales[0]``, centre crop.
Test: ``num_ensemble_views`` evenly spaced clips x ``num_spatial_crops`` crops per video;
dataset index ``i`` is view ``i % views`` of video ``i // views``.
"""

from __future__ import annotations

import os
from typing import Optional

import torch

from .annotations import check_duplicates, read_lines
from .clip_dataset import ClipDataset
from .decoder import decode_clip
from .specs import ClipSampling, Normalization, RetryPolicy, SpatialSampling, TestViews

__all__ = ["Kinetics", "read_annotations"]


def read_annotations(
    csv_path: str,
    path_prefix: str = "",
    separator: str = " ",
    *,
    num_classes: Optional[int] = None,
    allow_duplicates: bool = True,
) -> list[tuple[str, int]]:
    """``(video path, label)`` per line of ``csv_path``; paths joined to ``path_prefix``.

    No header; blank lines are skipped. A whitespace ``separator`` (the default " ")
    splits on any run of whitespace, as PySlowFast's first versions did; any other
    separator splits exactly and strips the fields. A line without exactly two fields,
    with a label that is not a non-negative integer, or (with ``num_classes``) a label
    outside ``[0, num_classes)``, raises ``ValueError`` naming the file and the 1-based
    line number; so do bytes that are not UTF-8. Rows listed again (the same path and
    label) are kept, as PySlowFast keeps them, and warned once with their count
    (:class:`~mutualnet3d.data.annotations.AnnotationWarning`); ``allow_duplicates``
    False refuses them.
    """
    entries: list[tuple[str, int]] = []
    seen: set[tuple[str, int]] = set()
    duplicates, first = 0, 0
    for number, line in read_lines(csv_path):
        if not line.strip():
            continue
        path, label = _parse_row(csv_path, number, line, separator, num_classes)
        entry = (os.path.join(path_prefix, path), label)
        if entry in seen:
            duplicates, first = duplicates + 1, first or number
        seen.add(entry)
        entries.append(entry)
    if not entries:
        raise ValueError(f"{csv_path}: no videos listed")
    check_duplicates(csv_path, duplicates, first, "the same path and label", allow_duplicates)
    return entries


def _parse_row(
    csv_path: str, number: int, line: str, separator: str, num_classes: Optional[int]
) -> tuple[str, int]:
    """``(path, label)`` of one non-blank line (see :func:`read_annotations`)."""
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
            f"{csv_path}, line {number}: label must be a non-negative integer, got {label!r}"
        )
    if num_classes is not None and value >= num_classes:
        raise ValueError(
            f"{csv_path}, line {number}: label {value} outside [0, {num_classes}): the "
            f"network has {num_classes} classes (MODEL.NUM_CLASSES)"
        )
    return path, value


class Kinetics(ClipDataset):
    """Kinetics-style video classification from a ``path label`` csv.

    Items, spatial sampling, test views, unreadable videos and randomness are
    :class:`~mutualnet3d.data.clip_dataset.ClipDataset`'s; ``label`` is the video's
    class (int). A clip spans ``num_frames * sampling_rate`` frames at
    ``sampling.target_fps`` (PySlowFast's ``TARGET_FPS``), whatever the video's own
    frame rate. ``path_prefix`` is joined before each csv path; ``separator`` splits
    path and label; labels must lie in ``[0, num_classes)`` when it is given, and
    ``allow_duplicates`` False refuses rows listed twice (:func:`read_annotations`).
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
        separator: str = " ",
        decode_threads: bool = False,
        num_classes: Optional[int] = None,
        allow_duplicates: bool = True,
    ) -> None:
        self.csv_path = csv_path
        self.decode_threads = decode_threads
        entries = read_annotations(
            csv_path,
            path_prefix,
            separator,
            num_classes=num_classes,
            allow_duplicates=allow_duplicates,
        )
        self.videos = [path for path, _ in entries]
        #: packets that did not decode, per file (this process), in clips that loaded
        self.skipped_packets: dict[str, int] = {}
        self.labels = [label for _, label in entries]
        super().__init__(
            split,
            source=csv_path,
            sampling=sampling,
            spatial=spatial,
            views=views,
            normalization=normalization,
            retry=retry,
            alpha=alpha,
            seed=seed,
        )

    @property
    def num_videos(self) -> int:
        """Videos listed in the csv."""
        return len(self.videos)

    def video_name(self, video: int) -> str:
        return self.videos[video]

    def load_clip(
        self, video: int, temporal: int, generator: Optional[torch.Generator]
    ) -> tuple[torch.Tensor, int]:
        s = self.sampling
        counts = {"corrupt": 0, "empty": 0}
        frames = decode_clip(
            self.videos[video],
            s.num_frames,
            s.sampling_rate,
            s.target_fps,
            clip_index=temporal,
            num_clips=self.views.num_ensemble_views,
            generator=generator,
            use_offset=self.views.use_offset,
            threads=self.decode_threads,
            counts=counts,
        )
        if counts["corrupt"]:
            path = self.videos[video]
            self.skipped_packets[path] = self.skipped_packets.get(path, 0) + counts["corrupt"]
        return frames, self.labels[video]
