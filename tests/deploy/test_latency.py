"""The latency table: its fronts against the FLOPs one, files, plot, and the timing."""

from __future__ import annotations

import json
import time

import pytest
import torch

from mutualnet3d.deploy import (
    BudgetedModel,
    LatencyRow,
    LatencyTable,
    format_latency_table,
    front_differences,
    measure_latency,
    plot_fronts,
    read_latency_table,
    time_rounds,
    write_latency_tables,
)
from mutualnet3d.evaluation import ConfigResult

# GFLOPs rank a < b < c < d; milliseconds rank b (a wide layer at a tiny size, say)
# above c, so by latency c enters the front and b leaves it.
A = ConfigResult(0.5, 16, 2, 1.0, 0.1, 40.0, 80.0)
B = ConfigResult(1.0, 16, 2, 2.0, 0.4, 50.0, 85.0)
C = ConfigResult(0.5, 32, 4, 3.0, 0.1, 55.0, 86.0)
D = ConfigResult(1.0, 32, 4, 8.0, 0.4, 70.0, 90.0)
MS = {A: (2.0, 5.0), B: (9.0, 20.0), C: (4.0, 11.0), D: (10.0, 30.0)}  # batch 1, batch 4


def fake_table() -> LatencyTable:
    rows = tuple(
        LatencyRow(r, {1: MS[r][0], 4: MS[r][1]}, {1: 0.2, 4: 0.5}, {1: MS[r][0] + 1, 4: 9.0})
        for r in (A, B, C, D)
    )
    return LatencyTable(rows, "top1", "a CPU", 2, (1, 4), 1, 5, clock="cpu")


def test_latency_ranks_unlike_flops_give_another_front():
    table = fake_table()
    assert [r.result for r in table.flops_front()] == [A, B, C, D]
    assert [r.result for r in table.front()] == [A, C, D]
    assert [r.result for r in table.front(4)] == [A, C, D]
    flops_only, latency_only = front_differences(table)
    assert [r.result for r in flops_only] == [B] and latency_only == []
    text = format_latency_table(table)
    assert "ms b4 (IQR)" in text and text.splitlines()[2].endswith("F-")  # B's row
    with pytest.raises(ValueError, match=r"measured batch sizes \[1, 4\], not 8"):
        table.cost(8)


def test_tables_round_trip_and_plot(tmp_path):
    table = fake_table()
    paths = write_latency_tables(table, str(tmp_path))
    header = paths["latency_table"].read_text().splitlines()[0].split(",")
    assert header[:7] == ["width", "spatial", "temporal", "gflops", "mparams", "top1", "top5"]
    assert header[7:10] == ["latency_ms_b1", "latency_iqr_ms_b1", "switch_ms_b1"]
    assert header[-2:] == ["on_flops_front", "on_latency_front"]
    assert read_latency_table(str(tmp_path / "latency_table.json")) == table
    query = json.loads((tmp_path / "query_table_latency.json").read_text())
    assert [c["gflops"] for c in query["configurations"]] == [1.0, 3.0, 8.0]
    assert query["device"] == "a CPU" and query["threads"] == 2 and query["clock"] == "cpu"
    flags = json.loads((tmp_path / "latency_table.json").read_text())["configurations"]
    assert [(c["on_flops_front"], c["on_latency_front"]) for c in flags][1] == (True, False)
    png = plot_fronts(table, str(tmp_path / "fronts.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_rounds_are_interleaved_rotated_and_alternated():
    calls = []
    groups = [[lambda g=g, c=c: calls.append(f"{g}{c}") for c in "ab"] for g in range(3)]
    times = time_rounds(groups, warmup=1, repeats=2, device=torch.device("cpu"), alternate=True)
    assert [len(t) for group in times for t in group] == [2] * 6
    # warm-up round 0: 0 1 2; round 1 rotated by one, calls reversed; round 2 by two.
    assert calls == ["0a", "0b", "1a", "1b", "2a", "2b",
                     "1b", "1a", "2b", "2a", "0b", "0a",
                     "2a", "2b", "0a", "0b", "1a", "1b"]  # fmt: skip


def test_the_cpu_clock_counts_work_not_waiting():
    cpu = torch.device("cpu")
    (idle,), (busy,) = time_rounds(
        [[lambda: time.sleep(0.02)], [lambda: sum(range(200_000))]],
        warmup=0, repeats=2, device=cpu, clock="cpu",
    )  # fmt: skip
    assert max(idle) < 0.01 and min(busy) > 0  # a 20 ms sleep uses next to no CPU
    with pytest.raises(ValueError, match="clock must be one of"):
        time_rounds([[lambda: None]], warmup=0, repeats=1, device=cpu, clock="gpu")


def test_measured_table_holds_every_configuration_and_batch(calibrated):
    budgeted = BudgetedModel(calibrated.model, calibrated.table)
    example = lambda batch: (torch.randn(batch, 3, 4, 32, 32),)  # noqa: E731
    table = measure_latency(
        budgeted, calibrated.table, example, [1, 2], device=torch.device("cpu"),
        warmup=1, repeats=3,
    )  # fmt: skip
    assert [r.result for r in table.rows] == calibrated.table
    assert table.batch_sizes == (1, 2) and table.threads == torch.get_num_threads()
    assert table.device and (table.warmup, table.repeats) == (1, 3)
    for row in table.rows:
        assert set(row.latency_ms) == set(row.iqr_ms) == set(row.switch_ms) == {1, 2}
        assert all(v > 0 for v in (*row.latency_ms.values(), *row.switch_ms.values()))
        assert all(v >= 0 for v in row.iqr_ms.values())
