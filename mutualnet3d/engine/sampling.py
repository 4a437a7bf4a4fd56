"""Which sub-networks train in one iteration (paper sections 3.2 and 4.2).

A :class:`ConfigSampler` draws, per iteration, the full network followed by the
sub-networks that learn from it. The full network is the model's full configuration
(``model.full_config()``: width 1.0 at the model's input size), the one definition the
whole engine uses. The draw is seeded by the global step, so every process of a
distributed run trains the same sub-networks, and a resumed run the same ones as an
uninterrupted run would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

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
        full: the model's full configuration (``model.full_config()``).
        min_width: the smallest width; random widths are uniform in
            ``[min_width, full.width]``.
        spatial_sizes: input sizes the students draw from, at most ``full.spatial``
            (empty: the full size only).
        temporal_sizes: Slow-pathway frame counts they draw from, at most
            ``full.temporal`` (empty: the full clip only; images have none).
        num_random: random widths besides the smallest.
        mode: one of :data:`SAMPLING_MODES`.
        seed: base seed; the draw of step ``s`` uses ``seed`` and ``s`` only.
    """

    full: SubnetConfig
    min_width: float
    spatial_sizes: Sequence[int] = ()
    temporal_sizes: Sequence[int] = ()
    num_random: int = 2
    mode: str = "mutual"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in SAMPLING_MODES:
            raise ValueError(f"sampling mode must be one of {SAMPLING_MODES}, got {self.mode!r}")
        if not 0 < self.min_width <= self.full.width:
            raise ValueError(f"min_width must be in (0, {self.full.width}], got {self.min_width}")
        if max(self.spatial_sizes, default=0) > self.full.spatial:
            raise ValueError(
                f"spatial sizes {list(self.spatial_sizes)} exceed the full {self.full.spatial}"
            )
        if self.temporal_sizes and (
            self.full.temporal is None or max(self.temporal_sizes) > self.full.temporal
        ):
            raise ValueError(
                f"temporal sizes {list(self.temporal_sizes)} exceed the full {self.full.temporal}"
            )

    def _sizes(self) -> tuple[list[int], list[Optional[int]]]:
        spatial = list(self.spatial_sizes) or [self.full.spatial]
        temporal: list[Optional[int]] = list(self.temporal_sizes) or [self.full.temporal]
        return spatial, temporal

    def _size(self, rng: random.Random) -> tuple[int, Optional[int]]:
        spatial, temporal = self._sizes()
        return rng.choice(spatial), rng.choice(temporal)

    def sample(self, step: int) -> list[SubnetConfig]:
        """The configurations of global step ``step``: full, smallest, random widths."""
        rng = random.Random(self.seed * 1_000_003 + step)
        low, high = self.min_width, self.full.width
        widths = [low] + [rng.uniform(low, high) for _ in range(self.num_random)]
        full = self.full
        if self.mode == "width_only":
            return [full] + [SubnetConfig(w, full.spatial, full.temporal) for w in widths]
        if self.mode == "shared_resolution":
            spatial, temporal = self._size(rng)
            return [SubnetConfig(w, spatial, temporal) for w in [high] + widths]
        return [full] + [SubnetConfig(w, *self._size(rng)) for w in widths]

    def expected_cost(self, cost: Callable[[SubnetConfig], float]) -> float:
        """The expected total ``cost`` (FLOPs, say) of one iteration's cohort.

        The full network, the smallest width and ``num_random`` widths uniform in
        ``[min_width, full.width]``, at sizes drawn uniformly as :meth:`sample` draws
        them. The expectation over a random width uses Simpson's rule on its range
        (exact for a cost quadratic in the width, as a network's FLOPs nearly are);
        the one over sizes is exact.
        """
        low, high = self.min_width, self.full.width
        weights = ((low, 1 / 6), ((low + high) / 2, 4 / 6), (high, 1 / 6))

        def students(spatial: int, temporal: Optional[int]) -> float:
            smallest = cost(SubnetConfig(low, spatial, temporal))
            random_width = sum(k * cost(SubnetConfig(w, spatial, temporal)) for w, k in weights)
            return smallest + self.num_random * random_width

        full = self.full
        if self.mode == "width_only":
            return cost(full) + students(full.spatial, full.temporal)
        spatial, temporal = self._sizes()
        sizes = [(s, t) for s in spatial for t in temporal]
        mean = sum(students(s, t) for s, t in sizes) / len(sizes)
        if self.mode == "shared_resolution":  # the full width at the drawn size too
            mean += sum(cost(SubnetConfig(high, s, t)) for s, t in sizes) / len(sizes)
            return mean
        return cost(full) + mean
