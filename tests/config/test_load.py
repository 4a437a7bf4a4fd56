"""load_config: YAML files with _BASE_, KEY VALUE overrides, errors naming key and file."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from mutualnet3d.config import ConfigError, ConfigWarning, get_cfg, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_yaml_merge_with_base(tmp_path):
    write(tmp_path / "base.yaml", "MODEL:\n  NUM_CLASSES: 10\n  DROPOUT_RATE: 0.3\n")
    child = write(
        tmp_path / "child.yaml",
        "_BASE_: base.yaml\nMODEL:\n  DROPOUT_RATE: 0.1\nMUTUALNET:\n  SPATIAL_SIZES: [224, 160]\n",
    )
    cfg = load_config(child)
    # The base's key survives, the child's wins where both set one.
    assert (cfg.MODEL.NUM_CLASSES, cfg.MODEL.DROPOUT_RATE) == (10, 0.1)
    assert cfg.MUTUALNET.SPATIAL_SIZES == [224, 160]
    assert load_config(Path(child)).MODEL.NUM_CLASSES == 10  # a Path works too


def test_several_files_merge_in_order(tmp_path):
    first = write(tmp_path / "a.yaml", "DATA:\n  NUM_FRAMES: 16\n  SAMPLING_RATE: 4\n")
    second = write(tmp_path / "b.yaml", "DATA:\n  NUM_FRAMES: 32\n")
    third = write(tmp_path / "empty.yaml", "# nothing to set\n")
    cfg = load_config([first, second, third])
    assert (cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE) == (32, 4)


@pytest.mark.parametrize("prefix", [[], ["--opts"]], ids=["plain", "--opts"])
def test_overrides_after_files(tmp_path, prefix):
    path = write(tmp_path / "c.yaml", "MODEL:\n  NUM_CLASSES: 10\n")
    opts = prefix + [
        "MODEL.NUM_CLASSES", "7", "MUTUALNET.WIDTH_RANGE", "[0.5, 1.0]",
        "SOLVER.CLIP_GRAD_VAL", "1.0", "OUTPUT_DIR", "out/run1",
    ]  # fmt: skip
    cfg = load_config(path, opts)
    assert cfg.MODEL.NUM_CLASSES == 7 and cfg.MUTUALNET.WIDTH_RANGE == [0.5, 1.0]
    assert cfg.SOLVER.CLIP_GRAD_VAL == 1.0 and cfg.OUTPUT_DIR == "out/run1"
    assert load_config(None, prefix).dump() == get_cfg().dump()  # nothing to merge


def test_unknown_key_in_yaml_names_key_and_file(tmp_path):
    path = write(tmp_path / "bad.yaml", "MODEL:\n  NUM_CLASES: 10\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*MODEL\.NUM_CLASES\b"):
        load_config(path)
    path = write(tmp_path / "bad_node.yaml", "MULTIGRID:\n  SHORT_CYCLE: True\n")
    with pytest.raises(ConfigError, match=r"bad_node\.yaml.*MULTIGRID"):
        load_config(path)
    # A node inside a node we have: the innermost not built is named.
    path = write(tmp_path / "vis.yaml", "TENSORBOARD:\n  MODEL_VIS:\n    ENABLE: True\n")
    with pytest.raises(ConfigError, match=r"vis\.yaml: TENSORBOARD\.MODEL_VIS: PySlowFast's "
                       r"TENSORBOARD\.MODEL_VIS node \(model visualisation\) is not built"):
        load_config(path)


def test_unknown_key_in_base_names_the_base_file(tmp_path):
    write(tmp_path / "parent.yaml", "DATA:\n  NUM_FRAME: 4\n")
    child = write(tmp_path / "kid.yaml", "_BASE_: parent.yaml\nDATA:\n  NUM_FRAMES: 4\n")
    with pytest.raises(ConfigError) as info:
        load_config(child)
    message = str(info.value)
    assert "DATA.NUM_FRAME" in message and "parent.yaml" in message
    assert message.index("parent.yaml") < message.index("kid.yaml")  # where, then via


@pytest.mark.parametrize("prefix", [[], ["--opts"]], ids=["plain", "--opts"])
@pytest.mark.parametrize("key", ["MUTUALNET.WIDTH_RANG", "MODEL.NUM_CLASSES.X", "FOO", "_BASE_"])
def test_unknown_key_in_overrides_names_key(prefix, key):
    with pytest.raises(ConfigError, match=rf"unknown config key {re.escape(key)}$"):
        load_config(None, prefix + [key, "1"])


@pytest.mark.parametrize("prefix", [[], ["--opts"]], ids=["plain", "--opts"])
def test_odd_number_of_override_tokens(prefix):
    with pytest.raises(ConfigError, match="KEY VALUE"):
        load_config(None, prefix + ["MODEL.NUM_CLASSES", "7", "TRAIN.ENABLE"])


def test_type_mismatch_names_key(tmp_path):
    with pytest.raises(ConfigError, match=r"MODEL\.NUM_CLASSES"):
        load_config(None, ["MODEL.NUM_CLASSES", "'many'"])
    with pytest.raises(ConfigError, match=r"^command line: SOLVER is a node"):
        load_config(None, ["SOLVER", "0.1"])
    path = write(tmp_path / "typed.yaml", "DATA:\n  TRAIN_CROP_SIZE: large\n")
    with pytest.raises(ConfigError, match=r"typed\.yaml.*DATA\.TRAIN_CROP_SIZE"):
        load_config(path)


def test_unreadable_files_raise_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        load_config(str(tmp_path / "missing.yaml"))
    path = write(tmp_path / "broken.yaml", "MODEL: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml"):
        load_config(path)
    path = write(tmp_path / "list.yaml", "- MODEL\n")
    with pytest.raises(ConfigError, match=r"list\.yaml"):
        load_config(path)


REPO_CONFIGS = sorted(CONFIGS.rglob("*.yaml"))


@pytest.mark.parametrize(
    "path", REPO_CONFIGS, ids=[str(p.relative_to(CONFIGS)) for p in REPO_CONFIGS]
)
def test_repository_configs_load(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)  # and nothing evaluated untrained
        load_config(str(path))  # no unknown key, and valid
