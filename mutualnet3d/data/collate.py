"""Batching data set items: classification clips and images, and AVA's clips with boxes."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .ava import Ava

__all__ = ["ava_collate", "collate_fn_for", "collate_samples"]


def collate_samples(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Batch data set items.

    ``inputs``: list per pathway of (B, C, T, H, W) tensors (images: (B, C, H, W));
    ``label``: int64 (B,), or float (B, classes) for multi-hot labels; ``index``,
    ``video_index``, ``view``: int64 tensors of shape (B,).
    """
    if not samples:
        raise ValueError("cannot collate an empty batch")
    num_pathways = len(samples[0]["inputs"])
    batch: dict[str, Any] = {
        "inputs": [torch.stack([s["inputs"][p] for s in samples]) for p in range(num_pathways)]
    }
    labels = [s["label"] for s in samples]
    if isinstance(labels[0], torch.Tensor) and labels[0].dim() > 0:  # multi-hot (Charades)
        batch["label"] = torch.stack(labels)
    else:
        batch["label"] = torch.tensor([int(label) for label in labels], dtype=torch.long)
    for key in ("index", "video_index", "view"):
        batch[key] = torch.tensor([int(s[key]) for s in samples], dtype=torch.long)
    return batch


def ava_collate(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch :class:`~mutualnet3d.data.ava.Ava` items for the models' ``VideoDetector``.

    Returns ``inputs``: list per pathway of (B, C, T, H, W); ``boxes``: float (N, 5)
    ``[batch index, x1, y1, x2, y2]`` with N the boxes of all samples, in sample order;
    ``ori_boxes``: float (N, 4); ``labels``: float (N, num_classes); ``metadata``: int64
    (N, 2); ``index``: int64 (B,).

    Clips of different heights or widths (the test split keeps each video's aspect
    ratio) are zero-padded at the bottom and right to the largest of the batch: 0 is the
    mean colour after normalisation, and the boxes, measured from the top-left corner,
    stay valid.
    """
    if not samples:
        raise ValueError("cannot collate an empty batch")
    inputs = []
    for pathway in range(len(samples[0]["inputs"])):
        clips = [s["inputs"][pathway] for s in samples]
        height = max(c.shape[-2] for c in clips)
        width = max(c.shape[-1] for c in clips)
        clips = [F.pad(c, (0, width - c.shape[-1], 0, height - c.shape[-2])) for c in clips]
        inputs.append(torch.stack(clips))
    batch_index = torch.cat(
        [torch.full((len(s["boxes"]), 1), float(i)) for i, s in enumerate(samples)]
    )
    return {
        "inputs": inputs,
        "boxes": torch.cat([batch_index, torch.cat([s["boxes"] for s in samples])], dim=1),
        "ori_boxes": torch.cat([s["ori_boxes"] for s in samples]),
        "labels": torch.cat([s["labels"] for s in samples]),
        "metadata": torch.cat([s["metadata"] for s in samples]),
        "index": torch.tensor([int(s["index"]) for s in samples], dtype=torch.long),
    }


def collate_fn_for(dataset: Dataset) -> Callable[[Sequence[Mapping[str, Any]]], dict[str, Any]]:
    """The collate a data set's items need: :func:`ava_collate` for
    :class:`~mutualnet3d.data.ava.Ava` (boxes per sample), else :func:`collate_samples`."""
    return ava_collate if isinstance(dataset, Ava) else collate_samples
