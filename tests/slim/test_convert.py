"""convert_to_slim: plain layers become slimmable twins in place, by per-type rules."""

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
    convert_to_slim,
    set_width,
)

from .nets import R2


def _mlp() -> nn.Sequential:
    """A transformer-style MLP and a classifier: 8 -> 16 -> 8 -> 4."""
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8), nn.Linear(8, 4))


@pytest.mark.parametrize(
    "plain, twin",
    [
        (nn.Conv1d(4, 6, 3), SlimConv1d),
        (nn.Conv2d(4, 6, 3), SlimConv2d),
        (nn.Conv3d(4, 6, 3), SlimConv3d),
        (nn.BatchNorm1d(6), SlimBatchNorm1d),
        (nn.BatchNorm2d(6), SlimBatchNorm2d),
        (nn.BatchNorm3d(6), SlimBatchNorm3d),
        (nn.Linear(4, 6), SlimLinear),
    ],
)
def test_each_type_becomes_its_twin_sharing_tensors(plain, twin):
    root = nn.Sequential(plain.eval())
    before = {k: v for k, v in root.state_dict(keep_vars=True).items()}
    convert_to_slim(root, R2)
    assert type(root[0]) is twin and isinstance(root[0], type(plain))
    after = root.state_dict(keep_vars=True)
    assert after.keys() == before.keys()
    assert all(after[k] is before[k] for k in before)  # the same tensors, not copies
    assert not root[0].training  # the mode is kept


def test_linear_outputs_follow_the_width_unless_named_fixed():
    torch.manual_seed(0)
    net = _mlp()
    convert_to_slim(net, R2, in_rules={"0": None}, out_rules={"3": None})
    x = torch.randn(3, 8)
    with set_width(net, 0.5):
        out = net(x)
    # Hidden layers slim on both sides (16 -> 8, 8 -> 4); the classifier's 4 outputs stay.
    hidden = F.relu(F.linear(x, net[0].weight[:8], net[0].bias[:8]))
    hidden = F.linear(hidden, net[2].weight[:4, :8], net[2].bias[:4])
    expected = F.linear(hidden, net[3].weight[:, :4], net[3].bias)
    assert out.shape == (3, 4)
    torch.testing.assert_close(out, expected)
    assert net[2].out_rule == R2 and net[3].out_rule is None and net[0].in_rule is None

    unnamed = _mlp()
    convert_to_slim(unnamed, R2, in_rules={"0": None})
    with set_width(unnamed, 0.5):
        assert unnamed(x).shape == (3, 2)  # nothing named fixed: the outputs slim too


def test_full_width_is_the_plain_network():
    torch.manual_seed(0)
    plain = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(8, 5),
    )
    x = torch.randn(2, 3, 6, 6)
    expected = plain(x)
    convert_to_slim(plain, R2, in_rules={"0": None}, out_rules={"6": None})
    torch.testing.assert_close(plain(x), expected, rtol=0, atol=0)


def test_depthwise_convs_follow_their_groups():
    net = nn.Sequential(nn.Conv2d(3, 16, 1), nn.Conv2d(16, 16, 3, padding=1, groups=16))
    convert_to_slim(net, R2, in_rules={"0": None}, out_rules={"1": None})  # out_rule unused
    x = torch.randn(1, 3, 5, 5)
    with set_width(net, 0.5):
        out = net(x)
        assert net[1].active_dims() == (8, 8, 8)
    assert out.shape == (1, 8, 5, 5)


def test_batch_norm_takes_one_rule_from_either_mapping():
    tail = ChannelRule(divisor=2, fixed_tail=2)
    net = nn.Sequential(nn.BatchNorm2d(8), nn.BatchNorm2d(8))
    convert_to_slim(net, R2, in_rules={"0": tail}, out_rules={"1": None})
    assert net[0].rule == tail and net[1].rule is None
    with pytest.raises(ValueError, match="one channel dimension"):
        convert_to_slim(
            nn.Sequential(nn.BatchNorm2d(8)), R2, in_rules={"0": tail}, out_rules={"0": R2}
        )


def test_skip_keeps_layers_plain():
    net = nn.Sequential(nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)), nn.Conv2d(4, 4, 1))
    convert_to_slim(net, R2, skip=["0"])
    assert type(net[0][0]) is nn.Conv2d and type(net[0][1]) is nn.BatchNorm2d
    assert type(net[1]) is SlimConv2d


@pytest.mark.parametrize(
    "kwargs",
    [
        {"in_rules": {"nope": None}},
        {"out_rules": {"1": None}},  # a ReLU: not a convertible layer
        {"out_rules": {"0.0": None}, "skip": ["0"]},  # skipped: stays plain
    ],
)
def test_names_that_are_not_convertible_layers_raise(kwargs):
    net = nn.Sequential(nn.Sequential(nn.Linear(4, 4)), nn.ReLU(), nn.Linear(4, 2))
    with pytest.raises(KeyError, match="not convertible layers"):
        convert_to_slim(net, R2, **kwargs)
    assert type(net[2]) is nn.Linear  # nothing was swapped


def test_slim_layers_are_left_alone_and_the_root_cannot_be_swapped():
    slim = SlimConv2d(3, 4, 1, in_rule=None, out_rule=R2)
    net = nn.Sequential(slim)
    convert_to_slim(net, ChannelRule(divisor=4))
    assert net[0] is slim and slim.in_rule is None
    with pytest.raises(KeyError):
        convert_to_slim(net, R2, in_rules={"0": None})  # already slim: not convertible
    with pytest.raises(ValueError, match="root"):
        convert_to_slim(nn.Linear(4, 4), R2)
