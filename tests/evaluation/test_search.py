"""The query table: Pareto front, budget selection, files and plot."""

import json

import pytest

from mutualnet3d.evaluation.search import (
    ConfigResult,
    pareto_front,
    plot_tables,
    read_table,
    select_config,
    write_tables,
)

RESULTS = [
    ConfigResult(1.0, 224, 8, 40.0, 32.0, 75.0, 92.0),
    ConfigResult(0.8, 224, 8, 26.0, 21.0, 73.0, 91.0),
    ConfigResult(1.0, 142, 3, 6.7, 32.0, 60.0, 80.0),
    ConfigResult(0.63, 178, 5, 7.3, 13.0, 64.0, 84.0),  # beats the cheaper one above
    ConfigResult(0.63, 224, 8, 16.7, 13.0, 62.0, 83.0),  # dominated by the 7.3 one
    ConfigResult(0.63, 142, 3, 2.7, 13.0, 50.0, 70.0),
]


def test_pareto_front_increases_in_cost_and_accuracy():
    front = pareto_front(RESULTS)
    assert [(r.gflops, r.metric) for r in front] == [
        (2.7, 50.0),
        (6.7, 60.0),
        (7.3, 64.0),
        (26.0, 73.0),
        (40.0, 75.0),
    ]


@pytest.mark.parametrize(
    "budget, expected",
    [(1.0, None), (2.7, 2.7), (7.0, 6.7), (20.0, 7.3), (30.0, 26.0), (1000.0, 40.0)],
)
def test_select_config_under_budget(budget, expected):
    for table in (RESULTS, pareto_front(RESULTS)):
        chosen = select_config(table, budget)
        assert (chosen.gflops if chosen else None) == expected


def test_tables_and_plot_are_written(tmp_path):
    paths = write_tables(RESULTS, str(tmp_path))
    assert (
        paths["search_table"].read_text().splitlines()[0]
        == "width,spatial,temporal,gflops,mparams,top1,top5"
    )
    assert len(paths["query_table"].read_text().splitlines()) == 1 + 5
    data = json.loads((tmp_path / "query_table.json").read_text())
    assert data["metric"] == "top1" and data["configurations"][0]["top1"] == 50.0
    assert read_table(str(tmp_path / "search_table.json")) == RESULTS
    png = plot_tables(RESULTS, str(tmp_path / "plot.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_front_and_selection_by_another_cost():
    # Milliseconds that rank the 6.7 and 7.3 GFLOPs configurations the other way round.
    ms = {2.7: 5.0, 6.7: 30.0, 7.3: 12.0, 16.7: 20.0, 26.0: 40.0, 40.0: 60.0}
    cost = lambda r: ms[r.gflops]  # noqa: E731
    assert [r.gflops for r in pareto_front(RESULTS, cost)] == [2.7, 7.3, 26.0, 40.0]
    assert select_config(RESULTS, 25.0, cost).gflops == 7.3
    assert select_config(RESULTS, 4.0, cost) is None
    assert pareto_front(RESULTS) == pareto_front(RESULTS, lambda r: r.gflops)
