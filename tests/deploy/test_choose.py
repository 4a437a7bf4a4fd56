"""Choosing the deployed configuration: budgets in GFLOPs or ms, or a searched name."""

from __future__ import annotations

import pytest

from mutualnet3d.deploy import (
    LatencyRow,
    LatencyTable,
    SelectionError,
    by_budget,
    by_configuration,
    by_latency,
    parse_configuration,
    write_latency_tables,
)
from mutualnet3d.deploy.finished_run import latency_rows
from mutualnet3d.evaluation import ConfigResult

TABLE = [
    ConfigResult(0.5, 16, 2, 0.0004, 0.13, 50.0, 90.0),
    ConfigResult(0.5, 32, 8, 0.0047, 0.13, 60.0, 95.0),
    ConfigResult(1.0, 16, 8, 0.0057, 0.50, 58.0, 94.0),  # dearer and worse: never chosen
    ConfigResult(1.0, 32, 8, 0.0159, 0.50, 70.0, 98.0),
]


@pytest.mark.parametrize(
    "budget, expected",
    [(0.0004, TABLE[0]), (0.006, TABLE[1]), (1.0, TABLE[3]), (None, TABLE[3])],
)
def test_a_budget_picks_the_most_accurate_that_fits(budget, expected):
    assert by_budget(TABLE, budget) == expected


def test_a_budget_below_the_cheapest_names_it():
    with pytest.raises(SelectionError) as error:
        by_budget(TABLE, 0.0001)
    assert str(error.value) == (
        "no configuration fits 0.0001 GFLOPs: the cheapest is width 0.5, 16 px, 2 frames "
        "at 0.0004 GFLOPs"
    )


def test_a_named_configuration_must_have_been_searched():
    assert by_configuration(TABLE, *parse_configuration("1.0,16,8")) == TABLE[2]
    with pytest.raises(SelectionError, match=r"widths \[0.5, 1.0\], spatial sizes \[16, 32\]"):
        by_configuration(TABLE, 0.75, 16, 8)


@pytest.mark.parametrize("text", ["0.5", "0.5,16,2,1", "half,16,2", "0.5,16.5,2"])
def test_a_malformed_configuration_says_the_form(text):
    with pytest.raises(SelectionError, match="WIDTH,SPATIAL,FRAMES"):
        parse_configuration(text)


def test_images_name_two_values():
    assert parse_configuration("0.25, 128") == (0.25, 128, None)


def test_a_latency_budget_reads_latency_table_json(tmp_path):
    # The file tools/measure_latency.py writes: ms per measured batch size.
    ms = {1: [1.0, 3.0, 2.5, 9.0], 8: [4.0, 20.0, 12.0, 50.0]}
    rows = tuple(
        LatencyRow(r, {b: ms[b][i] for b in ms}, {b: 0.1 for b in ms}, {b: ms[b][i] for b in ms})
        for i, r in enumerate(TABLE)
    )
    write_latency_tables(LatencyTable(rows, "top1", "a CPU", 1, (1, 8), 1, 3), str(tmp_path))
    rows = latency_rows(str(tmp_path))  # batch 1, the first measured
    assert [ms for _, ms in rows] == [1.0, 3.0, 2.5, 9.0]
    assert by_latency(rows, 3.0) == TABLE[1]
    assert by_latency(latency_rows(str(tmp_path), 8), 13.0) == TABLE[2]
    assert latency_rows(str(tmp_path / "absent")) is None
    with pytest.raises(SelectionError, match="the fastest is width 0.5, 16 px, 2 frames at 1 ms"):
        by_latency(rows, 0.5)
