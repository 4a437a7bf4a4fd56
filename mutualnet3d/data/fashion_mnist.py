"""Fashion-MNIST (Zalando Research, MIT licence): 70,000 gray 28-px images of 10 kinds of
clothing, read from its four IDX files, a harder image set than the digits for the study.

Debian's ``dataset-fashion-mnist`` package installs the files in :data:`DEBIAN_DIR`
(``apt-get install dataset-fashion-mnist``); any folder holding the four files as the
project distributes them (``*-idx?-ubyte.gz``, or the same names without ``.gz``) works.
Splits: train is the first ``num_train`` of the training file's first 55,000 images, val
its last 5,000 (never trained on) and test the 10,000 of ``t10k``.
"""

from __future__ import annotations

import gzip
import os

import numpy as np
import torch

from .gray_images import GrayImages
from .specs import Normalization, check_split

__all__ = ["DEBIAN_DIR", "FashionMNIST", "read_idx"]

#: where Debian's dataset-fashion-mnist package puts the files
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
#: the IDX file stems of each file of the distribution: images, labels
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_NUM_VAL = 5000  # the training file's last images: val
_NUM_TRAIN_MAX = 55000


def read_idx(path: str) -> np.ndarray:
    """The uint8 array of an IDX file (gzip-compressed or not, told by its first bytes):
    magic 0, 0, 0x08 (unsigned byte), the number of dimensions, then each dimension as a
    big-endian int32, then the bytes."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
    except (OSError, EOFError) as error:  # gzip raises BadGzipFile (an OSError), EOFError
        raise ValueError(f"{path}: not a readable IDX file ({error})") from error
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path}: not an IDX file of unsigned bytes (magic {data[:4]!r})")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(data[4:header], dtype=">i4"))
    if len(data) - header != int(np.prod(shape)):
        raise ValueError(
            f"{path}: the header declares {shape} ({int(np.prod(shape))} bytes) but "
            f"{len(data) - header} bytes follow it"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _find(root: str, stem: str) -> str:
    for name in (stem + ".gz", stem):
        if os.path.isfile(os.path.join(root, name)):
            return os.path.join(root, name)
    raise FileNotFoundError(
        f"{os.path.join(root, stem)}.gz is missing: Fashion-MNIST is read from its IDX "
        f"files (Debian: apt-get install dataset-fashion-mnist, into {DEBIAN_DIR})"
    )


def _load(root: str, file: str) -> tuple[torch.Tensor, np.ndarray]:
    images_path, labels_path = (_find(root, stem) for stem in _FILES[file])
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{images_path}: need (N, 28, 28) images, got {images.shape}")
    if labels.shape != (len(images),) or labels.max(initial=0) > 9:
        raise ValueError(
            f"{labels_path}: need {len(images)} labels in [0, 9] (one per image of "
            f"{images_path}), got shape {labels.shape}, max {labels.max(initial=0)}"
        )
    return torch.from_numpy(images.copy()), labels


class FashionMNIST(GrayImages):
    """A split of Fashion-MNIST (see the module) from the IDX files in ``root`` (empty:
    :data:`DEBIAN_DIR`); items and augmentation as
    :class:`~mutualnet3d.data.gray_images.GrayImages`'."""

    def __init__(
        self,
        split: str,
        *,
        root: str = "",
        num_train: int = _NUM_TRAIN_MAX,
        crop_size: int = 28,
        normalization: Normalization,
        max_shift: int = 2,
    ) -> None:
        check_split(split)
        if not 1 <= num_train <= _NUM_TRAIN_MAX:
            raise ValueError(f"num_train must be in [1, {_NUM_TRAIN_MAX}], got {num_train}")
        self.root = root or DEBIAN_DIR
        images, labels = _load(self.root, "test" if split == "test" else "train")
        if split != "test" and len(images) <= _NUM_VAL:
            raise ValueError(
                f"{self.root}: the training file holds {len(images)} images, need more "
                f"than the {_NUM_VAL} of val"
            )
        part = {
            "train": slice(0, min(num_train, len(images) - _NUM_VAL)),
            "val": slice(len(images) - _NUM_VAL, len(images)),
            "test": slice(0, len(images)),
        }[split]
        super().__init__(
            split,
            images[part],
            labels[part].tolist(),
            crop_size=crop_size,
            normalization=normalization,
            max_shift=max_shift,
        )
