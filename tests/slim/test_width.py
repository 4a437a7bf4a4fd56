"""Switching a whole model to one width (and BN statistics key)."""

import warnings

import pytest
import torch

from mutualnet3d.slim import WidthSwitch, calibrate_bn, get_width, set_width

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


def _switched(net):
    return [(type(m).__name__, m.width, getattr(m, "stats_key", "-")) for m in net.modules()
            if hasattr(m, "width")]  # fmt: skip


def test_width_switch_leaves_every_layer_as_set_width_does():
    net, reference = tiny_net().eval(), tiny_net().eval()
    reference.load_state_dict(net.state_dict())
    switch = WidthSwitch(net)
    x = torch.randn(2, 3, 8, 8)
    for width, key in ((0.5, None), (0.25, "w0p25_s8"), (1.0, None)):
        switch(width, key)
        set_width(reference, width, key, warn_uncalibrated=False)
        assert _switched(net) == _switched(reference)
        with torch.no_grad():
            torch.testing.assert_close(net(x), reference(x), rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        switch(1.5)
