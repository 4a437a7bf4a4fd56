"""The MutualNet iteration, the cohort sampler, the solver and checkpoints."""

import copy
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mutualnet3d.config import load_config
from mutualnet3d.engine import (
    ConfigSampler,
    SubnetConfig,
    build_optimizer,
    distillation_loss,
    latest_checkpoint,
    load_checkpoint_file,
    lr_at_epoch,
    mutual_step,
    resize_input,
    save_checkpoint,
)
from mutualnet3d.engine.checkpoint import checkpoint_path
from mutualnet3d.models import get_model_builder
from mutualnet3d.slim import set_width


# --------------------------------------------------------------------------------------
# One iteration
# --------------------------------------------------------------------------------------
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
            loss = distillation_loss(logits, teacher, False) if distill else F.cross_entropy(logits, labels)
        total = total + loss
    total.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("name", ["slowfast_tiny", "x3d_tiny", "mobilenet_v1_tiny"])
@pytest.mark.parametrize("distill", [True, False])
def test_per_subnetwork_backward_equals_summed_loss(name, distill):
    torch.manual_seed(0)
    model = get_model_builder(name)(num_classes=5, width_divisor=2, dropout_rate=0.0)
    video = model.input_kind == "video"
    inputs = model.example_input(32, None, 4) if video else torch.randn(4, 3, 32, 32)
    inputs = [torch.randn_like(t) for t in inputs] if isinstance(inputs, list) else torch.randn_like(inputs)
    labels = torch.tensor([0, 1, 2, 3])
    frames = getattr(model, "num_frames", None)
    temporal = [frames, max(1, frames // 2)] if video else [None]
    sampler = ConfigSampler((0.5, 1.0), [32, 24, 16], temporal, num_random=2, seed=3)
    configs = sampler.sample(step=7)
    reference = copy.deepcopy(model)
    result = mutual_step(model, inputs, labels, configs, nn.CrossEntropyLoss(), distill=distill)
    expected = _summed_loss_grads(reference, inputs, labels, configs, distill)
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert grads.keys() == expected.keys()
    for key in grads:
        torch.testing.assert_close(grads[key], expected[key], rtol=1e-4, atol=1e-6)
    assert len(result.sub_losses) == 3 and result.loss == pytest.approx(result.full_loss + sum(result.sub_losses))
    assert result.logits.shape == (4, 5) and not result.logits.requires_grad


def test_non_finite_loss_stops_the_step():
    model = get_model_builder("mobilenet_v1_tiny")(num_classes=3, width_divisor=2)
    inputs = torch.full((2, 3, 16, 16), float("nan"))
    with pytest.raises(FloatingPointError, match="sub-network 0"):
        mutual_step(model, inputs, torch.tensor([0, 1]), [SubnetConfig(1.0, 16)], nn.CrossEntropyLoss())
    assert all(p.grad is None for p in model.parameters())


# --------------------------------------------------------------------------------------
# The cohort follows the config
# --------------------------------------------------------------------------------------
def test_sampler_full_network_first_then_smallest_then_random():
    sampler = ConfigSampler((0.63, 1.0), [224, 178, 142], [8, 5, 3], num_random=2, seed=1)
    seen_spatial, seen_temporal = set(), set()
    for step in range(200):
        configs = sampler.sample(step)
        assert configs[0] == SubnetConfig(1.0, 224, 8)  # always full width and size
        assert configs[1].width == 0.63 and len(configs) == 4
        for c in configs[1:]:
            assert 0.63 <= c.width <= 1.0 and c.spatial in (224, 178, 142) and c.temporal in (8, 5, 3)
            seen_spatial.add(c.spatial)
            seen_temporal.add(c.temporal)
    assert seen_spatial == {224, 178, 142} and seen_temporal == {8, 5, 3}
    assert sampler.sample(5) == sampler.sample(5) and sampler.sample(5) != sampler.sample(6)


def test_sampler_baselines():
    usnet = ConfigSampler((0.25, 1.0), [224, 128], num_random=2, mode="width_only")
    for step in range(20):
        assert {(c.spatial, c.temporal) for c in usnet.sample(step)} == {(224, None)}
    multiscale = ConfigSampler((0.25, 1.0), [224, 192, 160, 128], num_random=2, mode="shared_resolution")
    sizes = set()
    for step in range(50):
        configs = multiscale.sample(step)
        assert configs[0].width == 1.0 and len({c.spatial for c in configs}) == 1
        sizes.add(configs[0].spatial)
    assert sizes == {224, 192, 160, 128}
    with pytest.raises(ValueError, match="sampling mode"):
        ConfigSampler((0.5, 1.0), [32], mode="bogus")


# --------------------------------------------------------------------------------------
# Solver
# --------------------------------------------------------------------------------------
def test_lr_schedule_cosine_with_warmup_and_steps():
    cfg = load_config(None, ["SOLVER.BASE_LR", "0.1", "SOLVER.MAX_EPOCH", "100", "SOLVER.WARMUP_EPOCHS", "10.0",
                             "SOLVER.WARMUP_START_LR", "0.01", "SOLVER.COSINE_END_LR", "0.0"])
    cosine = lambda e: 0.05 * (math.cos(math.pi * e / 100) + 1)  # noqa: E731
    assert lr_at_epoch(cfg, 0) == pytest.approx(0.01)
    assert lr_at_epoch(cfg, 5) == pytest.approx(0.01 + (cosine(10) - 0.01) / 2)
    assert lr_at_epoch(cfg, 50) == pytest.approx(0.05)
    assert lr_at_epoch(cfg, 100) == pytest.approx(0.0, abs=1e-12)
    steps = load_config(None, ["SOLVER.LR_POLICY", "steps_with_relative_lrs", "SOLVER.STEPS", "[0, 41, 49]",
                               "SOLVER.LRS", "[1, 0.1, 0.01]", "SOLVER.MAX_EPOCH", "50", "SOLVER.BASE_LR", "0.5"])
    assert [lr_at_epoch(steps, e) for e in (0, 40.9, 41, 49, 49.9)] == pytest.approx([0.5, 0.5, 0.05, 0.005, 0.005])


def test_weight_decay_groups_include_conv3d_and_spare_bn():
    cfg = load_config(None, ["SOLVER.WEIGHT_DECAY", "1e-4", "BN.WEIGHT_DECAY", "0.0", "SOLVER.ZERO_WD_1D_PARAM", "True"])
    model = get_model_builder("slow_tiny")(num_classes=5, width_divisor=2)
    optimizer = build_optimizer(model, cfg)
    by_decay = {}
    for group in optimizer.param_groups:
        by_decay.setdefault(group["weight_decay"], set()).update(id(p) for p in group["params"])
    conv3d = model.blocks[0].conv.weight
    assert conv3d.ndim == 5 and id(conv3d) in by_decay[1e-4]
    assert id(model.blocks[0].norm.weight) in by_decay[0.0]
    assert id(model.get_classifier().bias) in by_decay[0.0]
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))
    assert optimizer.defaults["nesterov"] and optimizer.defaults["momentum"] == 0.9


# --------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------
def _state(epoch):
    return {"epoch": epoch, "model_state": {"w": torch.full((3,), float(epoch))}}


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = checkpoint_path(str(tmp_path), 1)
    save_checkpoint(path, _state(1))

    def dying_save(obj, f):
        f.write(b"partial bytes")
        raise KeyboardInterrupt  # killed mid-write

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, _state(2))
    monkeypatch.undo()
    assert load_checkpoint_file(path)["epoch"] == 1  # the old file is intact
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_truncated_checkpoint_is_never_picked(tmp_path):
    for epoch in (1, 2, 3):
        save_checkpoint(checkpoint_path(str(tmp_path), epoch), _state(epoch))
    newest = checkpoint_path(str(tmp_path), 3)
    newest.write_bytes(newest.read_bytes()[:50])  # truncated behind our back
    picked = latest_checkpoint(str(tmp_path))
    assert picked == checkpoint_path(str(tmp_path), 2)
    assert load_checkpoint_file(picked)["model_state"]["w"][0] == 2.0
    assert latest_checkpoint(str(tmp_path / "none")) is None


def test_shard_sampler_neither_drops_nor_repeats():
    from mutualnet3d.engine.distributed import ShardSampler

    for length in (0, 1, 7, 10):
        for world in (1, 2, 3):
            shards = [list(ShardSampler(length, rank, world)) for rank in range(world)]
            assert sorted(i for shard in shards for i in shard) == list(range(length))
            assert [len(ShardSampler(length, r, world)) for r in range(world)] == [len(s) for s in shards]


# --------------------------------------------------------------------------------------
# Precise BN before validation
# --------------------------------------------------------------------------------------
class _Clips(torch.utils.data.Dataset):
    """8 random clips with the Kinetics item interface."""

    def __init__(self):
        self.clips = torch.randn(8, 3, 4, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 + 1

    def __len__(self):
        return len(self.clips)

    def __getitem__(self, i):
        return {"inputs": [self.clips[i]], "label": 0, "index": i, "video_index": i, "view": 0}


@pytest.mark.parametrize("mutualnet", [True, False])
def test_precise_bn_replaces_stale_statistics_by_the_batch_average(mutualnet):
    # BN.USE_PRECISE_STATS: the running mean becomes the average of the batch means of
    # the training clips at the trained configuration (the I-Net's own, smaller size).
    from mutualnet3d.engine.trainer import build_run_model, precise_bn

    cfg = load_config(None, [
        "MODEL.ARCH", "slow", "MODEL.MODEL_NAME", "slow_tiny", "DATA.NUM_FRAMES", "4",
        "DATA.TRAIN_CROP_SIZE", "32", "TRAIN.BATCH_SIZE", "4", "BN.NUM_BATCHES_PRECISE", "2",
        "MUTUALNET.ENABLE", str(mutualnet), "MUTUALNET.STATIC_SPATIAL_SIZE", "24",
        "DATA_LOADER.NUM_WORKERS", "0", "NUM_GPUS", "0", "MUTUALNET.SPATIAL_SIZES", "[32, 24]",
    ])
    model = build_run_model(cfg)
    stem_bn = model.blocks[0].norm
    stem_bn.running_mean.fill_(100.0)
    dataset = _Clips()
    precise_bn(cfg, model, dataset, torch.device("cpu"), epoch=0)
    size = 32 if mutualnet else 24
    clips = resize_input(dataset.clips, SubnetConfig(1.0, size, 4))
    expected = model.blocks[0].conv(clips).mean(dim=(0, 2, 3, 4))  # 2 batches of 4 = all 8
    torch.testing.assert_close(stem_bn.running_mean, expected, rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------------------
# Detection: boxes follow the Slow pathway's size
# --------------------------------------------------------------------------------------
def test_boxes_scale_with_the_slow_pathway_and_keep_their_batch_index():
    from mutualnet3d.engine.mutual import model_forward, scale_boxes

    boxes = torch.tensor([[0.0, 8.0, 4.0, 24.0, 32.0], [1.0, 0.0, 0.0, 32.0, 16.0]])
    scaled = scale_boxes(boxes, (32, 32), (16, 24))
    torch.testing.assert_close(scaled, torch.tensor([[0.0, 6.0, 2.0, 18.0, 16.0],
                                                     [1.0, 0.0, 0.0, 24.0, 8.0]]))

    seen = {}

    class Recorder(nn.Module):
        def forward(self, clip, boxes):
            seen["clip"], seen["boxes"] = clip, boxes
            return torch.zeros(len(boxes), 3)

    slow, fast = torch.randn(2, 3, 4, 32, 32), torch.randn(2, 3, 16, 32, 32)
    model_forward(boxes)(Recorder(), [slow, fast], SubnetConfig(0.5, 16, 2))
    assert seen["clip"][0].shape == (2, 3, 2, 16, 16) and seen["clip"][1].shape == fast.shape
    torch.testing.assert_close(seen["boxes"], boxes * torch.tensor([1.0, 0.5, 0.5, 0.5, 0.5]))
