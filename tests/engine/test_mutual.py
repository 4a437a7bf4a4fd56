"""One MutualNet iteration: per-sub-network backward equals the summed loss."""

import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mutualnet3d.engine import (
    ConfigSampler,
    SubnetConfig,
    distillation_loss,
    mutual_step,
    resize_input,
)
from mutualnet3d.models import get_model_builder
from mutualnet3d.slim import set_width


def _summed_loss_grads(model, inputs, labels, configs, distill):
    """The reference: every loss in one graph, summed, one backward."""
    total, teacher = 0.0, None
    for config in configs:
        with set_width(model, config.width, warn_uncalibrated=False):
            logits = model(resize_input(inputs, config))
        if teacher is None:
            loss = F.cross_entropy(logits, labels)
            teacher = logits.detach()
        else:
            loss = (
                distillation_loss(logits, teacher, False)
                if distill
                else F.cross_entropy(logits, labels)
            )
        total = total + loss
    total.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize(
    "name", ["slowfast_tiny", pytest.param("x3d_tiny", marks=pytest.mark.slow), "mobilenet_v1_tiny"]
)
@pytest.mark.parametrize(
    "distill", [True, pytest.param(False, marks=pytest.mark.slow)]  # labels only: slow suite
)
def test_per_subnetwork_backward_equals_summed_loss(name, distill):
    torch.manual_seed(0)
    model = get_model_builder(name)(num_classes=5, width_divisor=2, dropout_rate=0.0, crop_size=32)
    full = model.full_config()
    inputs = model.example_input(32, None, 4)
    inputs = (
        [torch.randn_like(t) for t in inputs]
        if isinstance(inputs, list)
        else torch.randn_like(inputs)
    )
    labels = torch.tensor([0, 1, 2, 3])
    temporal = [] if full.temporal is None else [full.temporal, max(1, full.temporal // 2)]
    sampler = ConfigSampler(full, 0.5, [32, 24, 16], temporal, num_random=2, seed=3)
    configs = sampler.sample(step=7)
    reference = copy.deepcopy(model)
    result = mutual_step(model, inputs, labels, configs, nn.CrossEntropyLoss(), distill=distill)
    expected = _summed_loss_grads(reference, inputs, labels, configs, distill)
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert grads.keys() == expected.keys()
    for key in grads:
        torch.testing.assert_close(grads[key], expected[key], rtol=1e-4, atol=1e-6)
    assert len(result.sub_losses) == 3 and result.loss == pytest.approx(
        result.full_loss + sum(result.sub_losses)
    )
    assert result.logits.shape == (4, 5) and not result.logits.requires_grad


def test_non_finite_loss_stops_the_step():
    model = get_model_builder("mobilenet_v1_tiny")(num_classes=3, width_divisor=2)
    inputs = torch.full((2, 3, 16, 16), float("nan"))
    with pytest.raises(FloatingPointError, match="sub-network 0"):
        mutual_step(
            model, inputs, torch.tensor([0, 1]), [SubnetConfig(1.0, 16)], nn.CrossEntropyLoss()
        )
    assert all(p.grad is None for p in model.parameters())


def test_a_detector_trains_through_the_same_step_with_its_boxes():
    torch.manual_seed(0)
    model = get_model_builder("slow_tiny_detection")(
        num_classes=4, width_divisor=2, dropout_rate=0.0
    )
    full = model.full_config()
    clip = torch.randn(2, 3, full.temporal, full.spatial, full.spatial)
    boxes = torch.tensor(
        [[0.0, 2.0, 2.0, 20.0, 30.0], [1.0, 0.0, 4.0, 32.0, 16.0], [1.0, 8.0, 8.0, 16.0, 16.0]]
    )
    labels = torch.zeros(3, 4)
    labels[0, 1] = labels[2, 3] = 1.0
    configs = [full, SubnetConfig(0.5, 16, 2)]
    result = mutual_step(
        model, clip, labels, configs, nn.BCEWithLogitsLoss(), boxes=boxes, multi_label=True
    )
    assert result.logits.shape == (3, 4) and len(result.sub_losses) == 1
    assert model.get_classifier().weight.grad is not None
