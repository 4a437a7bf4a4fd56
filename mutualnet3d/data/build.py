"""The config edge of the data package: ``build_dataset(cfg, split)``, ``build_loader``."""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import torch
from fvcore.common.config import CfgNode
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from .kinetics import MODES, Kinetics

__all__ = ["DATASETS", "build_dataset", "build_loader", "collate_samples"]

DATASETS = ("kinetics",)


def build_dataset(cfg: CfgNode, split: str) -> Kinetics:
    """The data set of ``split`` (train, val, test) from the config.

    Reads ``{DATA.PATH_TO_DATA_DIR}/{split}.csv``; the data set is TRAIN.DATASET for
    train/val and TEST.DATASET for test (PySlowFast), case-insensitive; only "kinetics"
    exists. SlowFast (MODEL.ARCH in MODEL.MULTI_PATHWAY_ARCH) gets two pathways with
    SLOWFAST.ALPHA. ``seed`` stays None: augmentation draws from torch's global RNG,
    which the engine seeds and the DataLoader seeds per worker.
    """
    if split not in MODES:
        raise ValueError(f"split must be one of {MODES}, got {split!r}")
    key = "TEST.DATASET" if split == "test" else "TRAIN.DATASET"
    name = (cfg.TEST.DATASET if split == "test" else cfg.TRAIN.DATASET).lower()
    if name not in DATASETS:
        raise ValueError(f"{key}: unknown data set {name!r}; known: {', '.join(DATASETS)}")
    if cfg.DATA.DECODING_BACKEND != "pyav":
        raise ValueError(
            f"DATA.DECODING_BACKEND: only 'pyav' is supported, got {cfg.DATA.DECODING_BACKEND!r}"
        )
    data = cfg.DATA
    multi_pathway = cfg.MODEL.ARCH in cfg.MODEL.MULTI_PATHWAY_ARCH
    return Kinetics(
        os.path.join(data.PATH_TO_DATA_DIR, f"{split}.csv"),
        split,
        path_prefix=data.PATH_PREFIX,
        separator=data.PATH_LABEL_SEPARATOR,
        num_frames=data.NUM_FRAMES,
        sampling_rate=data.SAMPLING_RATE,
        target_fps=data.TARGET_FPS,
        jitter_scales=tuple(data.TRAIN_JITTER_SCALES),
        crop_size=data.TRAIN_CROP_SIZE,
        test_crop_size=data.TEST_CROP_SIZE,
        num_ensemble_views=cfg.TEST.NUM_ENSEMBLE_VIEWS,
        num_spatial_crops=cfg.TEST.NUM_SPATIAL_CROPS,
        mean=tuple(data.MEAN),
        std=tuple(data.STD),
        random_flip=data.RANDOM_FLIP,
        alpha=cfg.SLOWFAST.ALPHA if multi_pathway else None,
        max_retries=data.MAX_DECODE_RETRIES,
        max_failure_ratio=data.MAX_FAILURE_RATIO,
        seed=None,
    )


def collate_samples(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Batch data set items.

    ``inputs``: list per pathway of (B, C, T, H, W) tensors; ``label``, ``index``,
    ``video_index``, ``view``: int64 tensors of shape (B,).
    """
    if not samples:
        raise ValueError("cannot collate an empty batch")
    num_pathways = len(samples[0]["inputs"])
    batch: dict[str, Any] = {
        "inputs": [torch.stack([s["inputs"][p] for s in samples]) for p in range(num_pathways)]
    }
    for key in ("label", "index", "video_index", "view"):
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
