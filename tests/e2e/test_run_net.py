"""tools/run_net.py end to end on tiny generated videos: train, calibrate, search, test."""

import importlib.util
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mutualnet3d.config import load_config
from mutualnet3d.engine import Checkpointer, run
from mutualnet3d.engine.checkpoint import checkpoint_path, load_checkpoint_file

pytestmark = pytest.mark.slow  # whole runs: training, calibration, search, test

ROOT = Path(__file__).resolve().parents[2]
SLOW = str(ROOT / "configs" / "Kinetics" / "MutualNet_Slow_8x8.yaml")


def tiny_opts(data, output, **extra):
    """Overrides that shrink a Kinetics config to the tiny test videos and model."""
    opts = {
        "DATA.PATH_TO_DATA_DIR": str(data.root),
        "DATA.PATH_PREFIX": str(data.prefix),
        "DATA.NUM_FRAMES": "4",
        "DATA.SAMPLING_RATE": "2",
        "DATA.TRAIN_JITTER_SCALES": "[36, 40]",
        "DATA.TRAIN_CROP_SIZE": "32",
        "DATA.TEST_CROP_SIZE": "32",
        "MODEL.MODEL_NAME": "slow_tiny",
        "MODEL.NUM_CLASSES": "2",
        "MODEL.DROPOUT_RATE": "0.0",
        "MUTUALNET.WIDTH_DIVISOR": "2",
        "MUTUALNET.WIDTH_RANGE": "[0.5, 1.0]",
        "MUTUALNET.SPATIAL_SIZES": "[32, 24]",
        "MUTUALNET.TEMPORAL_SIZES": "[4, 2]",
        "MUTUALNET.EVAL_WIDTHS": "[0.75, 1.0]",
        "MUTUALNET.BN_CALIB_BATCHES": "2",
        "TRAIN.BATCH_SIZE": "2",
        "TEST.BATCH_SIZE": "4",
        "SOLVER.MAX_EPOCH": "2",
        "SOLVER.WARMUP_EPOCHS": "0.0",
        "TRAIN.EVAL_PERIOD": "1",
        "TRAIN.CHECKPOINT_PERIOD": "1",
        "NUM_GPUS": "0",
        "DATA_LOADER.NUM_WORKERS": "0",
        "TEST.NUM_ENSEMBLE_VIEWS": "2",
        "TEST.NUM_SPATIAL_CROPS": "3",
        "LOG_PERIOD": "1",
        "OUTPUT_DIR": str(output),
        "DATA.MAX_FAILURE_RATIO": "1.0",
    }
    opts.update(extra)
    return [item for pair in opts.items() for item in pair]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_net_trains_calibrates_searches_and_tests(kinetics_dir, tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "run_net.py"),
            "--cfg",
            SLOW,
            *tiny_opts(kinetics_dir, out, **{"TEST.SAVE_RESULTS_PATH": "predictions.pkl"}),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for name in (
        "checkpoint_epoch_00001.pyth",
        "checkpoint_epoch_00002.pyth",
        "checkpoint_calibrated.pyth",
    ):
        assert (out / "checkpoints" / name).is_file()
    calibrated = load_checkpoint_file(out / "checkpoints" / "checkpoint_calibrated.pyth")[
        "model_state"
    ]
    assert any(k.endswith("stats_w0p75_s24_t2_mean") for k in calibrated)  # 2 x 2 x 2 grid
    search = json.loads((out / "search_table.json").read_text())["configurations"]
    assert len(search) == 8 and {(c["width"], c["spatial"], c["temporal"]) for c in search} == {
        (w, s, t) for w in (0.75, 1.0) for s in (32, 24) for t in (4, 2)
    }
    assert all(0 <= c["top1"] <= 100 and c["gflops"] > 0 for c in search)
    query = json.loads((out / "query_table.json").read_text())["configurations"]
    gflops = [c["gflops"] for c in query]
    assert gflops == sorted(gflops) and len(query) >= 1
    assert (out / "accuracy_flops.png").read_bytes()[:4] == b"\x89PNG"
    test = json.loads((out / "test_results.json").read_text())
    assert test["views_per_video"] == 6 and test["videos"] == 4 and test["complete_videos"] == 4
    log = (out / "stdout.log").read_text()
    assert log.count('json_stats: {"_type": "train_iter"') == 4  # 2 epochs x 2 iterations
    assert '"_type": "val_epoch"' in log
    # LOG_MODEL_INFO (PySlowFast's default True): the network, its size and cost.
    assert "M parameters" in log and "GFLOPs at its full configuration" in log
    # TEST.SAVE_RESULTS_PATH: PySlowFast's pickle of [video scores, labels].
    import pickle

    with open(out / "predictions.pkl", "rb") as f:
        scores, labels = pickle.load(f)
    assert scores.shape == (4, 2) and labels.tolist() == kinetics_dir.labels
    assert torch.allclose(scores.sum(1), torch.full((4,), 6.0, dtype=torch.float64))  # 6 views


def test_two_processes_with_init_method(kinetics_dir, tmp_path):
    out = tmp_path / "ddp"
    opts = tiny_opts(
        kinetics_dir,
        out,
        **{
            "TRAIN.BATCH_SIZE": "4",
            "SOLVER.MAX_EPOCH": "1",
            "MUTUALNET.EVAL_WIDTHS": "[1.0]",
            "MUTUALNET.BN_CALIB_BATCHES": "1",
        },
    )
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "run_net.py"),
            "--cfg",
            SLOW,
            "--num_procs",
            "2",
            "--init_method",
            f"tcp://127.0.0.1:{_free_port()}",
            *opts,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "world size 2" in (out / "stdout.log").read_text()
    test = json.loads((out / "test_results.json").read_text())
    # The 24 views are split over 2 processes without loss or duplication.
    assert test["complete_videos"] == 4 and test["top5"] == 100.0
    assert (out / "checkpoints" / "checkpoint_epoch_00001.pyth").is_file()


def train_only_cfg(data, out, *extra):
    """Training only (3 epochs, validated each): the checkpoints hold the weights."""
    return load_config(
        SLOW,
        tiny_opts(
            data,
            out,
            **{
                "SOLVER.MAX_EPOCH": "3",
                "TRAIN.EVAL_PERIOD": "1",
                "MUTUALNET.CALIBRATE": "False",
                "MUTUALNET.SEARCH": "False",
                "TEST.ENABLE": "False",
            },
        )
        + list(extra),
    )


def straight_and_resumed(make_cfg, tmp_path, monkeypatch):
    """The last checkpoint's weights of an uninterrupted run of ``make_cfg(output)`` and
    of one killed right after epoch 2's checkpoint, then resumed (TRAIN.AUTO_RESUME)."""
    run(make_cfg(tmp_path / "a"))
    straight = load_checkpoint_file(checkpoint_path(str(tmp_path / "a"), 3))["model_state"]

    save = Checkpointer.save

    def killed_after_epoch_2(self, model, epoch, *args, **kwargs):
        path = save(self, model, epoch, *args, **kwargs)
        if epoch == 2:
            raise KeyboardInterrupt  # the job is killed right after the checkpoint
        return path

    monkeypatch.setattr(Checkpointer, "save", killed_after_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        run(make_cfg(tmp_path / "b"))
    monkeypatch.setattr(Checkpointer, "save", save)
    assert not checkpoint_path(str(tmp_path / "b"), 3).exists()
    run(make_cfg(tmp_path / "b"))
    resumed = load_checkpoint_file(checkpoint_path(str(tmp_path / "b"), 3))["model_state"]
    return straight, resumed


def test_auto_resume_reaches_the_uninterrupted_weights(kinetics_dir, tmp_path, monkeypatch):
    straight, resumed = straight_and_resumed(
        lambda out: train_only_cfg(kinetics_dir, out), tmp_path, monkeypatch
    )
    assert resumed.keys() == straight.keys()
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=0, atol=0, msg=key)


def test_non_finite_loss_names_epoch_and_iteration(kinetics_dir, tmp_path):
    cfg = train_only_cfg(
        kinetics_dir, tmp_path / "nan", "SOLVER.BASE_LR", "1e30", "SOLVER.MAX_EPOCH", "2"
    )
    with pytest.raises(FloatingPointError, match=r"epoch \d+, iteration \d+"):
        run(cfg)


@pytest.mark.parametrize("workers", [0, 1])
def test_every_warning_reaches_the_run_log_with_its_count(kinetics_dir, tmp_path, workers):
    # A broken video in train.csv, an evaluated size never trained: both in stdout.log,
    # the skips counted in the epoch's json_stats (also from a DataLoader worker).
    (kinetics_dir.root / "videos" / "broken.mp4").write_bytes(b"\x00" * 5000)
    with open(kinetics_dir.csv("train"), "a") as f:
        f.write("videos/broken.mp4 0\n")
    out = tmp_path / "warned"
    opts = tiny_opts(
        kinetics_dir,
        out,
        **{
            "SOLVER.MAX_EPOCH": "1",
            "TRAIN.BATCH_SIZE": "5",
            "MUTUALNET.EVAL_SPATIAL_SIZES": "[32, 16]",
            "MUTUALNET.EVAL_WIDTHS": "[1.0]",
            "MUTUALNET.BN_CALIB_BATCHES": "1",
            "TEST.ENABLE": "False",
            "DATA_LOADER.NUM_WORKERS": str(workers),
        },
    )
    spec = importlib.util.spec_from_file_location("run_net", ROOT / "tools" / "run_net.py")
    run_net = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_net)
    with pytest.warns(UserWarning):
        assert run_net.main(["--cfg", SLOW, *opts]) == 0
    log = (out / "stdout.log").read_text()
    assert "config: MUTUALNET.EVAL_SPATIAL_SIZES [16] lie outside the trained sizes" in log
    assert "skipping video" in log and "broken.mp4" in log
    epoch = [
        json.loads(line.split("json_stats: ")[1])
        for line in log.splitlines()
        if '"_type": "train_epoch"' in line
    ]
    assert len(epoch) == 1 and epoch[0]["skipped_loads"] >= 1, epoch


ABLATIONS = ROOT / "configs" / "Kinetics" / "ablations"


@pytest.mark.parametrize("config", sorted(p.name for p in ABLATIONS.glob("*.yaml")))
def test_baselines_and_ablations_run_from_their_config_files(config, kinetics_dir, tmp_path):
    out = tmp_path / "out"
    cfg = load_config(
        str(ABLATIONS / config),
        tiny_opts(
            kinetics_dir,
            out,
            **{
                "SOLVER.MAX_EPOCH": "1",
                "MUTUALNET.BN_CALIB_BATCHES": "1",
                "TEST.NUM_ENSEMBLE_VIEWS": "1",
                "TEST.NUM_SPATIAL_CROPS": "1",
                "MUTUALNET.STATIC_WIDTH": "0.5" if "INet" in config else "1.0",
            },
        ),
    )
    run(cfg)
    assert json.loads((out / "test_results.json").read_text())["complete_videos"] == 4
    if cfg.MUTUALNET.ENABLE:
        assert (out / "query_table.json").is_file()
    else:  # I-Net: a plain network of width 0.5, no search
        state = load_checkpoint_file(checkpoint_path(str(out), 1))["model_state"]
        assert (
            state["blocks.0.conv.weight"].shape[0] == 4 and not (out / "query_table.json").exists()
        )


KINETICS = sorted((ROOT / "configs" / "Kinetics").glob("*.yaml"))


@pytest.mark.parametrize("path", KINETICS, ids=[p.stem for p in KINETICS])
def test_every_kinetics_config_trains_and_tests_one_iteration(path, kinetics_dir, tmp_path):
    # Each family's tiny twin ("<family>_tiny"), with the keys of the config that would
    # otherwise size it like the full network. A new family's configs fail here until
    # its twin's settings are added.
    family = load_config(str(path)).MODEL.MODEL_NAME.split("_")[0]
    tiny = {
        "slow": {},
        "slowfast": {
            "DATA.NUM_FRAMES": "8",
            "SLOWFAST.ALPHA": "4",
            "MUTUALNET.TEMPORAL_SIZES": "[2, 1]",
        },
        "x3d": {"X3D.WIDTH_FACTOR": "0.5", "X3D.DEPTH_FACTOR": "1.0", "X3D.DIM_C5": "32"},
    }
    assert family in tiny, f"{path.name}: add the settings of {family}_tiny to this test"
    sizes = {"MODEL.MODEL_NAME": f"{family}_tiny", **tiny[family]}
    out = tmp_path / "out"
    cfg = load_config(
        str(path),
        tiny_opts(
            kinetics_dir,
            out,
            **{
                "SOLVER.MAX_EPOCH": "1",
                "TRAIN.BATCH_SIZE": "4",
                "TRAIN.EVAL_PERIOD": "0",
                "MUTUALNET.CALIBRATE": "False",
                "MUTUALNET.SEARCH": "False",
                "MUTUALNET.EVAL_WIDTHS": "[1.0]",
                "TEST.NUM_ENSEMBLE_VIEWS": "1",
                "TEST.NUM_SPATIAL_CROPS": "1",
                **sizes,
            },
        ),
    )
    run(cfg)
    assert (out / "stdout.log").read_text().count('"_type": "train_iter"') == 1
    assert json.loads((out / "test_results.json").read_text())["complete_videos"] == 4
