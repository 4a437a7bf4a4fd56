"""What the data sets skip, seen by the training process: counts and warnings.

A data set counts its failed loads (``failures``) and skipped packets
(``skipped_packets``) and warns in the process that loads, which is a DataLoader
worker when ``NUM_WORKERS`` > 0 (started by ``spawn`` under the launcher, so it shares
neither the counts nor the run's log handlers). :class:`SkipCountingLoader` makes each
batch carry what its samples' loading skipped and warned, re-warns those warnings in the
training process (where ``stdout.log`` receives them) and leaves the counts in the batch
(:data:`SKIPS`) for the engine to add up per epoch.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Iterator, Mapping, Sequence

from torch.utils.data import DataLoader, Dataset

__all__ = ["SKIPS", "SkipCountingLoader", "skip_counts"]

#: per batch: failed loads (videos, frames, images) and skipped packets of its samples
SKIPS = ("skipped_loads", "skipped_packets")
_WARNINGS = "_warnings"

Collate = Callable[[Sequence[Mapping[str, Any]]], dict[str, Any]]


def skip_counts(dataset: Dataset) -> tuple[int, int]:
    """``dataset``'s failed loads and skipped packets so far, in this process."""
    failures = getattr(dataset, "failures", None)
    loads = sum(failures.values()) if failures else 0
    packets = getattr(dataset, "skipped_packets", None)
    return loads, sum(packets.values()) if packets else 0


class _Counted(Dataset):
    """``dataset``'s items, each with what loading it skipped and warned."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Any, tuple[int, int], list]:
        before = skip_counts(self.dataset)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            item = self.dataset[index]
        after = skip_counts(self.dataset)
        said = [(w.category, str(w.message)) for w in caught]
        return item, (after[0] - before[0], after[1] - before[1]), said


class _CountingCollate:
    """``collate`` of the items, plus the :data:`SKIPS` sums and the warnings said
    (a class, not a closure: spawned workers pickle it)."""

    def __init__(self, collate: Collate) -> None:
        self.collate = collate

    def __call__(self, items: Sequence[tuple[Any, tuple[int, int], list]]) -> dict[str, Any]:
        batch = self.collate([item for item, _, _ in items])
        for k, key in enumerate(SKIPS):
            batch[key] = sum(counts[k] for _, counts, _ in items)
        batch[_WARNINGS] = [said for _, _, item_said in items for said in item_said]
        return batch


class SkipCountingLoader(DataLoader):
    """A DataLoader of ``dataset`` collated by ``collate`` whose batches also hold the
    :data:`SKIPS` counts; the warnings of their loading are warned again here."""

    def __init__(self, dataset: Dataset, *, collate_fn: Collate, **kwargs: Any) -> None:
        super().__init__(_Counted(dataset), collate_fn=_CountingCollate(collate_fn), **kwargs)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in super().__iter__():
            for category, message in batch.pop(_WARNINGS):
                warnings.warn(message, category, stacklevel=2)
            yield batch
