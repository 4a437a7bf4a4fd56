"""Which sub-networks train in one iteration (paper sections 3.2 and 4.2).

A :class:`SubnetConfig` is one configuration (width, spatial size, Slow-pathway frames).
A :class:`ConfigSampler` draws, per iteration, the full network followed by the
sub-networks that learn from it. The draw is seeded by the global step, so every process
of a distributed run trains the same sub-networks, and a resumed run the same ones as an
uninterrupted run would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Optional, Sequence

from ..slim import SubnetConfig

__all__ = ["SubnetConfig", "ConfigSampler", "SAMPLING_MODES"]

#: mutual: each sub-network draws its own spatial and temporal size (MutualNet);
#: width_only: every sub-network at full resolution (US-Net);
#: shared_resolution: one size drawn per iteration for all networks (US-Net + multi-scale).
SAMPLING_MODES = ("mutual", "width_only", "shared_resolution")


@dataclass(frozen=True)
class ConfigSampler:
    """Draws the cohort of one iteration: the full network first, then the students.

    Args:
        width_range: (smallest, largest) width.
        spatial_sizes: input sizes to draw from; the largest is the full network's.
        temporal_sizes: Slow-pathway frame counts to draw from (``(None,)`` for images);
            the largest is the full network's.
        num_random: random widths besides the smallest.
        mode: one of :data:`SAMPLING_MODES`.
        seed: base seed; the draw of step ``s`` uses ``seed`` and ``s`` only.
    """

    width_range: tuple[float, float]
    spatial_sizes: Sequence[int]
    temporal_sizes: Sequence[Optional[int]] = (None,)
    num_random: int = 2
    mode: str = "mutual"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in SAMPLING_MODES:
            raise ValueError(f"sampling mode must be one of {SAMPLING_MODES}, got {self.mode!r}")

    @property
    def full(self) -> SubnetConfig:
        """Largest width at the largest spatial and temporal size."""
        temporal = [t for t in self.temporal_sizes if t is not None]
        return SubnetConfig(self.width_range[1], max(self.spatial_sizes), max(temporal, default=None))

    def _size(self, rng: random.Random) -> tuple[int, Optional[int]]:
        return rng.choice(list(self.spatial_sizes)), rng.choice(list(self.temporal_sizes))

    def sample(self, step: int) -> list[SubnetConfig]:
        """The configurations of global step ``step``: full, smallest, random widths."""
        rng = random.Random(self.seed * 1_000_003 + step)
        low, high = self.width_range
        widths = [low] + [rng.uniform(low, high) for _ in range(self.num_random)]
        full = self.full
        if self.mode == "width_only":
            return [full] + [SubnetConfig(w, full.spatial, full.temporal) for w in widths]
        if self.mode == "shared_resolution":
            spatial, temporal = self._size(rng)
            return [SubnetConfig(w, spatial, temporal) for w in [high] + widths]
        return [full] + [SubnetConfig(w, *self._size(rng)) for w in widths]
