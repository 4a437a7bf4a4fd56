"""The config turned into typed settings, once, at the engine's edge.

:meth:`RunSpec.from_cfg` is the only place where the engine reads a CfgNode
(``engine/run.py`` calls it); every stage takes the typed pieces it needs. Facts about
the network (its pathways, its full configuration, whether it detects) are not in the
spec: the engine asks the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import torch
import torch.nn as nn
from fvcore.common.config import CfgNode
from torch.utils.data import DataLoader, Dataset, Sampler

from ..config import (
    check_process_layout,
    equivalent_settings,
    eval_widths,
    sync_bn_group,
)
from ..config.data import dataset_name
from ..data import (
    AvaFiles,
    ClipSampling,
    ColorAugmentation,
    DatasetSpec,
    DigitsSettings,
    Normalization,
    RetryPolicy,
    SpatialSampling,
    TestViews,
    collate_fn_for,
)
from ..data.specs import check_split
from ..models import get_model_builder, model_kwargs
from ..slim import SubnetConfig, export_subnet
from .device import BackendSpec, to_channels_last
from .distributed import ShardSampler
from .sampling import ConfigSampler
from .solver import LRSchedule, OptimizerSpec, build_criterion, Criterion
from .skips import SkipCountingLoader

__all__ = [
    "CohortSpec",
    "LoaderSpec",
    "ModelSpec",
    "RunSpec",
    "SearchSpec",
    "MultiViewSpec",
    "TrainSpec",
    "dataset_spec",
]


@dataclass(frozen=True)
class ModelSpec:
    """The registered network (MODEL.MODEL_NAME) and its builder's keyword arguments.

    ``static_width`` below 1.0 (MUTUALNET.ENABLE False, STATIC_WIDTH) makes the run's
    model an independent network of that width built of plain layers (an I-Net),
    initialised as the model initialises a network of that size
    (:meth:`~mutualnet3d.models.base.SlimNet.init_at_own_size`: each convolution over its
    own fan, not over the full layer's it was cut from). ``channels_last``
    (MODEL.CHANNELS_LAST) stores its conv weights channels-last
    (:func:`~.device.to_channels_last`).
    """

    name: str
    kwargs: Mapping[str, Any]
    static_width: float = 1.0
    channels_last: bool = False

    @property
    def description(self) -> str:
        """The first line of the registered builder's docstring (what the name builds)."""
        doc = get_model_builder(self.name).__doc__ or ""
        return " ".join(doc.strip().split("\n\n")[0].split())

    def build(self) -> nn.Module:
        model = get_model_builder(self.name)(**self.kwargs)
        if self.static_width < 1.0:
            model = export_subnet(model, self.static_width)
            model.init_at_own_size()
        return to_channels_last(model) if self.channels_last else model


@dataclass(frozen=True)
class LoaderSpec:
    """DATA_LOADER's keys: worker processes and page-locked memory (CUDA only)."""

    num_workers: int = 0
    pin_memory: bool = False

    def loader(
        self, dataset: Dataset, batch_size: int, sampler: Sampler, *, drop_last: bool = False
    ) -> DataLoader:
        """Batches of ``dataset`` in ``sampler``'s order, collated as its items need,
        each with the counts of :data:`~.skips.SKIPS`."""
        return SkipCountingLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            drop_last=drop_last,
            collate_fn=collate_fn_for(dataset),
        )

    def eval_loader(self, dataset: Dataset, batch_size: int) -> DataLoader:
        """Every sample once over all processes (:class:`ShardSampler`), in order."""
        return self.loader(dataset, batch_size, ShardSampler(len(dataset)))


@dataclass(frozen=True)
class CohortSpec:
    """How each iteration's sub-networks are drawn (MUTUALNET), or the one I-Net.

    ``enabled`` False trains one static configuration (STATIC_SPATIAL_SIZE,
    STATIC_TEMPORAL_SIZE; 0 = full size) of a network built at STATIC_WIDTH.
    """

    enabled: bool = True
    min_width: float = 0.25
    num_random: int = 2
    spatial_sizes: tuple[int, ...] = ()
    temporal_sizes: tuple[int, ...] = ()
    sampling: str = "mutual"
    distill: bool = True
    static_spatial: int = 0
    static_temporal: int = 0

    def sampler(self, full: SubnetConfig, seed: int) -> ConfigSampler:
        return ConfigSampler(
            full,
            self.min_width,
            self.spatial_sizes,
            self.temporal_sizes,
            self.num_random,
            self.sampling,
            seed,
        )

    def trained(self, full: SubnetConfig) -> SubnetConfig:
        """The configuration validated between epochs: the full one, or the I-Net's
        (width 1.0: the static network is already narrow)."""
        if self.enabled:
            return full
        temporal = None if full.temporal is None else self.static_temporal or full.temporal
        return SubnetConfig(1.0, self.static_spatial or full.spatial, temporal)


@dataclass(frozen=True)
class TrainSpec:
    """TRAIN, SOLVER and BN keys of the training loop (batch size per process)."""

    enabled: bool = True
    batch_size: int = 1
    max_epoch: int = 1
    eval_period: int = 1  # 0: never validate
    checkpoint_period: int = 1
    auto_resume: bool = True
    init_checkpoint: str = ""  # TRAIN.CHECKPOINT_FILE_PATH
    init_checkpoint_type: str = "pytorch"  # TRAIN.CHECKPOINT_TYPE: pytorch or caffe2
    inflate: bool = False  # TRAIN.CHECKPOINT_INFLATE: 2D kernels into 3D ones
    epoch_reset: bool = False  # TRAIN.CHECKPOINT_EPOCH_RESET: start at epoch 0 anyway
    mixed_precision: bool = False  # float16 + GradScaler on CUDA, bfloat16 on the CPU
    log_period: int = 10
    precise_bn_batches: int = 0  # BN.NUM_BATCHES_PRECISE when BN.USE_PRECISE_STATS, else 0
    clip_grad_val: Optional[float] = None
    clip_grad_l2norm: Optional[float] = None
    tensorboard_dir: Optional[str] = None  # under OUTPUT_DIR; None: off
    sync_bn_group: int = 1  # processes sharing BN statistics (BN.NORM_TYPE sync_batchnorm)


@dataclass(frozen=True)
class SearchSpec:
    """The stages after training: BN calibration of the grid, then its evaluation.

    ``spatial_sizes`` / ``temporal_sizes``: MUTUALNET.EVAL_* or else the training lists
    (empty: the full size); :meth:`grid` completes them with the model's full size.
    """

    calibrate: bool = True
    search: bool = True
    calib_batches: int = 10
    calib_batch_size: int = 1  # training batches, per process
    batch_size: int = 1  # validation batches, per process
    widths: tuple[float, ...] = (1.0,)
    spatial_sizes: tuple[int, ...] = ()
    temporal_sizes: tuple[int, ...] = ()
    splits: tuple[str, ...] = ("val",)  # the first builds the query table

    def grid(self, full: SubnetConfig) -> list[SubnetConfig]:
        """Every width x spatial x temporal configuration, sizes largest first."""
        spatial = sorted(self.spatial_sizes or [full.spatial], reverse=True)
        temporal: list[Optional[int]] = [None]
        if full.temporal is not None:
            temporal = sorted(self.temporal_sizes or [full.temporal], reverse=True)
        return [SubnetConfig(w, s, t) for w in self.widths for s in spatial for t in temporal]


@dataclass(frozen=True)
class MultiViewSpec:
    """The multi-view test (TEST keys) at MUTUALNET.TEST_* (0 = full size)."""

    enabled: bool = True
    batch_size: int = 1  # per process
    checkpoint: str = ""  # TEST.CHECKPOINT_FILE_PATH ("": the newest of the run)
    checkpoint_type: str = "pytorch"  # TEST.CHECKPOINT_TYPE: pytorch or caffe2
    width: float = 1.0
    spatial: int = 0
    temporal: int = 0
    crop_size: int = 256  # DATA.TEST_CROP_SIZE: test views are cut at this size
    ensemble_method: str = "sum"
    views_per_video: int = 1
    save_results_path: str = ""  # TEST.SAVE_RESULTS_PATH joined to OUTPUT_DIR ("": off)

    def configuration(self, full: SubnetConfig) -> SubnetConfig:
        """The configuration tested, as trained (its BN statistics key)."""
        temporal = None if full.temporal is None else self.temporal or full.temporal
        return SubnetConfig(self.width, self.spatial or full.spatial, temporal)

    def input_config(self, tested: SubnetConfig, full: SubnetConfig) -> SubnetConfig:
        """``tested`` at the test views' size: views are cut at ``crop_size``, and a
        smaller configuration scales them alike."""
        return tested._replace(spatial=round(self.crop_size * tested.spatial / full.spatial))


@dataclass(frozen=True)
class RunSpec:
    """Everything a run does, typed: what ``tools/run_net.py``'s config asks for."""

    output_dir: str
    seed: int
    num_gpus: int
    model: ModelSpec
    train_data: DatasetSpec  # TRAIN.DATASET: the train and val splits
    test_data: DatasetSpec  # TEST.DATASET: the test split
    loader: LoaderSpec
    optimizer: OptimizerSpec
    schedule: LRSchedule
    loss: str
    label_smoothing: float
    multi_label: bool  # DATA.MULTI_LABEL; a detector's outputs are multi-label too
    cohort: CohortSpec
    train: TrainSpec
    search: SearchSpec
    test: MultiViewSpec
    config_text: str = ""  # the config's YAML, stored in every checkpoint
    equivalent: tuple[str, ...] = field(default=())  # settings served another way
    lr_scale: int = 1  # the learning rates' factor (SOLVER.BASE_LR_SCALE_NUM_SHARDS)
    log_model_info: bool = True  # LOG_MODEL_INFO: the network, its size and cost at start
    # MUTUALNET.RESIZE_ALIGN_CORNERS: of every resize of a sub-network's input (training,
    # BN calibration and precise BN, validation, search, test).
    resize_align_corners: bool = False
    backends: BackendSpec = BackendSpec()  # CUDNN_BENCHMARK, DETERMINISTIC

    def criterion(self) -> Criterion:
        return build_criterion(self.loss, self.label_smoothing)

    @classmethod
    def from_cfg(cls, cfg: CfgNode, world_size: int = 1) -> "RunSpec":
        """The spec of a validated config for a job of ``world_size`` processes.

        Batch sizes are per process (TRAIN/TEST.BATCH_SIZE are the job's); a size that
        does not divide among the processes raises ConfigError.
        """
        check_process_layout(cfg, world_size)
        node = cfg.MUTUALNET
        train_batch = cfg.TRAIN.BATCH_SIZE // world_size
        test_batch = cfg.TEST.BATCH_SIZE // world_size
        return cls(
            output_dir=cfg.OUTPUT_DIR,
            seed=cfg.RNG_SEED,
            num_gpus=cfg.NUM_GPUS,
            model=ModelSpec(
                cfg.MODEL.MODEL_NAME,
                model_kwargs(cfg),
                1.0 if node.ENABLE else node.STATIC_WIDTH,
                cfg.MODEL.CHANNELS_LAST,
            ),
            train_data=dataset_spec(cfg, "train"),
            test_data=dataset_spec(cfg, "test"),
            loader=LoaderSpec(cfg.DATA_LOADER.NUM_WORKERS, cfg.DATA_LOADER.PIN_MEMORY),
            optimizer=_optimizer_spec(cfg),
            schedule=_schedule(cfg),
            loss=cfg.MODEL.LOSS_FUNC,
            label_smoothing=cfg.MODEL.LABEL_SMOOTHING,
            multi_label=cfg.DATA.MULTI_LABEL,
            cohort=_cohort_spec(node),
            train=_train_spec(cfg, train_batch, world_size),
            search=_search_spec(node, train_batch, test_batch),
            test=_test_spec(cfg, test_batch),
            config_text=cfg.dump(),
            equivalent=tuple(equivalent_settings(cfg)),
            lr_scale=lr_scale(cfg),
            log_model_info=cfg.LOG_MODEL_INFO,
            resize_align_corners=node.RESIZE_ALIGN_CORNERS,
            backends=BackendSpec(cfg.CUDNN_BENCHMARK, cfg.DETERMINISTIC),
        )


def lr_scale(cfg: CfgNode) -> int:
    """What the learning rates are multiplied by: NUM_SHARDS with
    SOLVER.BASE_LR_SCALE_NUM_SHARDS (PySlowFast's rule for BASE_LR, WARMUP_START_LR and
    COSINE_END_LR), else 1. The config keeps the values as written; the run logs it."""
    return cfg.NUM_SHARDS if cfg.SOLVER.BASE_LR_SCALE_NUM_SHARDS else 1


def _optimizer_spec(cfg: CfgNode) -> OptimizerSpec:
    solver = cfg.SOLVER
    return OptimizerSpec(
        method=solver.OPTIMIZING_METHOD,
        base_lr=solver.BASE_LR * lr_scale(cfg),
        momentum=solver.MOMENTUM,
        dampening=solver.DAMPENING,
        nesterov=solver.NESTEROV,
        weight_decay=solver.WEIGHT_DECAY,
        bn_weight_decay=cfg.BN.WEIGHT_DECAY,
        zero_wd_1d_param=solver.ZERO_WD_1D_PARAM,
        weight_decay_rule=solver.WEIGHT_DECAY_RULE,
    )


def _schedule(cfg: CfgNode) -> LRSchedule:
    solver, scale = cfg.SOLVER, lr_scale(cfg)
    return LRSchedule(
        base_lr=solver.BASE_LR * scale,
        max_epoch=solver.MAX_EPOCH,
        policy=solver.LR_POLICY,
        cosine_end_lr=solver.COSINE_END_LR * scale,
        cosine_after_warmup=solver.COSINE_AFTER_WARMUP,
        steps=tuple(solver.STEPS),
        lrs=tuple(solver.LRS),
        warmup_epochs=solver.WARMUP_EPOCHS,
        warmup_start_lr=solver.WARMUP_START_LR * scale,
    )


def _cohort_spec(node: CfgNode) -> CohortSpec:
    return CohortSpec(
        enabled=node.ENABLE,
        min_width=node.WIDTH_RANGE[0],
        num_random=node.NUM_RANDOM,
        spatial_sizes=tuple(node.SPATIAL_SIZES),
        temporal_sizes=tuple(node.TEMPORAL_SIZES),
        sampling=node.SAMPLING,
        distill=node.DISTILL,
        static_spatial=node.STATIC_SPATIAL_SIZE,
        static_temporal=node.STATIC_TEMPORAL_SIZE,
    )


def _train_spec(cfg: CfgNode, batch_size: int, world_size: int) -> TrainSpec:
    train = cfg.TRAIN
    tensorboard = None
    if cfg.TENSORBOARD.ENABLE:
        tensorboard = cfg.TENSORBOARD.LOG_DIR or f"runs-{train.DATASET}"
    return TrainSpec(
        enabled=train.ENABLE,
        batch_size=batch_size,
        max_epoch=cfg.SOLVER.MAX_EPOCH,
        eval_period=train.EVAL_PERIOD,
        checkpoint_period=train.CHECKPOINT_PERIOD,
        auto_resume=train.AUTO_RESUME,
        init_checkpoint=train.CHECKPOINT_FILE_PATH,
        init_checkpoint_type=train.CHECKPOINT_TYPE,
        inflate=train.CHECKPOINT_INFLATE,
        epoch_reset=train.CHECKPOINT_EPOCH_RESET,
        mixed_precision=train.MIXED_PRECISION,
        log_period=cfg.LOG_PERIOD,
        precise_bn_batches=cfg.BN.NUM_BATCHES_PRECISE if cfg.BN.USE_PRECISE_STATS else 0,
        clip_grad_val=cfg.SOLVER.CLIP_GRAD_VAL,
        clip_grad_l2norm=cfg.SOLVER.CLIP_GRAD_L2NORM,
        tensorboard_dir=tensorboard,
        sync_bn_group=sync_bn_group(cfg, world_size),
    )


def _search_spec(node: CfgNode, train_batch: int, test_batch: int) -> SearchSpec:
    # Calibration and search evaluate the grid of an adaptive network only.
    return SearchSpec(
        calibrate=node.ENABLE and node.CALIBRATE,
        search=node.ENABLE and node.SEARCH,
        calib_batches=node.BN_CALIB_BATCHES,
        calib_batch_size=max(1, train_batch),
        batch_size=max(1, test_batch),
        widths=tuple(eval_widths(node)),
        spatial_sizes=tuple(node.EVAL_SPATIAL_SIZES or node.SPATIAL_SIZES),
        temporal_sizes=tuple(node.EVAL_TEMPORAL_SIZES or node.TEMPORAL_SIZES),
        splits=tuple(node.SEARCH_SPLITS),
    )


def _test_spec(cfg: CfgNode, batch_size: int) -> MultiViewSpec:
    node = cfg.MUTUALNET
    if node.ENABLE:
        width, spatial, temporal = node.TEST_WIDTH, node.TEST_SPATIAL_SIZE, node.TEST_TEMPORAL_SIZE
    else:  # an I-Net tests its own configuration (width 1.0: the network is already narrow)
        width, spatial, temporal = 1.0, node.STATIC_SPATIAL_SIZE, node.STATIC_TEMPORAL_SIZE
    return MultiViewSpec(
        enabled=cfg.TEST.ENABLE,
        batch_size=max(1, batch_size),
        checkpoint=cfg.TEST.CHECKPOINT_FILE_PATH,
        checkpoint_type=cfg.TEST.CHECKPOINT_TYPE,
        width=width,
        spatial=spatial,
        temporal=temporal,
        crop_size=cfg.DATA.TEST_CROP_SIZE,
        ensemble_method=cfg.DATA.ENSEMBLE_METHOD,
        views_per_video=cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS,
        save_results_path=(
            os.path.join(cfg.OUTPUT_DIR, cfg.TEST.SAVE_RESULTS_PATH)
            if cfg.TEST.SAVE_RESULTS_PATH
            else ""
        ),
    )


def _color_augmentation(data: CfgNode) -> ColorAugmentation:
    """ImageNet's colour jitter and lighting noise (DATA.TRAIN_COLOR_JITTER,
    TRAIN_PCA_ALPHA_STD, TRAIN_PCA_EIGVAL, TRAIN_PCA_EIGVEC)."""
    return ColorAugmentation(
        jitter=data.TRAIN_COLOR_JITTER,
        lighting_std=data.TRAIN_PCA_ALPHA_STD,
        eigval=tuple(data.TRAIN_PCA_EIGVAL),
        eigvec=tuple(tuple(row) for row in data.TRAIN_PCA_EIGVEC),
    )


def dataset_spec(cfg: CfgNode, split: str) -> DatasetSpec:
    """The :class:`~mutualnet3d.data.DatasetSpec` of ``split`` (train, val, test).

    TRAIN.DATASET names the data set of train and val, TEST.DATASET that of test
    (PySlowFast), case-insensitive, its ``ptv*`` names read as ours. Keys read:
    DATA.PATH_TO_DATA_DIR, PATH_PREFIX, PATH_LABEL_SEPARATOR, NUM_FRAMES, SAMPLING_RATE,
    TARGET_FPS, TRAIN_JITTER_SCALES, TRAIN_CROP_SIZE, TEST_CROP_SIZE, RANDOM_FLIP,
    INV_UNIFORM_SAMPLE, MEAN, STD, REVERSE_INPUT_CHANNEL, MAX_DECODE_RETRIES,
    MAX_FAILURE_RATIO, USE_OFFSET_SAMPLING, ALLOW_DUPLICATES; MODEL.NUM_CLASSES; TEST.NUM_ENSEMBLE_VIEWS, NUM_SPATIAL_CROPS;
    for ava the AVA paths and file names, for moving_digits the MOVING_DIGITS keys, for fashion_mnist FASHION_MNIST's, for
    imagenet the colour augmentation's (DATA.TRAIN_COLOR_JITTER, TRAIN_PCA_*).
    The config is a validated one (``load_config``: known data sets, FFmpeg decoding).
    The pathway ratio ``alpha`` is not part of the spec: it is the model's.
    """
    check_split(split)
    name = dataset_name(cfg.TEST.DATASET if split == "test" else cfg.TRAIN.DATASET)
    data, ava, digits = cfg.DATA, cfg.AVA, cfg.MOVING_DIGITS
    return DatasetSpec(
        name=name,
        root=data.PATH_TO_DATA_DIR,
        path_prefix=data.PATH_PREFIX,
        separator=data.PATH_LABEL_SEPARATOR,
        num_classes=cfg.MODEL.NUM_CLASSES,
        allow_duplicates=data.ALLOW_DUPLICATES,
        sampling=ClipSampling(data.NUM_FRAMES, data.SAMPLING_RATE, data.TARGET_FPS),
        spatial=SpatialSampling(
            tuple(data.TRAIN_JITTER_SCALES),
            data.TRAIN_CROP_SIZE,
            data.TEST_CROP_SIZE,
            data.RANDOM_FLIP,
            data.INV_UNIFORM_SAMPLE,
            tuple(data.TRAIN_JITTER_SCALES_RELATIVE),
            tuple(data.TRAIN_JITTER_ASPECT_RELATIVE),
        ),
        color=_color_augmentation(data) if name == "imagenet" else ColorAugmentation(),
        views=TestViews(
            cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS, data.USE_OFFSET_SAMPLING
        ),
        # PySlowFast reverses the channels for REVERSE_INPUT_CHANNEL, and AVA's frames once
        # more for AVA.BGR: both set is RGB again.
        normalization=Normalization(
            tuple(data.MEAN),
            tuple(data.STD),
            bgr=data.REVERSE_INPUT_CHANNEL != (name == "ava" and ava.BGR),
        ),
        retry=RetryPolicy(data.MAX_DECODE_RETRIES, data.MAX_FAILURE_RATIO),
        decode_threads=cfg.DATA_LOADER.ENABLE_MULTI_THREAD_DECODE,
        ava=AvaFiles(
            ava.FRAME_DIR,
            ava.FRAME_LIST_DIR,
            ava.ANNOTATION_DIR,
            train_lists=tuple(ava.TRAIN_LISTS),
            test_lists=tuple(ava.TEST_LISTS),
            train_gt_box_lists=tuple(ava.TRAIN_GT_BOX_LISTS),
            train_predict_box_lists=tuple(ava.TRAIN_PREDICT_BOX_LISTS),
            test_predict_box_lists=tuple(ava.TEST_PREDICT_BOX_LISTS),
            detection_score_thresh=ava.DETECTION_SCORE_THRESH,
            label_map_file=ava.LABEL_MAP_FILE,
            exclusion_file=ava.EXCLUSION_FILE,
            groundtruth_file=ava.GROUNDTRUTH_FILE,
            full_test_on_val=ava.FULL_TEST_ON_VAL,
        )
        if name == "ava"
        else None,
        digits=DigitsSettings(
            digits.NUM_TRAIN_CLIPS, digits.NUM_VAL_CLIPS, digits.SIZE, digits.SEED
        )
        if name == "moving_digits"
        else None,
        num_train_images=cfg.FASHION_MNIST.NUM_TRAIN_IMAGES if name == "fashion_mnist" else 0,
    )
