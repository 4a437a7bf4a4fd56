"""AVA's annotation files: the label map, the box csvs' merge per PySlowFast, and the
layout constants; the evaluation reads the label map with the same function."""

from __future__ import annotations

from pathlib import Path

import pytest

from mutualnet3d.data import read_box_csvs, read_labelmap
from mutualnet3d.data.ava_annotations import AVA_FIRST_SECOND, AVA_VALID_SECONDS

from .folders import BOX_A, BOX_B, BOX_C, BOX_D, BOX_E, AvaFolder


def test_layout_constants_are_pyslowfasts() -> None:
    assert AVA_FIRST_SECOND == 900
    assert (AVA_VALID_SECONDS.start, AVA_VALID_SECONDS.stop) == (902, 1799)


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


@pytest.mark.parametrize(
    "text, match",
    [
        ('item { name: "a" }\n', "item without a name or an id"),
        ('item { name: "a" id: 1 }\nitem { name: "b" id: 1 }\n', "class id 1 listed twice"),
        ("nothing here\n", "no 'item"),
    ],
)
def test_bad_label_maps_name_the_file(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "map.pbtxt"
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"map\.pbtxt: {match}"):
        read_labelmap(str(path))
