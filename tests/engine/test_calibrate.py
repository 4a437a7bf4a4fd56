"""BN statistics: precise BN before validation, per-configuration calibration of a grid."""

import pytest
import torch
from torch.utils.data import DataLoader

from mutualnet3d.data import collate_samples
from mutualnet3d.engine import SubnetConfig, resize_input
from mutualnet3d.engine.calibrate import calibrate_grid, precise_bn
from mutualnet3d.engine.spec import CohortSpec
from mutualnet3d.models import get_model_builder
from mutualnet3d.slim import set_width


class _Clips(torch.utils.data.Dataset):
    """8 random clips with the Kinetics item interface."""

    def __init__(self):
        self.clips = (
            torch.randn(8, 3, 4, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 + 1
        )

    def __len__(self):
        return len(self.clips)

    def __getitem__(self, i):
        return {"inputs": [self.clips[i]], "label": 0, "index": i, "video_index": i, "view": 0}


def _loader(dataset):
    return DataLoader(dataset, batch_size=4, collate_fn=collate_samples)


@pytest.mark.parametrize("mutualnet", [True, False])
def test_precise_bn_replaces_stale_statistics_by_the_batch_average(mutualnet):
    # BN.USE_PRECISE_STATS: the running mean becomes the average of the batch means of
    # the training clips at the trained configuration (the I-Net's own, smaller size).
    model = get_model_builder("slow_tiny")(num_frames=4, crop_size=32)
    config = CohortSpec(enabled=mutualnet, static_spatial=24).trained(model.full_config())
    stem_bn = model.blocks[0].norm
    stem_bn.running_mean.fill_(100.0)
    dataset = _Clips()
    precise_bn(model, _loader(dataset), config, 2, torch.device("cpu"))
    size = 32 if mutualnet else 24
    clips = resize_input(dataset.clips, SubnetConfig(1.0, size, 4))
    expected = model.blocks[0].conv(clips).mean(dim=(0, 2, 3, 4))  # 2 batches of 4 = all 8
    torch.testing.assert_close(stem_bn.running_mean, expected, rtol=1e-4, atol=1e-4)


def test_calibrate_grid_stores_each_configurations_exact_statistics():
    model = get_model_builder("slow_tiny")(num_frames=4, crop_size=32, width_divisor=2)
    dataset = _Clips()
    grid = [SubnetConfig(1.0, 32, 4), SubnetConfig(0.5, 16, 2)]
    assert (
        calibrate_grid(model, _loader(dataset), grid, num_batches=1, device=torch.device("cpu"))
        == 1
    )
    stem_bn = model.blocks[0].norm
    for config in grid:
        mean, _ = stem_bn.get_stats(config.key)
        with torch.no_grad(), set_width(model, config.width, warn_uncalibrated=False):
            features = model.blocks[0].conv(resize_input(dataset.clips[:4], config))
        torch.testing.assert_close(mean, features.mean(dim=(0, 2, 3, 4)), rtol=1e-4, atol=1e-4)
