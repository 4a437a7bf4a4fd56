#!/usr/bin/env python3
"""MutualNet vs independently trained networks (I-Net) vs US-Net, on the embedded digits.

The paper's central claim at small scale: one MutualNet matches or beats networks trained
alone at each configuration, and beats US-Net (widths only) at equal FLOPs. Every run is
``tools/run_net.py`` on a config of configs/Demo/ with overrides (printed as it starts),
with the same epochs and data; only RNG_SEED changes between seeds.

* video: Moving Digits (8-frame clips of 12 motions at 32 px), the demo's narrow Slow;
* image: the 5,000 MNIST digits, MobileNetV1 at 1/8 width, resolutions {28, 24, 20, 16}.

For each seed: MutualNet (then BN calibration and the search over the grid), US-Net
(``MUTUALNET.SAMPLING width_only``: the cohort at full resolution; searched over the same
grid, of which its comparison uses the full-resolution widths, as in the paper) and one
I-Net per configuration of ``INET_CONFIGS`` (``MUTUALNET.ENABLE False``, tested at its
own configuration on the same held-out clips). Writes ``{out}/{part}/results.md`` (the
tables), ``results.json`` and ``accuracy_flops.png``. Runs already done are reused, so an
interrupted study continues where it stopped.

    python tools/digits_study.py --out output/digits_study               # both parts, seeds 0 1 2
    python tools/digits_study.py --out output/digits_study --parts image --seeds 0
    python tools/digits_study.py --out output/digits_study_24ep --parts image --epochs 24
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mutualnet3d.evaluation.search import (  # noqa: E402
    ConfigResult, pareto_front, read_table, select_config,
)

PARTS: dict[str, dict[str, Any]] = {
    "video": {
        "config": "configs/Demo/MutualNet_Slow_Digits.yaml",
        "inet": [(1.0, 32, 8), (1.0, 24, 4), (0.5, 24, 4), (0.5, 16, 2)],
        # Validation (after precise BN) once, at the end; I-Nets are then tested.
        "extra": ["TEST.ENABLE", "False", "TRAIN.EVAL_PERIOD", "3"],
    },
    "image": {
        "config": "configs/Demo/MutualNet_MobileNetV1_Digits.yaml",
        "inet": [(1.0, 28, None), (0.75, 24, None), (0.5, 20, None), (0.25, 16, None)],
        "extra": ["TRAIN.EVAL_PERIOD", "8"],
    },
}


def run(output: Path, config: str, opts: list[str]) -> float:
    """``tools/run_net.py`` once (skipped when ``output/done`` exists); wall seconds."""
    done = output / "done"
    if done.exists():
        return float(done.read_text())
    command = [sys.executable, str(ROOT / "tools" / "run_net.py"), "--cfg", config,
               *opts, "OUTPUT_DIR", str(output)]
    print("$", " ".join(command[1:]), flush=True)
    start = time.perf_counter()
    with open(output.parent / f"{output.name}.log", "w") as log:
        subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=True)
    seconds = time.perf_counter() - start
    done.write_text(f"{seconds:.1f}")
    print(f"  {seconds:.0f} s", flush=True)
    return seconds


def inet_opts(width: float, spatial: int, temporal: Optional[int]) -> list[str]:
    opts = ["MUTUALNET.ENABLE", "False", "MUTUALNET.STATIC_WIDTH", str(width),
            "MUTUALNET.STATIC_SPATIAL_SIZE", str(spatial), "TEST.ENABLE", "True"]
    if temporal is not None:
        opts += ["MUTUALNET.STATIC_TEMPORAL_SIZE", str(temporal)]
    return opts


def name(width: float, spatial: int, temporal: Optional[int]) -> str:
    return f"w{width:g}_s{spatial}" + ("" if temporal is None else f"_t{temporal}")


def mean_std(values: list[float]) -> str:
    if not values:
        return "n/a"
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.1f} ± {spread:.1f}"


def lookup(table: list[ConfigResult], width: float, spatial: int, temporal: Optional[int]) -> ConfigResult:
    for row in table:
        if abs(row.width - width) < 1e-6 and row.spatial == spatial and row.temporal == temporal:
            return row
    raise KeyError(f"configuration {name(width, spatial, temporal)} is not in the search table")


def study(part: str, seeds: list[int], out: Path, epochs: Optional[int] = None) -> None:
    spec = PARTS[part]
    root = out / part
    wall: dict[str, float] = {}
    tables: dict[str, list[list[ConfigResult]]] = {"mutualnet": [], "usnet": []}
    inet: dict[tuple, list[float]] = {c: [] for c in spec["inet"]}
    # Another schedule: every method trains that many epochs, validated once at the end.
    schedule = [] if epochs is None else ["SOLVER.MAX_EPOCH", str(epochs), "TRAIN.EVAL_PERIOD", str(epochs)]
    for seed in seeds:
        base = ["RNG_SEED", str(seed), *spec["extra"], *schedule]
        for method, opts in (("mutualnet", []), ("usnet", ["MUTUALNET.SAMPLING", "width_only"])):
            output = root / f"seed{seed}" / method
            output.mkdir(parents=True, exist_ok=True)
            wall[f"{method}/seed{seed}"] = run(output, spec["config"], base + opts)
            tables[method].append(read_table(str(output / "search_table.json")))
        for config in spec["inet"]:
            output = root / f"seed{seed}" / f"inet_{name(*config)}"
            output.mkdir(parents=True, exist_ok=True)
            wall[f"inet_{name(*config)}/seed{seed}"] = run(
                output, spec["config"], base + inet_opts(*config))
            inet[config].append(json.loads((output / "test_results.json").read_text())["top1"])

    full_spatial = max(row.spatial for row in tables["mutualnet"][0])
    full_temporal = max((row.temporal for row in tables["mutualnet"][0] if row.temporal), default=None)

    def usnet_widths(table: list[ConfigResult]) -> list[ConfigResult]:
        return [r for r in table if r.spatial == full_spatial and r.temporal == full_temporal]

    rows = []
    for config in spec["inet"]:
        gflops = lookup(tables["mutualnet"][0], *config).gflops
        same = [lookup(t, *config).metric for t in tables["mutualnet"]]
        best = [select_config(t, gflops) for t in tables["mutualnet"]]
        us_best = [select_config(usnet_widths(t), gflops) for t in tables["usnet"]]
        rows.append({
            "config": name(*config), "gflops": gflops, "inet": inet[config],
            "mutualnet_same_config": same,
            "mutualnet_best": [b.metric for b in best if b is not None],
            "mutualnet_best_configs": [b.name if b is not None else None for b in best],
            "usnet_best": [b.metric for b in us_best if b is not None],
        })
    results = {"part": part, "seeds": seeds, "epochs": epochs, "rows": rows, "wall_seconds": wall}
    (root / "results.json").write_text(json.dumps(results, indent=2))

    lines = [
        "| configuration | MFLOPs | I-Net | MutualNet, same configuration | MutualNet, best within the MFLOPs | US-Net, best within the MFLOPs |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['config']} | {row['gflops'] * 1e3:.3g} | {mean_std(row['inet'])} | "
            f"{mean_std(row['mutualnet_same_config'])} | {mean_std(row['mutualnet_best'])} | "
            f"{mean_std(row['usnet_best'])} |"
        )
    total = sum(wall.values())
    lines += ["", f"Top-1 (%) on the held-out split, mean ± standard deviation over seeds "
              f"{seeds}; n/a: no configuration within the budget. Wall time of the "
              f"{len(wall)} runs: {total / 60:.1f} min."]
    (root / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    plot(root / "accuracy_flops.png", part, tables, inet, usnet_widths)


def plot(path: Path, part: str, tables, inet, usnet_widths) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method, color, select in (("mutualnet", "C0", lambda t: t), ("usnet", "C1", usnet_widths)):
        for i, table in enumerate(tables[method]):
            front = pareto_front(select(table))
            ax.plot([r.gflops for r in front], [r.metric for r in front], "-o", color=color,
                    markersize=3, alpha=0.7,
                    label=("MutualNet (query table)" if method == "mutualnet" else "US-Net (widths)") if i == 0 else None)
    for k, (config, values) in enumerate(inet.items()):
        gflops = lookup(tables["mutualnet"][0], *config).gflops
        ax.errorbar([gflops], [statistics.mean(values)],
                    yerr=[statistics.stdev(values) if len(values) > 1 else 0.0],
                    fmt="s", color="C3", capsize=3, label="I-Net (mean ± std)" if k == 0 else None)
    ax.set_xscale("log")
    ax.set_xlabel("GFLOPs")
    ax.set_ylabel("top-1 (%)")
    ax.set_title(f"digits study ({part}): one curve per seed")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="output/digits_study", help="folder of all runs")
    parser.add_argument("--parts", nargs="+", default=["image", "video"], choices=sorted(PARTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None,
                        help="SOLVER.MAX_EPOCH for every run (default: the config's)")
    args = parser.parse_args(argv)
    for part in args.parts:
        study(part, args.seeds, Path(args.out), args.epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
