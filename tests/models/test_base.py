"""The one model contract (SlimNet), checked on every registered tiny model."""

import pytest
import torch

from mutualnet3d.models import ModelFacts, SlimNet, describe_model, get_model_builder, list_models
from mutualnet3d.slim import SubnetConfig, set_width

TINY = [name for name in list_models() if "_tiny" in name]
# The fast suite checks one of each kind (2D, pool1, two pathways with an RoI head,
# PySlowFast's X3D layout); the slow suite checks every tiny model.
FAST_TINY = {"mobilenet_v2_tiny", "i3d_tiny", "slowfast_tiny_detection", "x3d_tiny_pyslowfast"}
EVERY_TINY = [
    pytest.param(name, marks=[] if name in FAST_TINY else [pytest.mark.slow]) for name in TINY
]
KWARGS = {"num_classes": 7, "width_divisor": 2}

# name -> (full configuration, pathways, detects): what each tiny variant states.
FACTS = {
    "mobilenet_v1_tiny": (SubnetConfig(1.0, 32), 1, False),
    "mobilenet_v2_tiny": (SubnetConfig(1.0, 32), 1, False),
    "resnet_tiny": (SubnetConfig(1.0, 32), 1, False),
    "wide_resnet_tiny": (SubnetConfig(1.0, 32), 1, False),
    "c2d_tiny": (SubnetConfig(1.0, 32, 4), 1, False),
    "i3d_tiny": (SubnetConfig(1.0, 32, 4), 1, False),
    "slow_tiny": (SubnetConfig(1.0, 32, 4), 1, False),
    "slow_tiny_detection": (SubnetConfig(1.0, 32, 4), 1, True),
    "slowfast_tiny": (SubnetConfig(1.0, 32, 2), 2, False),
    "slowfast_tiny_detection": (SubnetConfig(1.0, 32, 2), 2, True),
    "x3d_tiny": (SubnetConfig(1.0, 32, 4), 1, False),
    "x3d_tiny_pyslowfast": (SubnetConfig(1.0, 32, 4), 1, False),
}


def _build(name: str) -> SlimNet:
    torch.manual_seed(0)
    return get_model_builder(name)(**KWARGS)


def test_every_tiny_model_is_checked():
    assert sorted(FACTS) == TINY


@pytest.mark.parametrize("name", EVERY_TINY)
def test_full_configuration_pathways_and_detection(name):
    model = _build(name)
    full, pathways, detects = FACTS[name]
    assert isinstance(model, SlimNet)
    assert model.full_config() == full and model.full_config().key == full.key
    assert (model.crop_size, model.num_frames) == (full.spatial, full.temporal)
    assert model.input_kind == ("image" if full.temporal is None else "video")
    assert model.num_pathways == pathways and (model.alpha is not None) == (pathways == 2)
    assert model.detects is detects


@pytest.mark.parametrize("name", EVERY_TINY)
def test_example_args_run_forward(name):
    model = _build(name).eval()
    x, *head_args = model.example_args(batch_size=3)
    assert len(head_args) == model.detects
    full = model.full_config()
    slow = x[0] if model.num_pathways == 2 else x
    assert slow.shape[0] == 3 and slow.shape[-1] == full.spatial
    assert slow.dim() == (4 if full.temporal is None else 5)
    if full.temporal is not None:
        assert slow.shape[2] == full.temporal
    if model.num_pathways == 2:
        assert x[1].shape[2:] == (full.temporal * model.alpha, full.spatial, full.spatial)
    with torch.no_grad():
        out = model(x, *head_args)
        torch.testing.assert_close(out, model.forward_head(model.forward_features(x), *head_args))
    assert out.shape == (3, 7)  # one row per clip, or per box (one whole-frame box per clip)
    # A smaller configuration: smaller Slow input, boxes in its pixels.
    temporal = None if full.temporal is None else 1
    with torch.no_grad(), set_width(model, 0.5):
        assert model(*model.example_args(24, temporal, batch_size=2)).shape == (2, 7)


@pytest.mark.parametrize("name", EVERY_TINY)
def test_reset_classifier(name):
    model = _build(name)
    old = model.get_classifier()
    in_rule = old.in_rule
    with torch.no_grad():
        old.weight.fill_(1.0), old.bias.fill_(1.0)
    model.reset_classifier(7)  # the same class count: in place (an optimizer keeps it)
    assert model.get_classifier() is old and torch.count_nonzero(old.bias) == 0
    assert old.weight.std().item() == pytest.approx(0.01, rel=0.3)
    model.reset_classifier(3)  # another class count: a fresh layer, same input rule
    new = model.get_classifier()
    assert new is not old and new.out_features == 3 and new.in_rule == in_rule
    assert new.weight.requires_grad and new.weight.device == old.weight.device
    assert new.out_rule is None and torch.count_nonzero(new.bias) == 0
    assert model(*model.example_args(batch_size=2)).shape == (2, 3)


@pytest.mark.parametrize("name", EVERY_TINY)
def test_describe_model_agrees_with_the_real_model(name):
    kwargs = {**KWARGS, "crop_size": 48}  # a config's argument changes both the same way
    facts = describe_model(name, kwargs)
    model = get_model_builder(name)(**kwargs)
    assert facts == ModelFacts.of(model) and facts.full.spatial == 48
    assert facts.num_pathways == model.num_pathways and facts.full == model.full_config()


@pytest.mark.parametrize(
    "name", ["mobilenet_v1_tiny", "mobilenet_v2_tiny", "resnet_tiny", "wide_resnet_tiny"]
)
def test_tiny_variants_train_at_every_width(name):
    model = get_model_builder(name)(num_classes=7, width_divisor=2)
    x = torch.randn(2, 3, 32, 32)
    for width in (1.0, 0.5):
        with set_width(model, width):
            out = model(x)
        assert out.shape == (2, 7)
        out.sum().backward()
    model.reset_classifier(3)
    assert model(x).shape == (2, 3)


def test_a_network_states_its_input_consistently():
    with pytest.raises(ValueError, match="num_frames"):
        SlimNet(crop_size=32, num_frames=4)  # an image network with frames
    with pytest.raises(ValueError, match="alpha"):
        SlimNet(crop_size=32, alpha=4)


@pytest.mark.parametrize("name", ["mobilenet_v1_tiny", "slowfast_tiny_detection"])
def test_example_args_are_on_the_models_device(name):
    with torch.device("meta"):
        model = get_model_builder(name)(**KWARGS)
    args = model.example_args(batch_size=2)
    tensors = [t for a in args for t in (a if isinstance(a, list) else [a])]
    assert all(t.device.type == "meta" for t in tensors) and len(tensors) == 1 + 2 * model.detects
