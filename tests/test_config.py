"""Config: PySlowFast keys, YAML and command-line merging, errors that name the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mutualnet3d.config import (
    ConfigError,
    eval_grid,
    eval_widths,
    get_cfg,
    ignored_settings,
    load_config,
    validate_cfg,
)

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
NODES = (
    "TRAIN", "TEST", "DATA", "MODEL", "RESNET", "SLOWFAST", "X3D", "SOLVER", "BN",
    "DATA_LOADER", "AVA", "DETECTION", "TENSORBOARD", "MUTUALNET",
)  # fmt: skip
SCALARS = (
    "NUM_GPUS", "NUM_SHARDS", "SHARD_ID", "RNG_SEED", "OUTPUT_DIR", "LOG_PERIOD",
    "LOG_MODEL_INFO", "DIST_BACKEND",
)  # fmt: skip


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


# ----------------------------------------------------------------------------------
# Defaults
# ----------------------------------------------------------------------------------
def test_defaults_have_pyslowfast_nodes_and_values():
    cfg = get_cfg()
    for name in NODES:
        assert name in cfg and isinstance(cfg[name], type(cfg)), name
    for name in SCALARS:
        assert name in cfg and not isinstance(cfg[name], type(cfg)), name
    expected = {
        "NUM_GPUS": 1, "NUM_SHARDS": 1, "SHARD_ID": 0, "RNG_SEED": 1,
        "DIST_BACKEND": "nccl", "SLOWFAST.ALPHA": 8, "SLOWFAST.BETA_INV": 8,
        "SLOWFAST.FUSION_CONV_CHANNEL_RATIO": 2, "SLOWFAST.FUSION_KERNEL_SZ": 5,
        "DATA.NUM_FRAMES": 8, "DATA.SAMPLING_RATE": 8, "DATA.TARGET_FPS": 30,
        "DATA.TRAIN_JITTER_SCALES": [256, 320], "DATA.TRAIN_CROP_SIZE": 224,
        "DATA.TEST_CROP_SIZE": 256, "DATA.MEAN": [0.45, 0.45, 0.45],
        "DATA.INPUT_CHANNEL_NUM": [3, 3], "TEST.NUM_ENSEMBLE_VIEWS": 10,
        "TEST.NUM_SPATIAL_CROPS": 3, "TRAIN.BATCH_SIZE": 64, "TEST.BATCH_SIZE": 8,
        "SOLVER.BASE_LR": 0.1, "SOLVER.LR_POLICY": "cosine", "SOLVER.MAX_EPOCH": 300,
        "SOLVER.NESTEROV": True, "SOLVER.WEIGHT_DECAY": 1e-4,
        "SOLVER.CLIP_GRAD_VAL": None, "BN.NUM_BATCHES_PRECISE": 200,
        "MODEL.NUM_CLASSES": 400, "MODEL.ARCH": "slowfast", "MODEL.DROPOUT_RATE": 0.5,
        "MODEL.LABEL_SMOOTHING": 0.0, "MODEL.MULTI_PATHWAY_ARCH": ["slowfast"],
        "RESNET.DEPTH": 50, "X3D.DIM_C1": 12, "DETECTION.ROI_XFORM_RESOLUTION": 7,
        "AVA.DETECTION_SCORE_THRESH": 0.9, "DATA_LOADER.NUM_WORKERS": 8,
    }  # fmt: skip
    for key, value in expected.items():
        node = cfg
        for part in key.split("."):
            node = node[part]
        assert node == value and type(node) is type(value), key


def test_mutualnet_defaults():
    node = get_cfg().MUTUALNET
    assert (node.ENABLE, node.WIDTH_RANGE, node.WIDTH_DIVISOR, node.NUM_RANDOM) == (
        True, [0.25, 1.0], 8, 2,
    )  # fmt: skip
    assert (node.SPATIAL_SIZES, node.TEMPORAL_SIZES, node.DISTILL) == ([], [], True)
    assert (node.BN_CALIB_BATCHES, node.EVAL_WIDTHS, node.EVAL_WIDTH_STEP) == (
        10, [], 0.05,
    )  # fmt: skip
    assert (node.EVAL_SPATIAL_SIZES, node.EVAL_TEMPORAL_SIZES) == ([], [])


def test_get_cfg_is_fresh_unfrozen_and_valid():
    first = get_cfg()
    first.MUTUALNET.WIDTH_RANGE[0] = 0.5  # mutate a shared-looking list in place
    first.DATA.NUM_FRAMES = 32
    second = get_cfg()
    assert second.MUTUALNET.WIDTH_RANGE == [0.25, 1.0] and second.DATA.NUM_FRAMES == 8
    assert not second.is_frozen() and not load_config().is_frozen()
    before = second.dump()
    validate_cfg(second)  # the defaults are valid, and validation changes nothing
    assert second.dump() == before


# ----------------------------------------------------------------------------------
# YAML files and overrides
# ----------------------------------------------------------------------------------
def test_yaml_merge_with_base(tmp_path):
    write(tmp_path / "base.yaml", "MODEL:\n  NUM_CLASSES: 10\n  DROPOUT_RATE: 0.3\n")
    child = write(
        tmp_path / "child.yaml",
        "_BASE_: base.yaml\nMODEL:\n  DROPOUT_RATE: 0.1\n"
        "MUTUALNET:\n  SPATIAL_SIZES: [224, 160]\n",
    )
    cfg = load_config(child)
    # The base's key survives, the child's wins where both set one.
    assert (cfg.MODEL.NUM_CLASSES, cfg.MODEL.DROPOUT_RATE) == (10, 0.1)
    assert cfg.MUTUALNET.SPATIAL_SIZES == [224, 160]
    assert load_config(Path(child)).MODEL.NUM_CLASSES == 10  # a Path works too


def test_several_files_merge_in_order(tmp_path):
    first = write(tmp_path / "a.yaml", "DATA:\n  NUM_FRAMES: 16\n  SAMPLING_RATE: 4\n")
    second = write(tmp_path / "b.yaml", "DATA:\n  NUM_FRAMES: 32\n")
    third = write(tmp_path / "empty.yaml", "# nothing to set\n")
    cfg = load_config([first, second, third])
    assert (cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE) == (32, 4)


@pytest.mark.parametrize("prefix", [[], ["--opts"]], ids=["plain", "--opts"])
def test_overrides_after_files(tmp_path, prefix):
    path = write(tmp_path / "c.yaml", "MODEL:\n  NUM_CLASSES: 10\n")
    opts = prefix + [
        "MODEL.NUM_CLASSES", "7", "MUTUALNET.WIDTH_RANGE", "[0.5, 1.0]",
        "SOLVER.CLIP_GRAD_VAL", "1.0", "OUTPUT_DIR", "out/run1",
    ]  # fmt: skip
    cfg = load_config(path, opts)
    assert cfg.MODEL.NUM_CLASSES == 7 and cfg.MUTUALNET.WIDTH_RANGE == [0.5, 1.0]
    assert cfg.SOLVER.CLIP_GRAD_VAL == 1.0 and cfg.OUTPUT_DIR == "out/run1"
    assert load_config(None, prefix).dump() == get_cfg().dump()  # nothing to merge


def test_unknown_key_in_yaml_names_key_and_file(tmp_path):
    path = write(tmp_path / "bad.yaml", "MODEL:\n  NUM_CLASES: 10\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*MODEL\.NUM_CLASES\b"):
        load_config(path)
    path = write(tmp_path / "bad_node.yaml", "MULTIGRID:\n  SHORT_CYCLE: True\n")
    with pytest.raises(ConfigError, match=r"bad_node\.yaml.*MULTIGRID"):
        load_config(path)


def test_unknown_key_in_base_names_the_base_file(tmp_path):
    write(tmp_path / "parent.yaml", "DATA:\n  NUM_FRAME: 4\n")
    child = write(
        tmp_path / "kid.yaml", "_BASE_: parent.yaml\nDATA:\n  NUM_FRAMES: 4\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(child)
    message = str(info.value)
    assert "DATA.NUM_FRAME" in message and "parent.yaml" in message
    assert message.index("parent.yaml") < message.index("kid.yaml")  # where, then via


@pytest.mark.parametrize("prefix", [[], ["--opts"]], ids=["plain", "--opts"])
@pytest.mark.parametrize(
    "key", ["MUTUALNET.WIDTH_RANG", "MODEL.NUM_CLASSES.X", "FOO", "_BASE_"]
)
def test_unknown_key_in_overrides_names_key(prefix, key):
    with pytest.raises(ConfigError, match=rf"unknown config key {re.escape(key)}$"):
        load_config(None, prefix + [key, "1"])


@pytest.mark.parametrize("prefix", [[], ["--opts"]], ids=["plain", "--opts"])
def test_odd_number_of_override_tokens(prefix):
    with pytest.raises(ConfigError, match="KEY VALUE"):
        load_config(None, prefix + ["MODEL.NUM_CLASSES", "7", "TRAIN.ENABLE"])


def test_type_mismatch_names_key(tmp_path):
    with pytest.raises(ConfigError, match=r"MODEL\.NUM_CLASSES"):
        load_config(None, ["MODEL.NUM_CLASSES", "'many'"])
    with pytest.raises(ConfigError, match=r"^command line: SOLVER is a node"):
        load_config(None, ["SOLVER", "0.1"])
    path = write(tmp_path / "typed.yaml", "DATA:\n  TRAIN_CROP_SIZE: large\n")
    with pytest.raises(ConfigError, match=r"typed\.yaml.*DATA\.TRAIN_CROP_SIZE"):
        load_config(path)


def test_unreadable_files_raise_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        load_config(str(tmp_path / "missing.yaml"))
    path = write(tmp_path / "broken.yaml", "MODEL: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml"):
        load_config(path)
    path = write(tmp_path / "list.yaml", "- MODEL\n")
    with pytest.raises(ConfigError, match=r"list\.yaml"):
        load_config(path)


# The keys PySlowFast's own Slow/SlowFast/X3D files set for Kinetics, Charades, AVA and
# ImageNet, at values such files use: a user's PySlowFast file must load unchanged.
PYSLOWFAST_KEYS = """
TRAIN: {ENABLE: True, DATASET: charades, BATCH_SIZE: 16, EVAL_PERIOD: 6,
  CHECKPOINT_PERIOD: 6, AUTO_RESUME: True, CHECKPOINT_FILE_PATH: ckpt.pkl,
  CHECKPOINT_TYPE: caffe2, CHECKPOINT_INFLATE: False, CHECKPOINT_EPOCH_RESET: True,
  MIXED_PRECISION: False}
DATA: {PATH_TO_DATA_DIR: data, PATH_PREFIX: videos, PATH_LABEL_SEPARATOR: ",",
  NUM_FRAMES: 64, SAMPLING_RATE: 2, TRAIN_JITTER_SCALES: [256, 340],
  TRAIN_CROP_SIZE: 224, TEST_CROP_SIZE: 256, INPUT_CHANNEL_NUM: [3, 3],
  MEAN: [0.45, 0.45, 0.45], STD: [0.225, 0.225, 0.225], TARGET_FPS: 30,
  DECODING_BACKEND: pyav, MULTI_LABEL: True, INV_UNIFORM_SAMPLE: True,
  ENSEMBLE_METHOD: max, RANDOM_FLIP: True, REVERSE_INPUT_CHANNEL: True,
  TRAIN_JITTER_SCALES_RELATIVE: [0.08, 1.0], TRAIN_JITTER_ASPECT_RELATIVE: [0.75, 1.33]}
SLOWFAST: {ALPHA: 4, BETA_INV: 8, FUSION_CONV_CHANNEL_RATIO: 2, FUSION_KERNEL_SZ: 7}
RESNET: {ZERO_INIT_FINAL_BN: True, WIDTH_PER_GROUP: 64, NUM_GROUPS: 1, DEPTH: 50,
  TRANS_FUNC: bottleneck_transform, STRIDE_1X1: False, INPLACE_RELU: True,
  NUM_BLOCK_TEMP_KERNEL: [[3, 3], [4, 4], [6, 6], [3, 3]],
  SPATIAL_STRIDES: [[1, 1], [2, 2], [2, 2], [1, 1]],
  SPATIAL_DILATIONS: [[1, 1], [1, 1], [1, 1], [2, 2]]}
NONLOCAL: {LOCATION: [[[], []], [[], []], [[], []], [[], []]],
  GROUP: [[1, 1], [1, 1], [1, 1], [1, 1]], INSTANTIATION: softmax,
  POOL: [[[2, 2, 2], [2, 2, 2]], [[2, 2, 2], [2, 2, 2]], [[2, 2, 2], [2, 2, 2]],
         [[2, 2, 2], [2, 2, 2]]]}
X3D: {WIDTH_FACTOR: 2.0, DEPTH_FACTOR: 2.2, BOTTLENECK_FACTOR: 2.25, DIM_C5: 2048,
  DIM_C1: 12, SCALE_RES2: False, BN_LIN5: False, CHANNELWISE_3x3x3: True}
DETECTION: {ENABLE: False, ALIGNED: False, SPATIAL_SCALE_FACTOR: 16,
  ROI_XFORM_RESOLUTION: 7}
AVA: {FRAME_DIR: frames, FRAME_LIST_DIR: lists, ANNOTATION_DIR: annotations, BGR: False,
  DETECTION_SCORE_THRESH: 0.8, TRAIN_GT_BOX_LISTS: [ava_train_v2.2.csv],
  TRAIN_PREDICT_BOX_LISTS: [ava_train_v2.2.csv, boxes/train.csv],
  TEST_PREDICT_BOX_LISTS: [boxes/val.csv], TRAIN_USE_COLOR_AUGMENTATION: True,
  TRAIN_PCA_JITTER_ONLY: True, TEST_FORCE_FLIP: False, FULL_TEST_ON_VAL: True,
  LABEL_MAP_FILE: labels.pbtxt, EXCLUSION_FILE: excluded.csv, GROUNDTRUTH_FILE: gt.csv,
  IMG_PROC_BACKEND: cv2, TRAIN_LISTS: [train.csv], TEST_LISTS: [val.csv]}
BN: {USE_PRECISE_STATS: True, NUM_BATCHES_PRECISE: 200, MOMENTUM: 0.1,
  WEIGHT_DECAY: 0.0, NORM_TYPE: batchnorm, NUM_SPLITS: 1, NUM_SYNC_DEVICES: 1}
SOLVER: {BASE_LR: 0.0375, BASE_LR_SCALE_NUM_SHARDS: True,
  LR_POLICY: steps_with_relative_lrs, LRS: [1, 0.1, 0.01], STEPS: [0, 41, 49],
  MAX_EPOCH: 57, MOMENTUM: 0.9, DAMPENING: 0.0, NESTEROV: True, WEIGHT_DECAY: 1e-4,
  WARMUP_FACTOR: 0.1, WARMUP_EPOCHS: 4.0, WARMUP_START_LR: 0.0001,
  OPTIMIZING_METHOD: sgd, COSINE_END_LR: 1e-6, COSINE_AFTER_WARMUP: False,
  ZERO_WD_1D_PARAM: False, GAMMA: 0.1, STEP_SIZE: 1}
MODEL: {NUM_CLASSES: 157, ARCH: slowfast, MODEL_NAME: SlowFast, LOSS_FUNC: bce_logit,
  HEAD_ACT: sigmoid, DROPOUT_RATE: 0.5, FC_INIT_STD: 0.01}
TEST: {ENABLE: True, DATASET: charades, BATCH_SIZE: 16, NUM_ENSEMBLE_VIEWS: 10,
  NUM_SPATIAL_CROPS: 3, CHECKPOINT_FILE_PATH: "", CHECKPOINT_TYPE: pytorch,
  SAVE_RESULTS_PATH: ""}
DATA_LOADER: {NUM_WORKERS: 8, PIN_MEMORY: True, ENABLE_MULTI_THREAD_DECODE: False}
TENSORBOARD: {ENABLE: True, LOG_DIR: ""}
NUM_GPUS: 8
NUM_SHARDS: 1
SHARD_ID: 0
RNG_SEED: 0
OUTPUT_DIR: .
LOG_PERIOD: 10
LOG_MODEL_INFO: False
DIST_BACKEND: nccl
"""


def test_pyslowfast_yaml_loads_unchanged(tmp_path):
    cfg = load_config(write(tmp_path / "pyslowfast.yaml", PYSLOWFAST_KEYS))
    assert cfg.DATA.INV_UNIFORM_SAMPLE is True and cfg.SLOWFAST.FUSION_KERNEL_SZ == 7
    assert cfg.RESNET.NUM_BLOCK_TEMP_KERNEL == [[3, 3], [4, 4], [6, 6], [3, 3]]
    assert cfg.AVA.TRAIN_PREDICT_BOX_LISTS == ["ava_train_v2.2.csv", "boxes/train.csv"]
    assert cfg.SOLVER.BASE_LR == 0.0375  # BASE_LR_SCALE_NUM_SHARDS is not applied here
    # What is read but not built is reported, not silently dropped.
    assert ignored_settings(cfg) == [
        "DATA.TRAIN_JITTER_SCALES_RELATIVE=[0.08, 1.0]",
        "DATA.TRAIN_JITTER_ASPECT_RELATIVE=[0.75, 1.33]",
        "DATA.REVERSE_INPUT_CHANNEL=True",
        "AVA.TRAIN_USE_COLOR_AUGMENTATION=True",
    ]


def test_detection_goes_with_ava_only(tmp_path):
    with pytest.raises(ConfigError, match="TRAIN.DATASET is 'kinetics' but DETECTION.ENABLE"):
        load_config(opts=["DETECTION.ENABLE", "True"])
    with pytest.raises(ConfigError, match="TEST.DATASET is 'kinetics'"):
        load_config(opts=["TRAIN.DATASET", "ava", "DETECTION.ENABLE", "True"])


# ----------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------
def test_width_range_message():
    with pytest.raises(ConfigError) as info:
        load_config(None, ["MUTUALNET.WIDTH_RANGE", "[0.9, 0.5]"])
    assert str(info.value) == (
        "MUTUALNET.WIDTH_RANGE must be [min, max] with 0 < min <= max <= 1.0, "
        "got [0.9, 0.5]"
    )


@pytest.mark.parametrize(
    "key, value",
    [
        ("WIDTH_RANGE", "[0.9, 0.5]"),  # empty range
        ("WIDTH_RANGE", "[0.0, 1.0]"),  # min <= 0
        ("WIDTH_RANGE", "[-0.5, 1.0]"),
        ("WIDTH_RANGE", "[0.5, 1.5]"),  # wider than the full network
        ("WIDTH_RANGE", "[0.5]"),  # not two numbers
        ("WIDTH_RANGE", "[0.25, 0.5, 1.0]"),
        ("WIDTH_RANGE", "['a', 1.0]"),
        ("WIDTH_DIVISOR", "0"),
        ("NUM_RANDOM", "-1"),
        ("SPATIAL_SIZES", "[224, 0]"),
        ("TEMPORAL_SIZES", "[8, -3]"),
        ("EVAL_SPATIAL_SIZES", "[0]"),
        ("EVAL_TEMPORAL_SIZES", "[4, 0]"),
        ("SPATIAL_SIZES", "[224, 160.5]"),  # not a whole number
        ("EVAL_WIDTHS", "[0.5, 1.2]"),  # width > max
        ("EVAL_WIDTHS", "[0.1, 1.0]"),  # width < min
        ("EVAL_WIDTH_STEP", "0.0"),
        ("EVAL_WIDTH_STEP", "-0.05"),
        ("BN_CALIB_BATCHES", "0"),
        ("SAMPLING", "random"),
        ("STATIC_WIDTH", "0.0"),
        ("TEST_WIDTH", "1.5"),
        ("STATIC_SPATIAL_SIZE", "-1"),
        ("TEST_TEMPORAL_SIZE", "-2"),
    ],
)
def test_invalid_mutualnet_setting_names_key(key, value):
    with pytest.raises(ConfigError, match=rf"^MUTUALNET\.{key}\b"):
        load_config(None, [f"MUTUALNET.{key}", value])
    # validate_cfg alone raises the same, on a config changed in code.
    cfg = get_cfg()
    cfg.merge_from_list([f"MUTUALNET.{key}", value])
    with pytest.raises(ConfigError, match=rf"^MUTUALNET\.{key}\b"):
        validate_cfg(cfg)


def test_eval_widths_inside_the_range_are_valid():
    cfg = load_config(
        None,
        ["MUTUALNET.WIDTH_RANGE", "[0.5, 1.0]", "MUTUALNET.EVAL_WIDTHS", "[0.5, 1.0]"],
    )
    assert cfg.MUTUALNET.EVAL_WIDTHS == [0.5, 1.0]


@pytest.mark.parametrize(
    "opts, key",
    [
        (["NUM_GPUS", "-1"], "NUM_GPUS"),
        (["NUM_SHARDS", "0"], "NUM_SHARDS"),
        (["NUM_SHARDS", "2", "SHARD_ID", "2"], "SHARD_ID"),
        (["NUM_GPUS", "8", "TRAIN.BATCH_SIZE", "12"], "TRAIN.BATCH_SIZE"),
        (["NUM_GPUS", "4", "TEST.BATCH_SIZE", "6"], "TEST.BATCH_SIZE"),
        (
            ["NUM_GPUS", "0", "NUM_SHARDS", "3", "TRAIN.BATCH_SIZE", "64"],
            "TRAIN.BATCH_SIZE",
        ),
        (["TRAIN.BATCH_SIZE", "0"], "TRAIN.BATCH_SIZE"),
        (["SOLVER.CLIP_GRAD_VAL", "'big'"], "SOLVER.CLIP_GRAD_VAL"),
        (["SOLVER.CLIP_GRAD_L2NORM", "-1.0"], "SOLVER.CLIP_GRAD_L2NORM"),
        (["BN.MOMENTUM", "0.01"], "BN.MOMENTUM"),
        (["MODEL.ARCH", "mvit"], "MODEL.ARCH"),
        (["MODEL.LABEL_SMOOTHING", "1.0"], "MODEL.LABEL_SMOOTHING"),
        (["MODEL.DROPOUT_RATE", "-0.1"], "MODEL.DROPOUT_RATE"),
        (["RESNET.TRANS_FUNC", "basic_transform"], "RESNET.TRANS_FUNC"),
        (["RESNET.STRIDE_1X1", "True"], "RESNET.STRIDE_1X1"),
        (["X3D.BN_LIN5", "True"], "X3D.BN_LIN5"),
        (["NONLOCAL.LOCATION", "[[[]], [[]], [[1, 3]], [[]]]"], "NONLOCAL.LOCATION"),
    ],
)
def test_invalid_run_and_model_settings_name_key(opts, key):
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)}\b"):
        load_config(None, opts)


@pytest.mark.parametrize(
    "opts",
    [
        ["NUM_GPUS", "8", "TRAIN.BATCH_SIZE", "64", "TEST.BATCH_SIZE", "64"],
        ["NUM_GPUS", "0", "TRAIN.BATCH_SIZE", "3", "TEST.BATCH_SIZE", "5"],  # 1 process
        ["NUM_GPUS", "2", "NUM_SHARDS", "2", "SHARD_ID", "1", "TRAIN.BATCH_SIZE", "8"],
    ],
)
def test_valid_process_layouts(opts):
    load_config(None, opts)


# ----------------------------------------------------------------------------------
# Evaluation grid
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "width_range, step, expected",
    [
        ([0.25, 1.0], 0.25, [0.25, 0.5, 0.75, 1.0]),
        ([0.7, 1.0], 0.05, [0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0]),
        ([0.63, 1.0], 0.1, [0.63, 0.73, 0.83, 0.93, 1.0]),  # the step does not divide
        ([0.25, 1.0], 0.4, [0.25, 0.65, 1.0]),
        ([0.5, 1.0], 1.0, [0.5, 1.0]),  # a step longer than the range: both ends
        ([1.0, 1.0], 0.05, [1.0]),
        ([0.1, 0.3], 0.1, [0.1, 0.2, 0.3]),  # 0.1 + 2 * 0.1 is 0.30000000000000004
    ],
)
def test_eval_widths_grid(width_range, step, expected):
    cfg = load_config(
        None,
        [
            "MUTUALNET.WIDTH_RANGE", str(width_range),
            "MUTUALNET.EVAL_WIDTH_STEP", str(step),
        ],
    )  # fmt: skip
    assert eval_widths(cfg) == expected


def test_eval_widths_default_grid_is_the_papers():
    widths = eval_widths(get_cfg())  # [0.25, 1.0] by 0.05: 16 widths
    assert widths == [round(0.25 + 0.05 * i, 4) for i in range(16)]
    assert widths[-1] == 1.0 and len(set(widths)) == 16


def test_explicit_eval_widths_are_used_sorted():
    cfg = load_config(None, ["MUTUALNET.EVAL_WIDTHS", "[1.0, 0.33333333, 0.5, 0.5]"])
    assert eval_widths(cfg) == [0.3333, 0.5, 1.0]


def test_eval_grid_defaults_to_training_sizes():
    cfg = load_config(
        None, ["MODEL.ARCH", "slowfast", "DATA.NUM_FRAMES", "32", "SLOWFAST.ALPHA", "8"]
    )
    assert eval_grid(cfg)[1:] == ([224], [4])  # the crop, and the Slow pathway's frames
    cfg = load_config(
        None,
        [
            "MUTUALNET.SPATIAL_SIZES", "[142, 224, 178]",
            "MUTUALNET.TEMPORAL_SIZES", "[3, 8, 5]", "MODEL.ARCH", "slow",
        ],
    )  # fmt: skip
    assert eval_grid(cfg)[1:] == ([224, 178, 142], [8, 5, 3])
    cfg.MUTUALNET.EVAL_SPATIAL_SIZES = [160]
    cfg.MUTUALNET.EVAL_TEMPORAL_SIZES = [2, 4]
    assert eval_grid(cfg)[1:] == ([160], [4, 2])
    cfg.MODEL.ARCH = "2d"
    assert eval_grid(cfg)[2] == [None]


# ----------------------------------------------------------------------------------
# The repository's own configs
# ----------------------------------------------------------------------------------
REPO_CONFIGS = sorted(CONFIGS.rglob("*.yaml"))


@pytest.mark.parametrize(
    "path", REPO_CONFIGS, ids=[str(p.relative_to(CONFIGS)) for p in REPO_CONFIGS]
)
def test_repository_configs_load(path):
    load_config(str(path))  # no unknown key, and valid
