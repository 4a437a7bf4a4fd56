"""No setting is accepted and then ignored: every key of ``get_cfg()`` is built or refused.

A key is *built* when making a run from a config reads it (``RunSpec.from_cfg``, the
model's arguments, ``tools/run_net.py``): the read is traced on representative configs.
Every other key must be listed in ``config/compat.py`` (fixed, inert or equivalent), or
be refused at ``load_config`` when set to another value than its default: the test sets
one and expects a ConfigError naming the key.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from fvcore.common.config import CfgNode

from mutualnet3d.config import ConfigError, get_cfg, load_config
from mutualnet3d.config.compat import EQUIVALENT, FIXED, INERT
from mutualnet3d.engine.spec import RunSpec

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs").rglob("*.yaml"))
# Settings that switch on what the repository's configs leave off, so their keys are read.
VARIANTS = [
    ["TENSORBOARD.ENABLE", "True"],
    ["NUM_GPUS", "2", "BN.NORM_TYPE", "sync_batchnorm", "BN.NUM_SYNC_DEVICES", "2"],
    ["NUM_GPUS", "2", "BN.NORM_TYPE", "sync_batchnorm", "BN.GLOBAL_SYNC", "True"],
]


def _leaves(node: CfgNode, prefix: str = ""):
    for name, value in node.items():
        if isinstance(value, CfgNode):
            yield from _leaves(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


class _Traced(CfgNode):
    """A config that records the dotted names of the leaves read from it."""

    def __init__(self, node: CfgNode, reads: set[str], prefix: str = "") -> None:
        super().__init__()
        for name, value in node.items():
            dict.__setitem__(
                self, name, _Traced(value, reads, f"{prefix}{name}.") if isinstance(value, CfgNode) else value
            )
        self.__dict__["_reads"], self.__dict__["_prefix"] = reads, prefix

    def __getattr__(self, name):
        return self[name]

    def __getitem__(self, name):
        value = dict.__getitem__(self, name)
        if not isinstance(value, CfgNode):
            self.__dict__["_reads"].add(self.__dict__["_prefix"] + name)
        return value


def _built_keys() -> set[str]:
    reads: set[str] = set()
    spec = importlib.util.spec_from_file_location("run_net", ROOT / "tools" / "run_net.py")
    run_net = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_net)
    launched = []
    run_net.launch = lambda fn, args, **kwargs: launched.append(kwargs)
    run_net.load_config = lambda path, opts: _Traced(load_config(path, opts), reads)
    # PySlowFast's defaults: its model names read the architecture keys (RESNET.*, X3D.*).
    RunSpec.from_cfg(_Traced(load_config(None), reads), world_size=1)
    for path in CONFIGS:
        cfg = _Traced(load_config(str(path)), reads)
        RunSpec.from_cfg(cfg, world_size=1)
        for variant in VARIANTS:
            try:
                varied = load_config(str(path), variant)
            except ConfigError:
                continue  # a variant some configs cannot take (batch sizes, ...)
            RunSpec.from_cfg(_Traced(varied, reads), world_size=2)
        run_net.main(["--cfg", str(path)])
    assert launched, "tools/run_net.py launched nothing"
    return reads


# Keys whose generic other value would still be valid: the value that matters instead.
OTHER = {"NONLOCAL.LOCATION": [[[1]], [[]], [[]], [[]]]}  # one non-local block


def _other(value):
    """A value of the same type as ``value`` and not equal to it."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 3
    if isinstance(value, float):
        return value * 2 + 0.5
    if isinstance(value, str):
        return value + "_other"
    if isinstance(value, list):
        return value + value[-1:] if value else [1]
    return None


@pytest.mark.slow  # makes a run of every repository config through tools/run_net.py
def test_every_key_is_built_listed_or_refused():
    listed = {f.key for f in FIXED} | set(INERT) | {e.key for e in EQUIVALENT}
    built = _built_keys()
    unchecked = []
    for key, default in _leaves(get_cfg()):
        if key in built or key in listed:
            continue
        try:
            load_config(None, [key, repr(OTHER.get(key, _other(default)))])
        except ConfigError as error:
            if key in str(error):
                continue
        unchecked.append(f"{key}={default!r}")
    assert not unchecked, f"keys neither built nor refused: {unchecked}"
