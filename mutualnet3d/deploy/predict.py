"""Classifying one video file with a trained run: PySlowFast's test views, top-k classes.

:class:`SingleVideo` is the test split of a one-video data set: the library's decoder
(:func:`~mutualnet3d.data.decoder.decode_clip`) and the test views and crops of
:class:`~mutualnet3d.data.clip_dataset.ClipDataset` (``num_ensemble_views`` evenly
spaced clips x 1 centre or 3 crops), exactly as ``tools/run_net.py``'s test reads a
Kinetics video. :func:`video_scores` runs every view at one configuration and averages
their softmax (sigmoid for multi-label runs) scores.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn as nn

from ..data import ClipSampling, Normalization, SpatialSampling, TestViews
from ..data.clip_dataset import ClipDataset
from ..data.collate import collate_samples
from ..data.decoder import DecodeError, decode_clip
from ..data.specs import RetryPolicy
from ..engine.forward import batch_inputs, forward_at
from ..slim import SubnetConfig, set_width

__all__ = ["SingleVideo", "top_classes", "video_scores"]


class SingleVideo(ClipDataset):
    """The test views of the video file ``path`` (label -1: unknown).

    Settings as :class:`~mutualnet3d.data.kinetics.Kinetics`'; a view that does not decode
    is not retried. :attr:`error` keeps the last :class:`DecodeError`, whose message
    names the file and what failed (the data set's own error counts attempts)."""

    def __init__(
        self,
        path: str,
        *,
        sampling: ClipSampling,
        spatial: SpatialSampling,
        views: TestViews,
        normalization: Normalization,
        alpha: Optional[int] = None,
        decode_threads: bool = False,
    ) -> None:
        self.path = path
        self.decode_threads = decode_threads
        self.error: Optional[DecodeError] = None
        super().__init__(
            "test",
            source=path,
            sampling=sampling,
            spatial=spatial,
            views=views,
            normalization=normalization,
            retry=RetryPolicy(max_retries=0),
            alpha=alpha,
            seed=None,
        )

    @property
    def num_videos(self) -> int:
        return 1

    def video_name(self, video: int) -> str:
        return self.path

    def load_clip(
        self, video: int, temporal: int, generator: Optional[torch.Generator]
    ) -> tuple[torch.Tensor, int]:
        s = self.sampling
        try:
            frames = decode_clip(
                self.path,
                s.num_frames,
                s.sampling_rate,
                s.target_fps,
                clip_index=temporal,
                num_clips=self.views.num_ensemble_views,
                generator=generator,
                use_offset=self.views.use_offset,
                threads=self.decode_threads,
            )
        except DecodeError as error:
            self.error = error
            raise
        return frames, -1


@torch.no_grad()
def video_scores(
    model: nn.Module,
    dataset: SingleVideo,
    tested: SubnetConfig,
    resized: SubnetConfig,
    *,
    multi_label: bool,
    align_corners: bool,
    batch_size: int = 10,
) -> torch.Tensor:
    """The mean score per class (float64 (classes,)) over every view of ``dataset``.

    ``tested`` is the configuration (its width and BN statistics), ``resized`` the size
    its views are resized to (views cut at the test crop scale the configuration alike:
    :meth:`~mutualnet3d.engine.spec.MultiViewSpec.input_config`).

    Raises:
        DecodeError: a view of the video does not decode (the message names the file).
    """
    model.eval()
    total = None
    with set_width(model, tested.width, tested.key, warn_uncalibrated=True):
        for start in range(0, len(dataset), batch_size):
            try:
                items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
            except RuntimeError:
                if dataset.error is not None:
                    raise dataset.error from None
                raise
            inputs = batch_inputs(collate_samples(items), torch.device("cpu"), model.num_pathways)
            logits = forward_at(model, inputs, resized, align_corners=align_corners).float()
            probs = torch.sigmoid(logits) if multi_label else torch.softmax(logits, 1)
            part = probs.double().sum(0)
            total = part if total is None else total + part
    return total / len(dataset)


def top_classes(
    scores: torch.Tensor, k: int, names: Optional[Sequence[str]] = None
) -> list[tuple[int, str, float]]:
    """The ``k`` best classes: ``(index, name, score)``, best first; a class without a
    name is called by its index."""
    values, indices = scores.topk(min(k, scores.numel()))
    return [
        (int(i), names[int(i)] if names is not None else str(int(i)), float(v))
        for v, i in zip(values, indices)
    ]
