"""The skip-and-count bookkeeping and the one retry loop the data sets share: counts,
warnings and errors, replacing a failed sample or retrying it, across processes."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from mutualnet3d.data import (
    SPLITS,
    Ava,
    ClipSampling,
    DecodeError,
    ImageFolderClassification,
    Kinetics,
    Normalization,
    RetryPolicy,
    SpatialSampling,
    TestViews,
    VideoDecodeWarning,
)
from mutualnet3d.data.failures import FailureLog, RetryLoop
from mutualnet3d.data.frames import FrameLoadError
from mutualnet3d.data.imagenet import ImageDecodeWarning

from .folders import HEADER

NORM = Normalization((0.45, 0.45, 0.45), (0.225, 0.225, 0.225))


def _log(max_ratio=None, num_samples=4):
    return FailureLog(
        source="train.csv", unit="videos", num_samples=num_samples, max_ratio=max_ratio,
        category=VideoDecodeWarning,
    )


def test_record_counts_per_file_and_warns_naming_it():
    log = _log()
    with pytest.warns(VideoDecodeWarning) as warned:
        log.record("a.mp4", 0, "video a.mp4", OSError("bad"))
        log.record("a.mp4", 0, "video a.mp4", OSError("bad"))
        log.record("b.mp4", 1, "video b.mp4", OSError("bad"))
    assert [str(w.message) for w in warned] == [
        "skipping video a.mp4 (bad); failure 1 of this file",
        "skipping video a.mp4 (bad); failure 2 of this file",
        "skipping video b.mp4 (bad); failure 1 of this file",
    ]
    assert log == {"a.mp4": 2, "b.mp4": 1}
    assert log.attempts == 3 and log.failed_samples == {0, 1}
    error = log.exhausted("test", 1, "a.mp4", "; never replaced")
    assert str(error) == (
        "test: nothing readable after 1 retries; last failed file a.mp4 (2 failures); "
        "3 failed attempts on 2 files so far; never replaced"
    )


def test_max_ratio_counts_samples_not_attempts():
    log = _log(max_ratio=0.5)  # more than 2 of the 4 videos
    with pytest.warns(VideoDecodeWarning):
        for _ in range(5):  # one video failing again and again is still one video
            log.record("a.mp4", 0, "video a.mp4", OSError("bad"))
        log.record("b.mp4", 1, "video b.mp4", OSError("bad"))
        with pytest.raises(RuntimeError, match=r"3 of 4 videos in train\.csv .* last: c\.mp4"):
            log.record("c.mp4", 2, "video c.mp4", OSError("bad"))


def test_failure_log_and_errors_survive_pickling():
    # Data sets (with their logs) go to spawned DataLoader workers; errors come back.
    log = _log(max_ratio=0.25)
    with pytest.warns(VideoDecodeWarning):
        log.record("a.mp4", 3, "video a.mp4", OSError("bad"))
    copy = pickle.loads(pickle.dumps(log))
    assert copy == log and copy.failed_samples == {3} and copy.max_ratio == 0.25
    for error in (DecodeError("a.mp4", "no frames"), FrameLoadError("f.jpg", "empty file")):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
        assert (copy.filename, copy.reason) == (error.filename, error.reason)
    assert str(FrameLoadError("f.jpg", "empty file")) == "cannot load frame f.jpg: empty file"


# --------------------------------------------------------------------------------------
# The retry loop
# --------------------------------------------------------------------------------------
def _loader(broken: set[int]):
    """A load function that fails on the samples in ``broken``, and the calls it got."""
    calls: list[int] = []

    def load(sample: int) -> str:
        calls.append(sample)
        if sample in broken:
            raise DecodeError(f"{sample}.mp4", "no frames")
        return f"clip {sample}"

    return load, calls


def _describe(sample: int, error: Exception) -> tuple[str, str]:
    return error.filename, f"video {sample}"


def test_loop_returns_the_first_load_untouched():
    log = _log()
    loop = RetryLoop(log, RetryPolicy(3), "train", replace=True, errors=(DecodeError,))
    load, calls = _loader(set())
    assert loop(load, 2, _describe) == (2, "clip 2")
    assert calls == [2] and log == {} and log.attempts == 0


def test_replacing_loop_draws_other_samples_from_the_generator():
    log = _log(num_samples=4)
    loop = RetryLoop(log, RetryPolicy(5), "train", replace=True, errors=(DecodeError,),
                     never_replaced="; not shown when replacing")
    load, calls = _loader({0, 1})
    with pytest.warns(VideoDecodeWarning) as warned:
        sample, clip = loop(load, 0, _describe, torch.Generator().manual_seed(7))
    # The replacements are uniform draws over the 4 samples from the sample's generator.
    reference = torch.Generator().manual_seed(7)
    draws = [int(torch.randint(4, (), generator=reference)) for _ in range(len(calls) - 1)]
    assert calls == [0, *draws] and sample == calls[-1] and clip == f"clip {sample}"
    assert sample not in (0, 1) and all(c in (0, 1) for c in calls[:-1])
    assert log.attempts == len(calls) - 1 == len(warned)
    assert log.failed_samples == set(calls[:-1])
    assert [str(w.message) for w in warned][0] == (
        "skipping video 0 (cannot decode 0.mp4: no frames); failure 1 of this file"
    )


def test_non_replacing_loop_retries_the_same_sample_then_names_it():
    log = _log()
    loop = RetryLoop(log, RetryPolicy(2), "test", replace=False, errors=(DecodeError,),
                     never_replaced="; test views are never replaced by another video")
    load, calls = _loader({3})
    with pytest.warns(VideoDecodeWarning) as warned, pytest.raises(RuntimeError) as info:
        loop(load, 3, _describe, torch.Generator().manual_seed(0))
    assert calls == [3, 3, 3] and log == {"3.mp4": 3} and len(warned) == 3
    assert [str(w.message) for w in warned] == [
        f"skipping video 3 (cannot decode 3.mp4: no frames); failure {n} of this file"
        for n in (1, 2, 3)
    ]
    assert str(info.value) == (
        "test: nothing readable after 2 retries; last failed file 3.mp4 (3 failures); "
        "3 failed attempts on 1 files so far; test views are never replaced by another video"
    )


def test_replacing_loop_that_finds_nothing_raises_without_the_note():
    log = _log(num_samples=2)
    loop = RetryLoop(log, RetryPolicy(4), "val", replace=True, errors=(DecodeError,),
                     never_replaced="; never")
    load, calls = _loader({0, 1})
    with pytest.warns(VideoDecodeWarning), pytest.raises(RuntimeError) as info:
        loop(load, 1, _describe, torch.Generator().manual_seed(1))
    assert len(calls) == 5 and log.attempts == 5
    assert str(info.value).startswith("val: nothing readable after 4 retries; last failed file ")
    assert str(info.value).endswith("5 failed attempts on 2 files so far")


def test_loop_catches_only_its_errors_and_stops_at_the_failure_ratio():
    loop = RetryLoop(_log(), RetryPolicy(3), "train", replace=True, errors=(FrameLoadError,))
    load, calls = _loader({0})
    with pytest.raises(DecodeError):  # not a FrameLoadError: not a skip, a bug to see
        loop(load, 0, _describe)
    assert calls == [0] and loop.failures == {}
    strict = RetryLoop(_log(max_ratio=0.25), RetryPolicy(3), "train", replace=True,
                       errors=(DecodeError,))
    load, calls = _loader({0, 1, 2, 3})
    with pytest.warns(VideoDecodeWarning), pytest.raises(RuntimeError, match="max_failure_ratio"):
        strict(load, 0, _describe, torch.Generator().manual_seed(0))
    assert len(strict.failures.failed_samples) == 2  # more than 1 of 4: stopped there


# --------------------------------------------------------------------------------------
# Its three users: video clips, AVA key frames, images
# --------------------------------------------------------------------------------------
def _broken_clips(tmp_path: Path, ava, split: str):
    csv = tmp_path / f"{split}.csv"
    csv.write_text("missing_a.mp4 0\nmissing_b.mp4 1\n")
    dataset = Kinetics(str(csv), split, path_prefix=str(tmp_path), sampling=ClipSampling(4, 2),
                       spatial=SpatialSampling((32, 40), 28, 32), views=TestViews(2, 3),
                       normalization=NORM, retry=RetryPolicy(20), seed=0)
    return dataset, VideoDecodeWarning


def _broken_key_frames(tmp_path: Path, ava, split: str):
    frame_list = tmp_path / "list.csv"
    frame_list.write_text(HEADER + "".join(
        f'vidA 0 {k} vidA/missing_{k}.jpg ""\n' for k in range(120)))
    dataset = Ava([str(frame_list)], [ava.gt], split, frame_dir=str(ava.frame_dir),
                  label_map_pbtxt=ava.label_map, sampling=ClipSampling(4, 2),
                  spatial=SpatialSampling((24, 32), 20, 24), normalization=NORM,
                  retry=RetryPolicy(20), seed=0)
    assert len(dataset) == 2  # vidA's key frames 902 and 903
    return dataset, VideoDecodeWarning


def _broken_images(tmp_path: Path, ava, split: str):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.png").write_bytes(b"garbage")
    dataset = ImageFolderClassification(tmp_path, split, crop_size=8, resize_size=8,
                                        normalization=NORM, retry=RetryPolicy(20))
    return dataset, ImageDecodeWarning


USERS = {  # what to build, the splits that replace a failed sample, the note of the others
    "clips": (_broken_clips, ("train", "val"), "; test views are never replaced by another video"),
    "key frames": (_broken_key_frames, ("train",), "; evaluated key frames are never replaced"),
    "images": (_broken_images, ("train", "val"), "; test images are never replaced by another"),
}


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("user", sorted(USERS))
def test_each_data_set_replaces_failed_samples_only_where_documented(
    user: str, split: str, tmp_path: Path, ava
) -> None:
    build, replacing, note = USERS[user]
    dataset, category = build(tmp_path, ava, split)
    torch.manual_seed(0)  # the image set draws from torch's global RNG
    with pytest.warns(category), pytest.raises(RuntimeError, match="after 20 retries") as info:
        dataset[0]
    assert dataset.num_failures == 21 and dataset.failures.attempts == 21
    if split in replacing:  # 21 attempts over 2 broken samples: both were tried
        assert dataset.failures.failed_samples == {0, 1}
        assert not str(info.value).endswith(note)
    else:
        assert dataset.failures.failed_samples == {0} and len(dataset.failures) == 1
        assert str(info.value).endswith(note)
