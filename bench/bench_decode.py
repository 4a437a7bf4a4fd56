"""Cost of one training clip against the length of the video, three decoders side by side.

Writes H.264 videos of 10 s, 60 s and 600 s (340x256 like PySlowFast's resized Kinetics,
30 fps, a keyframe every 2 s as online video has; a camera pan over a noisy texture) to
a temporary folder, then loads Slow 8x8 training clips (8 frames every 8th at 30 fps,
at a random time) from each with:

* ours: :func:`mutualnet3d.data.decode_clip` (opens the file, seeks to the keyframe
  before the clip, decodes to its last frame, converts the 8 frames picked);
* PyTorchVideo: ``pytorchvideo.data.encoded_video_pyav.EncodedVideoPyAV`` opened per
  clip, ``get_clip(start, start + 64 / 30 s)``, 8 of its frames kept (its Kinetics does
  so per sample);
* whole file: decode every frame (kept in YUV), pick PySlowFast's 8 and convert them,
  what ``decode_clip`` did before it seeked.

Prints, per video length, the median ms per clip (every loader on every video taking
turns, so rows compare as well as columns), the peak
memory growth per clip (resident memory sampled every millisecond during the clip, less
the memory before it; one clip in a fresh process) of each, and the ratio of clips per
second ours / PyTorchVideo. Targets: ours at 600 s within 1.5x of ours at 10 s; growth
under 100 MiB per clip at 600 s; ours / PyTorchVideo >= 2.0 at 10 s.

    python bench/bench_decode.py               # 10 s, 60 s, 600 s; 20 clips each
    python bench/bench_decode.py --clips 5 --seconds 10 60
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import av
import numpy as np
import torch

from mutualnet3d.data import decode_clip, sample_frame_indices

FPS, HEIGHT, WIDTH, GOP = 30, 256, 340, 60
FRAMES, RATE = 8, 8  # Slow 8x8
PAGE = os.sysconf("SC_PAGE_SIZE")


def write_video(path: str, seconds: int, seed: int = 0) -> None:
    """``seconds`` of H.264: a pan over a texture with noise (31 noise frames cycle)."""
    rng = np.random.default_rng(seed)
    pad = 120
    y, x = np.mgrid[0 : HEIGHT + pad, 0 : WIDTH + pad].astype(np.float32)
    texture = 127 + 60 * np.sin(0.05 * x) * np.cos(0.03 * y)
    texture = np.repeat(texture[..., None], 3, axis=2) + rng.integers(-30, 31, (1, 1, 3))
    noise = rng.integers(-10, 11, (31, HEIGHT, WIDTH, 3), dtype=np.int16)
    options = {"g": str(GOP), "keyint_min": str(GOP), "sc_threshold": "0", "preset": "veryfast"}
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options=options)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for k in range(seconds * FPS):
            phase = k % (2 * pad)
            offset = phase if phase < pad else 2 * pad - phase  # back and forth
            frame = texture[offset // 2 : offset // 2 + HEIGHT, offset : offset + WIDTH]
            rgb = np.clip(frame + noise[k % 31], 0, 255).astype(np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class PeakMemory:
    """Highest resident memory while the block runs, sampled every millisecond."""

    def __enter__(self) -> "PeakMemory":
        self.base = self.peak = rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, rss())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())

    @property
    def growth(self) -> int:
        return self.peak - self.base


def ours(path: str, generator: torch.Generator) -> torch.Tensor:
    return decode_clip(path, FRAMES, RATE, FPS, clip_index=-1, generator=generator)


def pytorchvideo_clip(path: str, generator: torch.Generator) -> torch.Tensor:
    from pytorchvideo.data.encoded_video_pyav import EncodedVideoPyAV

    with open(path, "rb") as f:
        video = EncodedVideoPyAV(f, os.path.basename(path), decode_audio=False)
        span = FRAMES * RATE / FPS
        start = float(torch.rand((), generator=generator)) * max(float(video.duration) - span, 0)
        frames = video.get_clip(start, start + span)["video"]  # (C, T, H, W) float
        video.close()
    index = torch.linspace(0, frames.shape[1] - 1, FRAMES).long()
    return frames[:, index]


def whole_file(path: str, generator: torch.Generator) -> torch.Tensor:
    with av.open(path) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        fps = float(stream.average_rate)
    index = sample_frame_indices(len(frames), FRAMES, RATE, fps, FPS, -1, generator=generator)
    return torch.from_numpy(np.stack([frames[i].to_ndarray(format="rgb24") for i in index]))


def measure(cases: dict[tuple[int, str], tuple[str, int]]) -> dict[tuple[int, str], float]:
    """Median ms per clip of each (video length, loader) case, ``cases[case] = (path,
    clips)``. Every case takes its turn clip by clip, the lengths as well as the loaders,
    so that the ratios between rows (600 s against 10 s) see the same machine state as
    those within a row; one untimed clip each first warms caches."""
    generators = {case: torch.Generator().manual_seed(0) for case in cases}
    for case, (path, _) in cases.items():
        LOADERS[case[1]](path, generators[case])
    times: dict[tuple[int, str], list[float]] = {case: [] for case in cases}
    for i in range(max(n for _, n in cases.values())):
        for case, (path, n) in cases.items():
            if i < n:
                start = time.perf_counter()
                LOADERS[case[1]](path, generators[case])
                times[case].append(time.perf_counter() - start)
    return {case: 1000 * statistics.median(t) for case, t in times.items()}


def memory_growth(name: str, path: str) -> float:
    """Peak resident memory growth (MiB) of one clip of loader ``name``, in a fresh
    process (memory freed by an earlier clip would hide a later one's growth)."""
    out = subprocess.run(
        [sys.executable, __file__, "--memory", name, path],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(out.split()[-1])


def _memory_child(name: str, path: str) -> None:
    from pytorchvideo.data.encoded_video_pyav import EncodedVideoPyAV  # noqa: F401

    load = LOADERS[name]
    with PeakMemory() as memory:
        load(path, torch.Generator().manual_seed(0))
    print(f"{memory.growth / 2**20:.1f}")


LOADERS = {"ours": ours, "pytorchvideo": pytorchvideo_clip, "whole file": whole_file}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, nargs="+", default=[10, 60, 600])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--whole-clips", type=int, default=3, help="clips of the whole-file decode")
    parser.add_argument("--memory", nargs=2, help=argparse.SUPPRESS)  # child: loader, path
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.memory:
        _memory_child(*args.memory)
        return
    loaders = LOADERS
    from pytorchvideo.data.encoded_video_pyav import EncodedVideoPyAV  # noqa: F401

    results: dict[int, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        cases: dict[tuple[int, str], tuple[str, int]] = {}
        for seconds in args.seconds:
            path = os.path.join(folder, f"video_{seconds}s.mp4")
            start = time.perf_counter()
            write_video(path, seconds)
            print(
                f"wrote {seconds} s ({os.path.getsize(path) / 2**20:.1f} MiB) in "
                f"{time.perf_counter() - start:.0f} s",
                flush=True,
            )
            whole = 1 if seconds >= 600 else args.whole_clips
            for name, n in (("ours", args.clips), ("pytorchvideo", args.clips), ("whole file", whole)):
                cases[seconds, name] = (path, n)
        ms = measure(cases)
        for (seconds, name), (path, _) in cases.items():
            results.setdefault(seconds, {})[name] = (ms[seconds, name], memory_growth(name, path))
    header = f"{'video':>7} | " + " | ".join(f"{n:>23}" for n in loaders) + " | ours/PTV clips/s"
    print("\nms per Slow 8x8 training clip, peak memory growth per clip (MiB)")
    print(header)
    for seconds, row in results.items():
        cells = " | ".join(f"{row[n][0]:9.1f} ms {row[n][1]:7.1f} MiB" for n in loaders)
        ratio = row["pytorchvideo"][0] / row["ours"][0]
        print(f"{seconds:>5} s | {cells} | {ratio:10.2f}")
    if {10, 600} <= set(results):
        slow = results[600]["ours"][0] / results[10]["ours"][0]
        print(f"\nours at 600 s / ours at 10 s: {slow:.2f}x (target <= 1.5)")
        print(f"ours' growth per clip at 600 s: {results[600]['ours'][1]:.1f} MiB (target < 100)")
    if 10 in results:
        ratio = results[10]["pytorchvideo"][0] / results[10]["ours"][0]
        print(f"ours / PyTorchVideo clips per second at 10 s: {ratio:.2f} (target >= 2.0)")


if __name__ == "__main__":
    main()
