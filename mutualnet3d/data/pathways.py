"""The model inputs a clip becomes: one pathway, or SlowFast's Slow and Fast pair."""

from __future__ import annotations

from typing import Optional

import torch

from ..utils.resample import temporal_indices

__all__ = ["check_alpha", "pack_pathways"]


def check_alpha(alpha: Optional[int], num_frames: int) -> None:
    """Raise ``ValueError`` unless ``alpha`` is None or in ``[1, num_frames]``."""
    if alpha is not None and not 1 <= alpha <= num_frames:
        raise ValueError(f"alpha must be in [1, num_frames={num_frames}], got {alpha}")


def pack_pathways(clip: torch.Tensor, alpha: Optional[int]) -> list[torch.Tensor]:
    """Model inputs from a (C, T, H, W) clip: ``[clip]``, or ``[slow, fast]`` for SlowFast.

    The Fast pathway is the clip; the Slow one takes ``T // alpha`` frames spread evenly
    over it (:func:`mutualnet3d.utils.resample.temporal_indices`, PySlowFast's rule).
    """
    if alpha is None:
        return [clip]
    slow = clip.index_select(1, temporal_indices(clip.shape[1], clip.shape[1] // alpha))
    return [slow, clip]
