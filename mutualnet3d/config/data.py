"""Data keys: PySlowFast's DATA, AVA and DETECTION nodes."""

from fvcore.common.config import CfgNode


def add_data_config(cfg: CfgNode) -> None:
    cfg.DATA = CfgNode()
    cfg.DATA.PATH_TO_DATA_DIR = ""  # {train,val,test}.csv (or the data set's own files)
    cfg.DATA.PATH_PREFIX = ""  # joined before every video path
    cfg.DATA.PATH_LABEL_SEPARATOR = " "  # between path and label in the csv files
    cfg.DATA.NUM_FRAMES = 8  # frames of the (Fast, for SlowFast) clip
    cfg.DATA.SAMPLING_RATE = 8  # frame stride, at TARGET_FPS
    cfg.DATA.TARGET_FPS = 30
    cfg.DATA.TRAIN_JITTER_SCALES = [256, 320]  # short-side range of scale jitter
    cfg.DATA.TRAIN_CROP_SIZE = 224
    cfg.DATA.TEST_CROP_SIZE = 256
    cfg.DATA.INPUT_CHANNEL_NUM = [3, 3]  # channels per pathway
    cfg.DATA.MEAN = [0.45, 0.45, 0.45]
    cfg.DATA.STD = [0.225, 0.225, 0.225]
    cfg.DATA.DECODING_BACKEND = "pyav"
    cfg.DATA.RANDOM_FLIP = True
    cfg.DATA.REVERSE_INPUT_CHANNEL = False  # RGB -> BGR
    cfg.DATA.MULTI_LABEL = False  # Charades
    cfg.DATA.ENSEMBLE_METHOD = "sum"  # view aggregation: sum, max (Charades)
    cfg.DATA.MAX_DECODE_RETRIES = 10  # other videos tried after a failed decode
    cfg.DATA.MAX_FAILURE_RATIO = 0.1  # stop when more of an epoch's videos fail

    cfg.DETECTION = CfgNode()
    cfg.DETECTION.ENABLE = False  # AVA: RoI head and boxes
    cfg.DETECTION.ALIGNED = True  # RoIAlign's half-pixel alignment
    cfg.DETECTION.SPATIAL_SCALE_FACTOR = 16  # feature stride of the RoI head
    cfg.DETECTION.ROI_XFORM_RESOLUTION = 7  # RoIAlign output size

    cfg.AVA = CfgNode()
    cfg.AVA.FRAME_DIR = ""  # frames/<video>/<video>_%06d.jpg
    cfg.AVA.FRAME_LIST_DIR = ""  # train.csv / val.csv frame lists
    cfg.AVA.ANNOTATION_DIR = ""  # box, label-map, exclusion and ground-truth files
    cfg.AVA.TRAIN_LISTS = ["train.csv"]
    cfg.AVA.TEST_LISTS = ["val.csv"]
    cfg.AVA.TRAIN_GT_BOX_LISTS = ["ava_train_v2.2.csv"]
    cfg.AVA.TRAIN_PREDICT_BOX_LISTS = []
    cfg.AVA.TEST_PREDICT_BOX_LISTS = ["ava_val_predicted_boxes.csv"]
    cfg.AVA.DETECTION_SCORE_THRESH = 0.9  # detected boxes kept above this score
    cfg.AVA.BGR = False
    cfg.AVA.TRAIN_USE_COLOR_AUGMENTATION = False
    cfg.AVA.TEST_FORCE_FLIP = False
    cfg.AVA.FULL_TEST_ON_VAL = False
    cfg.AVA.LABEL_MAP_FILE = "ava_action_list_v2.2_for_activitynet_2019.pbtxt"
    cfg.AVA.EXCLUSION_FILE = "ava_val_excluded_timestamps_v2.2.csv"
    cfg.AVA.GROUNDTRUTH_FILE = "ava_val_v2.2.csv"
