"""ResNet-50 and WideResNet-28-10: published sizes, torchvision's weights, export."""

import pytest
import torchvision

from .helpers import (
    check_export_matches_2d,
    check_published_size,
    check_torchvision_weights,
    md,
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, size, mparams, mflops", [("resnet50", 224, 25.56, 4090.0), ("wide_resnet28_10", 32, 36.5, 5248.0)]
)
def test_published_sizes(name, size, mparams, mflops):
    check_published_size(name, size, mparams, mflops)


@pytest.mark.slow
def test_torchvision_weights_load_and_match():
    check_torchvision_weights("resnet50", torchvision.models.resnet50)


def expected_params_resnet50(w: float, classes: int = 1000) -> int:
    """Parameters implied by a width, computed here from the architecture."""

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


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, widths, size, expected",
    [
        ("resnet50", (1.0, 0.95, 0.9), 64, expected_params_resnet50),
        ("wide_resnet28_10", (1.0, 0.95, 0.9), 32, None),
    ],
)
def test_export_subnet_matches_slimmable_model(name, widths, size, expected):
    check_export_matches_2d(name, widths, size, expected)
