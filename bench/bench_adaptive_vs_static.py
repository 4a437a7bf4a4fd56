"""Forward time of an adaptive network / its exported static sub-network, side by side.

For Slow, SlowFast and X3D at three configurations each, times eval-mode forward passes
of the adaptive network (switched once with ``set_width``, as a deployment does) and of
``export_subnet`` at the same configuration, interleaved (A, B, A, B, ...) so that both
see the same machine state, and prints the ratio of the medians. Target: at most 1.05
at batch size 1. The cost of the switch itself (``set_width``) is printed apart.

    python bench/bench_adaptive_vs_static.py                  # full-size networks, CPU
    python bench/bench_adaptive_vs_static.py --device cuda    # on a GPU
    python bench/bench_adaptive_vs_static.py --tiny           # test-size networks (seconds)
    python bench/bench_adaptive_vs_static.py --device cuda --batch-size 1 8 --dtype float32 float16

``--dtype float16`` converts both networks and the clip (``.half()``, as a deployment in
half precision runs them), rather than autocasting: autocast would cast the adaptive
network's kept slices at every call and the static one's weights once.
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


DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def _on(x, device: torch.device, dtype: torch.dtype):
    return [t.to(device, dtype) for t in x] if isinstance(x, list) else x.to(device, dtype)


def _ratio(model, static, x, repeats: int, device: torch.device) -> tuple[float, float]:
    """Median forward times (s) of ``model`` and ``static`` on ``x``, interleaved."""

    def run_adaptive():
        model(list(x) if isinstance(x, list) else x)

    def run_static():
        static(list(x) if isinstance(x, list) else x)

    times_a, times_s = [], []
    with torch.inference_mode():
        run_adaptive(), run_static()  # warm-up
        for _ in range(repeats):
            times_a.append(_time(run_adaptive, device))
            times_s.append(_time(run_static, device))
    return statistics.median(times_a), statistics.median(times_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tiny", action="store_true", help="test-size networks")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch-size", type=int, nargs="+", default=[1])
    parser.add_argument(
        "--dtype", nargs="+", default=["float32"], choices=DTYPES,
        help="both networks and the clip converted to it (as a half-precision deployment)",
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"device={device} threads={torch.get_num_threads()} batch={args.batch_size} "
          f"dtype={args.dtype} repeats={args.repeats} (median of interleaved runs)")
    print(f"{'model':14s} {'dtype':>8s} {'batch':>5s} {'width':>5s} {'size':>5s} {'frames':>6s} "
          f"{'adaptive ms':>12s} {'static ms':>10s} {'ratio':>6s} {'switch ms':>10s}")
    ratios = []
    for name, configs in TINY if args.tiny else FULL:
        model = get_model_builder(name)().to(device).eval()
        for dtype_name in args.dtype:
            model.to(DTYPES[dtype_name])
            for width, spatial, temporal in configs:
                static = export_subnet(model, width).to(device).eval()
                start = time.perf_counter()
                set_width(model, width, warn_uncalibrated=False)
                switch_ms = (time.perf_counter() - start) * 1e3
                for batch in args.batch_size:
                    x = _on(model.example_input(spatial, temporal, batch), device, DTYPES[dtype_name])
                    a, s = _ratio(model, static, x, args.repeats, device)
                    ratios.append(a / s)
                    print(f"{name:14s} {dtype_name:>8s} {batch:5d} {width:5.2f} {spatial:5d} "
                          f"{temporal:6d} {a * 1e3:12.1f} {s * 1e3:10.1f} {a / s:6.3f} "
                          f"{switch_ms:10.2f}")
        set_width(model, 1.0)
        del model
    print(f"max ratio {max(ratios):.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
