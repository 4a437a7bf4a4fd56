"""Processes, ranks and reductions: torchrun, or PySlowFast's ``--init_method`` launch.

PySlowFast's rule: one process per GPU, ``NUM_GPUS`` per node, ``NUM_SHARDS`` nodes,
``rank = SHARD_ID * NUM_GPUS + local_rank``. On the CPU (``NUM_GPUS 0``) one process
per node runs unless ``num_procs`` asks for more (gloo). Under ``torchrun`` the ranks
come from its environment variables instead.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator, Optional

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import Sampler

__all__ = [
    "launch",
    "is_main_process",
    "get_rank",
    "get_world_size",
    "all_gather_cpu",
    "all_reduce_max",
    "all_reduce_sum",
    "ShardSampler",
    "device_for_rank",
]


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


def _worker(
    local_rank: int,
    fn: Callable[..., Any],
    procs: int,
    init_method: str,
    shard_id: int,
    num_shards: int,
    backend: str,
    args: tuple,
) -> None:
    world_size = procs * num_shards
    rank = shard_id * procs + local_rank
    os.environ["LOCAL_RANK"] = str(local_rank)
    dist.init_process_group(backend, init_method=init_method, world_size=world_size, rank=rank)
    try:
        fn(*args)
    finally:
        dist.destroy_process_group()


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
) -> None:
    """Run ``fn(*args)`` in every process of the job.

    Under torchrun (``WORLD_SIZE`` set) the process group comes from the environment and
    ``fn`` runs in this process. Otherwise ``num_procs`` (default ``max(1, num_gpus)``)
    processes are spawned on this node; one process and one node runs ``fn`` directly.
    """
    backend = backend if num_gpus > 0 else "gloo"
    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        dist.init_process_group(backend, init_method="env://")
        try:
            fn(*args)
        finally:
            dist.destroy_process_group()
        return
    procs = num_procs or max(1, num_gpus)
    if procs * num_shards == 1:
        fn(*args)
        return
    mp.spawn(
        _worker,
        args=(fn, procs, init_method, shard_id, num_shards, backend, args),
        nprocs=procs,
        join=True,
    )
