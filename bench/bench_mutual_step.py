"""Cost of MutualNet training and search against their static equivalents, in one run.

Prints three ratios, each measured side by side (interleaved repeats, medians):

(a) one MutualNet iteration (full network + students, per-sub-network backward, one
    optimizer step) / the sum of one training step of each of the same sub-networks as a
    standalone exported static model (target <= 1.10);
(b) peak memory of a MutualNet iteration / peak memory of the largest sub-network's
    standalone step (target <= 1.15); each measured in a fresh process: the growth of
    memory during one step (resident set sampled every 0.5 ms on the CPU, allocator
    peak on CUDA);
(c) the configuration search on a batch (every configuration: resize on the device,
    switch width and BN statistics, forward, metrics) / the pure forward time of all
    its configurations on pre-resized inputs (target <= 1.2);
(d) with ``--measure d``: clips per second of the run's whole training step
    (``MutualTrainer.step``: learning rate, the cohort's forwards and backwards, gradient
    scaling with ``--amp``, the optimizer step, the finiteness check); no target, a rate.

``--amp``: (a), (b) and (d) under TRAIN.MIXED_PRECISION's autocast and GradScaler
(engine/device.py; float16 on CUDA), the standalone steps too. On CUDA peak memory is
``torch.cuda.max_memory_allocated``, exact: one process each (three on the CPU).

    python bench/bench_mutual_step.py                      # CPU, CI-sized
    python bench/bench_mutual_step.py --device cuda --model slow_r50 --size 224 --batch 8
    python bench/bench_mutual_step.py --device cuda --model slow_r50 --size 224 --batch 8 --measure d --amp
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import resource
import statistics
import threading
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from mutualnet3d.engine.device import grad_scaler, mixed_autocast, scaled_backward
from mutualnet3d.engine.evaluate import evaluate_configs
from mutualnet3d.engine.forward import resize_input
from mutualnet3d.engine.mutual import distillation_loss, mutual_step
from mutualnet3d.engine.sampling import ConfigSampler, SubnetConfig
from mutualnet3d.engine.solver import LRSchedule
from mutualnet3d.engine.train import MutualTrainer
from mutualnet3d.models import get_model_builder
from mutualnet3d.slim import export_subnet, set_width


def _setup(args):
    torch.manual_seed(0)
    device = torch.device(args.device)
    kwargs = {"num_classes": 10, "width_divisor": 2 if "tiny" in args.model else 8, "dropout_rate": 0.0}
    model = get_model_builder(args.model)(**kwargs).to(device)
    x = model.example_input(args.size, args.frames, args.batch)
    x = [torch.randn_like(t).to(device) for t in x] if isinstance(x, list) else torch.randn_like(x).to(device)
    labels = torch.randint(0, 10, (args.batch,), device=device)
    frames = model.num_frames
    temporal = sorted({frames, max(1, round(frames * 0.63)), max(1, round(frames * 0.4))}, reverse=True)
    spatial = [args.size, round(args.size * 0.8), round(args.size * 0.63)]
    full = SubnetConfig(1.0, args.size, temporal[0])
    configs = ConfigSampler(full, 0.63, spatial, temporal, num_random=2, seed=0).sample(1)
    return device, model, x, labels, configs


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


class _Precision:
    """float32, or with ``amp`` TRAIN.MIXED_PRECISION's autocast and loss scaling."""

    def __init__(self, device, amp: bool) -> None:
        self.device, self.amp = device, amp
        self.scaler = grad_scaler(device, amp)

    def autocast(self):
        return mixed_autocast(self.device) if self.amp else contextlib.nullcontext()

    def backward(self, loss):
        scaled_backward(loss, self.scaler, self.device, self.amp)

    def step(self, optimizer):
        self.scaler.step(optimizer)
        self.scaler.update()


def _mutual_iteration(model, optimizer, x, labels, configs, precision):
    optimizer.zero_grad(set_to_none=True)
    mutual_step(model, x, labels, configs, nn.CrossEntropyLoss(),
                autocast=precision.autocast, backward=precision.backward)
    precision.step(optimizer)


def _standalone_steps(statics, optimizers, x, labels, configs, teacher, precisions):
    def step(i):
        optimizers[i].zero_grad(set_to_none=True)
        with precisions[i].autocast():
            logits = statics[i](resize_input(x, configs[i]))
            loss = F.cross_entropy(logits, labels) if i == 0 else distillation_loss(logits.float(), teacher, False)
        precisions[i].backward(loss)
        precisions[i].step(optimizers[i])
    return step


def measure_time(args) -> float:
    device, model, x, labels, configs = _setup(args)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    statics = [export_subnet(model, c.width) for c in configs]
    optimizers = [torch.optim.SGD(s.parameters(), lr=0.01, momentum=0.9) for s in statics]
    precision = _Precision(device, args.amp)
    precisions = [_Precision(device, args.amp) for _ in statics]
    with torch.no_grad():
        teacher = model(x).detach().float()
    step = _standalone_steps(statics, optimizers, x, labels, configs, teacher, precisions)
    mutual_times, static_times = [], []
    for repeat in range(args.repeats + 1):
        m = _timed(lambda: _mutual_iteration(model, optimizer, x, labels, configs, precision), device)
        s = sum(_timed(lambda i=i: step(i), device) for i in range(len(configs)))
        if repeat:  # the first round warms up
            mutual_times.append(m)
            static_times.append(s)
    a, b = statistics.median(mutual_times), statistics.median(static_times)
    print(f"(a) MutualNet iteration {a * 1e3:.1f} ms / standalone steps {b * 1e3:.1f} ms = {a / b:.3f} "
          f"(target <= 1.10); cohort: " + ", ".join(f"{c.width:.2f}x{c.spatial}px{c.temporal}f" for c in configs))
    return a / b


def _peak_child(args, which: str, queue) -> None:
    device, model, x, labels, configs = _setup(args)
    precision = _Precision(device, args.amp)
    if which == "mutual":
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        run = lambda: _mutual_iteration(model, optimizer, x, labels, configs, precision)  # noqa: E731
    else:  # the largest sub-network (the full network) as a standalone static model
        static = export_subnet(model, configs[0].width)
        del model
        optimizer = torch.optim.SGD(static.parameters(), lr=0.01, momentum=0.9)

        def run():
            optimizer.zero_grad(set_to_none=True)
            with precision.autocast():
                loss = F.cross_entropy(static(resize_input(x, configs[0])), labels)
            precision.backward(loss)
            precision.step(optimizer)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        run()
        torch.cuda.synchronize()
        queue.put(torch.cuda.max_memory_allocated() - base)
    else:
        # ru_maxrss is a high-water mark that set-up already raised: sample the resident
        # set during the step instead.
        page = resource.getpagesize()

        def rss() -> int:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * page

        base, peak, running = rss(), [0], [True]

        def sample():
            while running[0]:
                peak[0] = max(peak[0], rss())
                time.sleep(0.0005)

        thread = threading.Thread(target=sample)
        thread.start()
        run()
        running[0] = False
        thread.join()
        queue.put(max(peak[0], rss()) - base)


def measure_memory(args) -> float:
    context = mp.get_context("spawn")
    peaks = {}
    for which in ("mutual", "largest"):
        values = []
        for _ in range(1 if args.device.startswith("cuda") else 3):  # CUDA's peak is exact
            queue = context.Queue()
            process = context.Process(target=_peak_child, args=(args, which, queue))
            process.start()
            values.append(queue.get())
            process.join()
        peaks[which] = statistics.median(values)
    ratio = peaks["mutual"] / peaks["largest"]
    print(f"(b) peak memory growth: MutualNet iteration {peaks['mutual'] / 2**20:.1f} MiB / largest "
          f"sub-network step {peaks['largest'] / 2**20:.1f} MiB = {ratio:.3f} (target <= 1.15)")
    return ratio


def measure_search(args) -> float:
    device, model, x, labels, _ = _setup(args)
    model.eval()
    frames = model.num_frames
    grid = [SubnetConfig(w, s, t) for w in (1.0, 0.8, 0.63)
            for s in (args.size, round(args.size * 0.8)) for t in sorted({frames, max(1, frames // 2)})]
    resized = [resize_input(x, c) for c in grid]

    def pure():
        with torch.no_grad():
            for config, inputs in zip(grid, resized):
                set_width(model, config.width, config.key, warn_uncalibrated=False)
                model(inputs)

    search_times, pure_times = [], []
    for repeat in range(args.repeats + 1):
        s = _timed(lambda: evaluate_configs(model, x, labels, grid), device)
        p = _timed(pure, device)
        if repeat:
            search_times.append(s)
            pure_times.append(p)
    a, b = statistics.median(search_times), statistics.median(pure_times)
    print(f"(c) search {a * 1e3:.1f} ms / pure forwards {b * 1e3:.1f} ms over {len(grid)} configurations "
          f"= {a / b:.3f} (target <= 1.2)")
    return a / b


def measure_throughput(args) -> float:
    """(d): clips per second of MutualTrainer.step, the run's training step, on one batch."""
    device, model, x, labels, configs = _setup(args)
    trainer = MutualTrainer(
        model,
        torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9),
        grad_scaler(device, args.amp),
        nn.CrossEntropyLoss(),
        LRSchedule(0.01, 1, policy="constant"),
        lambda step: configs,
        model.num_pathways,
        mixed_precision=args.amp,
    )
    batch = {"inputs": x if isinstance(x, list) else [x], "label": labels}
    times = [_timed(lambda: trainer.step(batch, 0, 0.0, device), device) for _ in range(args.repeats + 1)]
    step = statistics.median(times[1:])  # the first warms up
    print(f"(d) training step (MutualTrainer.step, cohort of {len(configs)}, amp={args.amp}): "
          f"{step * 1e3:.1f} ms = {args.batch / step:.1f} clips/s at batch {args.batch}")
    return args.batch / step


MEASURES = {"a": measure_time, "b": measure_memory, "c": measure_search, "d": measure_throughput}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="x3d_tiny")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--amp", action="store_true", help="TRAIN.MIXED_PRECISION's autocast")
    parser.add_argument("--measure", default="abc", help="which of (a) to (d), e.g. abc or d")
    args = parser.parse_args()
    unknown = set(args.measure) - set(MEASURES)
    if unknown:
        parser.error(f"--measure: unknown {sorted(unknown)}; choose among a, b, c, d")
    print(f"device={args.device} model={args.model} clip={args.frames or 'default'}x{args.size} "
          f"batch={args.batch} threads={torch.get_num_threads()} repeats={args.repeats} amp={args.amp}")
    for key in args.measure:
        MEASURES[key](args)


if __name__ == "__main__":
    main()
