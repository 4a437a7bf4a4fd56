"""Training-clip throughput of our Kinetics loader / PyTorchVideo's Kinetics, in one run.

Writes Kinetics-like videos (H.264 at 340x256 like PySlowFast's resized Kinetics, 4-5 s,
a textured camera pan plus noise so that the codec does real work) to a temporary folder,
then loads training clips from the same csv with both loaders at the same settings (Slow
8x8 by default: 8 frames every 8th at 30 fps, scale jitter 256-320, random 224 crop, flip,
normalisation), the same batch size and the same number of workers. PyTorchVideo's
transforms do not import with the installed torchvision, so its clips go through our
transform functions too: the loaders differ in how they pick and decode a clip.
One untimed epoch of each warms up; then timed epochs (worker start-up included, as in
training) alternate, ours then PyTorchVideo's, so that both see the same machine state.
Prints clips/s of each and the median of the per-epoch ratios ours / PyTorchVideo's.
Target: at least 1.0.

    python bench/bench_loader.py                    # 2 workers, 16 videos, 5 timed epochs
    python bench/bench_loader.py --num-workers 0    # load in the main process
    python bench/bench_loader.py --seconds 10       # videos as long as Kinetics'
    python bench/bench_loader.py --frames 32 --rate 2   # SlowFast 8x8's Fast pathway clip
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from fractions import Fraction
from typing import Any

import av
import numpy as np
import pytorchvideo.data
import torch
from torch.utils.data import DataLoader, RandomSampler

from mutualnet3d.data import (
    ClipSampling,
    Kinetics,
    Normalization,
    SpatialSampling,
    build_loader,
)
from mutualnet3d.data import transforms as T
from mutualnet3d.utils.resample import temporal_indices

MEAN, STD = (0.45, 0.45, 0.45), (0.225, 0.225, 0.225)  # PySlowFast's Kinetics defaults
FPS, HEIGHT, WIDTH = 30, 256, 340
# FFmpeg's libx264 default keyframe interval: re-encoded Kinetics videos of 10 s hold few
# keyframes, so seeking to a clip (PyTorchVideo does) saves little decoding.
GOP = 250


def write_video(path: str, num_frames: int, codec: str, rng: np.random.Generator) -> None:
    """A ``num_frames`` x HEIGHT x WIDTH video: a camera pan over a texture, plus noise.

    The pan gives the encoder motion to find and the noise (fresh every frame) residuals
    to code: about 400 kb/s in H.264, the bit rate of Kinetics resized to 256 px, which
    sets how much work decoding is.
    """
    pad = 100  # texture margin the pan moves through
    y, x = np.mgrid[0 : HEIGHT + pad, 0 : WIDTH + pad].astype(np.float32)
    freq = rng.uniform(0.02, 0.08, (3, 2))
    texture = 127 + 60 * np.stack([np.sin(a * x) * np.cos(b * y) for a, b in freq], axis=-1)
    texture += rng.integers(-30, 31, texture.shape)  # detail that moves with the pan
    velocity = rng.uniform(-1, 1, 2) * (pad / 2 - 1) / num_frames  # px per frame
    with av.open(path, "w") as container:
        stream = container.add_stream(codec, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.gop_size = GOP
        for k in range(num_frames):
            top, left = (pad // 2 + velocity * k).astype(int)
            frame = texture[top : top + HEIGHT, left : left + WIDTH]
            frame = frame + rng.integers(-12, 13, frame.shape, dtype=np.int16)
            rgb = np.clip(frame, 0, 255).astype(np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))


def write_dataset(folder: str, num_videos: int, seconds: float, codec: str, seed: int) -> str:
    """Videos of 0.8-1 x ``seconds`` in ``folder`` and their ``path label`` csv; its path."""
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(num_videos):
        path = os.path.join(folder, f"video_{i:03d}.mp4")
        write_video(path, int(rng.integers(0.8 * seconds * FPS, seconds * FPS + 1)), codec, rng)
        lines.append(f"{path} {i % 10}\n")
    csv_path = os.path.join(folder, "train.csv")
    with open(csv_path, "w", encoding="utf-8") as f:
        f.writelines(lines)
    return csv_path


class PyTorchVideoTransform:
    """The work our ``Kinetics.__getitem__`` does in train mode, on PyTorchVideo's sample.

    PyTorchVideo hands every frame of the clip's time span as float (C, T, H, W) in
    [0, 255]: pick ``num_frames`` evenly (PyTorchVideo's ``UniformTemporalSubsample``
    rule), scale to [0, 1] (our ``to_float_clip``), then our spatial transforms in our order.
    """

    def __init__(self, num_frames: int, jitter: tuple[int, int], crop: int) -> None:
        self.num_frames, self.jitter, self.crop = num_frames, jitter, crop

    def __call__(self, sample: dict[str, Any]) -> dict[str, Any]:
        video = sample["video"]  # a (C, T, H, W) view of (T, H, W, C) memory
        index = temporal_indices(video.shape[1], self.num_frames)
        # Pick frames along T in memory order, which keeps the layout our to_float_clip
        # gives. index_select on dim 1 of this view (what UniformTemporalSubsample does)
        # takes ~90 ms a clip here, ~80x longer: that would time our adapter, not theirs.
        clip = video.permute(1, 2, 3, 0).index_select(0, index).permute(3, 0, 1, 2)
        clip = T.random_short_side_scale(clip.div_(255.0), *self.jitter)
        clip = T.random_horizontal_flip(T.random_crop(clip, self.crop), 0.5)
        return {"video": T.normalize(clip, MEAN, STD).contiguous(), "label": sample["label"]}


def time_epoch(loader: DataLoader, key: str) -> tuple[float, int, tuple[int, ...]]:
    """Seconds for one pass over ``loader`` (worker start-up included), clips, batch shape."""
    start = time.perf_counter()
    clips, shape = 0, ()
    for batch in loader:
        video = batch[key][0] if key == "inputs" else batch[key]
        clips, shape = clips + video.shape[0], tuple(video.shape)
    return time.perf_counter() - start, clips, shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--num-videos", type=int, default=16,
                        help="rounded up to a multiple of batch size x workers")
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="longest video; each lasts 0.8-1 x this (Kinetics: 10)")
    parser.add_argument("--frames", type=int, default=8, help="frames per clip")
    parser.add_argument("--rate", type=int, default=8, help="sampling rate at 30 fps")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs of each loader")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    # PyTorchVideo shards videos over workers and drops each worker's incomplete batch: whole
    # batches per worker make both loaders deliver (and decode) every video once per epoch.
    per_epoch = args.batch_size * max(args.num_workers, 1)
    num_videos = -(-args.num_videos // per_epoch) * per_epoch
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    jitter, crop = (256, 320), 224
    random.seed(args.seed)  # PyTorchVideo draws clip starts from Python's RNG
    torch.manual_seed(args.seed)

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        csv_path = write_dataset(folder, num_videos, args.seconds, codec, args.seed)
        print(f"wrote {num_videos} videos ({codec} {WIDTH}x{HEIGHT} yuv420p, "
              f"{0.8 * args.seconds:g}-{args.seconds:g} s at {FPS} fps, keyframe every {GOP} "
              f"frames) in {time.perf_counter() - start:.1f} s")

        ours = build_loader(
            Kinetics(csv_path, "train", sampling=ClipSampling(args.frames, args.rate, FPS),
                     spatial=SpatialSampling(jitter, crop, random_flip=True),
                     normalization=Normalization(MEAN, STD)),
            args.batch_size, shuffle=True, num_workers=args.num_workers, drop_last=True,
            distributed=False,
        )
        # The same span of time as ours: num_frames * sampling_rate frames at 30 fps.
        duration = Fraction(args.frames * args.rate, FPS)
        theirs = DataLoader(
            pytorchvideo.data.Kinetics(
                data_path=csv_path,
                clip_sampler=pytorchvideo.data.make_clip_sampler("random", duration),
                video_sampler=RandomSampler, decode_audio=False, decoder="pyav",
                transform=PyTorchVideoTransform(args.frames, jitter, crop),
            ),
            batch_size=args.batch_size, num_workers=args.num_workers, drop_last=True,
        )
        print(f"clip {args.frames}x{args.rate} at {FPS} fps ({float(duration):.2f} s), jitter "
              f"{jitter[0]}-{jitter[1]}, crop {crop}, flip; batch {args.batch_size}, "
              f"num_workers={args.num_workers}, torch threads {torch.get_num_threads()}")

        # Warm-up epoch (page cache, imports in the workers), and the check that both
        # loaders produce the same work.
        _, clips_a, shape_a = time_epoch(ours, "inputs")
        _, clips_b, shape_b = time_epoch(theirs, "video")
        assert shape_a == shape_b, f"batch shapes differ: ours {shape_a}, PyTorchVideo {shape_b}"
        assert clips_a == clips_b == num_videos, (clips_a, clips_b, num_videos)
        print(f"batch shape {shape_a} from both; {num_videos} clips per epoch")

        print(f"{'epoch':>5s} {'ours clips/s':>13s} {'PyTorchVideo clips/s':>21s} {'ratio':>6s}")
        rates_a, rates_b = [], []
        for epoch in range(args.epochs):
            seconds_a, clips_a, _ = time_epoch(ours, "inputs")
            seconds_b, clips_b, _ = time_epoch(theirs, "video")
            assert clips_a == clips_b == num_videos, (clips_a, clips_b, num_videos)
            rates_a.append(clips_a / seconds_a)
            rates_b.append(clips_b / seconds_b)
            print(f"{epoch:5d} {rates_a[-1]:13.2f} {rates_b[-1]:21.2f} "
                  f"{rates_a[-1] / rates_b[-1]:6.3f}")

    ratio = statistics.median(a / b for a, b in zip(rates_a, rates_b))
    print(f"median clips/s: ours {statistics.median(rates_a):.2f}, "
          f"PyTorchVideo {statistics.median(rates_b):.2f}")
    print(f"throughput ratio ours / PyTorchVideo = {ratio:.3f} (median of {args.epochs} "
          f"interleaved epochs; target >= 1.0) with num_workers={args.num_workers}")


if __name__ == "__main__":
    main()
