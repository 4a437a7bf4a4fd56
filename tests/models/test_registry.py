"""The registry: names, canonical spellings, duplicates, variants as data."""

import functools
import inspect

import pytest

from mutualnet3d.models import get_model_builder, list_models, register_model, register_variant
from mutualnet3d.models import registry
from mutualnet3d.models.slowfast import adaptive_slowfast
from mutualnet3d.models.x3d import adaptive_x3d


def test_registry_lists_the_2d_models():
    assert {"mobilenet_v1", "mobilenet_v2", "resnet50", "wide_resnet28_10"} <= set(list_models())
    with pytest.raises(KeyError, match="unknown model 'nope'"):
        get_model_builder("nope")
    assert get_model_builder("MobileNetV1") is get_model_builder("mobilenet_v1")


def test_registry_lists_the_video_models():
    video = {"slow_r50", "slowfast_r50", "slowfast_r50_8x8", "x3d_xs", "x3d_s", "x3d_m", "x3d_l",
             "slow_r50_detection", "slowfast_r50_detection"}
    assert video <= set(list_models())
    assert get_model_builder("SlowFast-R50") is get_model_builder("slowfast_r50")


def test_a_second_model_of_a_name_is_an_error(monkeypatch):
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))  # restored afterwards
    with pytest.raises(ValueError, match="already registered"):
        register_model(lambda: None, "MobileNet-V1")  # the canonical name is taken
    with pytest.raises(ValueError, match="already registered"):
        register_variant("x3d_m", "another X3D-M", adaptive_x3d)


def test_variants_are_their_family_with_defaults():
    variant = get_model_builder("slowfast_r50_8x8")
    assert isinstance(variant, functools.partial) and variant.func is adaptive_slowfast
    assert variant.keywords == {"num_frames": 8, "alpha": 4, "fusion_kernel_size": 7}
    assert variant.__name__ == "slowfast_r50_8x8" and "8x8" in variant.__doc__
    params = inspect.signature(variant).parameters
    assert params["alpha"].default == 4 and params["beta_inv"].default == 8  # the family's


@pytest.mark.parametrize("name", list_models())
def test_every_variant_is_documented(name):
    builder = get_model_builder(name)
    assert builder.__name__ == name and builder.__doc__ and builder.__doc__.strip()
