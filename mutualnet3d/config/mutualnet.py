"""The MUTUALNET node: what the cohort of sub-networks is, and how it is evaluated."""

from __future__ import annotations

from numbers import Real

from fvcore.common.config import CfgNode

__all__ = ["ConfigError", "add_mutualnet_config", "validate_mutualnet", "eval_widths"]


class ConfigError(ValueError):
    """A config that cannot run; the message names the key (and file) at fault."""


def add_mutualnet_config(cfg: CfgNode) -> None:
    cfg.MUTUALNET = CfgNode()
    cfg.MUTUALNET.ENABLE = True  # mutual learning; False trains one static network
    cfg.MUTUALNET.WIDTH_RANGE = [0.25, 1.0]  # [smallest, largest] width
    cfg.MUTUALNET.WIDTH_DIVISOR = 8  # active channels are multiples of this
    cfg.MUTUALNET.NUM_RANDOM = 2  # random widths per iteration, besides smallest and full
    cfg.MUTUALNET.SPATIAL_SIZES = []  # sub-network input sizes ([]: DATA.TRAIN_CROP_SIZE)
    cfg.MUTUALNET.TEMPORAL_SIZES = []  # Slow-pathway frame counts ([]: full clip only)
    cfg.MUTUALNET.DISTILL = True  # sub-networks learn the full network's soft labels (KL)
    cfg.MUTUALNET.BN_CALIB_BATCHES = 10  # batches per configuration for BN calibration
    cfg.MUTUALNET.EVAL_WIDTHS = []  # [] : WIDTH_RANGE stepped by EVAL_WIDTH_STEP
    cfg.MUTUALNET.EVAL_WIDTH_STEP = 0.05  # the paper's evaluation step (section 3.4)
    cfg.MUTUALNET.EVAL_SPATIAL_SIZES = []  # [] : SPATIAL_SIZES
    cfg.MUTUALNET.EVAL_TEMPORAL_SIZES = []  # [] : TEMPORAL_SIZES
    # How the cohort is drawn: mutual (MutualNet), width_only (US-Net: full resolution),
    # shared_resolution (US-Net + multi-scale: one random size per iteration for all).
    cfg.MUTUALNET.SAMPLING = "mutual"
    # With ENABLE False: the one static configuration trained (I-Net); 0 = full size.
    cfg.MUTUALNET.STATIC_WIDTH = 1.0
    cfg.MUTUALNET.STATIC_SPATIAL_SIZE = 0
    cfg.MUTUALNET.STATIC_TEMPORAL_SIZE = 0
    # Stages after training: BN calibration of the grid, then its evaluation (search).
    cfg.MUTUALNET.CALIBRATE = True
    cfg.MUTUALNET.SEARCH = True
    # The configuration of the multi-view test (TEST.ENABLE); 0 = full size.
    cfg.MUTUALNET.TEST_WIDTH = 1.0
    cfg.MUTUALNET.TEST_SPATIAL_SIZE = 0
    cfg.MUTUALNET.TEST_TEMPORAL_SIZE = 0


def _fail(key: str, message: str, value: object) -> None:
    raise ConfigError(f"MUTUALNET.{key} {message}, got {value!r}")


def validate_mutualnet(node: CfgNode) -> None:
    """Check every MUTUALNET key; the first invalid one raises a ConfigError naming it."""
    width_range = list(node.WIDTH_RANGE)
    if len(width_range) != 2 or not all(isinstance(v, Real) for v in width_range):
        _fail("WIDTH_RANGE", "must be [min, max]", width_range)
    low, high = width_range
    if not 0 < low <= high <= 1.0:
        _fail("WIDTH_RANGE", "must be [min, max] with 0 < min <= max <= 1.0", width_range)
    if node.WIDTH_DIVISOR < 1:
        _fail("WIDTH_DIVISOR", "must be >= 1", node.WIDTH_DIVISOR)
    if node.NUM_RANDOM < 0:
        _fail("NUM_RANDOM", "must be >= 0", node.NUM_RANDOM)
    for key in ("SPATIAL_SIZES", "TEMPORAL_SIZES", "EVAL_SPATIAL_SIZES", "EVAL_TEMPORAL_SIZES"):
        sizes = list(node[key])
        if any(not isinstance(v, int) or v <= 0 for v in sizes):
            _fail(key, "must hold positive whole numbers", sizes)
    if node.EVAL_WIDTH_STEP <= 0:
        _fail("EVAL_WIDTH_STEP", "must be > 0", node.EVAL_WIDTH_STEP)
    outside = [w for w in node.EVAL_WIDTHS if not low <= w <= high]
    if outside:
        _fail("EVAL_WIDTHS", f"must lie in WIDTH_RANGE [{low}, {high}]", list(node.EVAL_WIDTHS))
    if node.BN_CALIB_BATCHES < 1:
        _fail("BN_CALIB_BATCHES", "must be >= 1", node.BN_CALIB_BATCHES)
    if node.SAMPLING not in ("mutual", "width_only", "shared_resolution"):
        _fail("SAMPLING", "must be mutual, width_only or shared_resolution", node.SAMPLING)
    for key in ("STATIC_WIDTH", "TEST_WIDTH"):
        if not 0 < node[key] <= 1.0:
            _fail(key, "must be in (0, 1]", node[key])
    for key in ("STATIC_SPATIAL_SIZE", "STATIC_TEMPORAL_SIZE", "TEST_SPATIAL_SIZE", "TEST_TEMPORAL_SIZE"):
        if not isinstance(node[key], int) or node[key] < 0:
            _fail(key, "must be a whole number >= 0 (0: full size)", node[key])


def eval_widths(cfg: CfgNode) -> list[float]:
    """The evaluation width grid: EVAL_WIDTHS, or WIDTH_RANGE by EVAL_WIDTH_STEP.

    Both ends are always included; values are rounded to 4 decimals.
    """
    node = cfg.MUTUALNET
    if node.EVAL_WIDTHS:
        return sorted({round(float(w), 4) for w in node.EVAL_WIDTHS})
    low, high = node.WIDTH_RANGE
    widths, i = [], 0
    while low + i * node.EVAL_WIDTH_STEP < high - 1e-9:
        widths.append(round(low + i * node.EVAL_WIDTH_STEP, 4))
        i += 1
    return widths + [round(float(high), 4)]
