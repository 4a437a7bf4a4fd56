"""Deploying one adaptive network at any budget (paper section 3.4, and beyond it).

* :func:`load_calibrated` loads a finished run's calibrated model (every
  configuration's BN statistics), :func:`check_calibrated` checks it holds some;
* :class:`BudgetedModel` runs each call at the best configuration for the budget passed
  with it (GFLOPs, or milliseconds with a latency table), never recalibrating;
* :func:`measure_latency` times every configuration on a device: the latency table, its
  Pareto front beside the FLOPs one (:func:`front_differences`, :func:`plot_fronts`);
* :func:`fit_cascade` / :func:`simulate_cascade` / :func:`run_cascade`: an
  input-adaptive cascade (cheap configuration first, escalate the unsure clips), fitted
  to an average-GFLOPs budget on logits kept per configuration (:func:`collect_logits`).
"""

from .budgeted import BudgetError, BudgetedModel, subnet_config
from .calibrated import CALIBRATED_NAME, MissingStatisticsError, check_calibrated, load_calibrated
from .cascade import (
    ALWAYS,
    Cascade,
    CascadeOutcome,
    FittedCascade,
    default_budgets,
    fit_cascade,
    plot_cascade,
    run_cascade,
    simulate_cascade,
)
from .latency import (
    LatencyRow,
    LatencyTable,
    device_name,
    format_latency_table,
    front_differences,
    measure_latency,
    plot_fronts,
    read_latency_table,
    time_rounds,
    write_latency_tables,
)
from .logits import SplitLogits, collect_logits

__all__ = [
    "ALWAYS",
    "CALIBRATED_NAME",
    "BudgetError",
    "BudgetedModel",
    "Cascade",
    "CascadeOutcome",
    "FittedCascade",
    "LatencyRow",
    "LatencyTable",
    "MissingStatisticsError",
    "SplitLogits",
    "check_calibrated",
    "collect_logits",
    "default_budgets",
    "device_name",
    "fit_cascade",
    "format_latency_table",
    "front_differences",
    "load_calibrated",
    "measure_latency",
    "plot_cascade",
    "plot_fronts",
    "read_latency_table",
    "run_cascade",
    "simulate_cascade",
    "subnet_config",
    "time_rounds",
    "write_latency_tables",
]
