"""The test stage: PySlowFast's multi-view protocol, or AVA's key frames once each.

Classification: every video is seen ``views_per_video`` times (ensemble views x spatial
crops); the softmax (sigmoid for multi-label data) scores of its views are summed, or
maxed (DATA.ENSEMBLE_METHOD), then top-1/top-5 or mAP (%) are taken over videos.
"""

from __future__ import annotations

import os
import pickle
from typing import Any, Optional

import torch
import torch.nn as nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..evaluation import mean_average_precision, top_k_correct
from ..slim import SubnetConfig
from .distributed import all_reduce_max, all_reduce_sum, is_main_process
from .evaluate import DetectionAccumulator
from .forward import batch_boxes, batch_inputs, forward_at

__all__ = ["test_detection", "test_views"]


@torch.no_grad()
def test_views(
    model: nn.Module,
    loader: DataLoader,
    config: SubnetConfig,
    *,
    num_videos: int,
    views_per_video: int,
    multi_label: bool,
    ensemble_method: str,
    device: torch.device,
    save_path: Optional[str] = None,
    align_corners: bool = False,
) -> dict[str, Any]:
    """Video-level scores from every view of ``loader`` (the model's width is the
    caller's): ``views_per_video``, ``videos``, ``complete_videos`` and the metrics.
    Views are resized to ``config`` with ``align_corners`` (MUTUALNET.RESIZE_ALIGN_CORNERS).

    ``save_path``: the main process also writes ``[scores, labels]`` there (pickled
    float64 (videos, classes) and int64 (videos,) or multi-hot tensors), PySlowFast's
    TEST.SAVE_RESULTS_PATH, which its users read with ``pickle.load``.
    """
    num_classes = model.get_classifier().out_features
    scores = torch.zeros(num_videos, num_classes, dtype=torch.float64)
    if multi_label:  # multi-hot per video
        labels = torch.zeros(num_videos, num_classes, dtype=torch.float64)
    else:
        labels = torch.full((num_videos,), -1, dtype=torch.long)
    views = torch.zeros(num_videos, dtype=torch.float64)
    for batch in tqdm(loader, desc="test", disable=not is_main_process()):
        inputs = batch_inputs(batch, device, model.num_pathways)
        logits = forward_at(model, inputs, config, align_corners=align_corners).float()
        probs = (torch.sigmoid(logits) if multi_label else torch.softmax(logits, 1)).double().cpu()
        for video, prob, label in zip(batch["video_index"].tolist(), probs, batch["label"]):
            if ensemble_method == "max":
                scores[video] = torch.maximum(scores[video], prob)
            else:
                scores[video] += prob
            labels[video] = label
            views[video] += 1
    # A video's views may be spread over processes: sum (or max) their scores, count
    # their views, and take the label from whichever process saw one (-1 elsewhere).
    reduce_scores = all_reduce_max if ensemble_method == "max" else all_reduce_sum
    scores = reduce_scores(scores.to(device)).cpu()
    views = all_reduce_sum(views.to(device)).cpu()
    labels = all_reduce_max(labels.to(device)).cpu()
    stats: dict[str, Any] = {
        "views_per_video": views_per_video,
        "videos": num_videos,
        "complete_videos": int((views == views_per_video).sum()),
    }
    if multi_label:
        stats["map"] = round(100 * mean_average_precision(scores.numpy(), labels.numpy()), 3)
    else:
        top1, top5 = top_k_correct(scores, labels)
        videos = max(num_videos, 1)
        stats.update(top1=round(100 * top1 / videos, 3), top5=round(100 * top5 / videos, 3))
    if save_path and is_main_process():
        partial = f"{save_path}.partial"
        with open(partial, "wb") as f:
            pickle.dump([scores, labels], f)
        os.replace(partial, save_path)  # never a half-written file under the name
    return stats


@torch.no_grad()
def test_detection(
    model: nn.Module,
    loader: DataLoader,
    config: SubnetConfig,
    accumulator: DetectionAccumulator,
    device: torch.device,
    *,
    align_corners: bool = False,
) -> dict[str, Any]:
    """AVA: every key frame once; the frame-level mAP (%) and the per-class APs (clips
    resized to ``config`` with ``align_corners``)."""
    for batch in tqdm(loader, desc="test", disable=not is_main_process()):
        inputs, boxes = batch_inputs(batch, device, model.num_pathways), batch_boxes(batch, device)
        logits = forward_at(model, inputs, config, boxes, align_corners=align_corners)
        accumulator.add(logits, batch)
    metric, _ = accumulator.result()
    return {
        "key_frames": len(loader.dataset),
        "map": metric,
        "per_class_ap": {
            str(c): round(100 * ap, 3) for c, ap in accumulator.details["per_class"].items()
        },
    }
