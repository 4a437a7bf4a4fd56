"""Training, calibration, search and testing: the MutualNet engine."""

from .checkpoint import latest_checkpoint, load_checkpoint_file, save_checkpoint
from .mutual import StepResult, distillation_loss, mutual_step, resize_input
from .sampling import SAMPLING_MODES, ConfigSampler, SubnetConfig
from .solver import build_criterion, build_optimizer, lr_at_epoch, set_lr

__all__ = [
    "SAMPLING_MODES",
    "ConfigSampler",
    "StepResult",
    "SubnetConfig",
    "build_criterion",
    "build_optimizer",
    "distillation_loss",
    "latest_checkpoint",
    "load_checkpoint_file",
    "lr_at_epoch",
    "mutual_step",
    "resize_input",
    "save_checkpoint",
    "set_lr",
]
