"""From a config to a model: model_kwargs by the builder's signature, build_model."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from fvcore.common.config import CfgNode

from mutualnet3d.models import build_model, describe_model, get_model_builder, model_kwargs
from mutualnet3d.models import registry
from mutualnet3d.models.build import CONFIG_KEYS, fixed_architecture

from .helpers import shapes

ROOT = Path(__file__).resolve().parents[2]

# A distinct value per config key, so that each argument shows which key it came from.
VALUES = {
    "MODEL.NUM_CLASSES": 11, "MODEL.DROPOUT_RATE": 0.25, "MUTUALNET.WIDTH_DIVISOR": 2,
    "DATA.TRAIN_CROP_SIZE": 48, "DATA.NUM_FRAMES": 32, "SLOWFAST.ALPHA": 8,
    "SLOWFAST.BETA_INV": 4, "SLOWFAST.FUSION_CONV_CHANNEL_RATIO": 3,
    "SLOWFAST.FUSION_KERNEL_SZ": 7, "X3D.WIDTH_FACTOR": 1.5, "X3D.DEPTH_FACTOR": 1.25,
    "X3D.BOTTLENECK_FACTOR": 2.0, "X3D.DIM_C5": 64, "X3D.DIM_C1": 6,
    "DETECTION.ALIGNED": False, "RESNET.ZERO_INIT_FINAL_BN": False, "MODEL.FC_INIT_STD": 0.02,
    "MODEL.ARCH": "i3d", "RESNET.DEPTH": 101, "RESNET.NUM_BLOCK_TEMP_KERNEL": [[3], [4], [6], [3]],
    "RESNET.SPATIAL_STRIDES": [[1], [2], [2], [1]],
    "RESNET.SPATIAL_DILATIONS": [[1], [1], [1], [2]],
    "RESNET.WIDTH_PER_GROUP": 32, "RESNET.TRANS_FUNC": "bottleneck_transform",
    "DETECTION.ENABLE": True,
}
ALWAYS = {"num_classes": 11, "dropout_rate": 0.25, "width_divisor": 2}
CLIP = {"crop_size": 48, "num_frames": 32}
INIT = {"zero_init_final_bn": False, "fc_init_std": 0.02}
SLOWFAST = {"alpha": 8, "beta_inv": 4, "fusion_conv_channel_ratio": 3, "fusion_kernel_size": 7}
RESNET = {"arch": "i3d", "depth": 101, "num_block_temp_kernel": [[3], [4], [6], [3]],
          "spatial_strides": [[1], [2], [2], [1]], "spatial_dilations": [[1], [1], [1], [2]],
          "width_per_group": 32, "trans_func": "bottleneck_transform", "detection": True}
X3D = {"arch": "i3d", "width_factor": 1.5, "depth_factor": 1.25, "bottleneck_factor": 2.0,
       "head_dim_out": 64, "stem_dim_in": 6, "trans_func": "bottleneck_transform"}


def make_cfg(name: str, **values) -> CfgNode:
    """A config holding only the keys model_kwargs may read (no MODEL.ARCH)."""
    cfg = CfgNode({"MODEL": {"MODEL_NAME": name}})
    for key, value in {**VALUES, **values}.items():
        node, leaf = key.split(".")
        cfg.setdefault(node, CfgNode())[leaf] = value
    return cfg


def test_every_config_key_is_read():
    assert set(CONFIG_KEYS.values()) == set(VALUES)


VIDEO = {**ALWAYS, **CLIP, **INIT}


@pytest.mark.parametrize(
    "name, expected",
    [
        ("mobilenet_v1", {**ALWAYS, "crop_size": 48}),
        ("wide_resnet_tiny", {**ALWAYS, "crop_size": 48}),
        # A variant fixes its architecture: no MODEL.ARCH, RESNET sizes, X3D.*, detection.
        ("slow_r50", {**VIDEO, "roi_aligned": False}),
        ("i3d_r101", {**VIDEO, "roi_aligned": False}),
        ("slow_tiny_detection", {**VIDEO, "roi_aligned": False}),
        ("slowfast_r50", {**VIDEO, **SLOWFAST, "num_frames": 4, "roi_aligned": False}),
        ("slowfast_r50_detection",
         {**VIDEO, **SLOWFAST, "num_frames": 4, "roi_aligned": False}),
        ("x3d_m", VIDEO),
        # PySlowFast's names read it from the config (except what they bind).
        ("ResNet", {**VIDEO, **RESNET, "roi_aligned": False}),
        ("PTVResNet", {**VIDEO, **RESNET, "roi_aligned": False, "num_block_temp_kernel": None}),
        ("SlowFast", {**VIDEO, **SLOWFAST, **RESNET, "num_frames": 4, "roi_aligned": False}),
        ("X3D", {**VIDEO, **X3D}),
    ],
)
def test_model_kwargs_follow_the_builders_signature(name, expected):
    expected = {k: v for k, v in expected.items() if v is not None}  # bound: not passed
    assert model_kwargs(make_cfg(name)) == expected


def test_a_variant_that_does_not_take_alpha_gets_no_slowfast_keys():
    kwargs = model_kwargs(make_cfg("slow_tiny"))
    assert not set(kwargs) & (set(SLOWFAST) | set(X3D))
    assert kwargs["num_frames"] == 32  # all frames: no Slow/Fast division


@pytest.mark.parametrize(
    "name, fixed",
    [
        ("i3d_r101", {"arch": "i3d", "depth": 101, "num_block_temp_kernel": (3, 4, 23, 3)}),
        ("slowfast_r101_50_50_16x8", {"arch": "slowfast", "depth": 101,
                                      "num_block_temp_kernel": (3, 4, 6, 3)}),
        ("x3d_l", {"arch": "x3d", "depth_factor": 5.0, "width_factor": 2.0}),
        ("slow_r50_detection", {"detection": True, "spatial_strides": (1, 2, 2, 1)}),
        ("PTVResNet", {"num_block_temp_kernel": None}),
        ("ResNet", {}),
    ],
)
def test_what_a_name_fixes(name, fixed):
    builder = get_model_builder(name)
    assert fixed.items() <= fixed_architecture(builder).items()
    if name == "ResNet":
        assert fixed_architecture(builder) == {}


@pytest.mark.parametrize("frames, alpha, slow", [(32, 8, 4), (32, 4, 8), (8, 4, 2)])
def test_slowfast_takes_the_slow_pathways_frames(frames, alpha, slow):
    cfg = make_cfg("slowfast_tiny", **{"DATA.NUM_FRAMES": frames, "SLOWFAST.ALPHA": alpha})
    kwargs = model_kwargs(cfg)
    assert (kwargs["num_frames"], kwargs["alpha"]) == (slow, alpha)
    facts = describe_model("slowfast_tiny", kwargs)
    assert facts.full.temporal == slow and facts.alpha == alpha


def test_a_new_family_states_its_arguments_by_its_signature(monkeypatch):
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))  # restored afterwards

    def two_pathway_net(*, num_classes, dropout_rate, width_divisor, num_frames, alpha):
        raise AssertionError("not built")

    def catch_all(**kwargs):  # a **kwargs catch-all declares nothing
        raise AssertionError("not built")

    registry.register_model(two_pathway_net)
    registry.register_model(catch_all)
    assert model_kwargs(make_cfg("two_pathway_net")) == {**ALWAYS, "num_frames": 4, "alpha": 8}
    assert model_kwargs(make_cfg("catch_all")) == ALWAYS


def test_build_model_passes_the_config_to_the_builder():
    tiny = {"DATA.NUM_FRAMES": 8, "SLOWFAST.ALPHA": 4, "SLOWFAST.BETA_INV": 8,
            "SLOWFAST.FUSION_CONV_CHANNEL_RATIO": 2}
    cfg = make_cfg("slowfast_tiny", **tiny)
    model = build_model(cfg)
    assert (model.num_frames, model.alpha, model.crop_size) == (2, 4, 48)
    assert model.get_classifier().out_features == 11


# --------------------------------------------------------------------------------------
# The repository's configs
# --------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name, cls", [("MobileNetV1", "MobileNetV1"), ("MobileNetV2", "MobileNetV2"),
                                       ("ResNet50", "ResNet")])
def test_imagenet_configs_select_their_networks(name, cls):
    from mutualnet3d.config import load_config

    path = ROOT / "configs" / "ImageNet" / f"MutualNet_{name}.yaml"
    cfg = load_config(str(path))
    assert cfg.MODEL.MODEL_NAME == name
    model = build_model(cfg)
    assert type(model).__name__ == cls and model.get_classifier().out_features == 1000


@pytest.mark.slow
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
    from mutualnet3d.config import load_config

    cfg = load_config(str(ROOT / "configs" / "Kinetics" / f"{config}.yaml"))
    assert cfg.MODEL.MODEL_NAME == name
    model = build_model(cfg)
    assert (model.num_frames, model.crop_size, model.alpha) == (frames, crop, alpha)
    reference = get_model_builder(name)()
    assert shapes(model.state_dict()) == shapes(reference.state_dict())


CONFIGS = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("configs/**/*.yaml"))


@pytest.mark.slow
@pytest.mark.parametrize("path", CONFIGS)
def test_every_config_describes_the_model_it_declares(path):
    """The facts the model states agree with what the config says of its architecture."""
    from mutualnet3d.config import load_config

    cfg = load_config(str(ROOT / path))
    facts = describe_model(cfg.MODEL.MODEL_NAME, model_kwargs(cfg))
    assert (facts.input_kind == "image") == (cfg.MODEL.ARCH == "2d")
    assert (facts.num_pathways == 2) == (cfg.MODEL.ARCH == "slowfast")
    assert facts.detects == cfg.DETECTION.ENABLE
    assert facts.full.spatial == cfg.DATA.TRAIN_CROP_SIZE


@pytest.mark.slow
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
