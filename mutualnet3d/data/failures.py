"""Skip-and-count for unreadable samples, and the one retry loop of the data sets.

PySlowFast retries another clip when a video does not decode and says nothing more.
Here every failed attempt also warns, naming the file, and is counted, so no loss goes
unseen; and a run on a broken copy of a data set stops early instead of training on
what is left (``max_failure_ratio``).
"""

from __future__ import annotations

import warnings
from typing import Callable, Optional, TypeVar

import torch

from .specs import RetryPolicy

__all__ = ["FailureLog", "RetryLoop"]

R = TypeVar("R")


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

    def record(
        self, path: str, sample: int, subject: str, error: Exception, stacklevel: int = 3
    ) -> None:
        """Count a failed attempt on file ``path`` while loading sample ``sample``.

        Warns ``skipping {subject} ({error})`` ``stacklevel`` frames up (3: past this
        method and the data set's ``__getitem__``, at its caller); raises
        ``RuntimeError`` when more than ``max_ratio`` of the samples have now failed.
        """
        self[path] = self.get(path, 0) + 1
        self.failed_samples.add(sample)
        warnings.warn(
            f"skipping {subject} ({error}); failure {self[path]} of this file",
            self.category,
            stacklevel=stacklevel,
        )
        failed = len(self.failed_samples)
        if self.max_ratio is not None and failed > self.max_ratio * self.num_samples:
            raise RuntimeError(
                f"{failed} of {self.num_samples} {self.unit} in {self.source} failed to "
                f"load (more than max_failure_ratio {self.max_ratio}); last: {path}"
            )

    def exhausted(self, split: str, retries: int, path: str, note: str = "") -> RuntimeError:
        """The error for a sample that failed ``retries + 1`` times, last on ``path``."""
        return RuntimeError(
            f"{split}: nothing readable after {retries} retries; last failed file {path} "
            f"({self[path]} failures); {self.attempts} failed attempts on {len(self)} "
            f"files so far{note}"
        )


class RetryLoop:
    """Load a sample, and on failure record it and try again, as a split allows.

    Each failed attempt (an exception of ``errors``) is recorded in ``failures``
    (warned and counted, see :meth:`FailureLog.record`). With ``replace`` the next
    attempt loads another sample drawn uniformly from the ``failures.num_samples``
    samples (training may take any sample; so may validation, which reports an average);
    without, it loads the same sample again, for samples that must each be scored
    (test views, evaluated key frames) and may only fail transiently. After
    ``policy.max_retries`` retries, ``RuntimeError`` names the last file that failed
    (``never_replaced`` is added to it when not ``replace``).
    """

    def __init__(
        self,
        failures: FailureLog,
        policy: RetryPolicy,
        split: str,
        *,
        replace: bool,
        errors: tuple[type[Exception], ...],
        never_replaced: str = "",
    ) -> None:
        self.failures = failures
        self.policy = policy
        self.split = split
        self.replace = replace
        self.errors = errors
        self.never_replaced = never_replaced

    def __call__(
        self,
        load: Callable[[int], R],
        sample: int,
        describe: Callable[[int, Exception], tuple[str, str]],
        generator: Optional[torch.Generator] = None,
    ) -> tuple[int, R]:
        """``(sample loaded, load(sample))``, the sample being ``sample`` or a replacement.

        ``describe(sample, error)`` gives the file that failed and what the warning
        calls the sample. Replacements are drawn from ``generator`` (None: torch's
        global RNG).
        """
        for attempt in range(self.policy.max_retries + 1):
            try:
                return sample, load(sample)
            except self.errors as error:
                path, subject = describe(sample, error)
                # stacklevel 4: past record, this call and __getitem__, at its caller.
                self.failures.record(path, sample, subject, error, stacklevel=4)
            if self.replace and attempt < self.policy.max_retries:
                sample = int(torch.randint(self.failures.num_samples, (), generator=generator))
        note = "" if self.replace else self.never_replaced
        raise self.failures.exhausted(self.split, self.policy.max_retries, path, note)
