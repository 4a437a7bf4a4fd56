"""Mean average precision (Charades' metric): hand-computed cases and a reference sum."""

from __future__ import annotations

import numpy as np
import pytest

from mutualnet3d.evaluation.classification import mean_average_precision


def manual_average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Sum over positives, in decreasing score order, of precision at that rank / P.

    Equals sklearn's step-wise precision-recall sum when no scores tie.
    """
    order = np.argsort(-scores)
    hits = labels[order]
    precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision_at * hits).sum() / hits.sum())


def test_map_hand_computed() -> None:
    scores = np.array([[0.9, 0.1, 0.5], [0.8, 0.4, 0.2], [0.7, 0.35, 0.9], [0.6, 0.8, 0.3]])
    labels = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
    # Class 0, ranked 0.9 (+), 0.8 (-), 0.7 (+), 0.6 (-): precision 1/1 at recall 1/2 and
    # 2/3 at recall 2/2 -> AP = 1/2 * 1 + 1/2 * 2/3 = 5/6.
    # Class 1, ranked 0.8 (-), 0.4 (+), 0.35 (+), 0.1 (-): precision 1/2 at recall 1/2 and
    # 2/3 at recall 2/2 -> AP = 1/2 * 1/2 + 1/2 * 2/3 = 7/12.
    # Class 2 has no positive: left out. mAP = (5/6 + 7/12) / 2 = 17/24.
    assert mean_average_precision(scores, labels) == pytest.approx(17 / 24, abs=1e-12)
    assert mean_average_precision(scores[:, :2], labels[:, :2]) == pytest.approx(17 / 24, abs=1e-12)
    # Ties are one threshold: 2 samples at 0.5, one positive -> precision 1/2 -> AP 1/2.
    assert mean_average_precision(np.full((2, 1), 0.5), np.array([[1], [0]])) == 0.5
    # A perfect ranking scores 1; labels as floats (the engine's multi-hot) work alike.
    assert mean_average_precision(scores[:, :1], np.array([[1.0], [1.0], [0.0], [0.0]])) == 1.0


def test_map_matches_a_manual_precision_recall_sum() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random((30, 6))  # continuous: no ties
    labels = (rng.random((30, 6)) < 0.3).astype(np.int64)
    labels[:, 4] = 0  # a class without positives
    labels[0, 0] = 1
    present = [c for c in range(6) if labels[:, c].any()]
    expected = np.mean([manual_average_precision(labels[:, c], scores[:, c]) for c in present])
    assert 4 not in present and len(present) >= 4
    assert mean_average_precision(scores, labels) == pytest.approx(expected, abs=1e-12)


def test_map_rejects_undefined_inputs() -> None:
    with pytest.raises(ValueError, match="no class has a positive"):
        mean_average_precision(np.ones((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        mean_average_precision(np.ones((3, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="multi-hot"):
        mean_average_precision(np.ones((2, 1)), np.array([[2], [0]]))
    with pytest.raises(ValueError, match="finite"):
        mean_average_precision(np.array([[np.nan], [0.0]]), np.array([[1], [0]]))
