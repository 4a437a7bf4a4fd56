"""The adaptive X3D: X3D's expansions as explicit arguments, depthwise and SE widths."""

import pytest
import torch

from mutualnet3d.models import get_model_builder
from mutualnet3d.slim import ChannelRule, active_channels, set_width

from .helpers import shapes

FACTORS = {"width_factor": 1.0, "depth_factor": 1.0, "bottleneck_factor": 1.5, "head_dim_out": 24,
           "stem_dim_in": 16}


def test_x3d_factors_reach_pytorchvideo():
    from pytorchvideo.models.x3d import create_x3d

    model = get_model_builder("x3d_tiny")(num_classes=5, **FACTORS)
    plain = create_x3d(model_num_class=5, input_clip_length=4, input_crop_size=32, **FACTORS)
    assert shapes(model.state_dict()) == shapes(plain.state_dict())
    assert model.get_classifier().in_features == 24
    assert model.blocks[0].conv.conv_t.out_channels == 16  # stem: stem_dim_in x width_factor


def test_depthwise_and_squeeze_excitation_follow_the_width():
    model = get_model_builder("x3d_tiny")(num_classes=5, width_divisor=2).eval()
    branch = model.blocks[1].res_blocks[0].branch2
    se = branch.norm_b[1].block
    seen = {}  # name -> (input channels, output channels)
    for key, module in (("depthwise", branch.conv_b), ("se", se[0])):
        module.register_forward_hook(
            lambda _, i, o, k=key: seen.__setitem__(k, (i[0].shape[1], o.shape[1]))
        )
    with torch.no_grad(), set_width(model, 0.5):
        model(model.example_input())
        groups = branch.conv_b.active_dims()[2]
    inner = active_channels(branch.conv_b.in_channels, 0.5, ChannelRule(divisor=2))
    assert seen["depthwise"] == (inner, inner) and groups == inner  # groups == channels
    assert seen["se"] == (inner, active_channels(se[0].out_channels, 0.5, ChannelRule(divisor=2)))
    assert seen["se"][1] < se[0].out_channels  # the SE's hidden size slims too


def test_pyslowfast_layout_normalises_res2s_first_shortcut():
    # PySlowFast's X3D: a BN after res2's strided 1x1x1 shortcut conv (which keeps the
    # channel count); PyTorchVideo's has the conv alone. Everything else is the same.
    ours = get_model_builder("x3d_tiny_pyslowfast")().state_dict()
    theirs = get_model_builder("x3d_tiny")(width_factor=2.0, stem_dim_in=4).state_dict()
    extra = {k for k in ours if k not in theirs}
    assert {k.rsplit(".", 1)[0] for k in extra} == {"blocks.1.res_blocks.0.branch1_norm"}
    assert set(theirs) <= set(ours)
    assert ours["blocks.1.res_blocks.0.branch1_norm.weight"].shape == (8,)


def test_pyslowfast_layout_refuses_widths_the_two_roundings_disagree_on():
    # X3D.WIDTH_FACTOR 0.5 of DIM_C1 12: PySlowFast 6 channels, PyTorchVideo 8.
    with pytest.raises(ValueError, match=r"^width_factor: PySlowFast's X3D rounds the widths"):
        get_model_builder("X3D")(width_factor=0.5)
