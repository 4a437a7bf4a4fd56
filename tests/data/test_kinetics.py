"""Kinetics: csv parsing, clips of decoded videos, crops, test views, pathways, seeding
and robustness to broken videos (the ClipDataset machinery seen through Kinetics)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from mutualnet3d.data import (
    AnnotationWarning,
    ClipSampling,
    Kinetics,
    Normalization,
    RetryPolicy,
    SpatialSampling,
    TestViews,
    VideoDecodeWarning,
    read_annotations,
)

MEAN = (0.45, 0.45, 0.45)
STD = (0.225, 0.225, 0.225)
# Sizes for 48x64 videos: train crops 28 out of a 32-40 px short side, test crops 32.
SPATIAL = SpatialSampling(jitter_scales=(32, 40), crop_size=28, test_crop_size=32)
SMALL = dict(
    sampling=ClipSampling(num_frames=8, sampling_rate=2, target_fps=30), spatial=SPATIAL,
    views=TestViews(num_ensemble_views=2, num_spatial_crops=3),
    normalization=Normalization(MEAN, STD),
)


def make_dataset(folder, split: str, **kwargs) -> Kinetics:
    return Kinetics(folder.csv(split), split, path_prefix=str(folder.prefix), **{**SMALL, **kwargs})


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


@pytest.mark.slow
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
    no_flip = Kinetics(csv, "train", **{**kwargs, "spatial": replace(SPATIAL, random_flip=False)})
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
    assert len(make_dataset(kinetics_dir, "test", views=TestViews(10, 3))) == 4 * 30
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
    # ...and the second temporal view starts at frame 12 = (40 - 16) * 1 / 2, PySlowFast's
    # default (its frames are 12 levels-steps later on average).
    assert mean[4] - mean[1] == pytest.approx(12 * make_video.STEP, abs=2)
    found = [make_video.frame_of(float(m)) for m in frame_levels(samples[1]["inputs"][0])]
    assert found == pytest.approx([0, 2, 4, 6, 8, 10, 12, 15], abs=0.5)


def test_test_crops_of_portrait_video_go_top_to_bottom(tmp_path: Path, make_video) -> None:
    make_video(tmp_path / "portrait.mp4", num_frames=20, size=(64, 48), step=0)
    csv = write_csv(tmp_path / "test.csv", [("portrait.mp4", 1)])
    kwargs = {**SMALL, "views": TestViews(1, 3)}
    dataset = Kinetics(csv, "test", path_prefix=str(tmp_path), **kwargs)
    crops = [levels(dataset[i]["inputs"][0]) for i in range(3)]
    mean = [float(c.mean()) for c in crops]
    assert mean[0] + 2 < mean[1] < mean[2] - 2
    # The ramp runs down the rows: each crop is brighter at its bottom.
    assert all(float(c[..., -1, :].mean() - c[..., 0, :].mean()) > 10 for c in crops)


def test_single_test_crop_scales_to_the_first_jitter_scale(tmp_path: Path, make_video) -> None:
    make_video(tmp_path / "still.mp4", num_frames=20, step=0)
    csv = write_csv(tmp_path / "test.csv", [("still.mp4", 0)])
    kwargs = {**SMALL, "views": TestViews(2, 1),
              "spatial": replace(SPATIAL, jitter_scales=(44, 48))}
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
        make_dataset(kinetics_dir, "train", spatial=replace(SPATIAL, crop_size=33))
    with pytest.raises(ValueError, match="num_spatial_crops"):
        make_dataset(kinetics_dir, "test", views=TestViews(2, 2))
    with pytest.raises(ValueError, match="alpha"):
        make_dataset(kinetics_dir, "train", alpha=9)
    with pytest.raises(ValueError, match="split"):
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
    kwargs = {**SMALL, "retry": RetryPolicy(max_retries=50), "seed": 1}
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
    dataset = Kinetics(csv, "train", path_prefix=str(root), **{**SMALL, "retry": RetryPolicy(3)})
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
    kwargs = {**SMALL, "retry": RetryPolicy(max_retries=4), "seed": 0}
    with pytest.warns(AnnotationWarning, match="2 duplicate row"):  # kept, as PySlowFast
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
    kwargs = {**SMALL, "retry": RetryPolicy(0, 0.5), "path_prefix": str(root)}
    dataset = Kinetics(csv, "train", **kwargs)
    with pytest.warns(VideoDecodeWarning):
        for index in (1, 2):  # two of four videos fail: not more than half
            with pytest.raises(RuntimeError, match="after 0 retries"):
                dataset[index]
        with pytest.raises(RuntimeError, match="3 of 4 videos .* max_failure_ratio 0.5"):
            dataset[3]
    assert dataset[0]["video_index"] == 0
