"""AVA's annotations: the label map, the box csvs and the constants of its layout.

Layout (PySlowFast's ``slowfast/datasets/DATASET.md``):

* frames: ``FRAME_DIR/<video>/<video>_%06d.jpg``, numbered from 1, 30 fps, starting at
  second 900 of each movie (frame list index ``i`` is at ``900 + i / fps`` s), listed in
  PySlowFast's frame lists (:mod:`~mutualnet3d.data.frame_lists`);
* boxes: ``video_id,second,x1,y1,x2,y2,action_id[,x]`` rows, coordinates normalised to
  [0, 1]; one row per (box, action). Groundtruth files carry a person id as ``x``;
  predicted-box files an empty action and the detector's score as ``x``;
* label map: a pbtxt of the action classes (:func:`read_labelmap`).

The data set (:mod:`~mutualnet3d.data.ava`) and the evaluation
(:mod:`mutualnet3d.evaluation.ava`) both read the label map from here.
"""

from __future__ import annotations

import math
import os
import re
from typing import Optional, Sequence, Union

from .annotations import read_lines, read_text

__all__ = [
    "AVA_FIRST_SECOND",
    "AVA_VALID_SECONDS",
    "BoxIndex",
    "read_box_csvs",
    "read_labelmap",
]

#: the second of each movie that frame list index 0 shows (AVA cuts 15:00-30:00)
AVA_FIRST_SECOND = 900
#: key frames with annotations (PySlowFast's ``AVA_VALID_FRAMES``)
AVA_VALID_SECONDS = range(902, 1799)

#: video -> second -> list of (box (x1, y1, x2, y2) normalised, sorted action ids)
BoxIndex = dict[str, dict[int, list[tuple[tuple[float, float, float, float], list[int]]]]]
PathLike = Union[str, os.PathLike]


_ITEM = re.compile(r"\b(?:item|label)\s*\{(.*?)\}", re.S)
_NAME = re.compile(r'\bname\s*:\s*"((?:[^"\\]|\\.)*)"')
_ID = re.compile(r"\b(?:label_)?id\s*:\s*(-?\d+)")


def read_labelmap(pbtxt_path: PathLike) -> tuple[list[dict[str, Union[int, str]]], set[int]]:
    """Parse a label map: ``(categories, class ids)``.

    ``categories`` lists ``{"id": int, "name": str}`` in file order; the pbtxt holds
    ``item { name: "..." id: N }`` blocks (``ava_action_list_v2.2_for_activitynet_2019
    .pbtxt``: 60 of the 80 ids) or, as the full ``ava_action_list_v2.2.pbtxt``,
    ``label { name: "..." label_id: N label_type: ... }`` blocks; ``label_id`` is read as
    ``id`` as the official reader does; line breaks and indentation do not matter.
    ``ValueError`` on a block without a name or an id, a repeated id, or no block.
    """
    text = read_text(pbtxt_path)
    categories: list[dict[str, Union[int, str]]] = []
    class_ids: set[int] = set()
    for block in _ITEM.findall(text):
        name, number = _NAME.search(block), _ID.search(block)
        if name is None or number is None:
            raise ValueError(f"{pbtxt_path}: item without a name or an id: {block.strip()!r}")
        class_id = int(number.group(1))
        if class_id in class_ids:
            raise ValueError(f"{pbtxt_path}: class id {class_id} listed twice")
        categories.append({"id": class_id, "name": name.group(1)})
        class_ids.add(class_id)
    if not categories:
        raise ValueError(f"{pbtxt_path}: no 'item {{ name: ... id: ... }}' block found")
    return categories, class_ids


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
        for number, line in read_lines(path):
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
