"""Exporting one configuration of a trained run: write, verify, describe, then publish.

The file and its card are written in a temporary folder beside the output folder,
the file is loaded back and checked against the adaptive network on validation clips
(:func:`~.verify.verify_export`), and only then are both moved into the output folder
with ``os.replace`` (the card last, so a card always describes a complete file). A
failed check or write leaves the output folder as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn
from torch.utils.data import Dataset

from ..data import DatasetSpec, collate_fn_for
from ..engine.forward import Inputs, batch_inputs, resize_input
from ..evaluation import ConfigResult
from ..slim import SubnetConfig
from .card import Verification, model_card
from .finished_run import sha256_file
from .formats import FILE_NAMES, load_runner, save_model
from .network import deployable, input_names
from .verify import DEFAULT_TOLERANCE, verify_export

__all__ = ["CARD_NAME", "export_configuration", "validation_batches"]

#: the model card's file name in the output folder
CARD_NAME = "model_card.json"


def validation_batches(
    dataset: Dataset, clips: int, batch_size: int, num_pathways: int
) -> list[Inputs]:
    """The first ``clips`` items of ``dataset`` as model inputs, ``batch_size`` a batch."""
    count = min(clips, len(dataset))
    if count < 1:
        raise ValueError(f"need at least one validation clip, the data set has {len(dataset)}")
    collate = collate_fn_for(dataset)
    batches = []
    for start in range(0, count, batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, count))]
        batches.append(batch_inputs(collate(items), torch.device("cpu"), num_pathways))
    return batches


def _example(batch: Inputs, config: SubnetConfig, input_size: str, align_corners: bool):
    """The export's example input: a validation batch of at least 2 clips, so that no
    exporter takes a batch of one for a fixed size."""
    if input_size == "config":
        batch = resize_input(batch, config, align_corners=align_corners)
    inputs = list(batch) if isinstance(batch, (list, tuple)) else [batch]
    return [x if x.shape[0] > 1 else torch.cat([x, x]) for x in inputs]


def _runtime(fmt: str) -> str:
    """What ran the file in verification (the card's ``verification.runtime``)."""
    if fmt == "onnx":
        import onnxruntime

        return f"onnxruntime {onnxruntime.__version__} (CPUExecutionProvider)"
    loader = "torch.jit.load" if fmt == "torchscript" else "torch.export.load"
    return f"torch {torch.__version__} ({loader})"


def export_configuration(
    model: nn.Module,
    row: ConfigResult,
    *,
    model_name: str,
    metric: str,
    fmt: str,
    out_dir: os.PathLike,
    input_size: str,
    align_corners: bool,
    data: DatasetSpec,
    multi_label: bool,
    checkpoint: Path,
    batches: Sequence[Inputs],
    tolerance: float = DEFAULT_TOLERANCE,
) -> dict[str, Path]:
    """Write ``model`` at ``row``'s configuration as ``fmt`` into ``out_dir``, verified.

    ``batches``: full-size validation inputs (:func:`validation_batches`); the export is
    checked on them (and on their first clip alone) within ``tolerance``. Returns
    ``{"model": path, "card": path}``.

    Raises:
        ExportMismatch: the written file's logits differ; nothing is written.
        NotDeployable: the configuration cannot be exported (:func:`~.network.deployable`).
    """
    config = SubnetConfig(row.width, row.spatial, row.temporal)
    net = deployable(model, config, input_size=input_size, align_corners=align_corners)
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        written = temporary / FILE_NAMES[fmt]
        example = _example(batches[0], config, input_size, align_corners)
        save_model(net, example, input_names(model), fmt, str(written))
        runner = load_runner(fmt, str(written))
        worst = verify_export(
            runner,
            model,
            config,
            batches,
            input_size=input_size,
            align_corners=align_corners,
            tolerance=tolerance,
        )
        clips = sum((b[0] if isinstance(b, (list, tuple)) else b).shape[0] for b in batches)
        card = model_card(
            model_name=model_name,
            model=model,
            row=row,
            metric=metric,
            fmt=fmt,
            file_name=written.name,
            input_size=input_size,
            align_corners=align_corners,
            data=data,
            multi_label=multi_label,
            checkpoint=checkpoint,
            checkpoint_sha256=sha256_file(checkpoint),
            verification=Verification(worst, tolerance, clips, _runtime(fmt)),
        )
        (temporary / CARD_NAME).write_text(json.dumps(card, indent=2) + "\n")
        out.mkdir(parents=True, exist_ok=True)
        os.replace(written, out / written.name)
        os.replace(temporary / CARD_NAME, out / CARD_NAME)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return {"model": out / written.name, "card": out / CARD_NAME}
