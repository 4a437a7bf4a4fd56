"""The solver: PySlowFast's learning-rate schedule and weight-decay groups."""

import math

import pytest
import torch.nn as nn

from mutualnet3d.config import ConfigError, load_config
from mutualnet3d.config import defaults as config_defaults
from mutualnet3d.engine import (
    WEIGHT_DECAY_RULES,
    LRSchedule,
    OptimizerSpec,
    build_optimizer,
    decayed_parameters,
)
from mutualnet3d.engine.spec import _optimizer_spec
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


def _groups_by_decay(optimizer) -> dict[float, set[int]]:
    by_decay: dict[float, set[int]] = {}
    for group in optimizer.param_groups:
        ids = {id(p) for p in group["params"]}
        assert not ids & set().union(*by_decay.values()), "a parameter in two groups"
        by_decay.setdefault(group["weight_decay"], set()).update(ids)
    return by_decay


def _official_shape_rule(model) -> set[int]:
    """The official train.py's rule (4-D weights with size(1) != 1, and 2-D ones),
    extended here to the 3-D convs' 5-D weights, which it would skip."""
    return {
        id(p) for p in model.parameters() if (p.ndim in (4, 5) and p.shape[1] != 1) or p.ndim == 2
    }


def _bn_params(model) -> set[int]:
    return {
        id(p)
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._NormBase)
        for p in m.parameters(recurse=False)
    }


@pytest.mark.parametrize("name", ["mobilenet_v1_tiny", "mobilenet_v2_tiny", "x3d_tiny"])
def test_mutualnet_rule_decays_conv_and_linear_weights_only(name):
    model = get_model_builder(name)(num_classes=5)
    spec = OptimizerSpec(weight_decay=1e-4, weight_decay_rule="mutualnet")
    by_decay = _groups_by_decay(build_optimizer(model, spec))
    assert set(by_decay) == {1e-4, 0.0}
    assert by_decay[1e-4] | by_decay[0.0] == {id(p) for p in model.parameters()}
    assert by_decay[1e-4] == {id(p) for p in decayed_parameters(model)}
    # The official rule read off the shapes picks the same tensors (on 5-D weights too).
    assert by_decay[1e-4] == _official_shape_rule(model)
    convs = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Conv3d))]
    depthwise = [m for m in convs if m.groups == m.in_channels > 1]
    assert depthwise and all(id(m.weight) in by_decay[0.0] for m in depthwise)
    assert all(id(m.weight) in by_decay[1e-4] for m in convs if m not in depthwise)
    assert _bn_params(model) <= by_decay[0.0]
    biases = {id(m.bias) for m in model.modules() if getattr(m, "bias", None) is not None}
    assert biases and biases <= by_decay[0.0]
    linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert all(id(m.weight) in by_decay[1e-4] for m in linear)
    if name == "x3d_tiny":  # 5-D Conv3d weights decay; depthwise Conv3d ones do not
        assert any(m.weight.ndim == 5 and id(m.weight) in by_decay[1e-4] for m in convs)
        assert all(m.weight.ndim == 5 for m in depthwise)


def test_mutualnet_rule_skips_frozen_and_counts_shared_weights_once():
    shared = nn.Conv3d(4, 4, 3, bias=False)
    model = nn.Sequential(
        shared, shared, nn.Conv1d(4, 8, 1, groups=2), nn.Linear(8, 2), nn.BatchNorm3d(4)
    )
    model[3].weight.requires_grad_(False)
    decayed = decayed_parameters(model)
    # A grouped (not depthwise) conv decays; the frozen linear weight is left out.
    assert [id(p) for p in decayed] == [id(shared.weight), id(model[2].weight)]
    optimizer = build_optimizer(model, OptimizerSpec(weight_decay_rule="mutualnet"))
    assert sum(len(g["params"]) for g in optimizer.param_groups) == 6  # 7 minus the frozen


def test_pyslowfast_rule_is_unchanged_by_the_option():
    model = get_model_builder("x3d_tiny")(num_classes=5)
    spec = OptimizerSpec(weight_decay=1e-4, bn_weight_decay=1e-5)
    assert spec.weight_decay_rule == "pyslowfast"
    by_decay = _groups_by_decay(build_optimizer(model, spec))
    bn = _bn_params(model)
    assert by_decay == {1e-4: {id(p) for p in model.parameters()} - bn, 1e-5: bn}
    with pytest.raises(ValueError, match="weight-decay rule 'official' is not one of"):
        OptimizerSpec(weight_decay_rule="official")


def test_config_key_reaches_the_optimizer_spec():
    assert WEIGHT_DECAY_RULES == config_defaults.WEIGHT_DECAY_RULES
    assert _optimizer_spec(load_config(None)).weight_decay_rule == "pyslowfast"
    cfg = load_config(None, ["SOLVER.WEIGHT_DECAY_RULE", "mutualnet"])
    assert _optimizer_spec(cfg).weight_decay_rule == "mutualnet"
    with pytest.raises(ConfigError, match=r"SOLVER\.WEIGHT_DECAY_RULE must be one of .*'caffe'"):
        load_config(None, ["SOLVER.WEIGHT_DECAY_RULE", "caffe"])
    with pytest.raises(ConfigError, match=r"BN\.WEIGHT_DECAY must be 0 with SOLVER\.WEIGHT_DECAY"):
        load_config(None, ["SOLVER.WEIGHT_DECAY_RULE", "mutualnet", "BN.WEIGHT_DECAY", "1e-5"])
