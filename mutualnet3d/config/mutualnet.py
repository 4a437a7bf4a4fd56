"""The MUTUALNET node: the cohort of sub-networks trained together, and their grid.

A configuration is ``width x spatial size x temporal size``. Training draws, each
iteration, the full network (the model's full configuration: width 1.0 at its input
size), the smallest width and ``NUM_RANDOM`` random widths, each at a spatial and
temporal size from the lists below. Evaluation (BN calibration, then the accuracy/FLOPs
search) walks the grid :func:`eval_grid` returns. Sizes cannot exceed what the data
gives the full network; an evaluated or tested size outside the trained ones warns.
"""

from __future__ import annotations

import warnings
from typing import NoReturn, Optional, Sequence

from fvcore.common.config import CfgNode

from ..models import ModelFacts
from ..slim import SubnetConfig
from .errors import ConfigError, ConfigWarning, check_whole, is_number

__all__ = [
    "SAMPLINGS",
    "add_mutualnet_config",
    "check_against_model",
    "eval_grid",
    "eval_widths",
    "validate_mutualnet",
]

_SIZE_KEYS = (
    "SPATIAL_SIZES",
    "TEMPORAL_SIZES",
    "EVAL_SPATIAL_SIZES",
    "EVAL_TEMPORAL_SIZES",
)
#: MUTUALNET.SAMPLING values: how the engine's sampler draws the cohort
SAMPLINGS = ("mutual", "width_only", "shared_resolution")


def add_mutualnet_config(cfg: CfgNode) -> None:
    """Add the MUTUALNET node."""
    cfg.MUTUALNET = CfgNode()
    cfg.MUTUALNET.ENABLE = True  # mutual learning; False trains one static network
    cfg.MUTUALNET.WIDTH_RANGE = [0.25, 1.0]  # [smallest, largest] width multiplier
    cfg.MUTUALNET.WIDTH_DIVISOR = 8  # active channels are rounded to multiples of this
    cfg.MUTUALNET.NUM_RANDOM = 2  # random widths per iteration, besides min and full
    # Input sizes sub-networks draw from, at most the training crop (the full
    # network's; []: that crop only), e.g. [224, 192, 160, 128].
    cfg.MUTUALNET.SPATIAL_SIZES = []
    # Slow-pathway frame counts, at most the full clip's ([]: the full clip only), e.g.
    # [8, 5, 3].
    cfg.MUTUALNET.TEMPORAL_SIZES = []
    cfg.MUTUALNET.DISTILL = True  # sub-networks learn the full net's soft output (KL)
    cfg.MUTUALNET.BN_CALIB_BATCHES = 10  # batches per configuration to recompute BN
    cfg.MUTUALNET.EVAL_WIDTHS = []  # widths evaluated ([]: WIDTH_RANGE by the step)
    cfg.MUTUALNET.EVAL_WIDTH_STEP = 0.05  # step of that grid (the paper's 0.05)
    cfg.MUTUALNET.EVAL_SPATIAL_SIZES = []  # sizes evaluated ([]: SPATIAL_SIZES)
    cfg.MUTUALNET.EVAL_TEMPORAL_SIZES = []  # frame counts evaluated ([]: TEMPORAL_SIZES)
    # How the cohort is drawn: mutual (MutualNet), width_only (US-Net: full resolution),
    # shared_resolution (US-Net + multi-scale: one random size per iteration for all).
    cfg.MUTUALNET.SAMPLING = "mutual"
    # align_corners of the bilinear resize that makes each sub-network's input from the
    # full-size batch (training, BN calibration, validation, search and test alike).
    # Default False (PyTorch's: the images' outer edges meet) keeps the video configs'
    # behaviour; the official 2D MutualNet code resizes with True (the corner pixels'
    # centres meet), which the ImageNet configs set.
    cfg.MUTUALNET.RESIZE_ALIGN_CORNERS = False
    # With ENABLE False: the one static configuration trained (I-Net); 0 = full size.
    cfg.MUTUALNET.STATIC_WIDTH = 1.0
    cfg.MUTUALNET.STATIC_SPATIAL_SIZE = 0
    cfg.MUTUALNET.STATIC_TEMPORAL_SIZE = 0
    # Stages after training: BN calibration of the grid, then its evaluation (search).
    cfg.MUTUALNET.CALIBRATE = True
    cfg.MUTUALNET.SEARCH = True
    # Splits the search evaluates every configuration on, one decode each. The first
    # builds the query table (search_table.json, query_table.json, accuracy_flops.png);
    # another writes search_table_<split>.json and query_table_<split>.json, so that a
    # configuration chosen on val can be reported on held-out data (the digits study).
    cfg.MUTUALNET.SEARCH_SPLITS = ["val"]
    # The configuration of the multi-view test (TEST.ENABLE); 0 = full size.
    cfg.MUTUALNET.TEST_WIDTH = 1.0
    cfg.MUTUALNET.TEST_SPATIAL_SIZE = 0
    cfg.MUTUALNET.TEST_TEMPORAL_SIZE = 0


def _fail(key: str, message: str, value: object) -> NoReturn:
    raise ConfigError(f"MUTUALNET.{key} {message}, got {value!r}")


def validate_mutualnet(node: CfgNode) -> None:
    """Check every MUTUALNET key alone; the first invalid one raises ConfigError naming it.

    :func:`check_against_model` then checks the sizes against the network's.
    """
    width_range = list(node.WIDTH_RANGE)
    if len(width_range) != 2 or not all(is_number(v) for v in width_range):
        _fail("WIDTH_RANGE", "must be two numbers [min, max]", width_range)
    low, high = width_range
    if not 0 < low <= high <= 1.0:
        _fail("WIDTH_RANGE", "must be [min, max] with 0 < min <= max <= 1.0", width_range)
    if high != 1.0:
        # The full network (every channel) learns the labels and teaches the others.
        _fail("WIDTH_RANGE", "must end at 1.0, the full network's width", width_range)
    check_whole("MUTUALNET.WIDTH_DIVISOR", node.WIDTH_DIVISOR, 1)
    splits = list(node.SEARCH_SPLITS)
    if not splits or len(set(splits)) != len(splits) or not set(splits) <= {"val", "test"}:
        _fail("SEARCH_SPLITS", "must be distinct splits among 'val' and 'test'", splits)
    if splits != ["val"] and not (node.ENABLE and node.SEARCH):
        _fail("SEARCH_SPLITS", "acts only with MUTUALNET.ENABLE and SEARCH True", splits)
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
    if node.SAMPLING not in SAMPLINGS:
        _fail("SAMPLING", f"must be one of {list(SAMPLINGS)}", node.SAMPLING)
    if not isinstance(node.RESIZE_ALIGN_CORNERS, bool):
        _fail("RESIZE_ALIGN_CORNERS", "must be True or False", node.RESIZE_ALIGN_CORNERS)
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


def check_against_model(cfg: CfgNode, facts: ModelFacts) -> None:
    """Sizes no larger than the full network's input; warnings for untrained sizes.

    The full configuration is the network's (``facts.full``): its input size is the
    training crop and its frames the (Slow) pathway's clip, so a larger size would be
    made by upsampling what the data gives. Image networks take no frame counts.
    """
    node, full = cfg.MUTUALNET, facts.full
    for key in ("SPATIAL_SIZES", "EVAL_SPATIAL_SIZES", "STATIC_SPATIAL_SIZE", "TEST_SPATIAL_SIZE"):
        if max(_as_list(node[key]), default=0) > full.spatial:
            _fail(
                key,
                f"must not exceed the full network's input (DATA.TRAIN_CROP_SIZE "
                f"{full.spatial} px)",
                node[key],
            )
    for key in (
        "TEMPORAL_SIZES",
        "EVAL_TEMPORAL_SIZES",
        "STATIC_TEMPORAL_SIZE",
        "TEST_TEMPORAL_SIZE",
    ):
        largest = max(_as_list(node[key]), default=0)
        if full.temporal is None and largest:
            _fail(key, f"must be empty (or 0): {cfg.MODEL.MODEL_NAME} takes images", node[key])
        if full.temporal is not None and largest > full.temporal:
            _fail(
                key,
                f"must not exceed the {full.temporal} frames of the full network's "
                f"{_frames_source(cfg, facts)}",
                node[key],
            )
    if node.ENABLE:
        _warn_untrained(cfg, full)


def _as_list(value: object) -> list[int]:
    """A size list, or a single size (0 meaning the full size) as a list."""
    return list(value) if isinstance(value, (list, tuple)) else [value]  # type: ignore[list-item]


def _frames_source(cfg: CfgNode, facts: ModelFacts) -> str:
    if facts.alpha is None:
        return f"clip (DATA.NUM_FRAMES {cfg.DATA.NUM_FRAMES})"
    return f"Slow pathway (DATA.NUM_FRAMES {cfg.DATA.NUM_FRAMES} // SLOWFAST.ALPHA {facts.alpha})"


def _warn_untrained(cfg: CfgNode, full: SubnetConfig) -> None:
    """Warn when the search or the test evaluates sizes the cohort never trained at."""
    node = cfg.MUTUALNET
    checks = [("SPATIAL_SIZES", full.spatial, "EVAL_SPATIAL_SIZES", "TEST_SPATIAL_SIZE")]
    if full.temporal is not None:
        checks.append(
            ("TEMPORAL_SIZES", full.temporal, "EVAL_TEMPORAL_SIZES", "TEST_TEMPORAL_SIZE")
        )
    low_width = node.WIDTH_RANGE[0]
    if cfg.TEST.ENABLE and node.TEST_WIDTH < low_width:
        _warn(
            f"MUTUALNET.TEST_WIDTH {node.TEST_WIDTH} lies below the trained widths "
            f"(MUTUALNET.WIDTH_RANGE {list(node.WIDTH_RANGE)})"
        )
    for trained_key, largest, eval_key, test_key in checks:
        trained = list(node[trained_key]) + [largest]
        low, high = min(trained), largest
        searched = node.CALIBRATE or node.SEARCH
        outside = [v for v in node[eval_key] if not low <= v <= high]
        if searched and outside:
            _warn(
                f"MUTUALNET.{eval_key} {outside} lie outside the trained sizes "
                f"[{low}, {high}] (MUTUALNET.{trained_key} and the full network's)"
            )
        tested = node[test_key]
        if cfg.TEST.ENABLE and tested and not low <= tested <= high:
            _warn(
                f"MUTUALNET.{test_key} {tested} lies outside the trained sizes "
                f"[{low}, {high}] (MUTUALNET.{trained_key} and the full network's)"
            )


def _warn(message: str) -> None:
    # At load_config's caller: past this helper, its two callers, validate_cfg and load_config.
    warnings.warn(
        f"{message}: never trained, its accuracy may mislead", ConfigWarning, stacklevel=6
    )


def eval_widths(node: CfgNode) -> list[float]:
    """The evaluation widths of a MUTUALNET node, ascending: EVAL_WIDTHS, or WIDTH_RANGE
    by EVAL_WIDTH_STEP.

    The stepped grid always holds both ends of WIDTH_RANGE, even when the step does not
    divide the range; values are rounded to 4 decimals (and duplicates dropped).
    """
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


def eval_grid(
    node: CfgNode, full: SubnetConfig
) -> tuple[list[float], list[int], list[Optional[int]]]:
    """(widths, spatial sizes, temporal sizes) of the configurations to evaluate.

    ``node`` is the MUTUALNET node, ``full`` the network's full configuration. Sizes are
    sorted largest first; empty lists fall back as the MUTUALNET keys say (EVAL_* to
    the training lists, those to the full size). Image networks get ``[None]`` frames.
    """
    spatial: list[int] = sorted(
        node.EVAL_SPATIAL_SIZES or node.SPATIAL_SIZES or [full.spatial], reverse=True
    )
    temporal: Sequence[Optional[int]] = [None]
    if full.temporal is not None:
        temporal = sorted(
            node.EVAL_TEMPORAL_SIZES or node.TEMPORAL_SIZES or [full.temporal], reverse=True
        )
    return eval_widths(node), spatial, list(temporal)
