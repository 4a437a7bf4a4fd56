"""The config edge of the data package: ``mutualnet3d.engine.spec.dataset_spec`` reads
every key the data sets need, once, and ``build_dataset`` builds from what it made, with
the pathways the network takes."""

from __future__ import annotations

import pytest

from mutualnet3d.config import ConfigError, load_config
from mutualnet3d.data import (
    AvaFiles,
    ClipSampling,
    ColorAugmentation,
    DigitsSettings,
    Normalization,
    RetryPolicy,
    SpatialSampling,
    TestViews,
    build_dataset,
)
from mutualnet3d.engine.spec import dataset_spec
from mutualnet3d.models import describe_model, model_kwargs

SLOW = ["MODEL.ARCH", "slow", "MODEL.MODEL_NAME", "slow_tiny", "DATA.INPUT_CHANNEL_NUM", "[3]"]


def build(cfg, split: str):
    """What the engine builds: the pathways the network takes (its ``alpha``)."""
    alpha = describe_model(cfg.MODEL.MODEL_NAME, model_kwargs(cfg)).alpha
    return build_dataset(dataset_spec(cfg, split), split, alpha=alpha)


def small_cfg(folder, *opts: str):
    return load_config(
        None,
        [
            "DATA.PATH_TO_DATA_DIR",
            str(folder.root),
            "DATA.PATH_PREFIX",
            str(folder.prefix),
            "DATA.NUM_FRAMES",
            "8",
            "DATA.SAMPLING_RATE",
            "2",
            "DATA.TRAIN_JITTER_SCALES",
            "[32, 40]",
            "DATA.TRAIN_CROP_SIZE",
            "28",
            "DATA.TEST_CROP_SIZE",
            "32",
            "SLOWFAST.ALPHA",
            "4",
            "TEST.NUM_ENSEMBLE_VIEWS",
            "2",
            *opts,
        ],
    )


def test_build_dataset_reads_the_config(kinetics_dir) -> None:
    cfg = small_cfg(kinetics_dir)
    train = build(cfg, "train")
    assert train.split == "train" and len(train) == 4 and train.alpha == 4
    assert train.csv_path == str(kinetics_dir.root / "train.csv")
    assert train.videos == kinetics_dir.paths and train.labels == kinetics_dir.labels
    assert train.retry == RetryPolicy(max_retries=10, max_failure_ratio=0.1)
    assert [x.shape for x in train[0]["inputs"]] == [(3, 2, 28, 28), (3, 8, 28, 28)]
    test = build(cfg, "test")
    assert len(test) == 4 * 2 * 3
    slow = build(small_cfg(kinetics_dir, *SLOW, "SLOWFAST.ALPHA", "8"), "val")
    assert slow.alpha is None and [x.shape for x in slow[0]["inputs"]] == [(3, 8, 28, 28)]
    # Unknown data sets never reach the data package: refused at load, by key.
    with pytest.raises(ConfigError, match="TRAIN.DATASET"):
        small_cfg(kinetics_dir, "TRAIN.DATASET", "ssv2")
    with pytest.raises(ConfigError, match="TEST.DATASET"):
        small_cfg(kinetics_dir, "TEST.DATASET", "hmdb51")
    with pytest.raises(ValueError, match="split"):
        build(cfg, "holdout")


def test_dataset_spec_holds_every_data_key(kinetics_dir) -> None:
    cfg = small_cfg(
        kinetics_dir,
        "DATA.PATH_LABEL_SEPARATOR",
        ",",
        "DATA.TARGET_FPS",
        "25",
        "DATA.RANDOM_FLIP",
        "False",
        "DATA.INV_UNIFORM_SAMPLE",
        "True",
        "DATA.MEAN",
        "[0.5, 0.4, 0.3]",
        "DATA.STD",
        "[0.2, 0.2, 0.1]",
        "DATA.MAX_DECODE_RETRIES",
        "3",
        "DATA.MAX_FAILURE_RATIO",
        "0.5",
        "TEST.NUM_SPATIAL_CROPS",
        "1",
        "MODEL.NUM_CLASSES",
        "7",
        "DATA.USE_OFFSET_SAMPLING",
        "True",
        "DATA.ALLOW_DUPLICATES",
        "False",
    )
    spec = dataset_spec(cfg, "val")
    assert (spec.name, spec.root, spec.path_prefix, spec.separator, spec.num_classes) == (
        "kinetics",
        str(kinetics_dir.root),
        str(kinetics_dir.prefix),
        ",",
        7,
    )
    assert spec.sampling == ClipSampling(8, 2, 25)
    assert spec.spatial == SpatialSampling(
        (32, 40), 28, 32, random_flip=False, inverse_uniform=True
    )
    assert spec.views == TestViews(2, 1, use_offset=True)
    assert spec.normalization == Normalization((0.5, 0.4, 0.3), (0.2, 0.2, 0.1))
    assert spec.retry == RetryPolicy(3, 0.5)
    assert spec.allow_duplicates is False
    assert spec.ava is None and spec.digits is None
    assert spec.color == ColorAugmentation()  # ImageNet's only
    assert dataset_spec(cfg, "test") == spec  # TEST.DATASET is kinetics too
    hash(spec)  # frozen all the way down


def test_dataset_spec_reads_the_ava_keys(ava) -> None:
    opts = [
        "TRAIN.DATASET",
        "ava",
        "TEST.DATASET",
        "AVA",
        "DETECTION.ENABLE",
        "True",
        "AVA.FRAME_DIR",
        str(ava.frame_dir),
        "AVA.FRAME_LIST_DIR",
        str(ava.root),
        "AVA.ANNOTATION_DIR",
        str(ava.root),
        "AVA.TRAIN_LISTS",
        "['val.csv']",
        "AVA.TEST_LISTS",
        "['val.csv']",
        "AVA.TRAIN_GT_BOX_LISTS",
        "['gt.csv']",
        "AVA.TRAIN_PREDICT_BOX_LISTS",
        "['predicted.csv']",
        "AVA.TEST_PREDICT_BOX_LISTS",
        "[]",
        "AVA.GROUNDTRUTH_FILE",
        "gt.csv",
        "AVA.LABEL_MAP_FILE",
        "labels.pbtxt",
        "AVA.EXCLUSION_FILE",
        "excluded.csv",
        "AVA.DETECTION_SCORE_THRESH",
        "0.8",
        "DATA.NUM_FRAMES",
        "4",
        "DATA.SAMPLING_RATE",
        "2",
        "DATA.TRAIN_JITTER_SCALES",
        "[24, 32]",
        "DATA.TRAIN_CROP_SIZE",
        "20",
        "DATA.TEST_CROP_SIZE",
        "24",
        "SLOWFAST.ALPHA",
        "2",
        "MODEL.MODEL_NAME",
        "slowfast_tiny_detection",
        "MODEL.LOSS_FUNC",
        "bce_logit",
        "MODEL.NUM_CLASSES",
        "80",
    ]
    cfg = load_config(None, opts)
    spec = dataset_spec(cfg, "test")
    assert spec.name == "ava" and spec.ava == AvaFiles(
        str(ava.frame_dir),
        str(ava.root),
        str(ava.root),
        train_lists=("val.csv",),
        test_lists=("val.csv",),
        train_gt_box_lists=("gt.csv",),
        train_predict_box_lists=("predicted.csv",),
        test_predict_box_lists=(),
        detection_score_thresh=0.8,
        label_map_file="labels.pbtxt",
        exclusion_file="excluded.csv",
        groundtruth_file="gt.csv",
    )
    train, test = build(cfg, "train"), build(cfg, "test")
    assert len(train) == 3 and train.alpha == 2  # a SlowFast detector: two pathways
    # Test without predicted boxes reads the groundtruth file.
    assert test.samples == [(0, 902), (0, 903), (1, 903)]
    assert test[0]["boxes"].shape == (2, 4)


def test_only_ffmpeg_backends_decode_videos(kinetics_dir) -> None:
    # Refused at load, before any data set is built (config/compat.py); torchvision's
    # reader is served by PyAV (the same FFmpeg frames).
    with pytest.raises(
        ConfigError, match=r"^DATA\.DECODING_BACKEND must be one of \['pyav', 'torchvision'\]"
    ):
        small_cfg(kinetics_dir, "DATA.DECODING_BACKEND", "decord")
    cfg = small_cfg(kinetics_dir, "DATA.DECODING_BACKEND", "torchvision")
    assert dataset_spec(cfg, "train") == dataset_spec(small_cfg(kinetics_dir), "train")


def test_build_dataset_reads_the_digit_keys() -> None:
    opts = [
        "TRAIN.DATASET",
        "moving_digits",
        "TEST.DATASET",
        "moving_digits",
        "MOVING_DIGITS.NUM_TRAIN_CLIPS",
        "24",
        "MOVING_DIGITS.NUM_VAL_CLIPS",
        "12",
        "MOVING_DIGITS.SIZE",
        "40",
        "DATA.NUM_FRAMES",
        "6",
        "DATA.TRAIN_CROP_SIZE",
        "32",
        "DATA.TEST_CROP_SIZE",
        "40",
        "TEST.NUM_ENSEMBLE_VIEWS",
        "1",
        "TEST.NUM_SPATIAL_CROPS",
        "1",
        *SLOW,
    ]
    cfg = load_config(None, opts)
    assert dataset_spec(cfg, "val").digits == DigitsSettings(24, 12, 40, 0)
    train, test = build(cfg, "train"), build(cfg, "test")
    assert (len(train), len(test)) == (24, 12)
    assert train[0]["inputs"][0].shape == (3, 6, 32, 32)
    assert test[0]["inputs"][0].shape == (3, 6, 40, 40)
    with pytest.raises(ConfigError, match="TEST.NUM_ENSEMBLE_VIEWS"):
        load_config(None, opts + ["TEST.NUM_ENSEMBLE_VIEWS", "10"])
    with pytest.raises(ConfigError, match="DATA.TRAIN_CROP_SIZE"):
        load_config(None, opts + ["DATA.TRAIN_CROP_SIZE", "48"])


@pytest.mark.parametrize("reverse, name, bgr, expected", [
    (False, "kinetics", False, False), (True, "kinetics", False, True),
    (True, "ava", False, True), (False, "ava", True, True), (True, "ava", True, False),
])
def test_bgr_input_follows_pyslowfasts_two_keys(kinetics_dir, reverse, name, bgr, expected) -> None:
    cfg = small_cfg(kinetics_dir, "DATA.REVERSE_INPUT_CHANNEL", str(reverse), "AVA.BGR", str(bgr))
    cfg.TRAIN.DATASET = name  # (only the spec is built here)
    assert dataset_spec(cfg, "train").normalization.bgr is expected
