"""Data keys: PySlowFast's DATA, DETECTION and AVA nodes (names and default values).

Plus MOVING_DIGITS, ours: the embedded demo data set (:mod:`mutualnet3d.data.moving_digits`).
"""

from __future__ import annotations

from fvcore.common.config import CfgNode

from .errors import ConfigError, check_whole

__all__ = ["add_data_config", "ignored_settings", "validate_data"]

# Keys read so that PySlowFast's files load unchanged, whose behaviour is not built:
# another value than the default has no effect, which the run reports.
NOT_BUILT = {
    "DATA.TRAIN_JITTER_SCALES_RELATIVE": [],
    "DATA.TRAIN_JITTER_ASPECT_RELATIVE": [],
    "DATA.REVERSE_INPUT_CHANNEL": False,
    "DETECTION.SPATIAL_SCALE_FACTOR": 16,
    "DETECTION.ROI_XFORM_RESOLUTION": 7,
    "AVA.BGR": False,
    "AVA.TRAIN_USE_COLOR_AUGMENTATION": False,
    "AVA.TEST_FORCE_FLIP": False,
}


def add_data_config(cfg: CfgNode) -> None:
    """Add the DATA, DETECTION, AVA and MOVING_DIGITS nodes."""
    cfg.DATA = CfgNode()
    cfg.DATA.PATH_TO_DATA_DIR = ""  # folder of {train,val,test}.csv (or ImageNet's)
    cfg.DATA.PATH_PREFIX = ""  # joined before every video path of the csv files
    cfg.DATA.PATH_LABEL_SEPARATOR = " "  # between path and label in the csv files
    cfg.DATA.NUM_FRAMES = 8  # frames per clip (the Fast pathway's, for SlowFast)
    cfg.DATA.SAMPLING_RATE = 8  # stride between sampled frames, at TARGET_FPS
    cfg.DATA.TARGET_FPS = 30  # videos are resampled to this rate before sampling
    cfg.DATA.TRAIN_JITTER_SCALES = [256, 320]  # short-side range of scale jitter
    # ImageNet: Inception-style area and aspect ranges; non-empty replaces the above.
    cfg.DATA.TRAIN_JITTER_SCALES_RELATIVE = []
    cfg.DATA.TRAIN_JITTER_ASPECT_RELATIVE = []
    # Charades: draw 1 / scale uniformly instead of the scale itself.
    cfg.DATA.INV_UNIFORM_SAMPLE = False
    cfg.DATA.TRAIN_CROP_SIZE = 224  # training crop (the full network's input size)
    cfg.DATA.TEST_CROP_SIZE = 256  # test crop (and short side, with 3 crops)
    cfg.DATA.INPUT_CHANNEL_NUM = [3, 3]  # input channels per pathway
    cfg.DATA.MEAN = [0.45, 0.45, 0.45]  # per-channel mean of pixels in [0, 1]
    cfg.DATA.STD = [0.225, 0.225, 0.225]  # per-channel std of pixels in [0, 1]
    # PCA lighting noise (RGB), used with AVA.TRAIN_USE_COLOR_AUGMENTATION.
    cfg.DATA.TRAIN_PCA_EIGVAL = [0.225, 0.224, 0.229]
    cfg.DATA.TRAIN_PCA_EIGVEC = [
        [-0.5675, 0.7192, 0.4009],
        [-0.5808, -0.0045, -0.8140],
        [-0.5836, -0.6948, 0.4203],
    ]
    cfg.DATA.DECODING_BACKEND = "pyav"  # video decoder: pyav or torchvision
    cfg.DATA.RANDOM_FLIP = True  # random horizontal flip in training
    cfg.DATA.REVERSE_INPUT_CHANNEL = False  # feed BGR instead of RGB (Charades)
    cfg.DATA.MULTI_LABEL = False  # several labels per video; mAP metric (Charades)
    cfg.DATA.ENSEMBLE_METHOD = "sum"  # how test views combine: sum or max
    # Not PySlowFast's: how the loader survives videos that fail to decode.
    cfg.DATA.MAX_DECODE_RETRIES = 10  # other videos tried after a failed decode
    cfg.DATA.MAX_FAILURE_RATIO = 0.1  # stop when more of an epoch's videos fail

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
    cfg.MOVING_DIGITS.NUM_VAL_CLIPS = 1200  # clips of held-out digits (val and test)
    cfg.MOVING_DIGITS.SIZE = 64  # rendered frame side, before the crop
    cfg.MOVING_DIGITS.SEED = 0  # the data set is a function of this seed


def ignored_settings(cfg: CfgNode) -> list[str]:
    """``KEY=value`` for each data key set to a value that has no effect here."""
    ignored = []
    for key, default in NOT_BUILT.items():
        node, name = key.split(".")
        if cfg[node][name] != default:
            ignored.append(f"{key}={cfg[node][name]!r}")
    return ignored


def validate_data(cfg: CfgNode) -> None:
    """Detection (boxes, RoI head) goes with the AVA data set and only with it; the
    digits sets have one test view, of crops no larger than the frames."""
    for key in ("TRAIN.DATASET", "TEST.DATASET"):
        node, name = key.split(".")
        is_ava = cfg[node][name].lower() == "ava"
        if is_ava != cfg.DETECTION.ENABLE:
            raise ConfigError(
                f"{key} is {cfg[node][name]!r} but DETECTION.ENABLE is {cfg.DETECTION.ENABLE}: "
                "detection (boxes, RoI head) goes with the ava data set and only with it"
            )
    names = {cfg.TRAIN.DATASET.lower(), cfg.TEST.DATASET.lower()}
    if "moving_digits" in names:
        digits = cfg.MOVING_DIGITS
        for key in ("NUM_TRAIN_CLIPS", "NUM_VAL_CLIPS", "SIZE"):
            check_whole(f"MOVING_DIGITS.{key}", digits[key], 1)
        for key in ("TRAIN_CROP_SIZE", "TEST_CROP_SIZE"):
            if not 1 <= cfg.DATA[key] <= digits.SIZE:
                raise ConfigError(
                    f"DATA.{key} must be in [1, MOVING_DIGITS.SIZE={digits.SIZE}] for "
                    f"moving_digits, got {cfg.DATA[key]!r}"
                )
    for name in names & {"moving_digits", "mnist_digits"}:
        if cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS != 1:
            raise ConfigError(
                f"{name} has one test view per clip: set TEST.NUM_ENSEMBLE_VIEWS and "
                f"TEST.NUM_SPATIAL_CROPS to 1, got {cfg.TEST.NUM_ENSEMBLE_VIEWS} and "
                f"{cfg.TEST.NUM_SPATIAL_CROPS}"
            )
