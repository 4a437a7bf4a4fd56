#!/usr/bin/env python3
"""MutualNet vs networks trained alone (I-Net) vs US-Net, at small scale, on 2 CPU cores.

The paper's claims (sections 3 and 6): one MutualNet is at least as accurate at each of
its configurations as a network trained alone there (I-Net), and at equal FLOPs it beats
US-Net, which trains the widths only. Every run is ``tools/run_net.py`` on a config of
configs/Demo/ with the overrides of :data:`PARTS` (printed as it starts); only RNG_SEED
changes between seeds, and every method gets the same data, epochs and optimiser.

* video: Moving Digits rendered at 72 px, cropped to 64 (the class is the motion), the
  demo's narrow Slow; the paper's Kinetics ranges (section 4.2.1): widths [0.63, 1],
  spatial x{1, 0.8, 0.63} = {64, 51, 40} px, {8, 5, 3} of 8 frames, two sub-networks
  per step (the smallest and one random);
* image: the 4,000 training digits scaled up to 64 px (500 val, 500 test), MobileNetV1
  at 1/8 width; the paper's ImageNet ranges: widths [0.25, 1], resolutions
  x{1, 0.86, 0.71, 0.57} = {64, 55, 45, 36} px, the official cohort (full, smallest, two
  random) and its resize (align_corners True) and weight-decay rule;
* fashion (not in the default parts): the same on Fashion-MNIST (Debian's
  dataset-fashion-mnist; 10,000 training images).

Both train with SGD, Nesterov momentum 0.9 and a cosine schedule, as the official code.
MutualNet and US-Net (``MUTUALNET.SAMPLING width_only``, evaluated at full resolution)
are BN-calibrated per configuration and evaluated on the paper's 0.05 width grid on val
and on test (``MUTUALNET.SEARCH_SPLITS [val, test]``); a configuration within a budget
is chosen on val and reported on test. I-Nets (``MUTUALNET.ENABLE False``) are tested on
test at their own configuration. Each run validates every epoch: its curve is the
convergence evidence. Writes ``{out}/{part}/results.md`` (tables), ``results.json``,
``accuracy_flops.png`` and ``convergence.png``; finished runs are reused, so an
interrupted study continues where it stopped.

    python tools/digits_study.py --out output/digits_study              # all, seeds 0 1 2
    python tools/digits_study.py --out output/digits_study --parts video --seeds 0
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mutualnet3d.data.fashion_mnist import DEBIAN_DIR  # noqa: E402
from mutualnet3d.evaluation.search import ConfigResult, pareto_front, read_table, select_config  # noqa: E402

SGD = ["SOLVER.OPTIMIZING_METHOD", "sgd", "SOLVER.MOMENTUM", "0.9", "SOLVER.NESTEROV", "True",
       "SOLVER.LR_POLICY", "cosine", "SOLVER.BASE_LR", "0.1", "SOLVER.WEIGHT_DECAY", "5e-4"]
Config = tuple[float, int, Optional[int]]  # width, spatial, temporal (None: images)
# The official 2D recipe's pieces: its weight-decay rule, its resize, its cohort (full,
# smallest, two random), and the paper's ImageNet ranges scaled to 64 px.
IMAGE_RECIPE = [
    "SOLVER.WEIGHT_DECAY_RULE", "mutualnet", "BN.WEIGHT_DECAY", "0.0",
    "SOLVER.WARMUP_EPOCHS", "1.0", "SOLVER.WARMUP_START_LR", "0.01",
    "MUTUALNET.RESIZE_ALIGN_CORNERS", "True", "MUTUALNET.NUM_RANDOM", "2",
    "MUTUALNET.SPATIAL_SIZES", "[64, 55, 45, 36]", "MUTUALNET.EVAL_WIDTHS", "[]",
]

PARTS: dict[str, dict[str, Any]] = {
    "video": {
        "config": "configs/Demo/MutualNet_Slow_Digits.yaml",
        "epochs": 10,
        "opts": [
            *SGD, "SOLVER.WARMUP_EPOCHS", "0.5", "SOLVER.WARMUP_START_LR", "0.01",
            "MOVING_DIGITS.SIZE", "72", "DATA.TRAIN_CROP_SIZE", "64", "DATA.TEST_CROP_SIZE", "64",
            "MOVING_DIGITS.NUM_TRAIN_CLIPS", "2400", "MOVING_DIGITS.NUM_VAL_CLIPS", "600",
            "MUTUALNET.WIDTH_RANGE", "[0.63, 1.0]", "MUTUALNET.NUM_RANDOM", "1",
            "MUTUALNET.SPATIAL_SIZES", "[64, 51, 40]", "MUTUALNET.TEMPORAL_SIZES", "[8, 5, 3]",
            "MUTUALNET.EVAL_WIDTHS", "[]", "MUTUALNET.EVAL_SPATIAL_SIZES", "[64, 51, 40]",
            "MUTUALNET.EVAL_TEMPORAL_SIZES", "[8, 5, 3]",
        ],
        "full": (1.0, 64, 8),
        "inet": [(1.0, 64, 8), (0.8, 51, 5), (0.63, 40, 3)],
    },
    "image": {
        "config": "configs/Demo/MutualNet_MobileNetV1_Digits.yaml",
        "epochs": 20,
        "opts": [*SGD, *IMAGE_RECIPE, "DATA.TRAIN_CROP_SIZE", "64", "DATA.TEST_CROP_SIZE", "64"],
        "full": (1.0, 64, None),
        "inet": [(1.0, 64, None), (0.75, 55, None), (0.5, 45, None), (0.25, 36, None)],
    },
    # Harder images, not run for the tables of docs/RESULTS.md (its 3 seeds would take
    # about 3 hours on 2 CPU cores): --parts fashion.
    "fashion": {
        "config": "configs/Demo/MutualNet_MobileNetV1_Digits.yaml",
        "epochs": 16,
        "opts": [
            *SGD, *IMAGE_RECIPE, "TRAIN.DATASET", "fashion_mnist", "TEST.DATASET", "fashion_mnist",
            "FASHION_MNIST.NUM_TRAIN_IMAGES", "10000",
            "DATA.MEAN", "[0.29, 0.29, 0.29]", "DATA.STD", "[0.35, 0.35, 0.35]",
            "DATA.TRAIN_CROP_SIZE", "64", "DATA.TEST_CROP_SIZE", "64",
        ],
        "full": (1.0, 64, None),
        "inet": [(1.0, 64, None), (0.75, 55, None), (0.5, 45, None), (0.25, 36, None)],
    },
}
METHODS = {
    "mutualnet": ["MUTUALNET.SEARCH_SPLITS", "['val', 'test']", "TEST.ENABLE", "False"],
    # US-Net is compared at full resolution, as in the paper: only those are evaluated.
    "usnet": ["MUTUALNET.SAMPLING", "width_only", "MUTUALNET.SEARCH_SPLITS", "['val', 'test']",
              "TEST.ENABLE", "False"],
}


def name(config: Config) -> str:
    width, spatial, temporal = config
    return f"w{width:g}_s{spatial}" + ("" if temporal is None else f"_t{temporal}")


def inet_opts(config: Config) -> list[str]:
    width, spatial, temporal = config
    opts = ["MUTUALNET.ENABLE", "False", "MUTUALNET.STATIC_WIDTH", str(width),
            "MUTUALNET.STATIC_SPATIAL_SIZE", str(spatial), "TEST.ENABLE", "True"]
    return opts + ([] if temporal is None else ["MUTUALNET.STATIC_TEMPORAL_SIZE", str(temporal)])


def run(output: Path, config: str, opts: list[str]) -> float:
    """``tools/run_net.py`` on one CPU thread (skipped when ``output/done`` exists); wall s."""
    done = output / "done"
    if done.exists():
        return float(done.read_text())
    output.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(ROOT / "tools" / "run_net.py"), "--cfg", config,
               *opts, "OUTPUT_DIR", str(output)]
    print("$", " ".join(command[1:]), flush=True)
    # This checkout's package, whatever is installed; one thread: ``jobs`` runs share the CPU.
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    start = time.perf_counter()
    with open(output.parent / f"{output.name}.log", "w") as log:
        subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=True, env=env)
    seconds = time.perf_counter() - start
    done.write_text(f"{seconds:.1f}")
    print(f"  {output.relative_to(output.parents[2])}: {seconds:.0f} s", flush=True)
    return seconds


def val_curve(output: Path) -> list[float]:
    """Validation top-1 after each epoch, from the run's json_stats lines."""
    curve = []
    for line in (output / "stdout.log").read_text().splitlines():
        if "json_stats:" in line and '"val_epoch"' in line:
            curve.append(json.loads(line.split("json_stats:", 1)[1])["top1"])
    return curve


def lookup(table: list[ConfigResult], config: Config, nearest: bool = False) -> ConfigResult:
    """The row of ``config``; with ``nearest``, of the grid width nearest to its width at
    its sizes (an I-Net width off the 0.05 grid, e.g. 0.8 on 0.63 + 0.05k)."""
    width, spatial, temporal = config
    rows = [r for r in table if r.spatial == spatial and r.temporal == temporal]
    for row in rows:
        if abs(row.width - width) < 1e-6:
            return row
    if nearest and rows:
        return min(rows, key=lambda r: abs(r.width - width))
    raise KeyError(f"configuration {name(config)} is not in the search table")


def chosen_on_val(val: list[ConfigResult], test: list[ConfigResult], budget: float) -> Optional[ConfigResult]:
    """The test row of the best configuration on val within ``budget`` GFLOPs."""
    best = select_config(val, budget)
    return None if best is None else lookup(test, (best.width, best.spatial, best.temporal))


def mean_std(values: list[float]) -> str:
    if not values:
        return "n/a"
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.1f} ± {spread:.1f}"


def train_all(part: str, seeds: list[int], root: Path, jobs: int) -> dict[str, float]:
    """Every run of the part, ``jobs`` at a time (seed by seed); wall seconds by run."""
    spec = PARTS[part]
    base = [*spec["opts"], "SOLVER.MAX_EPOCH", str(spec["epochs"]), "TRAIN.EVAL_PERIOD", "1",
            "TRAIN.CHECKPOINT_PERIOD", str(spec["epochs"])]
    if part == "fashion":
        base += ["DATA.PATH_TO_DATA_DIR", fashion_mnist_dir()]
    runs = {}
    for seed in seeds:
        for method, opts in METHODS.items():
            if method == "usnet":
                full = spec["full"]
                opts = opts + ["MUTUALNET.EVAL_SPATIAL_SIZES", f"[{full[1]}]"]
                if full[2] is not None:
                    opts += ["MUTUALNET.EVAL_TEMPORAL_SIZES", f"[{full[2]}]"]
            runs[f"seed{seed}/{method}"] = ["RNG_SEED", str(seed), *base, *opts]
        for config in spec["inet"]:
            runs[f"seed{seed}/inet_{name(config)}"] = ["RNG_SEED", str(seed), *base, *inet_opts(config)]
    with ThreadPoolExecutor(jobs) as pool:
        futures = {key: pool.submit(run, root / key, spec["config"], opts) for key, opts in runs.items()}
        return {key: future.result() for key, future in futures.items()}


def fashion_mnist_dir() -> str:
    if not os.path.isfile(os.path.join(DEBIAN_DIR, "t10k-labels-idx1-ubyte.gz")):
        raise SystemExit(f"the image part reads Fashion-MNIST from {DEBIAN_DIR}: "
                         "apt-get install dataset-fashion-mnist")
    return DEBIAN_DIR


def study(part: str, seeds: list[int], out: Path, jobs: int) -> dict[str, Any]:
    spec = PARTS[part]
    root = out / part
    wall = train_all(part, seeds, root, jobs)
    tables = {m: [(read_table(str(root / f"seed{s}" / m / "search_table.json")),
                   read_table(str(root / f"seed{s}" / m / "search_table_test.json"))) for s in seeds]
              for m in METHODS}
    inet = {config: [json.loads((root / f"seed{s}" / f"inet_{name(config)}" / "test_results.json")
                                .read_text())["top1"] for s in seeds] for config in spec["inet"]}
    reference = tables["mutualnet"][0][0]

    vs_inet = []
    for config in spec["inet"]:
        gflops = lookup(reference, config, nearest=True).gflops
        same = [lookup(test, config, nearest=True).metric for _, test in tables["mutualnet"]]
        best = [chosen_on_val(val, test, gflops) for val, test in tables["mutualnet"]]
        vs_inet.append({
            "config": name(config), "grid_config": lookup(reference, config, nearest=True).name,
            "gflops": gflops, "inet": inet[config], "mutualnet_same": same,
            "mutualnet_best": [b.metric for b in best], "mutualnet_best_configs": [b.name for b in best],
            "best_minus_inet": [b.metric - i for b, i in zip(best, inet[config])],
        })
    vs_usnet = []
    for row in sorted(tables["usnet"][0][0], key=lambda r: -r.width):
        budget = row.gflops
        us = [chosen_on_val(val, test, budget) for val, test in tables["usnet"]]
        mn = [chosen_on_val(val, test, budget) for val, test in tables["mutualnet"]]
        vs_usnet.append({
            "budget_of": f"US-Net w{row.width:g}", "gflops": budget,
            "usnet": [u.metric for u in us], "mutualnet": [m.metric for m in mn],
            "mutualnet_configs": [m.name for m in mn],
            "mutualnet_minus_usnet": [m.metric - u.metric for m, u in zip(mn, us)],
        })
    curves = {key: val_curve(root / key) for key in wall}
    results = {"part": part, "seeds": seeds, "epochs": spec["epochs"], "overrides": spec["opts"],
               "vs_inet": vs_inet, "vs_usnet": vs_usnet, "val_curves": curves, "wall_seconds": wall}
    (root / "results.json").write_text(json.dumps(results, indent=2))
    (root / "results.md").write_text(report(results, spec))
    plot_accuracy(root / "accuracy_flops.png", part, tables, inet, reference)
    plot_curves(root / "convergence.png", part, curves, spec["epochs"])
    print((root / "results.md").read_text())
    return results


def last_quarter(curve: list[float]) -> tuple[float, float]:
    """(change from the start to the end of the last quarter, its max - min), points."""
    tail = curve[-max(2, len(curve) // 4 + 1):]  # the epoch before the quarter and the quarter
    return tail[-1] - tail[0], max(tail) - min(tail)


def report(results: dict[str, Any], spec: dict[str, Any]) -> str:
    seeds = results["seeds"]
    lines = ["MutualNet vs I-Net at each I-Net's configuration (test top-1 %, mean ± sd over "
             f"seeds {seeds}; 'best within' is chosen on val, reported on test):", "",
             "| configuration | MFLOPs | I-Net | MutualNet, same configuration | MutualNet, best within the MFLOPs (chosen) | best - I-Net |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in results["vs_inet"]:
        chosen = ", ".join(sorted(set(r["mutualnet_best_configs"])))
        lines.append(f"| {r['config']} | {r['gflops'] * 1e3:.3g} | {mean_std(r['inet'])} | "
                     f"{mean_std(r['mutualnet_same'])} | {mean_std(r['mutualnet_best'])} ({chosen}) | "
                     f"{mean_std(r['best_minus_inet'])} |")
    lines += ["", "MutualNet vs US-Net at equal FLOPs (budget: each US-Net width at full "
              "resolution; both chosen on val within it, reported on test):", "",
              "| budget | MFLOPs | US-Net | MutualNet (chosen) | MutualNet - US-Net |",
              "| --- | ---: | ---: | ---: | ---: |"]
    for r in results["vs_usnet"]:
        chosen = ", ".join(sorted(set(r["mutualnet_configs"])))
        lines.append(f"| {r['budget_of']} | {r['gflops'] * 1e3:.3g} | {mean_std(r['usnet'])} | "
                     f"{mean_std(r['mutualnet'])} ({chosen}) | {mean_std(r['mutualnet_minus_usnet'])} |")
    lines += ["", "Convergence: validation top-1 of each run's trained configuration over the "
              f"{results['epochs']} epochs (mean over seeds), and over the last quarter the change "
              "and the range (max - min), mean over seeds:", "",
              "| run | curve (every epoch) | last quarter: change | range |", "| --- | --- | ---: | ---: |"]
    runs = sorted({key.split("/", 1)[1] for key in results["val_curves"]})
    for run_name in runs:
        curves = [results["val_curves"][f"seed{s}/{run_name}"] for s in seeds]
        mean = [statistics.mean(v) for v in zip(*curves)]
        quarters = [last_quarter(c) for c in curves]
        lines.append(f"| {run_name} | {' '.join(f'{v:.1f}' for v in mean)} | "
                     f"{statistics.mean(q[0] for q in quarters):+.1f} | "
                     f"{statistics.mean(q[1] for q in quarters):.1f} |")
    wall = results["wall_seconds"]
    lines += ["", "Wall seconds per run (one CPU thread each), mean over seeds:", ""]
    lines += [f"- {r}: {statistics.mean(wall[f'seed{s}/{r}'] for s in seeds):.0f}" for r in runs]
    lines += ["", f"Total: {sum(wall.values()) / 60:.1f} min of run time in {len(wall)} runs."]
    return "\n".join(lines) + "\n"


def plot_accuracy(path: Path, part: str, tables, inet, reference) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method, color, label in (("mutualnet", "C0", "MutualNet"), ("usnet", "C1", "US-Net (widths)")):
        for i, (_, test) in enumerate(tables[method]):
            front = pareto_front(test)
            ax.plot([r.gflops * 1e3 for r in front], [r.metric for r in front], "-o", color=color,
                    markersize=3, alpha=0.6, label=f"{label}, test front" if i == 0 else None)
    for k, (config, values) in enumerate(inet.items()):
        ax.errorbar([lookup(reference, config, nearest=True).gflops * 1e3], [statistics.mean(values)],
                    yerr=[statistics.stdev(values) if len(values) > 1 else 0.0], fmt="s",
                    color="C3", capsize=3, label="I-Net (mean ± sd)" if k == 0 else None)
    ax.set_xscale("log")
    ax.set_xlabel("MFLOPs")
    ax.set_ylabel("test top-1 (%)")
    ax.set_title(f"digits study ({part}): one curve per seed")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_curves(path: Path, part: str, curves: dict[str, list[float]], epochs: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    names = sorted({key.split("/", 1)[1] for key in curves})
    for i, run_name in enumerate(names):
        for j, (key, curve) in enumerate(sorted((k, c) for k, c in curves.items() if k.endswith("/" + run_name))):
            ax.plot(range(1, len(curve) + 1), curve, color=f"C{i}", alpha=0.7,
                    label=run_name if j == 0 else None)
    ax.axvspan(epochs * 0.75, epochs, color="0.9")
    ax.set_xlabel("epoch")
    ax.set_ylabel("val top-1 (%)")
    ax.set_title(f"{part}: validation after each epoch (shaded: last quarter)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="output/digits_study", help="folder of all runs")
    parser.add_argument("--parts", nargs="+", default=["video", "image"], choices=sorted(PARTS),
                        help="default: video image")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time, one thread each")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    for part in args.parts:
        study(part, args.seeds, Path(args.out), args.jobs)
    print(f"study: {(time.perf_counter() - start) / 60:.1f} min wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
