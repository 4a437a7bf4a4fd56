"""Kinetics data pipeline: csv parsing, frame sampling, PyAV decoding, crops, pathways,
robustness to broken videos, the config adapter and the loader."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from torch.utils.data.distributed import DistributedSampler

from mutualnet3d.config import load_config
from mutualnet3d.data import (
    DecodeError,
    Kinetics,
    VideoDecodeWarning,
    build_dataset,
    build_loader,
    clip_span,
    decode_clip,
    read_annotations,
    sample_frame_indices,
)
from mutualnet3d.data import transforms as T

MEAN = (0.45, 0.45, 0.45)
STD = (0.225, 0.225, 0.225)
# Sizes for 48x64 videos: train crops 28 out of a 32-40 px short side, test crops 32.
SMALL = dict(
    num_frames=8, sampling_rate=2, target_fps=30, jitter_scales=(32, 40), crop_size=28,
    test_crop_size=32, num_ensemble_views=2, num_spatial_crops=3, mean=MEAN, std=STD,
)


def make_dataset(folder, mode: str, **kwargs) -> Kinetics:
    return Kinetics(folder.csv(mode), mode, path_prefix=str(folder.prefix), **{**SMALL, **kwargs})


def levels(clip: torch.Tensor) -> torch.Tensor:
    """Normalised (C, T, H, W) clip -> pixel levels 0-255."""
    return (clip * STD[0] + MEAN[0]) * 255


def frame_levels(clip: torch.Tensor) -> torch.Tensor:
    """Mean level of each frame of a normalised (C, T, H, W) clip: shape (T,)."""
    return levels(clip).mean(dim=(0, 2, 3))


def write_csv(path: Path, rows: list[tuple[str, int]]) -> str:
    path.write_text("".join(f"{p} {label}\n" for p, label in rows))
    return str(path)


# --------------------------------------------------------------------------------------
# Frame indices and decoding
# --------------------------------------------------------------------------------------
def test_clip_span_scales_with_the_video_frame_rate() -> None:
    assert clip_span(8, 8, 30, 30) == 64
    assert clip_span(8, 8, 60, 30) == 128  # twice the frames cover the same seconds
    assert clip_span(4, 2, 15, 30) == 4


def test_test_clips_start_at_first_frame_and_end_at_last() -> None:
    # span = 5 * 4 = 20 frames, delta = 100 - 20 = 80.
    first = sample_frame_indices(100, 4, 5, 30, 30, clip_index=0, num_clips=5)
    last = sample_frame_indices(100, 4, 5, 30, 30, clip_index=4, num_clips=5)
    middle = sample_frame_indices(100, 4, 5, 30, 30, clip_index=2, num_clips=5)
    assert first.tolist() == [0, 6, 12, 19]
    assert last.tolist() == [80, 86, 92, 99]
    assert middle.tolist() == [40, 46, 52, 59]
    assert first.dtype == torch.int64
    # One clip is centred.
    assert sample_frame_indices(100, 4, 5, 30, 30, 0, 1).tolist() == [40, 46, 52, 59]
    # A 60 fps video: the span doubles to 40 source frames.
    assert sample_frame_indices(200, 4, 5, 60, 30, 0, 2).tolist() == [0, 13, 26, 39]


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
    # span 16, delta 24: clip 0 of 2 is linspace(0, 15, 8), clip 1 starts at frame 24.
    for clip_index, expected in [(0, [0, 2, 4, 6, 8, 10, 12, 15]),
                                 (1, [24, 26, 28, 30, 32, 34, 36, 39])]:
        frames = decode_clip(str(path), 8, 2, 30, clip_index=clip_index, num_clips=2)
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


# --------------------------------------------------------------------------------------
# Transforms
# --------------------------------------------------------------------------------------
def test_short_side_scale_keeps_the_aspect_ratio() -> None:
    landscape = torch.rand(3, 2, 48, 64)
    assert T.short_side_scale(landscape, 32).shape == (3, 2, 32, 42)  # floor(64 * 32 / 48)
    assert T.short_side_scale(landscape.transpose(2, 3), 32).shape == (3, 2, 42, 32)
    assert T.short_side_scale(landscape, 48) is landscape
    flat = torch.full((3, 2, 48, 64), 0.3)
    assert torch.allclose(T.short_side_scale(flat, 40), torch.tensor(0.3))
    sizes = {min(T.random_short_side_scale(landscape, 32, 34).shape[-2:]) for _ in range(40)}
    assert sizes == {32, 33, 34}


def test_uniform_crop_takes_left_centre_right_and_top_centre_bottom() -> None:
    cols = torch.arange(20.0).expand(1, 1, 10, 20)  # value = column
    assert [int(T.uniform_crop(cols, 10, i)[..., 0, 0]) for i in range(3)] == [0, 5, 10]
    assert T.uniform_crop(cols, 10, 1).shape == (1, 1, 10, 10)
    rows = torch.arange(21.0).view(21, 1).expand(1, 1, 21, 10)  # portrait, value = row
    assert [int(T.uniform_crop(rows, 10, i)[..., 0, 0]) for i in range(3)] == [0, 6, 11]
    assert int(T.center_crop(cols, 10)[..., 0, 0]) == 5
    with pytest.raises(ValueError, match="does not fit"):
        T.uniform_crop(cols, 11, 1)


def test_random_crop_reaches_every_offset_and_flip_mirrors() -> None:
    cols = torch.arange(12.0).expand(3, 2, 10, 12)
    generator = torch.Generator().manual_seed(0)
    offsets = {int(T.random_crop(cols, 10, generator)[0, 0, 0, 0]) for _ in range(60)}
    assert offsets == {0, 1, 2}
    flipped = T.horizontal_flip(cols)
    assert flipped[..., 0].eq(11).all() and flipped[..., -1].eq(0).all()
    assert torch.equal(T.random_horizontal_flip(cols, p=1.0), flipped)
    assert torch.equal(T.random_horizontal_flip(cols, p=0.0), cols)


def test_normalize_is_per_channel() -> None:
    clip = torch.ones(3, 2, 4, 4) * torch.tensor([0.2, 0.5, 0.8]).view(3, 1, 1, 1)
    out = T.normalize(clip, (0.2, 0.4, 0.6), (0.1, 0.2, 0.4))
    assert torch.allclose(out[:, 0, 0, 0], torch.tensor([0.0, 0.5, 0.5]))
    frames = torch.full((2, 4, 5, 3), 255, dtype=torch.uint8)
    assert T.to_float_clip(frames).shape == (3, 2, 4, 5)
    assert T.to_float_clip(frames).max() == 1.0


# --------------------------------------------------------------------------------------
# Annotations
# --------------------------------------------------------------------------------------
def test_read_annotations_joins_the_prefix_and_skips_blank_lines(tmp_path: Path) -> None:
    csv = tmp_path / "train.csv"
    csv.write_text("a/x.mp4 3\n\n  \nb/y.mp4 0\n")
    assert read_annotations(str(csv), "/data") == [("/data/a/x.mp4", 3), ("/data/b/y.mp4", 0)]
    csv.write_text("a/x.mp4,3\nb y.mp4,1\n")
    assert read_annotations(str(csv), "", ",") == [("a/x.mp4", 3), ("b y.mp4", 1)]


@pytest.mark.parametrize(
    "text, line",
    [("a.mp4 0\n\nb.mp4\n", 3), ("a.mp4 0\nb.mp4 x\n", 2), ("a.mp4 0 1\n", 1),
     ("a.mp4 -1\n", 1)],
)
def test_malformed_csv_line_names_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    csv = tmp_path / "broken.csv"
    csv.write_text(text)
    with pytest.raises(ValueError, match=rf"broken\.csv, line {line}:"):
        read_annotations(str(csv))
    with pytest.raises(ValueError, match=rf"broken\.csv, line {line}:"):
        Kinetics(str(csv), "train", **SMALL)


# --------------------------------------------------------------------------------------
# Data set
# --------------------------------------------------------------------------------------
def test_train_samples_shapes_labels_and_increasing_frames(kinetics_dir) -> None:
    dataset = make_dataset(kinetics_dir, "train")
    assert len(dataset) == 4
    for i in range(4):
        sample = dataset[i]
        (clip,) = sample["inputs"]
        assert clip.shape == (3, 8, 28, 28) and clip.dtype == torch.float32
        assert sample["label"] == kinetics_dir.labels[i]
        assert (sample["index"], sample["video_index"], sample["view"]) == (i, i, 0)
        assert -0.02 < levels(clip).min() / 255 and levels(clip).max() / 255 < 1.02
        # Stride 2 at 30 fps: consecutive frames are >= 2 source frames (10 levels) apart.
        assert (frame_levels(clip).diff() > 7).all()
    assert dataset.failures == {}


def test_slowfast_pathways(kinetics_dir) -> None:
    sample = make_dataset(kinetics_dir, "train", alpha=4)[0]
    slow, fast = sample["inputs"]
    assert slow.shape == (3, 2, 28, 28) and fast.shape == (3, 8, 28, 28)
    assert torch.equal(slow, fast[:, [0, 7]])  # linspace(0, 7, 2)
    test = make_dataset(kinetics_dir, "test", alpha=4)[5]
    assert [x.shape for x in test["inputs"]] == [(3, 2, 32, 32), (3, 8, 32, 32)]


def test_val_is_a_centre_crop_and_train_jitters(tmp_path: Path, make_video) -> None:
    # Frames constant over time: a crop's mean level tells its horizontal position.
    make_video(tmp_path / "still.mp4", num_frames=20, step=0)
    csv = write_csv(tmp_path / "still.csv", [("still.mp4", 0)])
    kwargs = dict(SMALL, path_prefix=str(tmp_path), seed=0)
    val = Kinetics(csv, "val", **kwargs)
    centre = make_video.level(0, step=0)
    for epoch in range(3):
        val.set_epoch(epoch)
        assert float(levels(val[0]["inputs"][0]).mean()) == pytest.approx(centre, abs=1)
    train = Kinetics(csv, "train", **kwargs)
    means, slopes = [], []
    for epoch in range(30):
        train.set_epoch(epoch)
        clip = levels(train[0]["inputs"][0])
        means.append(float(clip.mean()))
        slopes.append(float(clip[..., -1].mean() - clip[..., 0].mean()))
    assert max(means) - min(means) > 4  # crops at different positions
    assert min(slopes) < -10 and max(slopes) > 10  # flipped and not flipped
    no_flip = Kinetics(csv, "train", **{**kwargs, "random_flip": False})
    for epoch in range(10):
        no_flip.set_epoch(epoch)
        clip = levels(no_flip[0]["inputs"][0])
        assert float(clip[..., -1].mean() - clip[..., 0].mean()) > 10


def test_seed_makes_samples_reproducible_per_epoch(kinetics_dir) -> None:
    first = make_dataset(kinetics_dir, "train", seed=3)
    again = make_dataset(kinetics_dir, "train", seed=3)
    assert torch.equal(first[1]["inputs"][0], again[1]["inputs"][0])
    again.set_epoch(1)
    assert not torch.equal(first[1]["inputs"][0], again[1]["inputs"][0])


def test_test_views_cover_every_clip_and_crop(kinetics_dir, make_video) -> None:
    assert len(make_dataset(kinetics_dir, "test", num_ensemble_views=10)) == 4 * 30
    dataset = make_dataset(kinetics_dir, "test")  # 2 temporal x 3 spatial views
    assert len(dataset) == 4 * 6
    seen = set()
    for index in range(len(dataset)):
        video, temporal, spatial = dataset.view_of(index)
        assert (video, temporal * 3 + spatial) == divmod(index, 6)
        seen.add((video, temporal, spatial))
    assert seen == {(v, t, s) for v in range(4) for t in range(2) for s in range(3)}
    samples = [dataset[i] for i in range(6)]  # the views of video a (40 frames)
    assert all(s["video_index"] == 0 and s["label"] == 0 for s in samples)
    assert [s["view"] for s in samples] == list(range(6))
    assert [s["index"] for s in samples] == list(range(6))
    assert all(s["inputs"][0].shape == (3, 8, 32, 32) for s in samples)
    mean = [float(levels(s["inputs"][0]).mean()) for s in samples]
    # The ramp grows to the right: left < centre < right within each temporal view...
    assert mean[0] + 2 < mean[1] < mean[2] - 2 and mean[3] + 2 < mean[4] < mean[5] - 2
    # ...and the second temporal view starts at frame 24 = 40 - 16 (24 * 5 levels later).
    assert mean[4] - mean[1] == pytest.approx(24 * make_video.STEP, abs=2)
    found = [make_video.frame_of(float(m)) for m in frame_levels(samples[1]["inputs"][0])]
    assert found == pytest.approx([0, 2, 4, 6, 8, 10, 12, 15], abs=0.5)


def test_test_crops_of_portrait_video_go_top_to_bottom(tmp_path: Path, make_video) -> None:
    make_video(tmp_path / "portrait.mp4", num_frames=20, size=(64, 48), step=0)
    csv = write_csv(tmp_path / "test.csv", [("portrait.mp4", 1)])
    dataset = Kinetics(csv, "test", path_prefix=str(tmp_path), **{**SMALL, "num_ensemble_views": 1})
    crops = [levels(dataset[i]["inputs"][0]) for i in range(3)]
    mean = [float(c.mean()) for c in crops]
    assert mean[0] + 2 < mean[1] < mean[2] - 2
    # The ramp runs down the rows: each crop is brighter at its bottom.
    assert all(float(c[..., -1, :].mean() - c[..., 0, :].mean()) > 10 for c in crops)


def test_single_test_crop_scales_to_the_first_jitter_scale(tmp_path: Path, make_video) -> None:
    make_video(tmp_path / "still.mp4", num_frames=20, step=0)
    csv = write_csv(tmp_path / "test.csv", [("still.mp4", 0)])
    kwargs = {**SMALL, "num_spatial_crops": 1, "jitter_scales": (44, 48)}
    dataset = Kinetics(csv, "test", path_prefix=str(tmp_path), **kwargs)
    assert len(dataset) == 2 and dataset.view_of(1) == (0, 1, 1)
    clip = levels(dataset[0]["inputs"][0])
    assert clip.shape == (3, 8, 32, 32)
    assert float(clip.mean()) == pytest.approx(make_video.level(0, step=0), abs=1)  # centre
    # Short side 44 (width 58): the 32 px crop spans 32 * 64 / 58 = 35 source columns,
    # 30 * 35 / 63 = 17 levels of the ramp (23 had it been scaled to 32).
    spread = float(clip[..., -1].mean() - clip[..., 0].mean())
    assert 14 < spread < 19


def test_invalid_arguments_are_rejected(kinetics_dir) -> None:
    with pytest.raises(ValueError, match="crop_size"):
        make_dataset(kinetics_dir, "train", crop_size=33)
    with pytest.raises(ValueError, match="num_spatial_crops"):
        make_dataset(kinetics_dir, "test", num_spatial_crops=2)
    with pytest.raises(ValueError, match="alpha"):
        make_dataset(kinetics_dir, "train", alpha=9)
    with pytest.raises(ValueError, match="mode"):
        Kinetics(kinetics_dir.csv("train"), "eval", **SMALL)
    with pytest.raises(IndexError):
        make_dataset(kinetics_dir, "val")[4]


# --------------------------------------------------------------------------------------
# Broken videos
# --------------------------------------------------------------------------------------
@pytest.fixture
def broken_dir(tmp_path: Path, make_video):
    """good.mp4 (label 0) and three broken files: missing, zero bytes, truncated."""
    make_video(tmp_path / "good.mp4", num_frames=30)
    (tmp_path / "empty.mp4").write_bytes(b"")
    cut = make_video(tmp_path / "truncated.mp4", num_frames=30)
    cut.write_bytes(cut.read_bytes()[: int(cut.stat().st_size * 0.3)])
    rows = [("good.mp4", 0), ("missing.mp4", 1), ("empty.mp4", 1), ("truncated.mp4", 1)]
    return tmp_path, rows


@pytest.mark.parametrize("bad", [1, 2, 3], ids=["missing", "empty", "truncated"])
def test_broken_video_is_skipped_with_a_warning_and_counted(broken_dir, bad: int) -> None:
    root, rows = broken_dir
    csv = write_csv(root / "train.csv", rows)
    # 50 retries: a 1-in-4 good video is found with near certainty (seeded anyway).
    kwargs = {**SMALL, "max_retries": 50, "seed": 1}
    dataset = Kinetics(csv, "train", path_prefix=str(root), **kwargs)
    path = str(root / rows[bad][0])
    with pytest.warns(VideoDecodeWarning) as record:
        sample = dataset[bad]
    messages = [str(w.message) for w in record if w.category is VideoDecodeWarning]
    assert any(path in m for m in messages)
    # The replacement is the only good video, with its own label and index.
    assert (sample["video_index"], sample["index"], sample["label"]) == (0, 0, 0)
    assert sample["inputs"][0].shape == (3, 8, 28, 28)
    assert dataset.failures[path] >= 1
    assert dataset.num_failures == len(messages)
    assert set(dataset.failures) <= {str(root / p) for p, _ in rows[1:]}


def test_train_raises_when_retries_are_exhausted(broken_dir) -> None:
    root, rows = broken_dir
    csv = write_csv(root / "train.csv", rows[1:])
    dataset = Kinetics(csv, "train", path_prefix=str(root), **{**SMALL, "max_retries": 3})
    with pytest.warns(VideoDecodeWarning):
        with pytest.raises(RuntimeError, match="after 3 retries") as info:
            dataset[0]
    assert "4 failed attempts" in str(info.value)
    assert any(str(root / p) in str(info.value) for p, _ in rows[1:])
    assert dataset.num_failures == 4


def test_test_view_retries_its_own_video_then_raises(broken_dir) -> None:
    root, rows = broken_dir
    # Mostly good videos: a retry that wandered off to another video would find one.
    csv = write_csv(root / "test.csv", [rows[0], rows[1], rows[0], rows[0]])
    kwargs = {**SMALL, "max_retries": 4, "seed": 0}
    dataset = Kinetics(csv, "test", path_prefix=str(root), **kwargs)
    assert dataset[5]["video_index"] == 0
    missing = str(root / "missing.mp4")
    with pytest.warns(VideoDecodeWarning, match=re.escape(missing)):
        with pytest.raises(RuntimeError, match=re.escape(missing)):
            dataset[7]  # video 1, view 1
    assert dataset.failures == {missing: 5}


def test_max_failure_ratio_stops_a_broken_data_set(broken_dir) -> None:
    root, rows = broken_dir
    csv = write_csv(root / "train.csv", rows)
    # No retries, so each call fails on its own video only.
    kwargs = {**SMALL, "max_retries": 0, "max_failure_ratio": 0.5, "path_prefix": str(root)}
    dataset = Kinetics(csv, "train", **kwargs)
    with pytest.warns(VideoDecodeWarning):
        for index in (1, 2):  # two of four videos fail: not more than half
            with pytest.raises(RuntimeError, match="after 0 retries"):
                dataset[index]
        with pytest.raises(RuntimeError, match="3 of 4 videos .* max_failure_ratio 0.5"):
            dataset[3]
    assert dataset[0]["video_index"] == 0


# --------------------------------------------------------------------------------------
# Config adapter and loader
# --------------------------------------------------------------------------------------
def small_cfg(folder, *opts: str):
    return load_config(None, [
        "DATA.PATH_TO_DATA_DIR", str(folder.root), "DATA.PATH_PREFIX", str(folder.prefix),
        "DATA.NUM_FRAMES", "8", "DATA.SAMPLING_RATE", "2", "DATA.TRAIN_JITTER_SCALES", "[32, 40]",
        "DATA.TRAIN_CROP_SIZE", "28", "DATA.TEST_CROP_SIZE", "32", "SLOWFAST.ALPHA", "4",
        "TEST.NUM_ENSEMBLE_VIEWS", "2", *opts,
    ])


def test_build_dataset_reads_the_config(kinetics_dir) -> None:
    cfg = small_cfg(kinetics_dir)
    train = build_dataset(cfg, "train")
    assert train.mode == "train" and len(train) == 4 and train.alpha == 4
    assert train.csv_path == str(kinetics_dir.root / "train.csv")
    assert train.videos == kinetics_dir.paths and train.labels == kinetics_dir.labels
    assert (train.max_retries, train.max_failure_ratio) == (10, 0.1)
    assert [x.shape for x in train[0]["inputs"]] == [(3, 2, 28, 28), (3, 8, 28, 28)]
    test = build_dataset(cfg, "test")
    assert len(test) == 4 * 2 * 3
    slow = build_dataset(small_cfg(kinetics_dir, "MODEL.ARCH", "slow"), "val")
    assert slow.alpha is None and [x.shape for x in slow[0]["inputs"]] == [(3, 8, 28, 28)]
    with pytest.raises(ValueError, match="TRAIN.DATASET"):
        build_dataset(small_cfg(kinetics_dir, "TRAIN.DATASET", "ssv2"), "val")
    with pytest.raises(ValueError, match="TEST.DATASET"):
        build_dataset(small_cfg(kinetics_dir, "TEST.DATASET", "hmdb51"), "test")
    with pytest.raises(ValueError, match="split"):
        build_dataset(cfg, "holdout")


def test_build_loader_stacks_pathways_and_labels(kinetics_dir) -> None:
    dataset = make_dataset(kinetics_dir, "val", alpha=4, seed=0)
    loader = build_loader(dataset, 3, shuffle=False, num_workers=0, drop_last=False,
                          distributed=False)
    batches = list(loader)
    assert [len(b["label"]) for b in batches] == [3, 1]
    first = batches[0]
    assert [x.shape for x in first["inputs"]] == [(3, 3, 2, 28, 28), (3, 3, 8, 28, 28)]
    assert first["label"].dtype == torch.long
    assert first["label"].tolist() == kinetics_dir.labels[:3]
    assert first["video_index"].tolist() == [0, 1, 2] and first["view"].tolist() == [0, 0, 0]
    for j in range(3):
        sample = dataset[j]
        assert all(torch.equal(first["inputs"][p][j], sample["inputs"][p]) for p in range(2))
    shuffled = build_loader(dataset, 2, shuffle=True, num_workers=2, drop_last=True,
                            distributed=False)
    indices = sorted(i for b in shuffled for i in b["index"].tolist())
    assert indices == [0, 1, 2, 3]


def test_build_loader_distributed_uses_a_distributed_sampler(kinetics_dir, tmp_path) -> None:
    dataset = make_dataset(kinetics_dir, "val")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)
    try:
        loader = build_loader(dataset, 2, shuffle=True, num_workers=0, drop_last=False,
                              distributed=True)
        assert isinstance(loader.sampler, DistributedSampler)
        loader.sampler.set_epoch(1)
        assert sorted(i for b in loader for i in b["video_index"].tolist()) == [0, 1, 2, 3]
    finally:
        dist.destroy_process_group()
