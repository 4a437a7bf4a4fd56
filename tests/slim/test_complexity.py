"""FLOPs of a configuration, counted with fvcore."""

import torch
import torch.nn as nn

from mutualnet3d.slim import SlimConv2d, count_flops

from .nets import R2


def test_count_flops_follows_width_and_size():
    conv = nn.Sequential(SlimConv2d(3, 16, 3, padding=1, in_rule=None, out_rule=R2))
    x = torch.zeros(1, 3, 8, 8)
    assert count_flops(conv, x) == 16 * 3 * 9 * 64
    assert count_flops(conv, x, width=0.5) == 8 * 3 * 9 * 64
    assert count_flops(conv, torch.zeros(1, 3, 4, 4), width=0.5) == 8 * 3 * 9 * 16
