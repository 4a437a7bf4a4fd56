"""The configuration table and the query table of the deployed model (paper 3.4, 4.3).

After BN calibration every width x spatial x temporal configuration is evaluated; the
table of (configuration, GFLOPs, parameters, accuracy) gives the Pareto front, the
*query table*: for any FLOPs budget, the best configuration that fits.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, TypeVar

import simplejson

from .figures import cost_axes, pyplot, save_figure

__all__ = [
    "ConfigResult",
    "format_table",
    "gflops_cost",
    "pareto_front",
    "plot_tables",
    "read_table",
    "select_config",
    "write_tables",
]


@dataclass(frozen=True)
class ConfigResult:
    """One evaluated configuration. ``metric`` is top-1 (%) or mAP (%), ``top5`` if any."""

    width: float
    spatial: int
    temporal: Optional[int]
    gflops: float
    mparams: float
    metric: float
    top5: Optional[float] = None

    @property
    def name(self) -> str:
        t = "" if self.temporal is None else f"-{self.temporal}f"
        return f"{self.width:.2f}x-{self.spatial}px{t}"


Row = TypeVar("Row")  # a ConfigResult, or any row with a ``metric`` (a latency table's)


def gflops_cost(row: Any) -> float:
    """The default cost of a row: its GFLOPs per clip."""
    return row.gflops


def pareto_front(results: Sequence[Row], cost: Callable[[Row], float] = gflops_cost) -> list[Row]:
    """Configurations no cheaper-or-equal configuration beats, by increasing cost.

    ``cost`` is GFLOPs by default; any other (milliseconds of a latency table, say) gives
    that cost's front. Along the front both cost and accuracy strictly increase, so "the
    best configuration under a budget" is the last entry that fits.
    """
    front: list[Row] = []
    for result in sorted(results, key=lambda r: (cost(r), -r.metric)):
        if not front or result.metric > front[-1].metric:
            front.append(result)
    return front


def select_config(
    table: Sequence[Row], budget: float, cost: Callable[[Row], float] = gflops_cost
) -> Optional[Row]:
    """The most accurate configuration whose ``cost`` (GFLOPs by default) is within
    ``budget`` (in the cost's units); the cheaper of equally accurate ones.

    ``table`` may be the full table or its Pareto front; None when nothing fits.
    """
    fitting = [r for r in table if cost(r) <= budget]
    return max(fitting, key=lambda r: (r.metric, -cost(r)), default=None)


def format_table(rows: Sequence[ConfigResult], metric_name: str = "top1") -> str:
    """``rows`` as aligned text: width, spatial, temporal, GFLOPs, x of the costliest, metric."""
    most = max((r.gflops for r in rows), default=0.0) or 1.0
    lines = [
        f"{'width':>6} {'spatial':>7} {'frames':>6} {'GFLOPs':>10} {'x cost':>7} {metric_name:>7}"
    ]
    for r in rows:
        frames = "-" if r.temporal is None else str(r.temporal)
        lines.append(
            f"{r.width:>6.3f} {r.spatial:>7d} {frames:>6} {r.gflops:>10.4g} "
            f"{r.gflops / most:>7.3f} {r.metric:>7.2f}"
        )
    return "\n".join(lines)


def write_tables(
    results: Sequence[ConfigResult], output_dir: str, metric_name: str = "top1", suffix: str = ""
) -> dict[str, Path]:
    """``search_table{suffix}.{csv,json}`` (every configuration) and
    ``query_table{suffix}.{csv,json}`` (its Pareto front)."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, rows in (("search_table", list(results)), ("query_table", pareto_front(results))):
        name += suffix
        columns = [f.name for f in fields(ConfigResult)]
        header = [metric_name if c == "metric" else c for c in columns]
        with open(out / f"{name}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            for r in rows:
                writer.writerow(["" if v is None else v for v in (getattr(r, c) for c in columns)])
        with open(out / f"{name}.json", "w") as f:
            records = [{h: v for h, v in zip(header, asdict(r).values())} for r in rows]
            simplejson.dump({"metric": metric_name, "configurations": records}, f, indent=2)
        paths[name] = out / f"{name}.csv"
    return paths


def read_table(path: str) -> list[ConfigResult]:
    """Read a ``*_table.json`` back (for deployment: load it with the checkpoint)."""
    with open(path) as f:
        data = json.load(f)
    metric = data["metric"]
    return [
        ConfigResult(
            r["width"],
            r["spatial"],
            r["temporal"],
            r["gflops"],
            r["mparams"],
            r[metric],
            r.get("top5"),
        )
        for r in data["configurations"]
    ]


def plot_tables(
    results: Sequence[ConfigResult], path: str, metric_name: str = "top-1 (%)", title: str = ""
) -> Path:
    """Accuracy vs GFLOPs: every configuration (dots) and the query table (line)."""
    plt = pyplot()
    front = pareto_front(results)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.scatter(
        [r.gflops for r in results],
        [r.metric for r in results],
        s=12,
        c="0.6",
        label="all configurations",
    )
    ax.plot(
        [r.gflops for r in front],
        [r.metric for r in front],
        "o-",
        c="C3",
        ms=4,
        label="query table (Pareto front)",
    )
    for r in (front[0], front[-1]):
        ax.annotate(
            r.name, (r.gflops, r.metric), fontsize=7, xytext=(4, -10), textcoords="offset points"
        )
    cost_axes(ax, "GFLOPs per clip (log scale)", metric_name)
    if title:
        ax.set_title(title, fontsize=9)
    return save_figure(fig, path)
