"""Config: PySlowFast keys, YAML and command-line merging, errors that name the key."""

from pathlib import Path

import pytest

from mutualnet3d.config import ConfigError, eval_grid, eval_widths, get_cfg, load_config
from mutualnet3d.models import MobileNetV1, MobileNetV2, ResNet, build_model

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_defaults_follow_pyslowfast():
    cfg = get_cfg()
    for node in ("TRAIN", "TEST", "DATA", "MODEL", "RESNET", "SLOWFAST", "X3D", "SOLVER", "BN",
                 "DATA_LOADER", "AVA", "DETECTION", "MUTUALNET"):
        assert node in cfg, node
    assert (cfg.NUM_GPUS, cfg.NUM_SHARDS, cfg.RNG_SEED) == (1, 1, 1)
    assert (cfg.SLOWFAST.ALPHA, cfg.SLOWFAST.BETA_INV, cfg.SLOWFAST.FUSION_KERNEL_SZ) == (8, 8, 5)
    assert (cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, cfg.DATA.TRAIN_JITTER_SCALES) == (8, 8, [256, 320])
    assert (cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS) == (10, 3)
    assert get_cfg() is not cfg and get_cfg().MUTUALNET.WIDTH_RANGE == [0.25, 1.0]


def test_yaml_with_base_and_overrides(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text("MODEL:\n  NUM_CLASSES: 10\nMUTUALNET:\n  WIDTH_RANGE: [0.5, 1.0]\n")
    child = tmp_path / "child.yaml"
    child.write_text("_BASE_: base.yaml\nMODEL:\n  DROPOUT_RATE: 0.1\n")
    cfg = load_config(str(child), ["MUTUALNET.NUM_RANDOM", "3", "SOLVER.CLIP_GRAD_VAL", "1.0"])
    assert (cfg.MODEL.NUM_CLASSES, cfg.MODEL.DROPOUT_RATE) == (10, 0.1)
    assert cfg.MUTUALNET.WIDTH_RANGE == [0.5, 1.0] and cfg.MUTUALNET.NUM_RANDOM == 3
    assert cfg.SOLVER.CLIP_GRAD_VAL == 1.0
    # PySlowFast's newer command line puts --opts before the pairs.
    assert load_config(str(child), ["--opts", "MODEL.NUM_CLASSES", "7"]).MODEL.NUM_CLASSES == 7


def test_unknown_key_in_yaml_names_key_and_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("MODEL:\n  NUM_CLASES: 10\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*MODEL\.NUM_CLASES"):
        load_config(str(path))


def test_unknown_key_on_command_line_names_key():
    with pytest.raises(ConfigError, match=r"MUTUALNET\.WIDTH_RANG\b"):
        load_config(None, ["MUTUALNET.WIDTH_RANG", "[0.5, 1.0]"])
    with pytest.raises(ConfigError, match="KEY VALUE"):
        load_config(None, ["MODEL.NUM_CLASSES"])


def test_wrong_type_names_key():
    with pytest.raises(ConfigError, match="NUM_CLASSES"):
        load_config(None, ["MODEL.NUM_CLASSES", "'many'"])


@pytest.mark.parametrize(
    "key, value",
    [
        ("WIDTH_RANGE", "[0.9, 0.5]"),  # empty range
        ("WIDTH_RANGE", "[0.0, 1.0]"),
        ("WIDTH_RANGE", "[0.5, 1.5]"),  # wider than the full network
        ("WIDTH_RANGE", "[0.5]"),
        ("WIDTH_DIVISOR", "0"),
        ("NUM_RANDOM", "-1"),
        ("SPATIAL_SIZES", "[224, 0]"),
        ("TEMPORAL_SIZES", "[8, -3]"),
        ("EVAL_SPATIAL_SIZES", "[0]"),
        ("EVAL_TEMPORAL_SIZES", "[0]"),
        ("EVAL_WIDTHS", "[0.5, 1.2]"),  # width > max
        ("EVAL_WIDTH_STEP", "0.0"),
        ("BN_CALIB_BATCHES", "0"),
        ("SAMPLING", "random"),
        ("STATIC_WIDTH", "0.0"),
        ("TEST_WIDTH", "1.5"),
        ("STATIC_SPATIAL_SIZE", "-1"),
        ("TEST_TEMPORAL_SIZE", "-2"),
    ],
)
def test_invalid_mutualnet_setting_names_key(key, value):
    with pytest.raises(ConfigError, match=rf"MUTUALNET\.{key}\b"):
        load_config(None, [f"MUTUALNET.{key}", value])


def test_batch_size_must_split_over_processes():
    with pytest.raises(ConfigError, match=r"TRAIN\.BATCH_SIZE"):
        load_config(None, ["NUM_GPUS", "8", "TRAIN.BATCH_SIZE", "12"])


@pytest.mark.parametrize(
    "width_range, step, expected",
    [
        ([0.25, 1.0], 0.25, [0.25, 0.5, 0.75, 1.0]),
        ([0.7, 1.0], 0.05, [0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0]),
        ([0.63, 1.0], 0.1, [0.63, 0.73, 0.83, 0.93, 1.0]),  # the step does not divide
        ([1.0, 1.0], 0.05, [1.0]),
    ],
)
def test_eval_widths(width_range, step, expected):
    cfg = load_config(None, ["MUTUALNET.WIDTH_RANGE", str(width_range), "MUTUALNET.EVAL_WIDTH_STEP", str(step)])
    assert eval_widths(cfg) == expected


def test_eval_grid_defaults_to_training_sizes():
    cfg = load_config(None, ["MODEL.ARCH", "slowfast", "DATA.NUM_FRAMES", "32", "SLOWFAST.ALPHA", "8"])
    assert eval_grid(cfg)[1:] == ([224], [4])
    cfg = load_config(None, ["MUTUALNET.SPATIAL_SIZES", "[142, 224, 178]", "MUTUALNET.TEMPORAL_SIZES", "[3, 8, 5]",
                             "MODEL.ARCH", "slow"])
    assert eval_grid(cfg)[1:] == ([224, 178, 142], [8, 5, 3])


@pytest.mark.parametrize(
    "name, cls",
    [("MobileNetV1", MobileNetV1), ("MobileNetV2", MobileNetV2), ("ResNet50", ResNet)],
)
def test_imagenet_configs_select_their_networks(name, cls):
    cfg = load_config(str(CONFIGS / "ImageNet" / f"MutualNet_{name}.yaml"))
    assert cfg.MODEL.MODEL_NAME == name
    model = build_model(cfg)
    assert type(model) is cls and model.get_classifier().out_features == 1000
