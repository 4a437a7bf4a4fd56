"""The adaptive C2D, I3D and Slow ResNets: PySlowFast's keys reach their layers."""

import pytest
import torch

from mutualnet3d.models import get_model_builder
from mutualnet3d.models.resnet3d import TemporalPool1
from mutualnet3d.slim import count_flops, set_width

TINY = dict(width_per_group=8, num_frames=4, crop_size=32, num_classes=5, width_divisor=2)


def conv_a_kernels(model):
    stages = [b for b in model.blocks if hasattr(b, "res_blocks")]
    return [[blk.branch2.conv_a.kernel_size[0] for blk in s.res_blocks] for s in stages]


@pytest.mark.slow
def test_slow_r50_matches_the_papers_slow_8x8():
    """The paper's Slow-8x8 (Table IV: 54.5 GFLOPs, the PySlowFast zoo's 54.52) is counted
    in conv + linear multiply-adds on 8 x 256 px clips, with a 1x7x7 stem (SlowFast paper,
    Table 1). PyTorchVideo's ``create_resnet`` *default* stem is 3x7x7, which would give
    43.81 GFLOPs at 224 px and 57.2 at 256 px, and could not load ``slow_r50`` checkpoints."""
    model = get_model_builder("slow_r50")()
    assert model.blocks[0].conv.weight.shape[2:] == (1, 7, 7)
    x = model.example_input(256)
    assert x.shape[2:] == (8, 256, 256)
    assert count_flops(model, x) / 1e9 == pytest.approx(54.5, rel=0.01)


def test_num_block_temp_kernel_sets_the_leading_blocks_kernels():
    # PySlowFast's rule: the first k blocks of a stage repeat the basis, the rest take 1.
    model = get_model_builder("ResNet")(arch="i3d", num_block_temp_kernel=[[2], [4], [3], [0]],
                                        **TINY)
    assert conv_a_kernels(model) == [[3, 3, 1], [3, 1, 3, 1], [3, 1, 3, 1, 1, 1], [1, 1, 1]]
    every = get_model_builder("PTVResNet")(arch="i3d", **TINY)  # NTK not read: every block
    assert conv_a_kernels(every) == [[3, 3, 3], [3, 1, 3, 1], [3, 1, 3, 1, 3, 1], [1, 3, 1]]


def test_c2d_pools_time_after_res2_and_still_runs_one_frame():
    model = get_model_builder("c2d_tiny")(num_classes=5, width_divisor=2).eval()
    assert isinstance(model.blocks[2], TemporalPool1) and model.blocks[2].kernel_size == (2, 1, 1)
    seen = []
    model.blocks[3].register_forward_hook(lambda m, i, o: seen.append(i[0].shape[2]))
    with torch.no_grad():
        model(model.example_input(batch_size=1))
        with set_width(model, 0.5, warn_uncalibrated=False):
            assert model(model.example_input(24, 1)).shape == (1, 5)
    assert seen == [2, 1]  # 4 frames pooled to 2; 1 frame stays 1
    nopool = get_model_builder("ResNet_nopool")(arch="c2d", **TINY)
    assert not any(isinstance(b, TemporalPool1) for b in nopool.blocks)


@pytest.mark.parametrize("zero", [True, False])
def test_initialisation_follows_the_keys(zero):
    torch.manual_seed(0)
    model = get_model_builder("slow_tiny")(zero_init_final_bn=zero, fc_init_std=0.3)
    final = model.blocks[1].res_blocks[0].branch2.norm_c.weight
    assert bool((final == (0.0 if zero else 1.0)).all())
    assert bool((model.blocks[1].res_blocks[0].branch2.norm_a.weight == 1).all())
    assert model.get_classifier().weight.std().item() == pytest.approx(0.3, rel=0.2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(arch="slowfast"), r"^arch: one of \['2d', 'c2d', 'i3d', 'slow'\], got 'slowfast'"),
        (dict(depth=152), r"^depth: one of \[50, 101\], got 152"),
        (dict(num_block_temp_kernel=(3, 5, 6, 3)), r"^num_block_temp_kernel: pathway 0 res3 has 4"),
        (dict(spatial_strides=(1, 2, 2)), r"^spatial_strides: one entry per stage"),
        (dict(spatial_dilations=[[1, 1], [1], [1], [1]]),
         r"^spatial_dilations: each stage takes one whole number"),
        (dict(trans_func="x3d_transform"), r"^trans_func: one of \['bottleneck_transform'\]"),
        (dict(fc_init_std=0.0), r"^fc_init_std: must be > 0"),
    ],
)
def test_arguments_not_built_are_refused_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message), torch.device("meta"):
        get_model_builder("ResNet")(**kwargs)


def test_pyslowfast_resnet_2d_is_its_imagenet_resnet_on_images():
    """configs/ImageNet/RES_R50.yaml: ResNet with MODEL.ARCH 2d. PySlowFast's "2d" basis
    has temporal kernel 1 everywhere (weights (out, in, 1, k, k)); ours drops that axis:
    ResNet-50's 25,557,032 parameters, its last BNs at zero, the classifier N(0, 0.01)."""
    with torch.device("meta"):
        r101 = get_model_builder("ResNet")(arch="2d", depth=101, num_classes=1000)
    assert sum(p.numel() for p in r101.parameters()) == 44_549_160  # ResNet-101
    model = get_model_builder("ResNet")(arch="2d", num_classes=1000, dropout_rate=0.5)
    assert sum(p.numel() for p in model.parameters()) == 25_557_032
    assert model.conv1.weight.shape == (64, 3, 7, 7) and model.fc.weight.shape == (1000, 2048)
    assert torch.count_nonzero(model.layer1[0].bn3.weight) == 0
    assert model.fc.weight.std().item() == pytest.approx(0.01, rel=0.05)
    model.eval()
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1000)
    with pytest.raises(ValueError, match=r"^spatial_strides: arch '2d' builds"):
        get_model_builder("ResNet")(arch="2d", spatial_strides=[[1], [2], [2], [1]])
