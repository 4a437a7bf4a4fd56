#!/usr/bin/env python3
"""Time every configuration of a finished run on a device: the latency table and the
query table by latency beside the one by FLOPs.

    python tools/measure_latency.py --cfg configs/Demo/MutualNet_Slow_Digits.yaml
    python tools/measure_latency.py --cfg CONFIG.yaml --batch 1 8 --device cuda
    python tools/measure_latency.py --batch 1 8 --cfg CONFIG.yaml OUTPUT_DIR output/run2

Reads OUTPUT_DIR's calibrated checkpoint (``checkpoints/checkpoint_calibrated.pyth``)
and search table (``search_table.json``: the configurations the run evaluated, with
their GFLOPs and accuracy), and times each configuration as deployed
(:class:`mutualnet3d.deploy.BudgetedModel`: the full-size clip resized on the device,
the configuration's BN statistics): warm-up rounds, then interleaved rounds in which
every configuration is called twice, right after another one (``switch_ms``) and
right after itself (``latency_ms``, median, with its interquartile range). Writes
OUTPUT_DIR/latency_table.{csv,json}, query_table_latency.{csv,json} (the Pareto front
of accuracy vs milliseconds at the first batch size) and accuracy_latency.png, and
prints where the FLOPs front and the latency front differ.

KEY VALUE overrides go last; a list option (``--budgets``, ``--batch``) takes every
number that follows it, so put a single-valued option or ``--cfg`` between them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from mutualnet3d.config import load_config
from mutualnet3d.deploy import (
    BudgetedModel,
    LatencyTable,
    format_latency_table,
    front_differences,
    load_calibrated,
    measure_latency,
    plot_fronts,
    search_rows,
    write_latency_tables,
)
from mutualnet3d.engine.spec import RunSpec


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cfg", dest="cfg_files", action="append", required=True)
    parser.add_argument("--batch", type=int, nargs="+", default=[1], help="batch sizes")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds")
    parser.add_argument("--repeats", type=int, default=10, help="timed rounds")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall: latency; cpu: the process's CPU time (a CPU shared with other jobs)",
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    return parser.parse_args(argv)


def _example(model: torch.nn.Module, device: torch.device):
    """Full-size random arguments of one call per batch size (a detector's boxes too)."""
    generator = torch.Generator().manual_seed(0)

    def example(batch: int) -> tuple:
        args = model.example_args(batch_size=batch)
        inputs = args[0] if isinstance(args[0], list) else [args[0]]
        random = [torch.randn(x.shape, generator=generator).to(device) for x in inputs]
        return (random if isinstance(args[0], list) else random[0], *args[1:])

    return example


def report(table: LatencyTable) -> str:
    """The table, both fronts and where they differ, as printed."""
    batch = table.batch_sizes[0]
    flops_only, latency_only = front_differences(table)
    lines = [
        f"{len(table.rows)} configurations on {table.device}, {table.threads} threads, batch "
        f"sizes {list(table.batch_sizes)}: {table.warmup} warm-up + {table.repeats} "
        f"interleaved rounds, {table.clock} clock, ms = median of steady calls (IQR), "
        f"switch = call after another",
        format_latency_table(table),
        f"query table by FLOPs ({len(table.flops_front())} configurations):",
        format_latency_table(table, table.flops_front()),
        f"query table by latency at batch {batch} ({len(table.front())} configurations):",
        format_latency_table(table, table.front()),
    ]
    if not flops_only and not latency_only:
        lines.append("the FLOPs front and the latency front hold the same configurations")
    else:
        names = lambda rows: ", ".join(r.name for r in rows) or "none"  # noqa: E731
        lines.append(f"on the FLOPs front only: {names(flops_only)}")
        lines.append(f"on the latency front only (batch {batch}): {names(latency_only)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    spec = RunSpec.from_cfg(load_config(args.cfg_files, args.opts))
    device = torch.device(args.device)
    model = spec.model.build()
    load_calibrated(model, spec.output_dir)
    model.to(device)
    out = Path(spec.output_dir)
    rows, metric = search_rows(spec.output_dir)
    budgeted = BudgetedModel(model, rows, align_corners=spec.resize_align_corners)
    table = measure_latency(
        budgeted,
        rows,
        _example(model, device),
        args.batch,
        device=device,
        warmup=args.warmup,
        repeats=args.repeats,
        metric_name=metric,
        clock=args.clock,
    )
    paths = write_latency_tables(table, str(out))
    plot = plot_fronts(
        table,
        str(out / "accuracy_latency.png"),
        metric_label="mAP (%)" if metric == "map" else "top-1 (%)",
        title=f"{spec.model.name}: {table.device}, {table.threads} threads",
    )
    print(report(table))
    print(f"wrote {paths['latency_table']}, {paths['query_table_latency']} and {plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
