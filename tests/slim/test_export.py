"""Export of one configuration as a static network of plain torch layers."""

import pytest
import torch
import torch.nn as nn

from mutualnet3d.slim import calibrate_bn, count_params, export_subnet, get_width, set_width

from .nets import tiny_net


@pytest.mark.parametrize("width", [1.0, 0.75, 0.5, 0.25])
def test_export_subnet_is_plain_and_equal(width):
    torch.manual_seed(0)
    net = tiny_net()
    calibrate_bn(net, [torch.randn(4, 3, 8, 8) for _ in range(2)], width)
    net.eval()
    static = export_subnet(net, width)
    assert not any(hasattr(m, "width") for m in static.modules())
    assert {type(m) for m in static.modules()} <= {
        nn.Sequential, nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.AdaptiveAvgPool2d, nn.Flatten, nn.Linear
    }
    x = torch.randn(3, 3, 8, 8)
    with set_width(net, width):
        expected = net(x)
    torch.testing.assert_close(static(x), expected, rtol=0, atol=1e-5)
    assert sum(p.numel() for p in static.parameters()) == count_params(net, width)
    assert get_width(net) == 1.0  # the source model is untouched
