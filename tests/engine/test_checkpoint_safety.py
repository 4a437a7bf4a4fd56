"""No poisoned checkpoints (issue 15): nothing non-finite is saved or loaded, auto-resume
walks back past checkpoints that do not load, stale temporaries are removed, output
folders are checked writable first, another optimizer's state is refused, and files that
are no checkpoint are named."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import pytest
import torch

from mutualnet3d.config import load_config
from mutualnet3d.engine import run
from mutualnet3d.engine.checkpoint import (
    Checkpointer,
    OutputFolderError,
    check_writable,
    checkpoint_dir,
    checkpoint_path,
    load_checkpoint_file,
    load_for_eval,
    remove_stale_temporaries,
    require_finite,
    save_checkpoint,
    usable_checkpoint,
)
from mutualnet3d.engine.finite import NonFiniteError, first_non_finite
from mutualnet3d.engine.pretrained import load_pretrained
from mutualnet3d.engine.train import resume_or_initialise
from mutualnet3d.engine.weights_file import CheckpointError
from mutualnet3d.models import get_model_builder
from tests.e2e.test_run_net import SLOW, tiny_opts

NORM = "blocks.1.res_blocks.0.branch2.norm_a.running_var"


def _model(num_classes: int = 2):
    return get_model_builder("slow_tiny")(num_classes=num_classes)


def _training(data, out: Path, **extra: str):
    """Training only, no validation: the tiniest run that writes checkpoints."""
    opts = {
        "SOLVER.MAX_EPOCH": "3",
        "TRAIN.EVAL_PERIOD": "0",
        "MUTUALNET.CALIBRATE": "False",
        "MUTUALNET.SEARCH": "False",
        "TEST.ENABLE": "False",
        "LOG_MODEL_INFO": "False",
        **extra,
    }
    return load_config(SLOW, tiny_opts(data, out, **opts))


def _nothing(data, out: Path, **extra: str):
    """A run that builds the model and stops: no training, calibration, search or test."""
    return _training(data, out, **{"TRAIN.ENABLE": "False", **extra})


def _checkpoints(out: Path) -> list[Path]:
    return sorted(checkpoint_dir(str(out)).glob("checkpoint_epoch_*.pyth"))


def _resume(model, optimizer, out: Path) -> int:
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    return resume_or_initialise(
        model, optimizer, scaler, output_dir=str(out), auto_resume=True, init_checkpoint=""
    )


def _poisoned(path: Path, num_classes: int = 2) -> Path:
    """Our checkpoint with a NaN in a BN buffer, written as an older version could."""
    state = _model(num_classes).state_dict()
    state[NORM][1] = float("nan")
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = {"torch": torch.get_rng_state()}
    torch.save({"epoch": 1, "model_state": state, "optimizer_state": None, "rng_state": rng}, path)
    return path


# -- nothing non-finite is saved -------------------------------------------------------------


@pytest.mark.slow  # whole tiny runs, 1.5-3 s each
@pytest.mark.parametrize("method, lr", [("sgd", "1e3"), ("adamw", "1e6")])
def test_a_diverging_run_with_a_finite_loss_stops_at_the_iteration_and_saves_nothing_bad(
    kinetics_dir, tmp_path, method, lr
):
    """Such runs kept a finite loss while BN running variances overflowed: they saved
    non-finite checkpoints and exited 0. Now the step that overflows is named."""
    out = tmp_path / "out"
    cfg = _training(kinetics_dir, out, **{"SOLVER.OPTIMIZING_METHOD": method, "SOLVER.BASE_LR": lr})
    with pytest.raises(NonFiniteError) as error:
        run(cfg)
    message = str(error.value)
    assert "iteration" in message and "after the optimizer step, with a finite loss" in message
    assert "NaN or infinite" in message
    saved = _checkpoints(out)
    for path in saved:
        state = load_checkpoint_file(path)
        assert first_non_finite([state["model_state"], state["optimizer_state"]]) is None, path
    if saved:
        assert message.endswith(f"the last good checkpoint is {saved[-1]}")
        assert load_for_eval(_model(), "", str(out)) == saved[-1]  # it loads, finite
    else:
        assert message.endswith(f"there is no good checkpoint in {checkpoint_dir(str(out))}")


@pytest.mark.slow  # a tiny run or several models: 0.5-1 s
def test_a_diverging_loss_names_the_iteration_and_the_last_good_checkpoint(kinetics_dir, tmp_path):
    out = tmp_path / "out"
    cfg = _training(kinetics_dir, out, **{"SOLVER.BASE_LR": "1e30", "SOLVER.MAX_EPOCH": "1"})
    with pytest.raises(NonFiniteError, match=r"^epoch 1, iteration \d+: loss is nan .*no good"):
        run(cfg)
    assert not _checkpoints(out)


@pytest.mark.slow  # whole tiny runs, 1.5-3 s each
def test_the_checkpoint_check_stops_what_the_iteration_check_let_through(
    kinetics_dir, tmp_path, monkeypatch
):
    """Without the check after each step, BN running variances that overflow during
    epoch 2 while the loss stays finite (train mode normalises with batch statistics)
    are caught by the check before the write: epoch 2's checkpoint is refused."""
    import mutualnet3d.engine.train as train_module

    monkeypatch.setattr(train_module, "non_finite_state", lambda model: None)
    step = train_module.MutualTrainer.step

    def overflowing_bn_in_epoch_2(self, batch, global_step, epoch, device):
        result = step(self, batch, global_step, epoch, device)
        if epoch >= 1:
            bn = next(m for m in self.model.modules() if hasattr(m, "running_var"))
            bn.running_var.fill_(float("inf"))
        return result

    monkeypatch.setattr(train_module.MutualTrainer, "step", overflowing_bn_in_epoch_2)
    out = tmp_path / "out"
    cfg = _training(kinetics_dir, out)
    first = checkpoint_path(str(out), 1)
    with pytest.raises(
        NonFiniteError,
        match=rf"^end of epoch 2: model_state/\S+running_var \(\d+ of \d+ values NaN or "
        rf"infinite\); checkpoint_epoch_00002\.pyth not written, the last good checkpoint "
        rf"is {first}$",
    ):
        run(cfg)
    assert _checkpoints(out) == [first]
    assert not list(checkpoint_dir(str(out)).glob(".*.tmp"))


@pytest.mark.slow  # a tiny run or several models: 0.5-1 s
def test_checkpointer_refuses_non_finite_weights_or_optimizer_state(tmp_path):
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    checkpoints = Checkpointer(str(tmp_path), "")
    good = checkpoints.save(model, 1, optimizer)
    model(*model.example_args()).sum().backward()
    optimizer.step()
    next(iter(optimizer.state.values()))["momentum_buffer"].view(-1)[0] = float("inf")
    with pytest.raises(
        NonFiniteError,
        match=r"end of epoch 2: optimizer_state/state/\d+/momentum_buffer \(1 of \d+ values",
    ):
        checkpoints.save(model, 2, optimizer)
    with torch.no_grad():
        model.state_dict()[NORM][0] = float("nan")
    with pytest.raises(NonFiniteError, match=rf"writing x\.pyth \(epoch 2\): model_state/{NORM} "):
        checkpoints.save(model, 2, name="x.pyth")
    with pytest.raises(NonFiniteError, match=rf"before test: {NORM} .*checkpoint is {good}$"):
        require_finite(model, str(tmp_path), "before test")
    assert sorted(p.name for p in checkpoint_dir(str(tmp_path)).iterdir()) == [good.name]


# -- nothing non-finite is loaded ------------------------------------------------------------


def test_a_test_only_run_refuses_a_checkpoint_with_nan_weights(kinetics_dir, tmp_path):
    """It reported 6.25% top-1 and exited 0."""
    path = _poisoned(tmp_path / "zoo" / "nan.pyth")
    cfg = _nothing(kinetics_dir, tmp_path / "out", **{"TEST.CHECKPOINT_FILE_PATH": str(path)})
    with pytest.raises(CheckpointError, match=rf"{path} .*non-finite weights: {NORM} \(1 of 8"):
        run(cfg)
    with pytest.raises(CheckpointError, match=rf"{path} .*non-finite weights: {NORM}"):
        load_pretrained(_model(), path)  # TRAIN.CHECKPOINT_FILE_PATH: fine-tuning


@pytest.mark.slow  # a tiny run or several models: 0.5-1 s
def test_evaluation_passes_over_a_non_finite_newest_checkpoint_or_refuses_if_none_is_good(
    tmp_path, caplog
):
    nan = _poisoned(checkpoint_path(str(tmp_path), 2))
    with pytest.raises(CheckpointError, match=r"none of its 1 checkpoints loads into this"):
        load_for_eval(_model(), "", str(tmp_path))
    good = Checkpointer(str(tmp_path), "").save(_model(), 1)
    with caplog.at_level("WARNING", logger="mutualnet3d.engine.checkpoint"):
        assert load_for_eval(_model(), "", str(tmp_path)) == good
    assert f"passing over checkpoint {nan}: non-finite tensor model_state/{NORM}" in caplog.text


# -- auto-resume walks back ------------------------------------------------------------------


@pytest.mark.slow  # whole tiny runs, 1.5-3 s each
def test_auto_resume_falls_back_past_a_truncated_and_a_wrong_shape_newest_checkpoint(
    kinetics_dir, tmp_path
):
    out = tmp_path / "out"
    run(_training(kinetics_dir, out, **{"SOLVER.MAX_EPOCH": "1"}))
    first = checkpoint_path(str(out), 1)
    truncated = checkpoint_path(str(out), 2)
    truncated.write_bytes(first.read_bytes()[:1000])
    wrong = Checkpointer(str(out), "").save(_model(num_classes=5), 3)
    run(_training(kinetics_dir, out))  # 3 epochs
    log = (out / "stdout.log").read_text()
    assert f"passing over checkpoint {wrong}: wrong shapes (2 tensors), first " in log
    assert "(5, 256) in the file vs (2, 256) in the model" in log
    assert f"passing over checkpoint {truncated}: unreadable: not readable as a PyTorch" in log
    assert f"resumed from {first} (epoch 1)" in log
    for epoch in (2, 3):  # trained again, now good
        state = load_checkpoint_file(checkpoint_path(str(out), epoch))["model_state"]
        assert state["blocks.5.proj.weight"].shape == (2, 256)


@pytest.mark.slow  # a tiny run or several models: 0.5-1 s
def test_auto_resume_passes_over_other_models_and_non_finite_checkpoints(tmp_path, caplog):
    model = _model()
    good = Checkpointer(str(tmp_path), "").save(model, 1)
    other = checkpoint_path(str(tmp_path), 2)
    torch.save(
        {"epoch": 2, "model_state": {"encoder.weight": torch.ones(2)}, "rng_state": {}}, other
    )
    nan = _poisoned(checkpoint_path(str(tmp_path), 3))
    empty = checkpoint_path(str(tmp_path), 4)
    empty.write_bytes(b"")
    text = checkpoint_path(str(tmp_path), 5)
    text.write_text("not a checkpoint\n")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with caplog.at_level("WARNING", logger="mutualnet3d.engine.checkpoint"):
        assert _resume(_model(), optimizer, tmp_path) == 1
    for line in (
        f"{text}: unreadable: a text file (starting 'not a checkpoint'), not a PyTorch",
        f"{empty}: unreadable: empty file (0 bytes), not a checkpoint",
        f"{nan}: non-finite tensor model_state/{NORM} (1 of 8 values NaN or infinite)",
        f"{other}: another model's keys: {len(model.state_dict())} of the model's missing, 1 "
        "unexpected (first missing blocks.0.conv.weight, first unexpected encoder.weight)",
    ):
        assert f"passing over checkpoint {line}" in caplog.text
    assert usable_checkpoint(str(tmp_path), model)[0] == good


@pytest.mark.slow  # a tiny run or several models: 0.5-1 s
def test_auto_resume_refuses_a_folder_where_no_checkpoint_loads(tmp_path):
    Checkpointer(str(tmp_path), "").save(_model(num_classes=5), 1)
    with pytest.raises(
        CheckpointError,
        match=r"checkpoints: none of its 1 checkpoints loads into this VideoNet "
        r"\(checkpoint_epoch_00001\.pyth: wrong shapes .*another OUTPUT_DIR$",
    ):
        _resume(_model(), torch.optim.SGD(_model().parameters(), lr=0.1), tmp_path)


# -- another optimizer -----------------------------------------------------------------------


def _after_one_step(optimizer_class, model, **kwargs):
    optimizer = optimizer_class(model.parameters(), lr=0.1, **kwargs)
    model(*model.example_args()).sum().backward()
    optimizer.step()
    return optimizer


@pytest.mark.slow  # a tiny run or several models: 0.5-1 s
@pytest.mark.parametrize("named", [True, False], ids=["named", "before-names"])
def test_resuming_an_adamw_checkpoint_with_sgd_is_refused_naming_both(tmp_path, named):
    model = _model()
    path = Checkpointer(str(tmp_path), "").save(model, 1, _after_one_step(torch.optim.AdamW, model))
    if not named:  # written before checkpoints stored the optimizer's name
        state = load_checkpoint_file(path)
        del state["optimizer_name"]
        torch.save(state, path)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    message = (
        rf"{path}: written by a run with the AdamW optimizer, and this run's is SGD"
        if named
        else rf"{path}: its optimizer state has settings \[.*'betas'.*\] that this run's SGD lacks"
    )
    with pytest.raises(CheckpointError, match=message):
        _resume(_model(), sgd, tmp_path)


@pytest.mark.slow  # a tiny run or several models: 0.5-1 s
def test_resuming_with_the_same_optimizer_takes_its_state(tmp_path):
    model = _model()
    adamw = _after_one_step(torch.optim.AdamW, model)
    Checkpointer(str(tmp_path), "").save(model, 1, adamw)
    fresh = _model()
    resumed = torch.optim.AdamW(fresh.parameters(), lr=0.1)
    assert _resume(fresh, resumed, tmp_path) == 1
    assert len(resumed.state) == len(adamw.state)


# -- stale temporaries, writable folders -----------------------------------------------------


def test_stale_temporaries_are_removed_at_the_start_of_a_run(kinetics_dir, tmp_path):
    out = tmp_path / "out"
    folder = checkpoint_dir(str(out))
    folder.mkdir(parents=True)
    stale = [folder / ".checkpoint_epoch_00002.pyth.k1ll3d.tmp", folder / ".checkpoint_x.tmp"]
    for path in stale:
        path.write_bytes(b"x" * 100)
        os.utime(path, (time.time() - 60,) * 2)  # killed a minute ago
    kept = folder / "notes.tmp"
    kept.write_text("mine")
    fresh = folder / ".checkpoint_epoch_00003.pyth.n0w.tmp"  # just made, not yet locked
    fresh.write_bytes(b"x")
    run(_nothing(kinetics_dir, out))
    assert not any(p.exists() for p in stale) and kept.exists() and fresh.exists()
    log = (out / "stdout.log").read_text()
    assert "removed 2 stale temporary file(s) of interrupted checkpoint writes (200 bytes) " in log


def test_a_temporary_file_being_written_is_kept(tmp_path):
    folder = checkpoint_dir(str(tmp_path))
    folder.mkdir(parents=True)
    live = folder / ".checkpoint_epoch_00001.pyth.abc.tmp"
    with open(live, "wb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # as save_checkpoint holds it while writing
        os.utime(live, (time.time() - 60,) * 2)  # a slow write
        assert remove_stale_temporaries(str(tmp_path)) == (0, 0)
    assert live.exists()
    assert remove_stale_temporaries(str(tmp_path)) == (1, 0)


def test_an_unwritable_checkpoint_folder_stops_the_run_before_any_work(kinetics_dir, tmp_path):
    """Tests run as root, for whom permissions do not stop a write: a file in place of
    the folder does."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "checkpoints").write_text("a file where the folder goes")
    with pytest.raises(
        OutputFolderError,
        match=rf"^{out / 'checkpoints'}: the output folder is not writable \(FileExistsError",
    ):
        run(_training(kinetics_dir, out))
    assert not (out / "stdout.log").exists()  # before the log, the model, the data
    run(_nothing(kinetics_dir, out))  # a run that writes no checkpoint does not need it


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_named(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputFolderError, match=rf"^{folder}: .*PermissionError"):
            check_writable([folder])
    finally:
        folder.chmod(0o700)


def test_a_failed_write_probe_is_named(tmp_path, monkeypatch):
    import tempfile

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "mkstemp", full)
    with pytest.raises(OutputFolderError, match=r"out: .*\(OSError: No space left on device\)"):
        check_writable([tmp_path / "out"])


# -- files that are no checkpoint ------------------------------------------------------------


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", r"empty file \(0 bytes\), not a checkpoint"),
        (b"epoch: 3\nweights: none\n", r"a text file \(starting 'epoch: 3'\), not a PyTorch or"),
    ],
    ids=["empty", "text"],
)
def test_an_empty_or_text_checkpoint_is_named_in_one_line(tmp_path, content, message):
    path = tmp_path / "checkpoint_epoch_00001.pyth"
    path.write_bytes(content)
    for load in (
        lambda: load_checkpoint_file(path),
        lambda: load_for_eval(_model(), str(path), str(tmp_path / "out")),  # TEST.CHECKPOINT_*
        lambda: load_pretrained(_model(), path),  # TRAIN.CHECKPOINT_FILE_PATH
    ):
        with pytest.raises(CheckpointError, match=rf"^{path}: {message}") as error:
            load()
        assert "\n" not in str(error.value)


def test_a_truncated_checkpoint_is_named_in_one_line(tmp_path):
    path = save_checkpoint(tmp_path / "c.pyth", {"epoch": 1, "model_state": _model().state_dict()})
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(CheckpointError, match=rf"^{path}: not readable as a PyTorch file") as error:
        load_checkpoint_file(path)
    assert "\n" not in str(error.value)
