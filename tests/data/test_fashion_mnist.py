"""Fashion-MNIST from its IDX files: the format read exactly, the splits (val is the
training file's last 5,000), bad files named, and Debian's real files when installed."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from mutualnet3d.config import ConfigError, load_config
from mutualnet3d.data import DatasetSpec, FashionMNIST, Normalization, build_dataset
from mutualnet3d.data.fashion_mnist import DEBIAN_DIR, read_idx

RAW = Normalization((0.0,) * 3, (1.0,) * 3)
IMAGE_CONFIG = "configs/Demo/MutualNet_MobileNetV1_Digits.yaml"


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> Path:
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data, compresslevel=1) if compress else data)
    return path


def write_set(root: Path, num_train: int = 5012, num_test: int = 7, compress: bool = True) -> Path:
    """A Fashion-MNIST folder whose image n is filled with n % 251 and labelled n % 10."""
    root.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if compress else ""
    for stem, count in (("train", num_train), ("t10k", num_test)):
        n = np.arange(count)
        images = np.broadcast_to((n % 251)[:, None, None], (count, 28, 28))
        write_idx(root / f"{stem}-images-idx3-ubyte{suffix}", images, compress)
        write_idx(root / f"{stem}-labels-idx1-ubyte{suffix}", n % 10, compress)
    return root


def test_read_idx_reads_the_declared_shape_and_bytes(tmp_path: Path) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for compress in (True, False):
        path = write_idx(tmp_path / f"a{compress}.idx", array, compress)
        assert np.array_equal(read_idx(str(path)), array)


def test_bad_idx_files_are_named(tmp_path: Path) -> None:
    text = tmp_path / "text.gz"
    text.write_bytes(gzip.compress(b"not an idx file"))
    with pytest.raises(ValueError, match=r"text\.gz: not an IDX file"):
        read_idx(str(text))
    short = write_idx(tmp_path / "short", np.zeros((4, 28, 28)), compress=False)
    short.write_bytes(short.read_bytes()[:-5])
    with pytest.raises(ValueError, match=r"short: the header declares \(4, 28, 28\)"):
        read_idx(str(short))
    broken = tmp_path / "broken.gz"
    broken.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(ValueError, match=r"broken\.gz: not a readable IDX file"):
        read_idx(str(broken))


def test_splits_take_train_val_and_test_from_their_files(tmp_path: Path) -> None:
    root = write_set(tmp_path / "fm")
    train = FashionMNIST("train", root=str(root), normalization=RAW, num_train=10)
    val = FashionMNIST("val", root=str(root), normalization=RAW)
    test = FashionMNIST("test", root=str(root), normalization=RAW)
    assert (len(train), len(val), len(test)) == (10, 5000, 7)
    # val: the training file's last 5,000 (images 12 .. 5011), the image as it is.
    item = val[0]
    assert item["label"] == 12 % 10 and item["inputs"][0].shape == (3, 28, 28)
    assert torch.allclose(item["inputs"][0], torch.full((3, 28, 28), 12 / 255))
    assert test[3]["label"] == 3 and torch.allclose(test[3]["inputs"][0], torch.full((3, 28, 28), 3 / 255))
    # All of the first 55,000 by default; here the 12 before val.
    assert len(FashionMNIST("train", root=str(root), normalization=RAW)) == 12
    assert train.labels == [n % 10 for n in range(10)]


def test_files_without_gzip_and_the_build_route(tmp_path: Path) -> None:
    root = write_set(tmp_path / "plain", compress=False)
    spec = DatasetSpec(name="fashion_mnist", root=str(root), normalization=RAW,
                       num_train_images=4)
    train = build_dataset(spec, "train")
    assert isinstance(train, FashionMNIST) and len(train) == 4
    with pytest.raises(ValueError, match="one pathway"):
        build_dataset(spec, "train", alpha=4)


def test_missing_or_mismatched_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte\.gz is missing.*apt-get install dataset-fashion-mnist"):
        FashionMNIST("train", root=str(tmp_path), normalization=RAW)
    root = write_set(tmp_path / "fm", num_train=5012)
    write_idx(root / "train-labels-idx1-ubyte.gz", np.zeros(3))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte\.gz: need 5012 labels"):
        FashionMNIST("val", root=str(root), normalization=RAW)
    small = write_set(tmp_path / "small", num_train=100)
    with pytest.raises(ValueError, match="holds 100 images, need more than the 5000 of val"):
        FashionMNIST("train", root=str(small), normalization=RAW)


def test_the_config_key_acts_for_fashion_mnist_only(tmp_path: Path) -> None:
    root = write_set(tmp_path / "fm")
    opts = ["TRAIN.DATASET", "fashion_mnist", "TEST.DATASET", "fashion_mnist",
            "DATA.PATH_TO_DATA_DIR", str(root), "FASHION_MNIST.NUM_TRAIN_IMAGES", "8"]
    from mutualnet3d.engine.spec import dataset_spec

    spec = dataset_spec(load_config(IMAGE_CONFIG, opts), "train")
    assert spec.num_train_images == 8 and len(build_dataset(spec, "train")) == 8
    with pytest.raises(ConfigError, match="FASHION_MNIST.NUM_TRAIN_IMAGES 8 acts for fashion_mnist only"):
        load_config(IMAGE_CONFIG, ["FASHION_MNIST.NUM_TRAIN_IMAGES", "8"])
    with pytest.raises(ConfigError, match=r"FASHION_MNIST.NUM_TRAIN_IMAGES must be in \[0, 55000\]"):
        load_config(IMAGE_CONFIG, opts[:-1] + ["60000"])


@pytest.mark.skipif(not os.path.isdir(DEBIAN_DIR), reason="apt-get install dataset-fashion-mnist")
def test_debians_real_files_hold_70000_balanced_images() -> None:
    sets = {split: FashionMNIST(split, normalization=RAW) for split in ("train", "val", "test")}
    assert {s: len(d) for s, d in sets.items()} == {"train": 55000, "val": 5000, "test": 10000}
    assert np.bincount(sets["test"].labels).tolist() == [1000] * 10
    assert sets["train"].images.float().mean() > 50  # real clothes, not blank images
