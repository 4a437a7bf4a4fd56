"""Videos as found in the wild, generated with PyAV: every case decodes through
build_dataset for train and test views, each clip the frames a whole-file decode
picks with PySlowFast's indices; broken files are still skipped, named and counted."""

from __future__ import annotations

import logging
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from mutualnet3d.data import ClipSampling, DatasetSpec, Normalization, TestViews, build_dataset
from mutualnet3d.data import decoder as decoder_module
from mutualnet3d.data.decoder import DecodeError, decode_clip, sample_frame_indices

NORM = Normalization((0.45, 0.45, 0.45), (0.225, 0.225, 0.225))


def frame_image(k: int, h: int, w: int) -> np.ndarray:
    """Frame ``k``: its index in base 8 as the levels of four vertical bands."""
    digits = [(k >> (3 * i)) & 7 for i in range(4)]
    img = np.zeros((h, w, 3), np.uint8)
    for i, d in enumerate(digits):
        img[:, i * w // 4 : (i + 1) * w // 4] = 16 + 32 * d
    return img


def frame_number(rgb: np.ndarray) -> int:
    """The index :func:`frame_image` drew (read back from the band centres)."""
    h, w = rgb.shape[:2]
    k = 0
    for i in range(4):
        level = float(
            rgb[h // 4 : 3 * h // 4, i * w // 4 + w // 16 : (i + 1) * w // 4 - w // 16].mean()
        )
        k |= int(round((level - 16) / 32)) << (3 * i)
    return k


def write_video(
    path: Path,
    frames: int,
    *,
    codec: str = "mpeg4",
    size=(32, 48),
    fps=30,
    pix_fmt: str = "yuv420p",
    gop: int = 30,
    pts=None,
    audio_first: bool = False,
    options=None,
) -> Path:
    """``frames`` frames of :func:`frame_image`; ``pts`` (in 1/``fps`` or the given
    time base) replaces the frame numbers as timestamps."""
    h, w = size
    with av.open(str(path), "w", options=options or {}) as container:
        if audio_first:
            audio = container.add_stream("aac", rate=16000)
            audio.layout = "mono"
        stream = container.add_stream(codec, rate=fps, options={"g": str(gop)})
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        if codec == "mpeg4":
            stream.bit_rate = 2_000_000
        if pts is not None:
            stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        for k in range(frames):
            frame = av.VideoFrame.from_ndarray(frame_image(k, h, w), format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[k], Fraction(1, 1000)
            container.mux(stream.encode(frame))
            if audio_first and k % 2 == 0:
                samples = np.zeros((1, 1024), np.float32)
                af = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
                af.sample_rate = 16000
                container.mux(audio.encode(af))
        container.mux(stream.encode(None))
        if audio_first:
            container.mux(audio.encode(None))
    return path


def reference(path: Path) -> tuple[list[np.ndarray], float]:
    """Every frame a whole-file decode gives (packet by packet, bad ones skipped) and
    the header's frame rate."""
    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            try:
                frames += [f.to_ndarray(format="rgb24") for f in packet.decode()]
            except av.FFmpegError:
                pass
        rate = stream.average_rate
    return frames, float(rate or 0)  # 0: the header gives none (Ogg)


def spec(root: Path, names: list[str], num_frames=4, rate=4, views=3) -> DatasetSpec:
    lines = "".join(f"{name} 0\n" for name in names)
    for split in ("train", "val", "test"):
        (root / f"{split}.csv").write_text(lines)
    return DatasetSpec(
        name="kinetics",
        root=str(root),
        path_prefix=str(root),
        normalization=NORM,
        sampling=ClipSampling(num_frames, rate),
        views=TestViews(views, 1),
    )


def check_against_reference(root: Path, name: str, fps: float = None, **kw) -> None:
    """Train and test clips of ``name`` via build_dataset: no skip, and each clip equal
    to the reference decode's frames at PySlowFast's indices."""
    s = spec(root, [name], **kw)
    frames, header_fps = reference(root / name)
    fps = header_fps if fps is None else fps
    n = s.sampling.num_frames
    train = build_dataset(s, "train")
    for seed in range(3):
        clip, _ = train.load_clip(0, -1, torch.Generator().manual_seed(seed))
        index = sample_frame_indices(
            len(frames),
            n,
            s.sampling.sampling_rate,
            fps,
            30,
            -1,
            generator=torch.Generator().manual_seed(seed),
        )
        assert np.array_equal(clip.numpy(), np.stack([frames[i] for i in index.tolist()]))
    test = build_dataset(s, "test")
    views = s.views.num_ensemble_views
    for view in range(views):
        clip, _ = test.load_clip(0, view, None)
        index = sample_frame_indices(len(frames), n, s.sampling.sampling_rate, fps, 30, view, views)
        assert np.array_equal(clip.numpy(), np.stack([frames[i] for i in index.tolist()]))
    # Whole samples load without a skip.
    assert train[0]["inputs"][0].shape[1] == n and test[len(test) - 1]["inputs"][0].shape[1] == n
    assert train.num_failures == 0 and test.num_failures == 0


def test_avi_declaring_more_frames_than_it_stores_loads(tmp_path: Path) -> None:
    path = write_video(tmp_path / "cam.avi", 68)
    data = bytearray(path.read_bytes())
    for tag, offset in ((b"avih", 16), (b"strh", 32)):  # total frames, stream length
        at = data.find(tag) + 8 + offset
        data[at : at + 4] = struct.pack("<I", 444)
    path.write_bytes(bytes(data))
    with av.open(str(path)) as c:
        assert c.streams.video[0].frames == 444  # the header's claim
    check_against_reference(tmp_path, "cam.avi")


@pytest.mark.parametrize("name, codec", [("clip.webm", "libvpx"), ("clip.mkv", "libx264")])
def test_containers_without_a_frame_count(tmp_path: Path, name: str, codec: str) -> None:
    path = write_video(tmp_path / name, 90, codec=codec)
    with av.open(str(path)) as c:
        assert c.streams.video[0].frames == 0
    check_against_reference(tmp_path, name)


def test_variable_frame_rate(tmp_path: Path) -> None:
    # 20 and 40 ms frames alternate in runs: 30 fps on average, as the header says.
    steps = ([20] * 10 + [46] * 10) * 5
    pts = np.concatenate([[0], np.cumsum(steps)[:-1]]).tolist()
    write_video(tmp_path / "vfr.mkv", 100, codec="libx264", pts=pts)
    frames, _ = reference(tmp_path / "vfr.mkv")
    assert len(frames) == 100
    check_against_reference(tmp_path, "vfr.mkv")


def test_audio_stream_first_odd_size_and_high_bit_depth(tmp_path: Path) -> None:
    write_video(tmp_path / "audio.mp4", 60, codec="libx264", audio_first=True)
    with av.open(str(tmp_path / "audio.mp4")) as c:
        assert c.streams[0].type == "audio"
    write_video(tmp_path / "odd.mp4", 60, codec="libx264", size=(27, 35), pix_fmt="yuv444p")
    write_video(tmp_path / "deep.mkv", 60, codec="libx264", pix_fmt="yuv420p10le")
    for name in ("audio.mp4", "odd.mp4", "deep.mkv"):
        check_against_reference(tmp_path, name)


def _empty_samples(path: Path, samples: list[int]) -> None:
    """Make MP4 ``samples`` (sorted, none adjacent) 0-byte, as a camera's dropped
    frames: each one's bytes join the sample before it, so every offset stays right
    (MJPEG ignores bytes after a picture)."""
    data = bytearray(path.read_bytes())
    at = data.find(b"stsz") + 16  # after tag, version/flags, uniform size, count
    count = struct.unpack(">I", data[at - 4 : at])[0]
    sizes = list(struct.unpack(f">{count}I", data[at : at + 4 * count]))
    for k in samples:
        sizes[k - 1], sizes[k] = sizes[k - 1] + sizes[k], 0
    data[at : at + 4 * count] = struct.pack(f">{count}I", *sizes)
    path.write_bytes(bytes(data))


def test_empty_packets_are_skipped_and_counted(tmp_path: Path) -> None:
    path = write_video(tmp_path / "drops.mp4", 90, codec="mjpeg", pix_fmt="yuvj420p")
    _empty_samples(path, [1, 17, 40, 60])
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        assert sum(p.size == 0 and p.pts is not None for p in c.demux(stream)) == 4
    counts: dict[str, int] = {}
    decode_clip(str(path), 8, 8, 30, clip_index=0, num_clips=1, counts=counts)
    assert counts["empty"] >= 1 and counts["corrupt"] == 0
    check_against_reference(tmp_path, "drops.mp4")


def _set_edit(path: Path, duration_change: int, media_time_change: int) -> None:
    """Move the start or the end of the single edit of an x264 MP4 (version 0 elst)."""
    data = bytearray(path.read_bytes())
    at = data.find(b"elst") + 4
    assert data[at] == 0 and struct.unpack_from(">I", data, at + 4)[0] == 1
    duration, media_time = struct.unpack_from(">Ii", data, at + 8)
    struct.pack_into(
        ">Ii", data, at + 8, duration + duration_change, media_time + media_time_change
    )
    path.write_bytes(bytes(data))


def _late_start(path: Path) -> None:
    _set_edit(path, -100, 3 * 512)  # 3 frames later (512 ticks a frame)


def _early_end(path: Path) -> None:
    _set_edit(path, -1500, 0)  # ends at frame 45, inside a GOP: its B-frames refer to
    # frames after the end, which FFmpeg discards (decodes, never outputs)


@pytest.mark.parametrize("change", [_late_start, _early_end])
def test_frames_an_edit_list_leaves_out_are_decoded_not_shown(tmp_path: Path, change) -> None:
    # FFmpeg marks them discarded: decoded (the frames around them refer to them), never
    # output by the decoder; a whole-file decode skips them.
    path = write_video(tmp_path / "edit.mp4", 90, codec="libx264")
    change(path)
    with av.open(str(path)) as c:
        assert any(e.is_discard for e in c.streams.video[0].index_entries)
    check_against_reference(tmp_path, "edit.mp4")
    # A clip that ends at the last frame, among the discarded ones.
    frames, fps = reference(path)
    clip = decode_clip(str(path), 8, 2, 30, clip_index=1, num_clips=2, use_offset=True)
    index = sample_frame_indices(len(frames), 8, 2, fps, 30, 1, 2, use_offset=True)
    assert index[-1] == len(frames) - 1
    assert np.array_equal(clip.numpy(), np.stack([frames[i] for i in index.tolist()]))


def _corrupt_mdat(path: Path, spots: int) -> None:
    data = bytearray(path.read_bytes())
    start = data.find(b"mdat") + 4
    rng = np.random.default_rng(0)
    for at in np.linspace(start + len(data) // 4, len(data) * 3 // 4, spots).astype(int):
        data[at : at + 64] = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


def test_corrupt_packets_are_skipped_and_counted(tmp_path: Path, caplog) -> None:
    path = write_video(tmp_path / "bad.mp4", 90, codec="mpeg4", gop=10)
    _corrupt_mdat(path, 4)
    counts: dict[str, int] = {}
    with caplog.at_level(logging.WARNING, logger=decoder_module.__name__):
        clip = decode_clip(str(path), 8, 8, 30, clip_index=0, num_clips=1, counts=counts)
    assert clip.shape == (8, 32, 48, 3)
    assert counts["corrupt"] > 0
    assert f"skipped {counts['corrupt']} packets" in caplog.text and str(path) in caplog.text
    # Through the data set: it loads, no skip, and counts the packets per file.
    s = spec(tmp_path, ["bad.mp4"], num_frames=8, rate=8)
    train = build_dataset(s, "train")
    train[0]
    assert train.num_failures == 0 and train.skipped_packets[str(path)] > 0


def test_raw_stream_without_timestamps_falls_back_to_the_start(tmp_path: Path, caplog) -> None:
    # Raw H.264 (Annex B) has no timestamps to seek by: decode from the start, said once.
    write_video(tmp_path / "raw.h264", 150, codec="libx264", options={})
    caplog.set_level(logging.DEBUG, logger=decoder_module.__name__)
    check_against_reference(tmp_path, "raw.h264", fps=30.0)
    said = [r for r in caplog.records if "decoding from the start" in r.getMessage()]
    assert len(said) == 1 and "raw.h264" in said[0].getMessage()


def test_truncated_and_random_files_are_skipped_named_and_counted(tmp_path: Path) -> None:
    good = write_video(tmp_path / "good.mp4", 60, codec="mpeg4")
    cut = write_video(tmp_path / "cut.mp4", 60, codec="mpeg4", options={"movflags": "faststart"})
    cut.write_bytes(cut.read_bytes()[: int(cut.stat().st_size * 0.3)])
    (tmp_path / "noise.mp4").write_bytes(np.random.default_rng(0).bytes(20_000))
    cut_mkv = write_video(tmp_path / "cut.mkv", 90, codec="libx264")
    cut_mkv.write_bytes(cut_mkv.read_bytes()[: int(cut_mkv.stat().st_size * 0.3)])
    for name, reason in (
        ("cut.mp4", "truncated"),
        ("noise.mp4", "Invalid data"),
        ("cut.mkv", "truncated"),
    ):
        with pytest.raises(DecodeError, match=reason) as info:
            decode_clip(str(tmp_path / name), 4, 4, 30)
        assert str(tmp_path / name) in str(info.value)
    s = spec(tmp_path, ["good.mp4", "cut.mp4", "noise.mp4"])
    train = build_dataset(s, "train")
    # Replacements are drawn from torch's global RNG; with 2 of 3 files broken, 10 unseeded
    # retries miss the good one (2/3)^10 of the time: seeded, the test does not flake.
    torch.manual_seed(0)
    with pytest.warns(UserWarning):
        for i in (1, 2):
            assert train[i]["inputs"][0].shape[1] == 4  # replaced by a readable video
    assert set(train.failures) <= {str(tmp_path / "cut.mp4"), str(tmp_path / "noise.mp4")}
    assert train.failures.get(str(tmp_path / "cut.mp4"), 0) >= 1
    assert train.failures.get(str(tmp_path / "noise.mp4"), 0) >= 1
    assert good.exists()


def test_a_clip_of_a_long_video_decodes_its_span_not_the_video(tmp_path: Path) -> None:
    # 40 s, a keyframe every 2 s: a 16-frame clip decodes at most its span plus a GOP.
    write_video(tmp_path / "long.mp4", 1200, codec="libx264", size=(16, 32), gop=60)
    for view in (0, 5, 9):
        counts: dict[str, int] = {}
        clip = decode_clip(str(tmp_path / "long.mp4"), 8, 2, 30, view, 10, counts=counts)
        found = [frame_number(f) for f in clip.numpy()]
        expected = sample_frame_indices(1200, 8, 2, 30, 30, view, 10).tolist()
        assert found == expected
        assert counts["decoded"] <= 16 + 60 + 8, counts


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, codec",
    [
        ("long.mp4", "libx264"),
        ("long.mkv", "libx264"),
        ("long.avi", "mpeg4"),
        ("long.webm", "libvpx"),
    ],
)
def test_long_video_clips_equal_a_whole_file_decode(tmp_path: Path, name: str, codec: str) -> None:
    # 2 minutes at 30 fps, a keyframe every 2 s, as online video; Slow 8x8 clips.
    write_video(tmp_path / name, 3600, codec=codec, size=(24, 32), gop=60)
    check_against_reference(tmp_path, name, num_frames=8, rate=8, views=10)
    counts: dict[str, int] = {}
    decode_clip(str(tmp_path / name), 8, 8, 30, 7, 10, counts=counts)
    assert counts["decoded"] <= 64 + 60 + 8  # the span and at most a GOP before it
