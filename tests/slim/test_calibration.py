"""BN statistics per configuration: exact calibration, kept per key, in the state_dict."""

import pytest
import torch
import torch.nn.functional as F

from mutualnet3d.slim import (
    BNCalibrator,
    SlimBatchNorm1d,
    SlimBatchNorm2d,
    SlimBatchNorm3d,
    calibrate_bn,
    set_width,
    stats_key,
)

from .nets import R2, tiny_net


@pytest.mark.parametrize(
    "bn_cls, shape",
    [(SlimBatchNorm1d, (5, 16)), (SlimBatchNorm2d, (3, 16, 4, 4)), (SlimBatchNorm3d, (2, 16, 3, 4, 4))],
)
def test_calibrate_bn_is_exact(bn_cls, shape):
    torch.manual_seed(0)
    bn = bn_cls(16, rule=R2)
    # Unequal batch sizes and shifted batches: a mean of per-batch variances would be wrong.
    batches = []
    for i, n in enumerate((shape[0], shape[0] + 3, 1 + shape[0] // 2)):
        batches.append(torch.randn(n, 8, *shape[2:]) * (1 + i) + 3 * i)
    calibrate_bn(bn, batches, 0.5)
    data = torch.cat(batches).transpose(0, 1).reshape(8, -1).double()
    mean, var = bn.get_stats(stats_key(0.5))
    torch.testing.assert_close(mean.double(), data.mean(1), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(var.double(), data.var(1, unbiased=True), rtol=1e-5, atol=1e-5)
    # Eval mode normalises with them.
    bn.eval()
    x = batches[0]
    with set_width(bn, 0.5):
        out = bn(x)
    expected = F.batch_norm(x, mean, var, bn.weight[:8], bn.bias[:8], False, 0.0, bn.eps)
    torch.testing.assert_close(out, expected)


def test_calibrated_stats_per_width_do_not_overwrite():
    torch.manual_seed(0)
    net = tiny_net()
    data = [torch.randn(4, 3, 8, 8) for _ in range(3)]
    calibrate_bn(net, data, 0.5)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    calibrate_bn(net, [d * 3 + 1 for d in data], 0.25)
    calibrate_bn(net, [d * 2 for d in data], 1.0)
    after = net.state_dict()
    for key, value in before.items():
        if "stats_w0p5" in key or key.endswith(("running_mean", "running_var")):
            assert torch.equal(after[key], value), key
    bn = net[1]
    assert sorted(bn.calibrated_keys()) == ["w0p25", "w0p5", "w1"]
    assert bn.get_stats("w0p25")[0].shape == (4,) and bn.get_stats("w1")[0].shape == (16,)
    assert net.training  # calibrate_bn restores the mode


def test_calibrated_stats_travel_in_state_dict():
    torch.manual_seed(0)
    net = tiny_net()
    calibrate_bn(net, [torch.randn(4, 3, 8, 8) for _ in range(2)], 0.5, key=stats_key(0.5, 8))
    fresh = tiny_net()
    fresh.load_state_dict(net.state_dict(), strict=True)
    x = torch.randn(2, 3, 8, 8)
    net.eval(), fresh.eval()
    with set_width(net, 0.5, stats_key(0.5, 8)), set_width(fresh, 0.5, stats_key(0.5, 8)):
        torch.testing.assert_close(fresh(x), net(x))
    # A fresh model has no extra keys: its state_dict is the plain network's.
    assert not any("stats_" in k for k in tiny_net().state_dict())


def test_calibrator_interleaves_configurations_on_one_pass():
    # One pass over the data, every configuration per batch, gives the statistics of
    # separate calibrate_bn runs per configuration.
    torch.manual_seed(0)
    net = tiny_net()
    twin = tiny_net()
    twin.load_state_dict(net.state_dict())
    data = [torch.randn(3 + i, 3, 8, 8) for i in range(3)]
    configs = [(1.0, 8), (0.5, 6), (0.25, 4)]
    calibrator = BNCalibrator(net)
    for batch in data:
        for width, size in configs:
            small = F.interpolate(batch, size=size)
            calibrator.update(width, stats_key(width, size), lambda m, x=small: m(x))
    assert calibrator.finish() == {stats_key(w, s): 3 for w, s in configs}
    for width, size in configs:
        calibrate_bn(twin, [F.interpolate(b, size=size) for b in data], width, stats_key(width, size))
    for key, value in twin.state_dict().items():
        torch.testing.assert_close(net.state_dict()[key], value)
