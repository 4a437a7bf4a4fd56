"""Adaptive Fusion: the full-size Fast pathway fused into an adaptive Slow pathway."""

import pytest
import torch
import torch.nn.functional as F

from mutualnet3d.models import AdaptiveFusion, get_model_builder
from mutualnet3d.slim import active_channels, set_width
from mutualnet3d.utils.resample import temporal_indices

from .helpers import clip as _clip


@pytest.mark.parametrize("width, spatial, temporal", [(1.0, 32, 2), (0.5, 24, 2), (0.75, 32, 1), (0.25, 16, 1)])
def test_adaptive_fusion_keeps_fast_channels_last(width, spatial, temporal):
    torch.manual_seed(0)
    model = get_model_builder("slowfast_tiny")(num_classes=5, width_divisor=2).eval()
    stem = model.blocks[0]
    fusion = stem.multipathway_fusion
    assert isinstance(fusion, AdaptiveFusion)
    slow, fast = _clip(model, spatial, temporal)
    with torch.no_grad(), set_width(model, width):
        x_s = stem.multipathway_blocks[0](slow)
        x_f = stem.multipathway_blocks[1](fast)
        fused_s, fused_f = fusion([x_s, x_f])
        # The Fast branch by hand: conv (time-strided), BN, ReLU, frames, interpolation.
        f = torch.relu(fusion.norm(fusion.conv_fast_to_slow(x_f)))
        f = f.index_select(2, temporal_indices(f.shape[2], x_s.shape[2]))
        if f.shape[3:] != x_s.shape[3:]:
            f = F.interpolate(f, size=x_s.shape[2:], mode="trilinear", align_corners=False)
    tail = fusion.conv_fast_to_slow.out_channels
    assert x_s.shape[1] == active_channels(16, width, model.blocks[1].multipathway_blocks[0]
                                            .res_blocks[0].branch2.conv_a.out_rule)
    assert fused_s.shape[1] == x_s.shape[1] + tail
    torch.testing.assert_close(fused_s[:, :x_s.shape[1]], x_s)
    torch.testing.assert_close(fused_s[:, -tail:], f)
    assert fused_f is x_f  # the Fast pathway goes on at full size

    # The conv after the fusion reads [first slow channels | the fused tail] of its weight.
    conv = model.blocks[1].multipathway_blocks[0].res_blocks[0].branch2.conv_a
    full_slow = conv.in_channels - tail
    with torch.no_grad(), set_width(model, width):
        out = conv(fused_s)
    weight = torch.cat([conv.weight[:, : x_s.shape[1]], conv.weight[:, full_slow:]], 1)
    weight = weight[: out.shape[1]]
    torch.testing.assert_close(out, F.conv3d(fused_s, weight))
