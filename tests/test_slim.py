"""The slimmable core: channel rules, layers, width switching, BN calibration, export."""

import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mutualnet3d.slim import (
    ChannelRule,
    SlimBatchNorm1d,
    SlimBatchNorm2d,
    SlimBatchNorm3d,
    SlimConv1d,
    SlimConv2d,
    SlimConv3d,
    SlimLinear,
    SlimSqueezeExcitation,
    active_channels,
    calibrate_bn,
    count_flops,
    count_params,
    export_subnet,
    get_width,
    make_divisible,
    set_width,
    stats_key,
)

R2 = ChannelRule(divisor=2)


# --------------------------------------------------------------------------------------
# Channel rules
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, divisor, expected",
    [(8, 8, 8), (10, 8, 16), (12, 8, 16), (11.9, 8, 16), (8.8, 8, 8), (3, 8, 8), (100, 8, 104), (7, 1, 7)],
)
def test_make_divisible(value, divisor, expected):
    # int(v + d/2) // d * d, never below d, bumped by d when it loses more than 10%.
    assert make_divisible(value, divisor) == expected


@pytest.mark.parametrize(
    "full, width, rule, expected",
    [
        (64, 1.0, ChannelRule(), 64),
        (64, 0.5, ChannelRule(), 32),
        (64, 0.5, None, 64),  # fixed dimension
        (64, 0.26, ChannelRule(), 16),
        (24, 0.25, ChannelRule(), 8),
        (3, 0.5, ChannelRule(), 3),  # never above the full count
        (96, 0.5, ChannelRule(ratio=6), 48),  # MobileNetV2: make_divisible(16 * 0.5) * 6
        (96, 0.3, ChannelRule(ratio=6), 48),  # 16 * 0.3 = 4.8 -> 8 -> 48
        (64, 0.9, ChannelRule(ratio=0.25), 58),  # ResNet inner: make_divisible(230.4) / 4
        (24, 0.5, ChannelRule(divisor=2, fixed_tail=8), 16),  # 8 slim + 8 fixed
        (24, 1.0, ChannelRule(divisor=2, fixed_tail=8), 24),
    ],
)
def test_active_channels(full, width, rule, expected):
    assert active_channels(full, width, rule) == expected


def test_channel_rule_rejects_fractional_channels():
    with pytest.raises(ValueError, match="ratio"):
        ChannelRule(divisor=1, ratio=0.25)


# --------------------------------------------------------------------------------------
# Layers against a direct computation on sliced weights
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "conv_cls, fn, spatial",
    [(SlimConv1d, F.conv1d, (9,)), (SlimConv2d, F.conv2d, (9, 9)), (SlimConv3d, F.conv3d, (4, 9, 9))],
)
@pytest.mark.parametrize("width", [1.0, 0.5, 0.25])
def test_conv_uses_leading_slice(conv_cls, fn, spatial, width):
    conv = conv_cls(16, 24, 3, padding=1, in_rule=R2, out_rule=R2)
    cin, cout = active_channels(16, width, R2), active_channels(24, width, R2)
    x = torch.randn(2, cin, *spatial)
    with set_width(conv, width):
        out = conv(x)
    expected = fn(x, conv.weight[:cout, :cin], conv.bias[:cout], padding=1)
    assert out.shape[1] == cout
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("width", [1.0, 0.5, 0.25])
def test_depthwise_conv_groups_follow_width(width):
    conv = SlimConv2d(16, 16, 3, padding=1, groups=16, in_rule=R2, out_rule=R2)
    c = active_channels(16, width, R2)
    x = torch.randn(2, c, 8, 8)
    with set_width(conv, width):
        out = conv(x)
    expected = F.conv2d(x, conv.weight[:c], conv.bias[:c], padding=1, groups=c)
    torch.testing.assert_close(out, expected)


def test_grouped_conv_keeps_group_size():
    conv = SlimConv2d(16, 32, 3, padding=1, groups=8, in_rule=R2, out_rule=R2)  # 2 in / 4 out per group
    x = torch.randn(1, 8, 6, 6)
    with set_width(conv, 0.5):
        out = conv(x)
    expected = F.conv2d(x, conv.weight[:16], conv.bias[:16], padding=1, groups=4)
    torch.testing.assert_close(out, expected)
    bad = SlimConv2d(16, 16, 1, groups=4, in_rule=ChannelRule(divisor=2))  # groups of 4
    with set_width(bad, 0.375), pytest.raises(ValueError, match="whole groups of 4"):
        bad(torch.randn(1, 6, 2, 2))


def test_conv_fixed_tail_takes_last_channels():
    # SlowFast after a fusion: [first w*C slow channels | the fixed fused channels].
    rule = ChannelRule(divisor=2, fixed_tail=4)
    conv = SlimConv3d(12, 8, 1, in_rule=rule, out_rule=R2)
    x = torch.randn(1, 8, 2, 3, 3)  # 4 slim + 4 fused at width 0.5
    with set_width(conv, 0.5):
        out = conv(x)
    weight = torch.cat([conv.weight[:4, :4], conv.weight[:4, 8:]], dim=1)
    torch.testing.assert_close(out, F.conv3d(x, weight, conv.bias[:4]))


def test_linear_slices_inputs_only():
    linear = SlimLinear(32, 10, in_rule=ChannelRule())
    x = torch.randn(3, 16)
    with set_width(linear, 0.5):
        out = linear(x)
    torch.testing.assert_close(out, F.linear(x, linear.weight[:, :16], linear.bias))


def test_squeeze_excitation_hidden_follows_width():
    se = SlimSqueezeExcitation(16, 8, is_3d=True, rule=R2, hidden_rule=R2)
    x = torch.randn(2, 8, 2, 4, 4)
    with set_width(se, 0.5):
        out = se(x)
    squeeze = x.mean(dim=(2, 3, 4), keepdim=True)
    hidden = F.relu(F.conv3d(squeeze, se.block[0].weight[:4, :8], se.block[0].bias[:4]))
    gate = torch.sigmoid(F.conv3d(hidden, se.block[2].weight[:8, :4], se.block[2].bias[:8]))
    torch.testing.assert_close(out, x * gate)
    # Parameter names are fvcore's, so X3D checkpoints load.
    assert set(se.state_dict()) == {"block.0.weight", "block.0.bias", "block.2.weight", "block.2.bias"}


def test_slim_layers_keep_plain_state_dict_keys():
    pairs = [
        (SlimConv3d(8, 8, 3), nn.Conv3d(8, 8, 3)),
        (SlimBatchNorm3d(8), nn.BatchNorm3d(8)),
        (SlimLinear(8, 4), nn.Linear(8, 4)),
    ]
    for slim, plain in pairs:
        assert isinstance(slim, type(plain))
        assert {k: v.shape for k, v in slim.state_dict().items()} == {
            k: v.shape for k, v in plain.state_dict().items()
        }


# --------------------------------------------------------------------------------------
# Width switching
# --------------------------------------------------------------------------------------
def _tiny_net() -> nn.Sequential:
    return nn.Sequential(
        SlimConv2d(3, 16, 3, padding=1, in_rule=None, out_rule=R2),
        SlimBatchNorm2d(16, rule=R2),
        nn.ReLU(),
        SlimConv2d(16, 16, 3, padding=1, groups=16, in_rule=R2, out_rule=R2),
        SlimBatchNorm2d(16, rule=R2),
        nn.ReLU(),
        SlimConv2d(16, 24, 1, in_rule=R2, out_rule=R2),
        SlimBatchNorm2d(24, rule=R2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        SlimLinear(24, 5, in_rule=R2),
    )


def test_set_width_call_and_context_manager():
    net = _tiny_net()
    set_width(net, 0.5)
    assert get_width(net) == 0.5
    with set_width(net, 0.25) as same:
        assert same is net
        assert all(m.width == 0.25 for m in net.modules() if hasattr(m, "in_rule") or hasattr(m, "rule"))
        assert net(torch.randn(2, 3, 8, 8)).shape == (2, 5)
    assert get_width(net) == 0.5
    with pytest.raises(ValueError, match="width"):
        set_width(net, 1.5)


# --------------------------------------------------------------------------------------
# BN statistics per configuration
# --------------------------------------------------------------------------------------
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
    net = _tiny_net()
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
    net = _tiny_net()
    calibrate_bn(net, [torch.randn(4, 3, 8, 8) for _ in range(2)], 0.5, key=stats_key(0.5, 8))
    fresh = _tiny_net()
    fresh.load_state_dict(net.state_dict(), strict=True)
    x = torch.randn(2, 3, 8, 8)
    net.eval(), fresh.eval()
    with set_width(net, 0.5, stats_key(0.5, 8)), set_width(fresh, 0.5, stats_key(0.5, 8)):
        torch.testing.assert_close(fresh(x), net(x))
    # A fresh model has no extra keys: its state_dict is the plain network's.
    assert not any("stats_" in k for k in _tiny_net().state_dict())


def test_uncalibrated_width_warns_once_statistics_exist():
    net = _tiny_net()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        set_width(net, 0.5)  # nothing calibrated yet: no warning
    calibrate_bn(net, [torch.randn(4, 3, 8, 8) for _ in range(2)], 0.5)
    with pytest.warns(UserWarning, match="w0p25"):
        set_width(net, 0.25)


def test_inference_caches_follow_weights_widths_and_statistics():
    """Without autograd, convs and BNs keep their active slices between calls; every
    change a user can make must still show in the output (the autograd path never caches)."""
    torch.manual_seed(0)
    net = _tiny_net().eval()
    x = torch.randn(2, 3, 8, 8)

    def check():
        expected = net(x)  # grad enabled: slices taken afresh
        with torch.no_grad():
            torch.testing.assert_close(net(x), expected, rtol=0, atol=0)
        with torch.inference_mode():  # caches made here serve no_grad calls too
            torch.testing.assert_close(net(x), expected, rtol=0, atol=0)
        return expected

    set_width(net, 0.5)
    first = check()
    with torch.no_grad():  # in-place updates, as an optimizer step or load_state_dict does
        net[6].weight.mul_(2)  # both dims sliced: the cached weight is a copy
        net[1].running_mean.add_(1)
    assert not torch.equal(check(), first)
    set_width(net, 0.25)
    check()
    calibrate_bn(net, [torch.randn(4, 3, 8, 8) * 3 for _ in range(2)], 0.25)
    set_width(net, 0.25, stats_key(0.25))
    check()
    calibrate_bn(net, [torch.randn(4, 3, 8, 8) + 5 for _ in range(2)], 0.25)  # new tensors
    check()
    net[0].weight = nn.Parameter(torch.randn_like(net[0].weight))  # a replaced parameter
    net[1].bias = nn.Parameter(torch.randn_like(net[1].bias))
    check()
    net.load_state_dict({k: v * 0.5 for k, v in net.state_dict().items()})
    check()


def test_training_updates_main_statistics_at_full_width_only():
    bn = SlimBatchNorm2d(16, rule=R2)
    with set_width(bn, 0.5):
        bn(torch.randn(4, 8, 3, 3) + 5)
    assert torch.equal(bn.running_mean, torch.zeros(16))
    bn(torch.randn(4, 16, 3, 3) + 5)
    assert bn.running_mean.min() > 0.3 and int(bn.num_batches_tracked) == 1


# --------------------------------------------------------------------------------------
# Export and complexity
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("width", [1.0, 0.75, 0.5, 0.25])
def test_export_subnet_is_plain_and_equal(width):
    torch.manual_seed(0)
    net = _tiny_net()
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


def test_count_flops_follows_width_and_size():
    conv = nn.Sequential(SlimConv2d(3, 16, 3, padding=1, in_rule=None, out_rule=R2))
    x = torch.zeros(1, 3, 8, 8)
    assert count_flops(conv, x) == 16 * 3 * 9 * 64
    assert count_flops(conv, x, width=0.5) == 8 * 3 * 9 * 64
    assert count_flops(conv, torch.zeros(1, 3, 4, 4), width=0.5) == 8 * 3 * 9 * 16


def test_calibrator_interleaves_configurations_on_one_pass():
    # One pass over the data, every configuration per batch, gives the statistics of
    # separate calibrate_bn runs per configuration.
    from mutualnet3d.slim import BNCalibrator

    torch.manual_seed(0)
    net = _tiny_net()
    twin = _tiny_net()
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
