"""A tiny slimmable network shared by the tests of the slimmable core."""

import torch.nn as nn

from mutualnet3d.slim import ChannelRule, SlimBatchNorm2d, SlimConv2d, SlimLinear

R2 = ChannelRule(divisor=2)


def tiny_net() -> nn.Sequential:
    """conv 3->16, BN, ReLU, depthwise 16, BN, ReLU, 1x1 16->24, BN, pool, linear 24->5."""
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
