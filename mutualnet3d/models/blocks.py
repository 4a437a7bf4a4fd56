"""Small 2D building blocks shared by the 2D models."""

from __future__ import annotations

from typing import Callable, Optional

import torch.nn as nn

from ..slim import ChannelRule, SlimBatchNorm2d, SlimConv2d

__all__ = ["conv_norm_act"]


def conv_norm_act(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 3,
    stride: int = 1,
    groups: int = 1,
    *,
    in_rule: Optional[ChannelRule],
    out_rule: Optional[ChannelRule],
    activation: Optional[Callable[[], nn.Module]] = nn.ReLU6,
) -> nn.Sequential:
    """Slimmable conv -> BN -> activation, laid out as torchvision's Conv2dNormActivation.

    The module indices (``0`` conv, ``1`` norm, ``2`` activation) match torchvision's, so
    torchvision checkpoints load into the slimmable networks.
    """
    layers: list[nn.Module] = [
        SlimConv2d(
            in_channels, out_channels, kernel_size, stride, (kernel_size - 1) // 2,
            groups=groups, bias=False, in_rule=in_rule, out_rule=out_rule,
        ),
        SlimBatchNorm2d(out_channels, rule=out_rule if groups == 1 else in_rule),
    ]
    if activation is not None:
        layers.append(activation(inplace=True))
    return nn.Sequential(*layers)
