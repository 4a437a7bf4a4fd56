"""Helpers shared by the model tests: reference networks, clips, BN randomisation."""

import pytest
import torch

from mutualnet3d.models import get_model_builder
from mutualnet3d.slim import (
    calibrate_bn,
    count_flops,
    count_params,
    export_subnet,
    make_divisible,
    set_width,
)


def shapes(state_dict):
    return {k: tuple(v.shape) for k, v in state_dict.items()}


def randomise_bn(model, running_stats=True):
    """Non-trivial affine parameters (and running statistics), so that a wrong slice
    would show in the outputs."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.weight.data.uniform_(0.5, 1.5, generator=g)
            m.bias.data.uniform_(-0.2, 0.2, generator=g)
            if running_stats:
                m.running_mean.uniform_(-0.1, 0.1, generator=g)
                m.running_var.uniform_(0.5, 1.5, generator=g)


def load_pytorchvideo_reference(model):
    """PyTorchVideo's network that ``model`` reproduces, with random BN statistics; its
    weights loaded into ``model`` with strict=True; both in eval mode."""
    builder, kwargs = model.reference
    reference = builder(**kwargs)
    randomise_bn(reference)
    model.load_state_dict(reference.state_dict(), strict=True)
    model.eval(), reference.eval()
    return reference


def clip(model, spatial=None, temporal=None, batch=2, seed=0):
    """A random input of the model's example shape."""
    torch.manual_seed(seed)
    x = model.example_input(spatial, temporal, batch)
    return [torch.randn_like(t) for t in x] if isinstance(x, list) else torch.randn_like(x)


# --------------------------------------------------------------------------------------
# Checks shared by the 2D families (MobileNet, ResNet)
# --------------------------------------------------------------------------------------
def md(v: float) -> int:
    """MobileNet rounding to multiples of 8."""
    return make_divisible(v, 8)


def check_published_size(name, size, mparams, mflops):
    """Parameters and conv + linear MFLOPs at width 1.0 (224 px, 1000 classes; CIFAR 32
    px, 10 classes)."""
    kwargs = {"num_classes": 10} if "wide" in name else {}
    model = get_model_builder(name)(**kwargs)
    assert count_params(model) / 1e6 == pytest.approx(mparams, rel=0.02)
    flops = count_flops(model, torch.zeros(1, 3, size, size), ops="conv_linear")
    assert flops / 1e6 == pytest.approx(mflops, rel=0.02)


def check_torchvision_weights(name, reference):
    """torchvision's network ``reference()`` loads strictly into ours and gives its logits."""
    torch.manual_seed(0)
    ref = reference().eval()
    model = get_model_builder(name)().eval()
    model.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x))


def check_export_matches_2d(name, widths, size, expected_params=None):
    """At every width the exported static network equals the calibrated slimmable one,
    with as many parameters as ``count_params`` (and ``expected_params(width)``) says."""
    torch.manual_seed(0)
    kwargs = {"num_classes": 10} if "wide" in name else {}
    model = get_model_builder(name)(**kwargs)
    randomise_bn(model, running_stats=False)
    x = torch.randn(2, 3, size, size)
    for width in widths:
        calibrate_bn(model, [torch.randn(4, 3, size, size) for _ in range(2)], width)
        model.eval()
        static = export_subnet(model, width)
        with torch.no_grad(), set_width(model, width):
            expected = model(x)
            out = static(x)
        assert expected.abs().max() > 1e-3  # not a vacuous comparison
        torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)
        n_static = sum(p.numel() for p in static.parameters())
        assert n_static == count_params(model, width)
        if expected_params is not None:
            assert n_static == expected_params(width)
        model.train()
