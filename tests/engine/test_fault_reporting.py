"""The pieces that make faults of long runs visible: each rank's random state in a
checkpoint, the heartbeat that names a silent rank, the skip counts and warnings that
come back from DataLoader workers."""

from __future__ import annotations

import logging
import threading
import warnings

import pytest
import torch
import torch.distributed as dist
from torch.utils.data import Dataset

from mutualnet3d.engine import checkpoint as checkpoint_module
from mutualnet3d.engine.checkpoint import rank_rng_state, rng_state
from mutualnet3d.engine.heartbeat import Heartbeat, StalledRankError, is_timeout
from mutualnet3d.engine.skips import SKIPS, SkipCountingLoader
from mutualnet3d.data.collate import collate_samples


def test_each_rank_gets_its_own_saved_random_state(monkeypatch):
    states = [{"torch": torch.full((3,), r, dtype=torch.uint8)} for r in range(2)]
    checkpoint = {"rng_state": states[0], "rng_states": states}
    monkeypatch.setattr(checkpoint_module, "get_world_size", lambda: 2)
    monkeypatch.setattr(checkpoint_module, "get_rank", lambda: 1)
    assert rank_rng_state(checkpoint, "c.pyth") is states[1]


def test_another_process_count_restores_rank_0s_state_and_says_so(monkeypatch, caplog):
    state = rng_state()
    monkeypatch.setattr(checkpoint_module, "get_world_size", lambda: 2)
    monkeypatch.setattr(checkpoint_module, "get_rank", lambda: 1)
    with caplog.at_level(logging.WARNING):
        for saved in ({"rng_state": state}, {"rng_state": state, "rng_states": [state]}):
            assert rank_rng_state(saved, "old.pyth") is state
    assert caplog.text.count("old.pyth holds the random states of") == 2
    assert "rank 0 only" in caplog.text and "1 processes" in caplog.text


@pytest.mark.slow  # waits three beats
def test_heartbeat_names_the_rank_whose_counter_stands_still():
    store = dist.HashStore()
    others = dist.PrefixStore("mutualnet3d/heartbeat/", store)
    done = threading.Event()

    def rank_2_beats():  # rank 2 is alive; rank 1 never beats
        while not done.wait(0.2):
            others.add("2", 1)

    threading.Thread(target=rank_2_beats, daemon=True).start()
    try:
        with Heartbeat(store, rank=0, world_size=3, timeout=5) as heartbeat:  # 0.5 s beats
            error = heartbeat.stalled_error(RuntimeError("[gloo] Timed out waiting 5000ms"))
    finally:
        done.set()
    assert isinstance(error, StalledRankError)
    assert str(error).startswith("rank 1 stopped answering"), error
    assert "DIST_TIMEOUT 5 s" in str(error) and "Timed out waiting 5000ms" in str(error)


def test_only_timeouts_are_diagnosed():
    assert is_timeout(RuntimeError("Timed out waiting 1800000ms for recv operation"))
    assert is_timeout(RuntimeError("Socket Timeout"))
    assert not is_timeout(RuntimeError("Connection closed by peer"))
    assert not is_timeout(ValueError("timed out"))  # not a distributed error


class _Flaky(Dataset):
    """Items whose odd indices first fail once (a warning and a count, as FailureLog)."""

    def __init__(self):
        self.failures: dict[str, int] = {}
        self.skipped_packets = {"a.mp4": 0}

    def __len__(self):
        return 4

    def __getitem__(self, index):
        if index % 2:
            self.failures[f"v{index}.mp4"] = self.failures.get(f"v{index}.mp4", 0) + 1
            self.skipped_packets["a.mp4"] += 3
            warnings.warn(f"skipping video v{index}.mp4 (broken)", UserWarning)
        return {"inputs": [torch.zeros(1)], "label": 0, "index": index, "video_index": 0, "view": 0}


@pytest.mark.parametrize("workers", [0, 1])
def test_batches_carry_skip_counts_and_their_warnings_reach_this_process(workers):
    loader = SkipCountingLoader(
        _Flaky(), collate_fn=collate_samples, batch_size=2, num_workers=workers
    )
    with pytest.warns(UserWarning) as said:
        batches = list(loader)
    assert [[b[key] for key in SKIPS] for b in batches] == [[1, 3], [1, 3]]
    assert sorted(str(w.message) for w in said) == [
        "skipping video v1.mp4 (broken)",
        "skipping video v3.mp4 (broken)",
    ]
    assert len(loader) == 2 and len(loader.dataset) == 4
