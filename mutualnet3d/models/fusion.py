"""SlowFast's Adaptive Fusion (paper section 4.2.2, Fig. 6)."""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from pytorchvideo.models.slowfast import FuseFastToSlow

from ..utils.resample import temporal_indices

__all__ = ["AdaptiveFusion"]


class AdaptiveFusion(FuseFastToSlow):
    """Fuse the full-size Fast pathway into an adaptive Slow pathway.

    ::

        Fast  {aT, S^2, bC} --conv 5x1x1 (7x1x1), stride a, 2bC out--> BN -> ReLU
                              {T, S^2, 2bC}
                                   | spatial interpolation to (g_s S)^2,
                                   | temporal subsampling to g_t T frames
                                   v
        Slow  {g_t T, (g_s S)^2, g_w C} --concat--> {g_t T, (g_s S)^2, g_w C + 2bC}
                                                   (the last 2bC channels: always Fast)

    The conv that follows each fusion takes the first ``g_w C`` Slow channels plus the
    last ``2bC`` fused ones (``ChannelRule(fixed_tail=2bC)``). Frames are picked with
    the same rule as the Slow clip's (:func:`~mutualnet3d.utils.resample.temporal_indices`).
    Parameter names are PyTorchVideo's ``FuseFastToSlow``; at the full configuration
    the output is identical.
    """

    def forward(self, x: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        x_s, x_f = x
        fuse = self.conv_fast_to_slow(x_f)
        if self.norm is not None:
            fuse = self.norm(fuse)
        if self.activation is not None:
            fuse = self.activation(fuse)
        t, size = x_s.shape[2], x_s.shape[3:]
        if fuse.shape[2] != t:
            fuse = fuse.index_select(2, temporal_indices(fuse.shape[2], t, fuse.device))
        if fuse.shape[3:] != size:
            fuse = F.interpolate(fuse, size=(t, *size), mode="trilinear", align_corners=False)
        return [torch.cat([x_s, fuse], 1), x_f]

    def __init__(
        self,
        conv_fast_to_slow: nn.Module,
        norm: Optional[nn.Module] = None,
        activation: Optional[nn.Module] = None,
    ) -> None:
        # Not FuseFastToSlow.__init__: its set_attributes(self, locals()) also assigns
        # `__class__` from the locals, turning the instance back into a FuseFastToSlow.
        nn.Module.__init__(self)
        self.conv_fast_to_slow = conv_fast_to_slow
        self.norm = norm
        self.activation = activation

    @classmethod
    def from_pytorchvideo(cls, fusion: FuseFastToSlow) -> AdaptiveFusion:
        return cls(fusion.conv_fast_to_slow, fusion.norm, fusion.activation)
