#!/usr/bin/env python3
"""Train, calibrate, search and test a MutualNet model, as PySlowFast's run_net.py.

    python tools/run_net.py --cfg configs/Kinetics/MutualNet_SlowFast_4x16.yaml
    python tools/run_net.py --cfg CONFIG.yaml NUM_GPUS 0 TRAIN.BATCH_SIZE 4   # overrides
    python tools/run_net.py --cfg CONFIG.yaml --opts TRAIN.ENABLE False         # PySlowFast's form

Several nodes: the same command on each with ``--num_shards N --shard_id i
--init_method tcp://HOST:PORT``. ``torchrun`` works too (ranks from its environment).
On the CPU (``NUM_GPUS 0``) ``--num_procs N`` runs N gloo processes.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from fvcore.common.config import CfgNode

from mutualnet3d.config import ConfigError, ConfigWarning, check_process_layout, load_config
from mutualnet3d.engine import run
from mutualnet3d.engine.distributed import launch


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cfg",
        dest="cfg_files",
        action="append",
        required=True,
        help="config file; several run one after another",
    )
    parser.add_argument(
        "--init_method",
        default="tcp://localhost:9999",
        help="process-group rendezvous (tcp://host:port or file://path)",
    )
    parser.add_argument("--num_shards", type=int, default=None, help="nodes (NUM_SHARDS)")
    parser.add_argument("--shard_id", type=int, default=None, help="this node (SHARD_ID)")
    parser.add_argument(
        "--num_procs",
        type=int,
        default=None,
        help="processes on this node (default: max(1, NUM_GPUS))",
    )
    parser.add_argument(
        "--opts",
        dest="flag_opts",
        nargs=argparse.REMAINDER,
        default=[],
        help="KEY VALUE config overrides (PySlowFast's form; the same as without --opts)",
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    return parser.parse_args(argv)


def overrides(args: argparse.Namespace) -> list[str]:
    """The KEY VALUE overrides, given with ``--opts`` or without (PySlowFast's two forms),
    then the launcher flags that set config keys, so that load_config checks them all."""
    given = [token for token in args.opts if token != "--opts"] + list(args.flag_opts)
    for flag, key in ((args.num_shards, "NUM_SHARDS"), (args.shard_id, "SHARD_ID")):
        if flag is not None:
            given += [key, str(flag)]
    return given


def _processes(args: argparse.Namespace, num_shards: int) -> int | None:
    """The job's process count when the launcher, not the config, decides it."""
    if int(os.environ.get("WORLD_SIZE", 1)) > 1:  # torchrun
        return int(os.environ["WORLD_SIZE"])
    return args.num_procs * num_shards if args.num_procs else None


def _load_config_saying(path: str, opts: list[str]) -> tuple[CfgNode, tuple[str, ...]]:
    """``load_config``, and its ConfigWarnings' messages for the run's log (which does not
    exist yet); every warning is still shown as it comes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        cfg = load_config(path, opts)
    for w in caught:
        warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return cfg, tuple(str(w.message) for w in caught if issubclass(w.category, ConfigWarning))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for path in args.cfg_files:
        try:
            cfg, said = _load_config_saying(path, overrides(args))
            processes = _processes(args, cfg.NUM_SHARDS)
            if processes is not None:
                check_process_layout(cfg, processes)
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        cfg.freeze()
        launch(
            run,
            (cfg, said),
            num_gpus=cfg.NUM_GPUS,
            num_shards=cfg.NUM_SHARDS,
            shard_id=cfg.SHARD_ID,
            init_method=args.init_method,
            num_procs=args.num_procs,
            backend=cfg.DIST_BACKEND,
            timeout=cfg.DIST_TIMEOUT,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
