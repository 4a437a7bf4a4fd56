"""Slimmable MobileNetV1 and MobileNetV2 (paper section 6.1, Table I/Fig. 7).

Width ranges of the paper: MobileNetV1 [0.25, 1.0], MobileNetV2 [0.7, 1.0]; at width 1.0
and 224 px they cost 569 and 300 MFLOPs. MobileNetV2's module names are torchvision's
(``features.N``, ``classifier.1``), so torchvision's weights load into it.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..slim import ChannelRule, SlimLinear
from .base import SlimNet, init_weights
from .blocks import conv_norm_act
from .registry import register_variant

__all__ = ["MobileNetV1", "MobileNetV2", "mobilenet_v1", "mobilenet_v2"]


class DepthwiseSeparable(nn.Sequential):
    """MobileNetV1 block: 3x3 depthwise conv-BN-ReLU, then 1x1 pointwise conv-BN-ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, rule: ChannelRule):
        super().__init__(
            conv_norm_act(in_channels, in_channels, 3, stride, groups=in_channels,
                          in_rule=rule, out_rule=rule, activation=nn.ReLU),
            conv_norm_act(in_channels, out_channels, 1, in_rule=rule, out_rule=rule,
                          activation=nn.ReLU),
        )


class _MobileNet(SlimNet):
    """What both MobileNets share: ``features``, a global pool, ``classifier`` =
    (dropout, linear) as torchvision's."""

    head_name = "classifier.1"
    features: nn.Sequential
    pool: nn.Module
    classifier: nn.Sequential

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.features(x)).flatten(1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Dropout, then the classifier (torchvision's ``classifier`` block)."""
        return self.classifier(features)


class MobileNetV1(_MobileNet):
    """Slimmable MobileNetV1 (Howard et al., 2017): every layer but the RGB input slims.

    Args:
        num_classes: classifier outputs.
        base_width: channel multiplier of the full network (1.0 is the standard one).
        dropout_rate: dropout before the classifier.
        width_divisor: active channels are multiples of this.
        crop_size: input size of the full configuration (states it; layers do not
            depend on it).
    """

    # (output channels, repeats, first stride)
    stages = ((64, 1, 1), (128, 2, 2), (256, 2, 2), (512, 6, 2), (1024, 2, 2))

    def __init__(
        self,
        num_classes: int = 1000,
        base_width: float = 1.0,
        dropout_rate: float = 0.0,
        width_divisor: int = 8,
        *,
        crop_size: int = 224,
    ) -> None:
        super().__init__(crop_size=crop_size)
        rule = ChannelRule(divisor=width_divisor)
        channels = round(32 * base_width)
        layers: list[nn.Module] = [
            conv_norm_act(3, channels, 3, 2, in_rule=None, out_rule=rule, activation=nn.ReLU)
        ]
        for out, repeats, stride in self.stages:
            out = round(out * base_width)
            for i in range(repeats):
                layers.append(DepthwiseSeparable(channels, out, stride if i == 0 else 1, rule))
                channels = out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout_rate), SlimLinear(channels, num_classes, in_rule=rule)
        )
        init_weights(self)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expansion, 3x3 depthwise, linear 1x1 projection.

    The expansion is ``expand_ratio`` times the block input at every width (rounded at
    the input width, then multiplied), as in US-Nets and the official MutualNet code.
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, expand_ratio: int,
        rule: ChannelRule,
    ) -> None:
        super().__init__()
        hidden = in_channels * expand_ratio
        hidden_rule = ChannelRule(divisor=rule.divisor, ratio=expand_ratio)
        self.use_res_connect = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(conv_norm_act(in_channels, hidden, 1, in_rule=rule, out_rule=hidden_rule))
        layers += [
            conv_norm_act(hidden, hidden, 3, stride, groups=hidden, in_rule=hidden_rule,
                          out_rule=hidden_rule),
            *conv_norm_act(hidden, out_channels, 1, in_rule=hidden_rule, out_rule=rule,
                           activation=None),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.use_res_connect else out


class MobileNetV2(_MobileNet):
    """Slimmable MobileNetV2 (Sandler et al., 2018), torchvision's layout.

    The last 1x1 conv keeps its 1280 outputs at every width (US-Nets' choice: it feeds
    only the classifier and carries 1280 x classes of its parameters).

    Args:
        num_classes: classifier outputs.
        base_width: channel multiplier of the full network.
        dropout_rate: dropout before the classifier (torchvision: 0.2).
        width_divisor: active channels are multiples of this.
        last_channels: outputs of the last 1x1 conv (fixed at every width).
        crop_size: input size of the full configuration (states it; layers do not
            depend on it).
    """

    # (expand ratio, output channels, repeats, first stride)
    stages = (
        (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
        (6, 160, 3, 2), (6, 320, 1, 1),
    )

    def __init__(
        self,
        num_classes: int = 1000,
        base_width: float = 1.0,
        dropout_rate: float = 0.2,
        width_divisor: int = 8,
        last_channels: int = 1280,
        *,
        crop_size: int = 224,
    ) -> None:
        super().__init__(crop_size=crop_size)
        rule = ChannelRule(divisor=width_divisor)
        channels = round(32 * base_width)
        layers: list[nn.Module] = [conv_norm_act(3, channels, 3, 2, in_rule=None, out_rule=rule)]
        for t, out, repeats, stride in self.stages:
            out = round(out * base_width)
            for i in range(repeats):
                layers.append(InvertedResidual(channels, out, stride if i == 0 else 1, t, rule))
                channels = out
        layers.append(conv_norm_act(channels, last_channels, 1, in_rule=rule, out_rule=None))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout_rate), SlimLinear(last_channels, num_classes, in_rule=None)
        )
        init_weights(self)


mobilenet_v1 = register_variant(
    "mobilenet_v1", "MobileNetV1 1.0 (ImageNet: 4.2M parameters, 569 MFLOPs at 224 px).",
    MobileNetV1,
)
mobilenet_v2 = register_variant(
    "mobilenet_v2", "MobileNetV2 1.0 (ImageNet: 3.5M parameters, 301 MFLOPs at 224 px).",
    MobileNetV2,
)
mobilenet_v1_tiny = register_variant(
    "mobilenet_v1_tiny", "A MobileNetV1 at 1/8 of the channels on 32 px images, for tests.",
    MobileNetV1, base_width=0.125, crop_size=32,
)
mobilenet_v2_tiny = register_variant(
    "mobilenet_v2_tiny",
    "A MobileNetV2 at 1/4 of the channels, 64 last channels, 32 px, for tests.",
    MobileNetV2, base_width=0.25, last_channels=64, crop_size=32,
)
