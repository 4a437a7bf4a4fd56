"""Checkpoints: atomic writes, only loadable ones picked, PySlowFast's layout."""

import pytest
import torch

from mutualnet3d.engine import (
    Checkpointer,
    latest_checkpoint,
    load_checkpoint_file,
    save_checkpoint,
)
from mutualnet3d.engine.checkpoint import checkpoint_path, load_for_eval
from mutualnet3d.engine.weights_file import CheckpointError
from mutualnet3d.models import get_model_builder

from .foreign_formats import reference, scrambled, write_format


def _state(epoch):
    return {"epoch": epoch, "model_state": {"w": torch.full((3,), float(epoch))}}


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = checkpoint_path(str(tmp_path), 1)
    save_checkpoint(path, _state(1))

    def dying_save(obj, f):
        f.write(b"partial bytes")
        raise KeyboardInterrupt  # killed mid-write

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, _state(2))
    monkeypatch.undo()
    assert load_checkpoint_file(path)["epoch"] == 1  # the old file is intact
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_truncated_checkpoint_is_never_picked(tmp_path):
    for epoch in (1, 2, 3):
        save_checkpoint(checkpoint_path(str(tmp_path), epoch), _state(epoch))
    newest = checkpoint_path(str(tmp_path), 3)
    newest.write_bytes(newest.read_bytes()[:50])  # truncated behind our back
    picked = latest_checkpoint(str(tmp_path))
    assert picked == checkpoint_path(str(tmp_path), 2)
    assert load_checkpoint_file(picked)["model_state"]["w"][0] == 2.0
    assert latest_checkpoint(str(tmp_path / "none")) is None


def test_checkpointer_writes_pyslowfasts_layout_and_the_config(tmp_path):
    model = get_model_builder("slow_tiny")(num_classes=3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    checkpoints = Checkpointer(str(tmp_path), "MODEL:\n  NUM_CLASSES: 3\n")
    path = checkpoints.save(model, 4, optimizer)
    assert path == tmp_path / "checkpoints" / "checkpoint_epoch_00004.pyth"
    state = load_checkpoint_file(path)
    assert set(state) == {
        "epoch",
        "model_state",
        "optimizer_state",
        "optimizer_name",
        "scaler_state",
        "rng_state",
        "rng_states",  # one per process, in rank order
        "cfg",
    }
    assert len(state["rng_states"]) == 1
    torch.testing.assert_close(state["rng_states"][0]["torch"], state["rng_state"]["torch"])
    assert (
        state["epoch"] == 4 and state["cfg"].startswith("MODEL:") and state["scaler_state"] is None
    )
    assert state["optimizer_name"] == "SGD"
    assert (
        checkpoints.save(model, 4, name="checkpoint_calibrated.pyth").name
        == "checkpoint_calibrated.pyth"
    )


def test_load_for_eval_takes_the_named_file_or_the_newest(tmp_path):
    model = get_model_builder("slow_tiny")(num_classes=3)
    assert load_for_eval(model, "", str(tmp_path)) is None  # nothing yet: initial weights
    trained = get_model_builder("slow_tiny")(num_classes=3)
    with torch.no_grad():
        trained.get_classifier().bias.fill_(7.0)
    path = Checkpointer(str(tmp_path), "").save(trained, 1)
    assert load_for_eval(model, "", str(tmp_path)) == path
    assert torch.equal(model.get_classifier().bias, trained.get_classifier().bias)
    other = get_model_builder("slow_tiny")(num_classes=3)
    assert load_for_eval(other, str(path), str(tmp_path / "elsewhere")) == path


def test_load_for_eval_falls_back_on_the_training_checkpoint(tmp_path):
    """PySlowFast's order: TEST.CHECKPOINT_FILE_PATH, OUTPUT_DIR's newest, then
    TRAIN.CHECKPOINT_FILE_PATH (its c2/ test files name the zoo's weights there)."""
    given = get_model_builder("slow_tiny")(num_classes=3)
    with torch.no_grad():
        given.get_classifier().bias.fill_(3.0)
    zoo = Checkpointer(str(tmp_path / "zoo"), "").save(given, 5)
    model = get_model_builder("slow_tiny")(num_classes=3)
    assert load_for_eval(model, "", str(tmp_path / "run"), fallback=str(zoo)) == zoo
    assert torch.equal(model.get_classifier().bias, given.get_classifier().bias)
    newest = Checkpointer(str(tmp_path / "run"), "").save(
        get_model_builder("slow_tiny")(num_classes=3), 1
    )
    assert load_for_eval(model, "", str(tmp_path / "run"), fallback=str(zoo)) == newest


@pytest.mark.parametrize(
    "fmt, checkpoint_type",
    [pytest.param("pyslowfast", "pytorch", marks=pytest.mark.slow), ("caffe2", "caffe2")],
)
def test_load_for_eval_takes_a_foreign_checkpoint_of_the_whole_network(
    tmp_path, caplog, fmt, checkpoint_type
):
    """TEST.CHECKPOINT_FILE_PATH with PySlowFast's documented way to test its models:
    its file loads through the same recognition, every tensor or none."""
    _, state = reference("slow_tiny")
    path = write_format(tmp_path / "zoo", fmt, "slow_tiny", state)
    model = scrambled("slow_tiny")
    with caplog.at_level("INFO", logger="mutualnet3d.engine.checkpoint"):
        assert (
            load_for_eval(model, str(path), str(tmp_path), checkpoint_type=checkpoint_type) == path
        )
    assert f"{fmt} format" in caplog.text
    own = model.state_dict()
    assert all(torch.equal(own[k], v) for k, v in state.items() if "num_batches" not in k)
    with pytest.raises(CheckpointError, match="blocks.5.proj has 5 classes"):
        load_for_eval(scrambled("slow_tiny", num_classes=3), str(path), str(tmp_path))
