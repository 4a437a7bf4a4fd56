"""Training, calibration, search and testing: the MutualNet engine.

``run(cfg)`` (:mod:`.run`) is the entry point; :class:`~.spec.RunSpec` is the config
read once; the stages take its typed pieces.
"""

from .checkpoint import Checkpointer, latest_checkpoint, load_checkpoint_file, save_checkpoint
from .forward import forward_at, resize_input, scale_boxes
from .mutual import StepResult, distillation_loss, mutual_step
from .run import run
from .sampling import SAMPLING_MODES, ConfigSampler, SubnetConfig
from .solver import (
    WEIGHT_DECAY_RULES,
    LRSchedule,
    OptimizerSpec,
    build_criterion,
    build_optimizer,
    decayed_parameters,
    set_lr,
)
from .spec import RunSpec

__all__ = [
    "SAMPLING_MODES",
    "WEIGHT_DECAY_RULES",
    "Checkpointer",
    "ConfigSampler",
    "LRSchedule",
    "OptimizerSpec",
    "RunSpec",
    "StepResult",
    "SubnetConfig",
    "build_criterion",
    "build_optimizer",
    "decayed_parameters",
    "distillation_loss",
    "forward_at",
    "latest_checkpoint",
    "load_checkpoint_file",
    "mutual_step",
    "resize_input",
    "run",
    "save_checkpoint",
    "scale_boxes",
    "set_lr",
]
