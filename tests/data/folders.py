"""Tiny Charades and AVA folders written at test time (the fixtures are in conftest.py).

Charades: ``root/frames/<video>/<video>-%06d.jpg`` listed by ``root/{split}.csv``; frame
``k`` of every video is gray ``START + STEP * k`` plus a left-to-right ramp of ``RAMP``
levels, so a clip's frame means reveal the sampled indices and crops their position.

AVA: ``root/frames/<video>/<video>_%06d.jpg`` (1-based) listed by ``root/val.csv``, the
box csvs ``gt.csv`` and ``predicted.csv``, ``labels.pbtxt`` and ``excluded.csv``. Red
encodes the frame's time (:func:`frame_level`), green and blue the boxes' rectangles.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

# --------------------------------------------------------------------------------------
# Charades
# --------------------------------------------------------------------------------------
CHARADES_CLASSES = 5
HEADER = "original_vido_id video_id frame_id path labels\n"
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


def write_charades(root: Path) -> CharadesFolder:
    """The :data:`LAYOUT` videos; train.csv, val.csv and test.csv all list them."""
    rows = []
    for v, (name, labels) in enumerate(LAYOUT.items()):
        for k, frame_labels in enumerate(labels):
            write_frame(root / "frames" / frame_rel(name, k), k)
            rows.append(f"{name} {v} {k} {frame_rel(name, k)} {label_field(frame_labels)}\n")
    for split in ("train", "val", "test"):
        (root / f"{split}.csv").write_text(HEADER + "".join(rows))
    return CharadesFolder(root=root, prefix=root / "frames")


# --------------------------------------------------------------------------------------
# AVA
# --------------------------------------------------------------------------------------
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

    def config_paths(self) -> dict[str, str]:
        """The AVA.* keys that point a run at this folder (train and test on val.csv)."""
        root = str(self.root)
        return {
            "AVA.FRAME_DIR": str(self.frame_dir),
            "AVA.FRAME_LIST_DIR": root,
            "AVA.ANNOTATION_DIR": root,
            "AVA.TRAIN_LISTS": "['val.csv']",
            "AVA.TEST_LISTS": "['val.csv']",
            "AVA.TRAIN_GT_BOX_LISTS": "['gt.csv']",
            "AVA.TRAIN_PREDICT_BOX_LISTS": "['predicted.csv']",
            "AVA.TEST_PREDICT_BOX_LISTS": "['predicted.csv']",
            "AVA.GROUNDTRUTH_FILE": "gt.csv",
            "AVA.LABEL_MAP_FILE": "labels.pbtxt",
            "AVA.EXCLUSION_FILE": "excluded.csv",
        }


def write_ava_video(frame_dir: Path, name: str, num: int, size: tuple[int, int],
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


def write_ava(root: Path) -> AvaFolder:
    """Two videos of AVA's layout with the boxes above, a label map and exclusions."""
    frame_dir = root / "frames"
    # 30 fps from second 900: vidA holds seconds 900-903 (120 frames); vidB stops at
    # index 90, the key frame of second 903, so its clips there run past its end.
    rows = write_ava_video(frame_dir, "vidA", 120, (32, 48), BOX_A, BOX_B)
    rows += write_ava_video(frame_dir, "vidB", 91, (32, 42), BOX_C)
    frame_list = root / "val.csv"
    frame_list.write_text(HEADER + "".join(rows))
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
