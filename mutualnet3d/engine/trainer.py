"""The stages ``tools/run_net.py`` runs: train, calibrate, search, test.

This is the edge where the config is read: every function below turns ``cfg`` into the
explicit arguments of the pieces it drives (model, data, sampler, solver, checkpoints).
"""

from __future__ import annotations

import logging
import os
import random
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np
import simplejson
import torch
import torch.nn as nn
from fvcore.common.config import CfgNode
from fvcore.nn.precise_bn import get_bn_modules, update_bn_stats
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, RandomSampler
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from ..config import eval_grid, full_frames, ignored_settings
from ..data import build_dataset, collate_fn_for
from ..models import build_model
from ..slim import BNCalibrator, count_flops, count_params, export_subnet, set_width, stats_key
from .checkpoint import (
    checkpoint_path,
    latest_checkpoint,
    load_checkpoint_file,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from .distributed import (
    ShardSampler,
    all_reduce_max,
    all_reduce_sum,
    device_for_rank,
    get_rank,
    get_world_size,
    is_main_process,
)
from .ava_eval import AvaEvaluator
from .evaluate import Accumulator, DetectionAccumulator, forward_configs, top_k_correct
from .mutual import model_forward, mutual_step
from .pretrained import load_pretrained
from .sampling import ConfigSampler, SubnetConfig
from .search import ConfigResult, format_table, pareto_front, plot_tables, write_tables
from .solver import build_criterion, build_optimizer, lr_at_epoch, set_lr
from .spec import dataset_spec

__all__ = ["run", "train", "calibrate_and_search", "test", "setup_logging"]

logger = logging.getLogger("mutualnet3d")


# --------------------------------------------------------------------------------------
# Set-up
# --------------------------------------------------------------------------------------
def setup_logging(output_dir: str) -> None:
    """Rank 0 logs to stdout and ``OUTPUT_DIR/stdout.log``; other ranks only warnings."""
    logger.handlers.clear()
    logger.propagate = False
    if not is_main_process():
        logger.setLevel(logging.WARNING)
        return
    logger.setLevel(logging.INFO)
    fmt = logging.Formatter("[%(asctime)s %(filename)s:%(lineno)d] %(message)s", "%m/%d %H:%M:%S")
    for handler in (logging.StreamHandler(), logging.FileHandler(Path(output_dir) / "stdout.log")):
        handler.setFormatter(fmt)
        logger.addHandler(handler)


def _seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _loader(dataset: Dataset, batch_size: int, sampler, cfg: CfgNode, drop_last: bool) -> DataLoader:
    return DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=cfg.DATA_LOADER.NUM_WORKERS,
        pin_memory=cfg.DATA_LOADER.PIN_MEMORY and torch.cuda.is_available(), drop_last=drop_last,
        collate_fn=collate_fn_for(dataset), persistent_workers=False,
    )


def _dataset(cfg: CfgNode, split: str) -> Dataset:
    """The data set of ``split``; SlowFast's (MODEL.MULTI_PATHWAY_ARCH) packs two
    pathways SLOWFAST.ALPHA apart."""
    alpha = cfg.SLOWFAST.ALPHA if cfg.MODEL.ARCH in cfg.MODEL.MULTI_PATHWAY_ARCH else None
    return build_dataset(dataset_spec(cfg, split), split, alpha=alpha)


def _model_input(batch: dict[str, Any], device: torch.device, multi_pathway: bool) -> Any:
    inputs = [x.to(device, non_blocking=True) for x in batch["inputs"]]
    return inputs if multi_pathway else inputs[0]


def _forward(batch: dict[str, Any], device: torch.device):
    """How the model runs on this batch: detectors also take the batch's boxes."""
    boxes = batch.get("boxes")
    return model_forward(None if boxes is None else boxes.to(device, non_blocking=True))


def _run_batch(model: nn.Module, batch: dict[str, Any], device: torch.device, multi_pathway: bool,
               config: SubnetConfig) -> torch.Tensor:
    """The model's logits for ``batch`` at ``config`` (inputs resized, boxes scaled)."""
    return _forward(batch, device)(model, _model_input(batch, device, multi_pathway), config)


def _targets(batch: dict[str, Any], device: torch.device) -> torch.Tensor:
    """Per-clip labels, or AVA's per-box multi-hot ``labels``."""
    return (batch["labels"] if "boxes" in batch else batch["label"]).to(device)


def _multi_label(cfg: CfgNode) -> bool:
    """Sigmoid outputs: multi-label clips (Charades) or action detection (AVA)."""
    return cfg.DATA.MULTI_LABEL or cfg.DETECTION.ENABLE


def _accumulator(cfg: CfgNode, dataset: Dataset):
    """The metric of the config's data set (see :mod:`.evaluate`)."""
    if not cfg.DETECTION.ENABLE:
        return Accumulator(cfg.DATA.MULTI_LABEL)
    ava = cfg.AVA
    exclusions = os.path.join(ava.ANNOTATION_DIR, ava.EXCLUSION_FILE) if ava.EXCLUSION_FILE else None
    return DetectionAccumulator(AvaEvaluator(
        os.path.join(ava.ANNOTATION_DIR, ava.GROUNDTRUTH_FILE),
        os.path.join(ava.ANNOTATION_DIR, ava.LABEL_MAP_FILE),
        exclusions, dataset.video_names,
    ))


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


def _full_config(cfg: CfgNode) -> SubnetConfig:
    node = cfg.MUTUALNET
    spatial = max(node.SPATIAL_SIZES or [cfg.DATA.TRAIN_CROP_SIZE])
    frames = full_frames(cfg)
    temporal = None if frames is None else max(node.TEMPORAL_SIZES or [frames])
    return SubnetConfig(1.0, spatial, temporal)


def _sampler(cfg: CfgNode) -> ConfigSampler:
    node = cfg.MUTUALNET
    frames = full_frames(cfg)
    return ConfigSampler(
        width_range=(node.WIDTH_RANGE[0], node.WIDTH_RANGE[1]),
        spatial_sizes=list(node.SPATIAL_SIZES or [cfg.DATA.TRAIN_CROP_SIZE]),
        temporal_sizes=[None] if frames is None else list(node.TEMPORAL_SIZES or [frames]),
        num_random=node.NUM_RANDOM,
        mode=node.SAMPLING,
        seed=cfg.RNG_SEED,
    )


def build_run_model(cfg: CfgNode) -> nn.Module:
    """The model a run trains: adaptive, or the static I-Net configuration."""
    model = build_model(cfg)
    if not cfg.MUTUALNET.ENABLE and cfg.MUTUALNET.STATIC_WIDTH < 1.0:
        # I-Net: an independent network of that width, built of plain layers.
        model = export_subnet(model, cfg.MUTUALNET.STATIC_WIDTH)
    return model


def _static_config(cfg: CfgNode) -> SubnetConfig:
    full = _full_config(cfg)
    node = cfg.MUTUALNET
    return SubnetConfig(
        1.0,  # the exported network is already narrow
        node.STATIC_SPATIAL_SIZE or full.spatial,
        (node.STATIC_TEMPORAL_SIZE or full.temporal) if full.temporal is not None else None,
    )


# --------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------
def train(cfg: CfgNode) -> nn.Module:
    """Train as the config says; returns the (unwrapped) model. Writes checkpoints."""
    device = device_for_rank(cfg.NUM_GPUS)
    _seed(cfg.RNG_SEED + get_rank())
    model = build_run_model(cfg).to(device)
    optimizer = build_optimizer(model, cfg)
    criterion = build_criterion(cfg)
    amp = cfg.TRAIN.MIXED_PRECISION and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    start_epoch = _resume_or_init(cfg, model, optimizer, scaler)
    if cfg.BN.NORM_TYPE != "batchnorm":
        # torch's convert_sync_batchnorm would replace the slimmable BN layers by plain
        # full-width ones, silently breaking every sub-network.
        raise NotImplementedError(f"BN.NORM_TYPE {cfg.BN.NORM_TYPE!r}: only 'batchnorm' is supported so far")
    if get_world_size() > 1:
        model = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    dataset = _dataset(cfg, "train")
    per_process = cfg.TRAIN.BATCH_SIZE // get_world_size()
    multi_pathway = cfg.MODEL.ARCH in cfg.MODEL.MULTI_PATHWAY_ARCH
    sampler = _sampler(cfg)
    static = None if cfg.MUTUALNET.ENABLE else _static_config(cfg)
    writer = _tensorboard(cfg)
    for epoch in range(start_epoch, cfg.SOLVER.MAX_EPOCH):
        if get_world_size() > 1:
            data_sampler = DistributedSampler(dataset, shuffle=True, seed=cfg.RNG_SEED, drop_last=True)
            data_sampler.set_epoch(epoch)
        else:
            generator = torch.Generator().manual_seed(cfg.RNG_SEED * 1000 + epoch)
            data_sampler = RandomSampler(dataset, generator=generator)
        loader = _loader(dataset, per_process, data_sampler, cfg, drop_last=True)
        iters = len(loader)
        if iters == 0:
            raise ValueError(
                f"TRAIN.BATCH_SIZE {cfg.TRAIN.BATCH_SIZE} is larger than the training set "
                f"({len(dataset)} videos)"
            )
        _train_epoch(cfg, model, loader, optimizer, scaler, criterion, sampler, static, epoch,
                     iters, device, multi_pathway, amp, writer)
        done = epoch + 1
        # Validate before saving: the checkpoint's RNG state is then the one the next
        # epoch starts from, so a resumed run continues exactly as an uninterrupted one.
        if cfg.TRAIN.EVAL_PERIOD and (done % cfg.TRAIN.EVAL_PERIOD == 0 or done == cfg.SOLVER.MAX_EPOCH):
            if cfg.BN.USE_PRECISE_STATS:
                precise_bn(cfg, _unwrap(model), dataset, device, epoch)
            stats = evaluate_full(cfg, _unwrap(model), device)
            stats.update(_type="val_epoch", epoch=f"{done}/{cfg.SOLVER.MAX_EPOCH}")
            _log_stats(stats)
            if writer is not None:
                for name, value in stats.items():
                    if isinstance(value, float):
                        writer.add_scalar(f"val/{name}", value, done)
        if done % cfg.TRAIN.CHECKPOINT_PERIOD == 0 or done == cfg.SOLVER.MAX_EPOCH:
            _save(cfg, model, optimizer, scaler, done)
    if writer is not None:
        writer.close()
    return _unwrap(model)


class _BatchForward(nn.Module):
    """``model`` run on a whole batch at ``config``: the one-argument model fvcore's
    precise BN calls (detectors also need the batch's boxes)."""

    def __init__(self, model: nn.Module, config: SubnetConfig, device: torch.device, multi_pathway: bool):
        super().__init__()
        self.model, self.config, self.device, self.multi_pathway = model, config, device, multi_pathway

    def forward(self, batch: dict[str, Any]) -> torch.Tensor:
        return _run_batch(self.model, batch, self.device, self.multi_pathway, self.config)


@torch.no_grad()
def precise_bn(cfg: CfgNode, model: nn.Module, dataset: Dataset, device: torch.device, epoch: int) -> None:
    """BN.USE_PRECISE_STATS: the full configuration's running BN statistics recomputed as
    the average over BN.NUM_BATCHES_PRECISE training batches (fvcore's precise BN, as
    PySlowFast), so that validation does not judge stale momentum averages. Under DDP
    every process computes them on its own batches, then they are averaged."""
    config = _full_config(cfg) if cfg.MUTUALNET.ENABLE else _static_config(cfg)
    generator = torch.Generator().manual_seed(cfg.RNG_SEED * 1000 + epoch + 500)
    per_process = max(1, cfg.TRAIN.BATCH_SIZE // get_world_size())
    loader = _loader(dataset, per_process, RandomSampler(dataset, generator=generator), cfg, drop_last=False)
    multi_pathway = cfg.MODEL.ARCH in cfg.MODEL.MULTI_PATHWAY_ARCH
    update_bn_stats(_BatchForward(model, config, device, multi_pathway), loader,
                    min(cfg.BN.NUM_BATCHES_PRECISE, len(loader)))
    if get_world_size() > 1:
        for module in get_bn_modules(model):
            for buffer in (module.running_mean, module.running_var):
                buffer.copy_(all_reduce_sum(buffer.clone()) / get_world_size())


def _train_epoch(cfg, model, loader, optimizer, scaler, criterion, sampler, static, epoch, iters,
                 device, multi_pathway, amp, writer) -> None:
    model.train()
    unwrapped = _unwrap(model)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.float16)) if amp else None
    no_sync = model.no_sync if isinstance(model, DistributedDataParallel) else None
    start = time.perf_counter()
    for it, batch in enumerate(loader):
        step = epoch * iters + it
        lr = lr_at_epoch(cfg, epoch + it / iters)
        set_lr(optimizer, lr)
        inputs = _model_input(batch, device, multi_pathway)
        labels = _targets(batch, device)
        configs = [static] if static is not None else sampler.sample(step)
        optimizer.zero_grad(set_to_none=True)
        try:
            result = mutual_step(
                model, inputs, labels, configs, criterion,
                distill=cfg.MUTUALNET.DISTILL, multi_label=_multi_label(cfg), forward=_forward(batch, device),
                autocast=autocast, backward=lambda loss: scaler.scale(loss).backward(), no_sync=no_sync,
            )
        except FloatingPointError as error:
            raise FloatingPointError(
                f"epoch {epoch + 1}, iteration {it + 1}: {error}; the last good checkpoint in "
                f"{cfg.OUTPUT_DIR} is untouched"
            ) from None
        if cfg.SOLVER.CLIP_GRAD_VAL or cfg.SOLVER.CLIP_GRAD_L2NORM:
            scaler.unscale_(optimizer)
            if cfg.SOLVER.CLIP_GRAD_VAL:
                nn.utils.clip_grad_value_(unwrapped.parameters(), cfg.SOLVER.CLIP_GRAD_VAL)
            if cfg.SOLVER.CLIP_GRAD_L2NORM:
                nn.utils.clip_grad_norm_(unwrapped.parameters(), cfg.SOLVER.CLIP_GRAD_L2NORM)
        scaler.step(optimizer)
        scaler.update()
        if (it + 1) % cfg.LOG_PERIOD == 0 or it + 1 == iters:
            stats = {
                "_type": "train_iter", "epoch": f"{epoch + 1}/{cfg.SOLVER.MAX_EPOCH}",
                "iter": f"{it + 1}/{iters}", "loss": round(result.loss, 5),
                "full_loss": round(result.full_loss, 5), "lr": lr,
                "time_diff": round((time.perf_counter() - start) / (it + 1), 4),
            }
            if not _multi_label(cfg):
                top1, top5 = top_k_correct(result.logits, labels)
                stats.update(top1_err=round(100 - 100 * top1 / len(labels), 2),
                             top5_err=round(100 - 100 * top5 / len(labels), 2))
            _log_stats(stats)
            if writer is not None:
                writer.add_scalar("train/loss", result.loss, step)
                writer.add_scalar("train/full_loss", result.full_loss, step)
                writer.add_scalar("train/lr", lr, step)


def _log_stats(stats: dict[str, Any]) -> None:
    logger.info("json_stats: %s", simplejson.dumps(stats, sort_keys=True))


def _tensorboard(cfg: CfgNode):
    if not (cfg.TENSORBOARD.ENABLE and is_main_process()):
        return None
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(Path(cfg.OUTPUT_DIR) / (cfg.TENSORBOARD.LOG_DIR or f"runs-{cfg.TRAIN.DATASET}")))


# --------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------
def _save(cfg: CfgNode, model: nn.Module, optimizer, scaler, epoch: int, name: Optional[str] = None) -> None:
    if not is_main_process():
        return
    state = {
        "epoch": epoch,
        "model_state": _unwrap(model).state_dict(),
        "optimizer_state": optimizer.state_dict() if optimizer is not None else None,
        "scaler_state": scaler.state_dict() if scaler is not None else None,
        "rng_state": rng_state(),
        "cfg": cfg.dump(),
    }
    path = checkpoint_path(cfg.OUTPUT_DIR, epoch) if name is None else Path(cfg.OUTPUT_DIR) / "checkpoints" / name
    save_checkpoint(path, state)
    logger.info("saved checkpoint %s", path)


def _resume_or_init(cfg: CfgNode, model: nn.Module, optimizer, scaler) -> int:
    """Resume from OUTPUT_DIR (TRAIN.AUTO_RESUME) or start from TRAIN.CHECKPOINT_FILE_PATH."""
    path = latest_checkpoint(cfg.OUTPUT_DIR) if cfg.TRAIN.AUTO_RESUME else None
    if path is not None:
        state = load_checkpoint_file(path)
        model.load_state_dict(state["model_state"], strict=True)
        if state.get("optimizer_state"):
            optimizer.load_state_dict(state["optimizer_state"])
        if state.get("scaler_state"):
            scaler.load_state_dict(state["scaler_state"])
        if state.get("rng_state"):
            set_rng_state(state["rng_state"])
        logger.info("resumed from %s (epoch %d)", path, state["epoch"])
        return int(state["epoch"])
    if cfg.TRAIN.CHECKPOINT_FILE_PATH:
        # Fine-tuning: our, PyTorchVideo's or PySlowFast's weights; a classifier of
        # another class count is re-initialised; every tensor not loaded is logged.
        report = load_pretrained(model, cfg.TRAIN.CHECKPOINT_FILE_PATH, logger=logger)
        logger.info("initialised from %s (%s format, %d tensors)", cfg.TRAIN.CHECKPOINT_FILE_PATH,
                    report["format"], report["loaded"])
    return 0


def load_for_eval(cfg: CfgNode, model: nn.Module) -> Optional[Path]:
    """Weights for calibration/search/test: TEST.CHECKPOINT_FILE_PATH or the newest."""
    path = Path(cfg.TEST.CHECKPOINT_FILE_PATH) if cfg.TEST.CHECKPOINT_FILE_PATH else latest_checkpoint(cfg.OUTPUT_DIR)
    if path is None:
        logger.warning("no checkpoint found: evaluating the initial weights")
        return None
    state = load_checkpoint_file(path)
    model.load_state_dict(state.get("model_state", state), strict=True)
    logger.info("loaded %s", path)
    return path


# --------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------
def _eval_loader(cfg: CfgNode, split: str, batch_size: int) -> tuple[Dataset, DataLoader]:
    dataset = _dataset(cfg, split)
    return dataset, _loader(dataset, batch_size, ShardSampler(len(dataset)), cfg, drop_last=False)


@torch.no_grad()
def evaluate_full(cfg: CfgNode, model: nn.Module, device: torch.device) -> dict[str, float]:
    """The full configuration on the validation split (main BN statistics).

    Top-1/top-5 (%), or mAP (%) for multi-label data sets and detection.
    """
    model.eval()
    multi_pathway = cfg.MODEL.ARCH in cfg.MODEL.MULTI_PATHWAY_ARCH
    dataset, loader = _eval_loader(cfg, "val", max(1, cfg.TEST.BATCH_SIZE // get_world_size()))
    full = _full_config(cfg) if cfg.MUTUALNET.ENABLE else _static_config(cfg)
    accumulator = _accumulator(cfg, dataset)
    with torch.no_grad(), set_width(model, full.width, warn_uncalibrated=False):
        for batch in loader:
            accumulator.add(_run_batch(model, batch, device, multi_pathway, full), batch)
    metric, top5 = accumulator.result()
    model.train()
    return {"map": metric} if _multi_label(cfg) else {"top1": metric, "top5": top5}


def _grid(cfg: CfgNode) -> list[SubnetConfig]:
    widths, spatial, temporal = eval_grid(cfg)
    return [SubnetConfig(w, s, t) for w in widths for s in spatial for t in temporal]


def calibrate_and_search(cfg: CfgNode, model: nn.Module, device: torch.device) -> list[ConfigResult]:
    """BN calibration of every grid configuration, then its evaluation: the tables.

    Calibration reads MUTUALNET.BN_CALIB_BATCHES training batches once and runs every
    configuration on each; the search decodes each validation clip once and runs every
    configuration on it. Writes search/query tables (CSV, JSON), the accuracy-FLOPs plot
    and a checkpoint holding the calibrated statistics. Returns the table on the main
    process (the others return an empty list: they only take part in the reductions).
    """
    multi_pathway = cfg.MODEL.ARCH in cfg.MODEL.MULTI_PATHWAY_ARCH
    grid = _grid(cfg)
    keys = [stats_key(c.width, c.spatial, c.temporal) for c in grid]
    if cfg.MUTUALNET.CALIBRATE:
        dataset = _dataset(cfg, "train")
        generator = torch.Generator().manual_seed(cfg.RNG_SEED)
        per_process = max(1, cfg.TRAIN.BATCH_SIZE // get_world_size())
        loader = _loader(dataset, per_process, RandomSampler(dataset, generator=generator), cfg, drop_last=False)
        calibrator = BNCalibrator(model)
        progress = tqdm(total=min(cfg.MUTUALNET.BN_CALIB_BATCHES, len(loader)), desc="BN calibration",
                        disable=not is_main_process())
        for index, batch in enumerate(loader):
            if index >= cfg.MUTUALNET.BN_CALIB_BATCHES:
                break
            inputs, forward = _model_input(batch, device, multi_pathway), _forward(batch, device)
            for config, key in zip(grid, keys):
                calibrator.update(config.width, key, lambda m, c=config: forward(m, inputs, c))
            progress.update()
        progress.close()
        calibrator.finish()
        # Processes saw different batches: average their statistics (equal batch counts).
        if get_world_size() > 1:
            for buffer_name, buffer in model.named_buffers():
                if ".stats_" in buffer_name or buffer_name.startswith("stats_"):
                    buffer.copy_(all_reduce_sum(buffer.clone()) / get_world_size())
        logger.info("calibrated BN statistics of %d configurations on %d batches", len(grid),
                    min(cfg.MUTUALNET.BN_CALIB_BATCHES, len(loader)))
        _save(cfg, model, None, None, cfg.SOLVER.MAX_EPOCH, name="checkpoint_calibrated.pyth")
    results: list[ConfigResult] = []
    if not cfg.MUTUALNET.SEARCH:
        return results
    model.eval()
    dataset, loader = _eval_loader(cfg, "val", max(1, cfg.TEST.BATCH_SIZE // get_world_size()))
    accumulators = [_accumulator(cfg, dataset) for _ in grid]
    for batch in tqdm(loader, desc="search", disable=not is_main_process()):
        inputs = _model_input(batch, device, multi_pathway)
        outputs = forward_configs(model, inputs, grid, keys, _forward(batch, device))
        for accumulator, logits in zip(accumulators, outputs):
            accumulator.add(logits, batch)
    # Every process takes part in the reductions; only the main one counts costs and writes.
    metrics = [accumulator.result() for accumulator in accumulators]
    if not is_main_process():
        return results
    unwrapped = _unwrap(model)
    ops = "conv_linear" if cfg.MODEL.ARCH == "2d" else "all"
    for config, (metric, top5) in zip(grid, metrics):
        inputs = unwrapped.example_input(config.spatial, config.temporal)
        if cfg.DETECTION.ENABLE:  # the backbone and the head of one box per clip
            inputs = (inputs, unwrapped.example_boxes(config.spatial))
        flops = count_flops(unwrapped, inputs, config.width, ops=ops)
        results.append(ConfigResult(
            round(config.width, 4), config.spatial, config.temporal, float(f"{flops / 1e9:.6g}"),
            round(count_params(unwrapped, config.width) / 1e6, 4), metric, top5,
        ))
    metric_name = "map" if _multi_label(cfg) else "top1"
    paths = write_tables(results, cfg.OUTPUT_DIR, metric_name)
    front = pareto_front(results)
    plot = plot_tables(results, str(Path(cfg.OUTPUT_DIR) / "accuracy_flops.png"),
                       metric_name="mAP (%)" if _multi_label(cfg) else "top-1 (%)",
                       title=f"{cfg.MODEL.MODEL_NAME}: {len(results)} configurations")
    logger.info("wrote %s, %s and %s", paths["search_table"], paths["query_table"], plot)
    logger.info("query table: the best configuration for any budget (%d of %d configurations)\n%s",
                len(front), len(results), format_table(front, metric_name))
    return results


@torch.no_grad()
def test(cfg: CfgNode, model: nn.Module, device: torch.device) -> dict[str, Any]:
    """The test split at the MUTUALNET.TEST_* configuration; writes test_results.json.

    Classification: multi-view (NUM_ENSEMBLE_VIEWS x NUM_SPATIAL_CROPS); softmax scores
    of each view are summed per video (max for DATA.ENSEMBLE_METHOD max, sigmoid for
    multi-label data), then top-1/top-5 or mAP (%). Detection (AVA): each key frame
    once, the frame-level mAP (%) with the per-class APs.
    """
    node = cfg.MUTUALNET
    full = _full_config(cfg)
    if node.ENABLE:
        width = node.TEST_WIDTH
        spatial = node.TEST_SPATIAL_SIZE or full.spatial
        temporal = (node.TEST_TEMPORAL_SIZE or full.temporal) if full.temporal is not None else None
    else:  # I-Net: its own configuration
        width, spatial, temporal = _static_config(cfg)
    # Test views are cut at TEST_CROP_SIZE; a smaller configuration scales them alike.
    config = SubnetConfig(width, round(cfg.DATA.TEST_CROP_SIZE * spatial / full.spatial), temporal)
    stats: dict[str, Any] = {
        "_type": "test", "config": {"width": width, "spatial": spatial, "temporal": temporal},
    }
    model.eval()
    with set_width(model, width, stats_key(width, spatial, temporal), warn_uncalibrated=True):
        if cfg.DETECTION.ENABLE:
            stats.update(_test_detection(cfg, model, device, config))
        else:
            stats.update(_test_views(cfg, model, device, config))
    _log_stats(stats)
    if is_main_process():
        with open(Path(cfg.OUTPUT_DIR) / "test_results.json", "w") as f:
            simplejson.dump(stats, f, indent=2, ignore_nan=True)
    return stats


def _test_views(cfg: CfgNode, model: nn.Module, device: torch.device, config: SubnetConfig) -> dict[str, Any]:
    multi_pathway = cfg.MODEL.ARCH in cfg.MODEL.MULTI_PATHWAY_ARCH
    dataset, loader = _eval_loader(cfg, "test", max(1, cfg.TEST.BATCH_SIZE // get_world_size()))
    num_videos = len(dataset) // (cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS)
    scores = torch.zeros(num_videos, cfg.MODEL.NUM_CLASSES, dtype=torch.float64)
    if cfg.DATA.MULTI_LABEL:  # multi-hot per video
        labels = torch.zeros(num_videos, cfg.MODEL.NUM_CLASSES, dtype=torch.float64)
    else:
        labels = torch.full((num_videos,), -1, dtype=torch.long)
    views = torch.zeros(num_videos, dtype=torch.float64)
    for batch in tqdm(loader, desc="test", disable=not is_main_process()):
        logits = _run_batch(model, batch, device, multi_pathway, config).float()
        probs = (torch.sigmoid(logits) if cfg.DATA.MULTI_LABEL else torch.softmax(logits, 1)).double().cpu()
        for video, prob, label in zip(batch["video_index"].tolist(), probs, batch["label"]):
            if cfg.DATA.ENSEMBLE_METHOD == "max":
                scores[video] = torch.maximum(scores[video], prob)
            else:
                scores[video] += prob
            labels[video] = label
            views[video] += 1
    # A video's views may be spread over processes: sum (or max) their scores, count
    # their views, and take the label from whichever process saw one (-1 elsewhere).
    reduce_scores = all_reduce_max if cfg.DATA.ENSEMBLE_METHOD == "max" else all_reduce_sum
    scores = reduce_scores(scores.to(device)).cpu()
    views = all_reduce_sum(views.to(device)).cpu()
    labels = all_reduce_max(labels.to(device)).cpu()
    expected = cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS
    stats: dict[str, Any] = {
        "views_per_video": expected, "videos": num_videos,
        "complete_videos": int((views == expected).sum()),
    }
    if cfg.DATA.MULTI_LABEL:
        from .metrics import mean_average_precision

        stats["map"] = round(100 * mean_average_precision(scores.numpy(), labels.numpy()), 3)
    else:
        top1, top5 = top_k_correct(scores, labels)
        stats.update(top1=round(100 * top1 / max(num_videos, 1), 3), top5=round(100 * top5 / max(num_videos, 1), 3))
    return stats


def _test_detection(cfg: CfgNode, model: nn.Module, device: torch.device, config: SubnetConfig) -> dict[str, Any]:
    multi_pathway = cfg.MODEL.ARCH in cfg.MODEL.MULTI_PATHWAY_ARCH
    dataset, loader = _eval_loader(cfg, "test", max(1, cfg.TEST.BATCH_SIZE // get_world_size()))
    accumulator = _accumulator(cfg, dataset)
    for batch in tqdm(loader, desc="test", disable=not is_main_process()):
        accumulator.add(_run_batch(model, batch, device, multi_pathway, config), batch)
    metric, _ = accumulator.result()
    details = accumulator.details
    return {
        "key_frames": len(dataset), "map": metric,
        "per_class_ap": {str(c): round(100 * ap, 3) for c, ap in details["per_class"].items()},
    }


# --------------------------------------------------------------------------------------
# The whole run
# --------------------------------------------------------------------------------------
def run(cfg: CfgNode) -> None:
    """Every stage the config enables, in order: train, calibrate + search, test."""
    Path(cfg.OUTPUT_DIR).mkdir(parents=True, exist_ok=True)
    setup_logging(cfg.OUTPUT_DIR)
    logger.info("world size %d, output %s", get_world_size(), os.path.abspath(cfg.OUTPUT_DIR))
    for setting in ignored_settings(cfg):
        logger.warning("%s has no effect here (read for PySlowFast compatibility)", setting)
    device = device_for_rank(cfg.NUM_GPUS)
    model: Optional[nn.Module] = None
    if cfg.TRAIN.ENABLE:
        model = train(cfg)
    if model is None:
        model = build_run_model(cfg).to(device)
        load_for_eval(cfg, model)
    if cfg.MUTUALNET.ENABLE and (cfg.MUTUALNET.CALIBRATE or cfg.MUTUALNET.SEARCH):
        calibrate_and_search(cfg, model, device)
    if cfg.TEST.ENABLE:
        test(cfg, model, device)
