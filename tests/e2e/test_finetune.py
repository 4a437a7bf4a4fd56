"""Fine-tuning and the other data sets through the same command: Charades and ImageNet."""

import json
from pathlib import Path

import pytest
import torch

from mutualnet3d.config import load_config
from mutualnet3d.engine import run
from mutualnet3d.engine.checkpoint import checkpoint_path
from tests.data.folders import CHARADES_CLASSES as NUM_CLASSES

pytestmark = pytest.mark.slow  # whole runs of the command

ROOT = Path(__file__).resolve().parents[2]


def _charades_opts(folder, out, **extra):
    opts = {
        "DATA.PATH_TO_DATA_DIR": str(folder.root),
        "DATA.PATH_PREFIX": str(folder.prefix),
        "DATA.NUM_FRAMES": "4",
        "DATA.SAMPLING_RATE": "2",
        "DATA.TRAIN_JITTER_SCALES": "[32, 40]",
        "DATA.TRAIN_CROP_SIZE": "32",
        "DATA.TEST_CROP_SIZE": "32",
        "MODEL.MODEL_NAME": "slow_tiny",
        "MODEL.NUM_CLASSES": str(NUM_CLASSES),
        "MODEL.DROPOUT_RATE": "0.0",
        "MUTUALNET.WIDTH_DIVISOR": "2",
        "TRAIN.BATCH_SIZE": "3",
        "TEST.BATCH_SIZE": "3",
        "SOLVER.MAX_EPOCH": "1",
        "SOLVER.WARMUP_EPOCHS": "0.0",
        "TRAIN.EVAL_PERIOD": "1",
        "NUM_GPUS": "0",
        "DATA_LOADER.NUM_WORKERS": "0",
        "TEST.NUM_ENSEMBLE_VIEWS": "2",
        "TEST.NUM_SPATIAL_CROPS": "1",
        "LOG_PERIOD": "1",
        "OUTPUT_DIR": str(out),
        "DATA.MAX_FAILURE_RATIO": "1.0",
    }
    opts.update(extra)
    return [item for pair in opts.items() for item in pair]


CHARADES = {
    "MutualNet_Slow_8x8": ("slow_tiny", "blocks.5.proj", {}),
    "MutualNet_SlowFast_4x16": (
        "slowfast_tiny",
        "blocks.6.proj",
        {"DATA.NUM_FRAMES": "8", "DATA.SAMPLING_RATE": "1", "SLOWFAST.ALPHA": "4"},
    ),
}


@pytest.mark.parametrize("config", sorted(CHARADES))
def test_charades_finetunes_a_kinetics_checkpoint(config, charades_dir, tmp_path):  # noqa: F811
    # A Kinetics model in PyTorchVideo's format (its own twin network), 2 classes; the
    # Charades run has 5: the backbone loads, the classifier is re-initialised.
    from mutualnet3d.models import get_model_builder

    name, head, sizes = CHARADES[config]
    builder, kwargs = get_model_builder(name)(num_classes=2, width_divisor=2).reference
    source = {k: v + 0.01 for k, v in builder(**kwargs).state_dict().items()}
    pretrained = tmp_path / "kinetics_slow_tiny.pyth"
    torch.save(source, pretrained)
    out = tmp_path / "charades"
    cfg = load_config(
        str(ROOT / "configs" / "Charades" / f"{config}.yaml"),
        _charades_opts(
            charades_dir,
            out,
            **{"TRAIN.CHECKPOINT_FILE_PATH": str(pretrained), "MODEL.MODEL_NAME": name, **sizes},
        ),
    )
    run(cfg)
    log = (out / "stdout.log").read_text()
    assert "pytorchvideo format" in log
    assert head in log  # the 2-class classifier was re-initialised for 5 classes
    val = [
        json.loads(line.split("json_stats: ")[1])
        for line in log.splitlines()
        if "val_epoch" in line
    ]
    assert 0.0 <= val[-1]["map"] <= 100.0
    test = json.loads((out / "test_results.json").read_text())
    assert test["videos"] == 3 and test["complete_videos"] == 3 and 0.0 <= test["map"] <= 100.0
    finetuned = torch.load(checkpoint_path(str(out), 1), weights_only=True)["model_state"]
    assert finetuned[f"{head}.weight"].shape == (NUM_CLASSES, source[f"{head}.weight"].shape[1])


def _ava_opts(folder, out, **extra):
    opts = {
        **folder.config_paths(),
        "AVA.FULL_TEST_ON_VAL": "True",  # the fixture's seconds are 902 and 903
        "DATA.NUM_FRAMES": "4",
        "DATA.SAMPLING_RATE": "2",
        "DATA.TRAIN_JITTER_SCALES": "[32, 40]",
        "DATA.TRAIN_CROP_SIZE": "32",
        "DATA.TEST_CROP_SIZE": "32",
        "MODEL.NUM_CLASSES": "4",
        "MODEL.DROPOUT_RATE": "0.0",
        "MUTUALNET.WIDTH_DIVISOR": "2",
        "TRAIN.BATCH_SIZE": "2",
        "TEST.BATCH_SIZE": "2",
        "SOLVER.MAX_EPOCH": "1",
        "SOLVER.WARMUP_EPOCHS": "0.0",
        "SOLVER.STEPS": "[0]",
        "SOLVER.LRS": "[1]",
        "TRAIN.EVAL_PERIOD": "1",
        "NUM_GPUS": "0",
        "DATA_LOADER.NUM_WORKERS": "0",
        "LOG_PERIOD": "1",
        "OUTPUT_DIR": str(out),
    }
    opts.update(extra)
    return [item for pair in opts.items() for item in pair]


AVA = {
    "MutualNet_Slow_8x8": ("slow_tiny", {}),
    "MutualNet_SlowFast_4x16": (
        "slowfast_tiny",
        {"DATA.NUM_FRAMES": "8", "DATA.SAMPLING_RATE": "1", "SLOWFAST.ALPHA": "4"},
    ),
}


@pytest.mark.parametrize("config", sorted(AVA))
def test_ava_finetunes_a_kinetics_classifier(config, ava, tmp_path):  # noqa: F811
    # A Kinetics classifier in PyTorchVideo's format (2 classes) initialises the 4-class
    # detector: backbone names move under model., the classifier is re-initialised.
    from mutualnet3d.models import get_model_builder

    name, sizes = AVA[config]
    builder, kwargs = get_model_builder(name)(num_classes=2, width_divisor=2).reference
    source = {k: v + 0.01 for k, v in builder(**kwargs).state_dict().items()}
    pretrained = tmp_path / "kinetics.pyth"
    torch.save(source, pretrained)
    out = tmp_path / "ava"
    cfg = load_config(
        str(ROOT / "configs" / "AVA" / f"{config}.yaml"),
        _ava_opts(
            ava,
            out,
            **{
                "TRAIN.CHECKPOINT_FILE_PATH": str(pretrained),
                "MODEL.MODEL_NAME": f"{name}_detection",
                **sizes,
            },
        ),
    )
    run(cfg)
    log = (out / "stdout.log").read_text()
    assert "pytorchvideo format" in log and "detection_head.proj re-initialised" in log
    # 3 training key frames (vidA 902, 903; vidB 903) in batches of 2, the last dropped.
    assert log.count('"_type": "train_iter"') == 1
    val = [
        json.loads(line.split("json_stats: ")[1])
        for line in log.splitlines()
        if "val_epoch" in line
    ]
    assert 0.0 <= val[-1]["map"] <= 100.0
    test = json.loads((out / "test_results.json").read_text())
    # Detected boxes over 0.8 at vidA 902 and vidB 903; classes 1, 2, 4 are evaluated.
    assert test["key_frames"] == 2 and sorted(test["per_class_ap"]) == ["1", "2", "4"]
    finetuned = torch.load(checkpoint_path(str(out), 1), weights_only=True)["model_state"]
    assert finetuned["detection_head.proj.weight"].shape[0] == 4
    # The stem was loaded from the classifier (then trained one step at a small rate).
    stem = next(k for k in source if k.startswith("blocks.0.") and k.endswith("weight"))
    assert torch.allclose(finetuned[f"model.{stem}"], source[stem], atol=0.05)


def test_adaptive_ava_calibrates_and_searches_with_boxes(ava, tmp_path):  # noqa: F811
    # MutualNet training on detection: sub-networks see shrunken clips with their boxes
    # scaled alike; the search scores every configuration by frame-level mAP.
    out = tmp_path / "ava_adaptive"
    cfg = load_config(
        str(ROOT / "configs" / "AVA" / "MutualNet_Slow_8x8.yaml"),
        _ava_opts(
            ava,
            out,
            **{
                "TRAIN.CHECKPOINT_FILE_PATH": "",
                "MODEL.MODEL_NAME": "slow_tiny_detection",
                "MUTUALNET.ENABLE": "True",
                "MUTUALNET.WIDTH_RANGE": "[0.5, 1.0]",
                "MUTUALNET.SPATIAL_SIZES": "[16, 32]",
                "MUTUALNET.TEMPORAL_SIZES": "[2, 4]",
                "MUTUALNET.EVAL_WIDTHS": "[0.5, 1.0]",
                "MUTUALNET.BN_CALIB_BATCHES": "1",
            },
        ),
    )
    run(cfg)
    table = json.loads((out / "search_table.json").read_text())
    assert table["metric"] == "map"
    rows = table["configurations"]
    assert len(rows) == 8 and all(0.0 <= row["map"] <= 100.0 for row in rows)
    # Narrower, smaller, shorter configurations must cost fewer FLOPs: boxes were counted too.
    gflops = {(r["width"], r["spatial"], r["temporal"]): r["gflops"] for r in rows}
    assert gflops[(0.5, 16, 2)] < gflops[(0.5, 32, 4)] < gflops[(1.0, 32, 4)]
    assert (out / "accuracy_flops.png").exists()


@pytest.mark.parametrize(
    "config, model",
    [
        ("MutualNet_MobileNetV1", "mobilenet_v1_tiny"),
        ("MutualNet_MobileNetV2", "mobilenet_v2_tiny"),
        ("MutualNet_ResNet50", "resnet_tiny"),
    ],
)
def test_imagenet_runs_through_the_same_command(config, model, imagenet_dir, tmp_path):
    out = tmp_path / "out"
    cfg = load_config(
        str(ROOT / "configs" / "ImageNet" / f"{config}.yaml"),
        [
            "DATA.PATH_TO_DATA_DIR",
            str(imagenet_dir),
            "DATA.TRAIN_CROP_SIZE",
            "32",
            "DATA.TEST_CROP_SIZE",
            "36",
            "MODEL.MODEL_NAME",
            model,
            "MODEL.NUM_CLASSES",
            "2",
            "MUTUALNET.WIDTH_DIVISOR",
            "2",
            "MUTUALNET.SPATIAL_SIZES",
            "[32, 24, 16]",
            "MUTUALNET.EVAL_WIDTHS",
            "[1.0]",
            "MUTUALNET.BN_CALIB_BATCHES",
            "1",
            "TRAIN.BATCH_SIZE",
            "3",
            "TEST.BATCH_SIZE",
            "3",
            "SOLVER.MAX_EPOCH",
            "1",
            "TRAIN.EVAL_PERIOD",
            "1",
            "NUM_GPUS",
            "0",
            "DATA_LOADER.NUM_WORKERS",
            "0",
            "TEST.NUM_ENSEMBLE_VIEWS",
            "1",
            "TEST.NUM_SPATIAL_CROPS",
            "1",
            "OUTPUT_DIR",
            str(out),
        ],
    )
    run(cfg)
    search = json.loads((out / "search_table.json").read_text())["configurations"]
    assert [(c["spatial"], c["temporal"]) for c in search] == [(32, None), (24, None), (16, None)]
    assert json.loads((out / "test_results.json").read_text())["complete_videos"] == 6


def test_a_charades_sync_batchnorm_config_trains_with_two_processes(charades_dir, tmp_path):  # noqa: F811
    # PySlowFast's Charades files train with BN.NORM_TYPE sync_batchnorm: here two CPU
    # processes share their BN statistics (gloo), through tools/run_net.py.
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "sync"
    opts = _charades_opts(charades_dir, out, **{
        "BN.NORM_TYPE": "sync_batchnorm", "BN.NUM_SYNC_DEVICES": "2", "TRAIN.BATCH_SIZE": "2",
        "TEST.BATCH_SIZE": "2", "MUTUALNET.CALIBRATE": "False", "MUTUALNET.SEARCH": "False",
        "TRAIN.CHECKPOINT_FILE_PATH": "",  # from scratch: no Kinetics checkpoint here
    })
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "run_net.py"), "--cfg",
         str(ROOT / "configs" / "Charades" / "MutualNet_Slow_8x8.yaml"), "--num_procs", "2",
         "--init_method", f"tcp://127.0.0.1:{port}", *opts],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    log = (out / "stdout.log").read_text()
    assert "world size 2" in log and "synchronised over groups of 2 processes" in log
    assert '"_type": "train_iter"' in log
    assert json.loads((out / "test_results.json").read_text())["videos"] == 3
