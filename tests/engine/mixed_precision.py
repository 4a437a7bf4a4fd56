"""One MutualNet training step with and without TRAIN.MIXED_PRECISION, from the same weights,
through :class:`~mutualnet3d.engine.train.MutualTrainer` (the run's code path): bfloat16 on
the CPU (tests/engine/test_device.py), float16 with the GradScaler on CUDA (tests/cuda/)."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn as nn

from mutualnet3d.engine.device import grad_scaler
from mutualnet3d.engine.solver import LRSchedule
from mutualnet3d.engine.train import MutualTrainer
from mutualnet3d.slim import SubnetConfig

#: the gradients of a mixed-precision step against float32's: relative L2 error of all
#: gradients together at most this (measured with bfloat16 on the CPU, tiny networks,
#: batch 4: 0.044 to 0.052), and cosine similarity at least MIN_COSINE
MAX_RELATIVE_ERROR = 0.1
MIN_COSINE = 0.99
# GradScaler's first scale (2**16) can overflow float16 gradients: it then skips the step
# and halves the scale, as in training; the step is retried on the same weights.
_MAX_TRIES = 8


@dataclass
class Comparison:
    loss: float  # the mixed-precision step's
    loss_fp32: float
    relative_error: float  # ||g - g32|| / ||g32|| over all gradients
    cosine: float
    conv_dtypes: set  # the dtypes of the convolutions' outputs in the mixed step
    moved: bool  # the optimizer step changed the weights


def random_batch(model: nn.Module, batch_size: int, classes: int, device) -> dict:
    """A collated batch of random clips at the model's full size, with random labels."""
    generator = torch.Generator().manual_seed(0)
    example = model.example_input(batch_size=batch_size)
    example = example if isinstance(example, list) else [example]
    inputs = [torch.randn(x.shape, generator=generator).to(device) for x in example]
    labels = torch.randint(0, classes, (batch_size,), generator=generator).to(device)
    return {"inputs": inputs, "label": labels}


def _trainer(model: nn.Module, mixed: bool, device, configs: list[SubnetConfig]) -> MutualTrainer:
    return MutualTrainer(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        grad_scaler(device, mixed),
        nn.CrossEntropyLoss(),
        LRSchedule(0.1, 1, policy="constant"),
        lambda step: configs,
        model.num_pathways,
        mixed_precision=mixed,
    )


def _grads(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten().double() for p in model.parameters() if p.grad is not None])


def compare_steps(
    model: nn.Module, batch: dict, configs: list[SubnetConfig], device: torch.device
) -> Comparison:
    """One step of ``model``'s copies on ``device`` without and with mixed precision.

    ``model`` should have no dropout, so that both steps compute the same function.
    """
    reference = copy.deepcopy(model).to(device).train()
    fp32 = _trainer(reference, False, device, configs).step(batch, 0, 0.0, device)
    mixed_model = copy.deepcopy(model).to(device).train()
    before = [p.detach().clone() for p in mixed_model.parameters()]
    dtypes: set = set()
    hooks = [
        m.register_forward_hook(lambda m, i, out: dtypes.add(out.dtype))
        for m in mixed_model.modules()
        if isinstance(m, (nn.Conv2d, nn.Conv3d))
    ]
    trainer = _trainer(mixed_model, True, device, configs)
    for _ in range(_MAX_TRIES):  # as GradScaler skips overflowing steps in training
        result = trainer.step(batch, 0, 0.0, device)
        if torch.isfinite(_grads(mixed_model)).all():
            break
    for hook in hooks:
        hook.remove()
    g32, g = _grads(reference), _grads(mixed_model)
    moved = any(not torch.equal(a, p) for a, p in zip(before, mixed_model.parameters()))
    return Comparison(
        loss=result.loss,
        loss_fp32=fp32.loss,
        relative_error=((g - g32).norm() / g32.norm()).item(),
        cosine=torch.nn.functional.cosine_similarity(g, g32, dim=0).item(),
        conv_dtypes=dtypes,
        moved=moved,
    )
