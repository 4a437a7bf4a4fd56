"""The official MutualNet ImageNet recipe in the ImageNet configs (issue 16): the weight
decay on conv and linear weights only, and the training augmentation (crop scale, colour
jitter 0.4, PCA lighting 0.1), read from the config and applied by the data set."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision.transforms import v2

from mutualnet3d.config import ConfigError, load_config
from mutualnet3d.data import ColorAugmentation, build_dataset
from mutualnet3d.data.transforms import Lighting
from mutualnet3d.engine.spec import _optimizer_spec, dataset_spec

ROOT = Path(__file__).resolve().parents[2]
IMAGENET = {
    "MobileNetV1": (0.25, 1.0),  # the official imagenet1k_mobile transforms
    "MobileNetV2": (0.25, 1.0),
    "ResNet50": (0.08, 1.0),  # imagenet1k_basic
}
EIGVAL = (0.2175, 0.0188, 0.0045)
EIGVEC = ((-0.5675, 0.7192, 0.4009), (-0.5808, -0.0045, -0.8140), (-0.5836, -0.6948, 0.4203))
# A default config on ImageNet's folders (no colour augmentation).
_MOBILE = ["TRAIN.DATASET", "imagenet", "TEST.DATASET", "imagenet", "MODEL.ARCH", "2d"]
_MOBILE += ["MODEL.MODEL_NAME", "mobilenet_v1_tiny", "DATA.INPUT_CHANNEL_NUM", "[3]"]
OFFICIAL = ColorAugmentation(jitter=0.4, lighting_std=0.1, eigval=EIGVAL, eigvec=EIGVEC)


def _imagenet_cfg(name: str, *opts: str):
    return load_config(str(ROOT / "configs" / "ImageNet" / f"MutualNet_{name}.yaml"), list(opts))


@pytest.mark.parametrize("name", sorted(IMAGENET))
def test_imagenet_configs_hold_the_official_recipe(name: str) -> None:
    cfg = _imagenet_cfg(name)
    assert _optimizer_spec(cfg).weight_decay_rule == "mutualnet"
    assert cfg.SOLVER.WEIGHT_DECAY == 1e-4 and cfg.BN.WEIGHT_DECAY == 0.0
    for split in ("train", "val", "test"):
        spec = dataset_spec(cfg, split)
        assert spec.color == OFFICIAL
        assert spec.spatial.scales_relative == IMAGENET[name]


def test_imagenet_train_set_applies_the_recipe(imagenet_dir) -> None:
    opts = ["DATA.PATH_TO_DATA_DIR", str(imagenet_dir), "DATA.TRAIN_CROP_SIZE", "32"]
    opts += ["DATA.TEST_CROP_SIZE", "32", "MODEL.NUM_CLASSES", "2"]
    cfg = _imagenet_cfg("MobileNetV1", *opts, "MUTUALNET.SPATIAL_SIZES", "[32, 24]")
    train = build_dataset(dataset_spec(cfg, "train"), "train")
    steps = train.transform.transforms
    crop = next(t for t in steps if isinstance(t, v2.RandomResizedCrop))
    assert tuple(crop.scale) == (0.25, 1.0)
    jitter = next(t for t in steps if isinstance(t, v2.ColorJitter))
    assert tuple(jitter.brightness) == tuple(jitter.saturation) == pytest.approx((0.6, 1.4))
    lighting = next(t for t in steps if isinstance(t, Lighting))
    assert (lighting.alpha_std, lighting.eigval, lighting.eigvec) == (0.1, EIGVAL, EIGVEC)
    # Lighting after the scaling to [0, 1], before the normalisation.
    kinds = [type(t) for t in steps]
    assert kinds.index(v2.ToDtype) < kinds.index(Lighting) == len(kinds) - 2
    torch.manual_seed(0)
    images = torch.stack([train[0]["inputs"][0] for _ in range(8)])
    assert images.shape == (8, 3, 32, 32)
    # The grey image comes out in colours (the lighting's per-channel offsets).
    std, mean = torch.tensor(cfg.DATA.STD).view(3, 1, 1), torch.tensor(cfg.DATA.MEAN).view(3, 1, 1)
    pixels = (images * std + mean).mean((2, 3))
    assert bool(((pixels.amax(1) - pixels.amin(1)) > 1e-4).all())
    plain_cfg = load_config(None, _MOBILE + opts)
    plain = build_dataset(dataset_spec(plain_cfg, "train"), "train")
    std, mean = (torch.tensor(plain_cfg.DATA[k]).view(3, 1, 1) for k in ("STD", "MEAN"))
    grey = (plain[0]["inputs"][0] * std + mean).mean((1, 2))
    assert float(grey.amax() - grey.amin()) < 1e-5  # without the recipe: grey
    val = build_dataset(dataset_spec(cfg, "val"), "val")
    assert not any(isinstance(t, (v2.ColorJitter, Lighting)) for t in val.transform.transforms)


def test_colour_keys_are_refused_where_they_would_not_act() -> None:
    with pytest.raises(ConfigError, match=r"DATA\.TRAIN_COLOR_JITTER 0\.4 acts for imagenet only"):
        load_config(None, ["DATA.TRAIN_COLOR_JITTER", "0.4"])  # kinetics
    with pytest.raises(ConfigError, match=r"DATA\.TRAIN_PCA_ALPHA_STD 0\.1 acts for imagenet"):
        load_config(None, ["DATA.TRAIN_PCA_ALPHA_STD", "0.1"])
    imagenet = list(_MOBILE)
    with pytest.raises(ConfigError, match=r"DATA\.TRAIN_PCA_EIGVAL acts with DATA\.TRAIN_PCA"):
        load_config(None, imagenet + ["DATA.TRAIN_PCA_EIGVAL", repr(list(EIGVAL))])
    with pytest.raises(ConfigError, match=r"DATA\.TRAIN_COLOR_JITTER must be a number >= 0"):
        load_config(None, imagenet + ["DATA.TRAIN_COLOR_JITTER", "-0.1"])
    with pytest.raises(ConfigError, match=r"DATA\.TRAIN_PCA_EIGVEC must be 3 rows of 3"):
        load_config(
            None,
            imagenet
            + [
                "DATA.TRAIN_PCA_ALPHA_STD",
                "0.1",
                "DATA.TRAIN_PCA_EIGVEC",
                "[[1, 0, 0], [0, 1, 0]]",
            ],
        )
    cfg = load_config(
        None,
        imagenet + ["DATA.TRAIN_PCA_ALPHA_STD", "0.1", "DATA.TRAIN_PCA_EIGVAL", repr(list(EIGVAL))],
    )
    assert dataset_spec(cfg, "train").color == ColorAugmentation(lighting_std=0.1, eigval=EIGVAL)


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "Demo").glob("*.yaml")))
def test_demo_and_default_configs_keep_their_recipe(path: Path) -> None:
    for cfg in (load_config(str(path)), load_config(None)):
        assert _optimizer_spec(cfg).weight_decay_rule == "pyslowfast"
        assert dataset_spec(cfg, "train").color == ColorAugmentation()
