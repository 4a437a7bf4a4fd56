"""The cascade: exact simulation on kept logits, its fit to a budget, and live runs."""

from __future__ import annotations

import pytest
import torch

from mutualnet3d.deploy import (
    ALWAYS,
    BudgetError,
    BudgetedModel,
    Cascade,
    SplitLogits,
    collect_logits,
    default_budgets,
    fit_cascade,
    run_cascade,
    simulate_cascade,
    subnet_config,
)
from mutualnet3d.evaluation import pareto_front


def hand_made() -> SplitLogits:
    """10 clips, 3 classes, 2 configurations (1 and 10 GFLOPs). The cheap one is right
    and sure (p = 0.909) on clips 0-7, wrong and unsure on clips 8 (p = 0.452) and 9
    (p = 0.379); the costly one is right on every clip."""
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    cheap = torch.zeros(10, 3)
    cheap[torch.arange(8), labels[:8]] = 3.0
    cheap[8, (labels[8] + 1) % 3] = 0.5
    cheap[9, (labels[9] + 1) % 3] = 0.2
    costly = torch.zeros(10, 3)
    costly[torch.arange(10), labels] = 3.0
    return SplitLogits(torch.stack([cheap, costly]), labels)


GFLOPS = [1.0, 10.0]


@pytest.mark.parametrize(
    "threshold, accuracy, avg_gflops, exits",
    [
        (0.0, 80.0, 1.0, (10, 0)),  # never escalates: the cheapest configuration
        (0.4, 90.0, 2.0, (9, 1)),  # escalates clip 9 only
        (0.5, 100.0, 3.0, (8, 2)),
        (ALWAYS, 100.0, 11.0, (0, 10)),  # always: the costliest, having paid for both
    ],
)
def test_simulation_of_a_hand_made_case(threshold, accuracy, avg_gflops, exits):
    outcome = simulate_cascade(Cascade((0, 1), (threshold,)), hand_made(), GFLOPS)
    assert outcome.accuracy == pytest.approx(accuracy)
    assert outcome.avg_gflops == pytest.approx(avg_gflops)
    assert outcome.exits == exits


@pytest.mark.parametrize(
    "budget, stages, accuracy, avg_gflops",
    [(1.5, (0,), 80.0, 1.0), (2.0, (0, 1), 90.0, 2.0), (2.9, (0, 1), 90.0, 2.0),
     (3.0, (0, 1), 100.0, 3.0), (10.0, (0, 1), 100.0, 3.0)],
)  # fmt: skip
def test_fit_finds_the_known_best_cascade(budget, stages, accuracy, avg_gflops):
    fitted = fit_cascade(hand_made(), GFLOPS, budget)
    assert fitted.cascade.stages == stages
    assert fitted.fitted.accuracy == pytest.approx(accuracy)
    assert fitted.fitted.avg_gflops == pytest.approx(avg_gflops)
    assert simulate_cascade(fitted.cascade, hand_made(), GFLOPS) == fitted.fitted


def random_split(seed: int, clips: int = 200, configs: int = 4) -> SplitLogits:
    """Costlier configurations closer to the labels, with noise."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 5, (clips,), generator=generator)
    onehot = torch.nn.functional.one_hot(labels, 5).float()
    logits = torch.stack([
        (1 + k) * onehot + 2.0 * torch.randn(clips, 5, generator=generator)
        for k in range(configs)
    ])  # fmt: skip
    return SplitLogits(logits, labels)


def test_thresholds_zero_and_above_one_are_the_cheapest_and_the_costliest():
    split, gflops = random_split(0), [1.0, 2.0, 4.0, 8.0]
    low = simulate_cascade(Cascade((0, 1, 2, 3), (0.0,) * 3), split, gflops)
    high = simulate_cascade(Cascade((0, 1, 2, 3), (ALWAYS,) * 3), split, gflops)
    assert (low.accuracy, low.avg_gflops) == (pytest.approx(split.accuracy(0)), 1.0)
    assert (high.accuracy, high.avg_gflops) == (pytest.approx(split.accuracy(3)), 15.0)


def test_fitted_cascades_meet_their_budgets_and_beat_static_on_the_fit_split():
    val, gflops = random_split(1), [1.0, 2.0, 4.0, 8.0]
    static = [(g, val.accuracy(i)) for i, g in enumerate(gflops)]
    budgets = default_budgets(gflops)
    assert budgets == [1.0, 1.41421, 2.0, 2.82843, 4.0, 5.65685, 8.0]
    for budget in budgets:
        for max_stages in (None, 2, 3):
            fitted = fit_cascade(val, gflops, budget, max_stages=max_stages)
            assert fitted.fitted.avg_gflops <= budget
            if max_stages:  # the single configurations are among the candidates
                best_static = max(a for g, a in static if g <= budget)
                assert fitted.fitted.accuracy >= best_static
            else:
                assert fitted.cascade.stages == (0, 1, 2, 3)
    with pytest.raises(BudgetError, match="below the cheapest configuration"):
        fit_cascade(val, gflops, 0.5)


def test_live_cascade_answers_as_the_simulation(calibrated):
    front = pareto_front(calibrated.table)
    configs = [subnet_config(r) for r in front]
    budgeted = BudgetedModel(calibrated.model, front)
    torch.manual_seed(1)
    clips = torch.randn(6, 3, 4, 32, 32)
    loader = [{"inputs": [clips[i : i + 3]], "label": torch.arange(i, i + 3) % 2}
              for i in (0, 3)]  # fmt: skip
    split = collect_logits(calibrated.model, loader, configs, torch.device("cpu"))
    assert split.logits.shape == (len(configs), 6, 400) and split.labels.shape == (6,)
    for k, config in enumerate(configs):
        torch.testing.assert_close(split.logits[k], budgeted.run(clips, config), rtol=0, atol=1e-5)
    confidence = split.logits.softmax(-1).max(-1).values
    # Thresholds halfway between the 3rd and 4th confidence: no clip sits on one.
    thresholds = [float(confidence[k].sort().values[2:4].mean()) for k in range(len(configs) - 1)]
    logits, answered = run_cascade(budgeted, clips, configs, thresholds)
    last = len(configs) - 1
    expected = [
        next((k for k, t in enumerate(thresholds) if confidence[k, n] >= t), last) for n in range(6)
    ]
    assert answered.tolist() == expected and len(set(expected)) > 1
    for n, stage in enumerate(expected):
        torch.testing.assert_close(logits[n], split.logits[stage, n], rtol=0, atol=1e-5)
    cascade = Cascade(tuple(range(len(configs))), tuple(thresholds))
    outcome = simulate_cascade(cascade, split, [r.gflops for r in front])
    assert outcome.exits == tuple(torch.bincount(answered, minlength=len(configs)).tolist())
