"""Charades: frame-list parsing, JPEG frame loading, clip sampling, multi-hot labels,
Kinetics' crops and pathways, broken frames; and the mAP metric."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mutualnet3d.data import VideoDecodeWarning, sample_frame_indices
from mutualnet3d.data import transforms as T
from mutualnet3d.data.charades import Charades, read_frame_lists
from mutualnet3d.data.frames import FrameLoadError, load_frames
from mutualnet3d.engine.metrics import mean_average_precision

MEAN = (0.45, 0.45, 0.45)
STD = (0.225, 0.225, 0.225)
NUM_CLASSES = 5
HEADER = "original_vido_id video_id frame_id path labels\n"
# Sizes for 48x64 frames: a clip covers 4 * 2 = 8 frames; train crops 28 out of a
# 32-40 px short side, test crops 32.
SMALL = dict(
    num_classes=NUM_CLASSES, num_frames=4, sampling_rate=2, jitter_scales=(32, 40),
    crop_size=28, test_crop_size=32, num_ensemble_views=2, num_spatial_crops=3, mean=MEAN,
    std=STD,
)

# Frame k of every video is gray START + STEP * k plus a left-to-right ramp of RAMP levels,
# so a clip's frame means reveal the sampled indices and crops reveal their position.
START, STEP, RAMP = 20, 12, 6


def _labels(*blocks: tuple[int, tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Per-frame labels from (number of frames, labels) blocks."""
    return [labels for count, labels in blocks for _ in range(count)]


# Different frames carry different labels; vidA's frame 5 alone has class 4, so clips
# that skip it but span it tell "union over the span" from "union over sampled frames".
LAYOUT: dict[str, list[tuple[int, ...]]] = {
    "vidA": _labels((4, (0,)), (1, ()), (1, (4,)), (2, ()), (4, (1, 2)), (4, (3,))),  # 16
    "vidB": _labels((6, (2,)), (6, ())),  # 12 frames
    "vidC": _labels((10, (0, 4)), (10, ())),  # 20 frames
}
NAMES = list(LAYOUT)


def frame_rel(name: str, k: int) -> str:
    """Charades' naming: ``46GP8/46GP8-000001.jpg`` for frame 0."""
    return f"{name}/{name}-{k + 1:06d}.jpg"


def write_frame(path: Path, k: int, size: tuple[int, int] = (48, 64)) -> None:
    h, w = size
    ramp = RAMP * np.arange(w) / (w - 1)
    gray = np.round(START + STEP * k + np.broadcast_to(ramp, (h, w))).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    # These smooth frames survive quality-95 JPEG exactly (measured).
    Image.fromarray(np.repeat(gray[..., None], 3, axis=2)).save(path, quality=95)


def label_field(labels: tuple[int, ...]) -> str:
    return '"' + ",".join(map(str, labels)) + '"'


@dataclass
class CharadesFolder:
    """``root/frames/<video>/<video>-%06d.jpg`` and ``root/{split}.csv`` listing them."""

    root: Path
    prefix: Path

    def csv(self, split: str) -> str:
        return str(self.root / f"{split}.csv")

    def frame(self, name: str, k: int) -> Path:
        return self.prefix / frame_rel(name, k)


@pytest.fixture
def charades_dir(tmp_path: Path) -> CharadesFolder:
    rows = []
    for v, (name, labels) in enumerate(LAYOUT.items()):
        for k, frame_labels in enumerate(labels):
            write_frame(tmp_path / "frames" / frame_rel(name, k), k)
            rows.append(f"{name} {v} {k} {frame_rel(name, k)} {label_field(frame_labels)}\n")
    for split in ("train", "val", "test"):
        (tmp_path / f"{split}.csv").write_text(HEADER + "".join(rows))
    return CharadesFolder(root=tmp_path, prefix=tmp_path / "frames")


def make_dataset(folder: CharadesFolder, mode: str, **kwargs) -> Charades:
    return Charades(folder.csv(mode), mode, path_prefix=str(folder.prefix), **{**SMALL, **kwargs})


def frame_indices(clip: torch.Tensor) -> list[int]:
    """Frame index of each frame of a normalised (C, T, H, W) clip, from its mean level."""
    levels = (clip * STD[0] + MEAN[0]) * 255
    # A crop's mean ramp lies in [0, RAMP] (< STEP / 2): rounding recovers k.
    return torch.round((levels.mean(dim=(0, 2, 3)) - START - RAMP / 2) / STEP).long().tolist()


def multi_hot(labels: set[int]) -> torch.Tensor:
    target = torch.zeros(NUM_CLASSES)
    target[sorted(labels)] = 1.0
    return target


def union(name: str, frames: range | list[int]) -> set[int]:
    return {c for k in frames for c in LAYOUT[name][k]}


# --------------------------------------------------------------------------------------
# Frame lists
# --------------------------------------------------------------------------------------
def test_rows_are_grouped_by_video_in_file_order(tmp_path: Path) -> None:
    # Rows of two videos interleaved, runs of spaces, a blank line, an empty label list.
    csv = tmp_path / "list.csv"
    csv.write_text(
        HEADER
        + 'b 1 0 b/1.jpg "3"\n'
        + 'a 0 0 a/1.jpg ""\n'
        + "\n"
        + 'b 1 1 b/2.jpg   "1,0,1"\n'
        + 'a 0 1 a/2.jpg "4"\n'
        + "b 1 2 b/3.jpg 2\n"  # unquoted: PySlowFast strips quotes, so it accepts this
    )
    names, paths, labels = read_frame_lists(str(csv), NUM_CLASSES)
    assert names == ["b", "a"]  # order of first appearance
    assert paths == [["b/1.jpg", "b/2.jpg", "b/3.jpg"], ["a/1.jpg", "a/2.jpg"]]
    assert labels == [[(3,), (0, 1), (2,)], [(), (4,)]]


@pytest.mark.parametrize(
    "body, line, match",
    [
        ('a 0 0 a/1.jpg ""\na 0 a/2.jpg ""\n', 3, "expected 5 fields"),
        ('a 0 0 a/1.jpg ""\na 0 1 a/2.jpg "1,x"\n', 3, "labels must be integers"),
        ('a 0 0 a/1.jpg "5"\n', 2, r"in \[0, 5\)"),  # class 5 of 5 classes
        ('a 0 0 a/1.jpg "-1"\n', 2, "labels must be integers"),
        ('a 0 0 a/1.jpg "" extra\n', 2, "got 6"),
    ],
)
def test_malformed_rows_name_file_and_line(
    tmp_path: Path, body: str, line: int, match: str
) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text(HEADER + body)
    with pytest.raises(ValueError, match=rf"bad\.csv, line {line}: .*{match}"):
        read_frame_lists(str(csv), NUM_CLASSES)


def test_missing_header_or_rows_raise(tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text('a 0 0 a/1.jpg ""\n')
    with pytest.raises(ValueError, match=r"bad\.csv, line 1: expected the header"):
        read_frame_lists(str(csv), NUM_CLASSES)
    csv.write_text(HEADER + "\n")
    with pytest.raises(ValueError, match="no frames listed"):
        read_frame_lists(str(csv), NUM_CLASSES)


def test_dataset_lists_videos_and_prefixed_paths(charades_dir: CharadesFolder) -> None:
    ds = make_dataset(charades_dir, "train")
    assert ds.video_names == NAMES
    assert len(ds) == ds.num_videos == 3
    assert [ds.num_video_frames(v) for v in range(3)] == [16, 12, 20]
    assert ds.frame_paths(1)[4] == str(charades_dir.frame("vidB", 4))


# --------------------------------------------------------------------------------------
# Frame files
# --------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------
# Sampling, labels, crops, pathways
# --------------------------------------------------------------------------------------
def test_train_clips_and_labels_union_over_the_clip_span(charades_dir: CharadesFolder) -> None:
    ds = make_dataset(charades_dir, "train", seed=0)
    span_differs_from_sampled = video_level_differs = 0
    for epoch in range(12):
        ds.set_epoch(epoch)
        for index in range(len(ds)):
            sample = ds[index]
            assert set(sample) == {"inputs", "label", "index", "video_index", "view"}
            (clip,) = sample["inputs"]
            assert clip.shape == (3, 4, 28, 28) and clip.dtype == torch.float32
            label = sample["label"]
            assert label.shape == (NUM_CLASSES,) and label.dtype == torch.float32
            assert sample["index"] == sample["video_index"] == index and sample["view"] == 0
            name = NAMES[index]
            seen = frame_indices(clip)
            # linspace over 8 frames from a start in [0, frames - 8]: steps of 2-3 frames.
            assert 0 <= seen[0] <= len(LAYOUT[name]) - 8
            assert all(2 <= b - a <= 3 for a, b in zip(seen, seen[1:]))
            spanned = union(name, range(seen[0], seen[-1] + 1))
            assert torch.equal(label, multi_hot(spanned))
            span_differs_from_sampled += spanned != union(name, seen)
            video_level_differs += spanned != union(name, range(len(LAYOUT[name])))
    # The draws include clips that skip a labelled frame inside their span, and clips
    # that miss labels of their video: the checks above tell the three rules apart.
    assert span_differs_from_sampled > 0 and video_level_differs > 0


def test_val_is_a_centre_crop_with_the_video_level_label(charades_dir: CharadesFolder) -> None:
    ds = make_dataset(charades_dir, "val", seed=1)
    for video, name in enumerate(NAMES):
        sample = ds[video]
        (clip,) = sample["inputs"]
        seen = frame_indices(clip)
        frames = load_frames([ds.frame_paths(video)[k] for k in seen])
        expected = T.center_crop(T.short_side_scale(T.to_float_clip(frames), 32), 28)
        assert torch.equal(clip, T.normalize(expected, MEAN, STD))
        assert torch.equal(sample["label"], multi_hot(union(name, range(len(LAYOUT[name])))))


def test_test_views_map_to_temporal_clips_and_crops(charades_dir: CharadesFolder) -> None:
    ds = make_dataset(charades_dir, "test")
    assert len(ds) == 3 * 2 * 3
    for index in range(len(ds)):
        sample = ds[index]
        video, view = divmod(index, 6)
        temporal, spatial = divmod(view, 3)
        assert (sample["video_index"], sample["view"], sample["index"]) == (video, view, index)
        total = len(LAYOUT[NAMES[video]])
        want = sample_frame_indices(total, 4, 2, 1, 1, clip_index=temporal, num_clips=2)
        (clip,) = sample["inputs"]
        assert frame_indices(clip) == want.tolist()
        # First view starts at frame 0, last ends on the last frame.
        assert want[0] == 0 if temporal == 0 else want[-1] == total - 1
        # Kinetics' 3-crop rule: short side to 32, left / centre / right 32 px squares.
        frames = T.to_float_clip(load_frames([ds.frame_paths(video)[k] for k in want]))
        expected = T.uniform_crop(T.short_side_scale(frames, 32), 32, spatial)
        assert clip.shape == (3, 4, 32, 32)
        assert torch.equal(clip, T.normalize(expected, MEAN, STD))
        name = NAMES[video]
        assert torch.equal(sample["label"], multi_hot(union(name, range(total))))
    # The ramp runs left to right: left, centre and right crops are distinct.
    means = [ds[s]["inputs"][0].mean().item() for s in range(3)]
    assert means[0] < means[1] < means[2]


def test_slowfast_pathways(charades_dir: CharadesFolder) -> None:
    ds = make_dataset(charades_dir, "train", seed=2, alpha=2)
    slow, fast = ds[0]["inputs"]
    assert fast.shape == (3, 4, 28, 28) and slow.shape == (3, 2, 28, 28)
    assert torch.equal(slow, fast[:, [0, 3]])  # linspace(0, 3, 2), PySlowFast's rule


# --------------------------------------------------------------------------------------
# Broken frames
# --------------------------------------------------------------------------------------
def test_missing_frame_warns_counts_and_retries_another_video(
    charades_dir: CharadesFolder,
) -> None:
    # A clip of 4 x 4 = 16 frames covers all of vidB's 12: indices 0, 5, 10, 11 always.
    missing = charades_dir.frame("vidB", 5)
    missing.unlink()
    ds = make_dataset(charades_dir, "train", sampling_rate=4, seed=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sample = ds[1]
    messages = [str(w.message) for w in caught if issubclass(w.category, VideoDecodeWarning)]
    assert messages and all(str(missing) in m and "vidB" in m for m in messages)
    assert ds.failures == {str(missing): len(messages)} and ds.num_failures == len(messages)
    assert sample["video_index"] != 1 and sample["index"] == sample["video_index"]
    assert sample["inputs"][0].shape == (3, 4, 28, 28)
    # Other videos are untouched.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ds[0]["video_index"] == 0


def test_missing_frame_fails_test_views_and_exhausted_retries(
    charades_dir: CharadesFolder,
) -> None:
    missing = charades_dir.frame("vidB", 5)
    missing.unlink()
    # 10 retries: a test view replaced by a random video would be caught (seeded draws).
    ds = make_dataset(charades_dir, "test", sampling_rate=4, max_retries=10, seed=0)
    with pytest.warns(VideoDecodeWarning), pytest.raises(RuntimeError, match=str(missing)):
        ds[6]  # vidB's first view: the same view is retried, never another video
    assert ds.failures == {str(missing): 11}
    train = make_dataset(charades_dir, "train", sampling_rate=4, max_retries=0)
    with pytest.warns(VideoDecodeWarning), pytest.raises(RuntimeError, match="nothing readable after"):
        train[1]


def test_max_failure_ratio_stops_on_a_broken_copy(charades_dir: CharadesFolder) -> None:
    charades_dir.frame("vidB", 5).unlink()
    ds = make_dataset(charades_dir, "train", sampling_rate=4, max_failure_ratio=0.2, seed=0)
    with pytest.warns(VideoDecodeWarning), pytest.raises(RuntimeError, match="max_failure_ratio"):
        ds[1]  # 1 of 3 videos > 0.2


# --------------------------------------------------------------------------------------
# mAP
# --------------------------------------------------------------------------------------
def manual_average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Sum over positives, in decreasing score order, of precision at that rank / P.

    Equals sklearn's step-wise precision-recall sum when no scores tie.
    """
    order = np.argsort(-scores)
    hits = labels[order]
    precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision_at * hits).sum() / hits.sum())


def test_map_hand_computed() -> None:
    scores = np.array([[0.9, 0.1, 0.5], [0.8, 0.4, 0.2], [0.7, 0.35, 0.9], [0.6, 0.8, 0.3]])
    labels = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
    # Class 0, ranked 0.9 (+), 0.8 (-), 0.7 (+), 0.6 (-): precision 1/1 at recall 1/2 and
    # 2/3 at recall 2/2 -> AP = 1/2 * 1 + 1/2 * 2/3 = 5/6.
    # Class 1, ranked 0.8 (-), 0.4 (+), 0.35 (+), 0.1 (-): precision 1/2 at recall 1/2 and
    # 2/3 at recall 2/2 -> AP = 1/2 * 1/2 + 1/2 * 2/3 = 7/12.
    # Class 2 has no positive: left out. mAP = (5/6 + 7/12) / 2 = 17/24.
    assert mean_average_precision(scores, labels) == pytest.approx(17 / 24, abs=1e-12)
    assert mean_average_precision(scores[:, :2], labels[:, :2]) == pytest.approx(17 / 24, abs=1e-12)
    # Ties are one threshold: 2 samples at 0.5, one positive -> precision 1/2 -> AP 1/2.
    assert mean_average_precision(np.full((2, 1), 0.5), np.array([[1], [0]])) == 0.5
    # A perfect ranking scores 1; labels as floats (the engine's multi-hot) work alike.
    assert mean_average_precision(scores[:, :1], np.array([[1.0], [1.0], [0.0], [0.0]])) == 1.0


def test_map_matches_a_manual_precision_recall_sum() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random((30, 6))  # continuous: no ties
    labels = (rng.random((30, 6)) < 0.3).astype(np.int64)
    labels[:, 4] = 0  # a class without positives
    labels[0, 0] = 1
    present = [c for c in range(6) if labels[:, c].any()]
    expected = np.mean([manual_average_precision(labels[:, c], scores[:, c]) for c in present])
    assert 4 not in present and len(present) >= 4
    assert mean_average_precision(scores, labels) == pytest.approx(expected, abs=1e-12)


def test_map_rejects_undefined_inputs() -> None:
    with pytest.raises(ValueError, match="no class has a positive"):
        mean_average_precision(np.ones((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        mean_average_precision(np.ones((3, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="multi-hot"):
        mean_average_precision(np.ones((2, 1)), np.array([[2], [0]]))
    with pytest.raises(ValueError, match="finite"):
        mean_average_precision(np.array([[np.nan], [0.0]]), np.array([[1], [0]]))
