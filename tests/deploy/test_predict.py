"""One video classified: the library's test views of the file, top-5 names, and a file
that cannot be read named in one line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from mutualnet3d.data import (
    ClipSampling,
    DatasetSpec,
    DigitsSettings,
    Kinetics,
    MovingDigits,
    Normalization,
    SpatialSampling,
    TestViews,
)
from mutualnet3d.data.moving_digits import MOTIONS, write_kinetics
from mutualnet3d.deploy import SingleVideo, top_classes, video_reading

from .conftest import DEMO, ROOT, load_tool

NORM = Normalization((0.45, 0.45, 0.45), (0.225, 0.225, 0.225))


def test_the_views_of_one_file_are_the_kinetics_test_views(make_video, tmp_path):
    path = make_video(tmp_path / "v.mp4", num_frames=30, size=(48, 64))
    (tmp_path / "test.csv").write_text(f"{path} 0\n")
    settings = dict(
        sampling=ClipSampling(4, 2),
        spatial=SpatialSampling((40, 48), 32, 32, random_flip=False),
        views=TestViews(10, 3),
        normalization=NORM,
    )
    single = SingleVideo(str(path), **settings)
    kinetics = Kinetics(str(tmp_path / "test.csv"), "test", **settings)
    assert len(single) == len(kinetics) == 30
    for i in range(30):
        assert torch.equal(single[i]["inputs"][0], kinetics[i]["inputs"][0]), f"view {i}"


def test_moving_digits_files_are_read_as_the_clips_were_rendered(tmp_path):
    write_kinetics(str(tmp_path), num_train=1, num_val=2, num_frames=8, size=36)
    spec = DatasetSpec(
        name="moving_digits",
        normalization=NORM,
        sampling=ClipSampling(8, 8),  # the demo's SAMPLING_RATE: not used by rendered clips
        spatial=SpatialSampling(crop_size=32, test_crop_size=32),
        digits=DigitsSettings(1, 2, 36),
    )
    sampling, spatial = video_reading(spec)
    assert sampling.sampling_rate == 1 and spatial.jitter_scales == (36, 36)
    rendered = MovingDigits("val", num_clips=2, num_frames=8, size=36, crop_size=32,
                            normalization=NORM)  # fmt: skip
    clips = []
    for i in range(2):
        video = SingleVideo(
            str(tmp_path / f"videos/val/{i:06d}.mp4"), sampling=sampling, spatial=spatial,
            views=TestViews(1, 1), normalization=NORM,
        )  # fmt: skip
        clips.append(video[0]["inputs"][0])
        assert clips[i].shape == rendered[i]["inputs"][0].shape == (3, 8, 32, 32)
    # Near-lossless H.264: within a few grey levels of the rendered clip, far from the other.
    same = (clips[0] - rendered[0]["inputs"][0]).abs().mean().item()
    other = (clips[0] - rendered[1]["inputs"][0]).abs().mean().item()
    assert same < 0.04 and other > 5 * same


def test_top_classes_are_named_best_first():
    scores = torch.tensor([0.1, 0.5, 0.05, 0.3, 0.05], dtype=torch.float64)
    assert top_classes(scores, 3, ["a", "b", "c", "d", "e"]) == [
        (1, "b", 0.5),
        (3, "d", 0.3),
        (0, "a", 0.1),
    ]
    assert top_classes(scores, 1) == [(1, "1", 0.5)]


@pytest.fixture(scope="module")
def predict_tool():
    return load_tool("predict")


def _lines(capsys) -> list[str]:
    return capsys.readouterr().out.strip().splitlines()


@pytest.mark.slow  # the trained tiny run
@pytest.mark.parametrize("views", ["1", "10"])
def test_predict_prints_five_named_classes(tiny_run, predict_tool, tmp_path, capsys, views):
    write_kinetics(str(tmp_path), num_train=1, num_val=2, num_frames=8, size=36)
    video = str(tmp_path / "videos" / "val" / "000001.mp4")
    assert predict_tool.main(tiny_run.args("--video", video, "--views", views)) == 0
    header, *ranks = _lines(capsys)
    assert header.startswith(f"{video}: width ") and f"{views} clip" in header
    assert len(ranks) == 5
    scores = []
    for rank, line in enumerate(ranks, 1):
        number, name, index, score = line.replace("(", "").replace("):", "").split()
        assert number == f"{rank}." and name == MOTIONS[int(index)]
        scores.append(float(score))
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0 + 1e-6


@pytest.mark.slow  # a fresh interpreter: the command as a user runs it
def test_a_corrupt_file_gets_one_line_naming_it(tiny_run, tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(os.urandom(4096))
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "predict.py"),
         *tiny_run.args("--video", str(corrupt))],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot decode {corrupt}: "), lines


@pytest.mark.slow
def test_a_missing_file_is_named(tiny_run, predict_tool, tmp_path, capsys):
    missing = tmp_path / "nothing.mp4"
    assert predict_tool.main(tiny_run.args("--video", str(missing))) == 1
    assert capsys.readouterr().err.strip() == f"error: cannot decode {missing}: no such file"


DEMO_OUTPUT = os.environ.get("MUTUALNET3D_DEMO_OUTPUT", "")


@pytest.mark.slow
@pytest.mark.skipif(
    not DEMO_OUTPUT,
    reason="set MUTUALNET3D_DEMO_OUTPUT to a finished run of configs/Demo/"
    "MutualNet_Slow_Digits.yaml (its OUTPUT_DIR) to check its predictions",
)
def test_the_trained_demo_ranks_the_true_motion_in_its_top_five(predict_tool, tmp_path, capsys):
    # The validation set's first 12 clips, one per motion, as MP4 files (the demo's size).
    write_kinetics(str(tmp_path), num_train=1, num_val=12, num_frames=8, size=36)
    hits = 0
    for motion in range(12):
        video = str(tmp_path / "videos" / "val" / f"{motion:06d}.mp4")
        argv = ["--cfg", DEMO, "--video", video, "--views", "1", "OUTPUT_DIR", DEMO_OUTPUT]
        assert predict_tool.main(argv) == 0
        names = [line.split()[1] for line in _lines(capsys)[1:]]
        hits += MOTIONS[motion] in names
    # The demo's top-5 accuracy on validation is about 99%: all 12, or 11 at worst.
    assert hits >= 11, f"the true motion is in the top 5 for {hits} of 12 clips"
