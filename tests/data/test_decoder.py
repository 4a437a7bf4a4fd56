"""Frame indices (PySlowFast's rule) and PyAV decoding, broken files included."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
import torch

from mutualnet3d.data import DecodeError, clip_span, decode_clip, sample_frame_indices
from mutualnet3d.data.decoder import clip_start


def test_clip_span_scales_with_the_video_frame_rate() -> None:
    assert clip_span(8, 8, 30, 30) == 64
    assert clip_span(8, 8, 60, 30) == 128  # twice the frames cover the same seconds
    assert clip_span(4, 2, 15, 30) == 4


def test_test_clips_start_where_pyslowfast_starts_them() -> None:
    # span = 5 * 4 = 20 frames, delta = 100 - 20 = 80; frames linspace(s, s + 19, 4).
    # DATA.USE_OFFSET_SAMPLING False (PySlowFast's default): clip i of 5 at 80 * i / 5.
    clips = [sample_frame_indices(100, 4, 5, 30, 30, i, 5).tolist() for i in range(5)]
    assert clips[0] == [0, 6, 12, 19] and clips[2] == [32, 38, 44, 51]
    assert clips[4] == [64, 70, 76, 83]  # the last view stops short of the end
    assert sample_frame_indices(100, 4, 5, 30, 30, 0, 5).dtype == torch.int64
    # One clip starts at 0.
    assert sample_frame_indices(100, 4, 5, 30, 30, 0, 1).tolist() == [0, 6, 12, 19]
    # With offsets: clip i at i * floor(80 / 4), from the first frame to the last; one
    # clip centred at floor(80 / 2).
    offset = [sample_frame_indices(100, 4, 5, 30, 30, i, 5, use_offset=True).tolist() for i in range(5)]
    assert offset[0] == [0, 6, 12, 19] and offset[2] == [40, 46, 52, 59]
    assert offset[4] == [80, 86, 92, 99]
    assert sample_frame_indices(100, 4, 5, 30, 30, 0, 1, use_offset=True).tolist() == [40, 46, 52, 59]
    # A 60 fps video: the span doubles to 40 source frames.
    assert sample_frame_indices(200, 4, 5, 60, 30, 0, 2).tolist() == [0, 13, 26, 39]


@pytest.mark.parametrize(
    "delta, clip_index, num_clips, use_offset, start",
    [
        (80, 3, 10, False, 24.0), (81, 3, 10, False, 24.3), (81, 3, 10, True, 27.0),
        (81, 0, 1, True, 40.0), (81, 0, 1, False, 0.0), (0, 9, 10, True, 0.0),
    ],
)
def test_clip_start_is_pyslowfasts_get_start_end_idx(delta, clip_index, num_clips, use_offset, start) -> None:
    assert clip_start(delta, clip_index, num_clips, use_offset) == pytest.approx(start)


def test_short_video_clamps_indices_to_its_last_frame() -> None:
    # span 20 > 10 frames: start at 0, indices past the end repeat the last frame.
    assert sample_frame_indices(10, 4, 5, 30, 30, -1).tolist() == [0, 6, 9, 9]
    assert sample_frame_indices(10, 4, 5, 30, 30, 1, 3).tolist() == [0, 6, 9, 9]


def test_random_clips_are_increasing_and_inside_the_video() -> None:
    generator = torch.Generator().manual_seed(0)
    starts = set()
    for _ in range(200):
        index = sample_frame_indices(50, 8, 2, 30, 30, -1, generator=generator)
        assert index.shape == (8,)
        assert (index.diff() > 0).all()
        assert 0 <= index[0] and index[-1] <= 49
        # linspace(start, start + 15, 8) truncated: the clip spans 14 or 15 frames.
        assert 14 <= int(index[-1] - index[0]) <= 15
        starts.add(int(index[0]))
    assert min(starts) <= 2 and max(starts) >= 31  # start is uniform over [0, 34]
    with pytest.raises(ValueError, match="clip_index"):
        sample_frame_indices(50, 8, 2, 30, 30, 3, 3)


def test_decode_clip_returns_the_sampled_frames(tmp_path: Path, make_video) -> None:
    path = make_video(tmp_path / "ramp.mp4", num_frames=40)
    # span 16, delta 24: clip 0 of 2 is linspace(0, 15, 8); clip 1 starts at 24 / 2 = 12,
    # or at the last possible frame, 24, with offsets.
    for clip_index, use_offset, expected in [
        (0, False, [0, 2, 4, 6, 8, 10, 12, 15]),
        (1, False, [12, 14, 16, 18, 20, 22, 24, 27]),
        (1, True, [24, 26, 28, 30, 32, 34, 36, 39]),
    ]:
        frames = decode_clip(
            str(path), 8, 2, 30, clip_index=clip_index, num_clips=2, use_offset=use_offset
        )
        assert frames.shape == (8, 48, 64, 3) and frames.dtype == torch.uint8
        found = [make_video.frame_of(float(f.float().mean())) for f in frames]
        assert found == pytest.approx(expected, abs=0.5)


def test_decode_clip_reads_the_frame_rate_from_the_stream(tmp_path: Path, make_video) -> None:
    path = make_video(tmp_path / "slow.mp4", num_frames=40, fps=15)
    # At 15 fps, 8 frames at stride 2 of 30 fps cover 8 source frames.
    frames = decode_clip(str(path), 8, 2, 30, clip_index=0, num_clips=2)
    found = [make_video.frame_of(float(f.float().mean())) for f in frames]
    assert found == pytest.approx(list(range(8)), abs=0.5)


def _cut_after_moov(path: Path, keep_media: float) -> None:
    """Keep the boxes up to the end of 'moov' and ``keep_media`` of the rest."""
    data = path.read_bytes()
    offset = 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        offset += size
        if kind == b"moov":
            break
    assert offset < len(data), "expected the moov box before the media data"
    path.write_bytes(data[: offset + int((len(data) - offset) * keep_media)])


def test_decode_clip_rejects_broken_files(tmp_path: Path, make_video) -> None:
    missing = tmp_path / "missing.mp4"
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    truncated = make_video(tmp_path / "truncated.mp4", num_frames=40)
    truncated.write_bytes(truncated.read_bytes()[: int(truncated.stat().st_size * 0.3)])
    # Index first: the cut file still opens and decodes its first frames without error.
    partial = make_video(tmp_path / "partial.mp4", num_frames=40, faststart=True)
    _cut_after_moov(partial, 0.3)
    for path, reason in [(missing, "no such file"), (empty, "empty"),
                         (truncated, "Invalid data"), (partial, "truncated")]:
        with pytest.raises(DecodeError, match=re.escape(str(path))) as info:
            decode_clip(str(path), 8, 2, 30)
        assert reason in str(info.value)


def test_threaded_decoding_gives_the_same_frames(tmp_path: Path, make_video) -> None:
    # DATA_LOADER.ENABLE_MULTI_THREAD_DECODE: FFmpeg's threads, not other frames.
    path = str(make_video(tmp_path / "ramp.mp4", num_frames=40))
    plain = decode_clip(path, 8, 2, 30, clip_index=1, num_clips=3)
    assert torch.equal(decode_clip(path, 8, 2, 30, clip_index=1, num_clips=3, threads=True), plain)
