"""PySlowFast's own YAML files, as published, through ``tools/run_net.py``.

``tests/fixtures/pyslowfast_configs/`` holds every file of PySlowFast's configs/Kinetics
(with c2/ and pytorchvideo/), configs/Charades (with pytorchvideo/), configs/AVA (with
c2/) and configs/ImageNet/RES_R50.yaml, unchanged (Apache-2.0: NOTICE there). Each file
the library builds runs one training and one test iteration with only data paths, sizes
(frames, crops, batches, views, the MutualNet grids, one epoch without warm-up, no
loader workers), ``TRAIN.ENABLE True`` for the files that only test, no zoo weights
(Charades' TRAIN.CHECKPOINT_FILE_PATH) and ``NUM_GPUS 0`` overridden, and its network has PySlowFast's tensor
shapes (written out from PySlowFast's rules in tests/models/test_pyslowfast_shapes.py);
each file it cannot build stops at load_config with one line naming the key.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
import torch
import torchvision

from mutualnet3d.config import ConfigError, load_config
from mutualnet3d.models import build_model
from tests.models.test_pyslowfast_shapes import (
    C2D,
    FAST,
    FAST_101_50,
    I3D,
    SLOW,
    SLOW_101_50,
    X3D_L,
    X3D_M,
    detector,
    resnet,
    slowfast,
    x3d,
)

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "tests" / "fixtures" / "pyslowfast_configs"
FILES = sorted(p.relative_to(PUBLISHED).as_posix() for p in PUBLISHED.rglob("*.yaml"))

# What is not built, by file name, and the key its one-line refusal names.
REFUSED = (
    (r"_NLN_|AVA/c2/SLOWFAST_\d+x2_R101_50_50", "NONLOCAL.LOCATION"),  # non-local blocks
    (r"_multigrid", "MULTIGRID"),
    (r"MVIT", "MVIT"),
    (r"CSN_|R2PLUS1D_", "MODEL.SINGLE_PATHWAY_ARCH"),  # ['csn'], ['r2plus1d']
    # 'stepwise' files train with SOLVER.STEPS [0, 94, 154, 196] and 6 LRS: they run.
)
BUILT = [f for f in FILES if not any(re.search(p, f) for p, _ in REFUSED)]
# A few files in the fast suite (tests/models/test_pyslowfast_shapes.py has a full-size
# SlowFast and X3D there); the slow suite runs them all.
A_FEW = [
    "Kinetics/c2/I3D_8x8_R50.yaml",
    "Kinetics/I3D_NLN_8x8_R50.yaml",
    "ImageNet/RES_R50.yaml",
]


def _refused_key(rel: str) -> str | None:
    return next((key for pattern, key in REFUSED if re.search(pattern, rel)), None)


def _load(rel: str, *opts: str):
    return load_config(str(PUBLISHED / rel), ["NUM_GPUS", "0", *opts])


def pyslowfast_shapes(rel: str, cfg) -> dict[str, tuple[int, ...]]:
    """The weight shapes PySlowFast's rules give the network ``rel`` describes."""
    name, arch, depth = Path(rel).stem, cfg.MODEL.ARCH, cfg.RESNET.DEPTH
    classes = cfg.MODEL.NUM_CLASSES
    if arch == "2d":  # a 2D ResNet: torchvision's, PySlowFast's without its time axis
        net = torchvision.models.resnet50(num_classes=classes)
        return {k: tuple(v.shape) for k, v in net.state_dict().items() if k.endswith("weight")}
    if arch == "x3d":
        sizes = X3D_L if name == "X3D_L" else X3D_M  # XS, S and M share M's widths
        return x3d(**sizes, pyslowfast=cfg.MODEL.MODEL_NAME == "X3D", classes=classes)
    if arch == "slowfast":
        # R101_50_x: res4's 23 blocks take R50's 6 temporal kernels (Slow; and Fast: _50).
        slow = SLOW_101_50 if "R101_50" in name else SLOW[depth]
        fast = FAST_101_50 if name.endswith("R101_50_50") else FAST[depth]
        shapes = slowfast(slow, fast, cfg.SLOWFAST.FUSION_KERNEL_SZ, classes=classes)
    else:
        kernels = {"c2d": C2D, "i3d": I3D, "slow": SLOW}[arch][depth]
        pool1 = arch in ("c2d", "i3d") and "NOPOOL" not in name
        shapes = resnet(kernels, stem=5 if arch == "i3d" else 1, pool1=pool1, classes=classes)
    return detector(shapes) if cfg.DETECTION.ENABLE else shapes


def _weight_shapes(cfg) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):
        model = build_model(cfg)
    return {k: tuple(v.shape) for k, v in model.state_dict().items() if k.endswith("weight")}


def _check_load(rel: str) -> None:
    key = _refused_key(rel)
    if key is None:
        cfg = _load(rel)
        assert _weight_shapes(cfg) == pyslowfast_shapes(rel, cfg)
        return
    with pytest.raises(ConfigError) as error:
        _load(rel)
    message = str(error.value)
    assert "\n" not in message and key in message, message


@pytest.mark.parametrize("rel", A_FEW)
def test_a_few_files_build_pyslowfasts_shapes_or_are_refused(rel):
    _check_load(rel)


@pytest.mark.slow
@pytest.mark.parametrize("rel", FILES)
def test_every_file_builds_pyslowfasts_shapes_or_is_refused_naming_the_key(rel):
    _check_load(rel)


def _run_net():
    spec = importlib.util.spec_from_file_location("run_net", ROOT / "tools" / "run_net.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


# Sizes shared by every run: tiny clips and crops, two-clip batches, one view, one
# epoch, a two-point MutualNet grid.
SIZES = {
    "DATA.TRAIN_JITTER_SCALES": "[32, 40]",
    "DATA.TRAIN_CROP_SIZE": "32",
    "DATA.TEST_CROP_SIZE": "32",
    "TRAIN.BATCH_SIZE": "2",
    "TEST.BATCH_SIZE": "2",
    "TEST.NUM_ENSEMBLE_VIEWS": "1",
    "TEST.NUM_SPATIAL_CROPS": "1",
    "SOLVER.MAX_EPOCH": "1",
    "SOLVER.WARMUP_EPOCHS": "0.0",
    "BN.NUM_BATCHES_PRECISE": "1",
    "MUTUALNET.SPATIAL_SIZES": "[32, 24]",
    "MUTUALNET.EVAL_WIDTHS": "[0.5, 1.0]",
    "MUTUALNET.BN_CALIB_BATCHES": "1",
    "DATA_LOADER.NUM_WORKERS": "0",
}


def _frames(cfg) -> dict[str, str]:
    """Clip sizes the tiny videos hold, keeping the file's SLOWFAST.ALPHA."""
    if cfg.MODEL.ARCH == "2d":
        return {}
    frames = 2 * cfg.SLOWFAST.ALPHA if cfg.MODEL.ARCH == "slowfast" else 4
    return {"DATA.NUM_FRAMES": str(frames), "DATA.SAMPLING_RATE": "1"}


def _data(dataset: str, request) -> dict[str, str]:
    """The data paths of the data set the file trains on (the tests' tiny folders)."""
    if dataset in ("kinetics", "ptvkinetics", "charades", "ptvcharades"):
        folder = request.getfixturevalue(
            "kinetics_dir" if "kinetics" in dataset else "charades_dir"
        )
        return {"DATA.PATH_TO_DATA_DIR": str(folder.root), "DATA.PATH_PREFIX": str(folder.prefix)}
    if dataset == "imagenet":
        return {"DATA.PATH_TO_DATA_DIR": str(request.getfixturevalue("imagenet_dir"))}
    return {
        **request.getfixturevalue("ava").config_paths(),
        # The tiny videos' key frames are seconds 902 and 903; validation would keep
        # PySlowFast's every 4th second (904, ...) of them, none.
        "AVA.FULL_TEST_ON_VAL": "True",
    }


@pytest.mark.slow
@pytest.mark.parametrize("rel", BUILT)
def test_every_buildable_file_trains_and_tests_one_iteration(rel, request, tmp_path):
    cfg = _load(rel)
    out = tmp_path / "out"
    opts = {
        # The test-only files (c2/, X3D) train too; as published they test the weights
        # TEST.CHECKPOINT_FILE_PATH, OUTPUT_DIR or TRAIN.CHECKPOINT_FILE_PATH give.
        "TRAIN.ENABLE": "True",
        # Charades' files fine-tune the zoo's SLOWFAST_8x8_R50.pkl, a path not here.
        "TRAIN.CHECKPOINT_FILE_PATH": "",
        **_data(cfg.TRAIN.DATASET, request),
        **SIZES,
        **_frames(cfg),
        "NUM_GPUS": "0",
        "OUTPUT_DIR": str(out),
    }
    argv = ["--cfg", str(PUBLISHED / rel), *[x for pair in opts.items() for x in pair]]
    assert _run_net()(argv) == 0
    log = (out / "stdout.log").read_text()
    assert f"MODEL.MODEL_NAME {cfg.MODEL.MODEL_NAME}: " in log  # what the name builds
    assert log.count('"_type": "train_iter"') >= 1
    results = json.loads((out / "test_results.json").read_text())
    assert results.get("videos", results.get("key_frames")) >= 1
