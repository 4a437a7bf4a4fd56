"""Multi-day runs as they fail: a job killed at a random iteration resumes to the weights
of an uninterrupted one (1 and 2 gloo processes, dropout and random augmentation on);
a stalled rank ends a 2-process job within DIST_TIMEOUT, naming the rank."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mutualnet3d.engine.checkpoint import checkpoint_path, load_checkpoint_file

from .test_run_net import SLOW, _free_port, tiny_opts

pytestmark = pytest.mark.slow  # whole runs in subprocesses

ROOT = Path(__file__).resolve().parents[2]
EPOCHS = 2


@pytest.fixture
def eight_videos(kinetics_dir, make_video):
    """kinetics_dir with 8 training videos: 4 iterations an epoch at 1 clip a process."""
    lines = []
    for i in range(8):
        rel = f"videos/train_{i}.mp4"
        make_video(kinetics_dir.root / rel, num_frames=24 + 2 * i)
        lines.append(f"{rel} {i % 2}\n")
    (kinetics_dir.root / "train.csv").write_text("".join(lines))
    return kinetics_dir


def _command(data, out: Path, procs: int, **extra) -> list[str]:
    opts = tiny_opts(
        data,
        out,
        **{
            "TRAIN.BATCH_SIZE": str(procs),
            "SOLVER.MAX_EPOCH": str(EPOCHS),
            "MODEL.DROPOUT_RATE": "0.5",  # random in every process
            "DATA_LOADER.NUM_WORKERS": "1",  # worker seeds come from each rank's RNG
            "MUTUALNET.CALIBRATE": "False",
            "MUTUALNET.SEARCH": "False",
            "TEST.ENABLE": "False",
            **extra,
        },
    )
    launcher = ["--num_procs", str(procs), "--init_method", f"tcp://127.0.0.1:{_free_port()}"]
    return [sys.executable, str(ROOT / "tools" / "run_net.py"), "--cfg", SLOW, *launcher, *opts]


def _iterations_logged(out: Path) -> int:
    log = out / "stdout.log"
    return log.read_text().count('"_type": "train_iter"') if log.exists() else 0


def _kill_at(command: list[str], out: Path, iteration: int) -> None:
    """Start ``command`` and SIGKILL its whole process group once ``iteration``
    training iterations are logged (rank 0 logs each)."""
    job = subprocess.Popen(command, start_new_session=True, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while _iterations_logged(out) < iteration and job.poll() is None:
            assert time.monotonic() < deadline, "the run never reached the iteration"
            time.sleep(0.05)
        assert job.poll() is None, f"the run ended before iteration {iteration}"
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()


@pytest.mark.parametrize("procs", [1, 2])
def test_a_run_killed_at_a_random_iteration_resumes_to_the_same_weights(
    eight_videos, tmp_path, procs
):
    iterations = EPOCHS * 8 // procs
    kill_at = random.Random().randint(2, iterations - 2)  # in the message if it fails
    straight = tmp_path / "straight"
    run = subprocess.run(_command(eight_videos, straight, procs), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    killed = tmp_path / "killed"
    _kill_at(_command(eight_videos, killed, procs), killed, kill_at)
    assert not checkpoint_path(str(killed), EPOCHS).exists()
    resumed = subprocess.run(_command(eight_videos, killed, procs), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a = load_checkpoint_file(checkpoint_path(str(straight), EPOCHS))
    b = load_checkpoint_file(checkpoint_path(str(killed), EPOCHS))
    assert len(b["rng_states"]) == procs
    assert a["model_state"].keys() == b["model_state"].keys()
    for key, value in a["model_state"].items():
        torch.testing.assert_close(
            b["model_state"][key], value, rtol=0, atol=0, msg=f"{key} (killed at {kill_at})"
        )


def test_a_stalled_rank_ends_the_run_within_dist_timeout_naming_it(eight_videos, tmp_path):
    out = tmp_path / "stall"
    timeout = 15
    command = _command(eight_videos, out, 2, **{"SOLVER.MAX_EPOCH": "50"})
    job = subprocess.Popen(
        command + ["DIST_TIMEOUT", str(timeout)],
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stalled = None
    try:
        deadline = time.monotonic() + 300
        while _iterations_logged(out) < 2:
            assert job.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        pids = re.search(r"process ids by rank: \[(\d+), (\d+)\]", (out / "stdout.log").read_text())
        stalled = int(pids.group(2))
        os.kill(stalled, signal.SIGSTOP)
        start = time.monotonic()
        output, _ = job.communicate(timeout=timeout + 60)
        elapsed = time.monotonic() - start
    finally:
        if stalled is not None:
            try:
                os.kill(stalled, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
    assert job.returncode != 0
    print(f"ended {elapsed:.1f} s after SIGSTOP (DIST_TIMEOUT {timeout} s)")
    assert elapsed < timeout + 30, elapsed
    message = "rank 1 stopped answering"
    assert message in output, output[-3000:]
    assert message in (out / "stdout.log").read_text()
