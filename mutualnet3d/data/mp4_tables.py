"""The sample tables of an MP4/MOV video track, read with numpy.

FFmpeg builds the index of an MP4 track from the track's sample tables, one entry per
sample, and PyAV hands that index out one Python object per entry: at 18,000 samples
(10 minutes at 30 fps) listing and scanning it cost about 5 ms per clip, a fifth of the
clip's whole cost. The same facts read here from the file's ``moov`` box cost a fraction
of a millisecond.

:func:`read_track` returns a track's samples (sizes, byte offsets, decode times, sync
samples) only when every sample is a frame FFmpeg's index keeps as it is: none empty
(0 bytes), none that an edit list makes FFmpeg discard, none past the end of the file,
and no table FFmpeg reads in a way not followed here (fragments, partial sync samples,
sample groups, compact sizes). Anything else raises :class:`NotPlain` naming why; the
caller then scans FFmpeg's index entry by entry. The decoder also checks a few of
FFmpeg's own entries against the result before using it (``decoder._plain_scan``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO, Iterator

import numpy as np

__all__ = ["NotPlain", "Track", "read_track"]

# Tables that make FFmpeg flag keyframes beyond the sync-sample table (partial sync
# samples, sample-to-group "rap " and "sync" groups), compact sizes, fragments.
_UNFOLLOWED = (b"stps", b"sbgp", b"stz2", b"mvex")
# FFmpeg drops a sample above this size (the index keeps 30 bits) and ignores a ctts
# whose offsets reach 2**28.
_MAX_SAMPLE_SIZE = 0x3FFFFFFF
_MAX_CTTS_OFFSET = 1 << 28


class NotPlain(Exception):
    """The track's index cannot be read from its tables alone; the message says why."""


@dataclass(frozen=True)
class Track:
    """A track's samples in decode order (int64 arrays, one value per sample).

    ``dts`` are decode times in the media time scale from 0 (FFmpeg's index shifts them
    all by one constant), ``pos`` and ``sizes`` the bytes, ``keys`` the 0-based numbers
    of the sync samples (every sample where the track has no sync-sample table).
    """

    dts: np.ndarray
    pos: np.ndarray
    sizes: np.ndarray
    keys: np.ndarray
    time_scale: int


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """``(type, body start, end)`` of each box in ``data[start:end]``."""
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        head = 8
        if size == 1 and at + 16 <= end:
            size, head = struct.unpack_from(">Q", data, at + 8)[0], 16
        elif size == 0:
            size = end - at
        if size < head or at + size > end:
            raise NotPlain(f"box {kind!r} overruns its parent")
        yield kind, at + head, at + size
        at += size


def _inside(data: bytes, span: tuple[int, int]) -> dict[bytes, list[tuple[int, int]]]:
    """The boxes directly inside ``data[span]``, by type, each as ``(body start, end)``."""
    found: dict[bytes, list[tuple[int, int]]] = {}
    for kind, body, end in _boxes(data, *span):
        found.setdefault(kind, []).append((body, end))
    return found


def _read_moov(f: BinaryIO, file_size: int) -> bytes:
    """The ``moov`` box's body, found by walking the file's top-level boxes."""
    at = 0
    while at + 8 <= file_size:
        f.seek(at)
        head = f.read(16)
        size, kind = struct.unpack_from(">I4s", head)
        skip = 8
        if size == 1 and len(head) == 16:
            size, skip = struct.unpack_from(">Q", head, 8)[0], 16
        elif size == 0:
            size = file_size - at
        if kind == b"moof":
            raise NotPlain("fragmented file")
        if size < skip or at + size > file_size:
            raise NotPlain(f"top-level box {kind!r} ends past the end of the file")
        if kind == b"moov":
            f.seek(at + skip)
            return f.read(size - skip)
        at += size
    raise NotPlain("no moov box")


def _table(data: bytes, span: tuple[int, int], skip: int, width: int, dtype: str) -> np.ndarray:
    """A full box's table: its entry count (after ``skip`` bytes of fields), then
    ``count`` rows of ``width`` values of ``dtype``."""
    body, end = span
    at = body + 4 + skip  # version and flags, then the fields before the count
    (count,) = struct.unpack_from(">I", data, at)
    item = np.dtype(dtype).itemsize
    if at + 4 + count * width * item > end:
        raise NotPlain("table longer than its box")
    return np.frombuffer(data, dtype, count * width, at + 4).reshape(count, width).astype(np.int64)


def _one(boxes: dict, kind: bytes) -> tuple[int, int]:
    """The span of the single ``kind`` box among ``boxes`` (FFmpeg reads a duplicate)."""
    spans = boxes.get(kind, [])
    if len(spans) != 1:
        raise NotPlain(f"{len(spans)} {kind.decode()} boxes")
    return spans[0]


def _time_scale(data: bytes, span: tuple[int, int]) -> int:
    """The time scale of an ``mvhd`` or ``mdhd`` box."""
    version = data[span[0]]
    return struct.unpack_from(">I", data, span[0] + (20 if version == 1 else 12))[0]


def _find_trak(data: bytes, moov: dict, track_id: int) -> tuple[dict, dict, dict]:
    """The boxes inside the ``trak``, ``mdia`` and ``stbl`` of the video track whose
    ``tkhd`` holds ``track_id``."""
    for span in moov.get(b"trak", []):
        trak = _inside(data, span)
        tkhd = _one(trak, b"tkhd")
        version = data[tkhd[0]]
        (found,) = struct.unpack_from(">I", data, tkhd[0] + (20 if version == 1 else 12))
        if found != track_id:
            continue
        mdia = _inside(data, _one(trak, b"mdia"))
        hdlr = _one(mdia, b"hdlr")
        if data[hdlr[0] + 8 : hdlr[0] + 12] != b"vide":
            raise NotPlain("not a video track")
        stbl = _inside(data, _one(_inside(data, _one(mdia, b"minf")), b"stbl"))
        return trak, mdia, stbl
    raise NotPlain(f"no track {track_id}")


def _decode_times(data: bytes, stbl: dict, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Decode and composition times of the ``n`` samples (``stts``, ``ctts``)."""
    stts = _table(data, _one(stbl, b"stts"), 0, 2, ">u4")
    if stts[:, 0].sum() != n or (stts[:, 1] > 0x7FFFFFFF).any():
        raise NotPlain("stts does not give each sample a duration")
    deltas = np.repeat(stts[:, 1], stts[:, 0])
    dts = np.concatenate(([0], np.cumsum(deltas[:-1]))).astype(np.int64)
    if b"ctts" not in stbl:
        return dts, dts
    ctts = _table(data, _one(stbl, b"ctts"), 0, 2, ">u4")
    offsets = ctts[:, 1].astype(np.uint32).view(np.int32).astype(np.int64)  # signed
    if ctts[:, 0].sum() != n or (np.abs(offsets) >= _MAX_CTTS_OFFSET).any():
        raise NotPlain("ctts does not give each sample an offset")
    return dts, dts + np.repeat(offsets, ctts[:, 0])


def _edits(data: bytes, trak: dict) -> list[tuple[int, int]]:
    """The track's edit list (``edts``/``elst``): ``(duration, media time)`` per edit."""
    if b"edts" not in trak:
        return []
    edts = _inside(data, _one(trak, b"edts"))
    if b"elst" not in edts:
        return []
    body, end = _one(edts, b"elst")
    version, count = data[body], struct.unpack_from(">I", data, body + 4)[0]
    row = struct.Struct(">Iii" if version == 0 else ">Qqi")  # duration, media time, rate
    if body + 8 + count * row.size != end:  # FFmpeg would count the entries by the size
        raise NotPlain("elst's count does not fill its box")
    return [row.unpack_from(data, body + 8 + k * row.size)[:2] for k in range(count)]


def _check_edits(edits: list, cts: np.ndarray, movie_scale: int, media_scale: int) -> None:
    """Refuse an edit list that makes FFmpeg discard or drop samples.

    FFmpeg (``mov_fix_index``) discards a sample whose composition time lies outside the
    edit ``[media_time, media_time + duration)``, the duration rescaled from the movie's
    time scale (rounded to nearest). Leading empty edits (media time -1) only delay the
    track; a second edit reorders or repeats samples."""
    if not edits:
        return
    while edits and edits[0][1] == -1:
        edits = edits[1:]
    if len(edits) != 1:
        raise NotPlain(f"{len(edits)} edits")
    duration, media_time = edits[0]
    if movie_scale <= 0 or media_time < 0:
        raise NotPlain("an edit without a time scale or a start")
    end = media_time + (duration * media_scale + movie_scale // 2) // movie_scale  # av_rescale
    if cts.min() < media_time or cts.max() >= end:
        raise NotPlain("the edit list leaves samples out")


def _positions(data: bytes, stbl: dict, sizes: np.ndarray) -> np.ndarray:
    """Byte offset of each sample: its chunk's (``stco``/``co64``) plus the sizes of the
    samples before it in the chunk (``stsc``)."""
    if (b"stco" in stbl) == (b"co64" in stbl):
        raise NotPlain("no single chunk offset table")
    if b"stco" in stbl:
        chunks = _table(data, _one(stbl, b"stco"), 0, 1, ">u4")[:, 0]
    else:
        chunks = _table(data, _one(stbl, b"co64"), 0, 1, ">u8")[:, 0]
    stsc = _table(data, _one(stbl, b"stsc"), 0, 3, ">u4")
    first = stsc[:, 0]
    if (
        not len(first)
        or first[0] != 1
        or (np.diff(first) <= 0).any()
        or first[-1] > len(chunks)
        or (stsc[:, 1:] < 1).any()
    ):
        raise NotPlain("stsc does not map the chunks")
    per_chunk = np.repeat(stsc[:, 1], np.diff(np.append(first, len(chunks) + 1)))
    if per_chunk.sum() != len(sizes):
        raise NotPlain("stsc and stsz count different samples")
    chunk = np.repeat(np.arange(len(chunks)), per_chunk)
    ends = np.cumsum(sizes)
    starts = ends - sizes  # bytes before each sample in the track
    chunk_start = starts[np.cumsum(per_chunk) - per_chunk]  # ... before each chunk's first
    return chunks[chunk] + starts - chunk_start[chunk]


def _sizes(data: bytes, stbl: dict) -> np.ndarray:
    """Each sample's size (``stsz``); refuses empty samples."""
    body, end = _one(stbl, b"stsz")
    uniform, count = struct.unpack_from(">II", data, body + 4)
    if uniform:
        sizes = np.full(count, uniform, np.int64)
    else:
        sizes = _table(data, (body, end), 4, 1, ">u4")[:, 0]
    if not count or (sizes == 0).any():
        raise NotPlain("empty samples")
    if (sizes > _MAX_SAMPLE_SIZE).any():
        raise NotPlain("samples too large for FFmpeg's index")
    return sizes


def _sync_samples(data: bytes, stbl: dict, n: int) -> np.ndarray:
    """0-based numbers of the sync samples (``stss``, 1-based), every sample without one."""
    if b"stss" not in stbl:
        return np.arange(n, dtype=np.int64)
    numbers = _table(data, _one(stbl, b"stss"), 0, 1, ">u4")[:, 0]
    if not len(numbers) or numbers[0] < 1 or (np.diff(numbers) <= 0).any() or numbers[-1] > n:
        raise NotPlain("stss does not list sync samples in order")
    return numbers - 1


def read_track(path: str, file_size: int, track_id: int) -> Track:
    """The samples of the video track ``track_id`` (its ``tkhd``; PyAV's ``stream.id``)
    of the MP4/MOV file ``path`` (``file_size`` bytes), when each is a frame FFmpeg's
    index keeps as it is; raises :class:`NotPlain` otherwise (see the module)."""
    try:
        with open(path, "rb") as f:
            data = _read_moov(f, file_size)
        moov = _inside(data, (0, len(data)))
        trak, mdia, stbl = _find_trak(data, moov, track_id)
        found = [kind.decode() for kind in _UNFOLLOWED if kind in moov or kind in stbl]
        if found:
            raise NotPlain(f"tables not followed here: {', '.join(found)}")
        sizes = _sizes(data, stbl)
        dts, cts = _decode_times(data, stbl, len(sizes))
        media_scale = _time_scale(data, _one(mdia, b"mdhd"))
        movie_scale = _time_scale(data, _one(moov, b"mvhd"))
        if media_scale <= 0:
            raise NotPlain("no media time scale")
        _check_edits(_edits(data, trak), cts, movie_scale, media_scale)
        pos = _positions(data, stbl, sizes)
        if (pos < 0).any() or (pos + sizes > file_size).any():
            raise NotPlain("samples past the end of the file")
        return Track(dts, pos, sizes, _sync_samples(data, stbl, len(sizes)), media_scale)
    except (OSError, struct.error, ValueError, IndexError) as error:  # cut tables, bad counts
        raise NotPlain(f"unreadable tables ({error})") from None
