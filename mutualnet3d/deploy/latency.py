"""Measured latency of every configuration, and the query table by latency.

FLOPs rank configurations the way a device does only roughly: narrow layers and small
inputs leave a CPU's or a GPU's units idle, resizes and kernel launches cost the same at
any width. :func:`measure_latency` times every configuration of a search table on the
deployed model (:class:`~.budgeted.BudgetedModel`, so the resize from the full-size clip
and the switch are counted), and the latency table gives a Pareto front by milliseconds
beside the FLOPs one (:func:`~mutualnet3d.evaluation.search.pareto_front` with a cost).

Protocol: ``warmup`` untimed rounds, then ``repeats`` rounds; each round visits every
configuration once, in an order rotated by one each round, so that drift (CPU
frequency, temperature, a neighbour's load) hits all alike. At each visit two calls are timed: the
first right after another configuration's (``switch_ms``: a switch included), the
second right after its own (``latency_ms``: the steady cost at that budget). Reported:
medians and the interquartile range of the steady calls, per batch size, of elapsed
time (or, on a shared CPU, of the process's CPU time: ``clock="cpu"``).
"""

from __future__ import annotations

import csv
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import simplejson
import torch

from ..evaluation.figures import cost_axes, pyplot, save_figure
from ..evaluation.search import ConfigResult, pareto_front
from .budgeted import BudgetedModel, subnet_config

__all__ = [
    "LatencyRow",
    "LatencyTable",
    "device_name",
    "format_latency_table",
    "front_differences",
    "measure_latency",
    "plot_fronts",
    "read_latency_table",
    "time_rounds",
    "write_latency_tables",
]

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_RESULT_FIELDS = ("width", "spatial", "temporal", "gflops", "mparams", "metric", "top5")


@dataclass(frozen=True)
class LatencyRow:
    """A configuration's :class:`ConfigResult` and its latency per batch size (ms)."""

    result: ConfigResult
    latency_ms: Mapping[int, float] = field(hash=False)  # median, steady calls
    iqr_ms: Mapping[int, float] = field(hash=False)  # interquartile range, steady calls
    switch_ms: Mapping[int, float] = field(hash=False)  # median, calls after a switch

    width = property(lambda self: self.result.width)
    spatial = property(lambda self: self.result.spatial)
    temporal = property(lambda self: self.result.temporal)
    gflops = property(lambda self: self.result.gflops)
    metric = property(lambda self: self.result.metric)
    name = property(lambda self: self.result.name)

    def ms(self, batch_size: int) -> float:
        """Median milliseconds of a call at ``batch_size``."""
        if batch_size not in self.latency_ms:
            raise ValueError(
                f"the latency table measured batch sizes {sorted(self.latency_ms)}, not "
                f"{batch_size}: measure it (tools/measure_latency.py --batch {batch_size})"
            )
        return self.latency_ms[batch_size]


@dataclass(frozen=True)
class LatencyTable:
    """Measured rows and how they were measured (device, threads, protocol)."""

    rows: tuple[LatencyRow, ...]
    metric_name: str
    device: str
    threads: int
    batch_sizes: tuple[int, ...]
    warmup: int
    repeats: int
    clock: str = "wall"  # what was timed: elapsed time, or the process's CPU time

    def cost(self, batch_size: Optional[int] = None) -> Callable[[LatencyRow], float]:
        """The cost key of milliseconds at ``batch_size`` (default: the first measured)."""
        batch = self.batch_sizes[0] if batch_size is None else batch_size
        if batch not in self.batch_sizes:
            self.rows[0].ms(batch)  # raises, naming the measured sizes
        return lambda row: row.ms(batch)

    def front(self, batch_size: Optional[int] = None) -> list[LatencyRow]:
        """The query table by latency: the Pareto front of accuracy vs milliseconds."""
        return pareto_front(self.rows, self.cost(batch_size))

    def flops_front(self) -> list[LatencyRow]:
        """The query table by FLOPs, of the same rows."""
        return pareto_front(self.rows)


def front_differences(
    table: LatencyTable, batch_size: Optional[int] = None
) -> tuple[list[LatencyRow], list[LatencyRow]]:
    """(on the FLOPs front only, on the latency front only), each by increasing GFLOPs."""
    by_flops = {r.name for r in table.flops_front()}
    by_ms = {r.name for r in table.front(batch_size)}
    rows = sorted(table.rows, key=lambda r: r.gflops)
    return (
        [r for r in rows if r.name in by_flops - by_ms],
        [r for r in rows if r.name in by_ms - by_flops],
    )


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA); nothing on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_rounds(
    groups: Sequence[Sequence[Callable[[], Any]]],
    *,
    warmup: int,
    repeats: int,
    device: torch.device,
    alternate: bool = False,
    clock: str = "wall",
) -> list[list[list[float]]]:
    """Seconds of every call of every group, ``repeats`` times, interleaved.

    Each round runs the groups in an order rotated by one per round, and each group's
    calls in sequence, each timed alone (synchronised on ``device``); ``alternate``
    reverses the calls of a group every other round (A, B then B, A). ``warmup`` rounds
    run first, untimed. Returns ``times[group][call]``: a list of ``repeats`` seconds.

    ``clock``: ``"wall"`` (elapsed time: the latency) or ``"cpu"`` (the CPU time of the
    process, all its threads: on a CPU shared with other jobs it leaves out the time the
    process waited, so ratios survive the contention; it is not a latency with more
    than one thread, and it is refused on CUDA, whose work it does not see).
    """
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {sorted(CLOCKS)}, got {clock!r}")
    if clock == "cpu" and device.type == "cuda":
        raise ValueError("the cpu clock does not see CUDA work: time a GPU with clock='wall'")
    now = CLOCKS[clock]
    times = [[[] for _ in group] for group in groups]
    for round_index in range(warmup + repeats):
        shift = round_index % len(groups)
        for g in list(range(len(groups)))[shift:] + list(range(len(groups)))[:shift]:
            order = list(range(len(groups[g])))
            if alternate and round_index % 2:
                order.reverse()
            for c in order:
                synchronize(device)
                start = now()
                groups[g][c]()
                synchronize(device)
                if round_index >= warmup:
                    times[g][c].append(now() - start)
    return times


def _quartiles(values: Sequence[float]) -> tuple[float, float]:
    """(first, third) quartile; both the value itself for fewer than two values."""
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model name and core count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                model,
            )
    except OSError:
        pass
    return f"{model} ({os.cpu_count()} logical cores)"


def measure_latency(
    budgeted: BudgetedModel,
    rows: Sequence[ConfigResult],
    example: Callable[[int], tuple],
    batch_sizes: Sequence[int],
    *,
    device: torch.device,
    warmup: int = 3,
    repeats: int = 10,
    metric_name: str = "top1",
    clock: str = "wall",
) -> LatencyTable:
    """Every row's configuration timed on ``budgeted`` (see the module's protocol).

    ``example(batch_size)`` gives the full-size arguments of one call (``(inputs,)``, or
    ``(inputs, boxes)`` for a detector) on ``device``; one set per batch size is reused.
    ``clock``: see :func:`time_rounds` (``"cpu"``: CPU time, not latency, for a shared
    CPU).
    """
    latency: list[dict[int, float]] = [{} for _ in rows]
    iqr: list[dict[int, float]] = [{} for _ in rows]
    switch: list[dict[int, float]] = [{} for _ in rows]
    for batch in batch_sizes:
        args = example(batch)
        groups = []
        for row in rows:
            config = subnet_config(row)
            call = lambda c=config: budgeted.run(args[0], c, *args[1:])  # noqa: E731
            groups.append((call, call))  # after another configuration, then after itself
        times = time_rounds(groups, warmup=warmup, repeats=repeats, device=device, clock=clock)
        for index, (after_switch, steady) in enumerate(times):
            q1, q3 = _quartiles(steady)
            latency[index][batch] = round(1e3 * statistics.median(steady), 4)
            iqr[index][batch] = round(1e3 * (q3 - q1), 4)
            switch[index][batch] = round(1e3 * statistics.median(after_switch), 4)
    return LatencyTable(
        tuple(LatencyRow(r, latency[i], iqr[i], switch[i]) for i, r in enumerate(rows)),
        metric_name,
        device_name(device),
        torch.get_num_threads(),
        tuple(batch_sizes),
        warmup,
        repeats,
        clock,
    )


def _columns(table: LatencyTable) -> list[str]:
    header = [table.metric_name if f == "metric" else f for f in _RESULT_FIELDS]
    for batch in table.batch_sizes:
        header += [f"latency_ms_b{batch}", f"latency_iqr_ms_b{batch}", f"switch_ms_b{batch}"]
    return header + ["on_flops_front", "on_latency_front"]


def _record(table: LatencyTable, row: LatencyRow, fronts: tuple[set, set]) -> dict[str, Any]:
    values = [getattr(row.result, f) for f in _RESULT_FIELDS]
    for batch in table.batch_sizes:
        values += [row.latency_ms[batch], row.iqr_ms[batch], row.switch_ms[batch]]
    values += [row.name in fronts[0], row.name in fronts[1]]
    return dict(zip(_columns(table), values))


def write_latency_tables(table: LatencyTable, output_dir: str) -> dict[str, Path]:
    """``latency_table.{csv,json}`` (every row, with whether it is on the FLOPs front and
    on the latency front of the first batch size) and ``query_table_latency.{csv,json}``
    (the latency front); the JSON files also say how the rows were measured."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    fronts = ({r.name for r in table.flops_front()}, {r.name for r in table.front()})
    latency_front = table.front()
    paths = {}
    for name, rows in (("latency_table", table.rows), ("query_table_latency", latency_front)):
        records = [_record(table, r, fronts) for r in rows]
        with open(out / f"{name}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(_columns(table))
            for record in records:
                writer.writerow(["" if v is None else v for v in record.values()])
        about = {
            "metric": table.metric_name,
            "device": table.device,
            "threads": table.threads,
            "batch_sizes": list(table.batch_sizes),
            "warmup": table.warmup,
            "repeats": table.repeats,
            "clock": table.clock,
            "latency_front_batch_size": table.batch_sizes[0],
        }
        with open(out / f"{name}.json", "w") as f:
            simplejson.dump({**about, "configurations": records}, f, indent=2)
        paths[name] = out / f"{name}.csv"
    return paths


def read_latency_table(path: str) -> LatencyTable:
    """Read ``latency_table.json`` (or ``query_table_latency.json``) back."""
    with open(path) as f:
        data = json.load(f)
    metric, batches = data["metric"], [int(b) for b in data["batch_sizes"]]
    rows = []
    for r in data["configurations"]:
        result = ConfigResult(*(r[metric if f == "metric" else f] for f in _RESULT_FIELDS))
        rows.append(
            LatencyRow(
                result,
                {b: r[f"latency_ms_b{b}"] for b in batches},
                {b: r[f"latency_iqr_ms_b{b}"] for b in batches},
                {b: r[f"switch_ms_b{b}"] for b in batches},
            )
        )
    return LatencyTable(
        tuple(rows),
        metric,
        data["device"],
        data["threads"],
        tuple(batches),
        data["warmup"],
        data["repeats"],
        data.get("clock", "wall"),
    )


def format_latency_table(table: LatencyTable, rows: Optional[Sequence[LatencyRow]] = None) -> str:
    """``rows`` (default: all) as aligned text: configuration, GFLOPs, metric, and per
    batch size the median ms (and IQR) of steady calls and of calls after a switch;
    ``F``/``L`` mark the FLOPs and latency fronts (first batch size)."""
    rows = table.rows if rows is None else rows
    by_flops = {r.name for r in table.flops_front()}
    by_ms = {r.name for r in table.front()}
    header = f"{'configuration':>18} {'GFLOPs':>10} {table.metric_name:>7}"
    for batch in table.batch_sizes:
        header += f" {f'ms b{batch} (IQR)':>18} {f'switch b{batch}':>10}"
    lines = [header + " front"]
    for r in rows:
        line = f"{r.name:>18} {r.gflops:>10.4g} {r.metric:>7.2f}"
        for batch in table.batch_sizes:
            cell = f"{r.latency_ms[batch]:.3f} ({r.iqr_ms[batch]:.3f})"
            line += f" {cell:>18} {r.switch_ms[batch]:>10.3f}"
        marks = ("F" if r.name in by_flops else "-") + ("L" if r.name in by_ms else "-")
        lines.append(f"{line} {marks:>5}")
    return "\n".join(lines)


def plot_fronts(
    table: LatencyTable,
    path: str,
    metric_label: str = "top-1 (%)",
    title: str = "",
    batch_size: Optional[int] = None,
) -> Path:
    """Two panels: accuracy vs GFLOPs and accuracy vs ms (``batch_size``, default the
    first), every configuration (dots), each panel's own front (line) and the other
    cost's front (open markers), so the configurations the two disagree on stand out."""
    batch = table.batch_sizes[0] if batch_size is None else batch_size
    ms = table.cost(batch)
    fronts = {"GFLOPs": table.flops_front(), "ms": table.front(batch)}
    costs = {"GFLOPs": lambda r: r.gflops, "ms": ms}
    fig, axes = pyplot().subplots(1, 2, figsize=(10, 4), dpi=120)
    for ax, (unit, other) in zip(axes, (("GFLOPs", "ms"), ("ms", "GFLOPs"))):
        cost = costs[unit]
        ax.scatter(
            [cost(r) for r in table.rows],
            [r.metric for r in table.rows],
            s=12,
            c="0.6",
            label="all configurations",
        )
        front = fronts[unit]
        ax.plot(
            [cost(r) for r in front],
            [r.metric for r in front],
            "o-",
            c="C3",
            ms=4,
            label=f"front by {unit}",
        )
        ax.scatter(
            [cost(r) for r in fronts[other]],
            [r.metric for r in fronts[other]],
            s=60,
            facecolors="none",
            edgecolors="C0",
            label=f"front by {other}",
        )
        label = "GFLOPs per clip" if unit == "GFLOPs" else f"ms per call, batch {batch}"
        cost_axes(ax, f"{label} (log scale)", metric_label, legend_size=7)
    fig.suptitle(title or f"{table.device}, {table.threads} threads", fontsize=9)
    return save_figure(fig, path)
