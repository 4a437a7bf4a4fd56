"""Slimmable ResNet-50 (ImageNet, torchvision's layout) and WideResNet-28-10 (CIFAR).

Paper section 6.1 (ResNet-50, width [0.9, 1.0] "boost" setting) and Table VII
(WideResNet-28-10 on CIFAR, width [0.9, 1.0]). ResNet-50's module names are
torchvision's, so its weights load directly.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn as nn

from ..slim import ChannelRule, SlimBatchNorm2d, SlimConv2d, SlimLinear
from .base import SlimNet, init_weights
from .registry import register_variant

__all__ = ["ResNet", "WideResNet", "pyslowfast_image_resnet", "resnet50", "wide_resnet28_10"]

#: blocks per stage of ResNet-50 and ResNet-101
STAGE_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}


class Bottleneck(nn.Module):
    """torchvision's Bottleneck (stride on the 3x3 conv, "ResNet v1.5").

    The inner width is a quarter of the output at every width: rounded at the output
    width, then divided (``ChannelRule(ratio=0.25)``), as in the official MutualNet code.
    """

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int, in_rule: ChannelRule,
        inner_rule: ChannelRule, out_rule: ChannelRule,
    ) -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = SlimConv2d(inplanes, planes, 1, bias=False, in_rule=in_rule, out_rule=inner_rule)
        self.bn1 = SlimBatchNorm2d(planes, rule=inner_rule)
        self.conv2 = SlimConv2d(planes, planes, 3, stride, 1, bias=False, in_rule=inner_rule,
                                out_rule=inner_rule)
        self.bn2 = SlimBatchNorm2d(planes, rule=inner_rule)
        self.conv3 = SlimConv2d(planes, out, 1, bias=False, in_rule=inner_rule, out_rule=out_rule)
        self.bn3 = SlimBatchNorm2d(out, rule=out_rule)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: Optional[nn.Sequential] = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(
                SlimConv2d(inplanes, out, 1, stride, bias=False, in_rule=in_rule, out_rule=out_rule),
                SlimBatchNorm2d(out, rule=out_rule),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(SlimNet):
    """Slimmable bottleneck ResNet for ImageNet.

    Args:
        layers: blocks per stage ((3, 4, 6, 3) for ResNet-50).
        num_classes: classifier outputs.
        base_width: channel multiplier of the full network.
        dropout_rate: dropout before the classifier.
        width_divisor: active channels of the 4x-wide dimensions are multiples of this
            (raised to a multiple of 4 so that the inner quarter stays whole).
        crop_size: input size of the full configuration (states it; layers do not
            depend on it).
    """

    head_name = "fc"

    def __init__(
        self,
        layers: tuple[int, int, int, int] = (3, 4, 6, 3),
        num_classes: int = 1000,
        base_width: float = 1.0,
        dropout_rate: float = 0.0,
        width_divisor: int = 8,
        *,
        crop_size: int = 224,
    ) -> None:
        super().__init__(crop_size=crop_size)
        divisor = math.lcm(width_divisor, 4)
        wide = ChannelRule(divisor=divisor)
        narrow = ChannelRule(divisor=divisor, ratio=0.25)
        inplanes = round(64 * base_width)
        self.conv1 = SlimConv2d(3, inplanes, 7, 2, 3, bias=False, in_rule=None, out_rule=narrow)
        self.bn1 = SlimBatchNorm2d(inplanes, rule=narrow)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        in_rule = narrow
        for index, blocks in enumerate(layers):
            planes = round(64 * 2**index * base_width)
            stage = []
            for i in range(blocks):
                stride = 2 if i == 0 and index > 0 else 1
                stage.append(Bottleneck(inplanes, planes, stride, in_rule, narrow, wide))
                inplanes, in_rule = planes * Bottleneck.expansion, wide
            setattr(self, f"layer{index + 1}", nn.Sequential(*stage))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout_rate)
        self.fc = SlimLinear(inplanes, num_classes, in_rule=wide)
        init_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.dropout(self.avgpool(x).flatten(1))


class WideBasicBlock(nn.Module):
    """Pre-activation basic block of Wide ResNets (Zagoruyko & Komodakis, 2016)."""

    def __init__(self, inplanes: int, planes: int, stride: int, dropout_rate: float,
                 rule: ChannelRule, in_rule: ChannelRule) -> None:
        super().__init__()
        self.bn1 = SlimBatchNorm2d(inplanes, rule=in_rule)
        self.conv1 = SlimConv2d(inplanes, planes, 3, stride, 1, bias=False, in_rule=in_rule,
                                out_rule=rule)
        self.bn2 = SlimBatchNorm2d(planes, rule=rule)
        self.dropout = nn.Dropout(dropout_rate)
        self.conv2 = SlimConv2d(planes, planes, 3, 1, 1, bias=False, in_rule=rule, out_rule=rule)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: Optional[SlimConv2d] = None
        if stride != 1 or inplanes != planes:
            self.shortcut = SlimConv2d(inplanes, planes, 1, stride, bias=False, in_rule=in_rule,
                                       out_rule=rule)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(x))
        # The projection shortcut sees the pre-activated input, as in the original code.
        identity = x if self.shortcut is None else self.shortcut(out)
        out = self.conv1(out)
        out = self.conv2(self.dropout(self.relu(self.bn2(out))))
        return out + identity


class WideResNet(SlimNet):
    """Slimmable Wide ResNet for 32 px CIFAR images.

    Args:
        depth: 6n + 4 layers (28 for WRN-28-10).
        widen_factor: channel multiplier of the three stages (10 for WRN-28-10).
        num_classes: classifier outputs.
        dropout_rate: dropout inside the blocks.
        width_divisor: active channels are multiples of this.
        crop_size: input size of the full configuration (CIFAR: 32; states it, layers do
            not depend on it).
    """

    head_name = "fc"

    def __init__(
        self,
        depth: int = 28,
        widen_factor: int = 10,
        num_classes: int = 10,
        dropout_rate: float = 0.0,
        width_divisor: int = 8,
        *,
        crop_size: int = 32,
    ) -> None:
        super().__init__(crop_size=crop_size)
        if (depth - 4) % 6:
            raise ValueError(f"WideResNet depth must be 6n + 4, got {depth}")
        blocks = (depth - 4) // 6
        rule = ChannelRule(divisor=width_divisor)
        # The 16-channel stem slims too; with a divisor above 16 it stays fixed.
        self.conv1 = SlimConv2d(3, 16, 3, 1, 1, bias=False, in_rule=None, out_rule=rule)
        inplanes = 16
        for index in range(3):
            planes = 16 * 2**index * widen_factor
            stage = []
            for i in range(blocks):
                stride = 2 if i == 0 and index > 0 else 1
                stage.append(WideBasicBlock(inplanes, planes, stride, dropout_rate, rule, rule))
                inplanes = planes
            setattr(self, f"block{index + 1}", nn.Sequential(*stage))
        self.bn = SlimBatchNorm2d(inplanes, rule=rule)
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = SlimLinear(inplanes, num_classes, in_rule=rule)
        init_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block3(self.block2(self.block1(self.conv1(x))))
        return self.avgpool(self.relu(self.bn(x))).flatten(1)


def pyslowfast_image_resnet(
    *,
    depth: int = 50,
    width_per_group: int = 64,
    zero_init_final_bn: bool = True,
    fc_init_std: float = 0.01,
    **kwargs,
) -> ResNet:
    """PySlowFast's ``ResNet`` with MODEL.ARCH ``2d``, its ImageNet network
    (``configs/ImageNet/RES_R50.yaml``).

    Every temporal kernel of PySlowFast's "2d" basis is 1 and its clips have one frame,
    so the network is a 2D ResNet: this one, on images (the ImageNet data's input), its
    tensors PySlowFast's without the time axis of size 1.

    Args:
        depth: RESNET.DEPTH, 50 or 101.
        width_per_group: RESNET.WIDTH_PER_GROUP (64: ResNet's widths).
        zero_init_final_bn: each block's last BN starts at gamma 0 (RESNET.ZERO_INIT_FINAL_BN).
        fc_init_std: std of the classifier's N(0, std) weights (MODEL.FC_INIT_STD).
        kwargs: :class:`ResNet`'s other arguments.
    """
    if depth not in STAGE_DEPTHS:
        raise ValueError(f"depth: must be one of {sorted(STAGE_DEPTHS)}, got {depth!r}")
    net = ResNet(STAGE_DEPTHS[depth], base_width=width_per_group / 64, **kwargs)
    for block in net.modules():
        if isinstance(block, Bottleneck) and zero_init_final_bn:
            nn.init.zeros_(block.bn3.weight)
    nn.init.normal_(net.fc.weight, 0.0, fc_init_std)
    return net


resnet50 = register_variant(
    "resnet50", "ResNet-50 (ImageNet: 25.6M parameters, 4.09 GFLOPs at 224 px).",
    ResNet, layers=(3, 4, 6, 3),
)
resnet_tiny = register_variant(
    "resnet_tiny", "A ResNet of one block per stage at 1/8 of the channels, 32 px, for tests.",
    ResNet, layers=(1, 1, 1, 1), base_width=0.125, crop_size=32,
)
wide_resnet28_10 = register_variant(
    "wide_resnet28_10", "WideResNet-28-10 (CIFAR: 36.5M parameters, 5.25 GFLOPs at 32 px).",
    WideResNet, depth=28, widen_factor=10,
)
wide_resnet_tiny = register_variant(
    "wide_resnet_tiny", "WideResNet-10-1, for tests.", WideResNet, depth=10, widen_factor=1
)
