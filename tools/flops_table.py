#!/usr/bin/env python3
"""Print the FLOPs and parameters of every configuration a config evaluates.

    python tools/flops_table.py --cfg configs/Kinetics/MutualNet_Slow_8x8.yaml
    python tools/flops_table.py --cfg configs/ImageNet/MutualNet_MobileNetV1.yaml \\
        MUTUALNET.EVAL_WIDTHS "[0.25, 0.5, 0.75, 1.0]"

The grid is MUTUALNET's evaluation grid (widths x spatial x temporal sizes). FLOPs are
fvcore's multiply-adds for one clip (one view) at batch size 1 (a detector's: with one
box): ``--ops all`` (default for video, PySlowFast's convention) or ``--ops conv_linear``
(the 2D papers'). With MUTUALNET.ENABLE, a last line gives the expected FLOPs of one
training step's cohort (the full network, the smallest width and MUTUALNET.NUM_RANDOM
random ones, at the sizes they draw) next to the full network's, with the paper's
Table IV for comparison.
"""

from __future__ import annotations

import argparse
import csv
import functools
import sys

from tabulate import tabulate

from mutualnet3d.config import eval_grid, load_config
from mutualnet3d.engine.spec import RunSpec
from mutualnet3d.models import build_model
from mutualnet3d.slim import SubnetConfig, complexity_table, count_flops


# Paper Table IV: Slow 8x8, widths [0.63, 1], {142, 178, 224} px, {3, 5, 8} frames, the
# full network and two sub-networks a step; GFLOPs at PySlowFast's 256 px test crop.
TABLE_IV = "paper Table IV (Slow 8x8, 2 sub-networks): 74.8 expected vs 54.5 full GFLOPs, x1.372"


def training_step_line(cfg, model, ops: str) -> str:
    """The expected GFLOPs of one training step's cohort (forwards, one clip each)
    next to the full network's, and Table IV's figures."""
    cohort = RunSpec.from_cfg(cfg, world_size=1).cohort
    sampler = cohort.sampler(model.full_config(), seed=0)

    @functools.lru_cache(maxsize=None)
    def gflops(config: SubnetConfig) -> float:
        inputs = model.example_args(config.spatial, config.temporal)
        return count_flops(model, inputs, config.width, ops) / 1e9

    full = gflops(model.full_config())
    expected = sampler.expected_cost(gflops)
    return (
        f"training step ({cohort.num_random + 1} sub-networks besides the full one, "
        f"{cohort.sampling} sizes): {expected:.4g} expected GFLOPs vs {full:.4g} for the "
        f"full network, x{expected / full:.3f}; {TABLE_IV}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", dest="cfg_files", action="append", required=True, help="YAML config")
    parser.add_argument("--ops", choices=("all", "conv_linear"), default=None,
                        help="operators counted (default: all for video, conv_linear for 2D)")
    parser.add_argument("--csv", help="also write the table to this CSV file")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args(argv)
    cfg = load_config(args.cfg_files, args.opts)
    model = build_model(cfg).eval()
    widths, spatial, temporal = eval_grid(cfg.MUTUALNET, model.full_config())
    ops = args.ops or ("conv_linear" if model.input_kind == "image" else "all")
    # example_args: the clip, and for a detector one whole-frame box per clip.
    rows = complexity_table(model, model.example_args, widths, spatial, temporal, ops=ops)
    full = max(rows, key=lambda r: r.gflops).gflops
    table = [[r.width, r.spatial, r.temporal if r.temporal is not None else "-",
              f"{r.gflops:.4f}", f"{r.mparams:.3f}", f"{r.gflops / full:.3f}"] for r in rows]
    headers = ["width", "spatial", "temporal", "GFLOPs", "params (M)", "x full"]
    print(f"{cfg.MODEL.MODEL_NAME}: {len(rows)} configurations, fvcore '{ops}' FLOPs per clip")
    print(tabulate(table, headers=headers))
    low = min(rows, key=lambda r: r.gflops)
    print(f"range: x{low.gflops / full:.3f} (width {low.width}, {low.spatial} px, "
          f"{low.temporal} frames) to x1.0 ({full:.3f} GFLOPs)")
    if cfg.MUTUALNET.ENABLE:
        print(training_step_line(cfg, model, ops))
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(headers)
            writer.writerows(table)


if __name__ == "__main__":
    sys.exit(main())
