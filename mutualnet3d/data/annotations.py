"""What every annotation file reader shares: UTF-8 lines named where they fail, and
duplicate rows said (or refused).

PySlowFast reads its csvs with Python's default decoding, so bytes that are not UTF-8
give a bare ``UnicodeDecodeError``; here they raise ``ValueError`` naming the file, the
line and the byte offset. A row listed twice is kept, as PySlowFast keeps it (it then
counts twice: in the epoch, in the scores), and said once per file with the count, or
refused when duplicates are not allowed (DATA.ALLOW_DUPLICATES False).
"""

from __future__ import annotations

import os
import warnings
from typing import Iterator, Union

__all__ = ["AnnotationWarning", "check_duplicates", "read_lines", "read_text"]

PathLike = Union[str, "os.PathLike[str]"]


class AnnotationWarning(UserWarning):
    """An annotation file holds what PySlowFast accepts but is probably a mistake: rows
    listed more than once (kept as they are)."""


def _not_utf8(path: PathLike, number: int, raw: bytes, at: int, offset: int) -> ValueError:
    return ValueError(
        f"{os.fspath(path)}, line {number}: not UTF-8 (byte {raw[at]:#04x} at offset "
        f"{offset + at}); save the file as UTF-8"
    )


def read_lines(path: PathLike) -> Iterator[tuple[int, str]]:
    """``(1-based line number, line)`` for each line of a UTF-8 text file, line ends kept.

    Decoded line by line, so a bad byte is named with its line and its offset in the
    file (``ValueError``) without reading the whole file into memory first.
    """
    offset = 0
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise _not_utf8(path, number, raw, error.start, offset) from None
            offset += len(raw)


def read_text(path: PathLike) -> str:
    """The whole of a UTF-8 text file; ``ValueError`` naming line and offset otherwise."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        number = raw.count(b"\n", 0, error.start) + 1
        raise _not_utf8(path, number, raw, error.start, 0) from None


def check_duplicates(
    path: PathLike, count: int, first: int, what: str, allow: bool, stacklevel: int = 3
) -> None:
    """Say the ``count`` duplicate rows of file ``path`` (nothing when 0), ``first`` the
    line of the first: an :class:`AnnotationWarning` when ``allow`` (the rows are kept),
    else ``ValueError``. ``what`` says what repeats ("the same path and label")."""
    if not count:
        return
    path = os.fspath(path)
    if not allow:
        raise ValueError(
            f"{path}, line {first}: duplicate row ({what} as an earlier line); "
            f"{count} in the file, refused (DATA.ALLOW_DUPLICATES False)"
        )
    warnings.warn(
        f"{path}: {count} duplicate row(s) ({what} as an earlier line; first at line "
        f"{first}), kept as PySlowFast keeps them: they count twice",
        AnnotationWarning,
        stacklevel=stacklevel,
    )
