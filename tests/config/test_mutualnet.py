"""The MUTUALNET node's evaluation grid: widths by a step, sizes with their fallbacks."""

from __future__ import annotations

import pytest

from mutualnet3d.config import eval_grid, eval_widths, get_cfg, load_config
from mutualnet3d.slim import SubnetConfig


def _node(**values):
    node = get_cfg().MUTUALNET
    for key, value in values.items():
        node[key] = value
    return node


@pytest.mark.parametrize(
    "width_range, step, expected",
    [
        ([0.25, 1.0], 0.25, [0.25, 0.5, 0.75, 1.0]),
        ([0.7, 1.0], 0.05, [0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0]),
        ([0.63, 1.0], 0.1, [0.63, 0.73, 0.83, 0.93, 1.0]),  # the step does not divide
        ([0.25, 1.0], 0.4, [0.25, 0.65, 1.0]),
        ([0.5, 1.0], 1.0, [0.5, 1.0]),  # a step longer than the range: both ends
        ([1.0, 1.0], 0.05, [1.0]),
    ],
)
def test_eval_widths_grid(width_range, step, expected):
    cfg = load_config(
        None,
        [
            "MUTUALNET.WIDTH_RANGE", str(width_range),
            "MUTUALNET.EVAL_WIDTH_STEP", str(step),
        ],
    )  # fmt: skip
    assert eval_widths(cfg.MUTUALNET) == expected


def test_eval_widths_do_not_drift_with_float_steps():
    # 0.1 + 2 * 0.1 is 0.30000000000000004: multiplied, then rounded, not accumulated.
    # (A range that does not end at 1.0 is refused at load; the grid is its own rule.)
    assert eval_widths(_node(WIDTH_RANGE=[0.1, 0.3], EVAL_WIDTH_STEP=0.1)) == [0.1, 0.2, 0.3]


def test_eval_widths_default_grid_is_the_papers():
    widths = eval_widths(get_cfg().MUTUALNET)  # [0.25, 1.0] by 0.05: 16 widths
    assert widths == [round(0.25 + 0.05 * i, 4) for i in range(16)]
    assert widths[-1] == 1.0 and len(set(widths)) == 16


def test_explicit_eval_widths_are_used_sorted():
    cfg = load_config(None, ["MUTUALNET.EVAL_WIDTHS", "[1.0, 0.33333333, 0.5, 0.5]"])
    assert eval_widths(cfg.MUTUALNET) == [0.3333, 0.5, 1.0]


def test_eval_grid_defaults_to_training_sizes():
    video = SubnetConfig(1.0, 224, 8)
    assert eval_grid(_node(), SubnetConfig(1.0, 224, 4))[1:] == ([224], [4])  # the full size
    node = _node(SPATIAL_SIZES=[142, 224, 178], TEMPORAL_SIZES=[3, 8, 5])
    assert eval_grid(node, video)[1:] == ([224, 178, 142], [8, 5, 3])
    node.EVAL_SPATIAL_SIZES = [160]
    node.EVAL_TEMPORAL_SIZES = [2, 4]
    assert eval_grid(node, video)[1:] == ([160], [4, 2])
    assert eval_grid(node, SubnetConfig(1.0, 224))[2] == [None]  # images: no frames
