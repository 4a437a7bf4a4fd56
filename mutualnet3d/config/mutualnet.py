"""The MUTUALNET node: the cohort of sub-networks trained together, and their grid.

A configuration is ``width x spatial size x temporal size``. Training draws, each
iteration, the full network, the smallest width and ``NUM_RANDOM`` random widths, each
at a spatial and temporal size from the lists below. Evaluation (BN calibration, then
the accuracy/FLOPs search) walks the grid :func:`eval_grid` returns.
"""

from __future__ import annotations

from typing import NoReturn, Optional

from fvcore.common.config import CfgNode

from .errors import ConfigError, check_whole, is_number

__all__ = [
    "ConfigError",
    "add_mutualnet_config",
    "eval_grid",
    "eval_widths",
    "full_frames",
    "validate_mutualnet",
]

_SIZE_KEYS = (
    "SPATIAL_SIZES",
    "TEMPORAL_SIZES",
    "EVAL_SPATIAL_SIZES",
    "EVAL_TEMPORAL_SIZES",
)
_SAMPLINGS = ("mutual", "width_only", "shared_resolution")


def add_mutualnet_config(cfg: CfgNode) -> None:
    """Add the MUTUALNET node."""
    cfg.MUTUALNET = CfgNode()
    cfg.MUTUALNET.ENABLE = True  # mutual learning; False trains one static network
    cfg.MUTUALNET.WIDTH_RANGE = [0.25, 1.0]  # [smallest, largest] width multiplier
    cfg.MUTUALNET.WIDTH_DIVISOR = 8  # active channels are rounded to multiples of this
    cfg.MUTUALNET.NUM_RANDOM = 2  # random widths per iteration, besides min and full
    # Input sizes sub-networks draw from; the largest is the full network's ([]: the
    # training crop only), e.g. [224, 192, 160, 128].
    cfg.MUTUALNET.SPATIAL_SIZES = []
    # Slow-pathway frame counts ([]: the full clip only), e.g. [8, 5, 3].
    cfg.MUTUALNET.TEMPORAL_SIZES = []
    cfg.MUTUALNET.DISTILL = True  # sub-networks learn the full net's soft output (KL)
    cfg.MUTUALNET.BN_CALIB_BATCHES = 10  # batches per configuration to recompute BN
    cfg.MUTUALNET.EVAL_WIDTHS = []  # widths evaluated ([]: WIDTH_RANGE by the step)
    cfg.MUTUALNET.EVAL_WIDTH_STEP = 0.05  # step of that grid (the paper's 0.05)
    cfg.MUTUALNET.EVAL_SPATIAL_SIZES = []  # sizes evaluated ([]: SPATIAL_SIZES)
    cfg.MUTUALNET.EVAL_TEMPORAL_SIZES = (
        []
    )  # frame counts evaluated ([]: TEMPORAL_SIZES)
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


def _fail(key: str, message: str, value: object) -> NoReturn:
    raise ConfigError(f"MUTUALNET.{key} {message}, got {value!r}")


def validate_mutualnet(node: CfgNode) -> None:
    """Check every MUTUALNET key; the first invalid one raises ConfigError naming it."""
    width_range = list(node.WIDTH_RANGE)
    if len(width_range) != 2 or not all(is_number(v) for v in width_range):
        _fail("WIDTH_RANGE", "must be two numbers [min, max]", width_range)
    low, high = width_range
    if not 0 < low <= high <= 1.0:
        _fail(
            "WIDTH_RANGE", "must be [min, max] with 0 < min <= max <= 1.0", width_range
        )
    check_whole("MUTUALNET.WIDTH_DIVISOR", node.WIDTH_DIVISOR, 1)
    check_whole("MUTUALNET.NUM_RANDOM", node.NUM_RANDOM, 0)
    check_whole("MUTUALNET.BN_CALIB_BATCHES", node.BN_CALIB_BATCHES, 1)
    for key in _SIZE_KEYS:
        sizes = list(node[key])
        if any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in sizes):
            _fail(key, "must hold positive whole numbers", sizes)
    if not (is_number(node.EVAL_WIDTH_STEP) and node.EVAL_WIDTH_STEP > 0):
        _fail("EVAL_WIDTH_STEP", "must be > 0", node.EVAL_WIDTH_STEP)
    # A width outside the trained range was never trained: its accuracy means nothing.
    widths = list(node.EVAL_WIDTHS)
    if any(not (is_number(w) and low <= w <= high) for w in widths):
        _fail("EVAL_WIDTHS", f"must lie in WIDTH_RANGE [{low}, {high}]", widths)
    if node.SAMPLING not in _SAMPLINGS:
        _fail("SAMPLING", f"must be one of {list(_SAMPLINGS)}", node.SAMPLING)
    for key in ("STATIC_WIDTH", "TEST_WIDTH"):
        if not (is_number(node[key]) and 0 < node[key] <= 1.0):
            _fail(key, "must be in (0, 1]", node[key])
    for key in (
        "STATIC_SPATIAL_SIZE",
        "STATIC_TEMPORAL_SIZE",
        "TEST_SPATIAL_SIZE",
        "TEST_TEMPORAL_SIZE",
    ):
        check_whole(f"MUTUALNET.{key} (0: full size)", node[key], 0)


def eval_widths(cfg: CfgNode) -> list[float]:
    """The evaluation widths, ascending: EVAL_WIDTHS, or WIDTH_RANGE by EVAL_WIDTH_STEP.

    The stepped grid always holds both ends of WIDTH_RANGE, even when the step does not
    divide the range; values are rounded to 4 decimals (and duplicates dropped).
    """
    node = cfg.MUTUALNET
    if node.EVAL_WIDTHS:
        return sorted({round(float(w), 4) for w in node.EVAL_WIDTHS})
    low, high = float(node.WIDTH_RANGE[0]), float(node.WIDTH_RANGE[1])
    step = float(node.EVAL_WIDTH_STEP)
    # Multiply rather than accumulate, so float error cannot drift; the slack keeps a
    # grid point that lands on ``high`` up to rounding (0.25 + 15 * 0.05).
    count = int((high - low) / step + 1e-9)
    widths = [round(low + i * step, 4) for i in range(count + 1)]
    if widths[-1] != round(high, 4):
        widths.append(round(high, 4))
    return widths


def full_frames(cfg: CfgNode) -> Optional[int]:
    """Frames of the (Slow) pathway at the full configuration; None for 2D networks."""
    if cfg.MODEL.ARCH == "2d":
        return None
    if cfg.MODEL.ARCH in cfg.MODEL.MULTI_PATHWAY_ARCH:
        return cfg.DATA.NUM_FRAMES // cfg.SLOWFAST.ALPHA
    return cfg.DATA.NUM_FRAMES


def eval_grid(cfg: CfgNode) -> tuple[list[float], list[int], list[Optional[int]]]:
    """(widths, spatial sizes, temporal sizes) of the configurations to evaluate.

    Sizes are sorted largest first; empty lists fall back as the MUTUALNET keys say
    (EVAL_* to the training lists, those to the full clip). 2D networks get ``[None]``.
    """
    node = cfg.MUTUALNET
    spatial = list(
        node.EVAL_SPATIAL_SIZES or node.SPATIAL_SIZES or [cfg.DATA.TRAIN_CROP_SIZE]
    )
    frames = full_frames(cfg)
    temporal: list[Optional[int]] = [None]
    if frames is not None:
        temporal = list(node.EVAL_TEMPORAL_SIZES or node.TEMPORAL_SIZES or [frames])
    spatial.sort(reverse=True)
    temporal.sort(reverse=True)  # type: ignore[type-var]  # all ints, or one None
    return eval_widths(cfg), spatial, temporal
