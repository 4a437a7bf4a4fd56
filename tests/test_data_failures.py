"""The skip-and-count bookkeeping the data sets share, and its errors across processes."""

import pickle

import pytest

from mutualnet3d.data import DecodeError, VideoDecodeWarning
from mutualnet3d.data.failures import FailureLog
from mutualnet3d.data.frames import FrameLoadError


def _log(max_ratio=None):
    return FailureLog(
        source="train.csv", unit="videos", num_samples=4, max_ratio=max_ratio,
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
