"""Data keys: PySlowFast's DATA, DETECTION and AVA nodes (names and default values).

Plus MOVING_DIGITS, ours: the embedded demo data set (:mod:`mutualnet3d.data.moving_digits`).
"""

from __future__ import annotations

from fvcore.common.config import CfgNode

from ..data import DATASET_ALIASES, DATASETS
from .errors import ConfigError, check_choice, check_whole, is_number

__all__ = ["add_data_config", "dataset_name", "validate_data"]

#: the data sets whose clips are cut with PySlowFast's scale jitter and crops
_CLIP_DATASETS = ("kinetics", "charades", "ava")
#: PySlowFast's default PCA of the lighting noise (DATA.TRAIN_PCA_EIGVAL / EIGVEC)
_PCA_EIGVAL = [0.225, 0.224, 0.229]
_PCA_EIGVEC = [
    [-0.5675, 0.7192, 0.4009],
    [-0.5808, -0.0045, -0.8140],
    [-0.5836, -0.6948, 0.4203],
]


def add_data_config(cfg: CfgNode) -> None:
    """Add the DATA, DETECTION, AVA and MOVING_DIGITS nodes."""
    # Long: one line per key, in PySlowFast's order, read top to bottom like its defaults.
    cfg.DATA = CfgNode()
    cfg.DATA.PATH_TO_DATA_DIR = ""  # folder of {train,val,test}.csv (or ImageNet's)
    cfg.DATA.PATH_PREFIX = ""  # joined before every video path of the csv files
    cfg.DATA.PATH_LABEL_SEPARATOR = " "  # between path and label in the csv files
    cfg.DATA.NUM_FRAMES = 8  # frames per clip (the Fast pathway's, for SlowFast)
    cfg.DATA.SAMPLING_RATE = 8  # stride between sampled frames, at TARGET_FPS
    cfg.DATA.TARGET_FPS = 30  # videos are resampled to this rate before sampling
    cfg.DATA.TRAIN_JITTER_SCALES = [256, 320]  # short-side range of scale jitter
    # ImageNet's Inception-style crop: area and aspect ranges ([]: 0.08-1 and 3/4-4/3);
    # ImageNet never reads TRAIN_JITTER_SCALES, the videos never read these.
    cfg.DATA.TRAIN_JITTER_SCALES_RELATIVE = []
    cfg.DATA.TRAIN_JITTER_ASPECT_RELATIVE = []
    # Charades: draw 1 / scale uniformly instead of the scale itself.
    cfg.DATA.INV_UNIFORM_SAMPLE = False
    cfg.DATA.TRAIN_CROP_SIZE = 224  # training crop (the full network's input size)
    cfg.DATA.TEST_CROP_SIZE = 256  # test crop (and short side, with 3 crops)
    cfg.DATA.INPUT_CHANNEL_NUM = [3, 3]  # input channels per pathway
    cfg.DATA.MEAN = [0.45, 0.45, 0.45]  # per-channel mean of pixels in [0, 1]
    cfg.DATA.STD = [0.225, 0.225, 0.225]  # per-channel std of pixels in [0, 1]
    # ImageNet's training colour augmentation (the official MutualNet recipe: 0.4, 0.1).
    # Not in PySlowFast: brightness, contrast and saturation jitter of this strength
    # (torchvision's ColorJitter(x, x, x)); 0: off.
    cfg.DATA.TRAIN_COLOR_JITTER = 0.0
    # Not in PySlowFast (its ImageNet loader always uses 0.1): std of the alphas of AlexNet's
    # PCA lighting noise, an RGB offset EIGVEC @ (alpha * EIGVAL) per image; 0: off.
    cfg.DATA.TRAIN_PCA_ALPHA_STD = 0.0
    # The PCA of that noise (RGB, pixels in [0, 1]; EIGVEC's columns are the components).
    # PySlowFast's defaults; AlexNet's ImageNet values are [0.2175, 0.0188, 0.0045].
    cfg.DATA.TRAIN_PCA_EIGVAL = list(_PCA_EIGVAL)
    cfg.DATA.TRAIN_PCA_EIGVEC = [list(row) for row in _PCA_EIGVEC]
    cfg.DATA.DECODING_BACKEND = "pyav"  # video decoder: pyav or torchvision
    cfg.DATA.RANDOM_FLIP = True  # random horizontal flip in training
    cfg.DATA.REVERSE_INPUT_CHANNEL = False  # feed BGR instead of RGB (Charades)
    cfg.DATA.MULTI_LABEL = False  # several labels per video; mAP metric (Charades)
    cfg.DATA.ENSEMBLE_METHOD = "sum"  # how test views combine: sum or max
    # Where decoded videos' test clips start: False (PySlowFast's default) clip i of n at
    # delta * i / n; True from the first frame to the last, one clip centred.
    cfg.DATA.USE_OFFSET_SAMPLING = False
    # Not PySlowFast's: how the loader survives videos that fail to decode.
    cfg.DATA.MAX_DECODE_RETRIES = 10  # other videos tried after a failed decode
    cfg.DATA.MAX_FAILURE_RATIO = 0.1  # stop when more of an epoch's videos fail
    # Annotation rows listed twice (Kinetics' path and label, a frame of a Charades or
    # AVA video): True keeps them, as PySlowFast, warning once per file with the count;
    # False refuses the file, naming the first duplicate line.
    cfg.DATA.ALLOW_DUPLICATES = True

    cfg.DETECTION = CfgNode()
    cfg.DETECTION.ENABLE = False  # action detection (AVA): boxes and an RoI head
    cfg.DETECTION.ALIGNED = True  # RoIAlign with half-pixel alignment
    cfg.DETECTION.SPATIAL_SCALE_FACTOR = 16  # input pixels per feature-map pixel
    cfg.DETECTION.ROI_XFORM_RESOLUTION = 7  # RoIAlign output size

    # PySlowFast's defaults point at its authors' machines; here paths start empty.
    cfg.AVA = CfgNode()
    cfg.AVA.FRAME_DIR = ""  # extracted frames: <video>/<video>_%06d.jpg
    cfg.AVA.FRAME_LIST_DIR = ""  # folder of the frame lists (TRAIN_LISTS, ...)
    cfg.AVA.ANNOTATION_DIR = ""  # folder of boxes, label map, exclusions, truth
    cfg.AVA.TRAIN_LISTS = ["train.csv"]  # frame lists of the training videos
    cfg.AVA.TEST_LISTS = ["val.csv"]  # frame lists of the test videos
    cfg.AVA.TRAIN_GT_BOX_LISTS = ["ava_train_v2.2.csv"]  # ground-truth train boxes
    cfg.AVA.TRAIN_PREDICT_BOX_LISTS = []  # detected train boxes, added to the above
    cfg.AVA.TEST_PREDICT_BOX_LISTS = ["ava_val_predicted_boxes.csv"]  # test boxes
    cfg.AVA.DETECTION_SCORE_THRESH = 0.9  # detected boxes kept above this score
    cfg.AVA.BGR = False  # frames are read as BGR
    cfg.AVA.TRAIN_USE_COLOR_AUGMENTATION = False  # colour jitter and PCA lighting
    cfg.AVA.TRAIN_PCA_JITTER_ONLY = True  # colour augmentation is PCA lighting only
    cfg.AVA.TEST_FORCE_FLIP = False  # flip the test frames horizontally
    cfg.AVA.FULL_TEST_ON_VAL = False  # validate on the full val set, not a subset
    cfg.AVA.LABEL_MAP_FILE = "ava_action_list_v2.2_for_activitynet_2019.pbtxt"
    cfg.AVA.EXCLUSION_FILE = "ava_val_excluded_timestamps_v2.2.csv"  # skipped frames
    cfg.AVA.GROUNDTRUTH_FILE = "ava_val_v2.2.csv"  # boxes and labels scored against
    cfg.AVA.IMG_PROC_BACKEND = "cv2"  # image transforms: cv2 or pytorch

    # TRAIN.DATASET moving_digits: clips rendered in memory from MNIST digits; frames
    # per clip from DATA.NUM_FRAMES, crops from DATA.TRAIN_CROP_SIZE / TEST_CROP_SIZE.
    cfg.MOVING_DIGITS = CfgNode()
    cfg.MOVING_DIGITS.NUM_TRAIN_CLIPS = 4800  # clips per training epoch (motion i % 12)
    cfg.MOVING_DIGITS.NUM_VAL_CLIPS = 1200  # clips of held-out digits (val; test as many)
    cfg.MOVING_DIGITS.SIZE = 64  # rendered frame side, before the crop
    cfg.MOVING_DIGITS.SEED = 0  # the data set is a function of this seed

    # TRAIN.DATASET fashion_mnist: the IDX files in DATA.PATH_TO_DATA_DIR (empty: where
    # Debian's dataset-fashion-mnist puts them); val is the training file's last 5,000.
    cfg.FASHION_MNIST = CfgNode()
    cfg.FASHION_MNIST.NUM_TRAIN_IMAGES = 0  # the first N of the other 55,000 (0: all)


def dataset_name(name: str) -> str:
    """The data set a TRAIN/TEST.DATASET value names: case-insensitive, PySlowFast's
    ``ptv*`` loaders of the same files read as ours (:data:`DATASET_ALIASES`)."""
    name = name.lower()
    return DATASET_ALIASES.get(name, name)


def validate_data(cfg: CfgNode) -> None:
    """Names, views and crops of the data sets, checked before any of them is built.

    Detection (boxes, RoI head) goes with the AVA data set and only with it; crops must
    fit the frames they are cut from in every split (the test split is read only after
    training); the digits sets have one test view, of crops no larger than the frames.
    """
    data = cfg.DATA
    for key in ("TRAIN.DATASET", "TEST.DATASET"):
        node, name = key.split(".")
        check_choice(key, cfg[node][name].lower(), DATASETS + tuple(DATASET_ALIASES))
        dataset = dataset_name(cfg[node][name])
        if (dataset == "ava") != cfg.DETECTION.ENABLE:
            raise ConfigError(
                f"{key} is {cfg[node][name]!r} but DETECTION.ENABLE is {cfg.DETECTION.ENABLE}: "
                "detection (boxes, RoI head) goes with the ava data set and only with it"
            )
    check_choice("DATA.ENSEMBLE_METHOD", data.ENSEMBLE_METHOD, ("sum", "max"))
    if cfg.TEST.SAVE_RESULTS_PATH and cfg.DETECTION.ENABLE:
        raise ConfigError(
            f"TEST.SAVE_RESULTS_PATH ({cfg.TEST.SAVE_RESULTS_PATH!r}) is written by the "
            "multi-view test of classification; AVA's test writes test_results.json only"
        )
    check_whole("TEST.NUM_ENSEMBLE_VIEWS", cfg.TEST.NUM_ENSEMBLE_VIEWS, 1)
    check_choice("TEST.NUM_SPATIAL_CROPS", cfg.TEST.NUM_SPATIAL_CROPS, (1, 3))
    for key in ("MEAN", "STD"):
        values = list(data[key])
        if len(values) != 3 or not all(is_number(v) for v in values):
            raise ConfigError(f"DATA.{key} must hold 3 numbers (RGB), got {values!r}")
    if min(data.STD) <= 0:
        raise ConfigError(f"DATA.STD must be > 0, got {list(data.STD)!r}")
    names = {dataset_name(cfg.TRAIN.DATASET), dataset_name(cfg.TEST.DATASET)}
    _validate_relative_crops(data, names)
    _validate_color(cfg)
    if names & set(_CLIP_DATASETS):
        _validate_clip_crops(cfg)
    if "moving_digits" in names:
        _validate_moving_digits(cfg)
    _validate_fashion_mnist(cfg, names)
    for name in names & {"moving_digits", "mnist_digits", "fashion_mnist"}:
        if cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS != 1:
            raise ConfigError(
                f"{name} has one test view per clip: set TEST.NUM_ENSEMBLE_VIEWS and "
                f"TEST.NUM_SPATIAL_CROPS to 1, got {cfg.TEST.NUM_ENSEMBLE_VIEWS} and "
                f"{cfg.TEST.NUM_SPATIAL_CROPS}"
            )


def _validate_relative_crops(data: CfgNode, names: set[str]) -> None:
    """Random resized crops (area and aspect ranges) are built for ImageNet only."""
    for key in ("TRAIN_JITTER_SCALES_RELATIVE", "TRAIN_JITTER_ASPECT_RELATIVE"):
        values = list(data[key])
        if not values:
            continue
        if names != {"imagenet"}:
            raise ConfigError(
                f"DATA.{key} {values} acts for imagenet only (random resized crops of "
                f"videos are not built), got data sets {sorted(names)}"
            )
        if (
            len(values) != 2
            or not all(is_number(v) for v in values)
            or not 0 < values[0] <= values[1]
        ):
            raise ConfigError(
                f"DATA.{key} must be [] or [min, max] with 0 < min <= max, got {values}"
            )


def _validate_color(cfg: CfgNode) -> None:
    """Colour jitter and lighting noise are built for ImageNet's training images only;
    the PCA is read by the lighting noise only, so it must then stay at its default."""
    data = cfg.DATA
    for key in ("TRAIN_COLOR_JITTER", "TRAIN_PCA_ALPHA_STD"):
        value = data[key]
        if not (is_number(value) and value >= 0):
            raise ConfigError(f"DATA.{key} must be a number >= 0 (0: off), got {value!r}")
        train = dataset_name(cfg.TRAIN.DATASET)
        if value and train != "imagenet":
            raise ConfigError(
                f"DATA.{key} {value} acts for imagenet only (colour augmentation of "
                f"videos and digits is not built), got TRAIN.DATASET {cfg.TRAIN.DATASET!r}"
            )
    eigval, eigvec = list(data.TRAIN_PCA_EIGVAL), list(data.TRAIN_PCA_EIGVEC)
    if len(eigval) != 3 or not all(is_number(v) for v in eigval):
        raise ConfigError(f"DATA.TRAIN_PCA_EIGVAL must hold 3 numbers, got {eigval!r}")
    rows_ok = all(
        isinstance(r, (list, tuple)) and len(r) == 3 and all(is_number(v) for v in r)
        for r in eigvec
    )
    if len(eigvec) != 3 or not rows_ok:
        raise ConfigError(f"DATA.TRAIN_PCA_EIGVEC must be 3 rows of 3 numbers, got {eigvec!r}")
    if data.TRAIN_PCA_ALPHA_STD:
        return
    for key, value, default in (
        ("TRAIN_PCA_EIGVAL", eigval, _PCA_EIGVAL),
        ("TRAIN_PCA_EIGVEC", [list(r) for r in eigvec], _PCA_EIGVEC),
    ):
        if value != default:
            raise ConfigError(
                f"DATA.{key} acts with DATA.TRAIN_PCA_ALPHA_STD > 0 only (the lighting "
                f"noise), which is 0: leave it at its default or set the noise's std"
            )


def _validate_clip_crops(cfg: CfgNode) -> None:
    """PySlowFast's spatial sampling: train/val crop from the short side scaled to
    TRAIN_JITTER_SCALES[0] or more; 3 test crops cut TEST_CROP_SIZE's full short side,
    1 test crop is centred in a short side of TRAIN_JITTER_SCALES[0] (AVA tests on the
    whole frame scaled to TEST_CROP_SIZE)."""
    data = cfg.DATA
    for key in ("NUM_FRAMES", "SAMPLING_RATE"):
        check_whole(f"DATA.{key}", data[key], 1)
    scales = list(data.TRAIN_JITTER_SCALES)
    if (
        len(scales) != 2
        or not all(isinstance(v, int) for v in scales)
        or not 0 < scales[0] <= scales[1]
    ):
        raise ConfigError(
            f"DATA.TRAIN_JITTER_SCALES must be [min, max] whole numbers with 0 < min <= max, "
            f"got {scales!r}"
        )
    if not 1 <= data.TRAIN_CROP_SIZE <= scales[0]:
        raise ConfigError(
            f"DATA.TRAIN_CROP_SIZE ({data.TRAIN_CROP_SIZE}) must be in [1, "
            f"DATA.TRAIN_JITTER_SCALES[0] = {scales[0]}]: train and val crop from that short side"
        )
    check_whole("DATA.TEST_CROP_SIZE", data.TEST_CROP_SIZE, 1)
    one_crop = cfg.TEST.NUM_SPATIAL_CROPS == 1 and cfg.TEST.DATASET.lower() != "ava"
    if one_crop and data.TEST_CROP_SIZE > scales[0]:
        raise ConfigError(
            f"DATA.TEST_CROP_SIZE ({data.TEST_CROP_SIZE}) must be in [1, "
            f"DATA.TRAIN_JITTER_SCALES[0] = {scales[0]}] with TEST.NUM_SPATIAL_CROPS 1: "
            "the centre crop is cut from that short side"
        )


def _validate_fashion_mnist(cfg: CfgNode, names: set[str]) -> None:
    count = cfg.FASHION_MNIST.NUM_TRAIN_IMAGES
    if not (isinstance(count, int) and 0 <= count <= 55000):
        raise ConfigError(f"FASHION_MNIST.NUM_TRAIN_IMAGES must be in [0, 55000], got {count!r}")
    if count and "fashion_mnist" not in names:
        raise ConfigError(
            f"FASHION_MNIST.NUM_TRAIN_IMAGES {count} acts for fashion_mnist only, got data "
            f"sets {sorted(names)}"
        )


def _validate_moving_digits(cfg: CfgNode) -> None:
    digits = cfg.MOVING_DIGITS
    for key in ("NUM_TRAIN_CLIPS", "NUM_VAL_CLIPS", "SIZE"):
        check_whole(f"MOVING_DIGITS.{key}", digits[key], 1)
    for key in ("TRAIN_CROP_SIZE", "TEST_CROP_SIZE"):
        if not 1 <= cfg.DATA[key] <= digits.SIZE:
            raise ConfigError(
                f"DATA.{key} must be in [1, MOVING_DIGITS.SIZE={digits.SIZE}] for "
                f"moving_digits, got {cfg.DATA[key]!r}"
            )
