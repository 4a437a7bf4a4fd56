"""AVA: frame lists, box csvs, clips with boxes through the crops, collation, and the
frame-level PASCAL VOC evaluation against hand-computed fixtures."""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mutualnet3d.data import transforms as T
from mutualnet3d.data.ava import Ava, ava_collate, read_box_csvs, read_frame_lists
from mutualnet3d.data import VideoDecodeWarning
from mutualnet3d.engine.ava_eval import (
    BoxTable,
    detections_from_predictions,
    evaluate,
    make_image_key,
    read_csv,
    read_exclusions,
    read_labelmap,
)

MEAN = (0.45, 0.45, 0.45)
STD = (0.225, 0.225, 0.225)
SMALL = dict(
    num_frames=4, sampling_rate=2, jitter_scales=(24, 32), crop_size=20, test_crop_size=24,
    mean=MEAN, std=STD, alpha=2,
)

# Label map: ids 1, 2, 4 evaluated, so num_classes = 4 and action 3 is a training-only
# class (AVA v2.2: 80 ids, 60 evaluated).
LABEL_MAP = """item {
  name: "bend/bow (at the waist)"
  id: 1
}
item {
  name: "crouch/kneel"
  id: 2
}
item { name: "dance" id: 4 }
"""

# Normalised boxes (x1, y1, x2, y2). vidA is 32x48 (H x W), vidB 32x42.
BOX_A = (0.375, 0.25, 0.75, 1.0)  # vidA pixels (18, 8, 36, 32); green in its frames
BOX_B = (0.0, 0.0, 0.25, 0.5)  # vidA pixels (0, 0, 12, 16); blue in its frames
BOX_C = (0.1, 0.25, 0.6, 0.75)  # vidB pixels (4.2, 8, 25.2, 24); green in its frames
BOX_D = (0.5, 0.0, 1.0, 0.5)  # a detector's box at vidA 902 that is no groundtruth box
BOX_E = (0.0, 0.5, 0.5, 1.0)  # a detector's box at vidB 903

GT_ROWS = [  # video, second, box, action, person id (AVA's 8th groundtruth column)
    ("vidA", "0902", BOX_A, 1, 0),
    ("vidA", "0902", BOX_A, 3, 0),  # same box, second action: one box, two labels
    ("vidA", "0902", BOX_B, 2, 1),
    ("vidA", "0903", BOX_A, 2, 0),
    ("vidB", "0903", BOX_C, 4, 0),
    ("vidA", "0901", BOX_A, 1, 0),  # before the first key frame (902): skipped
    ("vidZ", "0902", BOX_A, 1, 0),  # a video missing from the frame lists: unused
]
PREDICTED_ROWS = [  # video, second, box, action (detectors leave it empty), score
    ("vidA", "0902", BOX_A, "", 0.9),  # a groundtruth box: merged into it in train
    ("vidA", "0902", BOX_D, "2", 0.95),  # a predicted action is no label
    ("vidA", "0903", BOX_B, "", 0.5),  # below the 0.8 threshold
    ("vidB", "0903", BOX_E, "", 0.8),  # at the threshold: kept
]


def fmt(box: tuple[float, ...]) -> str:
    return ",".join(repr(v) for v in box)


def frame_level(k: int) -> int:
    """Red level of frame list index k: the frame's time is readable after decoding."""
    return 10 + 2 * k


@dataclass
class AvaFolder:
    root: Path
    frame_dir: Path
    frame_list: str
    gt: str
    predicted: str
    label_map: str
    exclusions: str


def write_video(frame_dir: Path, name: str, num: int, size: tuple[int, int],
                green: tuple[float, ...], blue: tuple[float, ...] = ()) -> list[str]:
    """``num`` JPEG frames ``<name>/<name>_%06d.jpg`` (1-based); returns list rows.

    Red is :func:`frame_level` everywhere; green and blue fill the pixel rectangles of
    the normalised boxes ``green`` / ``blue``. 4:4:4 at quality 100 keeps levels within
    1 of what was written, so the tests can read positions and times back.
    """
    h, w = size
    (frame_dir / name).mkdir(parents=True)
    rows = []
    for k in range(num):
        frame = np.zeros((h, w, 3), dtype=np.uint8)
        frame[..., 0] = frame_level(k)
        for channel, box in ((1, green), (2, blue)):
            if box:
                x1, y1, x2, y2 = box
                frame[round(y1 * h): round(y2 * h), round(x1 * w): round(x2 * w), channel] = 255
        rel = f"{name}/{name}_{k + 1:06d}.jpg"
        Image.fromarray(frame).save(frame_dir / rel, quality=100, subsampling=0)
        rows.append(f'{name} {0 if name == "vidA" else 1} {k} {rel} ""\n')
    return rows


@pytest.fixture(scope="module")
def ava(tmp_path_factory) -> AvaFolder:
    root = tmp_path_factory.mktemp("ava")
    frame_dir = root / "frames"
    # 30 fps from second 900: vidA holds seconds 900-903 (120 frames); vidB stops at
    # index 90, the key frame of second 903, so its clips there run past its end.
    rows = write_video(frame_dir, "vidA", 120, (32, 48), BOX_A, BOX_B)
    rows += write_video(frame_dir, "vidB", 91, (32, 42), BOX_C)
    frame_list = root / "val.csv"
    frame_list.write_text("original_vido_id video_id frame_id path labels\n" + "".join(rows))
    gt = root / "gt.csv"
    gt.write_text("".join(f"{v},{s},{fmt(b)},{a},{p}\n" for v, s, b, a, p in GT_ROWS))
    predicted = root / "predicted.csv"
    predicted.write_text(
        "".join(f"{v},{s},{fmt(b)},{a},{c}\n" for v, s, b, a, c in PREDICTED_ROWS)
    )
    label_map = root / "labels.pbtxt"
    label_map.write_text(LABEL_MAP)
    exclusions = root / "excluded.csv"
    exclusions.write_text("vidA,0903\n")
    return AvaFolder(root, frame_dir, str(frame_list), str(gt), str(predicted),
                     str(label_map), str(exclusions))


def make(ava: AvaFolder, mode: str, predicted: bool = False, **kwargs) -> Ava:
    return Ava(
        [ava.frame_list], [ava.gt], frame_dir=str(ava.frame_dir),
        predicted_box_csvs=[ava.predicted] if predicted else (),
        label_map_pbtxt=ava.label_map, mode=mode, **{**SMALL, **kwargs},
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
# Parsing
# --------------------------------------------------------------------------------------
def test_frame_lists_group_frames_by_video(ava: AvaFolder) -> None:
    names, paths = read_frame_lists([ava.frame_list], "/data")
    assert names == ["vidA", "vidB"]
    assert [len(p) for p in paths] == [120, 91]
    assert paths[0][60] == "/data/vidA/vidA_000061.jpg"  # index 0 is file 1


def test_frame_list_without_header_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "list.csv"
    bad.write_text('vidA 0 0 vidA/vidA_000001.jpg ""\n')
    with pytest.raises(ValueError, match="line 1: expected the header"):
        read_frame_lists([str(bad)])


def test_box_csvs_merge_actions_and_predicted_boxes(ava: AvaFolder) -> None:
    boxes = read_box_csvs([ava.gt], [ava.predicted], 0.8, num_classes=4)
    assert set(boxes) == {"vidA", "vidB", "vidZ"}
    assert sorted(boxes["vidA"]) == [902, 903]  # 901 is no key frame
    # GT box A with actions 1 and 3, GT box B, then the new predicted box D (no label);
    # the predicted copy of A added nothing.
    assert boxes["vidA"][902] == [(BOX_A, [1, 3]), (BOX_B, [2]), (BOX_D, [])]
    assert boxes["vidA"][903] == [(BOX_A, [2])]  # B scored 0.5 < 0.8
    assert boxes["vidB"][903] == [(BOX_C, [4]), (BOX_E, [])]


def test_box_csv_rejects_actions_beyond_the_label_map(tmp_path: Path) -> None:
    bad = tmp_path / "gt.csv"
    bad.write_text("vidA,0902,0.1,0.1,0.5,0.5,5\n")
    with pytest.raises(ValueError, match=r"line 1: action id 5 outside \[1, 4\]"):
        read_box_csvs([str(bad)], num_classes=4)


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
    ds = make(ava, "train", jitter_scales=(32, 32), crop_size=32, seed=3)
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


def test_test_mode_keeps_the_whole_frame_and_collate_pads(ava: AvaFolder) -> None:
    ds = make(ava, "test", alpha=None)
    a, b = ds[0], ds[2]
    assert a["inputs"][0].shape == (3, 4, 24, 36)  # 32x48 scaled by 0.75, no crop
    assert b["inputs"][0].shape == (3, 4, 24, 31)  # 32x42
    torch.testing.assert_close(a["boxes"], torch.tensor([[13.5, 6, 27, 24], [0, 0, 9, 12]]))
    torch.testing.assert_close(b["boxes"], torch.tensor([[3.1, 6, 18.6, 18]]))
    batch = ava_collate([a, b])
    (clips,) = batch["inputs"]
    assert clips.shape == (2, 3, 4, 24, 36)
    torch.testing.assert_close(clips[1, ..., :31], b["inputs"][0])
    assert (clips[1, ..., 31:] == 0).all()


def test_collate_concatenates_boxes_with_batch_index(ava: AvaFolder) -> None:
    ds = make(ava, "val")
    samples = [ds[0], ds[2]]
    batch = ava_collate(samples)
    slow, fast = batch["inputs"]
    assert fast.shape == (2, 3, 4, 24, 24) and slow.shape == (2, 3, 2, 24, 24)
    torch.testing.assert_close(fast[1], samples[1]["inputs"][1])
    assert batch["boxes"].shape == (3, 5)
    assert batch["boxes"][:, 0].tolist() == [0, 0, 1]
    torch.testing.assert_close(
        batch["boxes"][:, 1:], torch.cat([samples[0]["boxes"], samples[1]["boxes"]])
    )
    assert batch["labels"].shape == (3, 4)
    assert batch["ori_boxes"].shape == (3, 4)
    assert batch["metadata"].tolist() == [[0, 902], [0, 902], [1, 903]]
    assert batch["index"].tolist() == [0, 2]


def test_batch_feeds_the_video_detector(ava: AvaFolder) -> None:
    from mutualnet3d.models.video import slowfast_tiny_detection

    ds = make(ava, "train", num_frames=8, alpha=4, jitter_scales=(32, 40), crop_size=32)
    batch = ava_collate([ds[i] for i in range(len(ds))])
    model = slowfast_tiny_detection(num_classes=ds.num_classes).eval()
    with torch.no_grad():
        logits = model(batch["inputs"], batch["boxes"])
    assert logits.shape == batch["labels"].shape == (4, 4)
    assert torch.isfinite(logits).all()


def test_missing_frame_names_the_file(ava: AvaFolder, tmp_path: Path) -> None:
    frame_list = tmp_path / "list.csv"
    frame_list.write_text(
        "original_vido_id video_id frame_id path labels\n"
        + "".join(f'vidA 0 {k} vidA/missing_{k}.jpg ""\n' for k in range(120))
    )
    ds = Ava([str(frame_list)], [ava.gt], frame_dir=str(ava.frame_dir),
             label_map_pbtxt=ava.label_map, mode="val", max_retries=2, **SMALL)
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
    ds = Ava([ava.frame_list], [ava.gt], frame_dir=str(broken), label_map_pbtxt=ava.label_map,
             mode="train", seed=0, max_retries=20, **SMALL)
    first_a = next(i for i, (video, _) in enumerate(ds.samples) if ds.video_names[video] == "vidA")
    with pytest.warns(VideoDecodeWarning, match="empty file"):
        sample = ds[first_a]
    assert ds.video_names[int(sample["metadata"][0, 0])] == "vidB"
    assert ds.num_failures >= 1 and all(p.startswith(str(broken / "vidA")) for p in ds.failures)
    strict = Ava([ava.frame_list], [ava.gt], frame_dir=str(broken), label_map_pbtxt=ava.label_map,
                 mode="train", seed=0, max_failure_ratio=0.0, **SMALL)
    with pytest.warns(VideoDecodeWarning), pytest.raises(RuntimeError, match="max_failure_ratio"):
        strict[first_a]


# --------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------
def table(tmp_path: Path, name: str, rows: list[tuple], whitelist=None) -> BoxTable:
    """Write csv rows (video, second, x1, y1, x2, y2, action[, score]) and read them."""
    path = tmp_path / name
    path.write_text("".join(",".join(str(v) for v in row) + "\n" for row in rows))
    return read_csv(str(path), whitelist)


CATEGORIES = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 4, "name": "d"}]


def test_read_labelmap(ava: AvaFolder, tmp_path: Path) -> None:
    categories, ids = read_labelmap(ava.label_map)
    assert categories == [
        {"id": 1, "name": "bend/bow (at the waist)"},
        {"id": 2, "name": "crouch/kneel"},
        {"id": 4, "name": "dance"},
    ]
    assert ids == {1, 2, 4}
    # The full action list's format: label blocks with label_id and label_type.
    full = tmp_path / "full.pbtxt"
    full.write_text(
        'label {\n  name: "stand"\n  label_id: 12\n  label_type: PERSON_MOVEMENT\n}\n'
        'label {\n  name: "talk to (e.g., self, a person, a group)"\n  label_id: 79\n}\n'
    )
    categories, ids = read_labelmap(str(full))
    assert categories == [
        {"id": 12, "name": "stand"}, {"id": 79, "name": "talk to (e.g., self, a person, a group)"}
    ]


def test_read_csv_keys_scores_whitelist_and_capacity(tmp_path: Path) -> None:
    rows = [
        ("v", 902, 0.1, 0.2, 0.3, 0.4, 1),  # groundtruth: no score
        ("v", "0902", 0.5, 0.6, 0.7, 0.8, 3),  # not whitelisted
    ]
    gt = table(tmp_path, "gt.csv", rows, whitelist={1, 2})
    assert make_image_key("v", 902) == "v,0902"
    assert gt.boxes == {"v,0902": [[0.2, 0.1, 0.4, 0.3]]}  # the official [y1, x1, y2, x2]
    assert gt.labels == {"v,0902": [1]} and gt.scores == {"v,0902": [1.0]}
    det_rows = [("v", 902, 0, 0, 1, 1, 1, s) for s in (0.2, 0.9, 0.5)]
    (tmp_path / "det.csv").write_text("".join(",".join(map(str, r)) + "\n" for r in det_rows))
    top = read_csv(str(tmp_path / "det.csv"), capacity=2)
    assert top.scores == {"v,0902": [0.9, 0.5]}  # the 2 best, best first


def test_read_exclusions(ava: AvaFolder) -> None:
    assert read_exclusions(ava.exclusions) == {"vidA,0903"}
    assert read_exclusions(None) == set()


GT_TWO = [("v", 902, 0.0, 0.0, 0.5, 0.5, 1), ("v", 902, 0.5, 0.5, 1.0, 1.0, 1)]


def test_ap_by_hand_with_an_iou_of_exactly_one_half(tmp_path: Path) -> None:
    gt = table(tmp_path, "gt.csv", GT_TWO)
    det = table(tmp_path, "det.csv", [
        ("v", 902, 0.0, 0.0, 0.5, 0.5, 1, 0.9),  # = G1: TP
        ("v", 902, 0.0, 0.6, 0.4, 1.0, 1, 0.8),  # overlaps nothing: FP
        # G2 = (.5, .5, 1, 1), area .25; this box has area .125 inside it: IoU .5, TP.
        ("v", 902, 0.5, 0.5, 1.0, 0.75, 1, 0.7),
    ])
    # precision 1, 1/2, 2/3; recall 1/2, 1/2, 1. Interpolated precision 1, 2/3, 2/3.
    # AP = (1/2 - 0) * 1 + (1 - 1/2) * 2/3 = 5/6.
    result = evaluate(gt, det, CATEGORIES[:1], set())
    assert result["per_class"][1] == pytest.approx(5 / 6)
    assert result["mAP"] == pytest.approx(5 / 6)
    assert result["num_groundtruth"] == {1: 2}
    # Just below one half (y2 .74: IoU .48) the third detection is a FP:
    # precision 1, 1/2, 1/3 at recall 1/2 -> AP = 1/2.
    det.boxes["v,0902"][2] = [0.5, 0.5, 0.74, 1.0]
    assert evaluate(gt, det, CATEGORIES[:1], set())["per_class"][1] == pytest.approx(0.5)
    # A stricter threshold turns the exact 1/2 into a miss as well.
    det.boxes["v,0902"][2] = [0.5, 0.5, 0.75, 1.0]
    assert evaluate(gt, det, CATEGORIES[:1], iou_threshold=0.51)["per_class"][1] == 0.5


def test_precision_is_interpolated_from_higher_recalls(tmp_path: Path) -> None:
    gt = table(tmp_path, "gt.csv", [("v", 902, x, 0, x + 0.2, 1, 1) for x in (0, 0.4, 0.8)])
    det = table(tmp_path, "det.csv", [
        ("v", 902, 0.0, 0, 0.2, 1, 1, 0.9),  # TP
        ("w", 902, 0.0, 0, 0.2, 1, 1, 0.8),  # FP (no groundtruth at w,0902)
        ("v", 902, 0.4, 0, 0.6, 1, 1, 0.7),  # TP
        ("v", 902, 0.8, 0, 1.0, 1, 1, 0.6),  # TP
    ])
    # precision 1, 1/2, 2/3, 3/4 at recall 1/3, 1/3, 2/3, 1. At recall 2/3 the
    # interpolated precision is 3/4 (reached later), not 2/3:
    # AP = 1/3 * 1 + 1/3 * 3/4 + 1/3 * 3/4 = 5/6 (uninterpolated: 29/36).
    assert evaluate(gt, det, CATEGORIES, set())["per_class"][1] == pytest.approx(5 / 6)


def test_duplicate_detection_is_a_false_positive(tmp_path: Path) -> None:
    gt = table(tmp_path, "gt.csv", [("v", 902, 0, 0, 0.5, 0.5, 1), ("w", 902, 0, 0, 0.5, 0.5, 1)])
    det = table(tmp_path, "det.csv", [
        ("v", 902, 0.0, 0.0, 0.5, 0.5, 1, 0.9),  # TP
        ("v", 902, 0.0, 0.0, 0.45, 0.45, 1, 0.8),  # IoU .81 with the same box: FP
        ("w", 902, 0.0, 0.0, 0.5, 0.5, 1, 0.7),  # TP at the other key
    ])
    # As the hand example: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> 5/6.
    assert evaluate(gt, det, CATEGORIES, set())["per_class"][1] == pytest.approx(5 / 6)
    # Within a key the higher score claims the box, whatever the table's order: the 0.9
    # duplicate is the TP, the exact box at 0.5 the FP -> precision 1, 1/2, recall 1/2.
    unsorted = BoxTable(
        {"v,0902": [[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.45, 0.45]]},
        {"v,0902": [1, 1]},
        {"v,0902": [0.5, 0.9]},
    )
    assert evaluate(gt, unsorted, CATEGORIES, set())["per_class"][1] == pytest.approx(0.5)


def test_detection_goes_to_its_best_box_even_if_taken(tmp_path: Path) -> None:
    # G1 = x .0-.4, G2 = x .1-.5 (full height). D2 overlaps G1 by .36/.44 = .82 and G2
    # by .34/.46 = .74: VOC matches it to G1, already taken -> FP (not to G2). D3 = G2.
    gt = table(tmp_path, "gt.csv", [("v", 902, 0, 0, 0.4, 1, 1), ("v", 902, 0.1, 0, 0.5, 1, 1)])
    det = table(tmp_path, "det.csv", [
        ("v", 902, 0.0, 0.0, 0.4, 1.0, 1, 0.9),
        ("v", 902, 0.04, 0.0, 0.44, 1.0, 1, 0.8),
        ("v", 902, 0.1, 0.0, 0.5, 1.0, 1, 0.7),
    ])
    # TP, FP, TP -> 5/6 (matching D2 to G2 would give TP, TP, FP -> 1).
    assert evaluate(gt, det, CATEGORIES, set())["per_class"][1] == pytest.approx(5 / 6)


def test_map_skips_classes_without_groundtruth(tmp_path: Path) -> None:
    gt = table(tmp_path, "gt.csv", GT_TWO + [
        ("v", 903, 0.2, 0.2, 0.4, 0.4, 4),  # class 4: groundtruth, never detected
        ("v", 903, 0.2, 0.2, 0.4, 0.4, 3),  # class 3 is not a category: ignored
    ])
    det = table(tmp_path, "det.csv", [
        ("v", 902, 0.0, 0.0, 0.5, 0.5, 1, 0.9),
        ("v", 902, 0.0, 0.6, 0.4, 1.0, 1, 0.8),
        ("v", 902, 0.5, 0.5, 1.0, 0.75, 1, 0.7),
        ("v", 902, 0.0, 0.0, 0.5, 0.5, 2, 0.9),  # class 2: detections, no groundtruth
    ])
    result = evaluate(gt, det, CATEGORIES, set())
    assert math.isnan(result["per_class"][2])
    assert result["per_class"][4] == 0.0
    assert set(result["per_class"]) == {1, 2, 4}
    assert result["mAP"] == pytest.approx((5 / 6 + 0.0) / 2)


def test_excluded_keys_drop_groundtruth_and_detections(tmp_path: Path) -> None:
    gt = table(tmp_path, "gt.csv", [("v", 902, 0, 0, 0.5, 0.5, 1), ("v", 903, 0, 0, 0.5, 0.5, 1)])
    det = table(tmp_path, "det.csv", [
        ("v", 902, 0.0, 0.0, 0.5, 0.5, 1, 0.9),  # TP
        ("v", 903, 0.6, 0.6, 1.0, 1.0, 1, 0.95),  # FP, ranked first
    ])
    # FP then TP: precision 0, 1/2 at recall 0, 1/2 -> AP = 1/2 * 1/2 = 1/4.
    assert evaluate(gt, det, CATEGORIES, set())["per_class"][1] == pytest.approx(0.25)
    result = evaluate(gt, det, CATEGORIES, {"v,0903"})
    assert result["per_class"][1] == pytest.approx(1.0)
    assert result["num_groundtruth"][1] == 1


def test_detections_at_keys_without_groundtruth_count_and_invalid_boxes_do_not(
    tmp_path: Path,
) -> None:
    gt = table(tmp_path, "gt.csv", [("v", 902, 0, 0, 0.5, 0.5, 1)])
    det = table(tmp_path, "det.csv", [
        ("v", 902, 0.0, 0.0, 0.5, 0.5, 1, 0.9),
        ("u", 902, 0.0, 0.0, 0.5, 0.5, 1, 0.95),  # no groundtruth at u,0902: FP
    ])
    assert evaluate(gt, det, CATEGORIES, set())["per_class"][1] == pytest.approx(0.5)
    det = table(tmp_path, "det.csv", [
        ("v", 902, 0.0, 0.0, 0.5, 0.5, 1, 0.9),
        ("v", 902, 0.3, 0.0, 0.3, 0.5, 1, 0.95),  # zero width: dropped, as officially
    ])
    assert evaluate(gt, det, CATEGORIES, set())["per_class"][1] == pytest.approx(1.0)


def test_dataset_predictions_round_trip_through_the_evaluation(
    ava: AvaFolder, tmp_path: Path
) -> None:
    categories, whitelist = read_labelmap(ava.label_map)
    # The groundtruth of the listed videos' key frames (the evaluation would count the
    # 0901 and vidZ rows as missed boxes).
    gt_path = tmp_path / "gt.csv"
    gt_path.write_text("".join(f"{v},{s},{fmt(b)},{a},{p}\n" for v, s, b, a, p in GT_ROWS[:5]))
    ds = make(ava, "val")
    batch = ava_collate([ds[i] for i in range(len(ds))])
    # A perfect model: score 1 for the true actions, 0 elsewhere.
    det = detections_from_predictions(
        batch["labels"], batch["ori_boxes"], batch["metadata"], ds.video_names, whitelist
    )
    assert det.labels["vidA,0902"].count(1) == 2  # one per box and evaluated class
    assert 3 not in det.labels["vidA,0902"]
    gt = read_csv(str(gt_path), whitelist)
    excluded = read_exclusions(ava.exclusions)
    result = evaluate(gt, det, categories, excluded)
    assert result["num_groundtruth"] == {1: 1, 2: 1, 4: 1}  # vidA,0903 excluded
    assert result["mAP"] == pytest.approx(1.0)
    # Swapping the two classes' scores ruins classes 1 and 2.
    swapped = batch["labels"][:, [1, 0, 2, 3]]
    det = detections_from_predictions(
        swapped, batch["ori_boxes"], batch["metadata"], ds.video_names, whitelist
    )
    result = evaluate(gt, det, categories, excluded)
    assert result["per_class"][4] == pytest.approx(1.0)
    assert result["per_class"][1] < 1 and result["per_class"][2] < 1


@pytest.mark.parametrize(
    "mode, kwargs, key",
    [
        ("eval", {}, "mode"),
        ("train", {"fps": 0}, "fps"),
        ("train", {"alpha": 99}, "alpha"),
        ("train", {"crop_size": 10_000}, "crop_size"),
        ("val", {"max_retries": -1}, "max_retries"),
    ],
)
def test_invalid_arguments_name_themselves(ava, mode, kwargs, key):
    with pytest.raises(ValueError, match=key):
        make(ava, mode, **kwargs)
