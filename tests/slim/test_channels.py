"""Channel rules: how many channels of a dimension are active at a width."""

import pytest

from mutualnet3d.slim import ChannelRule, active_channels, make_divisible


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
