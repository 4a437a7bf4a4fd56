"""The solver: PySlowFast's learning-rate schedule and weight-decay groups."""

import math

import pytest

from mutualnet3d.engine import LRSchedule, OptimizerSpec, build_optimizer
from mutualnet3d.models import get_model_builder


def test_lr_schedule_cosine_with_warmup_and_steps():
    cosine_lr = LRSchedule(
        0.1, 100, "cosine", cosine_end_lr=0.0, warmup_epochs=10.0, warmup_start_lr=0.01
    )
    cosine = lambda e: 0.05 * (math.cos(math.pi * e / 100) + 1)  # noqa: E731
    assert cosine_lr(0) == pytest.approx(0.01)
    assert cosine_lr(5) == pytest.approx(0.01 + (cosine(10) - 0.01) / 2)
    assert cosine_lr(50) == pytest.approx(0.05)
    assert cosine_lr(100) == pytest.approx(0.0, abs=1e-12)
    steps = LRSchedule(0.5, 50, "steps_with_relative_lrs", steps=(0, 41, 49), lrs=(1, 0.1, 0.01))
    assert [steps(e) for e in (0, 40.9, 41, 49, 49.9)] == pytest.approx(
        [0.5, 0.5, 0.05, 0.005, 0.005]
    )
    assert LRSchedule(0.3, 10, "constant")(7.5) == 0.3
    with pytest.raises(ValueError, match="LR policy 'linear'"):
        LRSchedule(0.1, 10, "linear")


def test_weight_decay_groups_include_conv3d_and_spare_bn():
    spec = OptimizerSpec(weight_decay=1e-4, bn_weight_decay=0.0, zero_wd_1d_param=True)
    model = get_model_builder("slow_tiny")(num_classes=5, width_divisor=2)
    optimizer = build_optimizer(model, spec)
    by_decay = {}
    for group in optimizer.param_groups:
        by_decay.setdefault(group["weight_decay"], set()).update(id(p) for p in group["params"])
    conv3d = model.blocks[0].conv.weight
    assert conv3d.ndim == 5 and id(conv3d) in by_decay[1e-4]
    assert id(model.blocks[0].norm.weight) in by_decay[0.0]
    assert id(model.get_classifier().bias) in by_decay[0.0]
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))
    assert optimizer.defaults["nesterov"] and optimizer.defaults["momentum"] == 0.9
