"""The config edge of the data package: ``build_dataset(cfg, split)``, ``build_loader``."""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional, Sequence

import torch
from fvcore.common.config import CfgNode
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from .ava import Ava, ava_collate
from .charades import Charades
from .imagenet import ImageFolderClassification
from .clip_dataset import MODES
from .kinetics import Kinetics
from .moving_digits import DigitImages, MovingDigits

__all__ = ["DATASETS", "build_ava", "build_dataset", "build_loader", "collate_fn", "collate_samples"]

DATASETS = ("kinetics", "charades", "ava", "imagenet", "moving_digits", "mnist_digits")


def _alpha(cfg: CfgNode) -> Optional[int]:
    """SLOWFAST.ALPHA for two-pathway architectures (the data sets pack both pathways)."""
    return cfg.SLOWFAST.ALPHA if cfg.MODEL.ARCH in cfg.MODEL.MULTI_PATHWAY_ARCH else None


def build_dataset(cfg: CfgNode, split: str) -> Dataset:
    """The data set of ``split`` (train, val, test) from the config.

    TRAIN.DATASET names the data set of train/val, TEST.DATASET that of test
    (PySlowFast), case-insensitive:

    * kinetics: ``{DATA.PATH_TO_DATA_DIR}/{split}.csv`` of ``path label`` lines;
    * charades: PySlowFast's frame lists ``{split}.csv`` (test reads ``val.csv``, as
      PySlowFast), multi-hot labels of MODEL.NUM_CLASSES classes;
    * ava: PySlowFast's AVA layout (:func:`build_ava`);
    * imagenet: class folders ``{DATA.PATH_TO_DATA_DIR}/{train,val}`` (test reads val);
    * moving_digits: the embedded demo set, rendered in memory (MOVING_DIGITS keys; no
      flip: it would swap classes; test reads val);
    * mnist_digits: the digits of that set as 2D images (DATA.TRAIN_CROP_SIZE px).

    SlowFast (MODEL.ARCH in MODEL.MULTI_PATHWAY_ARCH) gets two pathways with
    SLOWFAST.ALPHA. Augmentation draws from torch's global RNG, which the engine seeds
    and the DataLoader seeds per worker.
    """
    if split not in MODES:
        raise ValueError(f"split must be one of {MODES}, got {split!r}")
    key = "TEST.DATASET" if split == "test" else "TRAIN.DATASET"
    name = (cfg.TEST.DATASET if split == "test" else cfg.TRAIN.DATASET).lower()
    if name not in DATASETS:
        raise ValueError(f"{key}: unknown data set {name!r}; known: {', '.join(DATASETS)}")
    data = cfg.DATA
    if name == "imagenet":
        folder = "train" if split == "train" else "val"
        return ImageFolderClassification(
            os.path.join(data.PATH_TO_DATA_DIR, folder), split, crop_size=data.TRAIN_CROP_SIZE,
            resize_size=data.TEST_CROP_SIZE if data.TEST_CROP_SIZE > data.TRAIN_CROP_SIZE
            else round(data.TRAIN_CROP_SIZE / 0.875),
            mean=tuple(data.MEAN), std=tuple(data.STD), random_flip=data.RANDOM_FLIP,
            max_retries=data.MAX_DECODE_RETRIES,
        )
    if name == "ava":
        return build_ava(cfg, split)
    if name == "mnist_digits":
        return DigitImages(split, crop_size=data.TRAIN_CROP_SIZE, mean=tuple(data.MEAN),
                           std=tuple(data.STD))
    if name == "moving_digits":
        digits = cfg.MOVING_DIGITS
        return MovingDigits(
            split,
            num_clips=digits.NUM_TRAIN_CLIPS if split == "train" else digits.NUM_VAL_CLIPS,
            num_frames=data.NUM_FRAMES,
            size=digits.SIZE,
            crop_size=data.TEST_CROP_SIZE if split == "test" else data.TRAIN_CROP_SIZE,
            mean=tuple(data.MEAN),
            std=tuple(data.STD),
            alpha=_alpha(cfg),
            seed=digits.SEED,
        )
    if data.DECODING_BACKEND != "pyav":
        raise ValueError(
            f"DATA.DECODING_BACKEND: only 'pyav' is supported, got {data.DECODING_BACKEND!r}"
        )
    common = dict(
        path_prefix=data.PATH_PREFIX,
        num_frames=data.NUM_FRAMES,
        sampling_rate=data.SAMPLING_RATE,
        jitter_scales=tuple(data.TRAIN_JITTER_SCALES),
        crop_size=data.TRAIN_CROP_SIZE,
        test_crop_size=data.TEST_CROP_SIZE,
        num_ensemble_views=cfg.TEST.NUM_ENSEMBLE_VIEWS,
        num_spatial_crops=cfg.TEST.NUM_SPATIAL_CROPS,
        mean=tuple(data.MEAN),
        std=tuple(data.STD),
        random_flip=data.RANDOM_FLIP,
        inverse_uniform_sampling=data.INV_UNIFORM_SAMPLE,
        alpha=_alpha(cfg),
        max_retries=data.MAX_DECODE_RETRIES,
        max_failure_ratio=data.MAX_FAILURE_RATIO,
        seed=None,
    )
    if name == "charades":
        csv = os.path.join(data.PATH_TO_DATA_DIR, f"{'val' if split == 'test' else split}.csv")
        return Charades(csv, split, num_classes=cfg.MODEL.NUM_CLASSES, **common)
    return Kinetics(
        os.path.join(data.PATH_TO_DATA_DIR, f"{split}.csv"),
        split,
        separator=data.PATH_LABEL_SEPARATOR,
        target_fps=data.TARGET_FPS,
        **common,
    )


def build_ava(cfg: CfgNode, split: str) -> Ava:
    """AVA from PySlowFast's keys: frame lists, box csvs and label map.

    Train reads ``AVA.TRAIN_LISTS`` from AVA.FRAME_LIST_DIR with the groundtruth boxes
    ``AVA.TRAIN_GT_BOX_LISTS`` plus the detected ``AVA.TRAIN_PREDICT_BOX_LISTS`` scored
    at least AVA.DETECTION_SCORE_THRESH; val and test read ``AVA.TEST_LISTS`` with the
    detected ``AVA.TEST_PREDICT_BOX_LISTS`` (the groundtruth AVA.GROUNDTRUTH_FILE when
    that list is empty). Box files, label map and groundtruth lie in AVA.ANNOTATION_DIR.
    """
    data, ava = cfg.DATA, cfg.AVA
    train = split == "train"

    def annotation(names: Sequence[str]) -> list[str]:
        return [os.path.join(ava.ANNOTATION_DIR, name) for name in names]

    lists = ava.TRAIN_LISTS if train else ava.TEST_LISTS
    return Ava(
        [os.path.join(ava.FRAME_LIST_DIR, name) for name in lists],
        annotation(ava.TRAIN_GT_BOX_LISTS if train else [ava.GROUNDTRUTH_FILE]),
        frame_dir=ava.FRAME_DIR,
        predicted_box_csvs=annotation(
            ava.TRAIN_PREDICT_BOX_LISTS if train else ava.TEST_PREDICT_BOX_LISTS
        ),
        detection_score_thresh=ava.DETECTION_SCORE_THRESH,
        label_map_pbtxt=os.path.join(ava.ANNOTATION_DIR, ava.LABEL_MAP_FILE),
        mode=split,
        num_frames=data.NUM_FRAMES,
        sampling_rate=data.SAMPLING_RATE,
        jitter_scales=tuple(data.TRAIN_JITTER_SCALES),
        crop_size=data.TRAIN_CROP_SIZE,
        test_crop_size=data.TEST_CROP_SIZE,
        mean=tuple(data.MEAN),
        std=tuple(data.STD),
        random_flip=data.RANDOM_FLIP,
        alpha=_alpha(cfg),
        max_retries=data.MAX_DECODE_RETRIES,
        max_failure_ratio=data.MAX_FAILURE_RATIO,
    )


def collate_fn(cfg: CfgNode):
    """The collate of the config's data sets: :func:`ava_collate` for detection."""
    return ava_collate if cfg.DETECTION.ENABLE else collate_samples


def collate_samples(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Batch data set items.

    ``inputs``: list per pathway of (B, C, T, H, W) tensors (images: (B, C, H, W));
    ``label``: int64 (B,), or float (B, classes) for multi-hot labels; ``index``,
    ``video_index``, ``view``: int64 tensors of shape (B,).
    """
    if not samples:
        raise ValueError("cannot collate an empty batch")
    num_pathways = len(samples[0]["inputs"])
    batch: dict[str, Any] = {
        "inputs": [torch.stack([s["inputs"][p] for s in samples]) for p in range(num_pathways)]
    }
    labels = [s["label"] for s in samples]
    if isinstance(labels[0], torch.Tensor) and labels[0].dim() > 0:  # multi-hot (Charades)
        batch["label"] = torch.stack(labels)
    else:
        batch["label"] = torch.tensor([int(label) for label in labels], dtype=torch.long)
    for key in ("index", "video_index", "view"):
        batch[key] = torch.tensor([int(s[key]) for s in samples], dtype=torch.long)
    return batch


def build_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    num_workers: int,
    drop_last: bool,
    distributed: bool,
) -> DataLoader:
    """A DataLoader batching with :func:`collate_samples`.

    ``distributed=True`` shards with ``DistributedSampler`` (needs an initialised
    process group; ``shuffle`` and ``drop_last`` go to the sampler): the engine must call
    ``loader.sampler.set_epoch(epoch)`` before every epoch, or each epoch repeats the
    same order. The sampler pads shards to equal length by repeating samples, so for
    multi-view testing prefer a sampler that does not pad.
    """
    sampler = None
    if distributed:
        sampler = DistributedSampler(dataset, shuffle=shuffle, drop_last=drop_last)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle if sampler is None else False,
        sampler=sampler,
        num_workers=num_workers,
        drop_last=drop_last,
        collate_fn=collate_samples,
    )
