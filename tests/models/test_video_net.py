"""VideoNet and VideoDetector over every family: PyTorchVideo equivalence, export."""

import pytest
import torch
import torch.nn as nn

from mutualnet3d.models import get_model_builder
from mutualnet3d.models.video_net import globalise_pools
from mutualnet3d.slim import (
    SlimModule,
    calibrate_bn,
    count_flops,
    count_params,
    export_subnet,
    set_width,
    stats_key,
)
from mutualnet3d.utils.resample import resize_clip

from .helpers import clip as _clip
from .helpers import load_pytorchvideo_reference as _load_pytorchvideo_reference
from .helpers import randomise_bn as _randomise_bn
from .helpers import shapes as _shapes

TINY = [
    pytest.param(name, marks=[pytest.mark.slow] if slow else [])
    for name, slow in [("slow_tiny", True), ("i3d_tiny", False), ("slowfast_tiny", False),
                       ("x3d_tiny", True), ("x3d_tiny_pyslowfast", False)]
]  # the fast suite: pool1, two pathways, PySlowFast's X3D; the slow suite: all five


# --------------------------------------------------------------------------------------
# Full configuration == PyTorchVideo
# --------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", ["slow_r50", "slowfast_r50", "slowfast_r50_8x8", "x3d_m", "x3d_l"])
def test_full_size_keys_and_shapes_are_pytorchvideo(name):
    model = get_model_builder(name)()
    builder, kwargs = model.reference
    assert _shapes(model.state_dict()) == _shapes(builder(**kwargs).state_dict())


@pytest.mark.parametrize("name", TINY)
def test_pytorchvideo_weights_load_and_logits_match(name):
    torch.manual_seed(0)
    model = get_model_builder(name)(num_classes=7, width_divisor=2)
    reference = _load_pytorchvideo_reference(model)
    x = _clip(model)
    with torch.no_grad():
        expected = reference(list(x) if isinstance(x, list) else x)
        out = model(x)
    assert expected.abs().max() > 1e-3
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, mparams, gflops, rel",
    [
        # fvcore's total at 224 px, 400 classes. Slow 8x8: PyTorchVideo's network gives
        # 41.92 (PySlowFast's zoo: 54.52 at 256 px = 41.7 at 224 in conv + linear).
        ("slow_r50", 32.45, 41.92, 0.01),
        ("slowfast_r50", 34.48, 27.8, 0.01),
        ("x3d_m", 3.79, 4.90, 0.01),
    ],
)
def test_published_video_sizes(name, mparams, gflops, rel):
    model = get_model_builder(name)()
    assert count_params(model) / 1e6 == pytest.approx(mparams, rel=rel)
    x = model.example_input(224)
    assert count_flops(model, x, ops="all") / 1e9 == pytest.approx(gflops, rel=rel)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, hub_name",
    [
        ("slow_r50", "slow_r50"),
        ("slowfast_r50_8x8", "slowfast_r50"),  # the hub's SlowFast R50 is the 8x8 one
        ("x3d_xs", "x3d_xs"),
        ("x3d_s", "x3d_s"),
        ("x3d_m", "x3d_m"),
        ("x3d_l", "x3d_l"),
        ("slow_r50_detection", "slow_r50_detection"),
        ("slowfast_r50_detection", "slowfast_r50_detection"),
    ],
)
def test_pytorchvideo_zoo_networks_load_strictly(name, hub_name):
    """The networks behind PyTorchVideo's checkpoints (its hub builders, built without
    downloading) have exactly our full-size keys and shapes."""
    from pytorchvideo.models import hub

    reference = getattr(hub, hub_name)(pretrained=False)
    model = get_model_builder(name)()
    model.load_state_dict(reference.state_dict(), strict=True)


# --------------------------------------------------------------------------------------
# Export: the static sub-network equals the adaptive one
# --------------------------------------------------------------------------------------
CONFIGS = [(1.0, 32, None), (0.75, 24, 3), (0.5, 16, 2), (0.25, 24, 1)]


@pytest.mark.slow
@pytest.mark.parametrize("name", TINY)
def test_export_matches_adaptive_network(name):
    torch.manual_seed(0)
    model = get_model_builder(name)(num_classes=6, width_divisor=2)
    _randomise_bn(model)
    for width, spatial, temporal in CONFIGS:
        if model.alpha is not None and temporal is not None:
            temporal = min(temporal, model.num_frames)
        key = stats_key(width, spatial, temporal)
        calibrate_bn(model, [_clip(model, spatial, temporal, 3, seed=s) for s in (1, 2)], width, key)
        model.eval()
        static = export_subnet(model, width, key)
        x = _clip(model, spatial, temporal, seed=3)
        with torch.no_grad(), set_width(model, width, key):
            expected = model(x)
            out = static(list(x) if isinstance(x, list) else x)
        assert expected.abs().max() > 1e-3
        torch.testing.assert_close(out, expected, rtol=0, atol=1e-4)
        assert sum(p.numel() for p in static.parameters()) == count_params(model, width)
        model.train()


def test_resize_clip_subsamples_frames_and_resizes_short_side():
    x = torch.arange(8.0).view(1, 1, 8, 1, 1).expand(1, 3, 8, 4, 6).contiguous()
    y = resize_clip(x, spatial=2, temporal=3)
    assert y.shape == (1, 3, 3, 2, 3)
    assert y[0, 0, :, 0, 0].tolist() == [0.0, 3.0, 7.0]  # linspace(0, 7, 3) -> 0, 3.5, 7
    assert resize_clip(x) is x


# --------------------------------------------------------------------------------------
# The RoI head (AVA)
# --------------------------------------------------------------------------------------
BOXES = torch.tensor([[0, 2.0, 3.0, 20.0, 30.0], [1, 0.0, 0.0, 31.0, 31.0], [1, 5.0, 5.0, 10.0, 12.0]])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["slow_r50_detection", "slowfast_r50_detection"])
def test_detection_keys_are_pytorchvideo(name):
    model = get_model_builder(name)()
    builder, kwargs = model.reference
    assert _shapes(model.state_dict()) == _shapes(builder(**kwargs).state_dict())
    assert model.detection_head.roi_layer.aligned  # PySlowFast's ROIAlign(aligned=True)


@pytest.mark.parametrize(
    "name", [pytest.param("slow_tiny_detection", marks=pytest.mark.slow), "slowfast_tiny_detection"]
)
def test_detector_matches_pytorchvideo_and_exports(name):
    torch.manual_seed(0)
    model = get_model_builder(name)(num_classes=5, width_divisor=2)
    reference = _load_pytorchvideo_reference(model)
    x = _clip(model)
    with torch.no_grad():
        expected = reference(list(x) if isinstance(x, list) else x, BOXES)
        torch.testing.assert_close(model(x, BOXES), expected, rtol=0, atol=1e-4)
    # A smaller configuration: Slow input and boxes scaled together.
    width, spatial = 0.5, 24
    small = [resize_clip(x[0], spatial), x[1]] if isinstance(x, list) else resize_clip(x, spatial)
    boxes = BOXES.clone()
    boxes[:, 1:] *= spatial / 32
    static = export_subnet(model, width)
    with torch.no_grad(), set_width(model, width, warn_uncalibrated=False):
        out = model(small, boxes)
        torch.testing.assert_close(static(list(small) if isinstance(small, list) else small, boxes), out)
    assert out.shape == (3, 5) and (out < 0).any()  # logits (sigmoid at evaluation)


# --------------------------------------------------------------------------------------
# What the adaptation swaps
# --------------------------------------------------------------------------------------
VIDEO_TINY = TINY + ["slow_tiny_detection", "slowfast_tiny_detection"]


@pytest.mark.parametrize("name", VIDEO_TINY)
def test_only_rgb_and_classes_stay_fixed(name):
    """Every conv, BN and linear of the Slow (or single) pathway is slimmable; at width 0.5
    the stem still reads RGB and the classifier still gives every class."""
    model = get_model_builder(name)(num_classes=5, width_divisor=2)
    fast = ("multipathway_blocks.1", "multipathway_fusion")
    for qualified, m in model.named_modules():
        layer = isinstance(m, (nn.Conv3d, nn.BatchNorm3d, nn.Linear))
        if layer and not any(f in qualified for f in fast):
            assert isinstance(m, SlimModule), qualified
    head = model.get_classifier()
    assert head.out_rule is None and head.in_rule is not None
    stem = next(m for m in model.modules() if isinstance(m, nn.Conv3d))
    assert stem.in_rule is None and stem.out_rule is not None
    seen = {}  # name -> (input channels, output features)
    hooks = [
        m.register_forward_hook(lambda _, i, o, k=k: seen.__setitem__(k, (i[0].shape[1], o.shape[-1])))
        for k, m in (("stem", stem), ("head", head))
    ]
    with torch.no_grad(), set_width(model, 0.5):
        model(*model.example_args(batch_size=2))
    for hook in hooks:
        hook.remove()
    assert seen["stem"][0] == 3 and seen["head"][1] == 5
    assert seen["head"][0] < head.in_features  # the classifier's inputs did slim


def test_head_pools_become_adaptive():
    from pytorchvideo.models.head import ResNetBasicHead, ResNetRoIHead

    temporal, whole, other = nn.AvgPool3d((4, 1, 1)), nn.AvgPool3d((4, 7, 7)), nn.MaxPool3d(2)
    heads = [ResNetBasicHead(pool=whole, proj=nn.Linear(4, 2)),
             ResNetRoIHead(pool=temporal, proj=nn.Linear(4, 2)),
             ResNetBasicHead(pool=other, proj=nn.Linear(4, 2))]
    globalise_pools(nn.ModuleList(heads))
    assert isinstance(heads[0].pool, nn.AdaptiveAvgPool3d) and heads[0].pool.output_size == 1
    assert heads[1].pool.output_size == (1, None, None)  # over time, keeping the map
    assert heads[2].pool is other
