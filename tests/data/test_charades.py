"""Charades: clips of JPEG frame lists, multi-hot labels (PySlowFast's rules), Kinetics'
crops and pathways, broken frames, and the compact storage of the lists."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from mutualnet3d.data import (
    Charades,
    ClipSampling,
    Normalization,
    RetryPolicy,
    SpatialSampling,
    TestViews,
    VideoDecodeWarning,
)
from mutualnet3d.data import transforms as T
from mutualnet3d.data.charades import clip_frame_indices
from mutualnet3d.data.frames import load_frames

from .folders import CHARADES_CLASSES as NUM_CLASSES
from .folders import LAYOUT, NAMES, RAMP, START, STEP, CharadesFolder

MEAN = (0.45, 0.45, 0.45)
STD = (0.225, 0.225, 0.225)
# Sizes for 48x64 frames: a clip is 4 frames 2 apart (7 frames); train crops 28 out of a
# 32-40 px short side, test crops 32.
SMALL = dict(
    num_classes=NUM_CLASSES, sampling=ClipSampling(num_frames=4, sampling_rate=2),
    spatial=SpatialSampling(jitter_scales=(32, 40), crop_size=28, test_crop_size=32),
    views=TestViews(num_ensemble_views=2, num_spatial_crops=3),
    normalization=Normalization(MEAN, STD),
)


def make_dataset(folder: CharadesFolder, split: str, sampling_rate: int = 2, **kwargs) -> Charades:
    kwargs = {**SMALL, "sampling": ClipSampling(4, sampling_rate), **kwargs}
    return Charades(folder.csv(split), split, path_prefix=str(folder.prefix), **kwargs)


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
# Videos and storage
# --------------------------------------------------------------------------------------
def test_dataset_lists_videos_and_prefixed_paths(charades_dir: CharadesFolder) -> None:
    ds = make_dataset(charades_dir, "train")
    assert ds.video_names == NAMES
    assert len(ds) == ds.num_videos == 3
    assert [ds.num_video_frames(v) for v in range(3)] == [16, 12, 20]
    assert ds.frame_paths(1)[4] == str(charades_dir.frame("vidB", 4))


def test_frame_lists_are_stored_compactly(charades_dir: CharadesFolder) -> None:
    # One numpy byte array of paths and one int32 label-set id per frame: no per-row
    # Python objects for forked workers to copy.
    ds = make_dataset(charades_dir, "train")
    assert isinstance(ds._paths, np.ndarray) and ds._paths.dtype.kind == "S"
    assert ds._frame_labels.dtype == np.int32 and len(ds._frame_labels) == 16 + 12 + 20
    assert sorted(ds.label_sets) == sorted({s for labels in LAYOUT.values() for s in labels})
    assert ds.offsets.tolist() == [0, 16, 28, 48]
    with pytest.raises(ValueError, match="num_classes"):
        make_dataset(charades_dir, "train", num_classes=0)


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
            # PySlowFast: 4 frames 2 apart from a start in [0, frames - 7].
            assert 0 <= seen[0] <= len(LAYOUT[name]) - 7
            assert all(b - a == 2 for a, b in zip(seen, seen[1:]))
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


@pytest.mark.slow
def test_test_views_map_to_temporal_clips_and_crops(charades_dir: CharadesFolder) -> None:
    ds = make_dataset(charades_dir, "test")
    assert len(ds) == 3 * 2 * 3
    for index in range(len(ds)):
        sample = ds[index]
        video, view = divmod(index, 6)
        temporal, spatial = divmod(view, 3)
        assert (sample["video_index"], sample["view"], sample["index"]) == (video, view, index)
        total = len(LAYOUT[NAMES[video]])
        want = clip_frame_indices(total, 4, 2, clip_index=temporal, num_clips=2)
        (clip,) = sample["inputs"]
        assert frame_indices(clip) == want
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
    # A clip of 4 frames 4 apart spans 13 frames, one more than vidB's 12: it starts at
    # -1 or 0 (PySlowFast's rule for short videos) and always reads frame 0.
    missing = charades_dir.frame("vidB", 0)
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
    missing = charades_dir.frame("vidB", 0)
    missing.unlink()
    # 10 retries: a test view replaced by a random video would be caught (seeded draws).
    ds = make_dataset(charades_dir, "test", sampling_rate=4, retry=RetryPolicy(10), seed=0)
    with pytest.warns(VideoDecodeWarning), pytest.raises(RuntimeError, match=str(missing)):
        ds[6]  # vidB's first view: the same view is retried, never another video
    assert ds.failures == {str(missing): 11}
    train = make_dataset(charades_dir, "train", sampling_rate=4, retry=RetryPolicy(0))
    with pytest.warns(VideoDecodeWarning), pytest.raises(RuntimeError, match="nothing readable after"):
        train[1]


def test_max_failure_ratio_stops_on_a_broken_copy(charades_dir: CharadesFolder) -> None:
    charades_dir.frame("vidB", 0).unlink()
    ds = make_dataset(charades_dir, "train", sampling_rate=4, retry=RetryPolicy(10, 0.2),
                      seed=0)
    with pytest.warns(VideoDecodeWarning), pytest.raises(RuntimeError, match="max_failure_ratio"):
        ds[1]  # 1 of 3 videos > 0.2


@pytest.mark.parametrize(
    "total, clip_index, num_clips, expected",
    [
        # length (4 - 1) * 3 + 1 = 10 frames; gap = (30 - 10) / (3 - 1) = 10 per view.
        (30, 0, 3, [0, 3, 6, 9]),
        (30, 1, 3, [10, 13, 16, 19]),
        (30, 2, 3, [20, 23, 26, 29]),
        # gap 21 / 2 = 10.5: view 1 starts at round(10.5) = 10 (round half to even).
        (31, 1, 3, [10, 13, 16, 19]),
        # shorter than the clip: views start at 0 and repeat the last frame.
        (8, 2, 3, [0, 3, 6, 7]),
        # one view starts at 0 (PySlowFast divides by zero there).
        (30, 0, 1, [0, 3, 6, 9]),
    ],
)
def test_test_views_follow_pyslowfasts_charades_rule(total, clip_index, num_clips, expected) -> None:
    assert clip_frame_indices(total, 4, 3, clip_index, num_clips) == expected


def test_train_starts_cover_every_whole_start_and_short_videos_start_before_zero() -> None:
    generator = torch.Generator().manual_seed(0)
    starts = {clip_frame_indices(12, 4, 2, -1, generator=generator)[0] for _ in range(300)}
    assert starts == set(range(12 - 7 + 1))  # randint(0, 12 - 7), inclusive
    # 13 frames needed, 12 given: start -1 or 0, so frame 0 comes once or twice.
    firsts = {tuple(clip_frame_indices(12, 4, 4, -1, generator=generator)) for _ in range(100)}
    assert firsts == {(0, 3, 7, 11), (0, 4, 8, 11)}
