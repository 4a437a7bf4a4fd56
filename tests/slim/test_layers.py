"""Slimmable layers against a direct computation on sliced weights; their caches."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mutualnet3d.slim import (
    ChannelRule,
    SlimBatchNorm2d,
    SlimBatchNorm3d,
    SlimConv1d,
    SlimConv2d,
    SlimConv3d,
    SlimLinear,
    SlimSqueezeExcitation,
    active_channels,
    calibrate_bn,
    keep_inference_slices,
    set_width,
    stats_key,
)

from .nets import R2, tiny_net


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


def test_inference_caches_follow_weights_widths_and_statistics():
    """Without autograd, convs and BNs keep their active slices between calls; every
    change a user can make must still show in the output (the autograd path never caches)."""
    torch.manual_seed(0)
    net = tiny_net().eval()
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


def test_kept_slices_of_several_widths_serve_switches_and_follow_updates():
    """With room for three widths, switching back reuses the kept slices (no new
    tensors), and an in-place update still shows at every width."""
    torch.manual_seed(0)
    net = tiny_net().eval()
    keep_inference_slices(net, 3)
    x = torch.randn(2, 3, 8, 8)
    widths = (0.25, 0.5, 1.0)

    def outputs():
        results = []
        for width in widths:
            set_width(net, width)
            expected = net(x)  # autograd path: slices taken afresh
            with torch.no_grad():
                got = net(x)
            torch.testing.assert_close(got, expected, rtol=0, atol=0)
            results.append(got)
        return results

    first = outputs()
    set_width(net, 0.25)
    with torch.no_grad():
        kept = net[6]._inference_weight_bias()[0]
        set_width(net, 0.5)
        net(x)
        set_width(net, 0.25)
        assert net[6]._inference_weight_bias()[0] is kept  # not evicted by 0.5
        net[6].weight.mul_(2)
    assert all(not torch.equal(a, b) for a, b in zip(outputs(), first))
    with pytest.raises(ValueError, match="at least 1"):
        keep_inference_slices(net, 0)


@pytest.mark.parametrize("features, width", [(4, 0.75), (4, 0.5), (32, 0.875), (32, 0.99)])
def test_no_width_below_1_touches_the_full_statistics_even_with_every_channel(features, width):
    # A layer this narrow uses all its channels at ``width`` (a 4-channel stem at any
    # width; MobileNetV1's 32-channel stem at 0.875 and above, with divisor 8).
    bn = SlimBatchNorm2d(features, rule=ChannelRule(divisor=8))
    with set_width(bn, width):
        assert bn.active_features() == features
        bn.train()(torch.randn(4, features, 3, 3) + 5)
    assert torch.equal(bn.running_mean, torch.zeros(features))
    assert torch.equal(bn.running_var, torch.ones(features)) and int(bn.num_batches_tracked) == 0
    bn(torch.randn(4, features, 3, 3) + 5)  # the full network's forward still counts
    assert bn.running_mean.min() > 0.3 and int(bn.num_batches_tracked) == 1


def test_training_updates_main_statistics_at_full_width_only():
    bn = SlimBatchNorm2d(16, rule=R2)
    with set_width(bn, 0.5):
        bn(torch.randn(4, 8, 3, 3) + 5)
    assert torch.equal(bn.running_mean, torch.zeros(16))
    bn(torch.randn(4, 16, 3, 3) + 5)
    assert bn.running_mean.min() > 0.3 and int(bn.num_batches_tracked) == 1
