"""Deploying a trained run: one configuration exported, verified and described; one video
classified.

* :mod:`.choose`: the configuration under a GFLOPs (or latency) budget, or by name;
* :mod:`.finished_run`: what a run's OUTPUT_DIR holds (calibrated checkpoint, tables);
* :mod:`.network`: the static sub-network and its input rule (:func:`deployable`);
* :mod:`.formats`: TorchScript, ONNX and ``torch.export`` files, written and run back;
* :mod:`.verify`: the written file against the adaptive network, within 1e-4;
* :mod:`.card`: the model card; :mod:`.export`: all of it, published atomically;
* :mod:`.reading`: how a video file is read for a run's data (card and predict);
* :mod:`.predict`: PySlowFast's test views of one video file, top-k classes.

``tools/export_net.py`` and ``tools/predict.py`` are the command lines (docs/DEPLOY.md).
This package sits above the engine: it imports the engine and the evaluation, never the
reverse.
"""

from .card import Verification, class_names, model_card
from .choose import (
    SelectionError,
    by_budget,
    by_configuration,
    by_latency,
    parse_configuration,
    read_latency_table,
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
from .network import INPUT_SIZES, ClipResize, DeployedNet, PlainSwish, deployable, input_names
from .network import NotDeployable, input_shapes, missing_statistics
from .predict import SingleVideo, top_classes, video_scores
from .reading import video_reading
from .verify import DEFAULT_TOLERANCE, ExportMismatch, max_difference, verify_export

__all__ = [
    "CALIBRATED",
    "CARD_NAME",
    "DEFAULT_TOLERANCE",
    "FILE_NAMES",
    "FORMATS",
    "INPUT_SIZES",
    "ClipResize",
    "DeployedNet",
    "ExportMismatch",
    "IncompleteRun",
    "NotDeployable",
    "PlainSwish",
    "SelectionError",
    "SingleVideo",
    "Verification",
    "by_budget",
    "by_configuration",
    "by_latency",
    "calibrated_checkpoint",
    "class_names",
    "deployable",
    "export_configuration",
    "input_names",
    "input_shapes",
    "latency_rows",
    "load_calibrated",
    "load_runner",
    "max_difference",
    "missing_statistics",
    "model_card",
    "parse_configuration",
    "read_latency_table",
    "save_model",
    "search_rows",
    "sha256_file",
    "top_classes",
    "validation_batches",
    "verify_export",
    "video_reading",
    "video_scores",
]
