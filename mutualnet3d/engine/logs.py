"""The run's log: ``OUTPUT_DIR/stdout.log`` and stdout on the main process, ``json_stats``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import simplejson

from .distributed import is_main_process

__all__ = ["log_stats", "logger", "setup_logging"]

#: the library's logger; the engine's modules log to it or to their children
logger = logging.getLogger("mutualnet3d")


def setup_logging(output_dir: str) -> None:
    """Rank 0 logs to stdout and ``output_dir/stdout.log``; other ranks only warnings."""
    # Python warnings (skipped videos, ignored keys...) go to the same log, also from
    # DataLoader workers, which inherit these handlers.
    logging.captureWarnings(False)  # re-armed: a caller may have reset warnings.showwarning
    logging.captureWarnings(True)
    for name in ("mutualnet3d", "py.warnings"):
        for handler in logging.getLogger(name).handlers:
            handler.close()
        logging.getLogger(name).handlers.clear()
    logger.propagate = False
    if not is_main_process():
        logger.setLevel(logging.WARNING)
        return
    logger.setLevel(logging.INFO)
    fmt = logging.Formatter("[%(asctime)s %(filename)s:%(lineno)d] %(message)s", "%m/%d %H:%M:%S")
    for handler in (logging.StreamHandler(), logging.FileHandler(Path(output_dir) / "stdout.log")):
        handler.setFormatter(fmt)
        logger.addHandler(handler)
        logging.getLogger("py.warnings").addHandler(handler)


def log_stats(stats: dict[str, Any]) -> None:
    """One ``json_stats: {...}`` line, PySlowFast's format (keys sorted)."""
    logger.info("json_stats: %s", simplejson.dumps(stats, sort_keys=True))
