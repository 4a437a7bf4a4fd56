"""How many channels of a layer are active at a given width (paper section 3.2).

A sub-network of width ``w`` uses the first ``make_divisible(w * C)`` channels of every
slimmable dimension. Two refinements from the reference implementations (US-Nets,
official MutualNet) are kept:

* ``ratio``: some dimensions are a fixed multiple of a narrower one (MobileNetV2's
  expansion layers are ``t`` times the block input; a ResNet bottleneck's inner width is
  a quarter of its output). They round at the reference width and then multiply, so the
  multiple stays exact at every width: ``active = make_divisible(C * w / ratio) * ratio``.
* ``fixed_tail``: trailing channels that never slim. In SlowFast the last ``2*beta*C``
  channels after each Adaptive Fusion are always the fused Fast features (paper Fig. 6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

__all__ = ["make_divisible", "ChannelRule", "active_channels", "channel_index"]


def make_divisible(value: float, divisor: int = 8, min_value: Optional[int] = None) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, never dropping below 90%.

    The MobileNet rounding used by the official MutualNet and US-Nets code:
    ``max(min_value, int(value + divisor / 2) // divisor * divisor)``, plus one more
    ``divisor`` when that falls below ``0.9 * value``. ``min_value`` defaults to
    ``divisor``.
    """
    if divisor < 1:
        raise ValueError(f"divisor must be >= 1, got {divisor}")
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


@dataclass(frozen=True)
class ChannelRule:
    """How one channel dimension of a layer follows the network width.

    Args:
        divisor: active channels (before ``ratio``) are a multiple of this.
        ratio: the dimension is ``ratio`` times a narrower reference dimension; it is
            rounded at the reference and then multiplied (``ratio * divisor`` must be a
            whole number).
        fixed_tail: the last ``fixed_tail`` channels are always active.
    """

    divisor: int = 8
    ratio: float = 1.0
    fixed_tail: int = 0

    def __post_init__(self) -> None:
        if self.divisor < 1:
            raise ValueError(f"ChannelRule.divisor must be >= 1, got {self.divisor}")
        if self.ratio <= 0 or not float(self.ratio * self.divisor).is_integer():
            raise ValueError(
                f"ChannelRule.ratio * divisor must be a positive whole number, "
                f"got ratio={self.ratio}, divisor={self.divisor}"
            )
        if self.fixed_tail < 0:
            raise ValueError(f"ChannelRule.fixed_tail must be >= 0, got {self.fixed_tail}")


def active_channels(full: int, width: float, rule: Optional[ChannelRule]) -> int:
    """Number of active channels of a ``full``-channel dimension at ``width``.

    ``rule=None`` marks a fixed dimension (RGB input, classes, the Fast pathway). Width
    1.0 always gives ``full``; the result never exceeds ``full``.
    """
    if rule is None or width >= 1.0:
        return full
    slim_full = full - rule.fixed_tail
    slim = make_divisible(slim_full * width / rule.ratio, rule.divisor) * rule.ratio
    return min(int(round(slim)), slim_full) + rule.fixed_tail


def channel_index(full: int, active: int, rule: Optional[ChannelRule]) -> Optional[torch.Tensor]:
    """Indices of the active channels, or ``None`` when they are a plain prefix.

    With a fixed tail the active channels are ``[0, active - tail)`` followed by the
    last ``tail`` channels of the full layer, which is not a prefix.
    """
    if rule is None or rule.fixed_tail == 0 or active == full:
        return None
    head = active - rule.fixed_tail
    return torch.cat(
        [torch.arange(head), torch.arange(full - rule.fixed_tail, full)]
    )


def _check_groups(full_in: int, groups: int) -> int:
    """Channels per group of a grouped conv (kept constant when the width changes)."""
    if full_in % groups:
        raise ValueError(f"in_channels {full_in} not divisible by groups {groups}")
    return full_in // groups


def active_groups(full_in: int, active_in: int, groups: int) -> int:
    """Groups of a grouped conv at ``active_in`` input channels.

    The group size stays fixed, so the first ``k`` output channels of the full layer are
    exactly the layer of ``k / group_size`` groups; depthwise convs (group size 1) get
    ``groups == active_in``.
    """
    per_group = _check_groups(full_in, groups)
    if active_in % per_group:
        raise ValueError(
            f"{active_in} active input channels do not fill whole groups of {per_group}; "
            f"choose a width divisor that is a multiple of the group size"
        )
    return active_in // per_group
