"""BudgetedModel: the logits of the static export at every configuration, and its budgets."""

from __future__ import annotations

import pytest
import torch

from mutualnet3d.deploy import (
    BudgetError,
    BudgetedModel,
    LatencyRow,
    LatencyTable,
    MissingStatisticsError,
    subnet_config,
)
from mutualnet3d.engine.forward import resize_input
from mutualnet3d.evaluation import ConfigResult, pareto_front
from mutualnet3d.slim import export_subnet

from .conftest import CONFIGS, calibrate


def _static_logits(model, row, clip):
    config = subnet_config(row)
    static = export_subnet(model, config.width, config.key).eval()
    with torch.no_grad():
        return static(resize_input(clip, config))


@pytest.mark.parametrize("name", ["slow_tiny", "slowfast_tiny"])
def test_every_configuration_gives_the_static_exports_logits(name):
    setup = calibrate(
        name,
        CONFIGS
        if name == "slow_tiny"
        else {c._replace(temporal=min(c.temporal, 2)): m for c, m in CONFIGS.items()},
    )
    budgeted = BudgetedModel(setup.model, setup.table)
    expected = {r: _static_logits(setup.model, r, setup.clip) for r in setup.table}
    # Twice, in two orders: the slices kept per configuration never leak into another.
    for rows in (setup.table, setup.table[::-1]):
        for row in rows:
            torch.testing.assert_close(
                budgeted.run(setup.clip, subnet_config(row)), expected[row], rtol=0, atol=1e-5
            )
    for row in pareto_front(setup.table):  # by budget: each front entry at its own cost
        out = budgeted(setup.clip, budget_gflops=row.gflops)
        assert budgeted.last_config == subnet_config(row)
        torch.testing.assert_close(out, expected[row], rtol=0, atol=1e-5)


def test_a_budget_runs_the_most_accurate_configuration_that_fits(calibrated):
    budgeted = BudgetedModel(calibrated.model, calibrated.table)
    by_metric = {r.metric: subnet_config(r) for r in calibrated.table}
    dominated = next(r for r in calibrated.table if r.metric == 50.0)
    assert budgeted.select(budget_gflops=dominated.gflops) == by_metric[55.0]
    assert budgeted.select(budget_gflops=1e9) == by_metric[70.0]
    cheapest = min(calibrated.table, key=lambda r: r.gflops)
    assert budgeted.select(budget_gflops=cheapest.gflops) == by_metric[40.0]
    with pytest.raises(BudgetError, match=rf"below the cheapest .* {cheapest.name} at"):
        budgeted(calibrated.clip, budget_gflops=cheapest.gflops * 0.99)
    with pytest.raises(ValueError, match="exactly one"):
        budgeted(calibrated.clip)
    with pytest.raises(ValueError, match="exactly one"):
        budgeted(calibrated.clip, budget_gflops=1.0, budget_ms=1.0)
    with pytest.raises(ValueError, match="needs a latency table"):
        budgeted(calibrated.clip, budget_ms=1.0)


def _latency(table, ms_of):
    rows = tuple(LatencyRow(r, {2: ms_of(r)}, {2: 0.1}, {2: ms_of(r) + 1}) for r in table)
    return LatencyTable(rows, "top1", "test", 1, (2,), 0, 1)


def test_a_latency_budget_chooses_by_measured_milliseconds(calibrated):
    # Milliseconds that make the cheap-FLOPs 1.00x-16px-2f slower than 0.50x-24px-4f.
    ms = {40.0: 1.0, 55.0: 9.0, 50.0: 3.0, 52.0: 4.0, 70.0: 10.0}
    latency = _latency(calibrated.table, lambda r: ms[r.metric])
    budgeted = BudgetedModel(calibrated.model, calibrated.table, latency=latency)
    by_metric = {r.metric: subnet_config(r) for r in calibrated.table}
    budgeted(calibrated.clip, budget_ms=5.0)
    assert budgeted.last_config == by_metric[52.0]
    assert (
        budgeted.select(budget_gflops=next(r.gflops for r in calibrated.table if r.metric == 55.0))
        == by_metric[55.0]
    )
    with pytest.raises(BudgetError, match=r"budget 0\.5 ms is below .* at 1 ms"):
        budgeted(calibrated.clip, budget_ms=0.5)
    with pytest.raises(ValueError, match=r"measured batch sizes \[2\], not 1"):
        budgeted(calibrated.clip[:1], budget_ms=5.0)


def test_configurations_without_statistics_and_training_mode_are_refused(calibrated):
    uncalibrated = ConfigResult(0.5, 32, 4, 1.0, 0.1, 99.0)
    with pytest.raises(MissingStatisticsError, match="w0p5_s32_t4.*never recalibrates"):
        BudgetedModel(calibrated.model, [*calibrated.table, uncalibrated])
    with pytest.raises(ValueError, match="at least one"):
        BudgetedModel(calibrated.model, [])
    budgeted = BudgetedModel(calibrated.model, calibrated.table)
    calibrated.model.train()
    try:
        with pytest.raises(RuntimeError, match="eval mode only"):
            budgeted(calibrated.clip, budget_gflops=1e9)
    finally:
        calibrated.model.eval()
