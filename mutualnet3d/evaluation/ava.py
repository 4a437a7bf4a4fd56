"""Frame-level AVA evaluation: PASCAL VOC AP at IoU 0.5, as ActivityNet's official tool.

The official ``get_ava_performance.py`` (and PySlowFast's copy in ``ava_eval_helper``)
feeds TensorFlow's ``object_detection`` ``PascalDetectionEvaluator``; this module
reimplements the parts AVA uses, in numpy:

* an *image key* is ``"video,%04d" % second`` (a key frame); boxes are normalised
  ``[0, 1]`` coordinates; a box labelled with several actions appears once per action;
* per class and key, detections (highest score first) are matched to the groundtruth
  box of that class they overlap most (IoU); a detection is a true positive when that
  IoU is ``>= iou_threshold`` and the box is not matched yet, else a false positive (it
  does not fall back to its second-best box, as VOC); detections at keys without
  groundtruth are false positives; detections with ``x2 <= x1`` or ``y2 <= y1`` are
  dropped, not counted;
* per class, all detections are ranked by score, precision and recall follow, and AP is
  the VOC area: precision made non-increasing from the right, summed over the recall
  steps (``compute_average_precision``);
* classes without groundtruth have AP NaN and are left out of the mAP; a class with
  groundtruth and no detection has AP 0 and counts.

Boxes in the tables below are stored ``[y1, x1, y2, x2]`` as the official code stores
them (IoU does not care, but tables made by :func:`read_csv` and by
:func:`detections_from_predictions` must agree, so build them with these functions).
"""

from __future__ import annotations

import csv
import heapq
import os
from collections import defaultdict
from typing import NamedTuple, Optional, Sequence, Union

import numpy as np
import torch

from ..data import read_labelmap

__all__ = [
    "AvaEvaluator",
    "BoxTable",
    "detections_from_predictions",
    "evaluate",
    "make_image_key",
    "read_csv",
    "read_exclusions",
    "read_labelmap",
]

PathLike = Union[str, os.PathLike]


class BoxTable(NamedTuple):
    """Boxes of a csv grouped by image key: three dicts with the same keys.

    ``boxes[key]``: list of ``[y1, x1, y2, x2]`` (normalised, the official order);
    ``labels[key]``: list of action ids; ``scores[key]``: list of floats (1.0 for
    groundtruth). Entries of one key are sorted by decreasing score. A tuple, so
    ``boxes, labels, scores = read_csv(...)`` works as with the official code.
    """

    boxes: dict[str, list[list[float]]]
    labels: dict[str, list[int]]
    scores: dict[str, list[float]]


def make_image_key(video_id: str, timestamp: Union[int, str]) -> str:
    """``"video,0902"``: the official key of a key frame (second zero-padded to 4)."""
    return "%s,%04d" % (video_id, int(timestamp))


def read_csv(
    path: PathLike, class_whitelist: Optional[set[int]] = None, capacity: int = 0
) -> BoxTable:
    """Read box rows ``video_id, timestamp, x1, y1, x2, y2, action_id[, score]``.

    Coordinates are normalised to [0, 1]; rows without a score (groundtruth) get 1.0.
    AVA's groundtruth files carry a person id in the 8th column: it is read as a score,
    which :func:`evaluate` ignores for groundtruth, as the official code does.
    Rows whose action is not in ``class_whitelist`` are dropped (``None`` or empty: keep
    all). ``capacity > 0`` keeps only the ``capacity`` highest-scored rows of each key
    (the official tool reads detections with 50). Blank lines are skipped; a row
    without 7 or 8 fields raises ``ValueError`` naming the file and the 1-based line.
    """
    # key -> heap of (score, -line, action, y1, x1, y2, x2)
    entries: dict[str, list[tuple]] = defaultdict(list)
    with open(path, newline="", encoding="utf-8") as f:
        for number, row in enumerate(csv.reader(f), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) not in (7, 8):
                raise ValueError(f"{path}, line {number}: expected 7 or 8 fields, got {row}")
            try:
                key = make_image_key(row[0].strip(), row[1])
                x1, y1, x2, y2 = (float(v) for v in row[2:6])
                action = int(row[6])
                score = float(row[7]) if len(row) == 8 else 1.0
            except ValueError as error:
                raise ValueError(f"{path}, line {number}: {error} in {row}") from None
            if class_whitelist and action not in class_whitelist:
                continue
            # The line number breaks score ties by file order and keeps the heap from
            # comparing further fields.
            item = (score, -number, action, y1, x1, y2, x2)
            heap = entries[key]
            if capacity < 1 or len(heap) < capacity:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)
    table = BoxTable({}, {}, {})
    for key, heap in entries.items():
        ordered = sorted(heap, reverse=True)  # decreasing score, then file order
        table.boxes[key] = [[y1, x1, y2, x2] for _, _, _, y1, x1, y2, x2 in ordered]
        table.labels[key] = [action for _, _, action, *_ in ordered]
        table.scores[key] = [score for score, *_ in ordered]
    return table


def read_exclusions(path: Optional[PathLike]) -> set[str]:
    """Keys (``"video,0902"``) of the ``video_id, timestamp`` rows of an exclusion csv.

    ``None`` gives an empty set. A row without exactly 2 fields raises ``ValueError``.
    """
    excluded: set[str] = set()
    if path is None:
        return excluded
    with open(path, newline="", encoding="utf-8") as f:
        for number, row in enumerate(csv.reader(f), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) != 2:
                raise ValueError(f"{path}, line {number}: expected 2 fields, got {row}")
            excluded.add(make_image_key(row[0].strip(), row[1]))
    return excluded


def detections_from_predictions(
    scores: torch.Tensor,
    boxes: torch.Tensor,
    metadata: torch.Tensor,
    video_names: Sequence[str],
    class_whitelist: Optional[set[int]] = None,
) -> BoxTable:
    """A detection table from a model's scores, PySlowFast's ``get_ava_eval_data``.

    Args:
        scores: (N, C) per-box action scores (probabilities; column ``c`` is action id
            ``c + 1``, AVA ids start at 1).
        boxes: (N, 4) the boxes ``x1, y1, x2, y2`` normalised to [0, 1] as in the csv
            (the data set's ``ori_boxes``), not the crop-pixel boxes fed to the model.
        metadata: (N, 2) ``[video index, second]`` per box.
        video_names: video id of each video index.
        class_whitelist: action ids to keep (``None``: all ``C``).

    Every box yields one detection per kept action, with that action's score.
    """
    scores = torch.as_tensor(scores).detach().cpu().double()
    boxes = torch.as_tensor(boxes).detach().cpu().double()
    metadata = torch.as_tensor(metadata).detach().cpu().long()
    n = scores.shape[0]
    if scores.dim() != 2 or boxes.shape != (n, 4) or metadata.shape != (n, 2):
        raise ValueError(
            "need scores (N, C), boxes (N, 4), metadata (N, 2); got "
            f"{tuple(scores.shape)}, {tuple(boxes.shape)}, {tuple(metadata.shape)}"
        )
    actions = [
        c + 1 for c in range(scores.shape[1]) if not class_whitelist or c + 1 in class_whitelist
    ]
    rows: dict[str, list[tuple[float, int, list[float]]]] = defaultdict(list)
    for i in range(n):
        video, second = metadata[i].tolist()
        key = make_image_key(video_names[video], second)
        x1, y1, x2, y2 = boxes[i].tolist()
        for action in actions:
            rows[key].append((float(scores[i, action - 1]), action, [y1, x1, y2, x2]))
    table = BoxTable({}, {}, {})
    for key, items in rows.items():
        items.sort(key=lambda item: -item[0])  # stable: ties keep their order
        table.boxes[key] = [box for _, _, box in items]
        table.labels[key] = [action for _, action, _ in items]
        table.scores[key] = [score for score, _, _ in items]
    return table


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU (len(a), len(b)) of ``[y1, x1, y2, x2]`` boxes; 0 where the union is empty."""
    ya1, xa1, ya2, xa2 = (a[:, i : i + 1] for i in range(4))
    yb1, xb1, yb2, xb2 = (b[None, :, i] for i in range(4))
    inter_h = np.clip(np.minimum(ya2, yb2) - np.maximum(ya1, yb1), 0.0, None)
    inter_w = np.clip(np.minimum(xa2, xb2) - np.maximum(xa1, xb1), 0.0, None)
    inter = inter_h * inter_w
    union = (ya2 - ya1) * (xa2 - xa1) + (yb2 - yb1) * (xb2 - xb1) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _voc_average_precision(tp: np.ndarray, num_groundtruth: int) -> float:
    """VOC AP of detections already ranked by decreasing score (``tp``: bool per rank)."""
    if tp.size == 0:
        return 0.0
    cum_tp = np.cumsum(tp, dtype=np.float64)
    precision = cum_tp / np.arange(1, tp.size + 1)
    recall = cum_tp / num_groundtruth
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.concatenate([[0.0], precision, [0.0]])
    # Interpolated precision: the best precision at this recall or any higher one.
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * precision[steps]))


def _by_class(
    table: BoxTable, class_ids: Sequence[int], excluded: set[str]
) -> dict[int, dict[str, list[int]]]:
    """class -> key -> positions in the key's lists (kept in the table's order)."""
    index: dict[int, dict[str, list[int]]] = {c: defaultdict(list) for c in class_ids}
    for key, labels in table.labels.items():
        if key in excluded:
            continue
        for position, label in enumerate(labels):
            if label in index:
                index[label][key].append(position)
    return index


def _key_true_positives(
    groundtruth: BoxTable,
    detections: BoxTable,
    key: str,
    gt_positions: Sequence[int],
    positions: Sequence[int],
    iou_threshold: float,
) -> tuple[np.ndarray, np.ndarray]:
    """One class's detections at one key, valid ones by decreasing score: (scores, hits).

    Each goes to the groundtruth box it overlaps most: a hit when that IoU reaches the
    threshold and the box is not matched yet (no fall-back to a second-best box).
    """
    boxes = np.asarray([detections.boxes[key][p] for p in positions], dtype=np.float64)
    scores = np.asarray([detections.scores[key][p] for p in positions], dtype=np.float64)
    valid = (boxes[:, 0] < boxes[:, 2]) & (boxes[:, 1] < boxes[:, 3])
    boxes, scores = boxes[valid], scores[valid]
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    tp = np.zeros(len(scores), dtype=bool)
    if gt_positions and len(scores):
        gt_boxes = np.asarray([groundtruth.boxes[key][p] for p in gt_positions], dtype=np.float64)
        iou = _iou(boxes, gt_boxes)
        matched = np.zeros(len(gt_positions), dtype=bool)
        for i, g in enumerate(iou.argmax(axis=1)):
            if iou[i, g] >= iou_threshold and not matched[g]:
                tp[i] = matched[g] = True
    return scores, tp


def evaluate(
    groundtruth: BoxTable,
    detections: BoxTable,
    categories: Sequence[dict[str, Union[int, str]]],
    excluded_keys: Optional[set[str]] = None,
    iou_threshold: float = 0.5,
) -> dict[str, object]:
    """Frame-level AP per class and their mean (module docstring for the rules).

    Args:
        groundtruth, detections: tables from :func:`read_csv` or
            :func:`detections_from_predictions` (groundtruth scores are ignored).
        categories: the classes evaluated, from :func:`read_labelmap`; boxes of other
            actions are ignored.
        excluded_keys: keys dropped from both tables (:func:`read_exclusions`).
        iou_threshold: a detection needs IoU ``>=`` this with its box (0.5: the
            official ``PascalBoxes_Precision/mAP@0.5IOU``).

    Returns:
        ``{"mAP": float, "per_class": {id: AP}, "num_groundtruth": {id: boxes}}``. AP is
        NaN for classes without groundtruth boxes, which the mAP leaves out; the mAP is
        NaN when no class has any.
    """
    excluded = excluded_keys or set()
    class_ids = [int(c["id"]) for c in categories]
    gt_index = _by_class(groundtruth, class_ids, excluded)
    det_index = _by_class(detections, class_ids, excluded)
    per_class: dict[int, float] = {}
    num_groundtruth: dict[int, int] = {}
    for class_id in class_ids:
        gt_keys = gt_index[class_id]
        num_gt = sum(len(v) for v in gt_keys.values())
        num_groundtruth[class_id] = num_gt
        if num_gt == 0:
            per_class[class_id] = float("nan")
            continue
        ranked = [
            _key_true_positives(
                groundtruth, detections, key, gt_keys.get(key, []), positions, iou_threshold
            )
            for key, positions in det_index[class_id].items()
        ]
        tp = np.zeros(0, dtype=bool)
        if ranked:
            scores = np.concatenate([scores for scores, _ in ranked])
            tp = np.concatenate([hits for _, hits in ranked])[np.argsort(-scores, kind="stable")]
        per_class[class_id] = _voc_average_precision(tp, num_gt)
    aps = [ap for ap in per_class.values() if not np.isnan(ap)]
    mean_ap = float(np.mean(aps)) if aps else float("nan")
    return {"mAP": mean_ap, "per_class": per_class, "num_groundtruth": num_groundtruth}


class AvaEvaluator:
    """The frame-level mAP of a model's box scores on one AVA split.

    Reads the label map (classes evaluated), the groundtruth csv (kept to those classes)
    and the excluded timestamps once; each call scores a set of predictions as
    PySlowFast's ``evaluate_ava`` does.

    Args:
        groundtruth_csv: the split's groundtruth boxes (AVA.GROUNDTRUTH_FILE).
        label_map_pbtxt: the label map (AVA.LABEL_MAP_FILE).
        exclusion_csv: excluded timestamps (AVA.EXCLUSION_FILE), or None.
        video_names: video id of each video index of the predictions' metadata (the
            data set's ``video_names``).
    """

    def __init__(
        self,
        groundtruth_csv: PathLike,
        label_map_pbtxt: PathLike,
        exclusion_csv: Optional[PathLike],
        video_names: Sequence[str],
    ) -> None:
        self.categories, self.class_whitelist = read_labelmap(label_map_pbtxt)
        self.groundtruth = read_csv(groundtruth_csv, self.class_whitelist)
        self.excluded = read_exclusions(exclusion_csv)
        self.video_names = list(video_names)

    def __call__(
        self, scores: torch.Tensor, boxes: torch.Tensor, metadata: torch.Tensor
    ) -> dict[str, object]:
        """:func:`evaluate` of box scores (N, C), normalised boxes (N, 4), metadata (N, 2)."""
        detections = detections_from_predictions(
            scores, boxes, metadata, self.video_names, self.class_whitelist
        )
        return evaluate(self.groundtruth, detections, self.categories, self.excluded)
