"""A DataLoader over one data set, batched with the collate its items need."""

from __future__ import annotations

from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from .collate import collate_fn_for

__all__ = ["build_loader"]


def build_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    num_workers: int,
    drop_last: bool,
    distributed: bool,
) -> DataLoader:
    """A DataLoader batching with :func:`~mutualnet3d.data.collate.collate_fn_for`.

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
        collate_fn=collate_fn_for(dataset),
    )
