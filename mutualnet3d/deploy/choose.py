"""Which searched configuration to deploy: under a budget, by name, or the best one.

The search tables (``search_table.json``, :func:`~mutualnet3d.evaluation.read_table`)
hold every configuration the run calibrated and measured; a budget picks the most
accurate one that fits (:func:`~mutualnet3d.evaluation.select_config`). A latency table
(``latency_table.json``: the search table's columns plus ``latency_ms`` per row) makes a
budget in milliseconds possible too.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

from ..evaluation import ConfigResult, select_config

__all__ = [
    "SelectionError",
    "by_budget",
    "by_configuration",
    "by_latency",
    "parse_configuration",
]


class SelectionError(ValueError):
    """No searched configuration answers the request; the message says what there is."""


def _describe(row: ConfigResult) -> str:
    frames = "" if row.temporal is None else f", {row.temporal} frames"
    return f"width {row.width:g}, {row.spatial} px{frames}"


def by_budget(table: Sequence[ConfigResult], budget_gflops: Optional[float]) -> ConfigResult:
    """The most accurate configuration within ``budget_gflops`` (None: the most accurate).

    Raises:
        SelectionError: nothing fits, naming the cheapest configuration and its GFLOPs.
    """
    if not table:
        raise SelectionError("the search table is empty")
    budget = math.inf if budget_gflops is None else budget_gflops
    chosen = select_config(table, budget)
    if chosen is None:
        cheapest = min(table, key=lambda r: r.gflops)
        raise SelectionError(
            f"no configuration fits {budget_gflops:g} GFLOPs: the cheapest is "
            f"{_describe(cheapest)} at {cheapest.gflops:g} GFLOPs"
        )
    return chosen


def parse_configuration(text: str) -> tuple[float, int, Optional[int]]:
    """``"W,S,T"`` (or ``"W,S"`` for images) -> (width, spatial px, frames or None)."""
    parts = [p.strip() for p in text.split(",")]
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        width, spatial = float(parts[0]), int(parts[1])
        temporal = int(parts[2]) if len(parts) == 3 else None
    except ValueError:
        raise SelectionError(
            f"a configuration is WIDTH,SPATIAL,FRAMES (or WIDTH,SPATIAL for images), "
            f"e.g. 0.5,24,4; got {text!r}"
        ) from None
    return width, spatial, temporal


def by_configuration(
    table: Sequence[ConfigResult], width: float, spatial: int, temporal: Optional[int]
) -> ConfigResult:
    """The searched row of that configuration (widths compared to 4 decimals, as stored).

    Raises:
        SelectionError: it was not searched, listing the searched values.
    """
    for row in table:
        if (
            round(row.width, 4) == round(width, 4)
            and row.spatial == spatial
            and row.temporal == temporal
        ):
            return row
    values = [
        sorted({r.width for r in table}),
        sorted({r.spatial for r in table}),
        sorted({r.temporal for r in table}, key=lambda t: -1 if t is None else t),
    ]
    raise SelectionError(
        f"width {width:g}, {spatial} px, {temporal} frames was not searched (no calibrated "
        f"statistics or accuracy); the search table has widths {values[0]}, spatial sizes "
        f"{values[1]} and frames {values[2]}"
    )


def by_latency(rows: Sequence[tuple[ConfigResult, float]], budget_ms: float) -> ConfigResult:
    """The most accurate configuration whose measured latency is within ``budget_ms``.

    Raises:
        SelectionError: nothing fits, naming the fastest configuration and its latency.
    """
    fitting = [(row, ms) for row, ms in rows if ms <= budget_ms]
    if not fitting:
        if not rows:
            raise SelectionError("the latency table is empty")
        fastest, ms = min(rows, key=lambda pair: pair[1])
        raise SelectionError(
            f"no configuration runs within {budget_ms:g} ms: the fastest is "
            f"{_describe(fastest)} at {ms:g} ms"
        )
    return max(fitting, key=lambda pair: (pair[0].metric, -pair[1]))[0]
