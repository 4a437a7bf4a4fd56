"""AVA: key frames as clips whose boxes travel through the crops and flips, PySlowFast's
box merge per split, broken frames, and the arguments it refuses."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mutualnet3d.data import (
    Ava,
    ClipSampling,
    Normalization,
    RetryPolicy,
    SpatialSampling,
    VideoDecodeWarning,
)
from mutualnet3d.data import transforms as T

from .folders import BOX_A, BOX_B, BOX_D, AvaFolder


MEAN = (0.45, 0.45, 0.45)
STD = (0.225, 0.225, 0.225)
SMALL = dict(
    sampling=ClipSampling(num_frames=4, sampling_rate=2),
    spatial=SpatialSampling(jitter_scales=(24, 32), crop_size=20, test_crop_size=24),
    normalization=Normalization(MEAN, STD), alpha=2,
)


def make(ava: AvaFolder, split: str, predicted: bool = False, **kwargs) -> Ava:
    return Ava(
        [ava.frame_list], [ava.gt], split, frame_dir=str(ava.frame_dir),
        predicted_box_csvs=[ava.predicted] if predicted else (),
        label_map_pbtxt=ava.label_map, **{**SMALL, **kwargs},
    )


def levels(clip: torch.Tensor) -> torch.Tensor:
    """Normalised (C, T, H, W) clip -> pixel levels 0-255."""
    return (clip * STD[0] + MEAN[0]) * 255


def frames_of(clip: torch.Tensor) -> list[int]:
    """Frame list index of each frame of a clip, from its mean red level."""
    return [round((float(v) - 10) / 2) for v in levels(clip)[0].mean(dim=(1, 2))]


def assert_box_marks(plane: torch.Tensor, box: torch.Tensor, margin: float = 1.5) -> None:
    """The marked rectangle of a (H, W) level plane is where ``box`` says.

    Pixels whose centres lie ``margin`` inside the box are bright, those ``margin``
    outside are dark (bilinear scaling blurs edges by about a pixel).
    """
    h, w = plane.shape
    ys, xs = torch.arange(h) + 0.5, torch.arange(w) + 0.5
    x1, y1, x2, y2 = box.tolist()
    inside = ((ys > y1 + margin) & (ys < y2 - margin))[:, None] & (
        (xs > x1 + margin) & (xs < x2 - margin))[None, :]
    outside = ~(((ys > y1 - margin) & (ys < y2 + margin))[:, None] & (
        (xs > x1 - margin) & (xs < x2 + margin))[None, :])
    if inside.any():
        assert plane[inside].min() > 200, (box, plane)
    assert plane[outside].max() < 50, (box, plane)


# --------------------------------------------------------------------------------------
# Samples
# --------------------------------------------------------------------------------------
def test_val_samples_clips_boxes_and_labels(ava: AvaFolder) -> None:
    ds = make(ava, "val")
    assert ds.num_classes == 4
    assert ds.samples == [(0, 902), (0, 903), (1, 903)]
    assert len(ds) == 3

    s = ds[0]
    slow, fast = s["inputs"]
    assert fast.shape == (3, 4, 24, 24) and slow.shape == (3, 2, 24, 24)
    # Key frame (902 - 900) * 30 = 60; 4 frames 2 apart from 60 - 4 * 2 // 2 = 56.
    assert ds.frame_indices(0) == [56, 58, 60, 62]
    assert frames_of(fast) == [56, 58, 60, 62]
    assert frames_of(slow) == [56, 62]
    # 32x48 -> short side 24: x0.75 -> 24x36; centre crop 24: x offset ceil(12 / 2) = 6.
    # A: (18, 8, 36, 32) * 0.75 = (13.5, 6, 27, 24) - (6, 0) = (7.5, 6, 21, 24).
    # B: (0, 0, 12, 16) * 0.75 = (0, 0, 9, 12) - (6, 0) = (-6, 0, 3, 12), clipped at 0.
    expected = torch.tensor([[7.5, 6, 21, 24], [0, 0, 3, 12]])
    assert s["boxes"].dtype == torch.float32
    torch.testing.assert_close(s["boxes"], expected)
    torch.testing.assert_close(s["ori_boxes"], torch.tensor([BOX_A, BOX_B]))
    # Action a is column a - 1; action 3 is trained although not evaluated.
    torch.testing.assert_close(s["labels"], torch.tensor([[1.0, 0, 1, 0], [0, 1, 0, 0]]))
    assert s["metadata"].dtype == torch.long
    assert s["metadata"].tolist() == [[0, 902], [0, 902]]
    assert s["index"] == 0
    # The boxes sit on the rectangles painted in the frames (green A, blue B).
    for t in range(4):
        assert_box_marks(levels(fast)[1, t], s["boxes"][0])
        assert_box_marks(levels(fast)[2, t], s["boxes"][1])
    # The crop is the transforms' centre crop.
    raw = torch.stack([torch.from_numpy(np.array(Image.open(ds.frame_paths[0][i])))
                       for i in (56, 58, 60, 62)])
    reference = T.center_crop(T.short_side_scale(T.to_float_clip(raw), 24), 24)
    torch.testing.assert_close(fast, T.normalize(reference, MEAN, STD))


def test_clip_indices_are_clamped_at_the_end_of_the_video(ava: AvaFolder) -> None:
    ds = make(ava, "val")
    s = ds[2]  # vidB at 903: key frame 90 is its last frame
    assert ds.frame_indices(2) == [86, 88, 90, 90]
    assert frames_of(s["inputs"][1]) == [86, 88, 90, 90]
    # 32x42 -> 24x31 (floor of 31.5): x scales by 31/42, y by 24/32. Centre crop 24:
    # x offset ceil(7 / 2) = 4. C (4.2, 8, 25.2, 24) -> (3.1, 6, 18.6, 18) - (4, 0).
    torch.testing.assert_close(s["boxes"], torch.tensor([[0.0, 6, 14.6, 18]]))
    torch.testing.assert_close(s["labels"], torch.tensor([[0.0, 0, 0, 1]]))
    assert s["metadata"].tolist() == [[1, 903]]
    assert_box_marks(levels(s["inputs"][1])[1, 0], s["boxes"][0])


def test_val_uses_predicted_boxes_when_given(ava: AvaFolder) -> None:
    ds = make(ava, "val", predicted=True, detection_score_thresh=0.8)
    # vidA 903's only predicted box scored 0.5: that key frame has no sample.
    assert ds.samples == [(0, 902), (1, 903)]
    s = ds[0]
    torch.testing.assert_close(s["ori_boxes"], torch.tensor([BOX_A, BOX_D]))
    assert s["labels"].sum() == 0  # detector boxes carry no labels
    # D: (24, 0, 48, 16) * 0.75 = (18, 0, 36, 12) - (6, 0) = (12, 0, 30, 12) -> x2 24.
    torch.testing.assert_close(s["boxes"][1], torch.tensor([12.0, 0, 24, 12]))


def test_train_adds_confident_predicted_boxes_as_negatives(ava: AvaFolder) -> None:
    ds = make(ava, "train", predicted=True, seed=0)
    assert ds.samples == [(0, 902), (0, 903), (1, 903)]
    s = ds[0]
    torch.testing.assert_close(s["ori_boxes"], torch.tensor([BOX_A, BOX_B, BOX_D]))
    torch.testing.assert_close(
        s["labels"], torch.tensor([[1.0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]])
    )
    assert s["inputs"][1].shape == (3, 4, 20, 20)


def test_train_crop_and_flip_move_the_boxes_with_the_frames(ava: AvaFolder) -> None:
    # Short side 32 = the frame's: no scaling; a 32x32 crop at x in [0, 16] of the 48
    # wide frame. Unflipped: A = (18 - x, 8, 36 - x, 32), B = (0, 0, max(12 - x, 0), 16).
    # Flipped (x -> 32 - x): A = (max(x - 4, 0), 8, x + 14, 32), B = (min(20 + x, 32), 0,
    # 32, 16). Boxes are clipped to the crop after the flip.
    ds = make(ava, "train", spatial=SpatialSampling((32, 32), 32, 24), seed=3)
    flips = set()
    for epoch in range(12):
        ds.set_epoch(epoch)
        s = ds[0]
        boxes = s["boxes"]
        flipped = bool(boxes[1, 2] == 32)
        if flipped:
            x = float(boxes[0, 2]) - 14  # A's x1 = x - 4 may be clipped at 0, x2 never
            expected = [[max(x - 4, 0), 8, x + 14, 32], [min(20 + x, 32), 0, 32, 16]]
        else:
            x = 18 - float(boxes[0, 0])
            expected = [[18 - x, 8, 36 - x, 32], [0, 0, max(12 - x, 0), 16]]
        assert x == int(x) and 0 <= x <= 16
        torch.testing.assert_close(boxes, torch.tensor(expected))
        fast = levels(s["inputs"][1])
        assert_box_marks(fast[1, 0], boxes[0], margin=0.5)
        assert_box_marks(fast[2, 0], boxes[1], margin=0.5)
        flips.add(flipped)
    assert flips == {True, False}
    # Seeded: the same epoch gives the same sample.
    ds.set_epoch(5)
    torch.testing.assert_close(ds[0]["boxes"], ds[0]["boxes"])


def test_train_scale_jitter_keeps_boxes_on_their_pixels(ava: AvaFolder) -> None:
    ds = make(ava, "train", seed=1)  # short side 24-32, crop 20, random flips
    for epoch in range(6):
        ds.set_epoch(epoch)
        for index in range(len(ds)):
            s = ds[index]
            fast = levels(s["inputs"][1])
            assert fast.shape[-2:] == (20, 20)
            assert (s["boxes"] >= 0).all() and (s["boxes"] <= 20).all()
            assert_box_marks(fast[1, 0], s["boxes"][0])  # A or C, green
            if index == 0:
                assert_box_marks(fast[2, 0], s["boxes"][1])  # B, blue


# --------------------------------------------------------------------------------------
# Broken frames and invalid arguments
# --------------------------------------------------------------------------------------
def test_missing_frame_names_the_file(ava: AvaFolder, tmp_path: Path) -> None:
    frame_list = tmp_path / "list.csv"
    frame_list.write_text(
        "original_vido_id video_id frame_id path labels\n"
        + "".join(f'vidA 0 {k} vidA/missing_{k}.jpg ""\n' for k in range(120))
    )
    ds = Ava([str(frame_list)], [ava.gt], "val", frame_dir=str(ava.frame_dir),
             label_map_pbtxt=ava.label_map, retry=RetryPolicy(2), **SMALL)
    # Val never swaps a scored key frame for another: 3 attempts, then an error.
    with pytest.warns(VideoDecodeWarning, match="missing_56.jpg"):
        with pytest.raises(RuntimeError, match="missing_56.jpg"):
            ds[0]
    assert ds.failures == {str(ava.frame_dir / "vidA" / "missing_56.jpg"): 3}


def test_train_skips_a_broken_key_frame_and_counts_it(ava: AvaFolder, tmp_path: Path) -> None:
    # vidA's frames become empty files: its key frames fail, vidB's load.
    broken = tmp_path / "frames"
    shutil.copytree(ava.frame_dir, broken)
    for path in (broken / "vidA").iterdir():
        path.write_bytes(b"")
    ds = Ava([ava.frame_list], [ava.gt], "train", frame_dir=str(broken),
             label_map_pbtxt=ava.label_map, seed=0, retry=RetryPolicy(20), **SMALL)
    first_a = next(i for i, (video, _) in enumerate(ds.samples) if ds.video_names[video] == "vidA")
    with pytest.warns(VideoDecodeWarning, match="empty file"):
        sample = ds[first_a]
    assert ds.video_names[int(sample["metadata"][0, 0])] == "vidB"
    assert ds.num_failures >= 1 and all(p.startswith(str(broken / "vidA")) for p in ds.failures)
    strict = Ava([ava.frame_list], [ava.gt], "train", frame_dir=str(broken),
                 label_map_pbtxt=ava.label_map, seed=0,
                 retry=RetryPolicy(max_failure_ratio=0.0), **SMALL)
    with pytest.warns(VideoDecodeWarning), pytest.raises(RuntimeError, match="max_failure_ratio"):
        strict[first_a]


@pytest.mark.parametrize(
    "split, kwargs, key",
    [
        ("eval", lambda: {}, "split"),
        ("train", lambda: {"fps": 0}, "fps"),
        ("train", lambda: {"alpha": 99}, "alpha"),
        ("train", lambda: {"spatial": SpatialSampling((24, 32), 10_000, 24)}, "crop_size"),
        ("val", lambda: {"retry": RetryPolicy(max_retries=-1)}, "max_retries"),
    ],
)
def test_invalid_arguments_name_themselves(ava, split, kwargs, key):
    with pytest.raises(ValueError, match=key):
        make(ava, split, **kwargs())
