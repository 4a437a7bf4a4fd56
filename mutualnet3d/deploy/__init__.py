"""Deploying one adaptive network at any budget (paper section 3.4, and beyond it).

* :func:`load_calibrated` loads a finished run's calibrated model (every
  configuration's BN statistics), :func:`check_calibrated` checks it holds some;
* :class:`BudgetedModel` runs each call at the best configuration for the budget passed
  with it (GFLOPs, or milliseconds with a latency table), never recalibrating;
* :func:`measure_latency` times every configuration on a device: the latency table, its
  Pareto front beside the FLOPs one (:func:`front_differences`, :func:`plot_fronts`).
"""

from .budgeted import BudgetError, BudgetedModel, subnet_config
from .calibrated import CALIBRATED_NAME, MissingStatisticsError, check_calibrated, load_calibrated
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

__all__ = [
    "CALIBRATED_NAME",
    "BudgetError",
    "BudgetedModel",
    "LatencyRow",
    "LatencyTable",
    "MissingStatisticsError",
    "check_calibrated",
    "device_name",
    "format_latency_table",
    "front_differences",
    "load_calibrated",
    "measure_latency",
    "plot_fronts",
    "read_latency_table",
    "subnet_config",
    "time_rounds",
    "write_latency_tables",
]
