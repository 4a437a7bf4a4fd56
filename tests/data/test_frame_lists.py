"""PySlowFast's frame lists: the one reader of Charades' and AVA's csvs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mutualnet3d.data import (
    FRAME_LIST_HEADER,
    Ava,
    Charades,
    ClipSampling,
    Normalization,
    read_frame_lists,
)
from mutualnet3d.data import ava as ava_module
from mutualnet3d.data import charades as charades_module
from mutualnet3d.data import frame_lists

from .folders import CHARADES_CLASSES as NUM_CLASSES
from .folders import HEADER

NORM = Normalization((0.45, 0.45, 0.45), (0.225, 0.225, 0.225))


def test_header_is_pyslowfasts() -> None:
    assert HEADER.split() == list(FRAME_LIST_HEADER)


# --------------------------------------------------------------------------------------
# Charades' use: one file, labels per frame
# --------------------------------------------------------------------------------------
def test_rows_are_grouped_by_video_in_file_order(tmp_path: Path) -> None:
    # Rows of two videos interleaved, runs of spaces, a blank line, an empty label list.
    csv = tmp_path / "list.csv"
    csv.write_text(
        HEADER
        + 'b 1 0 b/1.jpg "3"\n'
        + 'a 0 0 a/1.jpg ""\n'
        + "\n"
        + 'b 1 1 b/2.jpg   "1,0,1"\n'
        + 'a 0 1 a/2.jpg "4"\n'
        + "b 1 2 b/3.jpg 2\n"  # unquoted: PySlowFast strips quotes, so it accepts this
    )
    names, paths, labels = read_frame_lists(str(csv), num_classes=NUM_CLASSES)
    assert names == ["b", "a"]  # order of first appearance
    assert paths == [["b/1.jpg", "b/2.jpg", "b/3.jpg"], ["a/1.jpg", "a/2.jpg"]]
    assert labels == [[(3,), (0, 1), (2,)], [(), (4,)]]


@pytest.mark.parametrize(
    "body, line, match",
    [
        ('a 0 0 a/1.jpg ""\na 0 a/2.jpg ""\n', 3, "expected 5 fields"),
        ('a 0 0 a/1.jpg ""\na 0 1 a/2.jpg "1,x"\n', 3, "labels must be integers"),
        ('a 0 0 a/1.jpg "5"\n', 2, r"label 5 outside \[0, 5\)"),  # class 5 of 5 classes
        ('a 0 0 a/1.jpg "-1"\n', 2, r"label -1 outside \[0, 5\)"),
        ('a 0 0 a/1.jpg "" extra\n', 2, "got 6"),
    ],
)
def test_malformed_rows_name_file_and_line(
    tmp_path: Path, body: str, line: int, match: str
) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text(HEADER + body)
    with pytest.raises(ValueError, match=rf"bad\.csv, line {line}: .*{match}"):
        read_frame_lists(str(csv), num_classes=NUM_CLASSES)


def test_missing_header_or_rows_raise(tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text('a 0 0 a/1.jpg ""\n')
    with pytest.raises(ValueError, match=r"bad\.csv, line 1: expected the header"):
        read_frame_lists(str(csv), num_classes=NUM_CLASSES)
    csv.write_text(HEADER + "\n")
    with pytest.raises(ValueError, match="no frames listed"):
        read_frame_lists(str(csv), num_classes=NUM_CLASSES)


# --------------------------------------------------------------------------------------
# AVA's use: several files joined to the frame folder, labels unread
# --------------------------------------------------------------------------------------
def test_frame_lists_group_frames_by_video(ava) -> None:
    names, paths, labels = read_frame_lists([ava.frame_list], prefix="/data")
    assert names == ["vidA", "vidB"]
    assert [len(p) for p in paths] == [120, 91]
    assert paths[0][60] == "/data/vidA/vidA_000061.jpg"  # index 0 is file 1
    assert labels is None  # not parsed without num_classes


def test_frame_list_without_header_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "list.csv"
    bad.write_text('vidA 0 0 vidA/vidA_000001.jpg ""\n')
    with pytest.raises(ValueError, match="line 1: expected the header"):
        read_frame_lists([str(bad)])


def test_several_lists_merge_videos_by_name_in_order(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(HEADER + 'x 0 0 x/1.jpg ""\ny 1 0 y/1.jpg ""\n')
    second.write_text(HEADER + 'z 2 0 z/1.jpg ""\nx 0 1 x/2.jpg ""\n')
    lists = read_frame_lists([str(first), str(second)], prefix="root")
    assert lists.names == ["x", "y", "z"]
    assert lists.paths == [["root/x/1.jpg", "root/x/2.jpg"], ["root/y/1.jpg"], ["root/z/1.jpg"]]
    # Labels without num_classes are not read, so AVA's lists need no valid ones.
    second.write_text(HEADER + 'z 2 0 z/1.jpg "not,labels"\n')
    assert read_frame_lists([str(second)]).paths == [["z/1.jpg"]]
    with pytest.raises(ValueError, match=r"b\.csv, line 2: labels must be integers"):
        read_frame_lists([str(second)], num_classes=3)
    # Each file needs its header; the error names the file that lacks it.
    second.write_text('z 2 0 z/1.jpg ""\n')
    with pytest.raises(ValueError, match=r"b\.csv, line 1: expected the header"):
        read_frame_lists([str(first), str(second)])
    with pytest.raises(ValueError, match="no frames listed"):
        first.write_text(HEADER)
        read_frame_lists([str(first)])


# --------------------------------------------------------------------------------------
# Both data sets read with it
# --------------------------------------------------------------------------------------
def test_charades_and_ava_use_the_one_reader(tmp_path: Path, ava) -> None:
    assert charades_module.read_frame_lists is frame_lists.read_frame_lists
    assert ava_module.read_frame_lists is frame_lists.read_frame_lists
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + 'vidA 0 0 vidA/vidA_000001.jpg ""\nvidA 0 vidA/vidA_000002.jpg\n')
    expected = rf"bad\.csv, line 3: expected 5 fields \({' '.join(FRAME_LIST_HEADER)}\), got 3"
    with pytest.raises(ValueError, match=expected):
        Charades(str(bad), "train", sampling=ClipSampling(4, 2), normalization=NORM,
                 num_classes=NUM_CLASSES)
    with pytest.raises(ValueError, match=expected):
        Ava([str(bad)], [ava.gt], "val", frame_dir=str(ava.frame_dir),
            label_map_pbtxt=ava.label_map, sampling=ClipSampling(4, 2), normalization=NORM)
