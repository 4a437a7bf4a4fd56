"""Deploying a trained run: one configuration exported, verified and described.

* :mod:`.choose`: the configuration under a GFLOPs (or latency) budget, or by name;
* :mod:`.network`: the static sub-network and its input rule (:func:`deployable`).

This package sits above the engine: it imports the engine and the evaluation, never the
reverse.
"""

from .choose import (
    SelectionError,
    by_budget,
    by_configuration,
    by_latency,
    parse_configuration,
    read_latency_table,
)
from .network import INPUT_SIZES, ClipResize, DeployedNet, PlainSwish, deployable, input_names
from .network import NotDeployable, input_shapes, missing_statistics

__all__ = [
    "INPUT_SIZES",
    "ClipResize",
    "DeployedNet",
    "NotDeployable",
    "PlainSwish",
    "SelectionError",
    "by_budget",
    "by_configuration",
    "by_latency",
    "deployable",
    "input_names",
    "input_shapes",
    "missing_statistics",
    "parse_configuration",
    "read_latency_table",
]
