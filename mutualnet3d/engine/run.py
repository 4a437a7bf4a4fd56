"""The whole run ``tools/run_net.py`` starts: train, calibrate + search, test.

:func:`run` reads the config once (:meth:`RunSpec.from_cfg`); below it every function
takes typed pieces, and facts about the network (pathways, full configuration, whether
it detects) are asked of the model.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np
import simplejson
import torch
import torch.nn as nn
from fvcore.common.config import CfgNode
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset, RandomSampler

from ..data import DatasetSpec, build_dataset
from ..evaluation import AvaEvaluator, format_table, pareto_front, plot_tables, write_tables
from ..slim import SubnetConfig, count_flops, count_params, enable_sync_bn, set_width
from .calibrate import calibrate_grid, precise_bn
from .checkpoint import (
    Checkpointer,
    check_writable,
    checkpoint_dir,
    load_for_eval,
    remove_stale_temporaries,
    require_finite,
)
from .device import backend_settings, grad_scaler
from .distributed import (
    all_gather_objects,
    device_for_rank,
    get_rank,
    get_world_size,
    is_main_process,
)
from .evaluate import Accumulator, DetectionAccumulator, evaluate, search
from .logs import log_stats, logger, setup_logging
from .multiview import test_detection, test_views
from .solver import build_optimizer
from .spec import RunSpec
from .train import MutualTrainer, resume_or_initialise, train

__all__ = ["run"]


def run(cfg: CfgNode, config_warnings: Sequence[str] = ()) -> None:
    """Every stage the config enables, in order: train, calibrate + search, test.

    ``config_warnings``: what loading ``cfg`` warned (before the run's log existed),
    repeated in it."""
    spec = RunSpec.from_cfg(cfg, get_world_size())
    _prepare_output(spec)
    logger.info("world size %d, output %s", get_world_size(), os.path.abspath(spec.output_dir))
    for message in config_warnings:
        logger.warning("config: %s", message)
    if get_world_size() > 1:  # to find a rank's process (a stalled one, say) by its id
        logger.info("process ids by rank: %s", all_gather_objects(os.getpid()))
    for setting in spec.equivalent:
        logger.info("%s", setting)
    if spec.lr_scale != 1:
        logger.info(
            "SOLVER.BASE_LR_SCALE_NUM_SHARDS: learning rates x %d (base %g)",
            spec.lr_scale,
            spec.schedule.base_lr,
        )
    for line in spec.backends.described():
        logger.info("%s", line)
    with backend_settings(spec.backends):  # before any CUDA work: cuBLAS reads it once
        _stages(spec)


def _stages(spec: RunSpec) -> None:
    """The stages of :func:`run` on this process's device."""
    device = device_for_rank(spec.num_gpus)
    _seed(spec.seed + get_rank())
    model = spec.model.build().to(device)
    # Which network a name builds (PySlowFast's X3D or PyTorchVideo's layout, ...).
    logger.info("MODEL.MODEL_NAME %s: %s", spec.model.name, spec.model.description)
    if spec.log_model_info and is_main_process():
        _log_model(model)
    checkpoints = Checkpointer(spec.output_dir, spec.config_text)
    if spec.train.enabled:
        _train(spec, model, checkpoints, device)
    # As PySlowFast's test_net after training, TEST.CHECKPOINT_FILE_PATH takes precedence.
    if not spec.train.enabled or spec.test.checkpoint:
        load_for_eval(
            model,
            spec.test.checkpoint,
            spec.output_dir,
            spec.test.checkpoint_type,
            fallback=spec.train.init_checkpoint,
            fallback_type=spec.train.init_checkpoint_type,
        )
    require_finite(model, spec.output_dir, "before calibration, search and test")
    grid = spec.search.grid(model.full_config())
    if spec.search.calibrate:
        _calibrate(spec, model, grid, checkpoints, device)
    if spec.search.search:
        _search(spec, model, grid, device)
    if spec.test.enabled:
        _test(spec, model, device)


def _prepare_output(spec: RunSpec) -> None:
    """Before any work: the output folders checked writable by the main process (and the
    checkpoint folder, where training or calibration writes), the log opened, and the
    temporary files of checkpoint writes a kill interrupted removed."""
    folders = [Path(spec.output_dir)]
    if spec.train.enabled or spec.search.calibrate:
        folders.append(checkpoint_dir(spec.output_dir))
    if is_main_process():
        check_writable(folders)
    else:
        Path(spec.output_dir).mkdir(parents=True, exist_ok=True)
    setup_logging(spec.output_dir)
    if is_main_process():
        remove_stale_temporaries(spec.output_dir)


def _log_model(model: nn.Module) -> None:
    """LOG_MODEL_INFO: the network, its parameters and its cost at the full configuration
    (fvcore's multiply-adds: all operators for video, conv + linear for images)."""
    ops = "conv_linear" if model.input_kind == "image" else "all"
    flops = count_flops(model, model.example_args(), 1.0, ops)
    logger.info(
        "%s\n%s: %.4g M parameters, %.4g GFLOPs at its full configuration %s",
        model,
        type(model).__name__,
        count_params(model) / 1e6,
        flops / 1e9,
        tuple(model.full_config()),
    )


def _seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _multi_label(spec: RunSpec, model: nn.Module) -> bool:
    """Sigmoid outputs: multi-label clips (Charades) or a detector's boxes (AVA)."""
    return spec.multi_label or model.detects


def _accumulator(
    spec: RunSpec, model: nn.Module, dataset: Dataset, data: DatasetSpec
) -> Union[Accumulator, DetectionAccumulator]:
    """The metric of the run's task on ``dataset`` (built from ``data``): top-1/top-5,
    mAP, or AVA's frame-level mAP against the groundtruth of ``data``'s files."""
    if not model.detects:
        return Accumulator(_multi_label(spec, model))
    files = data.ava
    exclusions = files.annotation(files.exclusion_file) if files.exclusion_file else None
    return DetectionAccumulator(
        AvaEvaluator(
            files.annotation(files.groundtruth_file),
            files.annotation(files.label_map_file),
            exclusions,
            dataset.video_names,
        )
    )


def _metrics(
    spec: RunSpec, model: nn.Module, metric: float, top5: Optional[float]
) -> dict[str, float]:
    return {"map": metric} if _multi_label(spec, model) else {"top1": metric, "top5": top5}


def _train(
    spec: RunSpec, model: nn.Module, checkpoints: Checkpointer, device: torch.device
) -> None:
    optimizer = build_optimizer(model, spec.optimizer)
    scaler = grad_scaler(device, spec.train.mixed_precision)
    start_epoch = resume_or_initialise(
        model,
        optimizer,
        scaler,
        output_dir=spec.output_dir,
        auto_resume=spec.train.auto_resume,
        init_checkpoint=spec.train.init_checkpoint,
        init_checkpoint_type=spec.train.init_checkpoint_type,
        inflate=spec.train.inflate,
        epoch_reset=spec.train.epoch_reset,
    )
    _sync_bn(model, spec.train.sync_bn_group)
    wrapped = model
    if get_world_size() > 1:
        wrapped = DistributedDataParallel(
            model, device_ids=[device] if device.type == "cuda" else None
        )
    full = model.full_config()
    if spec.cohort.enabled:
        cohort = spec.cohort.sampler(full, spec.seed).sample
    else:  # I-Net: its one configuration
        static = spec.cohort.trained(full)
        cohort = lambda step: [static]  # noqa: E731
    trainer = MutualTrainer(
        wrapped,
        optimizer,
        scaler,
        spec.criterion(),
        spec.schedule,
        cohort,
        model.num_pathways,
        distill=spec.cohort.distill,
        multi_label=_multi_label(spec, model),
        mixed_precision=spec.train.mixed_precision,
        clip_grad_val=spec.train.clip_grad_val,
        clip_grad_l2norm=spec.train.clip_grad_l2norm,
        align_corners=spec.resize_align_corners,
    )
    dataset = build_dataset(spec.train_data, "train", alpha=model.alpha)
    writer = _tensorboard(spec)
    train(
        trainer,
        dataset,
        spec=spec.train,
        loader=spec.loader,
        seed=spec.seed,
        start_epoch=start_epoch,
        checkpoints=checkpoints,
        device=device,
        writer=writer,
        validate=lambda done: _validate(spec, model, dataset, done, device),
    )
    if writer is not None:
        writer.close()


def _sync_bn(model: nn.Module, group: int) -> None:
    """BN.NORM_TYPE sync_batchnorm: statistics shared by ``group`` processes (1: none)."""
    if group > 1:
        layers = enable_sync_bn(model, group)
        logger.info(
            "BN statistics of %d layers synchronised over groups of %d processes", layers, group
        )


def _validate(
    spec: RunSpec, model: nn.Module, train_set: Dataset, done: int, device: torch.device
) -> dict[str, Any]:
    """The trained configuration on the validation split, after ``done`` epochs."""
    config = spec.cohort.trained(model.full_config())
    if spec.train.precise_bn_batches:
        generator = torch.Generator().manual_seed(spec.seed * 1000 + (done - 1) + 500)
        loader = spec.loader.loader(
            train_set, spec.search.calib_batch_size, RandomSampler(train_set, generator=generator)
        )
        precise_bn(
            model,
            loader,
            config,
            spec.train.precise_bn_batches,
            device,
            align_corners=spec.resize_align_corners,
        )
    dataset = build_dataset(spec.train_data, "val", alpha=model.alpha)
    loader = spec.loader.eval_loader(dataset, spec.search.batch_size)
    accumulator = _accumulator(spec, model, dataset, spec.train_data)
    result = evaluate(
        model, loader, config, accumulator, device, align_corners=spec.resize_align_corners
    )
    return _metrics(spec, model, *result)


def _tensorboard(spec: RunSpec) -> Any:
    if spec.train.tensorboard_dir is None or not is_main_process():
        return None
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(Path(spec.output_dir) / spec.train.tensorboard_dir))


def _calibrate(
    spec: RunSpec,
    model: nn.Module,
    grid: list[SubnetConfig],
    checkpoints: Checkpointer,
    device: torch.device,
) -> None:
    """BN calibration of every grid configuration on MUTUALNET.BN_CALIB_BATCHES training
    batches read once (each runs every configuration); saves
    ``checkpoint_calibrated.pyth``."""
    dataset = build_dataset(spec.train_data, "train", alpha=model.alpha)
    sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(spec.seed))
    loader = spec.loader.loader(dataset, spec.search.calib_batch_size, sampler)
    used = calibrate_grid(
        model,
        loader,
        grid,
        spec.search.calib_batches,
        device,
        align_corners=spec.resize_align_corners,
    )
    logger.info("calibrated BN statistics of %d configurations on %d batches", len(grid), used)
    checkpoints.save(model, spec.train.max_epoch, name="checkpoint_calibrated.pyth")


def _search(
    spec: RunSpec, model: nn.Module, grid: list[SubnetConfig], device: torch.device
) -> None:
    """Every grid configuration on each split of MUTUALNET.SEARCH_SPLITS, each clip decoded
    once; the main process writes the search and query tables (CSV, JSON) and, for the
    first split, the accuracy-FLOPs plot."""
    metric_name = "map" if _multi_label(spec, model) else "top1"
    for index, split in enumerate(spec.search.splits):
        dataset = build_dataset(spec.train_data, split, alpha=model.alpha)
        loader = spec.loader.eval_loader(dataset, spec.search.batch_size)
        accumulators = [_accumulator(spec, model, dataset, spec.train_data) for _ in grid]
        results = search(
            model, loader, grid, accumulators, device, align_corners=spec.resize_align_corners
        )
        if not results:  # not the main process
            continue
        suffix = "" if index == 0 else f"_{split}"
        paths = write_tables(results, spec.output_dir, metric_name, suffix=suffix)
        if index:
            logger.info("%s split: wrote %s", split, paths["search_table" + suffix])
            continue
        front = pareto_front(results)
        plot = plot_tables(
            results,
            str(Path(spec.output_dir) / "accuracy_flops.png"),
            metric_name="mAP (%)" if metric_name == "map" else "top-1 (%)",
            title=f"{spec.model.name}: {len(results)} configurations",
        )
        logger.info("wrote %s, %s and %s", paths["search_table"], paths["query_table"], plot)
        logger.info(
            "query table: the best configuration for any budget (%d of %d configurations, "
            "%s split)\n%s",
            len(front),
            len(results),
            split,
            format_table(front, metric_name),
        )


def _test(spec: RunSpec, model: nn.Module, device: torch.device) -> dict[str, Any]:
    """The test split at the tested configuration (its calibrated statistics); writes
    ``test_results.json``."""
    full = model.full_config()
    tested = spec.test.configuration(full)
    config = spec.test.input_config(tested, full)
    stats: dict[str, Any] = {
        "_type": "test",
        "config": {"width": tested.width, "spatial": tested.spatial, "temporal": tested.temporal},
    }
    dataset = build_dataset(spec.test_data, "test", alpha=model.alpha)
    loader = spec.loader.eval_loader(dataset, spec.test.batch_size)
    model.eval()
    with set_width(model, tested.width, tested.key, warn_uncalibrated=True):
        if model.detects:
            stats.update(
                test_detection(
                    model,
                    loader,
                    config,
                    _accumulator(spec, model, dataset, spec.test_data),
                    device,
                    align_corners=spec.resize_align_corners,
                )
            )
        else:
            stats.update(
                test_views(
                    model,
                    loader,
                    config,
                    num_videos=len(dataset) // spec.test.views_per_video,
                    views_per_video=spec.test.views_per_video,
                    multi_label=_multi_label(spec, model),
                    ensemble_method=spec.test.ensemble_method,
                    device=device,
                    save_path=spec.test.save_results_path or None,
                    align_corners=spec.resize_align_corners,
                )
            )
    log_stats(stats)
    if is_main_process():
        with open(Path(spec.output_dir) / "test_results.json", "w") as f:
            simplejson.dump(stats, f, indent=2, ignore_nan=True)
    return stats
