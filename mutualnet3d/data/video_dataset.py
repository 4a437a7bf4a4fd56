"""What every video data set here shares: Kinetics, Charades and AVA.

:class:`VideoDataset` holds the clip, spatial and normalisation settings, the Slow/Fast
packing, the per-sample seeding and the skip-and-count of unreadable files (one
:class:`~mutualnet3d.data.failures.RetryLoop`). A subclass reads its annotations,
says which splits may replace a failed sample by another, and builds its items.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch.utils.data import Dataset

from .decoder import DecodeError
from .failures import FailureLog, RetryLoop
from .pathways import check_alpha, pack_pathways
from .specs import ClipSampling, Normalization, RetryPolicy, SpatialSampling, check_split

__all__ = ["VideoDataset", "VideoDecodeWarning", "sample_generator"]


class VideoDecodeWarning(UserWarning):
    """A video (or one of its frames) was skipped: missing, empty, corrupt or truncated."""


def sample_generator(seed: Optional[int], epoch: int, index: int) -> Optional[torch.Generator]:
    """The generator of sample ``index``'s random draws: None (torch's global RNG) when
    ``seed`` is None, else seeded by a fixed mix of ``(seed, epoch, index)``, so a sample
    gets the same draws whichever DataLoader worker loads it."""
    if seed is None:
        return None
    mixed = ((seed * 1_000_003 + epoch) * 1_000_003 + index) % (2**63 - 1)
    return torch.Generator().manual_seed(mixed)


class VideoDataset(Dataset):
    """Base of the video data sets: settings, seeding, failures and pathways.

    Args:
        split: "train", "val" or "test".
        source: the annotation file(s), named in errors.
        unit: what a sample is, plural, for the failure errors ("videos").
        num_samples: samples a failed one may be replaced by, and the base of
            ``retry.max_failure_ratio``.
        sampling, spatial, normalization, retry: the data set's settings.
        alpha: Fast/Slow frame ratio of SlowFast's two pathways; None for one pathway.
        seed: None draws from torch's global RNG (the DataLoader seeds each worker
            differently every epoch); an int makes each sample's draws a function of
            ``(seed, epoch, index)`` only: call :meth:`set_epoch` every epoch.

    Failed loads (a :class:`~mutualnet3d.data.decoder.DecodeError`) warn with
    :class:`VideoDecodeWarning` and are counted in :attr:`failures`; a subclass's
    :attr:`REPLACE_SPLITS` may replace the sample by another, the other splits retry
    the same one (:class:`~mutualnet3d.data.failures.RetryLoop`).
    """

    #: splits in which a sample that fails to load is replaced by another
    REPLACE_SPLITS: tuple[str, ...] = ("train", "val")
    #: why the other splits do not, added to their error
    NEVER_REPLACED = ""

    def __init__(
        self,
        split: str,
        *,
        source: str,
        unit: str,
        num_samples: int,
        sampling: ClipSampling,
        spatial: SpatialSampling,
        normalization: Normalization,
        retry: RetryPolicy,
        alpha: Optional[int],
        seed: Optional[int],
    ) -> None:
        check_split(split)
        check_alpha(alpha, sampling.num_frames)
        self.split = split
        self.sampling = sampling
        self.spatial = spatial
        self.normalization = normalization
        self.retry = retry
        self.alpha = alpha
        self.seed = seed
        self.epoch = 0
        self.failures = FailureLog(
            source=source, unit=unit, num_samples=num_samples,
            max_ratio=retry.max_failure_ratio, category=VideoDecodeWarning,
        )
        self._retries = RetryLoop(
            self.failures, retry, split, replace=split in self.REPLACE_SPLITS,
            errors=(DecodeError,), never_replaced=self.NEVER_REPLACED,
        )

    @property
    def num_failures(self) -> int:
        """Failed clip loads so far in this process (all files)."""
        return self.failures.attempts

    def set_epoch(self, epoch: int) -> None:
        """Epoch mixed into the per-sample seed (only used when ``seed`` is set)."""
        self.epoch = epoch

    def _begin(self, index: int) -> tuple[int, Optional[torch.Generator]]:
        """``index`` as an int, checked, and its sample's generator."""
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        return index, sample_generator(self.seed, self.epoch, index)

    def _inputs(self, clip: torch.Tensor) -> list[torch.Tensor]:
        """The model inputs of a cropped float (C, T, H, W) clip: normalised, packed."""
        # Normalise after cropping: it is per-channel affine, so it commutes with
        # bilinear scaling and cropping, and costs fewer pixels.
        return pack_pathways(self.normalization(clip).contiguous(), self.alpha)
