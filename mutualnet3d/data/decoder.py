"""Video decoding with PyAV and PySlowFast's choice of frame indices.

A clip's frames are PySlowFast's indices over the frames the file stores (the frames a
whole-file decode yields), but only the part of the video the clip spans is decoded:
the decoder seeks to the keyframe before the clip's first frame and stops after its
last (:func:`decode_clip`). Frame count, frame rate and truncation come from what the
file holds (its packets, or its index where the container keeps one of every frame),
not from a header's declared count; packets that do not decode are skipped and counted.
"""

from __future__ import annotations

import bisect
import logging
import math
import os
from dataclasses import dataclass
from typing import Optional

import av
import numpy as np
import torch

__all__ = [
    "MIN_DECODED_FRACTION",
    "DecodeError",
    "check_file",
    "clip_span",
    "clip_start",
    "sample_frame_indices",
    "decode_clip",
    "probe_video",
    "VideoIndex",
]

logger = logging.getLogger(__name__)


# A file cut short after its index (mp4 with the moov atom first) decodes its first frames
# without an error. A file whose data ends early (its last packet cut, or its index
# pointing past the end) and whose frames cover less than this fraction of the stream's
# duration counts as truncated; a frame count the header declares is not used.
MIN_DECODED_FRACTION = 0.5

# Containers whose index (FFmpeg's index entries) lists every frame, in decode order.
_FULL_INDEX_FORMATS = ("mov", "mp4", "avi")


class DecodeError(RuntimeError):
    """A video could not be opened or decoded, or holds no frames.

    ``filename`` is the file, ``reason`` what went wrong; the message names both.
    """

    #: the message's verb phrase: "cannot decode {filename}: {reason}"
    action = "decode"

    def __init__(self, filename: str, reason: str) -> None:
        super().__init__(f"cannot {self.action} {filename}: {reason}")
        self.filename = filename
        self.reason = reason

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # Rebuild from both arguments (DataLoader workers pickle errors); the default
        # would pass the message alone.
        return type(self), (self.filename, self.reason)


def check_file(path: str, error: type[DecodeError] = DecodeError) -> None:
    """Raise ``error`` naming ``path`` when the file is missing or empty (0 bytes), the
    two failures no decoder reports clearly."""
    if not os.path.isfile(path):
        raise error(path, "no such file")
    if os.path.getsize(path) == 0:
        raise error(path, "empty file (0 bytes)")


def clip_span(num_frames: int, sampling_rate: int, fps: float, target_fps: float) -> float:
    """Source frames covered by one clip: ``sampling_rate * num_frames * fps / target_fps``,
    at least 1.

    ``sampling_rate`` is the stride at ``target_fps``; a video at another frame rate
    covers the same duration in seconds (PySlowFast's ``clip_size``).
    """
    return max(1.0, sampling_rate * num_frames * fps / target_fps)


def clip_start(
    delta: float,
    clip_index: int,
    num_clips: int,
    use_offset: bool = False,
    generator: Optional[torch.Generator] = None,
) -> float:
    """Where a clip starts, ``delta`` being the frames the video has beyond the clip.

    PySlowFast's ``get_start_end_idx``: ``clip_index == -1`` draws the start uniformly in
    ``[0, delta]`` (train, val). A test view ``clip_index`` of ``num_clips`` starts at
    ``delta * clip_index / num_clips`` (DATA.USE_OFFSET_SAMPLING False, its default: the
    first view at 0, none at the end), or with ``use_offset`` at ``clip_index *
    floor(delta / (num_clips - 1))`` (first at 0, last at the end), a single view at
    ``floor(delta / 2)``.
    """
    if clip_index == -1:
        return float(torch.rand((), generator=generator)) * delta
    if not 0 <= clip_index < num_clips:
        raise ValueError(f"clip_index must be -1 or in [0, {num_clips}), got {clip_index}")
    if not use_offset:
        return delta * clip_index / num_clips
    if num_clips == 1:
        return float(math.floor(delta / 2))
    return float(clip_index * math.floor(delta / (num_clips - 1)))


def sample_frame_indices(
    total: int,
    num_frames: int,
    sampling_rate: int,
    fps: float,
    target_fps: float,
    clip_index: int = -1,
    num_clips: int = 1,
    generator: Optional[torch.Generator] = None,
    use_offset: bool = False,
) -> torch.Tensor:
    """``num_frames`` indices (int64, non-decreasing, in ``[0, total - 1]``) of one clip.

    PySlowFast's sampling of a decoded video: the clip spans :func:`clip_span` frames
    from :func:`clip_start` (``delta = max(total - span, 0)``), and its frames are
    ``linspace(start, start + span - 1, num_frames)`` (float32, as ``temporal_sampling``),
    clamped to the video and truncated. A video shorter than the span repeats frames.
    """
    if total < 1:
        raise ValueError(f"a video needs at least one frame, got {total}")
    span = clip_span(num_frames, sampling_rate, fps, target_fps)
    start = clip_start(max(total - span, 0.0), clip_index, num_clips, use_offset, generator)
    index = torch.linspace(start, start + span - 1, num_frames)
    # Clamp first, then truncate: the floor of a clamped non-negative value.
    return index.clamp(0, total - 1).long()


@dataclass(frozen=True)
class VideoIndex:
    """What a file stores of its first video stream, in decode order.

    ``keys`` are the positions (among the stored frames, decode order) of the keyframes
    with their seek timestamps ``key_ts`` and byte offsets ``key_pos`` (None: unknown);
    ``frames`` is the number of stored frames (non-empty packets), ``fps`` their rate.
    ``seekable`` is False, with ``why`` saying so, where seeking cannot be trusted.
    """

    frames: int
    fps: float
    keys: tuple[int, ...]
    key_ts: tuple[int, ...]
    key_pos: tuple[int, ...]
    seekable: bool
    why: str = ""
    #: ``key_ts`` are decode timestamps (from the index), else presentation ones
    by_dts: bool = False
    #: added to ``key_ts`` to seek (demuxers seek by presentation time)
    seek_shift: int = 0


class _Unreliable(Exception):
    """Seeking gave frames that cannot be placed; decode from the start instead."""


def _measured_fps(stream, frames: int, first: Optional[int], last: Optional[int]) -> float:
    """The header's rate (``average_rate``), or the rate of the timestamps where the
    header is silent or off by more than 10 %; without timestamps (raw streams, whose
    ``average_rate`` is FFmpeg's default) the codec's own (``guessed_rate``). 0: unknown."""
    header = float(stream.average_rate) if stream.average_rate else 0.0
    if frames >= 2 and first is not None and last is not None and last > first:
        measured = (frames - 1) / float((last - first) * stream.time_base)
        if not header or abs(header / measured - 1) > 0.1:
            return measured
        return header
    guessed = float(stream.guessed_rate) if stream.guessed_rate else 0.0
    return guessed or header


def probe_video(path: str, container, stream, target_fps: float) -> VideoIndex:
    """The :class:`VideoIndex` of ``stream``: read from the container's index where it
    lists every frame (MP4/MOV, AVI), else by demuxing every packet (no decoding).

    Raises :class:`DecodeError` for a file with no stored frame, or a truncated one:
    its frames cover less than :data:`MIN_DECODED_FRACTION` of the stream's duration
    (the container's where the stream has none), judged where its data ends early
    (index entries past the end of the file, a packet cut short) or where no index
    lists every frame (an index that lists fewer frames than a header declares is a
    complete file, as AVIs whose camera dropped frames).
    """
    size = os.path.getsize(path)
    tb = stream.time_base
    duration = stream.duration
    fmt = container.format.name.split(",")
    entries = list(stream.index_entries) if any(f in _FULL_INDEX_FORMATS for f in fmt) else []
    keys: list[int] = []
    key_ts: list[int] = []
    key_pos: list[int] = []
    cut = False
    first = last = None
    count = 0
    if entries:
        for e in entries:
            if e.size <= 0 or e.is_discard:
                continue
            if e.pos + e.size > size:
                cut = True
                break
            if e.is_keyframe:
                keys.append(count)
                key_ts.append(e.timestamp)
                key_pos.append(e.pos)
            first = e.timestamp if first is None else first
            last = e.timestamp
            count += 1
        # entries' timestamps are decode timestamps; the span is the same length.
    else:
        try:
            for packet in container.demux(stream):
                if packet.size <= 0 or packet.is_discard:
                    continue
                if packet.is_corrupt:
                    cut = True
                ts = packet.pts if packet.pts is not None else packet.dts
                if packet.is_keyframe:
                    keys.append(count)
                    key_ts.append(ts)
                    key_pos.append(packet.pos)
                if ts is not None:
                    first = ts if first is None else min(first, ts)
                    last = ts if last is None else max(last, ts)
                count += 1
        except (av.FFmpegError, OSError) as error:
            # Data that stops demuxing: keep what came before, judge it below.
            cut = True
            logger.debug("%s: demuxing stopped (%s)", path, error)
    if count == 0:
        raise DecodeError(path, "no frames")
    fps = _measured_fps(stream, count, first, last) or float(target_fps)
    # The stream's duration, else the container's (Matroska keeps it there).
    seconds = float(duration * tb) if duration else (container.duration or 0) / av.time_base
    # Judged where the data ends early (an index past the end of the file, a packet cut
    # short) and wherever no index lists the frames.
    if (cut or not entries) and seconds and first is not None and last is not None:
        covered = float((last - first) * tb) + 1 / fps
        if covered < MIN_DECODED_FRACTION * seconds:
            raise DecodeError(
                path,
                f"truncated, its frames cover {covered:.2f} s of the stream's {seconds:.2f} s",
            )
    shift = 0
    if entries and keys and stream.start_time is not None:
        shift = max(stream.start_time - key_ts[0], 0)  # the decoder's reordering delay
    why = ""
    if not keys or keys[0] != 0:
        why = "no keyframe at the start"
    elif any(t is None for t in key_ts):
        why = "keyframes without timestamps"
    elif any(b <= a for a, b in zip(key_ts, key_ts[1:])):
        why = "keyframe timestamps not increasing"
    return VideoIndex(
        count,
        fps,
        tuple(keys),
        tuple(key_ts),
        tuple(key_pos),
        not why,
        why,
        bool(entries),
        shift,
    )


def _decode_range(
    path: str,
    container,
    stream,
    info: VideoIndex,
    key: int,
    wanted: list[int],
    counts: dict[str, int],
) -> dict[int, np.ndarray]:
    """Decode from keyframe number ``key`` (0: the start, without seeking) until the
    frames ``wanted`` (sorted positions in presentation order) are passed; returns
    ``{position: RGB frame}`` of those that decoded.

    From the start, a frame's position is the frames output before it; after a seek, the
    stored frames before the keyframe plus the packets since it with an earlier
    timestamp. Raises :class:`_Unreliable` when a seek lands
    elsewhere or a frame cannot be placed.
    """
    before = info.keys[key]
    if key > 0:
        target = info.key_ts[key] + info.seek_shift
        container.seek(target, stream=stream, backward=True, any_frame=False)
    seen: list[int] = []  # timestamps of the packets since the keyframe, sorted
    key_ts: Optional[int] = None
    picked: dict[int, np.ndarray] = {}
    target = set(wanted)
    last = wanted[-1]
    first_packet = True

    output = 0  # frames output so far (from the start, a frame's position)

    def place(frames) -> bool:
        nonlocal output
        for frame in frames:
            if key == 0:
                position = output
            elif frame.pts is None:
                raise _Unreliable("frames without timestamps")
            elif frame.pts < key_ts:
                continue  # before the keyframe (open GOP): decoded from missing frames
            else:
                position = before + bisect.bisect_left(seen, frame.pts)
            output += 1
            if position in target and position not in picked:
                picked[position] = frame.to_ndarray(format="rgb24")
            if position >= last:
                return True
        return False

    for packet in container.demux(stream):
        if packet.size <= 0:
            if packet.pts is None and packet.dts is None:  # end of stream: flush
                try:
                    place(stream.decode(None))
                except av.FFmpegError:
                    counts["corrupt"] += 1
                break
            counts["empty"] += 1
            continue
        if packet.is_discard:
            continue
        ts = packet.pts if packet.pts is not None else packet.dts
        if ts is None and key > 0:
            raise _Unreliable("packets without timestamps")
        if first_packet and key > 0:
            first_packet = False
            stamp = packet.dts if info.by_dts else ts
            if key > 0:
                # Any keyframe at or before the one sought will do (decoding a little more).
                landed = info.key_ts.index(stamp) if stamp in info.key_ts else -1
                if not packet.is_keyframe or not 0 <= landed <= key:
                    raise _Unreliable(
                        f"seek to keyframe {key} (timestamp {info.key_ts[key]}) landed at {stamp}"
                    )
                before = info.keys[landed]
            key_ts = ts
            if before > wanted[0]:
                raise _Unreliable("keyframe after the clip's first frame")
        if key > 0:
            at = bisect.bisect_left(seen, ts)
            if at < len(seen) and seen[at] == ts:
                raise _Unreliable(f"two packets at timestamp {ts}")
            seen.insert(at, ts)
        counts["decoded"] = counts.get("decoded", 0) + 1
        try:
            frames = packet.decode()
        except av.FFmpegError:  # InvalidDataError, EINVAL...: skip the packet
            counts["corrupt"] += 1
            continue
        if place(frames):
            break
    if key > 0 and key_ts is not None:
        lead = bisect.bisect_left(seen, key_ts)
        if lead and before + lead > wanted[0]:
            raise _Unreliable("open GOP: the clip starts among frames the keyframe follows")
    return picked


def _from_start(
    path: str, threads: bool, info: VideoIndex, wanted: list[int], counts: dict[str, int]
) -> dict[int, np.ndarray]:
    """:func:`_decode_range` from the start of a freshly opened ``path``."""
    with av.open(path) as container:
        stream = container.streams.video[0]
        if threads:
            stream.thread_type = "AUTO"
        return _decode_range(path, container, stream, info, 0, wanted, counts)


# Files whose seeking was found unreliable, said once each (at debug level).
_UNSEEKABLE: set[str] = set()


def _say_once(path: str, why: str) -> None:
    if path not in _UNSEEKABLE:
        _UNSEEKABLE.add(path)
        logger.debug("%s: decoding from the start (%s)", path, why)


def decode_clip(
    path: str,
    num_frames: int,
    sampling_rate: int,
    target_fps: float,
    clip_index: int = -1,
    num_clips: int = 1,
    generator: Optional[torch.Generator] = None,
    use_offset: bool = False,
    threads: bool = False,
    counts: Optional[dict[str, int]] = None,
) -> torch.Tensor:
    """Decode one clip of ``path``: uint8 tensor (T, H, W, 3), RGB, T = ``num_frames``.

    Reads the first video stream (:func:`probe_video`: its stored frames and frame rate,
    ``target_fps`` when nothing says). Indices follow :func:`sample_frame_indices` over
    the stored frames (``use_offset``: see :func:`clip_start`), the frames a whole-file
    decode yields; only the clip's part is decoded, from the keyframe before its first
    frame, or from the start where seeking is unreliable (said once per file at debug
    level). ``threads`` lets FFmpeg decode with threads (PySlowFast's
    DATA_LOADER.ENABLE_MULTI_THREAD_DECODE).

    Packets that fail to decode or are empty are skipped and added to ``counts``
    (``"corrupt"``, ``"empty"``; ``"decoded"`` counts the packets decoded); a picked
    frame that did not decode is replaced by the nearest one that did, earlier first.
    Raises :class:`DecodeError` naming ``path`` for a missing, empty, unreadable,
    frameless or truncated file, or one whose clip has no decodable frame.
    """
    check_file(path)
    counts = {"corrupt": 0, "empty": 0} if counts is None else counts
    counts.setdefault("corrupt", 0)
    counts.setdefault("empty", 0)
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise DecodeError(path, "no video stream")
            stream = container.streams.video[0]
            if threads:  # FFmpeg's own frame and slice threads (the same frames)
                stream.thread_type = "AUTO"
            info = probe_video(path, container, stream, target_fps)
            index = sample_frame_indices(
                info.frames,
                num_frames,
                sampling_rate,
                info.fps,
                target_fps,
                clip_index,
                num_clips,
                generator,
                use_offset,
            )
            wanted = sorted(set(index.tolist()))
            key = 0
            if info.seekable:
                key = max(bisect.bisect_right(info.keys, wanted[0]) - 1, 0)
            elif info.why:
                _say_once(path, info.why)
            picked = None
            base = dict(counts)
            while key > 0:
                try:
                    picked = _decode_range(path, container, stream, info, key, wanted, counts)
                    break
                except _Unreliable as why:
                    if "open GOP" in str(why):
                        key -= 1  # one keyframe earlier
                        continue
                    _say_once(path, str(why))
                    key = 0
            if picked is None or len(picked) < len(wanted):
                if picked is not None:
                    _say_once(path, "frames of the clip missing after seeking")
                counts.update(base)  # the packets are counted again from the start
                picked = _from_start(path, threads, info, wanted, counts)
    except DecodeError:
        raise
    except _Unreliable as why:
        raise DecodeError(path, str(why)) from None
    except (av.FFmpegError, OSError, ValueError) as error:
        # PyAV reports corrupt data as FFmpegError (InvalidDataError is also a ValueError).
        raise DecodeError(path, f"{type(error).__name__}: {error}") from error
    if not picked:
        raise DecodeError(path, f"none of the clip's frames {wanted[0]}-{wanted[-1]} decoded")
    if counts["corrupt"]:
        logger.warning("%s: skipped %d packets that did not decode", path, counts["corrupt"])
    have = sorted(picked)
    clip = []
    for i in index.tolist():
        if i not in picked:  # nearest decoded frame, earlier first
            j = bisect.bisect_right(have, i)
            i = have[j - 1] if j else have[0]
        clip.append(picked[i])
    return torch.from_numpy(np.stack(clip))
