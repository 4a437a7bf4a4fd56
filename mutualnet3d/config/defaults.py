"""Run-level defaults: PySlowFast's key names and values (slowfast/config/defaults.py).

Only the keys this library reads are defined, so a key that would be silently ignored is
an error instead. Data, model and MutualNet keys live in ``data.py``, ``model.py`` and
``mutualnet.py``.
"""

from fvcore.common.config import CfgNode


def add_run_config(cfg: CfgNode) -> None:
    """Top-level keys, TRAIN, TEST, SOLVER, BN, DATA_LOADER and TENSORBOARD."""
    cfg.NUM_GPUS = 1  # GPUs per node; 0 runs on the CPU
    cfg.NUM_SHARDS = 1  # nodes
    cfg.SHARD_ID = 0  # this node's index
    cfg.OUTPUT_DIR = "./output"  # checkpoints, logs, tables and plots go here
    cfg.RNG_SEED = 1
    cfg.LOG_PERIOD = 10  # iterations between training log lines
    cfg.LOG_MODEL_INFO = True  # print the model, its parameters and FLOPs at start
    cfg.DIST_BACKEND = "nccl"  # "nccl" on GPUs; the CPU always uses "gloo"

    cfg.TRAIN = CfgNode()
    cfg.TRAIN.ENABLE = True
    cfg.TRAIN.DATASET = "kinetics"  # kinetics, charades, ava, imagenet
    cfg.TRAIN.BATCH_SIZE = 64  # total over all GPUs and nodes
    cfg.TRAIN.EVAL_PERIOD = 10  # epochs between validations
    cfg.TRAIN.CHECKPOINT_PERIOD = 10  # epochs between checkpoints
    cfg.TRAIN.AUTO_RESUME = True  # continue from the newest good checkpoint in OUTPUT_DIR
    cfg.TRAIN.CHECKPOINT_FILE_PATH = ""  # weights to start from (fine-tuning)
    cfg.TRAIN.CHECKPOINT_TYPE = "pytorch"  # "pytorch" (PySlowFast, PyTorchVideo, ours)
    cfg.TRAIN.CHECKPOINT_INFLATE = False  # inflate 2D weights to 3D
    cfg.TRAIN.CHECKPOINT_EPOCH_RESET = False  # restart the epoch count at 0
    cfg.TRAIN.MIXED_PRECISION = False  # torch.autocast on CUDA

    cfg.TEST = CfgNode()
    cfg.TEST.ENABLE = True
    cfg.TEST.DATASET = "kinetics"
    cfg.TEST.BATCH_SIZE = 8  # total over all GPUs and nodes
    cfg.TEST.CHECKPOINT_FILE_PATH = ""  # weights to test (default: the last checkpoint)
    cfg.TEST.CHECKPOINT_TYPE = "pytorch"
    cfg.TEST.NUM_ENSEMBLE_VIEWS = 10  # temporal clips per video
    cfg.TEST.NUM_SPATIAL_CROPS = 3  # spatial crops per clip (1 or 3)
    cfg.TEST.SAVE_RESULTS_PATH = ""  # pickle of predictions and labels, if set

    cfg.SOLVER = CfgNode()
    cfg.SOLVER.OPTIMIZING_METHOD = "sgd"  # sgd, adam, adamw
    cfg.SOLVER.BASE_LR = 0.1
    cfg.SOLVER.BASE_LR_SCALE_NUM_SHARDS = False  # scale BASE_LR by NUM_SHARDS
    cfg.SOLVER.LR_POLICY = "cosine"  # cosine, steps_with_relative_lrs, constant
    cfg.SOLVER.COSINE_END_LR = 0.0
    cfg.SOLVER.COSINE_AFTER_WARMUP = False  # cosine starts after the warm-up
    cfg.SOLVER.GAMMA = 0.1
    cfg.SOLVER.STEP_SIZE = 1
    cfg.SOLVER.STEPS = []  # epochs at which the step policy changes rate
    cfg.SOLVER.LRS = []  # relative rates of the steps
    cfg.SOLVER.MAX_EPOCH = 300
    cfg.SOLVER.MOMENTUM = 0.9
    cfg.SOLVER.DAMPENING = 0.0
    cfg.SOLVER.NESTEROV = True
    cfg.SOLVER.WEIGHT_DECAY = 1e-4
    cfg.SOLVER.ZERO_WD_1D_PARAM = False  # no weight decay on biases and 1-D parameters
    cfg.SOLVER.WARMUP_FACTOR = 0.1
    cfg.SOLVER.WARMUP_EPOCHS = 0.0  # linear warm-up length
    cfg.SOLVER.WARMUP_START_LR = 0.01
    cfg.SOLVER.CLIP_GRAD_VAL = None  # clip gradients by value (None: off)
    cfg.SOLVER.CLIP_GRAD_L2NORM = None  # clip gradients by global L2 norm (None: off)

    cfg.BN = CfgNode()
    cfg.BN.USE_PRECISE_STATS = False  # PySlowFast's precise BN at full configuration
    cfg.BN.NUM_BATCHES_PRECISE = 200
    cfg.BN.WEIGHT_DECAY = 0.0  # weight decay of BN parameters
    cfg.BN.NORM_TYPE = "batchnorm"  # batchnorm, sync_batchnorm
    cfg.BN.NUM_SPLITS = 1
    cfg.BN.NUM_SYNC_DEVICES = 1

    cfg.DATA_LOADER = CfgNode()
    cfg.DATA_LOADER.NUM_WORKERS = 8  # per process
    cfg.DATA_LOADER.PIN_MEMORY = True
    cfg.DATA_LOADER.ENABLE_MULTI_THREAD_DECODE = False

    cfg.TENSORBOARD = CfgNode()
    cfg.TENSORBOARD.ENABLE = False
    cfg.TENSORBOARD.LOG_DIR = ""  # relative to OUTPUT_DIR (default: "runs-<dataset>")
