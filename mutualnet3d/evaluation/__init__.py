"""Metrics and result tables: top-k and mAP, AVA's frame-level mAP, the search tables.

Pure functions of predictions and labels: the engine collects the predictions (over
processes too) and calls them.
"""

from .ava import AvaEvaluator
from .classification import mean_average_precision, top_k_correct
from .search import (
    ConfigResult,
    format_table,
    pareto_front,
    plot_tables,
    read_table,
    select_config,
    write_tables,
)

__all__ = [
    "AvaEvaluator",
    "ConfigResult",
    "format_table",
    "mean_average_precision",
    "pareto_front",
    "plot_tables",
    "read_table",
    "select_config",
    "top_k_correct",
    "write_tables",
]
