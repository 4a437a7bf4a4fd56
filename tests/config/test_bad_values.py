"""Bad values in YAML files, refused at load_config with one line naming file, key and value.

Each value below used to pass and fail later (after an epoch, after the whole training)
or do nothing; each is refused naming the file that sets it (through ``_BASE_``), and
its valid neighbour loads. So are a ``_BASE_`` loop and a file that is not UTF-8.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from mutualnet3d.config import ConfigError, ConfigWarning, load_config

# A small single-pathway video network and a SlowFast one whose Slow pathway has
# DATA.NUM_FRAMES 32 // SLOWFAST.ALPHA 4 = 8 frames; both crop 32 px.
CROPS = "  TRAIN_CROP_SIZE: 32\n  TRAIN_JITTER_SCALES: [36, 40]\n  TEST_CROP_SIZE: 32\n"
SLOW = (
    "MODEL:\n  ARCH: slow\n  MODEL_NAME: slow_tiny\n"
    "DATA:\n  INPUT_CHANNEL_NUM: [3]\n  NUM_FRAMES: 8\n" + CROPS
)
SLOWFAST = (
    "MODEL:\n  MODEL_NAME: slowfast_tiny\nSLOWFAST:\n  ALPHA: 4\nDATA:\n  NUM_FRAMES: 32\n" + CROPS
)


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def setting(key: str, value: str) -> str:
    """The YAML lines setting dotted ``key`` to ``value``."""
    *nodes, name = key.split(".")
    lines = [f"{'  ' * depth}{node}:" for depth, node in enumerate(nodes)]
    return "\n".join(lines + [f"{'  ' * len(nodes)}{name}: {value}"]) + "\n"


def load_quietly(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)  # valid neighbours warn of nothing
        return load_config(*args, **kwargs)


def check_refused(path: str, key: str, value: str, where: str = "") -> str:
    """load_config(path) raises one line: ``where`` (default ``path``), key, value."""
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message, message
    assert message.startswith(f"{where or path}: "), message
    assert re.search(rf"\b{re.escape(key)}\b", message), message
    assert message.endswith(f"got {value}"), message
    return message


# (base settings, key, refused values, a valid neighbour)
CASES = [
    ("", "SOLVER.MAX_EPOCH", ["0", "-1"], "1"),
    ("", "LOG_PERIOD", ["0", "-2"], "1"),
    ("", "TRAIN.CHECKPOINT_PERIOD", ["0", "-1"], "1"),
    ("", "TRAIN.EVAL_PERIOD", ["-1"], "0"),  # 0: never
    ("", "MODEL.NUM_CLASSES", ["0", "-5"], "1"),
    # Frames of the clip the sampled pathway gets: DATA.NUM_FRAMES for Slow ...
    (SLOW, "MUTUALNET.EVAL_TEMPORAL_SIZES", ["[9]", "[8, 16]"], "[8]"),
    (SLOW, "MUTUALNET.TEMPORAL_SIZES", ["[12, 8]"], "[8, 4]"),
    (SLOW, "MUTUALNET.TEST_TEMPORAL_SIZE", ["9"], "8"),
    # ... and DATA.NUM_FRAMES // SLOWFAST.ALPHA for SlowFast's Slow pathway.
    (SLOWFAST, "MUTUALNET.EVAL_TEMPORAL_SIZES", ["[9]", "[32]"], "[8]"),
    (SLOWFAST, "MUTUALNET.TEST_TEMPORAL_SIZE", ["16"], "8"),
    # Spatial sizes above the training crop (the full network's input).
    (SLOW, "MUTUALNET.SPATIAL_SIZES", ["[40, 32]"], "[32, 24]"),
    (SLOW, "MUTUALNET.EVAL_SPATIAL_SIZES", ["[33]"], "[32]"),
    (SLOW, "MUTUALNET.TEST_SPATIAL_SIZE", ["64"], "32"),
    (SLOWFAST, "MUTUALNET.EVAL_SPATIAL_SIZES", ["[48, 32]"], "[32]"),
]
NAMES = {"": "", SLOW: "slow:", SLOWFAST: "slowfast:"}
PARAMS = [(base, key, bad, good) for base, key, bads, good in CASES for bad in bads]


@pytest.mark.parametrize(
    "base, key, bad, good", PARAMS, ids=[f"{NAMES[p[0]]}{p[1]}={p[2]}" for p in PARAMS]
)
def test_bad_value_in_a_file_is_refused_naming_file_key_and_value(tmp_path, base, key, bad, good):
    check_refused(write(tmp_path / "bad.yaml", base + setting(key, bad)), key, bad)
    cfg = load_quietly(write(tmp_path / "good.yaml", base + setting(key, good)))
    node = cfg
    for part in key.split("."):
        node = node[part]
    assert str(node).replace(" ", "") == good.replace(" ", "")


def test_bad_value_in_a_base_file_names_the_base(tmp_path):
    base = write(tmp_path / "base.yaml", "SOLVER:\n  MAX_EPOCH: 0\n")
    child = write(tmp_path / "child.yaml", "_BASE_: base.yaml\nLOG_PERIOD: 5\n")
    check_refused(child, "SOLVER.MAX_EPOCH", "0", where=f"{base} (a _BASE_ of {child})")
    # The child's own value wins over its base's, and is the one named.
    child = write(tmp_path / "child.yaml", "_BASE_: base.yaml\nSOLVER:\n  MAX_EPOCH: -3\n")
    check_refused(child, "SOLVER.MAX_EPOCH", "-3")
    fixed = write(tmp_path / "fixed.yaml", "_BASE_: base.yaml\nSOLVER:\n  MAX_EPOCH: 2\n")
    assert load_quietly(fixed).SOLVER.MAX_EPOCH == 2


def test_the_last_file_or_the_command_line_is_named(tmp_path):
    first = write(tmp_path / "first.yaml", "MODEL:\n  NUM_CLASSES: 0\n")
    second = write(tmp_path / "second.yaml", "MODEL:\n  NUM_CLASSES: -1\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(second)}: MODEL\.NUM_CLASSES .*got -1$"):
        load_config([first, second])
    # A command-line override replaces the file's value: fixed, or named as the command line's.
    assert load_quietly(first, ["MODEL.NUM_CLASSES", "7"]).MODEL.NUM_CLASSES == 7
    ok = write(tmp_path / "ok.yaml", "MODEL:\n  NUM_CLASSES: 7\n")
    with pytest.raises(ConfigError, match=r"^MODEL\.NUM_CLASSES must be .*got 0$"):
        load_config(ok, ["--opts", "MODEL.NUM_CLASSES", "0"])


def test_a_value_at_its_default_names_no_file(tmp_path):
    # The file sets something else; the fault is the command line's: no file named.
    path = write(tmp_path / "other.yaml", "LOG_PERIOD: 3\n")
    with pytest.raises(ConfigError, match=r"^SOLVER\.MAX_EPOCH must be .*got 0$"):
        load_config(path, ["SOLVER.MAX_EPOCH", "0"])


@pytest.mark.parametrize(
    "files, top, chain",
    [
        ({"a.yaml": "_BASE_: b.yaml\n", "b.yaml": "_BASE_: a.yaml\n"}, "a.yaml", "a b a"),
        ({"self.yaml": "_BASE_: self.yaml\nLOG_PERIOD: 2\n"}, "self.yaml", "self self"),
        (
            {
                "top.yaml": "_BASE_: [ok.yaml, b.yaml]\n",
                "ok.yaml": "LOG_PERIOD: 2\n",
                "b.yaml": "_BASE_: c.yaml\n",
                "c.yaml": "_BASE_: [ok.yaml, b.yaml]\n",
            },
            "top.yaml",
            "top b c b",
        ),
    ],
    ids=["two files", "itself", "deeper, in a list"],
)
def test_base_loop_is_refused_naming_the_chain(tmp_path, files, top, chain):
    for name, text in files.items():
        write(tmp_path / name, text)
    path = str(tmp_path / top)
    with pytest.raises(ConfigError) as info:
        load_config(path)  # not a RecursionError
    names = [str(tmp_path / f"{stem}.yaml") for stem in chain.split()]
    assert str(info.value) == f"{path}: _BASE_ files form a loop: {' -> '.join(names)}"


def test_a_base_shared_by_two_bases_is_no_loop(tmp_path):
    write(tmp_path / "common.yaml", "LOG_PERIOD: 2\n")
    write(tmp_path / "left.yaml", "_BASE_: common.yaml\nRNG_SEED: 3\n")
    write(tmp_path / "right.yaml", "_BASE_: common.yaml\nSOLVER:\n  MAX_EPOCH: 4\n")
    top = write(tmp_path / "top.yaml", "_BASE_: [left.yaml, right.yaml]\n")
    cfg = load_quietly(top)
    assert (cfg.LOG_PERIOD, cfg.RNG_SEED, cfg.SOLVER.MAX_EPOCH) == (2, 3, 4)


def test_non_utf8_file_is_named_with_line_and_offset(tmp_path):
    latin1 = "MODEL:\n  NUM_CLASSES: 10  # caf\u00e9\n".encode("latin-1")
    path = tmp_path / "latin1.yaml"
    path.write_bytes(latin1)
    offset = latin1.index(b"\xe9")
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert str(info.value) == (
        f"{path}, line 2: not UTF-8 (byte 0xe9 at offset {offset}); save the file as UTF-8"
    )
    # In a base file: that file is named.
    child = write(tmp_path / "child.yaml", "_BASE_: latin1.yaml\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}, line 2: not UTF-8"):
        load_config(child)
    # The same text in UTF-8 loads.
    path.write_bytes(latin1.decode("latin-1").encode("utf-8"))
    assert load_quietly(str(path)).MODEL.NUM_CLASSES == 10
