"""Kinetics test views: every view decodes PySlowFast's frames (issue 13).

The expected frames are what PySlowFast's own ``get_start_end_idx`` and
``temporal_sampling`` (slowfast/datasets/decoder.py) give for these videos, evaluated
once with its code and written here as data: 45-frame videos, 4 frames at sampling rate
2 (DATA.TARGET_FPS 30), 10 ensemble views, under both DATA.USE_OFFSET_SAMPLING values.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mutualnet3d.data import ClipSampling, Kinetics, Normalization, SpatialSampling, TestViews

STEP = 4  # levels per frame: 45 frames stay below 255 with the ramp on top
RAW = Normalization((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
# 48x64 frames: 48 px test crops need no scaling; 3 crops start at x = 0, 8, 16, one
# centred crop at x = 8.
SPATIAL = SpatialSampling(jitter_scales=(48, 56), crop_size=48, test_crop_size=48)
CROP_X = {3: (0, 8, 16), 1: (8,)}

PYSLOWFAST = {
    (30, False): [[0, 2, 4, 7], [3, 6, 8, 10], [7, 9, 12, 14], [11, 13, 15, 18], [14, 17, 19, 21],
                  [18, 20, 23, 25], [22, 24, 26, 29], [25, 28, 30, 32], [29, 31, 34, 36],
                  [33, 35, 37, 40]],
    (30, True): [[0, 2, 4, 7], [4, 6, 8, 11], [8, 10, 12, 15], [12, 14, 16, 19], [16, 18, 20, 23],
                 [20, 22, 24, 27], [24, 26, 28, 31], [28, 30, 32, 35], [32, 34, 36, 39],
                 [36, 38, 40, 43]],
    (25, False): [[0, 1, 3, 5], [3, 5, 7, 9], [7, 9, 11, 13], [11, 13, 15, 17], [15, 17, 19, 21],
                  [19, 21, 22, 24], [23, 24, 26, 28], [26, 28, 30, 32], [30, 32, 34, 36],
                  [34, 36, 38, 40]],
    (25, True): [[0, 1, 3, 5], [4, 5, 7, 9], [8, 9, 11, 13], [12, 13, 15, 17], [16, 17, 19, 21],
                 [20, 21, 23, 25], [24, 25, 27, 29], [28, 29, 31, 33], [32, 33, 35, 37],
                 [36, 37, 39, 41]],
}
# One view per video: at 0 without offsets, centred (floor(delta / 2)) with them.
ONE_VIEW = {(30, False): [0, 2, 4, 7], (30, True): [18, 20, 22, 25],
            (25, False): [0, 1, 3, 5], (25, True): [19, 20, 22, 24]}


def _frames(clip: torch.Tensor, crop_x: int, maker) -> list[float]:
    """Frame index of each frame of a (C, T, H, W) crop starting at column ``crop_x``."""
    levels = (clip * 255).mean(dim=(0, 2, 3))
    ramp = maker.GRADIENT * (crop_x + (clip.shape[-1] - 1) / 2) / (64 - 1)
    return [round(float((level - maker.START - ramp) / STEP), 1) for level in levels]


@pytest.mark.parametrize("fps", [30, 25])
@pytest.mark.parametrize("use_offset", [False, True])
@pytest.mark.parametrize("crops", [3, 1])
def test_every_test_view_decodes_pyslowfasts_frames(tmp_path: Path, make_video, fps, use_offset, crops):
    make_video(tmp_path / "v.mp4", num_frames=45, size=(48, 64), fps=fps, step=STEP)
    (tmp_path / "test.csv").write_text("v.mp4 0\n")
    dataset = Kinetics(
        str(tmp_path / "test.csv"), "test", path_prefix=str(tmp_path),
        sampling=ClipSampling(num_frames=4, sampling_rate=2, target_fps=30), spatial=SPATIAL,
        views=TestViews(10, crops, use_offset=use_offset), normalization=RAW,
    )
    assert len(dataset) == 10 * crops
    for index in range(len(dataset)):
        temporal, spatial = divmod(index, crops)
        clip = dataset[index]["inputs"][0]
        found = _frames(clip, CROP_X[crops][spatial], make_video)
        assert found == pytest.approx(PYSLOWFAST[fps, use_offset][temporal], abs=0.3), (index, found)


@pytest.mark.parametrize("fps", [30, 25])
@pytest.mark.parametrize("use_offset", [False, True])
def test_a_single_view_starts_where_pyslowfast_starts_it(tmp_path: Path, make_video, fps, use_offset):
    make_video(tmp_path / "v.mp4", num_frames=45, size=(48, 64), fps=fps, step=STEP)
    (tmp_path / "test.csv").write_text("v.mp4 0\n")
    dataset = Kinetics(
        str(tmp_path / "test.csv"), "test", path_prefix=str(tmp_path),
        sampling=ClipSampling(4, 2), spatial=SPATIAL,
        views=TestViews(1, 1, use_offset=use_offset), normalization=RAW,
    )
    found = _frames(dataset[0]["inputs"][0], 8, make_video)
    assert found == pytest.approx(ONE_VIEW[fps, use_offset], abs=0.3)
