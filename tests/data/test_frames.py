"""Frames stored as image files: loading, repeats, and broken files named."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mutualnet3d.data.frames import FrameLoadError, load_frames

from .folders import RAMP, START, STEP, write_frame


def test_load_frames_order_values_and_repeats(tmp_path: Path) -> None:
    paths = [tmp_path / f"{k}.jpg" for k in range(3)]
    for k, path in enumerate(paths):
        write_frame(path, k)
    order = [2, 0, 0, 1]
    frames = load_frames([str(paths[k]) for k in order])
    assert frames.dtype == torch.uint8 and frames.shape == (4, 48, 64, 3)
    means = frames.float().mean(dim=(1, 2, 3))
    expected = torch.tensor([START + STEP * k + RAMP / 2 for k in order])
    assert torch.allclose(means, expected, atol=0.5)
    assert torch.equal(frames[1], frames[2])


def test_broken_frame_files_raise_naming_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good.jpg"
    write_frame(good, 0)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(good.read_bytes()[:300])
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not a jpeg at all")
    small = tmp_path / "small.jpg"
    write_frame(small, 0, size=(24, 32))
    cases = [
        (tmp_path / "gone.jpg", "no such file"),
        (empty, "empty file"),
        (cut, "(?i)truncated"),
        (junk, "UnidentifiedImageError"),
        (small, "differs from the clip's first frame"),
    ]
    for path, reason in cases:
        with pytest.raises(FrameLoadError, match=reason) as info:
            load_frames([str(good), str(path)])
        assert info.value.filename == str(path) and str(path) in str(info.value)
