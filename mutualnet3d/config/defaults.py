"""Run-level keys: top-level scalars, TRAIN, TEST, SOLVER, BN, DATA_LOADER, TENSORBOARD.

Names and default values are PySlowFast's (``slowfast/config/defaults.py``), so a
PySlowFast YAML file for Slow, SlowFast or X3D loads unchanged. Features this library
does not implement (multigrid, MViT, mixup, demo, model visualisation) have no keys:
setting one is an error, not a silently ignored line. Data keys live in ``data.py``,
model keys in ``model.py`` and the MutualNet keys in ``mutualnet.py``.
"""

from __future__ import annotations

from typing import Optional

from fvcore.common.config import CfgNode

from .errors import ConfigError, check_choice, check_whole, is_number, lookup

__all__ = [
    "LR_POLICIES",
    "OPTIMIZERS",
    "WEIGHT_DECAY_RULES",
    "add_run_config",
    "check_process_layout",
    "sync_bn_group",
    "validate_run",
]

#: SOLVER.LR_POLICY values the engine's schedule implements
LR_POLICIES = ("cosine", "steps_with_relative_lrs", "constant")
#: SOLVER.OPTIMIZING_METHOD values the engine builds
OPTIMIZERS = ("sgd", "adam", "adamw")
#: SOLVER.WEIGHT_DECAY_RULE values (the engine's ``solver.WEIGHT_DECAY_RULES``)
WEIGHT_DECAY_RULES = ("pyslowfast", "mutualnet")


def add_run_config(cfg: CfgNode) -> None:
    """Add the top-level keys and the TRAIN, TEST, SOLVER, BN, DATA_LOADER nodes."""
    # Long: one line per key, in PySlowFast's order, read top to bottom like its defaults.
    cfg.NUM_GPUS = 1  # GPUs per node (processes per node); 0 runs on the CPU
    cfg.NUM_SHARDS = 1  # nodes (machines) taking part in the job
    cfg.SHARD_ID = 0  # this node's index in [0, NUM_SHARDS)
    cfg.OUTPUT_DIR = "./tmp"  # checkpoints, logs, query tables and plots go here
    cfg.RNG_SEED = 1  # seeds Python, NumPy and torch in every process
    cfg.LOG_PERIOD = 10  # iterations between training log lines
    cfg.LOG_MODEL_INFO = True  # log the model, its parameters and FLOPs at start
    cfg.DIST_BACKEND = "nccl"  # torch.distributed backend on GPUs (CPU runs use gloo)
    # Not in PySlowFast (which keeps torch's 30 minutes): seconds a process waits for the
    # others (rendezvous, collectives) before the run stops, naming the silent rank.
    cfg.DIST_TIMEOUT = 1800
    # Not in PySlowFast (detectron2's name): torch.backends.cudnn.benchmark, cuDNN timing
    # its algorithms for each new input shape and keeping the fastest. GPUs only: True
    # with NUM_GPUS 0 is refused, and so is True with DETERMINISTIC (the timing decides).
    cfg.CUDNN_BENCHMARK = False
    # Not in PySlowFast: deterministic algorithms (torch.use_deterministic_algorithms with
    # warn_only: PyTorch warns, naming the op, where it has none; cudnn.deterministic;
    # CUBLAS_WORKSPACE_CONFIG :4096:8 unless set), so that reruns give the same weights.
    cfg.DETERMINISTIC = False

    cfg.TRAIN = CfgNode()
    cfg.TRAIN.ENABLE = True  # train; False skips straight to the later stages
    cfg.TRAIN.DATASET = "kinetics"  # kinetics, charades, ava, imagenet
    cfg.TRAIN.BATCH_SIZE = 64  # clips per iteration, summed over all processes
    cfg.TRAIN.EVAL_PERIOD = 10  # epochs between validations (0: never)
    cfg.TRAIN.CHECKPOINT_PERIOD = 10  # epochs between checkpoints
    cfg.TRAIN.AUTO_RESUME = True  # continue from the newest checkpoint in OUTPUT_DIR
    cfg.TRAIN.CHECKPOINT_FILE_PATH = ""  # weights to start from (fine-tuning)
    cfg.TRAIN.CHECKPOINT_TYPE = "pytorch"  # pytorch (PySlowFast's .pyth) or caffe2
    cfg.TRAIN.CHECKPOINT_INFLATE = False  # inflate 2D weights to 3D when loading
    cfg.TRAIN.CHECKPOINT_EPOCH_RESET = False  # restart the epoch count at 0 on load
    # torch.autocast in training: float16 with a GradScaler on CUDA, bfloat16 on the CPU
    cfg.TRAIN.MIXED_PRECISION = False

    cfg.TEST = CfgNode()
    cfg.TEST.ENABLE = True  # run the multi-view test after training
    cfg.TEST.DATASET = "kinetics"  # data set of the test split
    cfg.TEST.BATCH_SIZE = 8  # clips per test iteration, summed over all processes
    cfg.TEST.CHECKPOINT_FILE_PATH = ""  # weights to test ("": the last checkpoint)
    cfg.TEST.CHECKPOINT_TYPE = "pytorch"  # pytorch or caffe2
    cfg.TEST.NUM_ENSEMBLE_VIEWS = 10  # clips per video, uniform in time
    cfg.TEST.NUM_SPATIAL_CROPS = 3  # crops per clip (1: centre; 3: left/centre/right)
    cfg.TEST.SAVE_RESULTS_PATH = ""  # pickle of predictions, labels in OUTPUT_DIR ("": off)

    cfg.SOLVER = CfgNode()
    cfg.SOLVER.OPTIMIZING_METHOD = "sgd"  # sgd, adam, adamw
    cfg.SOLVER.BASE_LR = 0.1  # peak learning rate (for TRAIN.BATCH_SIZE in all)
    cfg.SOLVER.BASE_LR_SCALE_NUM_SHARDS = False  # multiply the rates by NUM_SHARDS
    cfg.SOLVER.LR_POLICY = "cosine"  # cosine, steps_with_relative_lrs, constant
    cfg.SOLVER.COSINE_END_LR = 0.0  # rate at the end of the cosine schedule
    cfg.SOLVER.COSINE_AFTER_WARMUP = False  # the cosine starts where warm-up ends
    cfg.SOLVER.GAMMA = 0.1  # decay factor of the exponential policies
    cfg.SOLVER.STEP_SIZE = 1  # epochs per step of the exponential policies
    cfg.SOLVER.STEPS = []  # epochs where steps_with_relative_lrs changes rate
    cfg.SOLVER.LRS = []  # relative rates of those steps (times BASE_LR)
    cfg.SOLVER.MAX_EPOCH = 300  # training length in epochs
    cfg.SOLVER.MOMENTUM = 0.9  # SGD momentum
    cfg.SOLVER.DAMPENING = 0.0  # SGD momentum dampening
    cfg.SOLVER.NESTEROV = True  # Nesterov momentum
    cfg.SOLVER.WEIGHT_DECAY = 1e-4  # L2 penalty of the non-BN parameters
    cfg.SOLVER.ZERO_WD_1D_PARAM = False  # no weight decay on biases and 1-D params
    # Not in PySlowFast: which parameters WEIGHT_DECAY applies to. "pyslowfast": every
    # parameter outside BN layers (BN ones by BN.WEIGHT_DECAY, 1-D ones by 0 with
    # ZERO_WD_1D_PARAM). "mutualnet", the official MutualNet code's rule: only the weights
    # of conv (1D/2D/3D) and linear layers, depthwise convs excepted; biases, BN and
    # everything else never decay (BN.WEIGHT_DECAY must then be 0; ZERO_WD_1D_PARAM has
    # nothing left to change).
    cfg.SOLVER.WEIGHT_DECAY_RULE = "pyslowfast"
    cfg.SOLVER.WARMUP_FACTOR = 0.1  # warm-up start as a fraction of BASE_LR
    cfg.SOLVER.WARMUP_EPOCHS = 0.0  # length of the linear warm-up
    cfg.SOLVER.WARMUP_START_LR = 0.01  # rate at the start of the warm-up
    cfg.SOLVER.CLIP_GRAD_VAL = None  # clip each gradient value to +-this (None: off)
    cfg.SOLVER.CLIP_GRAD_L2NORM = None  # clip the global gradient norm (None: off)

    cfg.BN = CfgNode()
    cfg.BN.USE_PRECISE_STATS = False  # recompute BN statistics before each eval
    cfg.BN.NUM_BATCHES_PRECISE = 200  # batches for those precise statistics
    cfg.BN.WEIGHT_DECAY = 0.0  # weight decay of BN weights and biases
    cfg.BN.NORM_TYPE = "batchnorm"  # batchnorm or sync_batchnorm (slim layers either way)
    cfg.BN.NUM_SPLITS = 1  # sub_batchnorm's splits (not built: must stay 1)
    cfg.BN.NUM_SYNC_DEVICES = 1  # sync_batchnorm: consecutive processes sharing statistics
    cfg.BN.GLOBAL_SYNC = False  # sync_batchnorm: all processes share statistics
    cfg.BN.MOMENTUM = 0.1  # older PySlowFast files set it (must be 0.1: compat.py)

    cfg.DATA_LOADER = CfgNode()
    cfg.DATA_LOADER.NUM_WORKERS = 8  # loader processes per training process
    cfg.DATA_LOADER.PIN_MEMORY = True  # page-locked batches for faster copies
    cfg.DATA_LOADER.ENABLE_MULTI_THREAD_DECODE = False  # PyAV's threaded decoding

    # Only the switch and the folder: PySlowFast's plots and model views are not here.
    cfg.TENSORBOARD = CfgNode()
    cfg.TENSORBOARD.ENABLE = False  # write scalars (loss, rate, accuracy)
    cfg.TENSORBOARD.LOG_DIR = ""  # under OUTPUT_DIR ("": runs-<TRAIN.DATASET>)


def validate_run(cfg: CfgNode, processes: Optional[int] = None) -> None:
    """Check the process layout, the schedule and the solver's choices.

    ``processes``: the job's process count when something else than the config decides
    it (see :func:`check_process_layout`).
    """
    check_whole("NUM_GPUS", cfg.NUM_GPUS, 0)
    check_whole("NUM_SHARDS", cfg.NUM_SHARDS, 1)
    if not 0 <= cfg.SHARD_ID < cfg.NUM_SHARDS:
        raise ConfigError(
            f"SHARD_ID must be in [0, NUM_SHARDS), got SHARD_ID={cfg.SHARD_ID}, "
            f"NUM_SHARDS={cfg.NUM_SHARDS}"
        )
    check_process_layout(cfg, processes)
    for key in ("LOG_PERIOD", "TRAIN.CHECKPOINT_PERIOD", "BN.NUM_BATCHES_PRECISE"):
        check_whole(key, lookup(cfg, key), 1)
    check_whole("TRAIN.EVAL_PERIOD (0: never)", cfg.TRAIN.EVAL_PERIOD, 0)
    check_whole("DIST_TIMEOUT (seconds)", cfg.DIST_TIMEOUT, 1)
    _validate_backends(cfg)
    for key in ("TRAIN.CHECKPOINT_TYPE", "TEST.CHECKPOINT_TYPE"):  # PySlowFast's two
        check_choice(key, lookup(cfg, key), ("pytorch", "caffe2"))
    _validate_solver(cfg.SOLVER)
    _validate_norm(cfg.BN)
    if cfg.SOLVER.WEIGHT_DECAY_RULE == "mutualnet" and cfg.BN.WEIGHT_DECAY != 0:
        raise ConfigError(
            f"BN.WEIGHT_DECAY must be 0 with SOLVER.WEIGHT_DECAY_RULE 'mutualnet' (BN "
            f"parameters never decay under it), got {cfg.BN.WEIGHT_DECAY!r}"
        )


def _validate_backends(cfg: CfgNode) -> None:
    """CUDNN_BENCHMARK acts on GPUs only, and its timing would undo DETERMINISTIC."""
    if cfg.CUDNN_BENCHMARK and cfg.NUM_GPUS == 0:
        raise ConfigError(
            "CUDNN_BENCHMARK True tunes cuDNN, which runs on GPUs only, but NUM_GPUS is 0 "
            "(the CPU): set CUDNN_BENCHMARK False or NUM_GPUS >= 1"
        )
    if cfg.CUDNN_BENCHMARK and cfg.DETERMINISTIC:
        raise ConfigError(
            "CUDNN_BENCHMARK True picks cuDNN's algorithms by timing them, which "
            "DETERMINISTIC True forbids: set one of them False"
        )


def check_process_layout(cfg: CfgNode, processes: Optional[int] = None) -> None:
    """Each process loads BATCH_SIZE / processes clips: refuse a remainder, it would be lost
    (and BN sync groups that do not divide the processes).

    ``processes`` defaults to PySlowFast's ``max(1, NUM_GPUS) x NUM_SHARDS``; torchrun's
    WORLD_SIZE or ``tools/run_net.py --num_procs`` decide it otherwise.
    """
    layout = "max(1, NUM_GPUS) x NUM_SHARDS"
    # On the CPU the launcher decides how many processes run (--num_procs, torchrun):
    # without it, sync groups are checked when the run starts (RunSpec.from_cfg).
    decided = processes is not None or cfg.NUM_GPUS > 0
    if processes is None:
        processes = max(1, cfg.NUM_GPUS) * cfg.NUM_SHARDS
    else:
        layout = "the launcher's world size"
    for key in ("TRAIN.BATCH_SIZE", "TEST.BATCH_SIZE"):
        size = lookup(cfg, key)
        check_whole(key, size, 1)
        if size % processes:
            raise ConfigError(
                f"{key} ({size}) must be divisible by the number of processes "
                f"({layout} = {processes})"
            )
    if decided:
        sync_bn_group(cfg, processes)


def _validate_norm(bn: CfgNode) -> None:
    """The sync settings act with sync_batchnorm only; sub_batchnorm is not built."""
    check_whole("BN.NUM_SYNC_DEVICES", bn.NUM_SYNC_DEVICES, 1)
    check_whole("BN.NUM_SPLITS", bn.NUM_SPLITS, 1)
    if bn.NUM_SPLITS != 1:
        raise ConfigError(
            f"BN.NUM_SPLITS must be 1 (sub_batchnorm is not built), got {bn.NUM_SPLITS}"
        )
    if bn.NORM_TYPE != "sync_batchnorm" and (bn.NUM_SYNC_DEVICES != 1 or bn.GLOBAL_SYNC):
        raise ConfigError(
            f"BN.NUM_SYNC_DEVICES {bn.NUM_SYNC_DEVICES} / BN.GLOBAL_SYNC {bn.GLOBAL_SYNC} act "
            f"with BN.NORM_TYPE sync_batchnorm only, got BN.NORM_TYPE {bn.NORM_TYPE!r}"
        )


def sync_bn_group(cfg: CfgNode, processes: int) -> int:
    """Processes sharing BN statistics in training: 1 without sync_batchnorm or in a
    single process (PySlowFast's sync BN is plain BN there), all with BN.GLOBAL_SYNC, else
    BN.NUM_SYNC_DEVICES, which must divide ``processes``."""
    bn = cfg.BN
    if bn.NORM_TYPE != "sync_batchnorm" or processes == 1:
        return 1
    if bn.GLOBAL_SYNC:
        return processes
    if processes % bn.NUM_SYNC_DEVICES:
        raise ConfigError(
            f"BN.NUM_SYNC_DEVICES ({bn.NUM_SYNC_DEVICES}) must divide the number of "
            f"processes ({processes})"
        )
    return bn.NUM_SYNC_DEVICES


def _validate_solver(solver: CfgNode) -> None:
    check_choice("SOLVER.LR_POLICY", solver.LR_POLICY, LR_POLICIES)
    check_choice("SOLVER.OPTIMIZING_METHOD", solver.OPTIMIZING_METHOD, OPTIMIZERS)
    check_choice("SOLVER.WEIGHT_DECAY_RULE", solver.WEIGHT_DECAY_RULE, WEIGHT_DECAY_RULES)
    check_whole("SOLVER.MAX_EPOCH", solver.MAX_EPOCH, 1)
    warmup = solver.WARMUP_EPOCHS
    if not (is_number(warmup) and 0 <= warmup < solver.MAX_EPOCH):
        raise ConfigError(
            f"SOLVER.WARMUP_EPOCHS must be in [0, SOLVER.MAX_EPOCH={solver.MAX_EPOCH}), "
            f"got {warmup!r}"
        )
    if solver.LR_POLICY == "steps_with_relative_lrs":
        steps, rates = list(solver.STEPS), list(solver.LRS)
        # PySlowFast's rule: LRS[i] holds from epoch STEPS[i] on, so STEPS starts at 0.
        # Its files may list more rates than steps (Charades' SLOWFAST_16x8_R50: 3 steps,
        # 6 rates); as there, the rates after the last step are never reached.
        if not steps or steps[0] != 0 or steps != sorted(set(steps)) or len(rates) < len(steps):
            raise ConfigError(
                "SOLVER.STEPS must start at 0 and increase, with a SOLVER.LRS entry for each "
                f"step, for steps_with_relative_lrs; got STEPS={steps}, LRS={rates}"
            )
    # yacs checks types against the default, and a None default accepts anything.
    for name in ("CLIP_GRAD_VAL", "CLIP_GRAD_L2NORM"):
        value = solver[name]
        if value is not None and not (is_number(value) and value > 0):
            raise ConfigError(f"SOLVER.{name} must be None (off) or a number > 0, got {value!r}")
