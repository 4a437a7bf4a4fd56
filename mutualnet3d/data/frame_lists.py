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
        labels = (-1,)
    if any(not 0 <= label < num_classes for label in labels):
        raise ValueError(
            f"{csv_path}, line {number}: labels must be integers in [0, {num_classes}) "
            f"separated by commas, got {field!r}"
        )
    return labels


def read_frame_lists(
    csv_paths: Union[str, Sequence[str]],
    *,
    prefix: str = "",
    num_classes: Optional[int] = None,
) -> FrameLists:
    """Parse one frame list or several (their videos merged by name).

    Frame paths are ``os.path.join(prefix, path)`` (as written when ``prefix`` is "").
    Labels are parsed when ``num_classes`` is given, else ``labels`` is None and the
    field is not read. Each file must start with :data:`FRAME_LIST_HEADER`; blank lines
    are skipped; fields are split on any run of whitespace (PySlowFast's ``split()``).
    A missing header, a row without exactly 5 fields, or (with ``num_classes``) a label
    that is not an integer in ``[0, num_classes)`` raises ``ValueError`` naming the file
    and the 1-based line; so does a list of no frames at all.
    """
    paths = [csv_paths] if isinstance(csv_paths, str) else list(csv_paths)
    videos: dict[str, tuple[list[str], list[tuple[int, ...]]]] = {}
    for csv_path in paths:
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
    names = list(videos)
    return FrameLists(
        names,
        [videos[n][0] for n in names],
        None if num_classes is None else [videos[n][1] for n in names],
    )
