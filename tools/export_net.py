#!/usr/bin/env python3
"""Export one configuration of a finished run as a static model, verified, with its card.

    python tools/export_net.py --cfg configs/Demo/MutualNet_Slow_Digits.yaml \\
        --budget-gflops 0.002 --format onnx --out deploy/digits_onnx
    python tools/export_net.py --cfg CONFIG.yaml --config 0.75,24,4 --format torchscript --out DIR
    python tools/export_net.py --cfg CONFIG.yaml --format pt --out DIR OUTPUT_DIR runs/x

The run's OUTPUT_DIR (the config's, after ``KEY VALUE`` overrides) must hold what
``tools/run_net.py`` leaves after calibration and search: ``checkpoints/
checkpoint_calibrated.pyth`` and ``search_table.json``. The configuration is the most
accurate one within ``--budget-gflops`` (or ``--budget-ms``, from ``latency_table.json``
where the latency was measured), the one ``--config WIDTH,SPATIAL,FRAMES`` names, or else
the most accurate of all. It is cut out with its calibrated BN statistics, written as
DIR/model.ts (TorchScript), DIR/model.onnx (ONNX) or DIR/model.pt2 (torch.export),
loaded back and checked against the adaptive network on validation clips (max abs
logits difference <= 1e-4, ONNX in onnxruntime), and only then moved into DIR with
DIR/model_card.json. ``--input full`` (default): the model takes the full
configuration's clip and resizes inside; ``--input config``: it takes the
configuration's size. See docs/DEPLOY.md.
"""

from __future__ import annotations

import argparse
import sys

from mutualnet3d.config import ConfigError, load_config
from mutualnet3d.data import build_dataset
from mutualnet3d.deploy import (
    FORMATS,
    INPUT_SIZES,
    ExportMismatch,
    IncompleteRun,
    NotDeployable,
    SelectionError,
    by_budget,
    by_configuration,
    by_latency,
    export_configuration,
    latency_rows,
    load_calibrated,
    parse_configuration,
    search_rows,
    validation_batches,
)
from mutualnet3d.engine.spec import RunSpec
from mutualnet3d.evaluation import ConfigResult

# Validation clips per verification batch: small enough for full-size networks on a CPU.
_BATCH = 4


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cfg", required=True, help="the run's config file")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--budget-gflops", type=float, help="the most accurate within this cost")
    which.add_argument("--budget-ms", type=float, help="... within this latency (latency_table)")
    which.add_argument("--config", help="WIDTH,SPATIAL,FRAMES of a searched configuration")
    parser.add_argument("--format", required=True, choices=FORMATS, help="the file written")
    parser.add_argument("--out", required=True, help="the output folder")
    parser.add_argument(
        "--input", default="full", choices=INPUT_SIZES, help="the input size the model takes"
    )
    parser.add_argument(
        "--verify-clips", type=int, default=8, help="validation clips checked (default 8)"
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    return parser.parse_args(argv)


def choose(args: argparse.Namespace, rows: list[ConfigResult], output_dir: str) -> ConfigResult:
    """The configuration the flags ask for (see the module docstring)."""
    if args.config is not None:
        return by_configuration(rows, *parse_configuration(args.config))
    if args.budget_ms is not None:
        latency = latency_rows(output_dir)
        if latency is None:
            raise SelectionError(
                f"--budget-ms needs {output_dir}/latency_table.json (the measured latency of "
                "each configuration), which this run does not have; use --budget-gflops"
            )
        return by_latency(latency, args.budget_ms)
    return by_budget(rows, args.budget_gflops)


def export(args: argparse.Namespace) -> str:
    """Export as ``args`` ask; returns what was written, in one line."""
    cfg = load_config(args.cfg, args.opts)
    spec = RunSpec.from_cfg(cfg)
    model = spec.model.build().eval()
    checkpoint = load_calibrated(model, spec.output_dir)
    rows, metric = search_rows(spec.output_dir)
    row = choose(args, rows, spec.output_dir)
    dataset = build_dataset(spec.train_data, "val", alpha=model.alpha)
    batches = validation_batches(dataset, args.verify_clips, _BATCH, model.num_pathways)
    paths = export_configuration(
        model,
        row,
        model_name=spec.model.name,
        metric=metric,
        fmt=args.format,
        out_dir=args.out,
        input_size=args.input,
        align_corners=spec.resize_align_corners,
        data=spec.train_data,
        multi_label=spec.multi_label,
        checkpoint=checkpoint,
        batches=batches,
    )
    frames = "" if row.temporal is None else f", {row.temporal} frames"
    return (
        f"wrote {paths['model']} and {paths['card']}: width {row.width:g}, {row.spatial} px"
        f"{frames}, {row.gflops:g} GFLOPs, {metric} {row.metric:g} on val"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        print(export(args))
    except (
        ConfigError,
        ExportMismatch,
        ImportError,
        IncompleteRun,
        NotDeployable,
        OSError,  # the output folder cannot be written (the message names the path)
        SelectionError,
    ) as error:
        print(f"error: {error}; nothing written to {args.out}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
