"""Processes, ranks and reductions: torchrun, or PySlowFast's ``--init_method`` launch.

PySlowFast's rule: one process per GPU, ``NUM_GPUS`` per node, ``NUM_SHARDS`` nodes,
``rank = SHARD_ID * NUM_GPUS + local_rank``. On the CPU (``NUM_GPUS 0``) one process
per node runs unless ``num_procs`` asks for more (gloo). Under ``torchrun`` the ranks
come from its environment variables instead.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any, Callable, Iterator, Optional

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import Sampler

from .heartbeat import Heartbeat, is_timeout

__all__ = [
    "launch",
    "is_main_process",
    "get_rank",
    "get_world_size",
    "all_gather_cpu",
    "all_gather_objects",
    "all_reduce_max",
    "all_reduce_sum",
    "ShardSampler",
    "device_for_rank",
]

#: seconds the other processes get to exit after one fails, then again after SIGTERM
_GRACE_S = 5


def get_world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def get_rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main_process() -> bool:
    return get_rank() == 0


def device_for_rank(num_gpus: int) -> torch.device:
    """This process's device: its local GPU, or the CPU when ``num_gpus`` is 0."""
    if num_gpus == 0:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError(f"NUM_GPUS is {num_gpus} but CUDA is not available; use NUM_GPUS 0")
    local = int(os.environ.get("LOCAL_RANK", get_rank() % num_gpus))
    torch.cuda.set_device(local)
    return torch.device("cuda", local)


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum over processes (in place); a no-op in a single process."""
    if get_world_size() > 1:
        dist.all_reduce(tensor)
    return tensor


def all_gather_cpu(tensor: torch.Tensor) -> list[torch.Tensor]:
    """Every process's CPU tensor (any length), in rank order; [tensor] in one process."""
    if get_world_size() == 1:
        return [tensor]
    gathered: list[Any] = [None] * get_world_size()
    dist.all_gather_object(gathered, tensor.cpu())
    return gathered


def all_gather_objects(value: Any) -> list[Any]:
    """Every process's picklable ``value``, in rank order; [value] in one process."""
    if get_world_size() == 1:
        return [value]
    gathered: list[Any] = [None] * get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


def all_reduce_max(tensor: torch.Tensor) -> torch.Tensor:
    """Element-wise maximum over processes (in place); a no-op in a single process."""
    if get_world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return tensor


class ShardSampler(Sampler[int]):
    """Evaluation sharding that neither drops nor repeats samples.

    Process ``r`` of ``w`` reads indices ``r, r + w, r + 2w...``; unlike
    DistributedSampler no padding duplicates samples, so sums gathered after the loop
    count each sample once.
    """

    def __init__(self, length: int, rank: Optional[int] = None, world_size: Optional[int] = None):
        self.length = length
        self.rank = get_rank() if rank is None else rank
        self.world_size = get_world_size() if world_size is None else world_size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.length, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.length, self.world_size))


def _run_in_group(
    fn: Callable[..., Any],
    args: tuple,
    backend: str,
    url: str,
    timeout: float,
    rank: int = -1,
    world_size: int = -1,
) -> None:
    """Join the process group at ``url`` (``env://`` under torchrun), waiting at most
    ``timeout`` seconds in any collective, and run ``fn(*args)`` with a heartbeat, so a
    timed-out wait names the rank that stopped answering."""
    wait = timedelta(seconds=timeout)
    store, rank, world_size = next(dist.rendezvous(url, rank, world_size, timeout=wait))
    dist.init_process_group(backend, store=store, rank=rank, world_size=world_size, timeout=wait)
    try:
        with Heartbeat(store, rank, world_size, timeout) as heartbeat:
            try:
                fn(*args)
            except Exception as error:
                if not is_timeout(error):
                    raise
                stalled = heartbeat.stalled_error(error)
                logging.getLogger("mutualnet3d").error("%s", stalled)
                raise stalled from error
    finally:
        dist.destroy_process_group()


def _worker(
    local_rank: int,
    fn: Callable[..., Any],
    procs: int,
    init_method: str,
    shard_id: int,
    num_shards: int,
    backend: str,
    timeout: float,
    args: tuple,
) -> None:
    os.environ["LOCAL_RANK"] = str(local_rank)
    rank = shard_id * procs + local_rank
    _run_in_group(fn, args, backend, init_method, timeout, rank, procs * num_shards)


def launch(
    fn: Callable[..., Any],
    args: tuple,
    *,
    num_gpus: int,
    num_shards: int = 1,
    shard_id: int = 0,
    init_method: str = "tcp://localhost:9999",
    num_procs: Optional[int] = None,
    backend: str = "nccl",
    timeout: float = 1800,
) -> None:
    """Run ``fn(*args)`` in every process of the job.

    Under torchrun (``WORLD_SIZE`` set) the process group comes from the environment and
    ``fn`` runs in this process. Otherwise ``num_procs`` (default ``max(1, num_gpus)``)
    processes are spawned on this node; one process and one node runs ``fn`` directly.
    A wait in the process group longer than ``timeout`` seconds (DIST_TIMEOUT) ends the
    run with a :class:`~.heartbeat.StalledRankError` naming the silent ranks; when one
    process fails, the others are stopped within seconds (SIGKILL if they do not stop).
    """
    backend = backend if num_gpus > 0 else "gloo"
    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        _run_in_group(fn, args, backend, "env://", timeout)
        return
    procs = num_procs or max(1, num_gpus)
    if procs * num_shards == 1:
        fn(*args)
        return
    context = mp.start_processes(
        _worker,
        args=(fn, procs, init_method, shard_id, num_shards, backend, timeout, args),
        nprocs=procs,
        join=False,
    )
    # torch's default waits 30 s for a SIGTERM a stopped process never handles.
    while not context.join(grace_period=_GRACE_S):
        pass
