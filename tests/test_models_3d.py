"""Adaptive Slow, SlowFast and X3D: PyTorchVideo equivalence, Adaptive Fusion, export."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from mutualnet3d.config import load_config
from mutualnet3d.models import AdaptiveFusion, build_model, get_model_builder
from mutualnet3d.slim import (
    active_channels,
    calibrate_bn,
    count_flops,
    count_params,
    export_subnet,
    set_width,
    stats_key,
)
from mutualnet3d.utils.resample import resize_clip, temporal_indices

TINY = ["slow_tiny", "slowfast_tiny", "x3d_tiny"]


def _shapes(state_dict):
    return {k: tuple(v.shape) for k, v in state_dict.items()}


def _randomise_bn(model):
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.weight.data.uniform_(0.5, 1.5, generator=g)
            m.bias.data.uniform_(-0.2, 0.2, generator=g)
            m.running_mean.uniform_(-0.1, 0.1, generator=g)
            m.running_var.uniform_(0.5, 1.5, generator=g)


def _load_pytorchvideo_reference(model):
    """PyTorchVideo's network that ``model`` reproduces, with random BN statistics; its
    weights loaded into ``model`` with strict=True; both in eval mode."""
    builder, kwargs = model.reference
    reference = builder(**kwargs)
    _randomise_bn(reference)
    model.load_state_dict(reference.state_dict(), strict=True)
    model.eval(), reference.eval()
    return reference


def _clip(model, spatial=None, temporal=None, batch=2, seed=0):
    torch.manual_seed(seed)
    x = model.example_input(spatial, temporal, batch)
    return [torch.randn_like(t) for t in x] if isinstance(x, list) else torch.randn_like(x)


# --------------------------------------------------------------------------------------
# Full configuration == PyTorchVideo
# --------------------------------------------------------------------------------------
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


def test_slow_r50_matches_the_papers_slow_8x8():
    """The paper's Slow-8x8 (Table IV: 54.5 GFLOPs, the PySlowFast zoo's 54.52) is counted
    in conv + linear multiply-adds on 8 x 256 px clips, with a 1x7x7 stem (SlowFast paper,
    Table 1). PyTorchVideo's ``create_resnet`` *default* stem is 3x7x7, which would give
    43.81 GFLOPs at 224 px and 57.2 at 256 px, and could not load ``slow_r50`` checkpoints."""
    model = get_model_builder("slow_r50")()
    assert model.blocks[0].conv.weight.shape[2:] == (1, 7, 7)
    x = model.example_input(256)
    assert x.shape[2:] == (8, 256, 256)
    assert count_flops(model, x) / 1e9 == pytest.approx(54.5, rel=0.01)


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
# Adaptive Fusion
# --------------------------------------------------------------------------------------
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


def test_slowfast_fast_pathway_never_slims():
    model = get_model_builder("slowfast_tiny")(num_classes=5, width_divisor=2)
    fast_params = {n: p.numel() for n, p in model.named_parameters() if "multipathway_blocks.1" in n
                   or "multipathway_fusion" in n}
    static = export_subnet(model, 0.5)
    static_params = dict((n, p.numel()) for n, p in static.named_parameters())
    assert all(static_params[n] == size for n, size in fast_params.items())


# --------------------------------------------------------------------------------------
# Export: the static sub-network equals the adaptive one
# --------------------------------------------------------------------------------------
CONFIGS = [(1.0, 32, None), (0.75, 24, 3), (0.5, 16, 2), (0.25, 24, 1)]


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


@pytest.mark.parametrize("name", ["slow_r50_detection", "slowfast_r50_detection"])
def test_detection_keys_are_pytorchvideo(name):
    model = get_model_builder(name)()
    builder, kwargs = model.reference
    assert _shapes(model.state_dict()) == _shapes(builder(**kwargs).state_dict())
    assert model.detection_head.roi_layer.aligned  # PySlowFast's ROIAlign(aligned=True)


@pytest.mark.parametrize("name", ["slow_tiny_detection", "slowfast_tiny_detection"])
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
# Configs and the FLOPs table command
# --------------------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "config, name, frames, crop, alpha",
    [
        ("MutualNet_Slow_8x8", "slow_r50", 8, 224, None),
        ("MutualNet_SlowFast_4x16", "slowfast_r50", 4, 224, 8),
        ("MutualNet_SlowFast_8x8", "slowfast_r50_8x8", 8, 224, 4),
        ("MutualNet_X3D_XS", "x3d_xs", 4, 160, None),
        ("MutualNet_X3D_S", "x3d_s", 13, 160, None),
        ("MutualNet_X3D_M", "x3d_m", 16, 224, None),
        ("MutualNet_X3D_L", "x3d_l", 16, 312, None),
    ],
)
def test_kinetics_configs_select_their_networks(config, name, frames, crop, alpha):
    cfg = load_config(str(ROOT / "configs" / "Kinetics" / f"{config}.yaml"))
    assert cfg.MODEL.MODEL_NAME == name
    model = build_model(cfg)
    assert (model.num_frames, model.crop_size, model.alpha) == (frames, crop, alpha)
    reference = get_model_builder(name)()
    assert _shapes(model.state_dict()) == _shapes(reference.state_dict())


def test_flops_table_command_spans_table_iv_range(tmp_path):
    # Paper Table IV: Slow 8x8 with width [0.63, 1.0], spatial {142, 178, 224} and temporal
    # {3, 5, 8} spans about x0.06 to x1.0 of the full network. The grid's extremes suffice.
    out = tmp_path / "table.csv"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "flops_table.py"), "--cfg",
         str(ROOT / "configs" / "Kinetics" / "MutualNet_Slow_8x8.yaml"), "--csv", str(out),
         "MUTUALNET.EVAL_WIDTHS", "[0.63, 1.0]", "MUTUALNET.EVAL_SPATIAL_SIZES", "[224, 142]",
         "MUTUALNET.EVAL_TEMPORAL_SIZES", "[8, 3]"],
        check=True, capture_output=True, text=True,
    )
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 8
    ratios = sorted(float(r["x full"]) for r in rows)
    assert ratios[-1] == 1.0 and 0.05 < ratios[0] < 0.07
    full = next(r for r in rows if float(r["x full"]) == 1.0)
    assert float(full["GFLOPs"]) == pytest.approx(41.92, rel=0.01)
