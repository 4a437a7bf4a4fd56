"""MP4/MOV indices read from the sample tables (mutualnet3d.data.mp4_tables) instead of
one PyAV object per index entry: the same facts as FFmpeg's index where the tables show
that every entry is a stored frame, and the entry-by-entry scan wherever they do not."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import av
import numpy as np
import pytest

from mutualnet3d.data import decoder as decoder_module
from mutualnet3d.data import mp4_tables
from tests.data.test_decoder_files import (
    _early_end,
    _empty_samples,
    _late_start,
    check_against_reference,
    write_video,
)

VFR = [0, *np.cumsum(([20] * 10 + [46] * 10) * 5)[:-1].tolist()]  # ms, 100 frames

PLAIN = {
    "bframes.mp4": dict(frames=90, codec="libx264"),  # an edit list, ctts
    "mpeg4.mp4": dict(frames=90, codec="mpeg4", gop=10),
    "intra.mp4": dict(frames=40, codec="mjpeg", pix_fmt="yuvj420p"),  # no sync-sample table
    "bframes.mov": dict(frames=90, codec="libx264"),
    "audio.mp4": dict(frames=90, codec="libx264", audio_first=True),  # chunks interleaved
    "faststart.mp4": dict(frames=60, codec="mpeg4", options={"movflags": "faststart"}),
    "vfr.mp4": dict(frames=100, codec="libx264", pts=VFR),
}


def _index(path: Path):
    container = av.open(str(path))
    return container, container.streams.video[0]


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_the_tables_give_what_the_index_gives(tmp_path: Path, name: str) -> None:
    path = write_video(tmp_path / name, **PLAIN[name])
    size = os.path.getsize(path)
    container, stream = _index(path)
    with container:
        entries = list(stream.index_entries)
        track = mp4_tables.read_track(str(path), size, stream.id)
        # Every entry of FFmpeg's index, against the tables.
        shift = entries[0].timestamp - track.dts[0]
        keys = set(track.keys.tolist())
        got = [(e.pos, e.size, e.timestamp - shift, e.is_keyframe, e.is_discard) for e in entries]
        want = [(int(p), int(s), int(t), i in keys, False) for i, (p, s, t) in enumerate(
            zip(track.pos, track.sizes, track.dts))]  # fmt: skip
        assert got == want
        plain = decoder_module._plain_scan(str(path), stream, stream.index_entries, size)
        assert plain is not None
        assert plain == decoder_module._scan_index(stream.index_entries, size)
    if name == "audio.mp4":
        assert len(set(track.pos - np.cumsum(track.sizes))) > 1  # more than one chunk


def test_a_long_video_is_probed_from_its_tables_and_clips_equal_a_whole_file_decode(
    tmp_path: Path, monkeypatch
) -> None:
    # 40 s at 30 fps, a keyframe every 2 s, B-frames, audio chunks between the video's.
    write_video(tmp_path / "long.mp4", 1200, codec="libx264", size=(16, 32), gop=60,
                audio_first=True)  # fmt: skip

    def no_scan(*args):
        raise AssertionError("the index was scanned entry by entry")

    monkeypatch.setattr(decoder_module, "_scan_index", no_scan)
    check_against_reference(tmp_path, "long.mp4", num_frames=8, rate=8, views=10)


FALLBACK = [
    pytest.param("drops.mp4", dict(frames=90, codec="mjpeg", pix_fmt="yuvj420p"),
                 lambda p: _empty_samples(p, [1, 17, 40, 60]), "empty samples", False,
                 id="empty-samples"),
    pytest.param("late.mp4", dict(frames=90, codec="libx264"), _late_start,
                 "the edit list leaves samples out", True, id="edit-starts-late"),
    pytest.param("short.mp4", dict(frames=90, codec="libx264"), _early_end,
                 "the edit list leaves samples out", True, id="edit-ends-early"),
    pytest.param("frag.mp4", dict(frames=90, codec="libx264",
                 options={"movflags": "frag_keyframe+empty_moov"}), None, "mvex", False,
                 id="fragmented"),
]  # fmt: skip


@pytest.mark.parametrize("name, kw, change, reason, discards", FALLBACK)
def test_the_index_is_scanned_where_the_tables_cannot_tell(
    tmp_path: Path, name: str, kw: dict, change, reason: str, discards: bool
) -> None:
    path = write_video(tmp_path / name, **kw)
    if change is not None:
        change(path)
    size = os.path.getsize(path)
    container, stream = _index(path)
    with container:
        assert any(e.is_discard for e in stream.index_entries) == discards
        with pytest.raises(mp4_tables.NotPlain, match=reason):
            mp4_tables.read_track(str(path), size, stream.id)
        assert decoder_module._plain_scan(str(path), stream, stream.index_entries, size) is None
    check_against_reference(tmp_path, name)


def test_a_cut_file_is_not_read_from_its_tables(tmp_path: Path) -> None:
    path = write_video(tmp_path / "cut.mp4", 60, codec="mpeg4", options={"movflags": "faststart"})
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.8)])
    with pytest.raises(mp4_tables.NotPlain, match="past the end of the file"):
        mp4_tables.read_track(str(path), os.path.getsize(path), 1)


def test_tables_that_disagree_with_ffmpegs_index_are_not_used(tmp_path: Path, monkeypatch) -> None:
    path = write_video(tmp_path / "clip.mp4", 90, codec="libx264")
    size = os.path.getsize(path)
    read = mp4_tables.read_track

    def off_by_one(*args):  # the middle sample one byte later than FFmpeg has it
        track = read(*args)
        pos = track.pos.copy()
        pos[len(pos) // 2] += 1
        return dataclasses.replace(track, pos=pos)

    container, stream = _index(path)
    with container:
        assert decoder_module._plain_scan(str(path), stream, stream.index_entries, size)
        monkeypatch.setattr(mp4_tables, "read_track", off_by_one)
        assert decoder_module._plain_scan(str(path), stream, stream.index_entries, size) is None
