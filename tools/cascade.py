#!/usr/bin/env python3
"""An input-adaptive cascade over a finished run's query table, fitted on one split and
reported on another, against the static query table on the same clips.

    python tools/cascade.py --cfg configs/Demo/MutualNet_Slow_Digits.yaml
    python tools/cascade.py --budgets 0.002 0.004 --cfg CONFIG.yaml --max-stages 2
    python tools/cascade.py --cfg CONFIG.yaml --max-stages 0   # the whole query table only

Each configuration of OUTPUT_DIR's query table (``query_table.json``, chosen on the
validation split) runs once on every clip of the fit split (val) and of the report split
(test), with its calibrated BN statistics; the cascade is then simulated exactly on these
logits (:mod:`mutualnet3d.deploy.cascade`): a clip runs the cheapest stage first and
escalates while its max softmax is below the threshold, paying for every stage it ran.
For each budget (average GFLOPs per clip; default: each configuration's GFLOPs and the
geometric midpoints) the stages (at most ``--max-stages`` configurations, cheapest
first, or the whole table) and their shared threshold are fitted on the fit split; the
report split shows what they give on other clips, beside the configuration the static
query table picks for the budget. Writes OUTPUT_DIR/cascade.json and
cascade_accuracy_flops.png. Single-label classification runs only.

KEY VALUE overrides go last; a list option (``--budgets``, ``--batch``) takes every
number that follows it, so put a single-valued option or ``--cfg`` between them.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import torch

from mutualnet3d.config import load_config
from mutualnet3d.data import build_dataset
from mutualnet3d.deploy import (
    FittedCascade,
    SplitLogits,
    collect_logits,
    default_budgets,
    fit_cascade,
    load_calibrated,
    plot_cascade,
    simulate_cascade,
    subnet_config,
)
from mutualnet3d.engine.spec import RunSpec
from mutualnet3d.evaluation import ConfigResult, read_table, select_config


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cfg", dest="cfg_files", action="append", required=True)
    parser.add_argument("--budgets", type=float, nargs="+", help="average GFLOPs per clip")
    parser.add_argument(
        "--max-stages",
        type=int,
        default=3,
        help="longest chain of configurations tried besides the whole table (0: only it)",
    )
    parser.add_argument("--fit-split", default="val")
    parser.add_argument("--report-split", default="test")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    return parser.parse_args(argv)


def split_logits(
    spec: RunSpec,
    model: torch.nn.Module,
    query: Sequence[ConfigResult],
    split: str,
    device: torch.device,
) -> SplitLogits:
    """Every query-table configuration's logits on ``split`` (as the search reads it)."""
    dataset = build_dataset(spec.train_data, split, alpha=model.alpha)
    loader = spec.loader.eval_loader(dataset, spec.search.batch_size)
    configs = [subnet_config(r) for r in query]
    return collect_logits(model, loader, configs, device, align_corners=spec.resize_align_corners)


def sweep(
    query: Sequence[ConfigResult],
    fit: SplitLogits,
    held: SplitLogits,
    budgets: Sequence[float],
    max_stages: int,
) -> list[dict[str, Any]]:
    """Per budget: the cascade fitted on ``fit``, its outcome on ``held``, and the static
    configuration chosen on ``fit`` for the budget with its outcome on ``held``."""
    gflops = [r.gflops for r in query]
    chosen_on = [replace(r, metric=fit.accuracy(i)) for i, r in enumerate(query)]
    records = []
    for budget in budgets:
        fitted: FittedCascade = fit_cascade(fit, gflops, budget, max_stages=max_stages or None)
        outcome = simulate_cascade(fitted.cascade, held, gflops)
        static = select_config(chosen_on, budget)
        index = chosen_on.index(static)
        records.append(
            {
                "budget_gflops": budget,
                "stages": [query[i].name for i in fitted.cascade.stages],
                "thresholds": [round(t, 6) for t in fitted.cascade.thresholds],
                "fit": {
                    "top1": round(fitted.fitted.accuracy, 3),
                    "avg_gflops": fitted.fitted.avg_gflops,
                    "exits": list(fitted.fitted.exits),
                },
                "report": {
                    "top1": round(outcome.accuracy, 3),
                    "avg_gflops": outcome.avg_gflops,
                    "exits": list(outcome.exits),
                },
                "static": {
                    "configuration": query[index].name,
                    "gflops": query[index].gflops,
                    "fit_top1": round(fit.accuracy(index), 3),
                    "report_top1": round(held.accuracy(index), 3),
                },
            }
        )
    return records


def report(
    query: Sequence[ConfigResult],
    fit: SplitLogits,
    held: SplitLogits,
    records: Sequence[dict[str, Any]],
    splits: tuple[str, str],
) -> str:
    """The static query table and the cascade sweep, on the report split, as printed."""
    a, b = splits
    lines = [
        f"static query table ({len(query)} configurations, chosen on val), "
        f"top-1 on {a} / {b} ({held.labels.numel()} clips):"
    ]
    for i, r in enumerate(query):
        lines.append(
            f"  {r.name:>16} {r.gflops:>10.4g} GFLOPs  {fit.accuracy(i):6.2f} / "
            f"{held.accuracy(i):6.2f}"
        )
    if a == "val" and any(abs(fit.accuracy(i) - r.metric) > 0.01 for i, r in enumerate(query)):
        lines.append("  warning: val top-1 differs from the query table's: not the searched data?")
    lines.append(
        f"cascade, fitted on {a} under each budget, reported on {b} "
        f"(avg GFLOPs counts every stage a clip ran):"
    )
    lines.append(
        f"  {'budget':>10} {f'{a} top1':>9} {f'{a} GFLOPs':>11} {f'{b} top1':>9} "
        f"{f'{b} GFLOPs':>11}  {'static (' + b + ')':>24}  stages @ threshold"
    )
    for rec in records:
        static = rec["static"]
        lines.append(
            f"  {rec['budget_gflops']:>10.4g} {rec['fit']['top1']:>9.2f} "
            f"{rec['fit']['avg_gflops']:>11.4g} {rec['report']['top1']:>9.2f} "
            f"{rec['report']['avg_gflops']:>11.4g}  "
            f"{static['configuration'] + ' ' + format(static['report_top1'], '.2f'):>24}  "
            f"{' > '.join(rec['stages'])} @ {rec['thresholds'][0] if rec['thresholds'] else '-'}"
        )
    return "\n".join(lines)


def write_outputs(
    out: Path,
    query: Sequence[ConfigResult],
    fit: SplitLogits,
    held: SplitLogits,
    records: Sequence[dict[str, Any]],
    splits: tuple[str, str],
    max_stages: int,
    title: str,
) -> Path:
    """``cascade.json`` and ``cascade_accuracy_flops.png``; returns the plot's path."""
    configurations = [
        {
            "configuration": r.name,
            "width": r.width,
            "spatial": r.spatial,
            "temporal": r.temporal,
            "gflops": r.gflops,
            f"{splits[0]}_top1": round(fit.accuracy(i), 3),
            f"{splits[1]}_top1": round(held.accuracy(i), 3),
        }
        for i, r in enumerate(query)
    ]
    result = {
        "fit_split": splits[0],
        "report_split": splits[1],
        "max_stages": max_stages,
        "configurations": configurations,
        "budgets": list(records),
    }
    (out / "cascade.json").write_text(json.dumps(result, indent=2))
    return plot_cascade(
        [(r.gflops, held.accuracy(i)) for i, r in enumerate(query)],
        [(rec["report"]["avg_gflops"], rec["report"]["top1"]) for rec in records],
        str(out / "cascade_accuracy_flops.png"),
        title=title,
        fitted=[(rec["fit"]["avg_gflops"], rec["fit"]["top1"]) for rec in records],
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spec = RunSpec.from_cfg(load_config(args.cfg_files, args.opts))
    device = torch.device(args.device)
    model = spec.model.build()
    if spec.multi_label or model.detects:
        print("error: the cascade needs single-label classification", file=sys.stderr)
        return 2
    out = Path(spec.output_dir)
    query = read_table(str(out / "query_table.json"))
    budgets = args.budgets or default_budgets([r.gflops for r in query])
    cheapest = min(query, key=lambda r: r.gflops)
    if min(budgets) < cheapest.gflops:
        print(
            f"error: budget {min(budgets):g} GFLOPs is below the cheapest configuration of "
            f"the query table, {cheapest.name} at {cheapest.gflops:g} GFLOPs",
            file=sys.stderr,
        )
        return 2
    load_calibrated(model, spec.output_dir)
    model.to(device)
    fit = split_logits(spec, model, query, args.fit_split, device)
    held = split_logits(spec, model, query, args.report_split, device)
    records = sweep(query, fit, held, budgets, args.max_stages)
    splits = (args.fit_split, args.report_split)
    print(report(query, fit, held, records, splits))
    title = f"{spec.model.name}: cascade fitted on {splits[0]}, shown on {splits[1]}"
    plot = write_outputs(out, query, fit, held, records, splits, args.max_stages, title)
    print(f"wrote {out / 'cascade.json'} and {plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
