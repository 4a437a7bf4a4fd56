"""Switching a whole model to one width (and BN statistics key)."""

import warnings

import pytest
import torch

from mutualnet3d.slim import calibrate_bn, get_width, set_width

from .nets import tiny_net


def test_set_width_call_and_context_manager():
    net = tiny_net()
    set_width(net, 0.5)
    assert get_width(net) == 0.5
    with set_width(net, 0.25) as same:
        assert same is net
        assert all(m.width == 0.25 for m in net.modules() if hasattr(m, "in_rule") or hasattr(m, "rule"))
        assert net(torch.randn(2, 3, 8, 8)).shape == (2, 5)
    assert get_width(net) == 0.5
    with pytest.raises(ValueError, match="width"):
        set_width(net, 1.5)


def test_uncalibrated_width_warns_once_statistics_exist():
    net = tiny_net()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        set_width(net, 0.5)  # nothing calibrated yet: no warning
    calibrate_bn(net, [torch.randn(4, 3, 8, 8) for _ in range(2)], 0.5)
    with pytest.warns(UserWarning, match="w0p25"):
        set_width(net, 0.25)
