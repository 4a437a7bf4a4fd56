"""MobileNetV1 / V2: published sizes, torchvision's weights, parameters per width."""

import pytest
import torch
import torchvision

from mutualnet3d.models import get_model_builder
from mutualnet3d.slim import count_flops

from .helpers import (
    check_export_matches_2d,
    check_published_size,
    check_torchvision_weights,
    md,
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, size, mparams, mflops", [("mobilenet_v1", 224, 4.23, 569.0), ("mobilenet_v2", 224, 3.50, 300.8)]
)
def test_published_sizes(name, size, mparams, mflops):
    check_published_size(name, size, mparams, mflops)


@pytest.mark.slow
def test_mobilenet_v1_smallest_configuration():
    # The paper's MobileNetV1 range is [13, 569] MFLOPs: 0.25x at 128 px is the bottom.
    model = get_model_builder("mobilenet_v1")()
    flops = count_flops(model, torch.zeros(1, 3, 128, 128), width=0.25)
    assert flops / 1e6 == pytest.approx(13.0, rel=0.06)


@pytest.mark.slow
def test_torchvision_weights_load_and_match():
    check_torchvision_weights("mobilenet_v2", torchvision.models.mobilenet_v2)


# Parameters implied by a width, computed here from the architecture.
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


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, widths, size, expected",
    [
        ("mobilenet_v1", (1.0, 0.75, 0.5, 0.25), 64, expected_params_mobilenet_v1),
        ("mobilenet_v2", (1.0, 0.85, 0.7), 64, expected_params_mobilenet_v2),
    ],
)
def test_export_subnet_matches_slimmable_model(name, widths, size, expected):
    check_export_matches_2d(name, widths, size, expected)


@pytest.mark.slow
def test_smaller_widths_cost_less():
    model = get_model_builder("mobilenet_v2")()
    x = torch.zeros(1, 3, 224, 224)
    costs = [count_flops(model, x, w) for w in (1.0, 0.85, 0.7)]
    assert costs[0] > costs[1] > costs[2]


@pytest.mark.parametrize("name", ["mobilenet_v1_tiny", "mobilenet_v2_tiny"])
def test_dropout_before_the_classifier_runs_in_training(name):
    # forward_head is torchvision's `classifier` block (dropout, linear), not the linear alone.
    model = get_model_builder(name)(num_classes=5, dropout_rate=0.9, width_divisor=2)
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()  # only the dropout differs between two calls
    x = torch.randn(2, 3, 32, 32)
    torch.manual_seed(0)
    first = model(x)
    torch.manual_seed(1)
    assert not torch.equal(first, model(x))
    model.eval()
    torch.testing.assert_close(model(x), model.get_classifier()(model.forward_features(x)))
