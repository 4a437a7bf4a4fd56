#!/usr/bin/env python3
"""Classify one video with a finished run: its 5 most likely classes, with their names.

    python tools/predict.py --cfg configs/Demo/MutualNet_Slow_Digits.yaml --video clip.mp4
    python tools/predict.py --cfg CONFIG.yaml --video clip.mp4 --budget-gflops 0.002 --views 1

The run's OUTPUT_DIR (the config's, after ``KEY VALUE`` overrides) must hold
``checkpoints/checkpoint_calibrated.pyth`` and ``search_table.json``. The configuration
is the most accurate one within ``--budget-gflops`` (default: the most accurate of all),
run with its calibrated BN statistics. ``--views 10`` (default) is PySlowFast's test
protocol: 10 evenly spaced clips x ``--crops`` (default TEST.NUM_SPATIAL_CROPS: 1 centre
or 3 crops), softmax scores averaged; ``--views 1``: the centre clip's centre crop. The
video is read as the run's test split reads a Kinetics video (the library's decoder and
transforms; Moving Digits' MP4s from ``write_kinetics`` at sampling rate 1). A file that
cannot be read gets one line naming it and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from mutualnet3d.config import ConfigError, load_config
from mutualnet3d.data import DecodeError, TestViews, VideoDecodeWarning
from mutualnet3d.deploy import (
    IncompleteRun,
    SelectionError,
    SingleVideo,
    by_budget,
    class_names,
    load_calibrated,
    search_rows,
    top_classes,
    video_reading,
    video_scores,
)
from mutualnet3d.engine.spec import RunSpec
from mutualnet3d.slim import SubnetConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cfg", required=True, help="the run's config file")
    parser.add_argument("--video", required=True, help="the video file")
    parser.add_argument("--budget-gflops", type=float, help="the most accurate within this cost")
    parser.add_argument("--views", type=int, choices=(1, 10), default=10, help="temporal clips")
    parser.add_argument("--crops", type=int, choices=(1, 3), help="crops per clip (--views 10)")
    parser.add_argument("--top", type=int, default=5, help="classes shown (default 5)")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    return parser.parse_args(argv)


def predict(args: argparse.Namespace) -> str:
    """The prediction ``args`` ask for, as the lines to print."""
    cfg = load_config(args.cfg, args.opts)
    spec = RunSpec.from_cfg(cfg)
    model = spec.model.build().eval()
    if model.input_kind != "video" or model.detects:
        raise SelectionError(f"{spec.model.name} is not a video classifier: nothing to predict")
    load_calibrated(model, spec.output_dir)
    rows, _ = search_rows(spec.output_dir)
    row = by_budget(rows, args.budget_gflops)
    tested = SubnetConfig(row.width, row.spatial, row.temporal)
    data = spec.test_data
    crops = 1 if args.views == 1 else args.crops or data.views.num_spatial_crops
    sampling, spatial = video_reading(data)
    dataset = SingleVideo(
        args.video,
        sampling=sampling,
        spatial=spatial,
        views=TestViews(args.views, crops, data.views.use_offset),
        normalization=data.normalization,
        alpha=model.alpha,
        decode_threads=data.decode_threads,
    )
    scores = video_scores(
        model,
        dataset,
        tested,
        spec.test.input_config(tested, model.full_config()),
        multi_label=spec.multi_label,
        align_corners=spec.resize_align_corners,
    )
    names = class_names(data.name, scores.numel())
    views = f"{args.views} clip{'s' * (args.views > 1)} x {crops} crop{'s' * (crops > 1)}"
    lines = [
        f"{args.video}: width {row.width:g}, {row.spatial} px, {row.temporal} frames "
        f"({row.gflops:g} GFLOPs), {views}"
    ]
    for rank, (index, name, score) in enumerate(top_classes(scores, args.top, names), 1):
        lines.append(f"{rank}. {name} ({index}): {score:.4f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A file that fails is named once, in the error line, not again in a warning.
    warnings.simplefilter("ignore", VideoDecodeWarning)
    try:
        print(predict(args))
    except DecodeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (ConfigError, IncompleteRun, SelectionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
