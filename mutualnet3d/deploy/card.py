"""The model card written next to an exported model: what it is, takes and was checked on.

A JSON object (:func:`model_card`) with the keys ``format``, ``file``, ``model``,
``configuration``, ``gflops``, ``mparams``, ``accuracy``, ``input`` (what the exported
model takes, per pathway, and how it resizes), ``preprocessing`` (how a clip is made
from a video: frames, sampling rate, crop, mean and std), ``output``, ``class_names``,
``source`` (the checkpoint and its SHA-256) and ``verification``. Shapes start with the
free dimension ``"batch"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
import torch.nn as nn

from ..data import DatasetSpec
from ..data.moving_digits import MOTIONS
from ..evaluation import ConfigResult
from ..slim import SubnetConfig
from .network import input_shapes
from .reading import video_reading

__all__ = ["Verification", "class_names", "model_card"]

_TAKES = {
    "full": (
        "the full configuration's clip (the data pipeline's crop and frames); the model "
        "resizes its Slow (or single) pathway to the configuration inside"
    ),
    "config": (
        "the Slow (or single) pathway already at the configuration's size: resize the "
        "full clip with input.resize's rule first"
    ),
}


@dataclass(frozen=True)
class Verification:
    """What an export was checked on: the largest absolute logit difference from the
    adaptive network on ``clips`` validation clips, its bound, and the runtime used."""

    max_abs_difference: float
    tolerance: float
    clips: int
    runtime: str


def class_names(dataset: str, num_classes: int) -> Optional[list[str]]:
    """The label names of the data sets that have them (Moving Digits' motions, MNIST's
    digits); None for the others, whose names live in the user's annotation files."""
    if dataset == "moving_digits":
        names = list(MOTIONS)
    elif dataset == "mnist_digits":
        names = [str(d) for d in range(10)]
    else:
        return None
    return names if len(names) == num_classes else None


def _preprocessing(data: DatasetSpec, model: nn.Module) -> dict[str, Any]:
    """How a model input is made from a video file, as the validation split (the
    search's) makes it (:func:`~.reading.video_reading`)."""
    crop = data.spatial.crop_size
    norm = data.normalization
    facts: dict[str, Any] = {
        "dataset": data.name,
        "crop_size": crop,
        "mean": list(norm.mean),
        "std": list(norm.std),
        "channels": "BGR" if norm.bgr else "RGB",
        "pixel_range": "[0, 1] before normalisation: (x - mean) / std per channel",
    }
    if model.input_kind == "image":
        return facts
    s, spatial = video_reading(data)
    facts.update(frames=s.num_frames, sampling_rate=s.sampling_rate, target_fps=s.target_fps)
    facts["short_side"] = spatial.jitter_scales[0]
    if model.num_pathways == 2:
        facts["slow_frames"] = s.num_frames // model.alpha
        facts["pathways"] = (
            "fast: the clip's frames; slow: frames torch.linspace(0, T - 1, T // alpha).long() "
            f"of the fast clip (alpha {model.alpha})"
        )
    facts["clip"] = (
        f"{s.num_frames} frames {s.sampling_rate} apart at {s.target_fps:g} fps, short side "
        f"scaled to {spatial.jitter_scales[0]} px (bilinear), centre {crop} px crop"
    )
    if data.name == "moving_digits":
        facts["clip"] += " (Moving Digits: the frames write_kinetics writes, read as rendered)"
    return facts


def _configuration(config: SubnetConfig) -> dict[str, Any]:
    return {
        "width": config.width,
        "spatial": config.spatial,
        "temporal": config.temporal,
        "bn_statistics": config.key,
    }


def model_card(
    *,
    model_name: str,
    model: nn.Module,
    row: ConfigResult,
    metric: str,
    fmt: str,
    file_name: str,
    input_size: str,
    align_corners: bool,
    data: DatasetSpec,
    multi_label: bool,
    checkpoint: Path,
    checkpoint_sha256: str,
    verification: Verification,
) -> dict[str, Any]:
    """The card of ``model`` (MODEL.MODEL_NAME ``model_name``) exported at ``row``'s
    configuration in ``fmt`` as ``file_name``; ``metric`` names ``row.metric`` (top1,
    map), measured on ``data``'s validation split."""
    config = SubnetConfig(row.width, row.spatial, row.temporal)
    accuracy: dict[str, Any] = {"split": "val", metric: row.metric}
    if row.top5 is not None:
        accuracy["top5"] = row.top5
    num_classes = model.get_classifier().out_features
    return {
        "format": fmt,
        "file": file_name,
        "model": model_name,
        "configuration": _configuration(config),
        "gflops": row.gflops,
        "mparams": row.mparams,
        "accuracy": accuracy,
        "input": {
            "takes": input_size,
            "meaning": _TAKES[input_size],
            "shapes": input_shapes(model, config, input_size),
            "network_shapes": input_shapes(model, config, "config"),
            "dtype": "float32",
            "resize": {
                "frames": "indices torch.linspace(0, T - 1, temporal).long() of the T frames",
                "spatial": "short side to `spatial` px, bilinear, aspect ratio kept",
                "align_corners": align_corners,
            },
        },
        "preprocessing": _preprocessing(data, model),
        "output": {
            "logits": ["batch", num_classes],
            "scores": "sigmoid" if multi_label else "softmax",
        },
        "class_names": class_names(data.name, num_classes),
        "source": {"checkpoint": str(Path(checkpoint).resolve()), "sha256": checkpoint_sha256},
        "verification": {
            "max_abs_logits_difference": verification.max_abs_difference,
            "tolerance": verification.tolerance,
            "validation_clips": verification.clips,
            "runtime": verification.runtime,
        },
        "torch": torch.__version__,
    }
