"""PySlowFast's frame lists: one JPEG frame per row, grouped into videos.

Charades and AVA ship their frames as image files listed in space-separated csvs with
one header line::

    original_vido_id video_id frame_id path labels
    46GP8 0 0 46GP8/46GP8-000001.jpg ""
    46GP8 0 1 46GP8/46GP8-000002.jpg "12,101"

Rows are grouped into videos by ``original_vido_id`` (videos in order of first
appearance over all files, frames in file order, as PySlowFast's ``load_image_lists``);
``labels`` is the quoted, comma-separated list of the frame's class ids, possibly empty
(Charades'; AVA's lists leave it empty and read labels from box files).
"""

from __future__ import annotations

import os
from typing import NamedTuple, Optional, Sequence, Union

from .annotations import check_duplicates, read_lines

__all__ = ["FRAME_LIST_HEADER", "FrameLists", "read_frame_lists"]

#: the header PySlowFast's frame lists start with ("vido" is their spelling)
FRAME_LIST_HEADER = ("original_vido_id", "video_id", "frame_id", "path", "labels")


class FrameLists(NamedTuple):
    """Videos of frame lists: ``names``, and per video its frame ``paths`` and, when
    read, its frame ``labels`` (a sorted tuple of class ids per frame; else None)."""

    names: list[str]
    paths: list[list[str]]
    labels: Optional[list[list[tuple[int, ...]]]]


def _parse_labels(csv_path: str, number: int, field: str, num_classes: int) -> tuple[int, ...]:
    """The sorted class ids of a ``labels`` field (quotes optional, as PySlowFast strips
    them); ``ValueError`` naming the file and line unless all are in [0, num_classes)."""
    text = field.replace('"', "")
    try:
        labels = tuple(sorted({int(x) for x in text.split(",")})) if text else ()
    except ValueError:
        raise ValueError(
            f"{csv_path}, line {number}: labels must be integers in [0, {num_classes}) "
            f"separated by commas, got {field!r}"
        ) from None
    outside = [label for label in labels if not 0 <= label < num_classes]
    if outside:
        raise ValueError(
            f"{csv_path}, line {number}: label {outside[0]} outside [0, {num_classes}) in "
            f"{field!r}: the network has {num_classes} classes (MODEL.NUM_CLASSES)"
        )
    return labels


def read_frame_lists(
    csv_paths: Union[str, Sequence[str]],
    *,
    prefix: str = "",
    num_classes: Optional[int] = None,
    allow_duplicates: bool = True,
) -> FrameLists:
    """Parse one frame list or several (their videos merged by name).

    Frame paths are ``os.path.join(prefix, path)`` (as written when ``prefix`` is "").
    Labels are parsed when ``num_classes`` is given, else ``labels`` is None and the
    field is not read. Each file must start with :data:`FRAME_LIST_HEADER`; blank lines
    are skipped; fields are split on any run of whitespace (PySlowFast's ``split()``).
    A missing header, a row without exactly 5 fields, bytes that are not UTF-8, or (with
    ``num_classes``) a label that is not an integer in ``[0, num_classes)`` raises
    ``ValueError`` naming the file and the 1-based line; so does a list of no frames at
    all. A frame listed again for its video is kept, as PySlowFast keeps it (the video
    then shows it twice), and warned once per file with the count
    (:func:`~mutualnet3d.data.annotations.check_duplicates`); ``allow_duplicates``
    False refuses it.
    """
    paths = [csv_paths] if isinstance(csv_paths, str) else list(csv_paths)
    videos: dict[str, tuple[list[str], list[tuple[int, ...]]]] = {}
    for csv_path in paths:
        for number, line in read_lines(csv_path):
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
                    f"{csv_path}, line {number}: expected 5 fields "
                    f"({' '.join(FRAME_LIST_HEADER)}), got {len(fields)}: {line.rstrip()!r}"
                )
            name, _, _, path, labels = fields
            frames, per_frame = videos.setdefault(name, ([], []))
            frames.append(os.path.join(prefix, path))
            if num_classes is not None:
                per_frame.append(_parse_labels(csv_path, number, labels, num_classes))
    if not videos:
        raise ValueError(f"{', '.join(map(str, paths))}: no frames listed")
    _check_duplicate_frames(paths, videos, prefix, allow_duplicates)
    names = list(videos)
    return FrameLists(
        names,
        [videos[n][0] for n in names],
        None if num_classes is None else [videos[n][1] for n in names],
    )


def _check_duplicate_frames(
    paths: list[str], videos: dict[str, tuple[list[str], list]], prefix: str, allow: bool
) -> None:
    """Say the rows that list a frame of a video again, per file.

    Charades' lists hold millions of rows: each video's frames are checked alone, and
    only where some repeat are the files read again to find the rows (and their lines).
    """
    repeated = {name for name, (frames, _) in videos.items() if len(set(frames)) < len(frames)}
    if not repeated:
        return
    seen: dict[str, set[str]] = {name: set() for name in repeated}
    for csv_path in paths:
        count, first = 0, 0
        for number, line in read_lines(csv_path):
            fields = line.split()
            if number == 1 or len(fields) != 5 or fields[0] not in seen:
                continue
            frame = os.path.join(prefix, fields[3])
            if frame in seen[fields[0]]:
                count, first = count + 1, first or number
            seen[fields[0]].add(frame)
        check_duplicates(
            csv_path, count, first, "the same video and frame path", allow, stacklevel=4
        )
