"""How a run uses its device, tested on the CPU: TRAIN.MIXED_PRECISION as bfloat16 autocast
through the trainer, MODEL.CHANNELS_LAST, CUDNN_BENCHMARK and DETERMINISTIC."""

from __future__ import annotations

import importlib
import json
import math
import os
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mutualnet3d.config import ConfigError, load_config
from mutualnet3d.engine import run
from mutualnet3d.engine.device import (
    CUBLAS_WORKSPACE,
    BackendSpec,
    autocast_dtype,
    backend_settings,
    grad_scaler,
    mixed_autocast,
    scaled_backward,
)
from mutualnet3d.engine.spec import ModelSpec, RunSpec
from mutualnet3d.slim import SubnetConfig, set_width

from .mixed_precision import MAX_RELATIVE_ERROR, MIN_COSINE, compare_steps, random_batch

# The module (the package's ``run`` is its function).
run_module = importlib.import_module("mutualnet3d.engine.run")
ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "configs" / "Demo" / "MutualNet_Slow_Digits.yaml")
CPU = torch.device("cpu")
# Each cohort has a sub-network whose clip is shorter than a temporal kernel (Slow's res4
# and res5 take 3 frames; slowfast_tiny's Slow pathway has 2): oneDNN's bfloat16 weight
# gradient is wrong there (engine/device.py), so the step must not use it.
COHORTS = {
    "slow_tiny": [SubnetConfig(1.0, 32, 4), SubnetConfig(0.5, 24, 2), SubnetConfig(0.75, 16, 4)],
    "slowfast_tiny": [SubnetConfig(1.0, 32, 2), SubnetConfig(0.5, 24, 1)],
    "x3d_tiny": [SubnetConfig(1.0, 32, 4), SubnetConfig(0.5, 24, 2), SubnetConfig(0.75, 16, 4)],
}


def _build(name: str, channels_last: bool = False) -> nn.Module:
    torch.manual_seed(0)
    return ModelSpec(name, {"num_classes": 5, "dropout_rate": 0.0}, 1.0, channels_last).build()


# -- TRAIN.MIXED_PRECISION -------------------------------------------------------------------


def test_mixed_precision_computes_in_float16_on_cuda_and_bfloat16_elsewhere():
    assert autocast_dtype(torch.device("cuda")) is torch.float16
    assert autocast_dtype(CPU) is torch.bfloat16
    # bfloat16 has float32's range: no loss scaling on the CPU.
    assert not grad_scaler(CPU, True).is_enabled()


@pytest.mark.parametrize("name", sorted(COHORTS))
def test_a_bfloat16_step_on_the_cpu_is_finite_and_close_to_float32(name):
    model = _build(name)
    batch = random_batch(model, 4, 5, CPU)
    result = compare_steps(model, batch, COHORTS[name], CPU)
    assert result.conv_dtypes == {torch.bfloat16}  # autocast acted on every convolution
    assert torch.isfinite(torch.tensor([result.loss, result.loss_fp32])).all()
    assert result.loss == pytest.approx(result.loss_fp32, rel=0.05)
    assert result.relative_error <= MAX_RELATIVE_ERROR, result
    assert result.cosine >= MIN_COSINE, result
    assert result.moved


class _RecordOneDNN(torch.autograd.Function):
    """Identity whose backward records whether oneDNN was enabled when it ran."""

    seen: list[bool] = []

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        _RecordOneDNN.seen.append(torch.backends.mkldnn.enabled)
        return grad


@pytest.mark.parametrize("mixed", [False, True])
def test_the_cpus_mixed_precision_backward_runs_without_onednn(mixed):
    _RecordOneDNN.seen = []
    loss = _RecordOneDNN.apply(torch.ones(3, requires_grad=True)).sum()
    scaled_backward(loss, grad_scaler(CPU, mixed), CPU, mixed)
    assert _RecordOneDNN.seen == [not mixed]
    assert torch.backends.mkldnn.enabled  # restored


def test_a_temporal_kernel_longer_than_the_clip_gets_its_float32_weight_gradient():
    # The case oneDNN's bfloat16 kernel gets wrong (NaN, or off by 80%, in torch 2.14.1).
    torch.manual_seed(0)
    weight = torch.randn(16, 16, 3, 1, 1, requires_grad=True)
    clip = torch.randn(2, 16, 2, 4, 4)
    F.conv3d(clip, weight, padding=(1, 0, 0)).square().sum().backward()
    expected, weight.grad = weight.grad, None
    with mixed_autocast(CPU):
        loss = F.conv3d(clip, weight, padding=(1, 0, 0)).float().square().sum()
    scaled_backward(loss, grad_scaler(CPU, True), CPU, True)
    error = (weight.grad - expected).norm() / expected.norm()
    assert error < 0.02  # bfloat16's rounding, measured 0.004


# -- MODEL.CHANNELS_LAST ---------------------------------------------------------------------


def _channels_last(tensor: torch.Tensor) -> bool:
    fmt = torch.channels_last_3d if tensor.dim() == 5 else torch.channels_last
    return tensor.is_contiguous(memory_format=fmt) and not tensor.is_contiguous()


def _run(model, batch, width, train):
    model.train(train)
    model.zero_grad(set_to_none=True)
    inputs = list(batch["inputs"]) if model.num_pathways > 1 else batch["inputs"][0]
    with set_width(model, width, warn_uncalibrated=False), torch.set_grad_enabled(train):
        logits = model(inputs)
        if train:
            F.cross_entropy(logits, batch["label"]).backward()
    return logits


@pytest.mark.parametrize("name", ["slow_tiny", "slowfast_tiny", "x3d_tiny", "mobilenet_v1_tiny"])
@pytest.mark.parametrize("width", [1.0, 0.5])
def test_channels_last_gives_the_same_outputs_and_gradients(name, width):
    plain, last = _build(name), _build(name, channels_last=True)
    fmt = torch.channels_last if name.startswith("mobilenet") else torch.channels_last_3d
    weights = [m.weight for m in last.modules() if isinstance(m, (nn.Conv2d, nn.Conv3d))]
    # 1x1x1 kernels and depthwise convs (one input channel) are both formats at once.
    assert all(w.is_contiguous(memory_format=fmt) for w in weights)
    assert any(map(_channels_last, weights))  # the stem's at least
    # Other kernels sum in another order: float32 rounding (measured up to 9e-6 in the
    # logits), which batch statistics over 2 clips would amplify (2e-4): 4 clips.
    batch = random_batch(plain, 4, 5, CPU)
    for train in (True, False):
        expected, got = _run(plain, batch, width, train), _run(last, batch, width, train)
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=5e-5)
    _run(plain, batch, width, True), _run(last, batch, width, True)
    pairs = [
        (p.grad, q.grad)
        for p, q in zip(plain.parameters(), last.parameters())
        if p.grad is not None
    ]
    expected, got = (torch.cat([g.flatten() for g in grads]) for grads in zip(*pairs))
    # All gradients together (measured: 2e-6 for the video networks, 4e-4 for MobileNet,
    # whose last BN layers normalise 4 values each at 32 px).
    assert (got - expected).norm() <= 1e-3 * expected.norm()
    for param in last.parameters():
        if param.grad is not None:
            assert _channels_last(param.grad) == _channels_last(param)  # the weight's format


def test_channels_last_slices_kept_for_inference_stay_channels_last():
    model = _build("slow_tiny", channels_last=True).eval()
    conv = model.blocks[3].res_blocks[0].branch2.conv_b  # a 1x3x3 conv, 32 channels
    with set_width(model, 0.5, warn_uncalibrated=False), torch.no_grad():
        model(model.example_input(batch_size=1))
        weight, _, _ = conv._inference_weight_bias()
    assert weight.shape[0] < conv.weight.shape[0] and _channels_last(weight)


def test_the_config_key_builds_a_channels_last_model():
    spec = RunSpec.from_cfg(load_config(DEMO, ["MODEL.CHANNELS_LAST", "True"]))
    assert spec.model.channels_last
    stem = spec.model.build().blocks[0].conv
    assert _channels_last(stem.weight)
    assert not RunSpec.from_cfg(load_config(DEMO)).model.channels_last


# -- CUDNN_BENCHMARK, DETERMINISTIC -----------------------------------------------------------


@pytest.mark.parametrize(
    "opts, message",
    [
        (["NUM_GPUS", "0", "CUDNN_BENCHMARK", "True"], r"^CUDNN_BENCHMARK True .* NUM_GPUS is 0"),
        (["CUDNN_BENCHMARK", "True", "DETERMINISTIC", "True"], r"^CUDNN_BENCHMARK True .*DETERM"),
    ],
)
def test_a_cudnn_benchmark_that_cannot_act_is_refused_at_load(opts, message):
    with pytest.raises(ConfigError, match=message) as error:
        load_config(None, opts)
    assert "\n" not in str(error.value)


def test_the_keys_reach_the_spec():
    assert RunSpec.from_cfg(load_config(None)).backends == BackendSpec(False, False)
    spec = RunSpec.from_cfg(load_config(None, ["CUDNN_BENCHMARK", "True"]))  # NUM_GPUS 1
    assert spec.backends == BackendSpec(cudnn_benchmark=True)
    spec = RunSpec.from_cfg(load_config(None, ["NUM_GPUS", "0", "DETERMINISTIC", "True"]))
    assert spec.backends == BackendSpec(deterministic=True)


def _switches():
    return (
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic,
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    )


def test_backend_settings_set_the_switches_and_restore_them(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = _switches()
    with backend_settings(BackendSpec(cudnn_benchmark=True)):
        assert _switches() == (True, False, False, False, None)
    assert _switches() == before
    with backend_settings(BackendSpec(deterministic=True)):
        assert _switches() == (False, True, True, True, CUBLAS_WORKSPACE)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.zeros(3).put_(torch.tensor([1, 1]), torch.tensor([1.0, 2.0]))  # no such op
        assert any("does not have a deterministic implementation" in str(w.message) for w in caught)
    assert _switches() == before


def test_a_set_cublas_workspace_is_left_as_it_is(monkeypatch):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    with backend_settings(BackendSpec(deterministic=True)):
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


@pytest.mark.parametrize(
    "opts, expected",
    [
        (["DETERMINISTIC", "True"], (False, True, True, True)),
        (["NUM_GPUS", "1", "CUDNN_BENCHMARK", "True"], (True, False, False, False)),
    ],
)
def test_a_run_trains_with_the_switches_set(opts, expected, tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(run_module, "_train", lambda *args: seen.append(_switches()[:4]))
    # NUM_GPUS 1 on this CPU-only machine: the run's device is the CPU all the same.
    monkeypatch.setattr(run_module, "device_for_rank", lambda num_gpus: CPU)
    before = _switches()
    stages_off = ["MUTUALNET.CALIBRATE", "False", "MUTUALNET.SEARCH", "False"]
    stages_off += ["TEST.ENABLE", "False", "LOG_MODEL_INFO", "False"]
    run(load_config(DEMO, [*stages_off, "OUTPUT_DIR", str(tmp_path), *opts]))
    assert seen == [expected]
    assert _switches() == before
    assert f"{opts[-2]} True: " in (tmp_path / "stdout.log").read_text()


def test_a_run_with_mixed_precision_trains_in_bfloat16_on_the_cpu(tmp_path, monkeypatch):
    autocasts = []  # the autocast in force where the label loss is computed
    criterion = RunSpec.criterion

    def recording(spec):
        loss = criterion(spec)

        def record(logits, labels):
            on = torch.is_autocast_enabled("cpu")
            autocasts.append(torch.get_autocast_dtype("cpu") if on else None)
            return loss(logits, labels)

        return record

    monkeypatch.setattr(RunSpec, "criterion", recording)
    opts = {
        "TRAIN.MIXED_PRECISION": "True",
        "MOVING_DIGITS.NUM_TRAIN_CLIPS": "16",
        "TRAIN.BATCH_SIZE": "8",
        "SOLVER.MAX_EPOCH": "1",
        "TRAIN.EVAL_PERIOD": "0",
        "BN.USE_PRECISE_STATS": "False",
        "MUTUALNET.CALIBRATE": "False",
        "MUTUALNET.SEARCH": "False",
        "TEST.ENABLE": "False",
        "LOG_MODEL_INFO": "False",
        "LOG_PERIOD": "1",
        "OUTPUT_DIR": str(tmp_path),
    }
    run(load_config(DEMO, [item for pair in opts.items() for item in pair]))
    assert autocasts == [torch.bfloat16] * 2  # the full network's loss, two iterations
    lines = (tmp_path / "stdout.log").read_text().split("json_stats: ")[1:]
    stats = [json.loads(line.split("\n")[0]) for line in lines]
    losses = [s["loss"] for s in stats if s["_type"] == "train_iter"]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)
