"""The deployable network: the planned resize is resize_clip's, the static network the
adaptive one's at its configuration (calibrated statistics, both input rules)."""

from __future__ import annotations

import pytest
import torch
from pytorchvideo.layers.swish import Swish

from mutualnet3d.deploy import (
    ClipResize,
    NotDeployable,
    PlainSwish,
    deployable,
    input_names,
    input_shapes,
)
from mutualnet3d.engine.evaluate import forward_configs
from mutualnet3d.engine.forward import resize_input
from mutualnet3d.models import get_model_builder
from mutualnet3d.slim import SubnetConfig
from mutualnet3d.utils.resample import resize_clip

from .helpers import calibrated_tiny


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize(
    "shape, spatial, temporal",
    [
        ((2, 3, 8, 32, 32), 16, 2),  # both shrink
        ((2, 3, 8, 32, 32), 32, 3),  # frames only
        ((2, 3, 4, 32, 32), 24, 4),  # pixels only
        ((1, 3, 5, 48, 64), 20, 5),  # landscape: the short side
        ((1, 3, 5, 64, 48), 20, 2),  # portrait
        ((2, 3, 40, 30), 16, None),  # images
    ],
)
def test_planned_resize_is_resize_clip(shape, spatial, temporal, align_corners):
    x = torch.randn(shape)
    frames = shape[2] if len(shape) == 5 else None
    resize = ClipResize(shape[-2:], frames, spatial, temporal, align_corners=align_corners)
    expected = resize_clip(x, spatial, temporal, align_corners=align_corners)
    assert torch.equal(resize(x), expected)
    # Planned once, for any batch size.
    assert torch.equal(resize(torch.cat([x, x]))[: len(x)], expected)


def test_plain_swish_is_pytorchvideos():
    x = torch.randn(10000) * 8
    assert torch.equal(PlainSwish()(x), Swish()(x))


@pytest.mark.parametrize("input_size", ["full", "config"])
@pytest.mark.parametrize("name", ["slow_tiny", "slowfast_tiny", "x3d_tiny"])
def test_deployed_network_gives_the_adaptive_networks_logits(name, input_size):
    full = get_model_builder(name)(num_classes=5).full_config()
    config = SubnetConfig(0.5, 24, max(1, full.temporal // 2))
    model, batch = calibrated_tiny(name, [config])
    net = deployable(model, config, input_size=input_size, align_corners=False)
    expected = forward_configs(model, batch, [config])[0]
    given = batch if input_size == "full" else resize_input(batch, config)
    given = given if isinstance(given, list) else [given]
    with torch.no_grad():
        got = net(*given)
    assert got.shape == expected.shape
    assert (got - expected).abs().max().item() < 1e-5
    # The network is plain: no slim layer, no Python autograd function left.
    assert not any(type(m).__name__.startswith("Slim") for m in net.modules())
    assert not any(isinstance(m, Swish) for m in net.modules())


def test_uncalibrated_configurations_and_detectors_are_refused():
    model, _ = calibrated_tiny("slow_tiny", [SubnetConfig(0.5, 24, 2)])
    with pytest.raises(NotDeployable, match="no calibrated BN statistics for w0p5_s16_t2"):
        deployable(model, SubnetConfig(0.5, 16, 2), align_corners=False)
    detector = get_model_builder("slow_tiny_detection")(num_classes=5)
    with pytest.raises(NotDeployable, match="detectors are not exported"):
        deployable(detector, SubnetConfig(1.0, 32, 4), align_corners=False)


def test_input_names_and_shapes_per_pathway():
    model = get_model_builder("slowfast_tiny")(num_classes=5)  # 2 Slow / 8 Fast frames, 32 px
    config = SubnetConfig(0.5, 16, 1)
    assert input_names(model) == ["slow", "fast"]
    assert input_shapes(model, config, "full") == {
        "slow": ["batch", 3, 2, 32, 32],
        "fast": ["batch", 3, 8, 32, 32],
    }
    assert input_shapes(model, config, "config") == {
        "slow": ["batch", 3, 1, 16, 16],
        "fast": ["batch", 3, 8, 32, 32],  # the Fast pathway keeps its full size
    }
