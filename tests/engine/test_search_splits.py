"""MUTUALNET.SEARCH_SPLITS: the grid evaluated on test as well as val, so that a
configuration chosen on val is reported on data it was not chosen on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mutualnet3d.config import ConfigError, load_config
from mutualnet3d.engine import RunSpec, run

IMAGES = "configs/Demo/MutualNet_MobileNetV1_Digits.yaml"


def test_the_splits_reach_the_search_spec() -> None:
    spec = RunSpec.from_cfg(load_config(IMAGES, ["MUTUALNET.SEARCH_SPLITS", "['val', 'test']"]))
    assert spec.search.splits == ("val", "test")
    assert RunSpec.from_cfg(load_config(IMAGES)).search.splits == ("val",)


@pytest.mark.parametrize("value", ["[]", "['val', 'val']", "['train']", "['val', 'holdout']"])
def test_bad_splits_are_refused_at_load(value: str) -> None:
    with pytest.raises(ConfigError, match="MUTUALNET.SEARCH_SPLITS must be distinct splits"):
        load_config(IMAGES, ["MUTUALNET.SEARCH_SPLITS", value])


@pytest.mark.parametrize("off", [["MUTUALNET.SEARCH", "False"], ["MUTUALNET.ENABLE", "False"]])
def test_splits_without_a_search_are_refused(off: list[str]) -> None:
    with pytest.raises(ConfigError, match="SEARCH_SPLITS acts only with MUTUALNET.ENABLE and SEARCH"):
        load_config(IMAGES, [*off, "MUTUALNET.SEARCH_SPLITS", "['val', 'test']"])


@pytest.mark.slow  # a one-epoch run of the digits MobileNet with its search
def test_a_run_writes_one_table_per_split(tmp_path: Path) -> None:
    opts = ["SOLVER.MAX_EPOCH", "1", "TRAIN.EVAL_PERIOD", "1", "TRAIN.CHECKPOINT_PERIOD", "1",
            "MUTUALNET.EVAL_WIDTHS", "[0.25, 1.0]", "MUTUALNET.SPATIAL_SIZES", "[28, 16]",
            "MUTUALNET.BN_CALIB_BATCHES", "2", "MUTUALNET.SEARCH_SPLITS", "['val', 'test']",
            "OUTPUT_DIR", str(tmp_path)]
    run(load_config(IMAGES, opts))
    tables = {}
    for name in ("search_table", "search_table_test"):
        rows = json.loads((tmp_path / f"{name}.json").read_text())["configurations"]
        tables[name] = {(r["width"], r["spatial"]): (r["gflops"], r["top1"]) for r in rows}
    assert (tmp_path / "query_table_test.json").exists()
    val, test = tables["search_table"], tables["search_table_test"]
    assert set(val) == set(test) == {(w, s) for w in (0.25, 1.0) for s in (28, 16)}
    assert all(val[c][0] == test[c][0] for c in val)  # the same configurations, costs
    # Different digits: the accuracies differ somewhere (500 images each; one in 500 steps).
    assert any(val[c][1] != test[c][1] for c in val)
    log = (tmp_path / "stdout.log").read_text()
    assert "configurations, val split)" in log and "test split: wrote" in log
