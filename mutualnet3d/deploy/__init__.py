"""Deploying one adaptive network at any budget (paper section 3.4, and beyond it).

A finished run's OUTPUT_DIR (:mod:`.finished_run`: the calibrated checkpoint, the tables)
becomes:

* one exported configuration (:mod:`.choose`, :mod:`.network`, :mod:`.formats`,
  :mod:`.verify`, :mod:`.card`, :mod:`.export`: TorchScript, ONNX or ``torch.export``
  files verified against the adaptive network, with a model card);
* a :class:`BudgetedModel` that runs each call at the best configuration for the budget
  passed with it (GFLOPs, or milliseconds with a latency table), never recalibrating;
* a latency table (:func:`measure_latency`) and its Pareto front beside the FLOPs one
  (:func:`front_differences`, :func:`plot_fronts`);
* an input-adaptive cascade (:func:`fit_cascade`, :func:`simulate_cascade`,
  :func:`run_cascade`: the cheap configuration first, the unsure clips escalated),
  fitted to an average-GFLOPs budget on logits kept per configuration
  (:func:`collect_logits`);
* the top classes of one video (:mod:`.predict`, :mod:`.reading`).

``tools/export_net.py``, ``predict.py``, ``measure_latency.py`` and ``cascade.py`` are
the command lines (README, "Deployment"). This package sits above the engine: it imports
the engine and the evaluation, never the reverse.
"""


from .budgeted import BudgetedModel, BudgetError, subnet_config
from .calibrated import MissingStatisticsError, check_calibrated
from .card import Verification, class_names, model_card
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
from .choose import (
    SelectionError,
    by_budget,
    by_configuration,
    by_latency,
    parse_configuration,
)
from .export import CARD_NAME, export_configuration, validation_batches
from .finished_run import (
    CALIBRATED,
    IncompleteRun,
    calibrated_checkpoint,
    latency_rows,
    load_calibrated,
    search_rows,
    sha256_file,
)
from .formats import FILE_NAMES, FORMATS, load_runner, save_model
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
from .network import (
    INPUT_SIZES,
    ClipResize,
    DeployedNet,
    NotDeployable,
    PlainSwish,
    deployable,
    input_names,
    input_shapes,
    missing_statistics,
)
from .predict import SingleVideo, top_classes, video_scores
from .reading import video_reading
from .verify import DEFAULT_TOLERANCE, ExportMismatch, max_difference, verify_export

__all__ = [
    "ALWAYS",
    "CALIBRATED",
    "CARD_NAME",
    "DEFAULT_TOLERANCE",
    "FILE_NAMES",
    "FORMATS",
    "INPUT_SIZES",
    "BudgetError",
    "BudgetedModel",
    "Cascade",
    "CascadeOutcome",
    "ClipResize",
    "DeployedNet",
    "ExportMismatch",
    "FittedCascade",
    "IncompleteRun",
    "LatencyRow",
    "LatencyTable",
    "MissingStatisticsError",
    "NotDeployable",
    "PlainSwish",
    "SelectionError",
    "SingleVideo",
    "SplitLogits",
    "Verification",
    "by_budget",
    "by_configuration",
    "by_latency",
    "calibrated_checkpoint",
    "check_calibrated",
    "class_names",
    "collect_logits",
    "default_budgets",
    "deployable",
    "device_name",
    "export_configuration",
    "fit_cascade",
    "format_latency_table",
    "front_differences",
    "input_names",
    "input_shapes",
    "latency_rows",
    "load_calibrated",
    "load_runner",
    "max_difference",
    "measure_latency",
    "missing_statistics",
    "model_card",
    "parse_configuration",
    "plot_cascade",
    "plot_fronts",
    "read_latency_table",
    "run_cascade",
    "save_model",
    "search_rows",
    "sha256_file",
    "simulate_cascade",
    "subnet_config",
    "time_rounds",
    "top_classes",
    "validation_batches",
    "verify_export",
    "video_reading",
    "video_scores",
    "write_latency_tables",
]
