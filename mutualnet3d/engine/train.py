"""The training stage: epochs of MutualNet iterations, validation and checkpoints.

:class:`MutualTrainer` holds what one iteration needs (the pieces :func:`mutual_step`
takes, the optimizer, the schedule) and :func:`train` drives the epochs. Both take typed
arguments; ``engine/run.py`` builds them from the run's spec.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset, RandomSampler
from torch.utils.data.distributed import DistributedSampler

from ..evaluation import top_k_correct
from ..slim import SubnetConfig
from .checkpoint import (
    Checkpointer,
    checkpoint_dir,
    last_good,
    rank_rng_state,
    set_rng_state,
    unwrap,
    usable_checkpoint,
)
from .device import mixed_autocast, scaled_backward
from .distributed import all_reduce_sum, get_world_size
from .finite import NonFiniteError, non_finite_state
from .forward import batch_boxes, batch_inputs, batch_targets
from .logs import log_stats
from .mutual import StepResult, mutual_step
from .pretrained import load_pretrained
from .skips import SKIPS
from .solver import Criterion, LRSchedule, set_lr
from .spec import LoaderSpec, TrainSpec
from .weights_file import CheckpointError

__all__ = ["MutualTrainer", "resume_or_initialise", "train"]

logger = logging.getLogger(__name__)

#: the configurations one global step trains: the full network first
Cohort = Callable[[int], list[SubnetConfig]]
#: validation after an epoch (1-based count of epochs done) -> stats to log
Validate = Callable[[int], dict[str, Any]]


@dataclass
class MutualTrainer:
    """One optimizer step per batch over the cohort of the step (paper section 3.2).

    Args:
        model: the adaptive model, or its DistributedDataParallel wrapper.
        optimizer, scaler: the optimizer and AMP's grad scaler (:func:`~.device.grad_scaler`:
            disabled but with mixed precision on CUDA).
        criterion: the label loss; ``distill``: students learn the full network's
            predictions (else the labels); ``multi_label``: sigmoid outputs (Charades,
            AVA).
        schedule: the learning rate at a fractional epoch.
        cohort: the configurations of a global step (:meth:`ConfigSampler.sample`, or
            one static configuration for an I-Net).
        num_pathways: the model's (its input is a list for two).
        mixed_precision: the forward passes under autocast, float16 on CUDA and bfloat16
            on the CPU, one code path (:mod:`.device`).
        clip_grad_val, clip_grad_l2norm: gradient clipping (None: off).
        align_corners: of the bilinear resize of the sub-networks' inputs
            (MUTUALNET.RESIZE_ALIGN_CORNERS).
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    criterion: Criterion
    schedule: LRSchedule
    cohort: Cohort
    num_pathways: int
    distill: bool = True
    multi_label: bool = False
    mixed_precision: bool = False
    clip_grad_val: Optional[float] = None
    clip_grad_l2norm: Optional[float] = None
    align_corners: bool = False

    def step(
        self, batch: dict[str, Any], step: int, epoch: float, device: torch.device
    ) -> StepResult:
        """Train global step ``step`` (at fractional ``epoch``) on one batch.

        Raises:
            FloatingPointError: a loss is NaN or infinite, or after the optimizer step a
                weight or buffer is (a diverging run's BN statistics can overflow while
                its loss stays finite); the first one is named.
        """
        set_lr(self.optimizer, self.schedule(epoch))
        ddp = isinstance(self.model, DistributedDataParallel)
        self.optimizer.zero_grad(set_to_none=True)
        result = mutual_step(
            self.model,
            batch_inputs(batch, device, self.num_pathways),
            batch_targets(batch, device),
            self.cohort(step),
            self.criterion,
            boxes=batch_boxes(batch, device),
            distill=self.distill,
            multi_label=self.multi_label,
            autocast=(lambda: mixed_autocast(device)) if self.mixed_precision else None,
            backward=lambda loss: scaled_backward(
                loss, self.scaler, device, self.mixed_precision
            ),
            no_sync=self.model.no_sync if ddp else None,
            align_corners=self.align_corners,
        )
        if self.clip_grad_val or self.clip_grad_l2norm:
            self.scaler.unscale_(self.optimizer)
            parameters = list(self.model.parameters())
            if self.clip_grad_val:
                nn.utils.clip_grad_value_(parameters, self.clip_grad_val)
            if self.clip_grad_l2norm:
                nn.utils.clip_grad_norm_(parameters, self.clip_grad_l2norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        bad = non_finite_state(unwrap(self.model))
        if bad is not None:
            raise FloatingPointError(
                f"{bad} after the optimizer step, with a finite loss ({result.loss:.4g})"
            )
        return result


def train(
    trainer: MutualTrainer,
    dataset: Dataset,
    *,
    spec: TrainSpec,
    loader: LoaderSpec,
    seed: int,
    start_epoch: int,
    checkpoints: Checkpointer,
    validate: Optional[Validate],
    device: torch.device,
    writer: Any = None,
) -> None:
    """Epochs ``start_epoch`` to ``spec.max_epoch``: validate, then checkpoint, as asked.

    Validation runs before the checkpoint is written, so the checkpoint's RNG state is
    the one the next epoch starts from and a resumed run continues exactly as an
    uninterrupted one. ``writer``: a TensorBoard SummaryWriter, or None.
    """
    for epoch in range(start_epoch, spec.max_epoch):
        batches = loader.loader(
            dataset, spec.batch_size, _epoch_sampler(dataset, seed, epoch), drop_last=True
        )
        if len(batches) == 0:
            raise ValueError(
                f"the training batch ({spec.batch_size} clips per process) is larger than "
                f"the training set ({len(dataset)} samples)"
            )
        _train_epoch(trainer, batches, epoch, spec, checkpoints.output_dir, device, writer)
        done = epoch + 1
        last = done == spec.max_epoch
        if validate is not None and spec.eval_period and (done % spec.eval_period == 0 or last):
            stats = validate(done)
            stats.update(_type="val_epoch", epoch=f"{done}/{spec.max_epoch}")
            log_stats(stats)
            if writer is not None:
                for name, value in stats.items():
                    if isinstance(value, float):
                        writer.add_scalar(f"val/{name}", value, done)
        if done % spec.checkpoint_period == 0 or last:
            checkpoints.save(trainer.model, done, trainer.optimizer, trainer.scaler)


def _epoch_sampler(dataset: Dataset, seed: int, epoch: int) -> torch.utils.data.Sampler:
    """A fresh shuffle per epoch, a function of the seed and the epoch only."""
    if get_world_size() > 1:
        sampler = DistributedSampler(dataset, shuffle=True, seed=seed, drop_last=True)
        sampler.set_epoch(epoch)
        return sampler
    return RandomSampler(dataset, generator=torch.Generator().manual_seed(seed * 1000 + epoch))


def _train_epoch(
    trainer: MutualTrainer,
    batches: torch.utils.data.DataLoader,
    epoch: int,
    spec: TrainSpec,
    output_dir: str,
    device: torch.device,
    writer: Any,
) -> None:
    trainer.model.train()
    iters = len(batches)
    start = time.perf_counter()
    # Summed over the epoch and the processes: loss, then the data's SKIPS.
    totals = torch.zeros(1 + len(SKIPS), dtype=torch.float64)
    for it, batch in enumerate(batches):
        totals[1:] += torch.tensor([batch.get(key, 0) for key in SKIPS], dtype=torch.float64)
        step = epoch * iters + it
        try:
            result = trainer.step(batch, step, epoch + it / iters, device)
        except FloatingPointError as error:
            raise NonFiniteError(
                f"epoch {epoch + 1}, iteration {it + 1}: {error}; "
                f"{last_good(checkpoint_dir(output_dir))}"
            ) from None
        totals[0] += result.loss
        if (it + 1) % spec.log_period and it + 1 != iters:
            continue
        lr = trainer.optimizer.param_groups[0]["lr"]
        stats: dict[str, Any] = {
            "_type": "train_iter",
            "epoch": f"{epoch + 1}/{spec.max_epoch}",
            "iter": f"{it + 1}/{iters}",
            "loss": round(result.loss, 5),
            "full_loss": round(result.full_loss, 5),
            "lr": lr,
            "time_diff": round((time.perf_counter() - start) / (it + 1), 4),
        }
        if not trainer.multi_label:
            labels = batch["label"].to(result.logits.device)
            top1, top5 = top_k_correct(result.logits, labels)
            stats.update(
                top1_err=round(100 - 100 * top1 / len(labels), 2),
                top5_err=round(100 - 100 * top5 / len(labels), 2),
            )
        log_stats(stats)
        if writer is not None:
            writer.add_scalar("train/loss", result.loss, step)
            writer.add_scalar("train/full_loss", result.full_loss, step)
            writer.add_scalar("train/lr", lr, step)
    _log_epoch(totals, epoch, iters, spec.max_epoch)


def _log_epoch(totals: torch.Tensor, epoch: int, iters: int, max_epoch: int) -> None:
    """The epoch's ``train_epoch`` stats: mean loss and what the data sets skipped, over
    every process (the skips are also warned, naming each file)."""
    totals = all_reduce_sum(totals)
    stats: dict[str, Any] = {
        "_type": "train_epoch",
        "epoch": f"{epoch + 1}/{max_epoch}",
        "loss": round(float(totals[0]) / (iters * get_world_size()), 5),
    }
    stats.update({key: int(value) for key, value in zip(SKIPS, totals[1:].tolist())})
    log_stats(stats)


def resume_or_initialise(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    *,
    output_dir: str,
    auto_resume: bool,
    init_checkpoint: str,
    init_checkpoint_type: str = "pytorch",
    inflate: bool = False,
    epoch_reset: bool = False,
) -> int:
    """The epoch training starts at: resumed from ``output_dir``'s newest checkpoint that
    loads completely into the model (``auto_resume``: model, optimizer, scaler and RNG
    states; :func:`~.checkpoint.usable_checkpoint` names each newer one it passes over and
    refuses a folder where none loads; a state of another optimizer is refused), else 0
    after loading ``init_checkpoint``'s weights if given (fine-tuning,
    :func:`~.pretrained.load_pretrained`: ours, PyTorchVideo's, PySlowFast's or Caffe2's, of
    ``init_checkpoint_type`` (TRAIN.CHECKPOINT_TYPE), 2D kernels inflated with ``inflate``
    (TRAIN.CHECKPOINT_INFLATE); a classifier of another class count is re-initialised; every
    tensor not loaded is logged). As in PySlowFast, a file that records its epoch (ours,
    PySlowFast's) continues that count unless ``epoch_reset``
    (TRAIN.CHECKPOINT_EPOCH_RESET); the optimizer starts afresh either way (PySlowFast's
    momentum buffers follow its own parameter order)."""
    found = usable_checkpoint(output_dir, model, optimizer_state=True) if auto_resume else None
    if found is not None:
        path, state = found
        model.load_state_dict(state["model_state"], strict=True)
        if state.get("optimizer_state"):
            _load_optimizer(optimizer, path, state)
        if state.get("scaler_state"):
            scaler.load_state_dict(state["scaler_state"])
        rng = rank_rng_state(state, path)
        if rng:
            set_rng_state(rng)
        logger.info("resumed from %s (epoch %d)", path, state["epoch"])
        return int(state["epoch"])
    if init_checkpoint:
        report = load_pretrained(
            model,
            init_checkpoint,
            checkpoint_type=init_checkpoint_type,
            inflate=inflate,
            logger=logger,
        )
        logger.info(
            "initialised from %s (%s format, %d tensors)",
            init_checkpoint,
            report.format,
            report.loaded,
        )
        if report.epochs_done is not None and not epoch_reset:
            logger.info(
                "%s: continuing its epoch count at %d (TRAIN.CHECKPOINT_EPOCH_RESET False)",
                init_checkpoint,
                report.epochs_done,
            )
            return report.epochs_done
    return 0


def _load_optimizer(optimizer: torch.optim.Optimizer, path: Any, state: dict[str, Any]) -> None:
    """The checkpoint's optimizer state into ``optimizer``; refused (CheckpointError naming
    both) when another optimizer wrote it: by the name our checkpoints store, or, in one
    written before they did, by settings of its parameter groups ``optimizer`` lacks."""
    current = type(optimizer).__name__
    saved, saved_state = state.get("optimizer_name"), state["optimizer_state"]
    if saved is not None and saved != current:
        raise CheckpointError(
            f"{path}: written by a run with the {saved} optimizer, and this run's is {current} "
            f"(SOLVER.OPTIMIZING_METHOD); a {saved} state cannot resume {current}: resume "
            "with the same optimizer or train in another OUTPUT_DIR"
        )
    own = {key for group in optimizer.param_groups for key in group}
    foreign = sorted({k for g in saved_state.get("param_groups", []) for k in g} - own)
    if saved is None and foreign:
        raise CheckpointError(
            f"{path}: its optimizer state has settings {foreign} that this run's {current} "
            "lacks (SOLVER.OPTIMIZING_METHOD): it was written by another optimizer; resume "
            "with the same optimizer or train in another OUTPUT_DIR"
        )
    try:
        optimizer.load_state_dict(saved_state)
    except (ValueError, KeyError) as error:
        raise CheckpointError(
            f"{path}: its optimizer state does not fit this run's {current}: {error}"
        ) from None
