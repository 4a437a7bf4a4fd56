"""AVA v2.2 action detection: PySlowFast's frame lists and box csvs -> clips with boxes.

Layout (PySlowFast's ``slowfast/datasets/DATASET.md``):

* frames: ``FRAME_DIR/<video>/<video>_%06d.jpg``, numbered from 1, 30 fps, starting at
  second 900 of each movie (frame list index ``i`` is at ``900 + i / fps`` s);
* frame lists: space-separated csv with the header
  ``original_vido_id video_id frame_id path labels``; ``path`` is relative to
  ``frame_dir``; videos are numbered in order of first appearance over all lists;
* boxes: ``video_id,second,x1,y1,x2,y2,action_id[,x]`` rows, coordinates normalised to
  [0, 1]; one row per (box, action). Groundtruth files carry a person id as ``x``;
  predicted-box files an empty action and the detector's score as ``x``.

A sample is one key frame (second 902-1798, PySlowFast's ``AVA_VALID_FRAMES``) of a
listed video that has at least one box: the clip is ``num_frames`` frames
``sampling_rate`` apart around key frame ``(second - 900) * fps`` of the list (indices
clamped to the video), and the boxes of that second travel with the clip through the
spatial transforms.
"""

from __future__ import annotations

import math
import os
from typing import Any, Optional, Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..engine.ava_eval import read_labelmap
from . import transforms as T
from .clip_dataset import (
    VideoDecodeWarning,
    check_clip_arguments,
    pack_pathways,
    sample_generator,
)
from .failures import FailureLog
from .frames import FrameLoadError, load_frames

__all__ = [
    "AVA_FIRST_SECOND",
    "AVA_VALID_SECONDS",
    "FRAME_LIST_HEADER",
    "Ava",
    "ava_collate",
    "read_box_csvs",
    "read_frame_lists",
]

#: the second of each movie that frame list index 0 shows (AVA cuts 15:00-30:00)
AVA_FIRST_SECOND = 900
#: key frames with annotations (PySlowFast's ``AVA_VALID_FRAMES``)
AVA_VALID_SECONDS = range(902, 1799)
#: the header of PySlowFast's frame lists ("vido" is their spelling)
FRAME_LIST_HEADER = ("original_vido_id", "video_id", "frame_id", "path", "labels")

# video -> second -> list of (box (x1, y1, x2, y2) normalised, sorted action ids)
BoxIndex = dict[str, dict[int, list[tuple[tuple[float, float, float, float], list[int]]]]]


def read_frame_lists(
    csv_paths: Sequence[str], frame_dir: str = ""
) -> tuple[list[str], list[list[str]]]:
    """``(video names, frame paths per video)`` from PySlowFast frame lists.

    Each file starts with :data:`FRAME_LIST_HEADER`; rows are split on whitespace and
    need 5 fields; frame paths are ``os.path.join(frame_dir, path)`` in file order.
    ``ValueError`` (naming the file and the 1-based line) on a missing header or a row
    of another length, and when no frame is listed.
    """
    frames: dict[str, list[str]] = {}
    for csv_path in csv_paths:
        with open(csv_path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                fields = line.split()
                if number == 1:
                    if tuple(fields) != FRAME_LIST_HEADER:
                        raise ValueError(
                            f"{csv_path}, line 1: expected the header "
                            f"{' '.join(FRAME_LIST_HEADER)!r}, got {line.rstrip()!r}"
                        )
                    continue
                if not fields:
                    continue
                if len(fields) != 5:
                    raise ValueError(
                        f"{csv_path}, line {number}: expected 5 fields, got {line.rstrip()!r}"
                    )
                frames.setdefault(fields[0], []).append(os.path.join(frame_dir, fields[3]))
    if not frames:
        raise ValueError(f"no frames listed in {list(csv_paths)}")
    names = list(frames)
    return names, [frames[name] for name in names]


def _parse_box_row(
    path: str, number: int, line: str, predicted: bool, num_classes: int
) -> tuple[str, int, tuple[float, float, float, float], Optional[int], float]:
    """``(video, second, box, action or None, score)`` of one csv row."""
    fields = [field.strip() for field in line.split(",")]
    if len(fields) not in ((8,) if predicted else (7, 8)):
        want = "8 fields (the score last)" if predicted else "7 or 8 fields"
        raise ValueError(f"{path}, line {number}: expected {want}, got {line.rstrip()!r}")
    try:
        second = int(fields[1])
        box = tuple(float(v) for v in fields[2:6])
        action = int(fields[6]) if fields[6] else None
        score = float(fields[7]) if predicted else 1.0
    except ValueError as error:
        raise ValueError(f"{path}, line {number}: {error} in {line.rstrip()!r}") from None
    if not all(math.isfinite(v) for v in box):
        raise ValueError(f"{path}, line {number}: box coordinates must be finite")
    if action is None and not predicted:
        raise ValueError(f"{path}, line {number}: groundtruth row without an action id")
    if action is not None and not 1 <= action <= num_classes:
        raise ValueError(
            f"{path}, line {number}: action id {action} outside [1, {num_classes}] "
            "(the label map's largest id)"
        )
    return fields[0], second, box, action, score  # type: ignore[return-value]


def read_box_csvs(
    gt_box_csvs: Sequence[str],
    predicted_box_csvs: Sequence[str] = (),
    score_thresh: float = 0.8,
    num_classes: int = 80,
) -> BoxIndex:
    """Boxes and their actions per video and key second, PySlowFast's merge.

    Groundtruth rows add their action to their box (rows with the same coordinates in
    one second are one box). Predicted rows with ``score >= score_thresh`` add their box
    when no box of that second has the same coordinates; their action column is ignored
    (labels come from the groundtruth only, so a detection that is not a groundtruth box
    is a negative). Rows at seconds outside :data:`AVA_VALID_SECONDS` are skipped. Boxes
    keep the order of first appearance (groundtruth files first); actions are sorted.
    """
    index: BoxIndex = {}
    positions: dict[tuple[str, int, tuple[float, ...]], int] = {}
    files = [(p, False) for p in gt_box_csvs] + [(p, True) for p in predicted_box_csvs]
    for path, predicted in files:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                video, second, box, action, score = _parse_box_row(
                    path, number, line, predicted, num_classes
                )
                if second not in AVA_VALID_SECONDS or (predicted and score < score_thresh):
                    continue
                boxes = index.setdefault(video, {}).setdefault(second, [])
                key = (video, second, box)
                if key not in positions:
                    positions[key] = len(boxes)
                    boxes.append((box, []))
                labels = boxes[positions[key]][1]
                if not predicted and action not in labels:
                    labels.append(action)  # type: ignore[arg-type]
    for seconds in index.values():
        for boxes in seconds.values():
            for _, labels in boxes:
                labels.sort()
    return index


class Ava(Dataset):
    """AVA key frames as normalised clips with person boxes and multi-hot actions.

    Each item is a dict:

    * ``inputs``: list per pathway of float (C, T, H, W) clips, normalised with
      ``mean``/``std`` (T = ``num_frames``, or ``num_frames // alpha`` for the Slow
      pathway, as :class:`~mutualnet3d.data.kinetics.Kinetics`);
    * ``boxes``: float (K, 4) ``x1, y1, x2, y2`` in pixels of the returned clip, clipped
      to it (what :class:`~mutualnet3d.models.video.VideoDetector` pools);
    * ``ori_boxes``: float (K, 4) the same boxes as read, normalised to [0, 1] (what the
      evaluation writes, :func:`~mutualnet3d.engine.ava_eval.detections_from_predictions`);
    * ``labels``: float (K, num_classes) multi-hot; action id ``a`` is column ``a - 1``;
      ``num_classes`` is the label map's largest id (80 for AVA v2.2, of which the 60
      listed are evaluated; training uses all 80, as PySlowFast);
    * ``metadata``: int64 (K, 2) ``[video index, second]`` per box;
    * ``index``: the dataset index.

    Boxes: train uses the groundtruth plus predicted boxes scored ``>=
    detection_score_thresh`` (:func:`read_box_csvs`); val and test use the predicted
    boxes when ``predicted_box_csvs`` is given (their labels are all 0), else the
    groundtruth.

    Spatial sampling (PySlowFast's ``ava_dataset``, cv2 backend), boxes transformed with
    the frames:

    * train: short side scaled to a size drawn in ``jitter_scales``, a random
      ``crop_size`` square, a horizontal flip with probability 0.5 if ``random_flip``;
      boxes that leave the crop are clipped to it (possibly to zero area) and kept;
    * val: short side scaled to ``test_crop_size``, centre ``test_crop_size`` square;
    * test: short side scaled to ``test_crop_size``, the whole frame (so people at the
      edges keep their boxes); clips of other aspect ratios differ in width, which
      :func:`ava_collate` pads.

    Boxes are continuous coordinates (pixel ``j`` spans ``[j, j + 1)``): a scale multiplies
    x by new width / old width and y likewise, a crop subtracts its offset, a flip maps
    ``x -> W - x``. (PySlowFast's cv2 code flips to ``W - 1 - x`` and clips to ``W - 1``,
    a legacy of inclusive pixel boxes; here the geometry is exact for RoIAlign with
    ``aligned=True``.)

    Broken frames, as :class:`~mutualnet3d.data.charades.Charades`: a missing, empty or
    corrupt frame file fails its clip with a warning naming it
    (:class:`~mutualnet3d.data.clip_dataset.VideoDecodeWarning`) and is counted in
    :attr:`failures`; train then tries another key frame drawn at random, up to
    ``max_retries`` times, while val/test retry the same key frame (its boxes are
    scored) and then raise ``RuntimeError`` naming the file. ``max_failure_ratio``
    (None: off) raises once more than that fraction of the key frames has failed.

    Randomness: ``seed=None`` draws from torch's global RNG; an int makes each sample's
    draws a function of ``(seed, epoch, index)``, as Kinetics (call :meth:`set_epoch`).
    """

    def __init__(
        self,
        frame_list_csvs: Sequence[str],
        gt_box_csvs: Sequence[str],
        *,
        frame_dir: str,
        predicted_box_csvs: Sequence[str] = (),
        detection_score_thresh: float = 0.8,
        label_map_pbtxt: str,
        mode: str,
        num_frames: int,
        sampling_rate: int,
        jitter_scales: Sequence[int] = (256, 320),
        crop_size: int = 224,
        test_crop_size: int = 224,
        mean: Sequence[float],
        std: Sequence[float],
        random_flip: bool = True,
        alpha: Optional[int] = None,
        fps: int = 30,
        max_retries: int = 10,
        max_failure_ratio: Optional[float] = None,
        seed: Optional[int] = None,
    ) -> None:
        check_clip_arguments(
            mode, num_frames=num_frames, sampling_rate=sampling_rate,
            jitter_scales=jitter_scales, mean=mean, std=std, alpha=alpha,
            max_retries=max_retries,
        )
        if fps < 1:
            raise ValueError(f"fps must be >= 1, got {fps}")
        if mode == "train" and not 0 < crop_size <= jitter_scales[0]:
            raise ValueError(f"crop_size {crop_size} must be in (0, jitter_scales[0]]")
        if test_crop_size < 1:
            raise ValueError(f"test_crop_size must be >= 1, got {test_crop_size}")

        self.mode = mode
        self.categories, self.class_whitelist = read_labelmap(label_map_pbtxt)
        self.num_classes = max(self.class_whitelist)
        self.video_names, self.frame_paths = read_frame_lists(frame_list_csvs, frame_dir)
        if mode == "train":
            boxes = read_box_csvs(
                gt_box_csvs, predicted_box_csvs, detection_score_thresh, self.num_classes
            )
        elif predicted_box_csvs:
            boxes = read_box_csvs(
                (), predicted_box_csvs, detection_score_thresh, self.num_classes
            )
        else:
            boxes = read_box_csvs(gt_box_csvs, (), detection_score_thresh, self.num_classes)
        # One sample per key second with boxes, videos in frame-list order, seconds in
        # increasing order; boxes of videos missing from the frame lists are unused.
        self.samples: list[tuple[int, int]] = []
        self.boxes: list[list[tuple[tuple[float, float, float, float], list[int]]]] = []
        for video, name in enumerate(self.video_names):
            for second, second_boxes in sorted(boxes.get(name, {}).items()):
                if second_boxes:
                    self.samples.append((video, second))
                    self.boxes.append(second_boxes)
        if not self.samples:
            raise ValueError(
                f"{mode}: no key frame of the {len(self.video_names)} listed videos has boxes"
            )
        self.num_frames = num_frames
        self.sampling_rate = sampling_rate
        self.fps = fps
        self.jitter_scales = (int(jitter_scales[0]), int(jitter_scales[1]))
        self.crop_size = crop_size
        self.test_crop_size = test_crop_size
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.random_flip = random_flip
        self.alpha = alpha
        self.max_retries = max_retries
        self.max_failure_ratio = max_failure_ratio
        self.seed = seed
        self.epoch = 0
        self.failures = FailureLog(
            source=", ".join(map(str, frame_list_csvs)), unit="key frames", num_samples=len(self.samples),
            max_ratio=max_failure_ratio, category=VideoDecodeWarning,
        )

    def __len__(self) -> int:
        """Key frames with at least one box."""
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        """Epoch mixed into the per-sample seed (only used when ``seed`` is set)."""
        self.epoch = epoch

    def frame_indices(self, index: int) -> list[int]:
        """Frame-list indices of sample ``index``'s clip (PySlowFast's ``get_sequence``).

        ``num_frames`` indices ``sampling_rate`` apart starting ``num_frames *
        sampling_rate // 2`` before the key frame ``(second - 900) * fps``, clamped to
        ``[0, frames - 1]`` of the video.
        """
        video, second = self.samples[index]
        last = len(self.frame_paths[video]) - 1
        centre = (second - AVA_FIRST_SECOND) * self.fps
        start = centre - self.num_frames * self.sampling_rate // 2
        return [
            min(max(start + k * self.sampling_rate, 0), last) for k in range(self.num_frames)
        ]

    def _spatial(
        self, clip: torch.Tensor, boxes: torch.Tensor, generator: Optional[torch.Generator]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scale, crop and flip a (C, T, H, W) clip and its (K, 4) pixel boxes alike."""
        if self.mode == "train":
            low, high = self.jitter_scales
            size = int(torch.randint(low, high + 1, (), generator=generator))
        else:
            size = self.test_crop_size
        h, w = clip.shape[-2:]
        clip = T.short_side_scale(clip, size)
        new_h, new_w = clip.shape[-2:]
        # Each axis scales by its own ratio, which is what the interpolation did.
        boxes = boxes * boxes.new_tensor([new_w / w, new_h / h, new_w / w, new_h / h])
        if self.mode != "test":
            crop = self.crop_size if self.mode == "train" else self.test_crop_size
            if self.mode == "train":
                # The draws of T.random_crop (y then x), with the offsets kept for the boxes.
                y = int(torch.randint(0, new_h - crop + 1, (), generator=generator))
                x = int(torch.randint(0, new_w - crop + 1, (), generator=generator))
            else:
                # T.center_crop's offsets (rounded up, as PySlowFast).
                y, x = math.ceil((new_h - crop) / 2), math.ceil((new_w - crop) / 2)
            clip = clip[..., y : y + crop, x : x + crop]
            boxes = boxes - boxes.new_tensor([x, y, x, y])
        height, width = clip.shape[-2:]
        if self.mode == "train" and self.random_flip:
            if float(torch.rand((), generator=generator)) < 0.5:
                clip = T.horizontal_flip(clip)
                boxes = torch.stack(
                    [width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], dim=1
                )
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
        return clip, boxes

    @property
    def num_failures(self) -> int:
        """Failed clip loads so far in this process (all files)."""
        return self.failures.attempts

    def _load_clip(self, index: int, generator: Optional[torch.Generator]) -> tuple[int, torch.Tensor]:
        """``(index, uint8 (T, H, W, 3) frames)`` of a loadable sample, retrying as documented."""
        for attempt in range(self.max_retries + 1):
            video, second = self.samples[index]
            paths = self.frame_paths[video]
            try:
                return index, load_frames([paths[i] for i in self.frame_indices(index)])
            except FrameLoadError as error:
                path = error.filename
                subject = f"key frame {self.video_names[video]},{second}"
                self.failures.record(path, index, subject, error)
            if self.mode == "train" and attempt < self.max_retries:
                index = int(torch.randint(len(self), (), generator=generator))
        note = "" if self.mode == "train" else "; evaluated key frames are never replaced"
        raise self.failures.exhausted(self.mode, self.max_retries, path, note)

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        generator = sample_generator(self.seed, self.epoch, index)
        index, frames = self._load_clip(index, generator)
        video, second = self.samples[index]
        clip = T.to_float_clip(frames)
        entries = self.boxes[index]
        ori_boxes = torch.tensor([box for box, _ in entries], dtype=torch.float32)
        h, w = clip.shape[-2:]
        pixels = ori_boxes * ori_boxes.new_tensor([w, h, w, h])
        clip, boxes = self._spatial(clip, pixels, generator)
        # Normalise after cropping: per-channel affine, so it commutes with the resizing.
        clip = T.normalize(clip, self.mean, self.std).contiguous()
        labels = torch.zeros(len(entries), self.num_classes)
        for row, (_, actions) in enumerate(entries):
            labels[row, [a - 1 for a in actions]] = 1.0
        metadata = torch.tensor([[video, second]] * len(entries), dtype=torch.long)
        return {
            "inputs": pack_pathways(clip, self.alpha),
            "boxes": boxes,
            "ori_boxes": ori_boxes,
            "labels": labels,
            "metadata": metadata,
            "index": index,
        }


def ava_collate(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch :class:`Ava` items for :class:`~mutualnet3d.models.video.VideoDetector`.

    Returns ``inputs``: list per pathway of (B, C, T, H, W); ``boxes``: float (N, 5)
    ``[batch index, x1, y1, x2, y2]`` with N the boxes of all samples, in sample order;
    ``ori_boxes``: float (N, 4); ``labels``: float (N, num_classes); ``metadata``: int64
    (N, 2); ``index``: int64 (B,).

    Clips of different heights or widths (test mode keeps each video's aspect ratio) are
    zero-padded at the bottom and right to the largest of the batch: 0 is the mean
    colour after normalisation, and the boxes, measured from the top-left corner, stay
    valid.
    """
    if not samples:
        raise ValueError("cannot collate an empty batch")
    inputs = []
    for pathway in range(len(samples[0]["inputs"])):
        clips = [s["inputs"][pathway] for s in samples]
        height = max(c.shape[-2] for c in clips)
        width = max(c.shape[-1] for c in clips)
        clips = [F.pad(c, (0, width - c.shape[-1], 0, height - c.shape[-2])) for c in clips]
        inputs.append(torch.stack(clips))
    batch_index = torch.cat(
        [torch.full((len(s["boxes"]), 1), float(i)) for i, s in enumerate(samples)]
    )
    return {
        "inputs": inputs,
        "boxes": torch.cat([batch_index, torch.cat([s["boxes"] for s in samples])], dim=1),
        "ori_boxes": torch.cat([s["ori_boxes"] for s in samples]),
        "labels": torch.cat([s["labels"] for s in samples]),
        "metadata": torch.cat([s["metadata"] for s in samples]),
        "index": torch.tensor([int(s["index"]) for s in samples], dtype=torch.long),
    }
