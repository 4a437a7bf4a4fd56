"""Initialisation: an I-Net starts as a network built at its own width, each model's conv
rule (``init_conv``) is the one its builder used, and detectors' heads start as PySlowFast's.

A slice of a Kaiming-initialised conv keeps the full layer's scale, sqrt(2 / full fan_out);
a conv built at the I-Net's width has sqrt(2 / its own fan_out). Sample stds are compared
with a tolerance of several standard errors (about 1 / sqrt(2 n) for n weights).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from mutualnet3d.engine import SubnetConfig, mutual_step
from mutualnet3d.engine.spec import ModelSpec
from mutualnet3d.models import get_model_builder, list_models
from mutualnet3d.slim import SlimModule, export_subnet

# A tiny 2D and a tiny 3D network, wide enough that most convs hold thousands of weights.
NETS = [
    ("mobilenet_v1_tiny", {"num_classes": 10, "base_width": 0.5}),
    ("slow_tiny", {"num_classes": 10, "width_per_group": 16}),
]
TINY = sorted(name for name in list_models() if name.endswith(("_tiny", "_tiny_detection")))


def _convs(model: nn.Module) -> dict[str, nn.Module]:
    return {n: m for n, m in model.named_modules() if isinstance(m, nn.modules.conv._ConvNd)}


def _kaiming_std(out_channels: int, weight: torch.Tensor) -> float:
    """Kaiming-normal's std (fan_out, ReLU gain) for ``out_channels`` outputs."""
    return math.sqrt(2.0 / (out_channels * weight[0, 0].numel()))


def _pooled_std(model: nn.Module) -> float:
    """The std of every conv weight divided by its own fan's Kaiming std: 1 when every
    conv is initialised over its own fan."""
    z = [
        m.weight.flatten() / _kaiming_std(m.weight.shape[0], m.weight)
        for m in _convs(model).values()
    ]
    return torch.cat(z).std().item()


@pytest.mark.parametrize("name, kwargs", NETS, ids=[n for n, _ in NETS])
def test_an_inet_starts_with_each_conv_at_its_own_fan_not_the_full_layers(name, kwargs):
    torch.manual_seed(0)
    full = get_model_builder(name)(**kwargs)
    torch.manual_seed(1)
    inet = ModelSpec(name, kwargs, static_width=0.5).build()
    assert not any(isinstance(m, SlimModule) for m in inet.modules())
    full_convs, checked = _convs(full), 0
    for layer, conv in _convs(inet).items():
        w, full_out = conv.weight, full_convs[layer].weight.shape[0]
        if w.numel() < 4000:
            continue  # too few weights for a per-layer std; the pooled check covers them
        own, sliced = _kaiming_std(w.shape[0], w), _kaiming_std(full_out, w)
        assert abs(w.std().item() / own - 1) < 0.08, (layer, w.std().item(), own)
        if w.shape[0] <= 0.75 * full_out:  # the fan shrank: the full layer's std is far
            assert abs(w.std().item() / sliced - 1) > 0.08, (layer, w.std().item(), sliced)
            checked += 1
    assert checked >= 5
    assert abs(_pooled_std(inet) - 1) < 0.03
    # Without the fresh initialisation, the slices keep the full layers' (smaller) scale.
    assert _pooled_std(export_subnet(full, 0.5)) < 0.85


@pytest.mark.parametrize("name, kwargs", NETS, ids=[n for n, _ in NETS])
def test_an_inet_keeps_its_linear_and_bn_layers_as_exported(name, kwargs):
    torch.manual_seed(0)
    exported = export_subnet(get_model_builder(name)(**kwargs), 0.5)
    torch.manual_seed(0)
    inet = ModelSpec(name, kwargs, static_width=0.5).build()
    kept = dict(exported.named_parameters())
    for param_name, param in inet.named_parameters():
        module = inet.get_submodule(param_name.rpartition(".")[0])
        if not isinstance(module, nn.modules.conv._ConvNd):
            assert torch.equal(param, kept[param_name]), param_name


@pytest.mark.parametrize("name, kwargs", NETS, ids=[n for n, _ in NETS])
def test_a_full_width_inet_is_the_model_as_built(name, kwargs):
    torch.manual_seed(0)
    built = get_model_builder(name)(**kwargs)
    torch.manual_seed(0)
    inet = ModelSpec(name, kwargs, static_width=1.0).build()
    state = inet.state_dict()
    assert all(torch.equal(state[key], value) for key, value in built.state_dict().items())
    # Initialised afresh at the full width, its convs have the built network's scale.
    again = export_subnet(built, 1.0)
    again.init_at_own_size()
    assert abs(_pooled_std(again) / _pooled_std(built) - 1) < 0.03


@pytest.mark.slow  # every registered tiny model
@pytest.mark.parametrize("name", TINY)
def test_each_models_conv_rule_is_the_one_its_builder_used(name):
    torch.manual_seed(0)
    built = get_model_builder(name)()
    again = export_subnet(built, 1.0)
    again.init_at_own_size()
    assert abs(_pooled_std(built) - 1) < 0.05, name
    assert abs(_pooled_std(again) - 1) < 0.05, name


@pytest.mark.parametrize("name, kwargs", NETS, ids=[n for n, _ in NETS])
def test_an_inet_trains(name, kwargs):
    torch.manual_seed(0)
    inet = ModelSpec(name, kwargs, static_width=0.5).build()
    x = inet.example_input(batch_size=4)
    x = torch.randn_like(x)
    before = {n: p.detach().clone() for n, p in inet.named_parameters()}
    optimizer = torch.optim.SGD(inet.parameters(), lr=0.1)
    result = mutual_step(
        inet,
        x,
        torch.tensor([0, 1, 2, 3]),
        [SubnetConfig(1.0, inet.crop_size, inet.num_frames)],
        nn.CrossEntropyLoss(),
    )
    optimizer.step()
    assert math.isfinite(result.loss) and result.sub_losses == []
    assert any(not torch.equal(p, before[n]) for n, p in inet.named_parameters())


@pytest.mark.parametrize("fc_init_std", [0.01, 0.02])
def test_a_detectors_classifier_starts_at_the_fc_init_std_as_pyslowfasts(fc_init_std):
    torch.manual_seed(0)
    model = get_model_builder("slow_tiny_detection")(fc_init_std=fc_init_std)
    proj = model.get_classifier()
    assert abs(proj.weight.std().item() / fc_init_std - 1) < 0.05
    assert proj.bias is None or not proj.bias.any()
