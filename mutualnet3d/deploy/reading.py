"""How a video file is read for a run's network: the clip sampling and crops of its data.

The model card states it (:mod:`.card`) and ``tools/predict.py`` follows it
(:mod:`.predict`), so both describe the same preprocessing.
"""

from __future__ import annotations

from dataclasses import replace

from ..data import ClipSampling, DatasetSpec, SpatialSampling

__all__ = ["video_reading"]


def video_reading(data: DatasetSpec) -> tuple[ClipSampling, SpatialSampling]:
    """How a video file is read for ``data``'s network: its clip sampling and crops.

    Kinetics-style settings are used as they are. Moving Digits renders its clips in
    memory; its MP4 files (:func:`~mutualnet3d.data.moving_digits.write_kinetics`) hold
    the rendered frames, so they are read at sampling rate 1 with the short side scaled
    to the rendered size (MOVING_DIGITS.SIZE; a file written at that size is not
    rescaled), as that module's docstring says, and never flipped.
    """
    if data.sampling is None:
        raise ValueError(f"{data.name} is not a video data set (its network takes images)")
    if data.name != "moving_digits":
        return data.sampling, data.spatial
    size = data.digits.size
    sampling = replace(data.sampling, sampling_rate=1)
    spatial = replace(data.spatial, jitter_scales=(size, size), random_flip=False)
    return sampling, spatial
