"""describe_model: a model's facts without building it for real, cached."""

import dataclasses

import pytest
import torch

from mutualnet3d.models import ModelFacts, describe_model, get_model_builder, registry
from mutualnet3d.slim import SubnetConfig


@pytest.fixture
def counting(monkeypatch):
    """A registered ``counted_slow`` (slow_tiny) that records each build's device."""
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))  # restored afterwards
    devices = []

    def counted_slow(**kwargs):
        devices.append(torch.empty(0).device)
        return get_model_builder("slow_tiny")(**kwargs)

    registry.register_model(counted_slow)
    return devices


def test_facts_are_cached_on_the_canonical_name_and_arguments(counting):
    first = describe_model("counted_slow", {"num_classes": 3, "dropout_rate": 0.1})
    again = describe_model("Counted-Slow", {"dropout_rate": 0.1, "num_classes": 3})
    assert again is first and len(counting) == 1
    describe_model("counted_slow", {"num_classes": 3, "crop_size": 64})
    assert len(counting) == 2  # other arguments: built again
    with pytest.raises(TypeError):  # 3.0 is not 3: not the cached facts, the builder's error
        describe_model("counted_slow", {"num_classes": 3.0})
    assert len(counting) == 3


def test_the_model_is_built_on_the_meta_device(counting):
    describe_model("counted_slow", {"num_classes": 3, "crop_size": 96})
    assert counting == [torch.device("meta")]
    assert torch.empty(0).device == torch.device("cpu")  # the default device is restored


def test_lists_and_mappings_are_frozen_for_the_cache():
    kwargs = {"num_classes": 3, "stem_conv_kernel_size": [1, 7, 7]}
    assert describe_model("slow_tiny", kwargs) is describe_model("slow_tiny", dict(kwargs))


@pytest.mark.parametrize(
    "name, kwargs, error",
    [
        ("no_such_model", {}, KeyError),
        ("slow_tiny", {"no_such_argument": 1}, TypeError),
        ("wide_resnet_tiny", {"depth": 11}, ValueError),  # not 6n + 4
    ],
)
def test_raises_what_the_builder_raises(name, kwargs, error):
    with pytest.raises(error):
        describe_model(name, kwargs)


def test_facts_are_frozen_and_count_pathways():
    facts = ModelFacts("video", 4, False, SubnetConfig(1.0, 224, 8))
    assert facts.num_pathways == 2 and dataclasses.replace(facts, alpha=None).num_pathways == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        facts.alpha = 8


def test_describing_skips_initialisation_and_restores_it():
    """On the meta device torch.nn.init has nothing to fill; it is skipped there only."""
    import torch.nn as nn

    from mutualnet3d.models import describe_model

    before = nn.init.kaiming_normal_
    with pytest.raises(ValueError):
        describe_model("ResNet", {"arch": "2d", "depth": 34})  # raises inside the build
    describe_model("ResNet", {"arch": "2d", "num_classes": 11})
    assert nn.init.kaiming_normal_ is before
    layer = nn.Linear(4, 3)
    nn.init.constant_(layer.weight, 2.0)
    assert layer.weight.eq(2.0).all()
