"""Switch-and-forward of BudgetedModel / forward of the matching static export, per
configuration of a query table, measured side by side in one run.

Each timed BudgetedModel call passes the configuration's own GFLOPs as the budget and
follows a call at another configuration, so it pays the whole deployment path: the
table lookup, the switch (``set_width``: widths, BN statistics key, slices of the
weights taken afresh) and the forward. The static side is ``export_subnet`` of that
width with that configuration's BN statistics. Both sides get the full-size clip and
resize it to the configuration (``resize_input``): the resize is counted on both.
Rounds are interleaved (A, B, then B, A, each round in a rotated order of
configurations); the ratio is of the medians. Target: at most 1.05 on the CPU.
``--clock cpu`` times the process's CPU time instead of elapsed time: on a CPU shared
with other jobs it leaves out the waits, so the ratio survives the contention.

    python bench/bench_budgeted.py                           # synthetic slow_tiny (seconds)
    python bench/bench_budgeted.py --cfg CONFIG.yaml [KEY VALUE ...]   # a finished run
    python bench/bench_budgeted.py --model slow_r50 --widths 0.63 0.8 1.0 \\
        --spatial 224 178 142 --temporal 8 5 3               # the paper's grid, synthetic

A synthetic model is calibrated on one random batch per configuration, and its "query
table" is every configuration (accuracy is not what is timed).
"""

from __future__ import annotations

import argparse
import statistics
from typing import Sequence

import torch
import torch.nn as nn

from mutualnet3d.config import load_config
from mutualnet3d.deploy import BudgetedModel, device_name, load_calibrated, subnet_config
from mutualnet3d.deploy import time_rounds
from mutualnet3d.engine.forward import forward_at, resize_input
from mutualnet3d.engine.spec import RunSpec
from mutualnet3d.evaluation import ConfigResult, read_table
from mutualnet3d.models import get_model_builder
from mutualnet3d.slim import BNCalibrator, SubnetConfig, count_flops, export_subnet


def synthetic(args: argparse.Namespace) -> tuple[nn.Module, list[ConfigResult], bool]:
    """A registered model calibrated on random clips at every grid configuration, and
    the grid as its table (ranked by cost)."""
    kwargs = {"num_frames": args.num_frames} if args.num_frames else {}
    model = get_model_builder(args.model)(**kwargs).eval()
    full = model.full_config()
    spatial = args.spatial or [full.spatial]
    temporal = args.temporal or [full.temporal]
    configs = [SubnetConfig(w, s, t) for w in args.widths for s in spatial for t in temporal]
    calibrator = BNCalibrator(model)
    clip = torch.randn_like(model.example_input(batch_size=2))
    for config in configs:
        calibrator.update(config.width, config.key, lambda m, c=config: forward_at(m, clip, c))
    calibrator.finish()
    ops = "conv_linear" if model.input_kind == "image" else "all"
    flops = [
        count_flops(model, model.example_args(c.spatial, c.temporal), c.width, ops) / 1e9
        for c in configs
    ]
    order = sorted(range(len(configs)), key=lambda i: flops[i])
    table = [
        ConfigResult(
            configs[i].width, configs[i].spatial, configs[i].temporal, flops[i], 0.0, float(rank)
        )
        for rank, i in enumerate(order)
    ]
    return model, table, False


def from_run(args: argparse.Namespace) -> tuple[nn.Module, list[ConfigResult], bool]:
    """A finished run's calibrated model and query table."""
    spec = RunSpec.from_cfg(load_config(args.cfg, args.opts))
    model = spec.model.build()
    load_calibrated(model, spec.output_dir)
    return model, read_table(f"{spec.output_dir}/query_table.json"), spec.resize_align_corners


def bench(
    model: nn.Module, table: Sequence[ConfigResult], align_corners: bool, args: argparse.Namespace
) -> None:
    device = torch.device(args.device)
    model = model.to(device)
    budgeted = BudgetedModel(model, table, align_corners=align_corners)
    x = torch.randn_like(model.example_input(batch_size=args.batch_size))
    rows = [r for r in table if budgeted.select(budget_gflops=r.gflops) == subnet_config(r)]
    groups = []
    for row in rows:
        config = subnet_config(row)
        static = export_subnet(model, config.width, config.key).to(device).eval()

        def adaptive(row=row):
            budgeted(x, budget_gflops=row.gflops)

        def plain(static=static, config=config):
            with torch.no_grad():
                static(resize_input(x, config, align_corners=align_corners))

        groups.append((adaptive, plain))
    times = time_rounds(
        groups,
        warmup=args.warmup,
        repeats=args.repeats,
        device=device,
        alternate=True,
        clock=args.clock,
    )
    print(
        f"device={device_name(device)} threads={torch.get_num_threads()} "
        f"batch={args.batch_size} repeats={args.repeats} clock={args.clock} "
        f"(medians of interleaved calls; "
        f"resize from {tuple(x.shape[-3:])} counted on both sides)"
    )
    print(
        f"{'configuration':>18} {'GFLOPs':>10} {'budgeted ms':>12} {'static ms':>10} {'ratio':>6}"
    )
    ratios = []
    for row, (a, s) in zip(rows, times):
        a, s = statistics.median(a), statistics.median(s)
        ratios.append(a / s)
        print(f"{row.name:>18} {row.gflops:>10.4g} {a * 1e3:>12.3f} {s * 1e3:>10.3f} {a / s:>6.3f}")
    print(f"max ratio {max(ratios):.3f}, median {statistics.median(ratios):.3f} (target <= 1.05)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cfg", action="append", help="a finished run's config")
    parser.add_argument("--model", default="slow_tiny", help="synthetic: a registered model")
    parser.add_argument("--widths", type=float, nargs="+", default=[0.5, 0.75, 1.0])
    parser.add_argument("--spatial", type=int, nargs="+", default=[32, 24, 16])
    parser.add_argument("--temporal", type=int, nargs="+", default=[4, 3, 2])
    parser.add_argument("--num-frames", type=int, help="synthetic: the model's full frames")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="cpu: the process's CPU time, for a CPU shared with other jobs",
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE overrides (--cfg)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    bench(*(from_run(args) if args.cfg else synthetic(args)), args)


if __name__ == "__main__":
    main()
