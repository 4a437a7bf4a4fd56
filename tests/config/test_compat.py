"""PySlowFast's files: their keys load; keys not built are refused or reported."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mutualnet3d.config import ConfigError, equivalent_settings, load_config
from mutualnet3d.config.compat import EQUIVALENT, FIXED, INERT, NODES_NOT_BUILT


def _walk(node, prefix=""):
    """(dotted key, value) of every leaf of a config node."""
    for name, value in node.items():
        if isinstance(value, type(node)):
            yield from _walk(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


# The keys PySlowFast's own Slow/SlowFast/X3D files set for Kinetics, Charades, AVA and
# ImageNet, at values such files use: a user's PySlowFast file must load unchanged. (X3D
# at its defaults: a SlowFast reads none of them, and a key no part of it reads must
# stay at its default.)
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
  ENSEMBLE_METHOD: max, RANDOM_FLIP: True, REVERSE_INPUT_CHANNEL: True}
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
X3D: {WIDTH_FACTOR: 1.0, DEPTH_FACTOR: 1.0, BOTTLENECK_FACTOR: 1.0, DIM_C5: 2048,
  DIM_C1: 12, SCALE_RES2: False, BN_LIN5: False, CHANNELWISE_3x3x3: True}
DETECTION: {ENABLE: False, ALIGNED: True, SPATIAL_SCALE_FACTOR: 16,
  ROI_XFORM_RESOLUTION: 7}
AVA: {FRAME_DIR: frames, FRAME_LIST_DIR: lists, ANNOTATION_DIR: annotations, BGR: False,
  DETECTION_SCORE_THRESH: 0.8, TRAIN_GT_BOX_LISTS: [ava_train_v2.2.csv],
  TRAIN_PREDICT_BOX_LISTS: [ava_train_v2.2.csv, boxes/train.csv],
  TEST_PREDICT_BOX_LISTS: [boxes/val.csv], TRAIN_USE_COLOR_AUGMENTATION: False,
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


def test_pyslowfast_yaml_loads_with_its_own_model_name(tmp_path):
    path = write(tmp_path / "pyslowfast.yaml", PYSLOWFAST_KEYS)
    # PySlowFast's name builds the network its keys describe (here res5 at stride 1,
    # dilated); one of our variants fixes its own, and refuses keys that contradict it,
    # naming the file that sets them.
    cfg = load_config(path)
    assert cfg.MODEL.MODEL_NAME == "SlowFast"
    with pytest.raises(
        ConfigError,
        match=rf"^{re.escape(path)}: "
        r"RESNET\.SPATIAL_STRIDES \[\[1, 1\], \[2, 2\], \[2, 2\], \[1, 1\]\] does not "
        r"match MODEL\.MODEL_NAME 'slowfast_r50', which is built with spatial_strides=",
    ):
        load_config(path, ["MODEL.MODEL_NAME", "slowfast_r50"])
    assert cfg.DATA.INV_UNIFORM_SAMPLE is True and cfg.SLOWFAST.FUSION_KERNEL_SZ == 7
    assert cfg.RESNET.NUM_BLOCK_TEMP_KERNEL == [[3, 3], [4, 4], [6, 6], [3, 3]]
    assert cfg.AVA.TRAIN_PREDICT_BOX_LISTS == ["ava_train_v2.2.csv", "boxes/train.csv"]
    assert cfg.SOLVER.BASE_LR == 0.0375  # as written: the run scales it (RunSpec.lr_scale)
    assert cfg.DATA.REVERSE_INPUT_CHANNEL is True  # built: BGR input
    # What is not built is refused, never read and dropped.
    for key, value in (("AVA.TRAIN_USE_COLOR_AUGMENTATION", "True"),
                       ("DATA.TRAIN_JITTER_SCALES_RELATIVE", "[0.08, 1.0]")):
        with pytest.raises(ConfigError, match=rf"^{re.escape(key)}"):
            load_config(path, ["MODEL.MODEL_NAME", "slowfast_r50", key, value])


def test_detection_goes_with_ava_only(tmp_path):
    with pytest.raises(ConfigError, match="TRAIN.DATASET is 'kinetics' but DETECTION.ENABLE"):
        load_config(opts=["DETECTION.ENABLE", "True"])
    with pytest.raises(ConfigError, match="TEST.DATASET is 'kinetics'"):
        load_config(opts=["TRAIN.DATASET", "ava", "DETECTION.ENABLE", "True"])


@pytest.mark.parametrize(
    "opts, key",
    [
        (["RESNET.TRANS_FUNC", "basic_transform"], "RESNET.TRANS_FUNC"),
        (["RESNET.STRIDE_1X1", "True"], "RESNET.STRIDE_1X1"),
        (["X3D.BN_LIN5", "True"], "X3D.BN_LIN5"),
        (["X3D.SCALE_RES2", "True"], "X3D.SCALE_RES2"),
        (["X3D.CHANNELWISE_3x3x3", "False"], "X3D.CHANNELWISE_3x3x3"),
        (["BN.MOMENTUM", "0.01"], "BN.MOMENTUM"),
        (["BN.NORM_TYPE", "sub_batchnorm"], "BN.NORM_TYPE"),
        (["DATA.DECODING_BACKEND", "decord"], "DATA.DECODING_BACKEND"),
        (["NONLOCAL.LOCATION", "[[[]], [[]], [[1, 3]], [[]]]"], "NONLOCAL.LOCATION"),
    ],
)
def test_keys_not_built_at_other_values_are_refused(opts, key):
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)} must "):
        load_config(None, opts)


def test_every_compat_key_exists_at_its_default():
    # A key listed here that the defaults lack, or whose default another value, would
    # refuse or report every config.
    cfg = load_config()
    values = dict(_walk(cfg))
    for fixed in FIXED:
        assert values[fixed.key] in fixed.allowed, fixed.key
    assert set(INERT) <= set(values)


def test_torchvision_decoding_is_served_by_pyav_and_said_once():
    cfg = load_config(None, ["DATA.DECODING_BACKEND", "torchvision"])
    assert equivalent_settings(cfg) == [
        "DATA.DECODING_BACKEND='torchvision': decoded with PyAV (FFmpeg, the same frames)"
    ]
    assert equivalent_settings(load_config()) == [] and {e.key for e in EQUIVALENT} <= {
        f.key for f in FIXED
    }  # an equivalent value is also one of the accepted ones


@pytest.mark.parametrize("node", sorted(NODES_NOT_BUILT))
def test_pyslowfast_nodes_not_built_are_refused_saying_so(tmp_path, node):
    path = write(tmp_path / "feature.yaml", f"{node}:\n  ENABLE: True\n")
    # From a file yacs names the node itself (the whole node is unknown to it).
    with pytest.raises(
        ConfigError,
        match=rf"feature\.yaml: {node}: PySlowFast's {node} node \(.+\) is not built here$",
    ):
        load_config(path)
    with pytest.raises(
        ConfigError, match=rf"^command line: {node}\.ENABLE: PySlowFast's {node} node"
    ):
        load_config(None, [f"{node}.ENABLE", "True"])


@pytest.mark.parametrize(
    "name, read_as", [("ptvkinetics", "kinetics"), ("PTVCharades", "charades")]
)
def test_pyslowfasts_pytorchvideo_loaders_read_the_same_data_sets(name, read_as):
    from mutualnet3d.engine.spec import dataset_spec

    opts = ["TRAIN.DATASET", name, "TEST.DATASET", name]
    if read_as == "charades":
        opts += ["DATA.MULTI_LABEL", "True", "MODEL.LOSS_FUNC", "bce_logit", "MODEL.HEAD_ACT", "sigmoid"]
    cfg = load_config(None, opts)
    assert dataset_spec(cfg, "train").name == dataset_spec(cfg, "test").name == read_as
