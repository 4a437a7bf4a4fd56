"""Skip-and-count bookkeeping for unreadable samples, shared by the data sets.

PySlowFast retries another clip when a video does not decode and says nothing more.
Here every failed attempt also warns, naming the file, and is counted, so no loss goes
unseen; and a run on a broken copy of a data set stops early instead of training on
what is left (``max_failure_ratio``).
"""

import warnings
from typing import Optional

__all__ = ["FailureLog"]


class FailureLog(dict[str, int]):
    """Failed load attempts per file (``path -> attempts``), in this process.

    A plain dict to read (each DataLoader worker process keeps its own), plus
    :meth:`record`, which warns and enforces ``max_ratio``, and :meth:`exhausted`, the
    error for a sample whose retries all failed.

    Args:
        source: where the samples come from (a csv or folder), named in errors.
        unit: what a sample is, plural ("videos", "key frames", "images").
        num_samples: samples in the data set, the base of ``max_ratio``.
        max_ratio: raise once more than this fraction of the samples have failed
            (None: never).
        category: the warning class.
    """

    def __init__(
        self,
        *,
        source: str,
        unit: str,
        num_samples: int,
        max_ratio: Optional[float],
        category: type[Warning],
    ) -> None:
        super().__init__()
        self.source = source
        self.unit = unit
        self.num_samples = num_samples
        self.max_ratio = max_ratio
        self.category = category
        #: ids of the samples that failed at least once
        self.failed_samples: set[int] = set()

    @property
    def attempts(self) -> int:
        """Failed attempts on all files."""
        return sum(self.values())

    def record(self, path: str, sample: int, subject: str, error: Exception) -> None:
        """Count a failed attempt on file ``path`` while loading sample ``sample``.

        Warns ``skipping {subject} ({error})`` at the data set's caller; raises
        ``RuntimeError`` when more than ``max_ratio`` of the samples have now failed.
        """
        self[path] = self.get(path, 0) + 1
        self.failed_samples.add(sample)
        # stacklevel 3: past this method and the data set's __getitem__, at its caller.
        warnings.warn(
            f"skipping {subject} ({error}); failure {self[path]} of this file",
            self.category,
            stacklevel=3,
        )
        failed = len(self.failed_samples)
        if self.max_ratio is not None and failed > self.max_ratio * self.num_samples:
            raise RuntimeError(
                f"{failed} of {self.num_samples} {self.unit} in {self.source} failed to "
                f"load (more than max_failure_ratio {self.max_ratio}); last: {path}"
            )

    def exhausted(self, mode: str, retries: int, path: str, note: str = "") -> RuntimeError:
        """The error for a sample that failed ``retries + 1`` times, last on ``path``."""
        return RuntimeError(
            f"{mode}: nothing readable after {retries} retries; last failed file {path} "
            f"({self[path]} failures); {self.attempts} failed attempts on {len(self)} "
            f"files so far{note}"
        )
