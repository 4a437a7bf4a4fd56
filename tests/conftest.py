"""Shared fixtures: tiny videos written with PyAV, and tiny Kinetics, Charades and AVA
folders (the last two written by :mod:`tests.data.folders`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Union

import av
import numpy as np
import pytest
from PIL import Image
import torch

from tests.data.folders import AvaFolder, CharadesFolder, write_ava, write_charades

# The tests run tiny tensors, for which a second intra-op thread costs more than it
# gives (measured: the unit tests take 48 s with one thread, 53 s with two on 2 cores).
torch.set_num_threads(1)

CUDA_REASON = "needs a CUDA GPU: torch.cuda.is_available() is False on this machine"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``cuda`` skip, with the reason, where no CUDA GPU is present."""
    if torch.cuda.is_available():
        return
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(pytest.mark.skip(reason=CUDA_REASON))


# mpeg4 (FFmpeg's own encoder) ships with every FFmpeg build; libx264 is optional.
VIDEO_CODEC = "mpeg4" if "mpeg4" in av.codec.codecs_available else "libx264"


class VideoMaker:
    """``make_video(path, num_frames, size=(h, w), fps)`` writes a gray .mp4; returns its path.

    The value of frame ``k`` at position ``p`` along the long side (columns of landscape
    frames, rows of portrait ones) of length ``L`` is ``START + step * k + GRADIENT * p /
    (L - 1)``: a brightness ramp over time, so decoded frames reveal their index, plus a
    spatial ramp, so crops reveal their position. Compression is lossy: compare with a
    tolerance (measured: pixels within 3 levels, frame means within 0.5).
    """

    START = 20  # level of frame 0 at the first column/row
    STEP = 5  # levels per frame (default ``step``); 40 frames stay below 255
    GRADIENT = 30  # levels added from one end of the long side to the other

    def level(self, k: float, step: int = STEP) -> float:
        """Mean level of frame ``k`` over a full frame or a centred crop."""
        return self.START + step * k + self.GRADIENT / 2

    def frame_of(self, mean_level: float) -> float:
        """Frame index of a full frame or centred crop from its mean level (default step)."""
        return (mean_level - self.START - self.GRADIENT / 2) / self.STEP

    def __call__(
        self,
        path: Union[str, os.PathLike],
        num_frames: int = 30,
        size: tuple[int, int] = (48, 64),
        fps: int = 30,
        step: int = STEP,
        faststart: bool = False,
    ) -> Path:
        """``faststart`` puts the index (moov atom) first, as streaming sites serve mp4."""
        h, w = size
        if self.START + step * (num_frames - 1) + self.GRADIENT > 255:
            raise ValueError(f"{num_frames} frames overflow the brightness ramp")
        long_side = max(h, w)
        ramp = self.GRADIENT * np.arange(long_side) / (long_side - 1)
        spatial = np.broadcast_to(ramp[None, :] if w >= h else ramp[:, None], (h, w))
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        options = {"movflags": "faststart"} if faststart else {}
        with av.open(str(path), "w", options=options) as container:
            stream = container.add_stream(VIDEO_CODEC, rate=fps)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.bit_rate = 4_000_000  # near-lossless for these tiny smooth frames
            for k in range(num_frames):
                gray = np.round(self.START + step * k + spatial).astype(np.uint8)
                rgb = np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))
                container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
            container.mux(stream.encode(None))
        return path


@pytest.fixture
def make_video() -> VideoMaker:
    return VideoMaker()


@dataclass
class KineticsFolder:
    """A tiny Kinetics layout: ``root/{train,val,test}.csv`` naming ``root/videos/*.mp4``.

    csv paths are relative to ``prefix`` (``DATA.PATH_PREFIX``); ``paths`` (joined),
    ``labels`` and ``frames`` are per csv line; ``csv(split)`` is a csv file's path.
    """

    root: Path
    prefix: Path
    paths: list[str]
    labels: list[int]
    frames: list[int]
    csv: Callable[[str], str]


@pytest.fixture
def kinetics_dir(tmp_path: Path, make_video: VideoMaker) -> KineticsFolder:
    """4 videos of 48x64 px (h x w) at 30 fps, 20-40 frames, 2 classes; all splits list all."""
    specs = [
        ("videos/a.mp4", 0, 40),
        ("videos/b.mp4", 1, 30),
        ("videos/c.mp4", 0, 20),
        ("videos/d.mp4", 1, 24),
    ]
    for rel, _, n in specs:
        make_video(tmp_path / rel, num_frames=n)
    lines = "".join(f"{rel} {label}\n" for rel, label, _ in specs)
    for split in ("train", "val", "test"):
        (tmp_path / f"{split}.csv").write_text(lines)
    return KineticsFolder(
        root=tmp_path,
        prefix=tmp_path,
        paths=[str(tmp_path / rel) for rel, _, _ in specs],
        labels=[label for _, label, _ in specs],
        frames=[n for _, _, n in specs],
        csv=lambda split: str(tmp_path / f"{split}.csv"),
    )


@pytest.fixture
def charades_dir(tmp_path: Path) -> CharadesFolder:
    """3 videos of 12-20 JPEG frames (48x64) with per-frame labels of 5 classes."""
    return write_charades(tmp_path)


@pytest.fixture(scope="module")
def ava(tmp_path_factory) -> AvaFolder:
    """AVA's layout: 2 videos of 91-120 frames, boxes at 2-3 key frames, 4 classes."""
    return write_ava(tmp_path_factory.mktemp("ava"))


@pytest.fixture
def imagenet_dir(tmp_path):
    """2 classes x 3 PNG images in train/ and val/: class 0 dark, class 1 bright."""
    for split in ("train", "val"):
        for label, name in enumerate(("cat", "dog")):
            for i in range(3):
                folder = tmp_path / "imagenet" / split / name
                folder.mkdir(parents=True, exist_ok=True)
                value = 40 + 150 * label + 10 * i
                Image.new("RGB", (48, 40), (value, value, value)).save(folder / f"{i}.png")
    return tmp_path / "imagenet"
