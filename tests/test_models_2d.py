"""The 2D MutualNet models: published sizes, torchvision compatibility, export per width."""

import pytest
import torch
import torchvision

from mutualnet3d.models import get_model_builder, list_models
from mutualnet3d.slim import (
    calibrate_bn,
    count_flops,
    count_params,
    export_subnet,
    make_divisible,
    set_width,
)


def md(v: float) -> int:
    return make_divisible(v, 8)


# --------------------------------------------------------------------------------------
# Published sizes at width 1.0 (224 px, 1000 classes; CIFAR 32 px, 10 classes)
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, size, mparams, mflops",
    [
        ("mobilenet_v1", 224, 4.23, 569.0),
        ("mobilenet_v2", 224, 3.50, 300.8),
        ("resnet50", 224, 25.56, 4090.0),
        ("wide_resnet28_10", 32, 36.5, 5248.0),
    ],
)
def test_published_sizes(name, size, mparams, mflops):
    kwargs = {"num_classes": 10} if "wide" in name else {}
    model = get_model_builder(name)(**kwargs)
    assert count_params(model) / 1e6 == pytest.approx(mparams, rel=0.02)
    flops = count_flops(model, torch.zeros(1, 3, size, size), ops="conv_linear")
    assert flops / 1e6 == pytest.approx(mflops, rel=0.02)


def test_mobilenet_v1_smallest_configuration():
    # The paper's MobileNetV1 range is [13, 569] MFLOPs: 0.25x at 128 px is the bottom.
    model = get_model_builder("mobilenet_v1")()
    flops = count_flops(model, torch.zeros(1, 3, 128, 128), width=0.25)
    assert flops / 1e6 == pytest.approx(13.0, rel=0.06)


@pytest.mark.parametrize("name, reference", [("mobilenet_v2", "mobilenet_v2"), ("resnet50", "resnet50")])
def test_torchvision_weights_load_and_match(name, reference):
    torch.manual_seed(0)
    ref = getattr(torchvision.models, reference)().eval()
    model = get_model_builder(name)().eval()
    model.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x))


# --------------------------------------------------------------------------------------
# Parameters implied by a width, computed here from the architecture
# --------------------------------------------------------------------------------------
def expected_params_mobilenet_v1(w: float, classes: int = 1000) -> int:
    c = md(32 * w)
    total = 3 * c * 9 + 2 * c
    for out, repeats, _ in ((64, 1, 1), (128, 2, 2), (256, 2, 2), (512, 6, 2), (1024, 2, 2)):
        for _ in range(repeats):
            o = md(out * w)
            total += 9 * c + 2 * c + c * o + 2 * o
            c = o
    return total + c * classes + classes


def expected_params_mobilenet_v2(w: float, classes: int = 1000) -> int:
    c = md(32 * w)
    total = 3 * c * 9 + 2 * c
    stages = ((1, 16, 1), (6, 24, 2), (6, 32, 3), (6, 64, 4), (6, 96, 3), (6, 160, 3), (6, 320, 1))
    for t, out, repeats in stages:
        for _ in range(repeats):
            o, h = md(out * w), c * t  # expansion: t times the active input
            total += (c * h + 2 * h if t != 1 else 0) + 9 * h + 2 * h + h * o + 2 * o
            c = o
    return total + c * 1280 + 2 * 1280 + 1280 * classes + classes


def expected_params_resnet50(w: float, classes: int = 1000) -> int:
    def inner(planes: int) -> int:  # rounded at 4x the width, then divided
        return md(4 * planes * w) // 4

    c = inner(64)
    total = 3 * c * 49 + 2 * c
    for index, blocks in enumerate((3, 4, 6, 3)):
        p, o = inner(64 * 2**index), md(256 * 2**index * w)
        for i in range(blocks):
            total += c * p + 2 * p + 9 * p * p + 2 * p + p * o + 2 * o
            if i == 0:
                total += c * o + 2 * o
            c = o
    return total + c * classes + classes


EXPECTED = {
    "mobilenet_v1": expected_params_mobilenet_v1,
    "mobilenet_v2": expected_params_mobilenet_v2,
    "resnet50": expected_params_resnet50,
}


def _randomise_bn(model: torch.nn.Module) -> None:
    """Non-trivial affine parameters, so that a wrong slice would show in the outputs."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.weight.data.uniform_(0.5, 1.5, generator=g)
            m.bias.data.uniform_(-0.2, 0.2, generator=g)


@pytest.mark.parametrize(
    "name, widths, size",
    [
        ("mobilenet_v1", (1.0, 0.75, 0.5, 0.25), 64),
        ("mobilenet_v2", (1.0, 0.85, 0.7), 64),
        ("resnet50", (1.0, 0.95, 0.9), 64),
        ("wide_resnet28_10", (1.0, 0.95, 0.9), 32),
    ],
)
def test_export_subnet_matches_slimmable_model(name, widths, size):
    torch.manual_seed(0)
    kwargs = {"num_classes": 10} if "wide" in name else {}
    model = get_model_builder(name)(**kwargs)
    _randomise_bn(model)
    x = torch.randn(2, 3, size, size)
    for width in widths:
        calibrate_bn(model, [torch.randn(4, 3, size, size) for _ in range(2)], width)
        model.eval()
        static = export_subnet(model, width)
        with torch.no_grad(), set_width(model, width):
            expected = model(x)
            out = static(x)
        assert expected.abs().max() > 1e-3  # not a vacuous comparison
        torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)
        n_static = sum(p.numel() for p in static.parameters())
        assert n_static == count_params(model, width)
        if name in EXPECTED:
            assert n_static == EXPECTED[name](width)
        model.train()


def test_smaller_widths_cost_less():
    model = get_model_builder("mobilenet_v2")()
    x = torch.zeros(1, 3, 224, 224)
    costs = [count_flops(model, x, w) for w in (1.0, 0.85, 0.7)]
    assert costs[0] > costs[1] > costs[2]


def test_registry_lists_the_2d_models():
    assert {"mobilenet_v1", "mobilenet_v2", "resnet50", "wide_resnet28_10"} <= set(list_models())
    with pytest.raises(KeyError, match="unknown model 'nope'"):
        get_model_builder("nope")
    assert get_model_builder("MobileNetV1") is get_model_builder("mobilenet_v1")


@pytest.mark.parametrize("name", ["mobilenet_v1_tiny", "mobilenet_v2_tiny", "resnet_tiny", "wide_resnet_tiny"])
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


@pytest.mark.parametrize("name, cls", [("MobileNetV1", "MobileNetV1"), ("MobileNetV2", "MobileNetV2"),
                                       ("ResNet50", "ResNet")])
def test_imagenet_configs_select_their_networks(name, cls):
    from pathlib import Path

    from mutualnet3d.config import load_config
    from mutualnet3d.models import build_model

    path = Path(__file__).resolve().parents[1] / "configs" / "ImageNet" / f"MutualNet_{name}.yaml"
    cfg = load_config(str(path))
    assert cfg.MODEL.MODEL_NAME == name
    model = build_model(cfg)
    assert type(model).__name__ == cls and model.get_classifier().out_features == 1000
