"""An input-adaptive cascade over the query table (beyond the paper).

The paper deploys one configuration per budget, the same for every clip. Easy clips do
not need it: a cascade runs a cheap configuration first and escalates a clip to the next
stage only when the prediction's confidence (its largest softmax probability) is below
the stage's threshold::

    clip ──► stage 0 (cheapest) ──► max softmax >= t0 ? ──yes──► its prediction
                                          │ no
                                          ▼
             stage 1 ──► max softmax >= t1 ? ──yes──► its prediction
                                          │ no
                                          ▼
             ...  last stage ──► its prediction

A clip answered at stage ``j`` costs the GFLOPs of stages 0..j (escalation pays for the
cheaper runs too). Thresholds (and the stages, among the query table's configurations,
cheapest first) are fitted on validation logits to meet an average-GFLOPs budget and
judged on another split: :func:`simulate_cascade` is exact on logits kept per
configuration (:mod:`.logits`), so no clip is run twice to study a policy;
:func:`run_cascade` is the same policy on live inputs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from ..engine.forward import Inputs
from ..evaluation.figures import cost_axes, pyplot, save_figure
from ..slim import SubnetConfig
from .budgeted import BudgetError, BudgetedModel
from .logits import SplitLogits

__all__ = [
    "ALWAYS",
    "Cascade",
    "CascadeOutcome",
    "FittedCascade",
    "default_budgets",
    "fit_cascade",
    "plot_cascade",
    "run_cascade",
    "simulate_cascade",
]

ALWAYS = 1.01  # a threshold above any probability: always escalate


@dataclass(frozen=True)
class Cascade:
    """Stages (indices of configurations, cheapest first) and one threshold per stage
    but the last: a clip escalates while its max softmax is below the stage's."""

    stages: tuple[int, ...]
    thresholds: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.stages or len(self.thresholds) != len(self.stages) - 1:
            raise ValueError(
                f"a cascade needs stages and one threshold per stage but the last, got "
                f"{len(self.stages)} stages and {len(self.thresholds)} thresholds"
            )


@dataclass(frozen=True)
class CascadeOutcome:
    """Top-1 (%), average GFLOPs per clip, and the clips answered at each stage."""

    accuracy: float
    avg_gflops: float
    exits: tuple[int, ...]


@dataclass(frozen=True)
class FittedCascade:
    """The cascade fitted under ``budget`` (average GFLOPs) and its outcome there."""

    budget: float
    cascade: Cascade
    fitted: CascadeOutcome


def _confidence(logits: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(max softmax, predicted class) of (configurations, clips, classes) logits."""
    probabilities = logits.float().softmax(-1)
    confidence, predicted = probabilities.max(-1)
    return confidence.numpy().astype(np.float64), predicted.numpy()


def _sweep(
    confidence: np.ndarray,
    correct: np.ndarray,
    gflops: np.ndarray,
    stages: Sequence[int],
    thresholds: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a shared threshold per entry of ``thresholds`` (T,): accuracy (%) and average
    GFLOPs (T,), and the clips answered per stage (T, stages)."""
    pending = np.ones((len(thresholds), confidence.shape[1]), dtype=bool)
    hits = np.zeros(len(thresholds))
    cost = np.zeros(len(thresholds))
    exits = np.zeros((len(thresholds), len(stages)), dtype=np.int64)
    for j, stage in enumerate(stages):
        cost += gflops[stage] * pending.sum(1)
        last = j == len(stages) - 1
        answer = pending if last else pending & (confidence[stage] >= thresholds[:, None])
        hits += (answer & correct[stage]).sum(1)
        exits[:, j] = answer.sum(1)
        pending &= ~answer
    clips = confidence.shape[1]
    return 100.0 * hits / clips, cost / clips, exits


def simulate_cascade(
    cascade: Cascade, split: SplitLogits, gflops: Sequence[float]
) -> CascadeOutcome:
    """The cascade's outcome on logits kept per configuration (``gflops`` per
    configuration, indexed as ``split.logits``): exact."""
    confidence, predicted = _confidence(split.logits)
    correct = predicted == split.labels.numpy()[None]
    costs = np.asarray(gflops, dtype=np.float64)
    pending = np.ones(confidence.shape[1], dtype=bool)
    hits, cost, exits = 0, 0.0, []
    for j, stage in enumerate(cascade.stages):
        cost += costs[stage] * pending.sum()
        answer = pending.copy()
        if j < len(cascade.thresholds):
            answer &= confidence[stage] >= cascade.thresholds[j]
        hits += int((answer & correct[stage]).sum())
        exits.append(int(answer.sum()))
        pending &= ~answer
    clips = confidence.shape[1]
    return CascadeOutcome(100.0 * hits / clips, cost / clips, tuple(exits))


def _chains(gflops: Sequence[float], max_stages: Optional[int]) -> list[tuple[int, ...]]:
    """The stage chains tried, each cheapest first: the whole table, and every chain of
    at most ``max_stages`` configurations (None: the whole table only)."""
    order = tuple(sorted(range(len(gflops)), key=lambda i: gflops[i]))
    chains = {order}
    for size in range(1, min(max_stages or 0, len(order)) + 1):
        chains.update(itertools.combinations(order, size))
    return sorted(chains, key=lambda c: (len(c), c))


def _threshold_grid(confidence: np.ndarray, points: int) -> np.ndarray:
    """0 (never escalate), the confidences themselves (or ``points`` quantiles of them
    when there are more), and :data:`ALWAYS`. A threshold at a confidence escalates
    exactly the clips below it, so every split of the clips a shared threshold can make
    is tried when the confidences are few."""
    values = np.unique(confidence.ravel())
    if len(values) > points:
        values = np.quantile(confidence.ravel(), np.linspace(0.0, 1.0, points))
    return np.unique(np.concatenate([[0.0], values, [ALWAYS]]))


def fit_cascade(
    split: SplitLogits,
    gflops: Sequence[float],
    budget: float,
    *,
    max_stages: Optional[int] = 3,
    points: int = 200,
) -> FittedCascade:
    """The most accurate cascade on ``split`` whose average GFLOPs is within ``budget``.

    Tried: every chain of at most ``max_stages`` configurations (cheapest first), and
    the whole table as one chain (``max_stages`` None: only that, the plain cascade over
    the query table), each with one threshold shared by its stages, among 0, the
    confidences (``points`` quantiles of them when more) and :data:`ALWAYS`. Ties go to
    the cheaper, then to the shorter chain. A single-stage chain is a static
    configuration, so the fit is never worse on ``split`` than the best static
    configuration in budget.

    Raises:
        BudgetError: the budget is below the cheapest configuration (named by index).
    """
    confidence, predicted = _confidence(split.logits)
    correct = predicted == split.labels.numpy()[None]
    costs = np.asarray(gflops, dtype=np.float64)
    if budget < costs.min():
        cheapest = int(costs.argmin())
        raise BudgetError(
            f"budget {budget:g} GFLOPs is below the cheapest configuration (index "
            f"{cheapest}) at {costs[cheapest]:g} GFLOPs"
        )
    grid = _threshold_grid(confidence, points)
    best: Optional[tuple] = None
    for chain in _chains(costs, max_stages):
        accuracy, cost, exits = _sweep(confidence, correct, costs, chain, grid)
        for t in np.flatnonzero(cost <= budget * (1 + 1e-12)):
            key = (accuracy[t], -cost[t], -len(chain))
            if best is None or key > best[0]:
                exited = tuple(int(e) for e in exits[t])
                outcome = CascadeOutcome(float(accuracy[t]), float(cost[t]), exited)
                shared = (float(grid[t]),) * (len(chain) - 1)
                best = (key, Cascade(tuple(chain), shared), outcome)
    return FittedCascade(budget, best[1], best[2])


def default_budgets(gflops: Sequence[float], between: int = 1) -> list[float]:
    """Budgets to sweep: each configuration's GFLOPs and ``between`` geometric steps
    between consecutive ones (6 significant digits)."""
    ordered = sorted(set(gflops))
    budgets = [ordered[0]]
    for low, high in zip(ordered, ordered[1:]):
        ratio = high / low
        budgets += [low * ratio ** ((k + 1) / (between + 1)) for k in range(between)] + [high]
    return [float(f"{b:.6g}") for b in budgets]


def _select(inputs: Inputs, index: torch.Tensor) -> Inputs:
    if isinstance(inputs, (list, tuple)):
        return [x.index_select(0, index) for x in inputs]
    return inputs.index_select(0, index)


def run_cascade(
    budgeted: BudgetedModel,
    inputs: Inputs,
    configs: Sequence[SubnetConfig],
    thresholds: Sequence[float],
) -> tuple[torch.Tensor, torch.Tensor]:
    """The cascade on a batch of full-size clips: each stage runs only the clips still
    unanswered. Returns the logits of the stage that answered each clip (B, classes)
    and that stage's index (B,)."""
    if not configs or len(thresholds) != len(configs) - 1:
        raise ValueError("run_cascade needs one threshold per configuration but the last")
    slow = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
    pending = torch.arange(slow.shape[0], device=slow.device)
    answered = torch.full((slow.shape[0],), len(configs) - 1, dtype=torch.long)
    logits: Optional[torch.Tensor] = None
    for j, config in enumerate(configs):
        out = budgeted.run(_select(inputs, pending), config)
        if logits is None:
            logits = out.new_zeros(slow.shape[0], out.shape[1])
        done = torch.ones(len(pending), dtype=torch.bool, device=out.device)
        if j < len(thresholds):
            done = out.float().softmax(-1).max(-1).values >= thresholds[j]
        logits[pending[done]] = out[done]
        answered[pending[done].cpu()] = j
        pending = pending[~done]
        if not len(pending):
            break
    return logits, answered


def plot_cascade(
    static: Sequence[tuple[float, float]],
    cascade: Sequence[tuple[float, float]],
    path: str,
    metric_label: str = "top-1 (%)",
    title: str = "",
    fitted: Sequence[tuple[float, float]] = (),
) -> Path:
    """Accuracy vs (average) GFLOPs per clip: the static query table's configurations
    and the cascade fitted at each budget, both ``(gflops, accuracy)`` on the same
    clips; ``fitted``: the cascade on the split it was fitted on (dashed)."""
    fig, ax = pyplot().subplots(figsize=(6, 4), dpi=120)
    static, cascade = sorted(static), sorted(cascade)
    ax.plot(*zip(*static), "o-", c="C3", ms=4, label="query table (one configuration)")
    ax.plot(*zip(*cascade), "s-", c="C0", ms=4, label="cascade (average GFLOPs)")
    if fitted:
        ax.plot(*zip(*sorted(fitted)), "--", c="C0", alpha=0.5, lw=1, label="cascade, fit split")
    cost_axes(ax, "GFLOPs per clip (log scale)", metric_label)
    if title:
        ax.set_title(title, fontsize=9)
    return save_figure(fig, path)
