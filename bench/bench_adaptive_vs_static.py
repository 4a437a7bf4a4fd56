"""Forward time of an adaptive network / its exported static sub-network, side by side.

For Slow, SlowFast and X3D at three configurations each, times eval-mode forward passes
of the adaptive network (switched once with ``set_width``, as a deployment does) and of
``export_subnet`` at the same configuration, interleaved (A, B, A, B, ...) so that both
see the same machine state, and prints the ratio of the medians. Target: at most 1.05
at batch size 1. The cost of the switch itself (``set_width``) is printed apart.

    python bench/bench_adaptive_vs_static.py                  # full-size networks, CPU
    python bench/bench_adaptive_vs_static.py --device cuda    # on a GPU
    python bench/bench_adaptive_vs_static.py --tiny           # test-size networks (seconds)
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from mutualnet3d.models import get_model_builder
from mutualnet3d.slim import export_subnet, set_width

# (model, [(width, spatial, temporal), ...]): the paper's Kinetics grids (section 6.5).
FULL = [
    ("slow_r50", [(1.0, 224, 8), (0.8, 178, 5), (0.63, 142, 3)]),
    ("slowfast_r50", [(1.0, 224, 4), (0.8, 178, 3), (0.63, 142, 2)]),
    ("x3d_m", [(1.0, 224, 16), (0.8, 192, 12), (0.63, 142, 6)]),
]
TINY = [
    ("slow_tiny", [(1.0, 32, 4), (0.75, 24, 3), (0.5, 16, 2)]),
    ("slowfast_tiny", [(1.0, 32, 2), (0.75, 24, 2), (0.5, 16, 1)]),
    ("x3d_tiny", [(1.0, 32, 4), (0.75, 24, 3), (0.5, 16, 2)]),
]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn, device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tiny", action="store_true", help="test-size networks")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=1)
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"device={device} threads={torch.get_num_threads()} batch={args.batch_size} "
          f"repeats={args.repeats} (median of interleaved runs)")
    print(f"{'model':14s} {'width':>5s} {'size':>5s} {'frames':>6s} "
          f"{'adaptive ms':>12s} {'static ms':>10s} {'ratio':>6s} {'switch ms':>10s}")
    ratios = []
    for name, configs in TINY if args.tiny else FULL:
        model = get_model_builder(name)().to(device).eval()
        for width, spatial, temporal in configs:
            static = export_subnet(model, width).to(device).eval()
            x = model.example_input(spatial, temporal, args.batch_size)
            x = [t.to(device) for t in x] if isinstance(x, list) else x.to(device)

            start = time.perf_counter()
            set_width(model, width, warn_uncalibrated=False)
            switch_ms = (time.perf_counter() - start) * 1e3

            def run_adaptive():
                model(list(x) if isinstance(x, list) else x)

            def run_static():
                static(list(x) if isinstance(x, list) else x)

            times_a, times_s = [], []
            with torch.inference_mode():
                run_adaptive(), run_static()  # warm-up
                for _ in range(args.repeats):
                    times_a.append(_time(run_adaptive, device))
                    times_s.append(_time(run_static, device))
            a, s = statistics.median(times_a), statistics.median(times_s)
            ratios.append(a / s)
            print(f"{name:14s} {width:5.2f} {spatial:5d} {temporal:6d} "
                  f"{a * 1e3:12.1f} {s * 1e3:10.1f} {a / s:6.3f} {switch_ms:10.2f}")
    print(f"max ratio {max(ratios):.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
