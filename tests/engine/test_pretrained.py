"""Fine-tuning weights: PyTorchVideo and PySlowFast files, our checkpoints, the report."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from mutualnet3d.engine.pretrained import (
    is_pyslowfast_state,
    load_pretrained,
    pyslowfast_to_pytorchvideo,
    pytorchvideo_to_pyslowfast,
)
from mutualnet3d.models import get_model_builder

TINY = dict(width_divisor=2)
# Names read from PySlowFast (slowfast/models/video_model_builder.py, stem_helper.py,
# resnet_helper.py, head_helper.py) -> PyTorchVideo's, written out by hand so that the
# mapping is checked against both libraries, not only against its own inverse.
SLOW_NAMES = {
    "s1.pathway0_stem.conv.weight": "blocks.0.conv.weight",
    "s1.pathway0_stem.bn.running_var": "blocks.0.norm.running_var",
    "s2.pathway0_res0.branch1.weight": "blocks.1.res_blocks.0.branch1_conv.weight",
    "s2.pathway0_res0.branch1_bn.bias": "blocks.1.res_blocks.0.branch1_norm.bias",
    "s3.pathway0_res3.branch2.a.weight": "blocks.2.res_blocks.3.branch2.conv_a.weight",
    "s4.pathway0_res5.branch2.b_bn.weight": "blocks.3.res_blocks.5.branch2.norm_b.weight",
    "s5.pathway0_res2.branch2.c_bn.running_mean": "blocks.4.res_blocks.2.branch2.norm_c.running_mean",
    "head.projection.weight": "blocks.5.proj.weight",
}
SLOWFAST_NAMES = {
    "s1.pathway0_stem.conv.weight": "blocks.0.multipathway_blocks.0.conv.weight",
    "s1.pathway1_stem.bn.weight": "blocks.0.multipathway_blocks.1.norm.weight",
    "s1_fuse.conv_f2s.weight": "blocks.0.multipathway_fusion.conv_fast_to_slow.weight",
    "s4_fuse.bn.running_mean": "blocks.3.multipathway_fusion.norm.running_mean",
    "s2.pathway1_res0.branch1.weight": "blocks.1.multipathway_blocks.1.res_blocks.0.branch1_conv.weight",
    "s5.pathway0_res2.branch2.c.weight": "blocks.4.multipathway_blocks.0.res_blocks.2.branch2.conv_c.weight",
    "head.projection.bias": "blocks.6.proj.bias",
}


def reference_state(name: str) -> dict[str, torch.Tensor]:
    """State dict of the plain PyTorchVideo twin of ``name`` (5 classes), every tensor
    randomised so that a tensor left at its initial value cannot pass as loaded.

    Built once per name (model construction dominates these tests); a new dict each
    call, whose tensors must not be modified in place.
    """
    return dict(_reference_state(name))


@functools.lru_cache(maxsize=None)
def _reference_state(name: str) -> dict[str, torch.Tensor]:
    model = get_model_builder(name)(num_classes=5, **TINY)
    builder, kwargs = model.reference
    reference = builder(**kwargs)
    generator = torch.Generator().manual_seed(0)
    state = reference.state_dict()
    for key, value in state.items():
        if value.is_floating_point():
            value.copy_(torch.rand(value.shape, generator=generator) + 0.5)  # > 0: variances
        else:
            value.fill_(7)  # num_batches_tracked
    return state


def assert_backbone_equal(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    head = model.head_name
    own = model.state_dict()
    backbone = [k for k in state if not k.startswith(head + ".")]
    assert backbone and set(backbone) == {k for k in own if not k.startswith(head + ".")}
    for key in backbone:
        assert torch.equal(own[key], state[key]), key


def assert_fresh_classifier(model: nn.Module, num_classes: int) -> None:
    classifier = model.get_classifier()
    assert classifier.out_features == num_classes
    assert torch.count_nonzero(classifier.bias) == 0
    assert classifier.weight.std().item() < 0.02  # N(0, 0.01), not the file's ~U(0.5, 1.5)


# --------------------------------------------------------------------------------------
# The name mapping
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, names", [("slow_tiny", SLOW_NAMES), ("slowfast_tiny", SLOWFAST_NAMES)]
)
def test_pyslowfast_names_map_to_pytorchvideo_names(name: str, names: dict[str, str]) -> None:
    state = reference_state(name)
    assert set(names.values()) <= set(state)
    exported = pytorchvideo_to_pyslowfast(state)
    assert set(names) <= set(exported)
    for slowfast_name, pytorchvideo_name in names.items():
        assert exported[slowfast_name] is state[pytorchvideo_name]
    assert is_pyslowfast_state(exported) and not is_pyslowfast_state(state)
    # Early PySlowFast versions named the stems s{p}_stem (stem_helper.py).
    old = {k.replace("pathway0_stem", "s0_stem"): v for k, v in exported.items()}
    assert pyslowfast_to_pytorchvideo(old) == pyslowfast_to_pytorchvideo(exported) == state


# --------------------------------------------------------------------------------------
# Loading files
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["slow_tiny", "slowfast_tiny"])
@pytest.mark.parametrize("layout", ["pytorchvideo", "pytorchvideo_wrapped", "pyslowfast"])
def test_load_into_model_with_another_class_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, layout: str
) -> None:
    state = reference_state(name)
    if layout == "pytorchvideo":
        payload = state
    elif layout == "pytorchvideo_wrapped":
        payload = {"model_state": state}
    else:  # what PySlowFast writes from a DDP model
        renamed = pytorchvideo_to_pyslowfast(state)
        payload = {"model_state": {f"module.{k}": v for k, v in renamed.items()}, "epoch": 1}
    path = tmp_path / "weights.pyth"
    torch.save(payload, path)

    model = get_model_builder(name)(num_classes=7, **TINY)
    head = model.head_name
    rule = model.get_classifier().in_rule
    with torch.no_grad():  # so that only a real re-initialisation passes the checks below
        model.get_classifier().weight.fill_(3.0)
        model.get_classifier().bias.fill_(3.0)
    with caplog.at_level(logging.INFO, logger="mutualnet3d.engine.pretrained"):
        report = load_pretrained(model, path)

    assert report == {
        "format": "pyslowfast" if layout == "pyslowfast" else "pytorchvideo",
        "loaded": len(state) - 2,
        "missing": [],
        "unexpected": [],
        "mismatched": [],
        "reinitialized": [head],
    }
    assert_backbone_equal(model, state)
    assert_fresh_classifier(model, 7)
    assert head in caplog.text and "WARNING" not in caplog.text
    # The new classifier keeps the slimmable input rule (SlowFast: Fast channels fixed).
    assert model.get_classifier().in_rule == rule


def test_unknown_and_mismatched_tensors_are_reported_not_loaded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = reference_state("slowfast_tiny")
    renamed = pytorchvideo_to_pyslowfast(state)
    renamed["s3.pathway0_nonlocal1.conv_g.weight"] = torch.ones(4)  # unmapped PySlowFast
    renamed["totally.unknown"] = torch.ones(3)
    wrong = "s2.pathway1_res0.branch2.a.weight"  # a backbone tensor of another shape
    renamed[wrong] = torch.ones(3, 3, 1, 1, 1)
    del renamed["s1_fuse.bn.running_mean"]
    path = tmp_path / "weights.pyth"
    torch.save({"model_state": renamed, "epoch": 1}, path)

    model = get_model_builder("slowfast_tiny")(num_classes=7, **TINY)
    target = "blocks.1.multipathway_blocks.1.res_blocks.0.branch2.conv_a.weight"
    before = model.state_dict()[target].clone()
    with caplog.at_level(logging.WARNING, logger="mutualnet3d.engine.pretrained"):
        report = load_pretrained(model, path)

    assert report["unexpected"] == ["s3.pathway0_nonlocal1.conv_g.weight", "totally.unknown"]
    assert report["missing"] == ["blocks.0.multipathway_fusion.norm.running_mean"]
    shape = tuple(state[target].shape)
    assert report["mismatched"] == [f"{target}: (3, 3, 1, 1, 1) in file vs {shape} in model"]
    assert report["reinitialized"] == [model.head_name]
    assert report["loaded"] == len(state) - 2 - 2
    assert torch.equal(model.state_dict()[target], before)
    for key in ("totally.unknown", "nonlocal1", target, "multipathway_fusion.norm.running_mean"):
        assert key in caplog.text


def test_missing_bn_counters_are_not_reported(tmp_path: Path) -> None:
    state = {k: v for k, v in reference_state("slow_tiny").items() if "num_batches" not in k}
    torch.save(state, tmp_path / "w.pt")
    model = get_model_builder("slow_tiny")(num_classes=5, **TINY)
    report = load_pretrained(model, tmp_path / "w.pt")
    assert report["missing"] == [] and report["reinitialized"] == []
    assert report["loaded"] == len(state)


def test_own_checkpoint_round_trips(tmp_path: Path) -> None:
    source = get_model_builder("slowfast_tiny")(num_classes=5, **TINY)
    source.load_state_dict(reference_state("slowfast_tiny"))
    # The engine's layout (its Checkpointer writes it with checkpoint.save_checkpoint,
    # i.e. torch.save plus an fsync that is slow on a busy disk).
    state = {"epoch": 3, "model_state": source.state_dict(), "optimizer_state": None}
    path = tmp_path / "checkpoint_epoch_00003.pyth"
    torch.save(state, path)

    model = get_model_builder("slowfast_tiny")(num_classes=5, **TINY)
    report = load_pretrained(model, path)
    assert report == {
        "format": "mutualnet3d",
        "loaded": len(state["model_state"]),
        "missing": [],
        "unexpected": [],
        "mismatched": [],
        "reinitialized": [],
    }
    own = model.state_dict()
    for key, value in source.state_dict().items():
        assert torch.equal(own[key], value), key


def test_detector_takes_a_pyslowfast_classification_checkpoint(tmp_path: Path) -> None:
    """Kinetics -> AVA: backbone under model.blocks, RoI head classifier re-initialised."""
    state = reference_state("slow_tiny")
    torch.save({"model_state": pytorchvideo_to_pyslowfast(state), "epoch": 1}, tmp_path / "k.pyth")
    detector = get_model_builder("slow_tiny_detection")(**TINY)
    report = load_pretrained(detector, tmp_path / "k.pyth")
    assert report["format"] == "pyslowfast" and report["reinitialized"] == ["detection_head.proj"]
    assert report["missing"] == report["unexpected"] == report["mismatched"] == []
    own = detector.state_dict()
    for key, value in state.items():
        if not key.startswith("blocks.5."):
            assert torch.equal(own[f"model.{key}"], value), key
    assert torch.count_nonzero(detector.detection_head.proj.bias) == 0


def test_not_a_state_dict_is_refused(tmp_path: Path) -> None:
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="list.pt"):
        load_pretrained(get_model_builder("slow_tiny")(**TINY), tmp_path / "list.pt")
