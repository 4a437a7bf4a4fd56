"""Frame-level AVA evaluation (PASCAL VOC AP at IoU 0.5) against hand-computed
fixtures, and the AVA data set's predictions round-tripped through it."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mutualnet3d.data import Ava, ClipSampling, Normalization, SpatialSampling, ava_collate
from mutualnet3d.evaluation.ava import (
    BoxTable,
    detections_from_predictions,
    evaluate,
    make_image_key,
    read_csv,
    read_exclusions,
    read_labelmap,
)
from tests.data.folders import GT_ROWS, AvaFolder, fmt


def make(ava: AvaFolder, split: str) -> Ava:
    """The tiny AVA set (4 frames 2 apart, 24 px val crops, two pathways)."""
    return Ava(
        [ava.frame_list],
        [ava.gt],
        split,
        frame_dir=str(ava.frame_dir),
        label_map_pbtxt=ava.label_map,
        sampling=ClipSampling(4, 2),
        spatial=SpatialSampling((24, 32), 20, 24),
        normalization=Normalization((0.45, 0.45, 0.45), (0.225, 0.225, 0.225)),
        alpha=2,
    )


def table(tmp_path: Path, name: str, rows: list[tuple], whitelist=None) -> BoxTable:
    """Write csv rows (video, second, x1, y1, x2, y2, action[, score]) and read them."""
    path = tmp_path / name
    path.write_text("".join(",".join(str(v) for v in row) + "\n" for row in rows))
    return read_csv(str(path), whitelist)


CATEGORIES = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 4, "name": "d"}]


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
    det = table(
        tmp_path,
        "det.csv",
        [
            ("v", 902, 0.0, 0.0, 0.5, 0.5, 1, 0.9),  # = G1: TP
            ("v", 902, 0.0, 0.6, 0.4, 1.0, 1, 0.8),  # overlaps nothing: FP
            # G2 = (.5, .5, 1, 1), area .25; this box has area .125 inside it: IoU .5, TP.
            ("v", 902, 0.5, 0.5, 1.0, 0.75, 1, 0.7),
        ],
    )
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
    det = table(
        tmp_path,
        "det.csv",
        [
            ("v", 902, 0.0, 0, 0.2, 1, 1, 0.9),  # TP
            ("w", 902, 0.0, 0, 0.2, 1, 1, 0.8),  # FP (no groundtruth at w,0902)
            ("v", 902, 0.4, 0, 0.6, 1, 1, 0.7),  # TP
            ("v", 902, 0.8, 0, 1.0, 1, 1, 0.6),  # TP
        ],
    )
    # precision 1, 1/2, 2/3, 3/4 at recall 1/3, 1/3, 2/3, 1. At recall 2/3 the
    # interpolated precision is 3/4 (reached later), not 2/3:
    # AP = 1/3 * 1 + 1/3 * 3/4 + 1/3 * 3/4 = 5/6 (uninterpolated: 29/36).
    assert evaluate(gt, det, CATEGORIES, set())["per_class"][1] == pytest.approx(5 / 6)


def test_duplicate_detection_is_a_false_positive(tmp_path: Path) -> None:
    gt = table(tmp_path, "gt.csv", [("v", 902, 0, 0, 0.5, 0.5, 1), ("w", 902, 0, 0, 0.5, 0.5, 1)])
    det = table(
        tmp_path,
        "det.csv",
        [
            ("v", 902, 0.0, 0.0, 0.5, 0.5, 1, 0.9),  # TP
            ("v", 902, 0.0, 0.0, 0.45, 0.45, 1, 0.8),  # IoU .81 with the same box: FP
            ("w", 902, 0.0, 0.0, 0.5, 0.5, 1, 0.7),  # TP at the other key
        ],
    )
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
    det = table(
        tmp_path,
        "det.csv",
        [
            ("v", 902, 0.0, 0.0, 0.4, 1.0, 1, 0.9),
            ("v", 902, 0.04, 0.0, 0.44, 1.0, 1, 0.8),
            ("v", 902, 0.1, 0.0, 0.5, 1.0, 1, 0.7),
        ],
    )
    # TP, FP, TP -> 5/6 (matching D2 to G2 would give TP, TP, FP -> 1).
    assert evaluate(gt, det, CATEGORIES, set())["per_class"][1] == pytest.approx(5 / 6)


def test_map_skips_classes_without_groundtruth(tmp_path: Path) -> None:
    gt = table(
        tmp_path,
        "gt.csv",
        GT_TWO
        + [
            ("v", 903, 0.2, 0.2, 0.4, 0.4, 4),  # class 4: groundtruth, never detected
            ("v", 903, 0.2, 0.2, 0.4, 0.4, 3),  # class 3 is not a category: ignored
        ],
    )
    det = table(
        tmp_path,
        "det.csv",
        [
            ("v", 902, 0.0, 0.0, 0.5, 0.5, 1, 0.9),
            ("v", 902, 0.0, 0.6, 0.4, 1.0, 1, 0.8),
            ("v", 902, 0.5, 0.5, 1.0, 0.75, 1, 0.7),
            ("v", 902, 0.0, 0.0, 0.5, 0.5, 2, 0.9),  # class 2: detections, no groundtruth
        ],
    )
    result = evaluate(gt, det, CATEGORIES, set())
    assert math.isnan(result["per_class"][2])
    assert result["per_class"][4] == 0.0
    assert set(result["per_class"]) == {1, 2, 4}
    assert result["mAP"] == pytest.approx((5 / 6 + 0.0) / 2)


def test_excluded_keys_drop_groundtruth_and_detections(tmp_path: Path) -> None:
    gt = table(tmp_path, "gt.csv", [("v", 902, 0, 0, 0.5, 0.5, 1), ("v", 903, 0, 0, 0.5, 0.5, 1)])
    det = table(
        tmp_path,
        "det.csv",
        [
            ("v", 902, 0.0, 0.0, 0.5, 0.5, 1, 0.9),  # TP
            ("v", 903, 0.6, 0.6, 1.0, 1.0, 1, 0.95),  # FP, ranked first
        ],
    )
    # FP then TP: precision 0, 1/2 at recall 0, 1/2 -> AP = 1/2 * 1/2 = 1/4.
    assert evaluate(gt, det, CATEGORIES, set())["per_class"][1] == pytest.approx(0.25)
    result = evaluate(gt, det, CATEGORIES, {"v,0903"})
    assert result["per_class"][1] == pytest.approx(1.0)
    assert result["num_groundtruth"][1] == 1


def test_detections_at_keys_without_groundtruth_count_and_invalid_boxes_do_not(
    tmp_path: Path,
) -> None:
    gt = table(tmp_path, "gt.csv", [("v", 902, 0, 0, 0.5, 0.5, 1)])
    det = table(
        tmp_path,
        "det.csv",
        [
            ("v", 902, 0.0, 0.0, 0.5, 0.5, 1, 0.9),
            ("u", 902, 0.0, 0.0, 0.5, 0.5, 1, 0.95),  # no groundtruth at u,0902: FP
        ],
    )
    assert evaluate(gt, det, CATEGORIES, set())["per_class"][1] == pytest.approx(0.5)
    det = table(
        tmp_path,
        "det.csv",
        [
            ("v", 902, 0.0, 0.0, 0.5, 0.5, 1, 0.9),
            ("v", 902, 0.3, 0.0, 0.3, 0.5, 1, 0.95),  # zero width: dropped, as officially
        ],
    )
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


def test_the_evaluation_reads_the_label_map_of_the_data_package() -> None:
    from mutualnet3d.data.ava_annotations import read_labelmap as data_reader

    assert read_labelmap is data_reader
