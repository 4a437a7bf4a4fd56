"""The typed data settings: defaults, normalised values, and errors naming the field."""

from __future__ import annotations

import pytest
import torch

from mutualnet3d.data import (
    SPLITS,
    ClipSampling,
    ColorAugmentation,
    Normalization,
    RetryPolicy,
    SpatialSampling,
    TestViews,
)
from mutualnet3d.data.specs import check_split


def test_defaults_are_pyslowfasts() -> None:
    assert ClipSampling(8, 8) == ClipSampling(num_frames=8, sampling_rate=8, target_fps=30)
    assert SpatialSampling() == SpatialSampling((256, 320), 224, 256, True, False)
    assert (TestViews().num_ensemble_views, TestViews().num_spatial_crops) == (10, 3)
    assert TestViews().num_views == 30 and TestViews(2, 1).num_views == 2
    assert RetryPolicy() == RetryPolicy(max_retries=10, max_failure_ratio=None)
    assert SPLITS == ("train", "val", "test")
    color = ColorAugmentation()  # off, with PySlowFast's DATA.TRAIN_PCA_EIGVAL / EIGVEC
    assert (color.jitter, color.lighting_std, color.enabled) == (0.0, 0.0, False)
    assert color.eigval == (0.225, 0.224, 0.229) and color.eigvec[1] == (-0.5808, -0.0045, -0.8140)
    assert ColorAugmentation(jitter=0.4).enabled and ColorAugmentation(lighting_std=0.1).enabled


def test_config_lists_become_hashable_tuples_of_numbers() -> None:
    spatial = SpatialSampling(jitter_scales=[32, 40])
    assert spatial.jitter_scales == (32, 40) and hash(spatial) == hash(SpatialSampling((32, 40)))
    norm = Normalization([0, 0.5, 1], [1, 2, 3])
    assert norm.mean == (0.0, 0.5, 1.0) and norm.std == (1.0, 2.0, 3.0)
    assert all(isinstance(v, float) for v in norm.mean + norm.std)


def test_specs_are_frozen() -> None:
    with pytest.raises(AttributeError):
        ClipSampling(8, 8).num_frames = 4  # type: ignore[misc]


@pytest.mark.parametrize(
    "build, field, value",
    [
        (lambda: ClipSampling(0, 8), "ClipSampling.num_frames", "0"),
        (lambda: ClipSampling(8, 0), "ClipSampling.sampling_rate", "0"),
        (lambda: ClipSampling(8, 8, target_fps=0), "ClipSampling.target_fps", "0"),
        (lambda: SpatialSampling(jitter_scales=(320, 256)), "SpatialSampling.jitter_scales",
         r"\(320, 256\)"),
        (lambda: SpatialSampling(jitter_scales=(0, 256)), "SpatialSampling.jitter_scales",
         r"\(0, 256\)"),
        (lambda: SpatialSampling(jitter_scales=(256,)), "SpatialSampling.jitter_scales",
         r"\(256,\)"),
        (lambda: SpatialSampling(crop_size=0), "SpatialSampling.crop_size", "0"),
        (lambda: SpatialSampling(test_crop_size=-1), "SpatialSampling.test_crop_size", "-1"),
        (lambda: TestViews(num_ensemble_views=0), "TestViews.num_ensemble_views", "0"),
        (lambda: TestViews(num_spatial_crops=2), "TestViews.num_spatial_crops", "2"),
        (lambda: Normalization((0.5, 0.5), (1, 1, 1)), "Normalization.mean", r"\(0.5, 0.5\)"),
        (lambda: Normalization((0, 0, 0), (1, 1)), "Normalization.std", r"\(1, 1\)"),
        (lambda: Normalization((0, 0, 0), (1, 0, 1)), "Normalization.std", r"\(1, 0, 1\)"),
        (lambda: RetryPolicy(max_retries=-1), "RetryPolicy.max_retries", "-1"),
        (lambda: RetryPolicy(max_failure_ratio=1.5), "RetryPolicy.max_failure_ratio", "1.5"),
        (lambda: RetryPolicy(max_failure_ratio=-0.1), "RetryPolicy.max_failure_ratio", "-0.1"),
        (lambda: ColorAugmentation(jitter=-0.4), "ColorAugmentation.jitter", "-0.4"),
        (lambda: ColorAugmentation(lighting_std=True), "ColorAugmentation.lighting_std", "True"),
        (lambda: ColorAugmentation(eigval=(1, 2)), "ColorAugmentation.eigval", r"\(1, 2\)"),
        (lambda: ColorAugmentation(eigvec=((1, 0, 0),)), "ColorAugmentation.eigvec",
         r"\(\(1, 0, 0\),\)"),
    ],
)
def test_invalid_values_raise_naming_field_and_value(build, field: str, value: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field} must be .*, got {value}$"):
        build()


def test_boundary_values_are_valid() -> None:
    ClipSampling(1, 1, target_fps=0.5)
    SpatialSampling(jitter_scales=(1, 1), crop_size=1, test_crop_size=1)
    TestViews(1, 1)
    RetryPolicy(max_retries=0, max_failure_ratio=0.0)
    RetryPolicy(max_failure_ratio=1.0)


def test_check_split_names_the_splits() -> None:
    for split in SPLITS:
        check_split(split)
    expected = r"split must be one of \('train', 'val', 'test'\), got 'eval'"
    with pytest.raises(ValueError, match=expected):
        check_split("eval")


def test_normalization_reverses_the_channels_after_normalising_for_bgr_weights() -> None:
    clip = torch.stack([torch.full((2, 4, 4), v) for v in (0.1, 0.5, 0.9)])  # (C, T, H, W)
    rgb = Normalization((0.1, 0.2, 0.3), (0.5, 0.5, 0.5))
    bgr = Normalization((0.1, 0.2, 0.3), (0.5, 0.5, 0.5), bgr=True)
    assert rgb(clip)[:, 0, 0, 0].tolist() == pytest.approx([0.0, 0.6, 1.2])
    assert bgr(clip)[:, 0, 0, 0].tolist() == pytest.approx([1.2, 0.6, 0.0])
    assert bgr(clip[:, 0]).shape == (3, 4, 4)  # images too
