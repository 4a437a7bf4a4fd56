#!/usr/bin/env bash
# The GPU path, checked in one command on a machine with a CUDA GPU (about 4 minutes on
# one GPU; each step has a time limit, 8 minutes in all):
#
#   bash bench/gpu_check.sh
#
# It runs as it is after the README's install command (python3 -m venv .venv && ...
# pip install -e ".[test]"), in that shell or a new one: without an active virtual
# environment it uses the repository's .venv. It prints, in order:
#
#   1. the machine: the GPU's name, driver and memory (nvidia-smi), the versions of
#      torch, CUDA and cuDNN;
#   2. the tests marked cuda (python -m pytest -m cuda): an AMP training iteration of
#      SlowFast 4x16 and X3D-M at full size against float32, bit-exact resume, BN
#      calibration and search against the CPU's, a whole run on the GPU, export
#      equality in each format;
#   3. adaptive / exported static forward time (bench_adaptive_vs_static.py) of Slow 8x8,
#      SlowFast 4x16 and X3D-M at full size, three configurations each, at batch 1 and 8
#      in float32 and float16, side by side: the ratio column, target <= 1.05;
#   4. Slow 8x8 at 224 px, batch 8, float32 (bench_mutual_step.py): (a) one MutualNet
#      iteration / the same sub-networks' standalone steps, target <= 1.10; (b) its peak
#      memory / the largest sub-network's step's (torch.cuda.max_memory_allocated),
#      target <= 1.15; (c) the search / pure forwards, target <= 1.2;
#   5. (d) clips per second of the whole Slow 8x8 MutualNet training step at batch 8
#      with AMP (TRAIN.MIXED_PRECISION: float16 autocast and the GradScaler);
#   6. the seconds it took.
#
# Exit status: 0 when every cuda test passed and every benchmark ran, 1 otherwise (the
# failing steps are named last). Without a CUDA GPU it says so and exits 0: there is
# nothing to check, and a CPU-only CI must not fail on it (1 where nvidia-smi shows a GPU
# that torch cannot be imported to use).
set -uo pipefail
cd "$(dirname "$0")/.."

if [ -z "${VIRTUAL_ENV:-}" ] && [ -f .venv/bin/activate ]; then
    . .venv/bin/activate
fi
PYTHON=python
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
    if nvidia-smi -L 2>/dev/null | grep -q GPU; then
        echo "gpu_check: a GPU is present but $PYTHON cannot import torch: install as the" \
            "README says" >&2
        exit 1
    fi
    echo "gpu_check: no CUDA GPU present (no GPU in nvidia-smi; $PYTHON has no torch):" \
        "nothing to check"
    exit 0
fi
if ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check: no CUDA GPU present (torch.cuda.is_available() is False): nothing to check"
    exit 0
fi

# Deterministic cuBLAS for DETERMINISTIC's tests, set before any CUDA work (a run sets it
# too, but cuBLAS reads it once per process).
export CUBLAS_WORKSPACE_CONFIG="${CUBLAS_WORKSPACE_CONFIG:-:4096:8}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
start=$SECONDS
failed=()

step() {  # step NAME SECONDS COMMAND...: run it within SECONDS; remember a failure
    local name=$1 limit=$2
    shift 2
    echo
    echo "== $name"
    timeout --kill-after=10 "$limit" "$@"
    local rc=$?
    if [ $rc -ne 0 ]; then
        [ $rc -eq 124 ] && echo "gpu_check: $name ran past its $limit s"
        failed+=("$name (exit $rc)")
    fi
}

echo "== machine"
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
else
    echo "nvidia-smi not found; driver: $(head -n 1 /proc/driver/nvidia/version 2>/dev/null || echo unknown)"
fi
"$PYTHON" -c 'import torch; print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, {torch.cuda.get_device_name(0)}")'

step "cuda tests" 240 "$PYTHON" -m pytest -m cuda -q -p no:cacheprovider
step "adaptive / exported static forward time" 100 \
    "$PYTHON" bench/bench_adaptive_vs_static.py --device cuda --batch-size 1 8 \
    --dtype float32 float16 --repeats 15
step "MutualNet iteration, peak memory, search (Slow 8x8, batch 8, float32)" 90 \
    "$PYTHON" bench/bench_mutual_step.py --device cuda --model slow_r50 --size 224 --batch 8 \
    --measure abc
step "MutualNet training step with AMP (Slow 8x8, batch 8)" 40 \
    "$PYTHON" bench/bench_mutual_step.py --device cuda --model slow_r50 --size 224 --batch 8 \
    --measure d --amp --repeats 10

echo
echo "gpu_check: took $((SECONDS - start)) s"
if [ ${#failed[@]} -ne 0 ]; then
    printf 'gpu_check: FAILED: %s\n' "${failed[@]}"
    exit 1
fi
echo "gpu_check: every cuda test passed and every benchmark ran"
