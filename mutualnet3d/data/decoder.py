"""Video decoding with PyAV and PySlowFast's choice of frame indices.

A clip's frames are PySlowFast's indices over the frames the file stores (the frames a
whole-file decode yields), but only the part of the video the clip spans is decoded:
the decoder seeks to the keyframe before the clip's first frame and stops after its
last (:func:`decode_clip`). Frame count, frame rate and truncation come from what the
file holds (its packets, or its index where the container keeps one of every frame; for
MP4/MOV its sample tables, read with numpy where they show every index entry is a frame),
not from a header's declared count; packets that do not decode are skipped and counted.
"""

from __future__ import annotations

import bisect
import logging
import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Optional

import av
import numpy as np
import torch

from . import mp4_tables

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

# A still image renamed as a video (photo.png -> clip.mp4) opens as a one-frame "video":
# FFmpeg probes it by content, with one of its image demuxers (png_pipe, jpeg_pipe,
# bmp_pipe..., image2; gif) and an image codec. All three together make it "not a video";
# an MJPEG video (AVI, MOV, a raw .mjpeg stream) has another demuxer or more frames.
_IMAGE_DEMUXERS = ("image2", "image2pipe", "gif", "apng")
_IMAGE_CODECS = (
    "png", "apng", "mjpeg", "jpegls", "jpeg2000", "jpegxl", "bmp", "tiff", "webp", "gif",
    "ppm", "pgm", "pgmyuv", "pbm", "pam", "pfm", "qoi", "sgi", "targa", "pcx", "dds",
    "dpx", "exr", "hdr", "psd", "sunrast", "xbm", "xpm", "xwd", "svg",
)  # fmt: skip


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


class _OpenGop(_Unreliable):
    """The clip starts among frames an open GOP's keyframe follows: seek one keyframe
    earlier."""


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


@dataclass
class _Scan:
    """What a pass over the index or the packets found (see :class:`VideoIndex`)."""

    keys: list = field(default_factory=list)
    key_ts: list = field(default_factory=list)
    key_pos: list = field(default_factory=list)
    count: int = 0
    first: Optional[int] = None
    last: Optional[int] = None
    cut: bool = False  # the data ends before the stream does

    def add(self, ts: Optional[int], keyframe: bool, pos: Optional[int]) -> None:
        if keyframe:
            self.keys.append(self.count)
            self.key_ts.append(ts)
            self.key_pos.append(pos)
        if ts is not None:
            self.first = ts if self.first is None else min(self.first, ts)
            self.last = ts if self.last is None else max(self.last, ts)
        self.count += 1


def _scan_index(entries, size: int) -> _Scan:
    """The index's stored frames (decode timestamps), up to the first past ``size``.

    One pass with local names: PyAV makes one Python object per entry and a 10-minute
    video's index holds 18,000 (:meth:`_Scan.add` per entry took twice as long). MP4/MOV
    tracks whose tables show every entry is a frame skip it (:func:`_plain_scan`)."""
    scan = _Scan()
    keys, key_ts, key_pos, stamps = scan.keys, scan.key_ts, scan.key_pos, []
    for e in entries:
        n = e.size
        if n <= 0 or e.is_discard:
            continue
        pos = e.pos
        if pos + n > size:
            scan.cut = True
            break
        ts = e.timestamp
        if e.is_keyframe:
            keys.append(len(stamps))
            key_ts.append(ts)
            key_pos.append(pos)
        stamps.append(ts)
    scan.count = len(stamps)
    known = [t for t in stamps if t is not None]
    if known:
        scan.first, scan.last = min(known), max(known)
    return scan


def _plain_scan(path: str, stream, index, size: int) -> Optional[_Scan]:
    """What :func:`_scan_index` finds, read from an MP4/MOV track's sample tables
    (:func:`mp4_tables.read_track`) instead of one Python object per index entry; None
    where the tables do not say every entry is a stored frame (empty samples, an edit
    list that discards, data past the end...) or disagree with FFmpeg's index.

    FFmpeg's index then holds one entry per sample, in order, at the sample's offset and
    size, its timestamp the sample's decode time plus one constant: checked on a first,
    a middle and a last entry, and on the last keyframe."""
    try:
        track = mp4_tables.read_track(path, size, stream.id)
    except mp4_tables.NotPlain:  # (not logged: a file's every clip would say it)
        return None
    n = len(track.sizes)
    if len(index) != n or stream.time_base != Fraction(1, track.time_scale):
        return None
    keys = track.keys
    shift = index[0].timestamp - int(track.dts[0])
    for i in sorted({0, n // 2, n - 1, int(keys[-1])}):
        entry = index[i]
        key = bool(keys[min(np.searchsorted(keys, i), len(keys) - 1)] == i)
        ours = (int(track.pos[i]), int(track.sizes[i]), int(track.dts[i]) + shift, key, False)
        if ours != (entry.pos, entry.size, entry.timestamp, entry.is_keyframe, entry.is_discard):
            return None
    return _Scan(
        keys=keys.tolist(),
        key_ts=(track.dts[keys] + shift).tolist(),
        key_pos=track.pos[keys].tolist(),
        count=n,
        first=int(track.dts.min()) + shift,
        last=int(track.dts.max()) + shift,
    )


def _scan_packets(path: str, container, stream) -> _Scan:
    """Every non-empty packet of ``stream`` (presentation timestamps), demuxed."""
    scan = _Scan()
    try:
        for packet in container.demux(stream):
            if packet.size <= 0 or packet.is_discard:
                continue
            scan.cut |= packet.is_corrupt  # read short: the file ends inside it
            ts = packet.pts if packet.pts is not None else packet.dts
            scan.add(ts, packet.is_keyframe, packet.pos)
    except (av.FFmpegError, OSError) as error:
        # Data that stops demuxing: keep what came before, judged as truncated or not.
        scan.cut = True
        logger.debug("%s: demuxing stopped (%s)", path, error)
    return scan


def _still_image(container, stream, frames: int) -> str:
    """The codec of a file that is one still image opened as a video ("" otherwise):
    a single stored frame, of an image codec, read by one of FFmpeg's image demuxers."""
    codec = stream.codec_context.name
    demuxers = container.format.name.split(",")
    by_image = any(d.endswith("_pipe") or d in _IMAGE_DEMUXERS for d in demuxers)
    if frames == 1 and by_image and codec in _IMAGE_CODECS:
        return "jpeg" if codec == "mjpeg" else codec
    return ""


def _unseekable(scan: _Scan) -> str:
    """Why seeking by ``scan``'s keyframes cannot be trusted ("" when it can)."""
    if not scan.keys or scan.keys[0] != 0:
        return "no keyframe at the start"
    if any(t is None for t in scan.key_ts):
        return "keyframes without timestamps"
    if any(b <= a for a, b in zip(scan.key_ts, scan.key_ts[1:])):
        return "keyframe timestamps not increasing"
    return ""


def probe_video(path: str, container, stream, target_fps: float) -> VideoIndex:
    """The :class:`VideoIndex` of ``stream``: read from the container's index where it
    lists every frame (MP4/MOV, AVI; from an MP4/MOV track's sample tables where they
    show that each entry is a stored frame, :func:`_plain_scan`), else by demuxing every
    packet (no decoding).

    Raises :class:`DecodeError` for a file with no stored frame, for a still image
    ("not a video": one frame of an image codec, read by an image demuxer), or for a
    truncated one: its frames cover less than :data:`MIN_DECODED_FRACTION` of the
    stream's duration (the container's where the stream has none), judged where its
    data ends early (index entries past the end of the file, a packet cut short) or
    where no index lists every frame (an index that lists fewer frames than a header
    declares is a complete file, as AVIs whose camera dropped frames).
    """
    tb = stream.time_base
    fmt = container.format.name.split(",")
    index = stream.index_entries if any(f in _FULL_INDEX_FORMATS for f in fmt) else ()
    indexed = len(index) > 0
    if indexed:
        size = os.path.getsize(path)
        scan = _plain_scan(path, stream, index, size) if "mov" in fmt else None
        if scan is None:
            scan = _scan_index(index, size)
    else:
        scan = _scan_packets(path, container, stream)
    if scan.count == 0:
        raise DecodeError(path, "no frames")
    still = _still_image(container, stream, scan.count)
    if still:
        raise DecodeError(path, f"not a video (a still {still} image)")
    fps = _measured_fps(stream, scan.count, scan.first, scan.last) or float(target_fps)
    # The stream's duration, else the container's (Matroska keeps it there).
    duration = stream.duration
    seconds = float(duration * tb) if duration else (container.duration or 0) / av.time_base
    if (scan.cut or not indexed) and seconds and scan.first is not None:
        covered = float((scan.last - scan.first) * tb) + 1 / fps
        if covered < MIN_DECODED_FRACTION * seconds:
            raise DecodeError(
                path,
                f"truncated, its frames cover {covered:.2f} s of the stream's {seconds:.2f} s",
            )
    shift = 0
    if indexed and scan.keys and stream.start_time is not None:
        shift = max(stream.start_time - scan.key_ts[0], 0)  # the decoder's reordering delay
    why = _unseekable(scan)
    return VideoIndex(
        scan.count,
        fps,
        tuple(scan.keys),
        tuple(scan.key_ts),
        tuple(scan.key_pos),
        not why,
        why,
        indexed,
        shift,
    )


class _Placer:
    """Where each decoded frame lies among the stored frames, keeping those wanted.

    From the start (``key`` 0) a frame's position is the frames output before it; after
    a seek, the stored frames before the keyframe landed on plus the packets since it
    with an earlier timestamp (the decoder outputs a frame once every earlier one came).
    """

    def __init__(self, info: VideoIndex, key: int, wanted: list[int]) -> None:
        self.info, self.key, self.wanted = info, key, wanted
        self.target, self.last = set(wanted), wanted[-1]
        self.before = info.keys[key]
        self.key_ts: Optional[int] = None  # the first packet's timestamp (a seek's keyframe)
        self.seen: list[int] = []  # timestamps of the packets since (output ones), sorted
        self.output = 0
        self.picked: dict[int, np.ndarray] = {}

    def packet(self, packet, ts: Optional[int]) -> None:
        """Note a packet about to be decoded; checks where a seek landed."""
        if self.key == 0:
            return
        if ts is None:
            raise _Unreliable("packets without timestamps")
        if self.key_ts is None:
            stamp = packet.dts if self.info.by_dts else ts
            # Any keyframe at or before the one sought will do (decoding a little more).
            key_ts = self.info.key_ts
            landed = key_ts.index(stamp) if stamp in key_ts else -1
            if not packet.is_keyframe or not 0 <= landed <= self.key:
                raise _Unreliable(
                    f"seek to keyframe {self.key} (timestamp {key_ts[self.key]}) landed at {stamp}"
                )
            self.before = self.info.keys[landed]
            self.key_ts = ts
            if self.before > self.wanted[0]:
                raise _Unreliable("keyframe after the clip's first frame")
        if packet.is_discard:
            return  # decoded (later frames may refer to it) but never output
        at = bisect.bisect_left(self.seen, ts)
        if at < len(self.seen) and self.seen[at] == ts:
            raise _Unreliable(f"two packets at timestamp {ts}")
        self.seen.insert(at, ts)

    def frames(self, frames) -> bool:
        """Keep the wanted ones of ``frames``; True once past the last wanted."""
        for frame in frames:
            if self.key == 0:
                position = self.output
            elif frame.pts is None:
                raise _Unreliable("frames without timestamps")
            elif frame.pts < self.key_ts:
                continue  # before the keyframe (open GOP): decoded from missing frames
            else:
                position = self.before + bisect.bisect_left(self.seen, frame.pts)
            self.output += 1
            if position in self.target and position not in self.picked:
                self.picked[position] = frame.to_ndarray(format="rgb24")
            if position >= self.last:
                return True
        return False

    def check_lead(self) -> None:
        """Refuse a clip that starts among an open GOP's leading frames."""
        if self.key > 0 and self.key_ts is not None:
            lead = bisect.bisect_left(self.seen, self.key_ts)
            if lead and self.before + lead > self.wanted[0]:
                raise _OpenGop("open GOP: the clip starts among frames the keyframe follows")


def _decode_range(
    container, stream, info: VideoIndex, key: int, wanted: list[int], counts: dict[str, int]
) -> dict[int, np.ndarray]:
    """Decode from keyframe number ``key`` (0: the start, without seeking) until the
    frames ``wanted`` (sorted positions in presentation order, see :class:`_Placer`)
    are passed; returns ``{position: RGB frame}`` of those that decoded. Raises
    :class:`_Unreliable` when a seek lands elsewhere or a frame cannot be placed.
    """
    if key > 0:
        target = info.key_ts[key] + info.seek_shift
        container.seek(target, stream=stream, backward=True, any_frame=False)
    placer = _Placer(info, key, wanted)
    for packet in container.demux(stream):
        if packet.size <= 0:
            if packet.pts is None and packet.dts is None:  # end of stream: flush
                try:
                    placer.frames(stream.decode(None))
                except av.FFmpegError:
                    counts["corrupt"] += 1
                break
            counts["empty"] += 1
            continue
        # A packet an edit list discards (MP4) is decoded all the same: the frames after
        # it may refer to it, and the decoder outputs no frame of it.
        placer.packet(packet, packet.pts if packet.pts is not None else packet.dts)
        counts["decoded"] = counts.get("decoded", 0) + 1
        try:
            frames = packet.decode()
        except av.FFmpegError:  # InvalidDataError, EINVAL...: skip the packet
            counts["corrupt"] += 1
            continue
        if placer.frames(frames):
            break
    placer.check_lead()
    return placer.picked


def _from_start(
    path: str, threads: bool, info: VideoIndex, wanted: list[int], counts: dict[str, int]
) -> dict[int, np.ndarray]:
    """:func:`_decode_range` from the start of a freshly opened ``path``."""
    with av.open(path) as container:
        stream = container.streams.video[0]
        if threads:
            stream.thread_type = "AUTO"
        return _decode_range(container, stream, info, 0, wanted, counts)


# Files whose seeking was found unreliable, said once each (at debug level).
_UNSEEKABLE: set[str] = set()


def _say_once(path: str, why: str) -> None:
    if path not in _UNSEEKABLE:
        _UNSEEKABLE.add(path)
        logger.debug("%s: decoding from the start (%s)", path, why)


def _pick(
    path: str,
    container,
    stream,
    info: VideoIndex,
    wanted: list[int],
    counts: dict[str, int],
    threads: bool,
) -> dict[int, np.ndarray]:
    """The ``wanted`` frames: from the keyframe before the first, one keyframe earlier
    for an open GOP, else (unreliable seeking, frames missing) from the start."""
    key = 0
    if info.seekable:
        key = max(bisect.bisect_right(info.keys, wanted[0]) - 1, 0)
    elif info.why:
        _say_once(path, info.why)
    base = dict(counts)
    while key > 0:
        try:
            picked = _decode_range(container, stream, info, key, wanted, counts)
        except _OpenGop:
            counts.update(base)
            key -= 1  # one keyframe earlier
            continue
        except _Unreliable as why:
            counts.update(base)
            _say_once(path, str(why))
            break
        if len(picked) == len(wanted):
            return picked
        _say_once(path, "frames of the clip missing after seeking")
        break
    counts.update(base)  # the packets are counted again from the start
    return _from_start(path, threads, info, wanted, counts)


def _assemble(path: str, picked: dict[int, np.ndarray], index: list[int]) -> torch.Tensor:
    """The clip of frames ``index``; one that did not decode is the nearest that did,
    earlier first."""
    if not picked:
        raise DecodeError(path, f"none of the clip's frames {index[0]}-{index[-1]} decoded")
    have = sorted(picked)
    clip = []
    for i in index:
        if i not in picked:
            j = bisect.bisect_right(have, i)
            i = have[j - 1] if j else have[0]
        clip.append(picked[i])
    return torch.from_numpy(np.stack(clip))


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
    frameless or truncated file, a still image ("not a video"), or one whose clip has
    no decodable frame.
    """
    check_file(path)
    counts = {} if counts is None else counts
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
            ).tolist()
            wanted = sorted(set(index))
            picked = _pick(path, container, stream, info, wanted, counts, threads)
    except DecodeError:
        raise
    except _Unreliable as why:
        raise DecodeError(path, str(why)) from None
    except (av.FFmpegError, OSError, ValueError) as error:
        # PyAV reports corrupt data as FFmpegError (InvalidDataError is also a ValueError).
        raise DecodeError(path, f"{type(error).__name__}: {error}") from error
    if counts["corrupt"]:
        logger.warning("%s: skipped %d packets that did not decode", path, counts["corrupt"])
    return _assemble(path, picked, index)
