"""Fine-tuning weights: another class count, the report of what is not loaded, our own
checkpoints, a detector from a classifier."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from mutualnet3d.engine.pretrained import load_pretrained
from mutualnet3d.engine.weights_file import CheckpointError

from .foreign_formats import (
    pyslowfast_state,
    reference,
    scrambled,
    write_format,
    write_pyslowfast,
)


def assert_backbone_equal(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Every tensor of ``model`` but the classifier's (and BN counters) is ``state``'s."""

    def backbone(keys):
        return {k for k in keys if not k.startswith(model.head_name + ".")} - counters

    own = model.state_dict()
    counters = {k for k in own if k.endswith("num_batches_tracked")}
    assert backbone(state) and backbone(state) == backbone(own)
    for key in backbone(state):
        assert torch.equal(own[key], state[key]), key


def assert_fresh_classifier(model: nn.Module, num_classes: int) -> None:
    classifier = model.get_classifier()
    assert classifier.out_features == num_classes
    assert torch.count_nonzero(classifier.bias) == 0
    assert classifier.weight.std().item() < 0.02  # N(0, 0.01), not the file's noise


@pytest.mark.parametrize(
    "fmt, name",
    [
        ("pytorchvideo_plain", "slow_tiny"),  # a state dict
        ("pytorchvideo", "slowfast_tiny"),  # a hub file
        ("pyslowfast", "slowfast_tiny"),  # PySlowFast's checkpoint of a DDP model
        ("caffe2", "slow_tiny"),
    ],
)
def test_load_into_model_with_another_class_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, fmt: str
) -> None:
    _, state = reference(name)
    if fmt == "pytorchvideo_plain":
        torch.save(state, tmp_path / "weights.pt")
        path = tmp_path / "weights.pt"
    else:
        path = write_format(tmp_path / "weights", fmt, name, state)
    model = scrambled(name, num_classes=7)
    head = model.head_name
    rule = model.get_classifier().in_rule
    with caplog.at_level(logging.INFO, logger="mutualnet3d.engine.pretrained"):
        report = load_pretrained(model, path)

    counters = sum(k.endswith("num_batches_tracked") for k in state) if fmt == "caffe2" else 0
    assert report.format == fmt.removesuffix("_plain")
    assert report.loaded == len(state) - 2 - counters  # the classifier's two tensors
    assert report.missing == report.unexpected == report.mismatched == []
    assert report.reinitialized == [head]
    assert_fresh_classifier(model, 7)
    assert f"{head} re-initialised" in caplog.text and "WARNING" not in caplog.text
    assert_backbone_equal(model, state)
    # The new classifier keeps the slimmable input rule (SlowFast: Fast channels fixed).
    assert model.get_classifier().in_rule == rule


def test_unknown_and_mismatched_tensors_are_reported_not_loaded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, state = reference("slowfast_tiny")
    renamed = pyslowfast_state(state, "resnet")
    renamed["s3.pathway0_nonlocal1.conv_g.weight"] = torch.ones(4)  # not built here
    renamed["totally.unknown"] = torch.ones(3)
    wrong = "s2.pathway1_res0.branch2.a.weight"  # a backbone tensor of another shape
    renamed[wrong] = torch.ones(3, 3, 1, 1, 1)
    del renamed["s1_fuse.bn.running_mean"]
    path = tmp_path / "weights.pyth"
    torch.save({"model_state": renamed, "epoch": 1}, path)

    model = scrambled("slowfast_tiny", num_classes=7)
    target = "blocks.1.multipathway_blocks.1.res_blocks.0.branch2.conv_a.weight"
    before = model.state_dict()[target].clone()
    with caplog.at_level(logging.WARNING, logger="mutualnet3d.engine.pretrained"):
        report = load_pretrained(model, path)

    assert report.unexpected == ["s3.pathway0_nonlocal1.conv_g.weight", "totally.unknown"]
    assert report.missing == ["blocks.0.multipathway_fusion.norm.running_mean"]
    shape = tuple(state[target].shape)
    assert report.mismatched == [f"{target}: (3, 3, 1, 1, 1) in file vs {shape} in model"]
    assert report.reinitialized == [model.head_name] and report.names == "resnet"
    assert report.loaded == len(state) - 2 - 2
    assert torch.equal(model.state_dict()[target], before)
    for key in ("totally.unknown", "nonlocal1", target, "multipathway_fusion.norm.running_mean"):
        assert key in caplog.text


def test_missing_bn_counters_are_not_reported(tmp_path: Path) -> None:
    _, state = reference("slow_tiny")
    state = {k: v for k, v in state.items() if "num_batches" not in k}
    torch.save(state, tmp_path / "w.pt")
    report = load_pretrained(scrambled("slow_tiny"), tmp_path / "w.pt")
    assert report.missing == [] and report.reinitialized == []
    assert report.loaded == len(state)


def test_own_checkpoint_round_trips(tmp_path: Path) -> None:
    net, state = reference("slowfast_tiny")
    # The engine's layout (its Checkpointer writes it with checkpoint.save_checkpoint,
    # i.e. torch.save plus an fsync that is slow on a busy disk).
    payload = {"epoch": 3, "model_state": state, "optimizer_state": None, "rng_state": {}}
    path = tmp_path / "checkpoint_epoch_00003.pyth"
    torch.save(payload, path)

    model = scrambled("slowfast_tiny")
    report = load_pretrained(model, path)
    assert (report.format, report.loaded, report.names) == ("mutualnet3d", len(state), "as is")
    assert report.missing == report.unexpected == report.mismatched == report.reinitialized == []
    own = model.state_dict()
    assert all(torch.equal(own[key], value) for key, value in state.items())


def test_detector_takes_a_pyslowfast_classification_checkpoint(tmp_path: Path) -> None:
    """Kinetics -> AVA: backbone under model.blocks, RoI head classifier re-initialised."""
    _, state = reference("slow_tiny")
    path = write_pyslowfast(tmp_path / "k.pyth", state, "resnet")
    detector = scrambled("slow_tiny_detection", num_classes=80)
    report = load_pretrained(detector, path)
    assert report.format == "pyslowfast" and report.reinitialized == ["detection_head.proj"]
    assert report.missing == report.unexpected == report.mismatched == []
    own = detector.state_dict()
    for key, value in state.items():
        if not key.startswith("blocks.5."):
            assert torch.equal(own[f"model.{key}"], value), key
    assert torch.count_nonzero(detector.detection_head.proj.bias) == 0


def test_not_a_state_dict_is_refused(tmp_path: Path) -> None:
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match=r"list\.pt: a PyTorch file holding a list"):
        load_pretrained(scrambled("slow_tiny"), tmp_path / "list.pt")


@pytest.mark.parametrize("epoch_reset, start", [(False, 11), (True, 0)])
def test_a_pyslowfast_checkpoint_continues_its_epoch_count_unless_reset(
    tmp_path: Path, epoch_reset: bool, start: int
) -> None:
    """TRAIN.CHECKPOINT_EPOCH_RESET: PySlowFast's file of epoch index 10 had finished 11
    epochs, and training goes on from there unless the count is reset."""
    from mutualnet3d.engine.train import resume_or_initialise

    _, state = reference("slow_tiny")
    path = write_pyslowfast(tmp_path / "k.pyth", state, "resnet")
    model = scrambled("slow_tiny")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    first = resume_or_initialise(
        model,
        optimizer,
        torch.amp.GradScaler("cuda", enabled=False),
        output_dir=str(tmp_path / "run"),
        auto_resume=True,
        init_checkpoint=str(path),
        epoch_reset=epoch_reset,
    )
    assert first == start
    assert_backbone_equal(model, state)


def test_a_hub_file_has_no_epoch_count_and_ours_counts_finished_epochs(tmp_path: Path) -> None:
    _, state = reference("slow_tiny")
    hub = write_format(tmp_path / "hub", "pytorchvideo", "slow_tiny", state)
    assert load_pretrained(scrambled("slow_tiny"), hub).epochs_done is None
    ours = tmp_path / "checkpoint_epoch_00003.pyth"
    torch.save({"epoch": 3, "model_state": state, "optimizer_state": None, "rng_state": {}}, ours)
    assert load_pretrained(scrambled("slow_tiny"), ours).epochs_done == 3
