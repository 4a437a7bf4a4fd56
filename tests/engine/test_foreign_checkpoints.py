"""Checkpoints of other libraries, for fine-tuning and test-only runs, over the families.

Files are written in PyTorchVideo's, PySlowFast's, PySlowFast's PTV* and Caffe2's formats
from the name tables of :mod:`tests.engine.foreign_formats`; loading must take every
tensor, and the network must then compute what PyTorchVideo's twin with the same
weights computes (for PySlowFast's X3D layout: PyTorchVideo's X3D with the BN on
res2's first shortcut that PySlowFast's has, ``create_pyslowfast_x3d``).

The families: C2D and I3D (a pooling block after res2: PyTorchVideo's blocks shift),
Slow, SlowFast (fusions, two pathways), X3D in PyTorchVideo's layout and in PySlowFast's,
a detector; every full-size variant's names on the meta device (I3D and SlowFast R101
fast, the others slow) and, slow, I3D R101 and X3D-M in PySlowFast's layout with their
tensors (on small clips). An X3D file of one layout loaded into the other says which
model to build. X3D has no Caffe2 zoo, but PySlowFast's Caffe2 name conversion
(``c2_model_loading.py``) names its layers (``conv1_xy``, ``*_branch2b_bn_fc{1,2}``,
``conv_5``, ``lin_5``), so its Caffe2 files are tested too.
"""

from __future__ import annotations

import functools
import logging
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from mutualnet3d.engine.caffe2 import caffe2_to_pyslowfast
from mutualnet3d.engine.pretrained import load_for_test, load_pretrained
from mutualnet3d.engine.pyslowfast_names import TargetNames, best_family
from mutualnet3d.engine.weights_file import FORMATS as FORMAT_NAMES
from mutualnet3d.engine.weights_file import CheckpointError
from mutualnet3d.models import get_model_builder
from mutualnet3d.slim import stats_key

from .foreign_formats import (
    SOLVER_BLOBS,
    assert_same_outputs,
    build,
    caffe2_blobs,
    caffe2_names,
    family,
    pyslowfast_state,
    reference,
    scrambled,
    write_caffe2,
    write_format,
    write_pyslowfast,
)

FORMATS = ["pyslowfast", "pyslowfast-ptv", "caffe2"]  # PyTorchVideo's: tests/models
LOGGER = "mutualnet3d.engine.pretrained"
# C2D, I3D, Slow, SlowFast, X3D in PyTorchVideo's layout and in PySlowFast's, a detector
NETWORKS = [
    "c2d_tiny",
    "i3d_tiny",
    "slow_tiny",
    "slowfast_tiny",
    "x3d_tiny",
    "x3d_tiny_pyslowfast",
    "slow_tiny_detection",
]
# test-only loads run fast: I3D (blocks shifted by its pool), PySlowFast's X3D layout
# (x3d_tiny is loaded for test in every format below; the others are slow)
TEST_ONLY_FAST = {"i3d_tiny", "x3d_tiny_pyslowfast"}


def bn_counters(state: dict[str, torch.Tensor]) -> int:
    return sum(k.endswith("num_batches_tracked") for k in state)


# --------------------------------------------------------------------------------------
# Every format, every family
# --------------------------------------------------------------------------------------
# Fine-tuning in the fast suite: one network per name table (pool1-shifted blocks, two
# pathways, PySlowFast's X3D, a detector); the slow suite loads every network from each.
FINE_TUNE_FAST = {
    "pyslowfast": {"i3d_tiny", "slowfast_tiny", "x3d_tiny_pyslowfast", "slow_tiny_detection"},
    "pyslowfast-ptv": {"slowfast_tiny", "slow_tiny_detection"},
    "caffe2": {"i3d_tiny", "slowfast_tiny", "x3d_tiny_pyslowfast"},
}


def _cases(formats: list[str]) -> list:
    return [
        pytest.param(
            fmt,
            name,
            marks=[] if name in FINE_TUNE_FAST[fmt] else [pytest.mark.slow],
        )
        for fmt in formats
        for name in NETWORKS
    ]


@pytest.mark.parametrize("fmt, name", _cases(FORMATS))
def test_fine_tuning_loads_every_tensor_and_outputs_match(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, fmt: str, name: str
) -> None:
    net, state = reference(name)
    path = write_format(tmp_path / "weights", fmt, name, state)
    model = scrambled(name)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        report = load_pretrained(model, path)

    # Caffe2 has no BN counters (they are never missing: a BN with a momentum ignores them).
    counters = bn_counters(state) if fmt == "caffe2" else 0
    assert report.total == len(model.state_dict()) == len(state)
    assert report.loaded == report.total - counters
    assert report.format == fmt
    if fmt in ("pyslowfast", "caffe2"):  # the table of the network's family was taken
        assert report.names == family(name)
    assert report.missing == report.unexpected == report.mismatched == []
    assert report.reinitialized == report.inflated == report.hints == []
    assert report.skipped == (SOLVER_BLOBS if fmt == "caffe2" else [])
    assert f"{fmt} format" in caplog.text and "WARNING" not in caplog.text
    assert_same_outputs(model, net)


@pytest.mark.parametrize(
    "fmt, name",
    [
        pytest.param(fmt, name, marks=[] if name in TEST_ONLY_FAST else [pytest.mark.slow])
        for fmt in ("pyslowfast", "caffe2")
        for name in NETWORKS
    ],
)
def test_test_only_loads_every_family(tmp_path: Path, fmt: str, name: str) -> None:
    net, state = reference(name)
    path = write_format(tmp_path / "weights", fmt, name, state)
    model = scrambled(name)
    report = load_for_test(model, path)
    assert report.format == fmt and report.total == len(state)
    assert report.loaded == len(state) - (bn_counters(state) if fmt == "caffe2" else 0)
    assert report.missing == report.unexpected == report.mismatched == []
    assert_same_outputs(model, net)


@pytest.mark.parametrize("fmt", ["pytorchvideo", *FORMATS])
def test_test_only_loads_every_format(tmp_path: Path, fmt: str) -> None:
    net, state = reference("x3d_tiny")
    path = write_format(tmp_path / "weights", fmt, "x3d_tiny", state)
    model = scrambled("x3d_tiny")
    report = load_for_test(model, path)
    assert report.format == fmt and report.missing == report.unexpected == []
    assert_same_outputs(model, net)


# --------------------------------------------------------------------------------------
# Full-size networks
# --------------------------------------------------------------------------------------
FULL_SIZE_FAST = ["slowfast_r101"]  # R101's 23 res4 blocks, fusions after the last one
FULL_SIZE_SLOW = [
    "i3d_r101",
    "x3d_m_pyslowfast",
    "c2d_r50",
    "c2d_r101",
    "i3d_r50",
    "slow_r50",
    "slow_r101",
    "slowfast_r50",
    "slowfast_r101_8x8",
    "slowfast_r50_detection",
    "x3d_xs",
    "x3d_s",
    "x3d_m",
    "x3d_l",
    "x3d_xs_pyslowfast",
    "x3d_l_pyslowfast",
]


@pytest.mark.parametrize(
    "name", [*FULL_SIZE_FAST, *(pytest.param(n, marks=pytest.mark.slow) for n in FULL_SIZE_SLOW)]
)
def test_full_size_names_map_every_tensor(name: str) -> None:
    """A full-size network's every key, written under PySlowFast's names and Caffe2's by
    the tests' tables, comes back as the model's: R101's 23 res4 blocks, SlowFast's
    fusions after its Fast pathway's last block, I3D's pool (built on the meta device:
    names only; the tiny networks above check the tensors)."""
    with torch.device("meta"):
        model = get_model_builder(name)(num_classes=400)
    own = model.state_dict()
    pyslowfast = pyslowfast_state(own, family(name))
    assert len(pyslowfast) == len(own)
    target = TargetNames.of(own, model.head_name, model.num_pathways == 2)
    found, renamed = best_family(pyslowfast, own, target)
    assert found == family(name) and set(renamed) == set(own)

    # Caffe2: blob names -> PySlowFast's (the library's table) -> the model's
    blobs = caffe2_names(pyslowfast)
    converted = caffe2_to_pyslowfast({blob: np.zeros(1, np.float32) for blob in blobs.values()})
    assert converted.skipped == [] and set(converted.state) == set(blobs)
    counters = {k for k in own if k.endswith("num_batches_tracked")}
    assert set(best_family(converted.state, own, target)[1]) == set(own) - counters


@pytest.mark.slow  # full-size tensors: R101 has 51M parameters
@pytest.mark.parametrize("fmt", ["pyslowfast", "caffe2"])
@pytest.mark.parametrize("name", ["i3d_r101", "x3d_m_pyslowfast"])
def test_full_size_files_load_and_outputs_match(tmp_path: Path, name: str, fmt: str) -> None:
    small = dict(crop_size=64)  # the weights are the full network's; the clips are small
    net, state = reference(name, **small)
    path = write_format(tmp_path / "weights", fmt, name, state)
    model = scrambled(name, **small)
    report = load_for_test(model, path)
    assert report.loaded == len(state) - (bn_counters(state) if fmt == "caffe2" else 0)
    assert report.missing == report.unexpected == report.mismatched == []
    assert_same_outputs(model, net, of_scale=True)


# --------------------------------------------------------------------------------------
# What is not loaded is named
# --------------------------------------------------------------------------------------
def test_caffe2_report_names_every_blob_not_loaded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, state = reference("slowfast_tiny")
    blobs = caffe2_blobs(pyslowfast_state(state, "resnet"))
    blobs["nonlocal_conv3_1_theta_w"] = np.ones((4, 4, 1, 1, 1), np.float32)  # not built
    del blobs["t_res_conv1_bn_rm"]
    blobs["res3_1_branch2b_w"] = np.ones((3, 3, 1, 1, 1), np.float32)  # another shape
    path = write_caffe2(tmp_path / "sf.pkl", blobs)
    model = scrambled("slowfast_tiny", num_classes=7)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        report = load_pretrained(model, path)

    target = "blocks.2.multipathway_blocks.0.res_blocks.1.branch2.conv_b.weight"
    shape = tuple(state[target].shape)
    assert report.unexpected == ["nonlocal_conv3_1_theta_w"]
    assert report.missing == ["blocks.0.multipathway_blocks.1.norm.running_mean"]
    assert report.mismatched == [f"{target}: (3, 3, 1, 1, 1) in file vs {shape} in model"]
    assert report.reinitialized == ["blocks.6.proj"] and report.skipped == SOLVER_BLOBS
    for key in ("nonlocal_conv3_1_theta_w", target, "multipathway_blocks.1.norm.running_mean"):
        assert key in caplog.text
    assert "caffe2 format" in caplog.text and "blocks.6.proj re-initialised" in caplog.text


@pytest.mark.parametrize("fmt", ["caffe2", "pyslowfast"])
def test_2d_kernels_inflate_into_3d_ones(tmp_path: Path, fmt: str) -> None:
    """ImageNet weights of a 2D network (Caffe2's or PySlowFast's names): with inflation
    each (O, I, H, W) kernel is repeated over the model's T frames and divided by T."""
    _, state = reference("slow_tiny")
    state_2d = {k: v[:, :, 0] if v.dim() == 5 else v for k, v in state.items()}
    if fmt == "caffe2":
        path = write_caffe2(
            tmp_path / "in1k.pkl", caffe2_blobs(pyslowfast_state(state_2d, "resnet"))
        )
    else:
        path = write_pyslowfast(tmp_path / "in1k.pyth", state_2d, "resnet")
    kernels = sorted(k for k, v in state.items() if v.dim() == 5)
    # Caffe2's 1x1 convolutions load as 1x1x1 ones without inflation (as PySlowFast's
    # loader pads missing trailing dimensions).
    pointwise = (
        {k for k in kernels if state[k].shape[2:] == (1, 1, 1)} if fmt == "caffe2" else set()
    )
    not_loaded = sorted(set(kernels) - pointwise)
    report = load_pretrained(scrambled("slow_tiny"), path)
    assert sorted(r.split(":")[0] for r in report.mismatched) == not_loaded

    model = scrambled("slow_tiny")
    report = load_pretrained(model, path, inflate=True)
    assert sorted(report.inflated) == not_loaded and report.mismatched == report.missing == []
    own = model.state_dict()
    for key in kernels:
        frames = own[key].shape[2]
        expected = state_2d[key].unsqueeze(2).expand_as(own[key]) / frames
        torch.testing.assert_close(own[key], expected)
    assert any(own[k].shape[2] == 3 for k in kernels)  # a temporal kernel was inflated


# --------------------------------------------------------------------------------------
# Test-only runs
# --------------------------------------------------------------------------------------
def test_test_only_refuses_a_classifier_of_another_class_count(tmp_path: Path) -> None:
    _, state = reference("slow_tiny")
    path = write_pyslowfast(tmp_path / "k400.pyth", state, "resnet")
    model = scrambled("slow_tiny", num_classes=7)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(
        CheckpointError, match=r"k400\.pyth.*pyslowfast.*blocks\.5\.proj has 5 .* 7"
    ):
        load_for_test(model, path)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_test_only_refuses_missing_and_unused_tensors_naming_each(tmp_path: Path) -> None:
    _, state = reference("x3d_tiny")
    renamed = pyslowfast_state(state, "x3d")
    # PySlowFast's X3D normalises every shortcut; PyTorchVideo's only where channels change
    renamed["s2.pathway0_res0.branch1_bn.weight"] = torch.ones(8)
    del renamed["head.lin_5.weight"]
    path = tmp_path / "x3d.pyth"
    torch.save({"epoch": 1, "model_state": renamed}, path)
    with pytest.raises(CheckpointError) as error:
        load_for_test(scrambled("x3d_tiny"), path)
    message = str(error.value)
    assert message.startswith(f"{path} (taken for pyslowfast")
    assert "1 model tensors not in the file: ['blocks.5.pool.post_conv.weight']" in message
    unused = "blocks.1.res_blocks.0.branch1_norm.weight"  # the file's, in the model's names
    assert f"1 file tensors the model lacks (another network): ['{unused}']" in message
    assert "the file has PySlowFast's X3D layout" in message  # and the model to build


# X3D's two layouts, at equal widths: PySlowFast's model names X3D and PTVX3D with the
# sizes of x3d_tiny_pyslowfast
X3D_TINY = {
    k: v
    for k, v in get_model_builder("x3d_tiny_pyslowfast").keywords.items()
    if k != "pyslowfast_layout"
}
# what a file of each layout is, and the names that build its network (PySlowFast's
# model name and our variants)
LAYOUT = {
    "X3D": ("PySlowFast's X3D layout", "MODEL.MODEL_NAME X3D", "x3d_m_pyslowfast"),
    "PTVX3D": ("PyTorchVideo's X3D layout", "MODEL.MODEL_NAME PTVX3D", "x3d_m,"),
}
SHORTCUT_BN = [
    f"blocks.1.res_blocks.0.branch1_norm.{t}"
    for t in ("weight", "bias", "running_mean", "running_var")
]


@pytest.mark.parametrize(
    "layout, fmt",
    [
        ("X3D", "pyslowfast"),  # PySlowFast's zoo
        ("PTVX3D", "pytorchvideo"),  # PyTorchVideo's hub
        *(
            pytest.param(layout, fmt, marks=pytest.mark.slow)
            for layout, fmt in [
                ("PTVX3D", "pyslowfast-ptv"),  # PySlowFast's PTVX3D runs
                ("X3D", "caffe2"),
                ("X3D", "pytorchvideo"),
                ("PTVX3D", "pyslowfast"),
                ("PTVX3D", "caffe2"),
            ]
        ),
    ],
)
def test_an_x3d_file_of_the_other_layout_says_which_model_to_build(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, layout: str, fmt: str
) -> None:
    other = "PTVX3D" if layout == "X3D" else "X3D"
    _, state = reference(layout, **X3D_TINY)
    path = write_format(tmp_path / "x3d", fmt, layout, state)
    (has, build_it, variant), (other_has, not_this, other_variant) = LAYOUT[layout], LAYOUT[other]

    model = scrambled(other, **X3D_TINY)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError) as error:
        load_for_test(model, path)
    message = str(error.value)
    problems = message.split(f"(taken for {fmt}: {FORMAT_NAMES[fmt]}): ", 1)[1]
    hint = problems.split("; ")[0]  # the first problem named: what the file is
    assert hint.startswith(f"the file has {has}") and f"the model {other_has}" in hint
    assert f"build {build_it} or the variants" in hint and variant in hint
    assert f"(not {not_this}" in hint and other_variant in hint.split("(not ")[1]
    assert all(key in message for key in SHORTCUT_BN)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())

    # Fine-tuning loads the rest and says the same in its report and log.
    with caplog.at_level(logging.INFO, logger=LOGGER):
        report = load_pretrained(model, path)
    assert report.hints == [hint] and f"{path}: {hint}" in caplog.text
    # (its BN counter too, but where unused: missing counters are never reported)
    counter = (
        [] if fmt == "caffe2" else [f"{SHORTCUT_BN[0].rpartition('.')[0]}.num_batches_tracked"]
    )
    assert (report.missing, report.unexpected) == (
        (SHORTCUT_BN, []) if layout == "PTVX3D" else ([], SHORTCUT_BN + counter)
    )
    assert report.mismatched == []
    # ... and the model it names takes the file as it is.
    report = load_for_test(scrambled(layout, **X3D_TINY), path)
    assert report.missing == report.unexpected == report.hints == []


@functools.lru_cache(maxsize=None)
def _calibrated_state() -> dict[str, torch.Tensor]:
    """An x3d_tiny checkpoint's model state with calibrated BN statistics of one
    configuration (a new dict each call; its tensors must not be modified)."""
    model = build("x3d_tiny")
    key = stats_key(0.5, 24, 2)
    for module in model.modules():
        if hasattr(module, "set_stats") and module.running_mean is not None:
            module.set_stats(key, module.running_mean + 1.0, module.running_var + 2.0)
    return model.state_dict()


def test_test_only_loads_our_checkpoints_strictly_with_calibrated_statistics(
    tmp_path: Path,
) -> None:
    state = dict(_calibrated_state())
    path = tmp_path / "checkpoint_calibrated.pyth"
    torch.save({"epoch": 2, "model_state": state, "rng_state": {}}, path)
    model = build("x3d_tiny")  # a fresh one: a strict load adds the statistics' buffers
    report = load_for_test(model, path)
    assert report.format == "mutualnet3d" and report.loaded == len(state)
    own = model.state_dict()
    stats = [k for k in state if ".stats_" in k]
    assert stats and all(torch.equal(own[k], state[k]) for k in stats)
    del state["blocks.5.proj.bias"]
    torch.save({"epoch": 2, "model_state": state, "rng_state": {}}, path)
    with pytest.raises(
        CheckpointError, match=r"(?s)calibrated\.pyth.*mutualnet3d.*strictly.*proj\.bias"
    ):
        load_for_test(model, path)


def test_fine_tuning_skips_our_calibrated_statistics(tmp_path: Path) -> None:
    state = _calibrated_state()
    path = tmp_path / "checkpoint_calibrated.pyth"
    torch.save({"epoch": 2, "model_state": state, "rng_state": {}}, path)
    report = load_pretrained(scrambled("x3d_tiny"), path)
    stats = [k for k in state if ".stats_" in k]
    assert report.skipped == stats and report.unexpected == []
    assert report.loaded == len(state) - len(stats)


# --------------------------------------------------------------------------------------
# Files that are not checkpoints
# --------------------------------------------------------------------------------------
class _Runs:
    def __init__(self, call: object, argument: str) -> None:
        self.call, self.argument = call, argument

    def __reduce__(self) -> tuple:
        return self.call, (self.argument,)


@pytest.mark.parametrize("call, name", [(os.system, "system"), (exec, "builtins.exec")])
def test_a_pickle_naming_another_global_is_refused_without_running_it(
    tmp_path: Path, call: object, name: str
) -> None:
    marker = tmp_path / "ran"
    code = f"touch {marker}" if call is os.system else f"open({str(marker)!r}, 'w')"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"blobs": {"conv1_w": _Runs(call, code)}}, protocol=2))
    with pytest.raises(
        CheckpointError, match=rf"evil\.pkl: refused to unpickle the global .*{name}"
    ):
        load_pretrained(scrambled("slow_tiny"), path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", r"empty\.bin: empty file"),
        (b"hello, not weights\n", r"empty\.bin: a text file \(starting 'hello, not weights'\)"),
        (b"\x80\x02]q\x00(K\x01", r"empty\.bin: not readable as a PyTorch zip file or a pickle"),
        (
            pickle.dumps([1, 2, 3], protocol=2),
            r"empty\.bin: not a Caffe2 checkpoint \(list\).*caffe2",
        ),
        (pickle.dumps({"blobs": {"lr": 0.1}}, protocol=2), r"empty\.bin: not a Caffe2 .*caffe2"),
    ],
)
def test_a_file_that_is_no_checkpoint_is_an_error_naming_it(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "empty.bin"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_pretrained(scrambled("slow_tiny"), path)


def test_a_file_from_which_nothing_loads_is_an_error_naming_it_and_its_format(
    tmp_path: Path,
) -> None:
    torch.save({"model_state": {"encoder.layer.weight": torch.ones(3)}}, tmp_path / "bert.pt")
    with pytest.raises(
        CheckpointError, match=r"bert\.pt \(taken for pytorchvideo.*no tensor loads"
    ):
        load_pretrained(scrambled("slow_tiny"), tmp_path / "bert.pt")
    blobs = {"fc6_w": np.ones((4, 4), np.float32)}
    write_caffe2(tmp_path / "vgg.pkl", blobs, solver=False)
    with pytest.raises(CheckpointError, match=r"vgg\.pkl \(taken for caffe2.*no tensor loads"):
        load_pretrained(scrambled("slow_tiny"), tmp_path / "vgg.pkl")


def test_checkpoint_type_caffe2_insists_on_a_caffe2_file(tmp_path: Path) -> None:
    _, state = reference("slow_tiny")
    path = write_pyslowfast(tmp_path / "slow.pyth", state, "resnet")
    with pytest.raises(CheckpointError, match=r"slow\.pyth: a PyTorch \(zip\) file.*caffe2"):
        load_pretrained(scrambled("slow_tiny"), path, checkpoint_type="caffe2")
    pkl = write_caffe2(tmp_path / "slow.pkl", caffe2_blobs(pyslowfast_state(state, "resnet")))
    assert load_pretrained(scrambled("slow_tiny"), pkl, checkpoint_type="caffe2").format == "caffe2"
    with pytest.raises(ValueError, match="checkpoint type"):
        load_pretrained(scrambled("slow_tiny"), pkl, checkpoint_type="caffe")


def test_a_legacy_pytorch_file_is_told_from_a_caffe2_pickle(tmp_path: Path) -> None:
    """PyTorch's pre-1.6 format is a pickle too; it opens with PyTorch's magic number."""
    _, state = reference("slow_tiny")
    path = tmp_path / "legacy.pth"
    torch.save({"model_state": state}, path, _use_new_zipfile_serialization=False)
    assert load_pretrained(scrambled("slow_tiny"), path).format == "pytorchvideo"
    with pytest.raises(CheckpointError, match=r"legacy\.pth: a PyTorch \(legacy\) file.*caffe2"):
        load_pretrained(scrambled("slow_tiny"), path, checkpoint_type="caffe2")
