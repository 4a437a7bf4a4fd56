"""Classification metrics: top-k hits of a batch, Charades' mAP over a data set."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

__all__ = ["mean_average_precision", "top_k_correct"]


def top_k_correct(
    logits: torch.Tensor, labels: torch.Tensor, ks: Sequence[int] = (1, 5)
) -> list[int]:
    """How many rows have their label among the top-k scores, for each k."""
    k = min(max(ks), logits.shape[1])
    hits = logits.topk(k, dim=1).indices.eq(labels.view(-1, 1))
    return [int(hits[:, : min(kk, k)].any(dim=1).sum()) for kk in ks]


def mean_average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean over classes of the average precision: Charades' mAP, in [0, 1].

    Args:
        scores: (N, C) scores of N samples for C classes (any monotone scale:
            probabilities or logits rank alike).
        labels: (N, C) multi-hot targets, 0 or 1.

    Each class's AP is sklearn's ``average_precision_score`` (the non-interpolated sum of
    precision x recall increments over score thresholds). Classes without a positive
    sample have no defined AP and are left out of the mean, as PySlowFast's ``get_map``
    drops them; ``ValueError`` if no class has a positive, or on shapes that differ,
    labels other than 0/1, or non-finite scores.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    if scores.ndim != 2 or scores.shape != labels.shape:
        raise ValueError(
            f"scores and labels must both be (N, C), got {scores.shape} and {labels.shape}"
        )
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be multi-hot: every entry 0 or 1")
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite")
    # Imported here: scikit-learn takes seconds to import and most runs never need it.
    from sklearn.metrics import average_precision_score

    present = np.flatnonzero(labels.sum(axis=0) > 0)
    if present.size == 0:
        raise ValueError(
            f"no class has a positive sample among {labels.shape[0]} samples: mAP is undefined"
        )
    labels = labels.astype(np.int64)
    aps = [average_precision_score(labels[:, c], scores[:, c]) for c in present]
    return float(np.mean(aps))
