"""Kinetics: ``{split}.csv`` of ``path label`` lines -> normalised clips, PySlowFast's way.

Train: one clip per video at a random time, scale jitter, random crop and flip.
Val: one clip per video at a random time, short side ``jitter_scales[0]``, centre crop.
Test: ``num_ensemble_views`` evenly spaced clips x ``num_spatial_crops`` crops per video;
dataset index ``i`` is view ``i % views`` of video ``i // views``.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

import torch

from .clip_dataset import ClipDataset
from .decoder import decode_clip

__all__ = ["Kinetics", "read_annotations"]


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


class Kinetics(ClipDataset):
    """Kinetics-style video classification from a ``path label`` csv.

    Items, spatial sampling, test views, unreadable videos and randomness are
    :class:`~mutualnet3d.data.clip_dataset.ClipDataset`'s; ``label`` is the video's
    class (int). A clip spans ``num_frames * sampling_rate`` frames at ``target_fps``
    (PySlowFast's ``TARGET_FPS``), whatever the video's own frame rate.
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
        if target_fps <= 0:
            raise ValueError(f"target_fps must be > 0, got {target_fps}")
        self.csv_path = csv_path
        self.target_fps = target_fps
        entries = read_annotations(csv_path, path_prefix, separator)
        self.videos = [path for path, _ in entries]
        self.labels = [label for _, label in entries]
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
        """Videos listed in the csv."""
        return len(self.videos)

    def video_name(self, video: int) -> str:
        return self.videos[video]

    def load_clip(
        self, video: int, temporal: int, generator: Optional[torch.Generator]
    ) -> tuple[torch.Tensor, int]:
        frames = decode_clip(
            self.videos[video], self.num_frames, self.sampling_rate, self.target_fps,
            clip_index=temporal, num_clips=self.num_ensemble_views, generator=generator,
        )
        return frames, self.labels[video]
