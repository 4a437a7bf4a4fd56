"""Training on CUDA: an AMP iteration of the full-size networks, and bit-exact resume.

Marked ``cuda``: skipped, saying so, without a GPU (tests/conftest.py); bench/gpu_check.sh
runs them on one.
"""

from __future__ import annotations

import importlib

import pytest
import torch

from mutualnet3d.engine.checkpoint import checkpoint_path, load_checkpoint_file
from mutualnet3d.models import get_model_builder
from mutualnet3d.slim import SubnetConfig
from tests.e2e.test_run_net import straight_and_resumed, train_only_cfg

from ..engine.mixed_precision import MAX_RELATIVE_ERROR, MIN_COSINE, compare_steps, random_batch

pytestmark = pytest.mark.cuda

run_module = importlib.import_module("mutualnet3d.engine.run")  # the package's run is its function

CUDA = torch.device("cuda")
# The full network (the model's full configuration) and two students at MUTUALNET's
# default smallest width 0.25 and a middle one: SlowFast 4x16 (4 Slow frames, 224 px),
# X3D-M (16 frames, 224 px).
STUDENTS = {
    "slowfast_r50": [SubnetConfig(0.25, 128, 2), SubnetConfig(0.63, 160, 3)],
    "x3d_m": [SubnetConfig(0.25, 128, 8), SubnetConfig(0.63, 160, 12)],
}


@pytest.mark.parametrize("name", sorted(STUDENTS))
def test_an_amp_iteration_at_full_size_is_finite_and_close_to_float32(name):
    torch.manual_seed(0)
    model = get_model_builder(name)(num_classes=400, dropout_rate=0.0)
    configs = [model.full_config(), *STUDENTS[name]]
    # 4 clips: batch statistics over 2 amplify rounding (measured on the CPU with float16
    # autocast, tiny networks: relative error 0.002 to 0.054 at 2 clips, 0.01 to 0.034 at 4).
    batch = random_batch(model, 4, 400, CUDA)
    result = compare_steps(model, batch, configs, CUDA)
    assert result.conv_dtypes == {torch.float16}  # autocast acted on every convolution
    assert torch.isfinite(torch.tensor([result.loss, result.loss_fp32])).all()
    assert result.loss == pytest.approx(result.loss_fp32, rel=0.05)
    # The float32 step's convolutions use TF32 (PyTorch's default for cuDNN): both steps
    # round, to 10 and 11 bits of mantissa.
    assert result.relative_error <= MAX_RELATIVE_ERROR, result
    assert result.cosine >= MIN_COSINE, result
    assert result.moved  # GradScaler took the step (after halving its scale, if it had to)


@pytest.mark.parametrize("mixed_precision", [False, True])
def test_auto_resume_on_cuda_reaches_the_uninterrupted_weights_bit_for_bit(
    mixed_precision, kinetics_dir, tmp_path, monkeypatch
):
    # DETERMINISTIC: cuDNN's deterministic algorithms, or two uninterrupted runs would
    # differ already. Dropout draws from the CUDA generator, whose state the checkpoint
    # restores; with mixed precision the GradScaler's state too.
    def cfg(out):
        return train_only_cfg(
            kinetics_dir,
            out,
            *["NUM_GPUS", "1", "DETERMINISTIC", "True", "MODEL.DROPOUT_RATE", "0.5"],
            *["TRAIN.MIXED_PRECISION", str(mixed_precision)],
        )

    devices = []
    device_for_rank = run_module.device_for_rank
    monkeypatch.setattr(
        run_module, "device_for_rank", lambda n: devices.append(device_for_rank(n)) or devices[-1]
    )
    straight, resumed = straight_and_resumed(cfg, tmp_path, monkeypatch)
    assert len(devices) == 3 and {d.type for d in devices} == {"cuda"}
    scaler = load_checkpoint_file(checkpoint_path(str(tmp_path / "b"), 3))["scaler_state"]
    assert bool(scaler) == mixed_precision  # an enabled GradScaler's state was kept
    assert resumed.keys() == straight.keys()
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=0, atol=0, msg=key)
