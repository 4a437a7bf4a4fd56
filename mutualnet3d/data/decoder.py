"""Video decoding with PyAV and PySlowFast's choice of frame indices.

Kinetics clips are about 10 s long, so a sample decodes its whole video once and keeps
only the frames it needs (decoded frames stay in YUV until picked, which is cheap).
"""

from __future__ import annotations

import math
import os
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
]


# A file cut short after its index (mp4 with the moov atom first) decodes its first frames
# without an error. Fewer than this fraction of the declared frames counts as truncated;
# the slack keeps trimmed clips whose edit list hides the frames before a cut.
MIN_DECODED_FRACTION = 0.5


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
) -> torch.Tensor:
    """Decode one clip of ``path``: uint8 tensor (T, H, W, 3), RGB, T = ``num_frames``.

    Reads the first video stream; its frame rate is ``average_rate`` (``target_fps``
    when the container does not say). Indices follow :func:`sample_frame_indices` over
    the frames actually decoded (``use_offset``: see :func:`clip_start`); ``threads``
    lets FFmpeg decode with threads (PySlowFast's DATA_LOADER.ENABLE_MULTI_THREAD_DECODE).
    Raises :class:`DecodeError` naming ``path`` for a
    missing, empty, unreadable or frameless file, or one that decodes fewer than
    :data:`MIN_DECODED_FRACTION` of the frames its container declares (truncated).
    """
    check_file(path)
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise DecodeError(path, "no video stream")
            stream = container.streams.video[0]
            if threads:  # FFmpeg's own frame and slice threads (the same frames)
                stream.thread_type = "AUTO"
            rate = stream.average_rate
            fps = float(rate) if rate else float(target_fps)
            declared = stream.frames  # 0 when the container does not say
            frames = list(container.decode(stream))
            if not frames:
                raise DecodeError(path, "no frames")
            if len(frames) < MIN_DECODED_FRACTION * declared:
                raise DecodeError(
                    path,
                    f"truncated or corrupt, decoded {len(frames)} of the {declared} frames "
                    "its container declares",
                )
            index = sample_frame_indices(
                len(frames), num_frames, sampling_rate, fps, target_fps, clip_index,
                num_clips, generator, use_offset,
            )
            # Convert each distinct frame once; short videos repeat indices.
            picked = {i: frames[i].to_ndarray(format="rgb24") for i in set(index.tolist())}
            clip = np.stack([picked[i] for i in index.tolist()])
    except DecodeError:
        raise
    except (av.FFmpegError, OSError, ValueError) as error:
        # PyAV reports corrupt data as FFmpegError (InvalidDataError is also a ValueError).
        raise DecodeError(path, f"{type(error).__name__}: {error}") from error
    return torch.from_numpy(clip)
