"""Each export format written, loaded back the way a user loads it, and checked."""

from __future__ import annotations

import pytest
import torch

from mutualnet3d.deploy import (
    FILE_NAMES,
    ExportMismatch,
    deployable,
    input_names,
    load_runner,
    save_model,
    verify_export,
)
from mutualnet3d.slim import SubnetConfig

from .helpers import calibrated_tiny

CONFIG = SubnetConfig(0.5, 24, 2)


@pytest.fixture(scope="module")
def model_and_batch():
    return calibrated_tiny("slow_tiny", [CONFIG])


@pytest.mark.parametrize(
    "fmt",
    [
        "torchscript",
        pytest.param("onnx", marks=pytest.mark.slow),  # torch's dynamo exporter: ~5 s
        "pt",
    ],
)
def test_a_written_file_runs_any_batch_size_and_passes_verification(model_and_batch, fmt, tmp_path):
    model, batch = model_and_batch
    net = deployable(model, CONFIG, align_corners=False)
    path = str(tmp_path / FILE_NAMES[fmt])
    save_model(net, [batch], input_names(model), fmt, path)
    runner = load_runner(fmt, path)
    for size in (1, 3):  # the batch dimension is free
        clips = torch.randn(size, *batch.shape[1:])
        with torch.no_grad():
            assert (runner([clips]) - net(clips)).abs().max().item() < 1e-5
    worst = verify_export(runner, model, CONFIG, [batch], input_size="full", align_corners=False)
    assert worst <= 1e-4


def test_verification_refuses_a_file_that_differs(model_and_batch, tmp_path):
    model, batch = model_and_batch
    net = deployable(model, CONFIG, align_corners=False)
    with torch.no_grad():
        net.net.get_classifier().bias.add_(1e-3)  # one weight off: logits shift by 1e-3
    path = str(tmp_path / "model.ts")
    save_model(net, [batch], input_names(model), "torchscript", path)
    with pytest.raises(ExportMismatch, match=r"max abs logits difference 0\.001 > 0\.0001 on 2"):
        verify_export(
            load_runner("torchscript", path),
            model,
            CONFIG,
            [batch],
            input_size="full",
            align_corners=False,
        )


@pytest.mark.slow  # SlowFast's ONNX export ~10 s
@pytest.mark.parametrize(
    "name, fmt",
    [
        ("slowfast_tiny", "torchscript"),
        ("slowfast_tiny", "onnx"),
        ("slowfast_tiny", "pt"),
        ("x3d_tiny", "torchscript"),  # traceable once PyTorchVideo's Swish is plain operators
        ("x3d_tiny", "onnx"),
    ],
)
def test_slowfast_and_x3d_files_pass_verification(name, fmt, tmp_path):
    full = calibrated_tiny(name, [])[0].full_config()
    config = SubnetConfig(0.5, 24, max(1, full.temporal // 2))
    model, batch = calibrated_tiny(name, [config])
    inputs = batch if isinstance(batch, list) else [batch]
    path = str(tmp_path / FILE_NAMES[fmt])
    save_model(
        deployable(model, config, align_corners=False), inputs, input_names(model), fmt, path
    )
    runner = load_runner(fmt, path)
    worst = verify_export(runner, model, config, [batch], input_size="full", align_corners=False)
    assert worst <= 1e-4
    assert runner([x[:1] for x in inputs]).shape == (1, 5)
