"""One adaptive network deployed at any budget: each call runs the best configuration
that fits the budget passed with it (paper section 3.4, "query table").

::

    full-size clip ──► select (budget, table) ──► switch (width, BN key)
                                                      │  stored BN statistics
                       resize_input(spatial, frames) ─┴─► model ──► logits

The model holds every configuration's calibrated BN statistics (the calibration stage
stores them); a switch only changes which channels and which statistics the layers use,
so deployment never recalibrates. The clip is resized on the device to the chosen
configuration exactly as in training, calibration and search
(:func:`~mutualnet3d.engine.forward.forward_at`): the Slow (or single) pathway's short
side bilinearly, its frames subsampled; a Fast pathway keeps its size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence

import torch
import torch.nn as nn

from ..engine.forward import Inputs, forward_at
from ..evaluation.search import ConfigResult, select_config
from ..slim import SubnetConfig, WidthSwitch, keep_inference_slices, slim_modules
from .calibrated import check_calibrated

if TYPE_CHECKING:  # latency imports this module
    from .latency import LatencyTable

__all__ = ["BudgetError", "BudgetedModel", "subnet_config"]


class BudgetError(ValueError):
    """A budget below the cheapest configuration of the table (the message names it)."""


def subnet_config(row: Any) -> SubnetConfig:
    """The configuration of a table row (a :class:`ConfigResult` or a latency row)."""
    return SubnetConfig(row.width, row.spatial, row.temporal)


class BudgetedModel(nn.Module):
    """``model`` run at the most accurate configuration of ``table`` within each call's
    budget: ``budgeted(inputs, budget_gflops=2.0)``, or ``budget_ms=40.0`` with a
    ``latency`` table (:mod:`.latency`) measured at the call's batch size.

    Args:
        model: an adaptive network (slimmable layers) holding the calibrated BN
            statistics of every configuration it may run (:func:`.load_calibrated`);
            it is put in eval mode, and left at the configuration of the last call. Its
            layers must not be replaced afterwards (they are found once).
        table: :class:`ConfigResult` rows, the query table (``query_table.json``) or the
            whole search table; FLOPs budgets choose among them.
        latency: a measured latency table; ``budget_ms`` budgets choose among its rows.
        align_corners: of the input resize (MUTUALNET.RESIZE_ALIGN_CORNERS of the run).
        keep_slices: each layer keeps the active weight slices of every configuration
            after its first call (:func:`~mutualnet3d.slim.keep_inference_slices`), so a
            switch takes none afresh; costs a copy of each narrower width's weights
            (about w^2 of the model per width w < 1). False: one width's, as a bare model.

    Inputs are full-size clips as decoded (B, C, T, H, W) (images (B, C, H, W), or
    ``[slow, fast]``), a detector's boxes (N, 5) in their pixels; outputs are the
    model's (B, classes) logits, computed without autograd.

    Raises:
        MissingStatisticsError: a configuration of the tables is not calibrated.
    """

    def __init__(
        self,
        model: nn.Module,
        table: Sequence[ConfigResult],
        *,
        latency: Optional["LatencyTable"] = None,
        align_corners: bool = False,
        keep_slices: bool = True,
    ) -> None:
        super().__init__()
        if not table:
            raise ValueError("BudgetedModel needs a table with at least one configuration")
        self.model = model.eval()
        self.table = list(table)
        self.latency = latency
        self.align_corners = align_corners
        rows = self.table + (list(latency.rows) if latency is not None else [])
        configs = {subnet_config(r) for r in rows}
        check_calibrated(model, configs)
        if keep_slices:
            keep_inference_slices(model, len(configs))
        self._switch = WidthSwitch(model)  # the layers found once: a switch only writes
        # One BN layer tells which configuration the model is at: a switch sets all alike.
        self._probe = next((m for m in slim_modules(model) if hasattr(m, "stats_key")), None)
        self.last_config: Optional[SubnetConfig] = None

    def select(
        self,
        *,
        budget_gflops: Optional[float] = None,
        budget_ms: Optional[float] = None,
        batch_size: int = 1,
    ) -> SubnetConfig:
        """The configuration a call with this budget runs (one budget must be given;
        ``batch_size`` picks the latency table's measurement).

        Raises:
            BudgetError: the budget is below the cheapest configuration (named).
            ValueError: no budget, both, ``budget_ms`` without a latency table, or a
                batch size the latency table did not measure.
        """
        if (budget_gflops is None) == (budget_ms is None):
            raise ValueError("give exactly one of budget_gflops and budget_ms")
        if budget_gflops is not None:
            rows, budget, unit = self.table, budget_gflops, "GFLOPs"
            cost = lambda r: r.gflops  # noqa: E731
        else:
            if self.latency is None:
                raise ValueError("budget_ms needs a latency table (BudgetedModel(latency=...))")
            rows, budget, unit = self.latency.rows, budget_ms, "ms"
            cost = self.latency.cost(batch_size)
        chosen = select_config(rows, budget, cost)
        if chosen is None:
            cheapest = min(rows, key=cost)
            raise BudgetError(
                f"budget {budget:g} {unit} is below the cheapest configuration of the table, "
                f"{cheapest.name} at {cost(cheapest):g} {unit}"
            )
        return subnet_config(chosen)

    def run(
        self, inputs: Inputs, config: SubnetConfig, boxes: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """The logits of ``inputs`` (full size) at ``config``, with its stored statistics."""
        if self.model.training:
            raise RuntimeError(
                "BudgetedModel runs its model in eval mode only (the calibrated BN "
                "statistics are eval-mode statistics); call .eval()"
            )
        probe = self._probe
        if probe is None or (probe.width, probe.stats_key) != (config.width, config.key):
            self._switch(config.width, config.key)
        self.last_config = config
        with torch.no_grad():
            return forward_at(self.model, inputs, config, boxes, align_corners=self.align_corners)

    def forward(
        self,
        inputs: Inputs,
        boxes: Optional[torch.Tensor] = None,
        *,
        budget_gflops: Optional[float] = None,
        budget_ms: Optional[float] = None,
    ) -> torch.Tensor:
        """:meth:`run` at :meth:`select`'s configuration for this budget (GFLOPs per clip,
        or milliseconds per call at this batch size)."""
        slow = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        config = self.select(
            budget_gflops=budget_gflops, budget_ms=budget_ms, batch_size=slow.shape[0]
        )
        return self.run(inputs, config, boxes)
