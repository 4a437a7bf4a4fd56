"""Slim SyncBN: over 2 gloo processes, exactly BN over the concatenated batch, at two widths."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn

from mutualnet3d.slim import ChannelRule, SlimBatchNorm3d, SlimConv3d, enable_sync_bn, set_width
from mutualnet3d.slim.sync_bn import sync_groups

WIDTHS = (1.0, 0.5)
RULE = ChannelRule(divisor=2)


def _net() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(SlimConv3d(3, 8, 1, in_rule=None, out_rule=RULE), SlimBatchNorm3d(8, rule=RULE))
    with torch.no_grad():  # affine parameters other than 1 and 0, so that they are tested
        net[1].weight.uniform_(0.5, 1.5)
        net[1].bias.uniform_(-0.5, 0.5)
    return net


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(6, 3, 2, 4, 4, generator=generator) * 2 + 1
    return x, torch.randn(6, 8, 2, 4, 4, generator=generator)


def _run(net: nn.Module, x: torch.Tensor, weights: torch.Tensor) -> list[dict[str, torch.Tensor]]:
    """Output, input gradient and parameter gradients at each width (training mode)."""
    results = []
    for width in WIDTHS:
        net.zero_grad()
        x = x.detach().requires_grad_()
        with set_width(net, width, warn_uncalibrated=False):
            y = net(x)
        (y * weights[:, : y.shape[1]]).sum().backward()
        grads = {n: p.grad.clone() for n, p in net.named_parameters()}
        results.append({"y": y.detach(), "x_grad": x.grad.clone(), **grads})
    results.append({"running_mean": net[1].running_mean.clone(), "running_var": net[1].running_var.clone()})
    return results


def _worker(rank: int, world: int, init: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=world)
    try:
        net = _net()
        assert enable_sync_bn(net, world) == 1
        x, weights = _data()
        part = slice(rank * 3, rank * 3 + 3)  # each process its half of the batch
        results = _run(net, x[part], weights[part])
        for result in results[:-1]:  # parameter gradients: summed over the processes
            for name in list(result):
                if name not in ("y", "x_grad"):
                    dist.all_reduce(result[name])
        torch.save(results, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # starts two processes
def test_sync_bn_over_two_processes_is_bn_over_the_concatenated_batch(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    x, weights = _data()
    reference = _run(_net(), x, weights)
    for index, width in enumerate(WIDTHS):
        want, parts = reference[index], [r[index] for r in ranks]
        for key in ("y", "x_grad"):
            got = torch.cat([p[key] for p in parts])
            torch.testing.assert_close(got, want[key], rtol=1e-4, atol=1e-5, msg=f"{key} at {width}")
        for key in want:
            if key not in ("y", "x_grad"):
                for p in parts:  # every process holds the summed gradient
                    torch.testing.assert_close(p[key], want[key], rtol=1e-4, atol=1e-5, msg=key)
        assert want["y"].shape[1] == (8 if width == 1.0 else 4)
    # Running statistics: from the full width only, the group's (unbiased variance).
    for rank in ranks:
        for key in ("running_mean", "running_var"):
            torch.testing.assert_close(rank[-1][key], reference[-1][key], rtol=1e-4, atol=1e-6)


def test_sync_groups_are_consecutive_ranks_and_must_divide() -> None:
    assert sync_groups(8, 4) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert sync_groups(2, 1) == [[0], [1]]
    with pytest.raises(ValueError, match="sync group size 3 must divide the 8 processes"):
        sync_groups(8, 3)


def test_without_a_group_the_layer_is_plain_bn() -> None:
    net = _net()
    x, weights = _data()
    assert net[1].sync_group is None
    plain = nn.BatchNorm3d(8)
    plain.load_state_dict(net[1].state_dict())
    torch.testing.assert_close(net(x), plain(net[0](x)))
