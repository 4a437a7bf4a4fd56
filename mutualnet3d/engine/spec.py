"""The config turned into typed settings, once, at the engine's edge.

Nothing below the engine's run entry point takes the config: the data package gets a
:class:`~mutualnet3d.data.DatasetSpec` made here.
"""

from __future__ import annotations

from fvcore.common.config import CfgNode

from ..data import (
    DATASETS,
    SPLITS,
    AvaFiles,
    ClipSampling,
    DatasetSpec,
    DigitsSettings,
    Normalization,
    RetryPolicy,
    SpatialSampling,
    TestViews,
)

__all__ = ["dataset_spec"]


def dataset_spec(cfg: CfgNode, split: str) -> DatasetSpec:
    """The :class:`~mutualnet3d.data.DatasetSpec` of ``split`` (train, val, test).

    TRAIN.DATASET names the data set of train and val, TEST.DATASET that of test
    (PySlowFast), case-insensitive. Keys read: DATA.PATH_TO_DATA_DIR, PATH_PREFIX,
    PATH_LABEL_SEPARATOR, NUM_FRAMES, SAMPLING_RATE, TARGET_FPS, TRAIN_JITTER_SCALES,
    TRAIN_CROP_SIZE, TEST_CROP_SIZE, RANDOM_FLIP, INV_UNIFORM_SAMPLE, MEAN, STD,
    MAX_DECODE_RETRIES, MAX_FAILURE_RATIO; MODEL.NUM_CLASSES; TEST.NUM_ENSEMBLE_VIEWS,
    NUM_SPATIAL_CROPS; for ava the AVA paths and file names, for moving_digits the
    MOVING_DIGITS keys. Kinetics and Charades decode with PyAV only: another
    DATA.DECODING_BACKEND raises ``ValueError``, as does an unknown data set (naming
    its key). The pathway ratio ``alpha`` is not part of the spec.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    key = "TEST.DATASET" if split == "test" else "TRAIN.DATASET"
    name = (cfg.TEST.DATASET if split == "test" else cfg.TRAIN.DATASET).lower()
    if name not in DATASETS:
        raise ValueError(f"{key}: unknown data set {name!r}; known: {', '.join(DATASETS)}")
    data, ava, digits = cfg.DATA, cfg.AVA, cfg.MOVING_DIGITS
    if name in ("kinetics", "charades") and data.DECODING_BACKEND != "pyav":
        raise ValueError(
            f"DATA.DECODING_BACKEND: only 'pyav' is supported, got {data.DECODING_BACKEND!r}"
        )
    return DatasetSpec(
        name=name,
        root=data.PATH_TO_DATA_DIR,
        path_prefix=data.PATH_PREFIX,
        separator=data.PATH_LABEL_SEPARATOR,
        num_classes=cfg.MODEL.NUM_CLASSES,
        sampling=ClipSampling(data.NUM_FRAMES, data.SAMPLING_RATE, data.TARGET_FPS),
        spatial=SpatialSampling(
            tuple(data.TRAIN_JITTER_SCALES), data.TRAIN_CROP_SIZE, data.TEST_CROP_SIZE,
            data.RANDOM_FLIP, data.INV_UNIFORM_SAMPLE,
        ),
        views=TestViews(cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS),
        normalization=Normalization(tuple(data.MEAN), tuple(data.STD)),
        retry=RetryPolicy(data.MAX_DECODE_RETRIES, data.MAX_FAILURE_RATIO),
        ava=AvaFiles(
            ava.FRAME_DIR, ava.FRAME_LIST_DIR, ava.ANNOTATION_DIR,
            train_lists=tuple(ava.TRAIN_LISTS), test_lists=tuple(ava.TEST_LISTS),
            train_gt_box_lists=tuple(ava.TRAIN_GT_BOX_LISTS),
            train_predict_box_lists=tuple(ava.TRAIN_PREDICT_BOX_LISTS),
            test_predict_box_lists=tuple(ava.TEST_PREDICT_BOX_LISTS),
            detection_score_thresh=ava.DETECTION_SCORE_THRESH,
            label_map_file=ava.LABEL_MAP_FILE, exclusion_file=ava.EXCLUSION_FILE,
            groundtruth_file=ava.GROUNDTRUTH_FILE,
        ) if name == "ava" else None,
        digits=DigitsSettings(
            digits.NUM_TRAIN_CLIPS, digits.NUM_VAL_CLIPS, digits.SIZE, digits.SEED
        ) if name == "moving_digits" else None,
    )
