"""Image classification from a folder of class folders (ImageNet's layout).

``root/<class>/<image>.JPEG|jpg|png``: class folders sorted by name give the labels
0..K-1, exactly as ``torchvision.datasets.ImageFolder`` numbers them, so label indices
match checkpoints trained with it. Images are decoded with Pillow, as ImageFolder's
default loader does (by content, so a PNG named ``.JPEG`` or a CMYK JPEG still decodes;
``torchvision.io``'s decoders are deprecated since torchvision 0.29), and transformed
as uint8 tensors with ``torchvision.transforms.v2``:

* train: ``RandomResizedCrop(crop_size)`` (area ``crop_scale``, default 0.08-1, aspect
  ``crop_ratio``, default 3/4-4/3: PySlowFast's DATA.TRAIN_JITTER_SCALES_RELATIVE and
  TRAIN_JITTER_ASPECT_RELATIVE; bilinear, antialiased), a horizontal flip with
  probability 0.5, then the colour augmentation ``color`` asks for (default none):
  torchvision's ``ColorJitter`` on the uint8 image and AlexNet's PCA lighting noise on
  its [0, 1] values, before the normalisation (the official MutualNet recipe);
* val / test: short side resized to ``resize_size``, centre ``crop_size`` square
  (the 256 -> 224 evaluation of the ResNet papers).
"""

from __future__ import annotations

import os
from typing import Any

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.datasets.folder import find_classes
from torchvision.transforms import v2
from torchvision.transforms.v2.functional import pil_to_tensor

from .failures import FailureLog, RetryLoop
from .specs import ColorAugmentation, Normalization, RetryPolicy, check_split
from .transforms import Lighting

__all__ = ["IMAGE_EXTENSIONS", "ImageDecodeWarning", "ImageFolderClassification", "load_rgb"]

#: file endings taken as images (case-insensitive; ImageNet's files end in ".JPEG")
IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png")


class ImageDecodeWarning(UserWarning):
    """An image was skipped: missing, empty, corrupt, truncated or of an unknown format."""


class ImageFolderClassification(Dataset):
    """Labelled images from ``root/<class>/...``, for image classification.

    Each item is a dict: ``inputs`` (a one-element list holding a float32 (3, H, W)
    tensor, normalised with ``normalization`` from [0, 1] pixel values; H = W =
    ``crop_size``), ``label`` (int, the class folder's index in sorted order), ``index``
    and ``video_index`` (both the dataset index of the image returned) and ``view``
    (always 0). The one-element list keeps the layout of the video data sets, so
    :func:`mutualnet3d.data.collate_samples` batches it to ``inputs[0]`` of (B, 3, H, W).

    Class folders are listed with torchvision's ``find_classes`` (every sub-folder of
    ``root``, sorted) and images found recursively below each of them with
    ``make_dataset`` (links followed), as ``ImageFolder`` does; files directly in
    ``root`` are ignored. A missing ``root`` raises ``FileNotFoundError``; a ``root``
    without class folders, or a class folder without images, raises ``ValueError``
    naming the path, since a silently missing class shifts nothing but trains a
    classifier that can never predict it.

    Unreadable images: each failed attempt warns (:class:`ImageDecodeWarning`, naming
    the file) and is counted in :attr:`failures` (path -> failed attempts; each
    DataLoader worker process counts its own). Train/val then try another image drawn
    at random from torch's global RNG, up to ``retry.max_retries`` times, and the
    returned sample is that image's (its ``index``, ``video_index`` and ``label``); test
    retries the same image (an evaluation must score every image once) up to
    ``retry.max_retries`` times. When all attempts fail, ``RuntimeError`` names the last
    file. ``retry.max_failure_ratio`` (None: off) raises once more than that fraction of
    the images has failed.

    Args:
        root: folder of class folders.
        split: "train", "val" or "test".
        crop_size: side of the square network input (pixels).
        resize_size: val/test short side before the centre crop (pixels).
        normalization: per-channel normalisation of [0, 1] RGB values.
        random_flip: train-time horizontal flip.
        retry: other images (train/val) or attempts (test) after a failure.
        crop_scale, crop_ratio: the training crop's area fraction and aspect ranges.
        color: the training images' colour jitter and lighting noise (default: none).
    """

    #: splits in which an image that fails to load is replaced by another
    REPLACE_SPLITS = ("train", "val")

    def __init__(
        self,
        root: str | os.PathLike,
        split: str,
        *,
        crop_size: int = 224,
        resize_size: int = 256,
        normalization: Normalization,
        random_flip: bool = True,
        retry: RetryPolicy = RetryPolicy(),
        crop_scale: tuple[float, float] = (0.08, 1.0),
        crop_ratio: tuple[float, float] = (3 / 4, 4 / 3),
        color: ColorAugmentation = ColorAugmentation(),
    ) -> None:
        check_split(split)
        if crop_size < 1 or resize_size < 1:
            raise ValueError(f"need crop_size, resize_size >= 1, got {crop_size}, {resize_size}")
        if split != "train" and crop_size > resize_size:
            # v2.CenterCrop would pad with zeros instead of failing.
            raise ValueError(f"crop_size {crop_size} exceeds resize_size {resize_size}")

        self.root = os.fspath(root)
        self.split = split
        self.crop_size = crop_size
        self.resize_size = resize_size
        self.normalization = normalization
        self.random_flip = random_flip
        self.retry = retry
        self.crop_scale, self.crop_ratio = tuple(crop_scale), tuple(crop_ratio)
        self.color = color
        self.classes, self.class_to_idx = _list_classes(self.root)
        #: (path, label) per image, sorted by class then path (ImageFolder's order)
        self.samples: list[tuple[str, int]] = _list_images(self.root, self.class_to_idx)
        self.targets = [label for _, label in self.samples]
        self.failures = FailureLog(
            source=self.root, unit="images", num_samples=len(self.samples),
            max_ratio=retry.max_failure_ratio, category=ImageDecodeWarning,
        )
        self._retries = RetryLoop(
            self.failures, retry, split, replace=split in self.REPLACE_SPLITS,
            errors=_DECODE_ERRORS, never_replaced="; test images are never replaced by another",
        )
        self.transform = self._build_transform()

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def num_failures(self) -> int:
        """Failed decode attempts so far in this process (all files)."""
        return self.failures.attempts

    def __len__(self) -> int:
        return len(self.samples)

    def _build_transform(self) -> v2.Transform:
        lighting: list[Lighting] = []
        if self.split == "train":
            spatial: list[v2.Transform] = [v2.RandomResizedCrop(
                self.crop_size, scale=self.crop_scale, ratio=self.crop_ratio, antialias=True
            )]
            if self.random_flip:
                spatial.append(v2.RandomHorizontalFlip(0.5))
            color = self.color
            if color.jitter > 0:
                j = color.jitter
                spatial.append(v2.ColorJitter(brightness=j, contrast=j, saturation=j))
            if color.lighting_std > 0:
                lighting.append(Lighting(color.lighting_std, color.eigval, color.eigvec))
        else:
            spatial = [v2.Resize(self.resize_size, antialias=True), v2.CenterCrop(self.crop_size)]
        # Resize, crop and jitter the uint8 image (fewer bytes to move; 8-bit pixels as
        # torchvision's ColorJitter on PIL images), then scale to [0, 1], add the lighting
        # noise (in [0, 1] units, its eigenvalues') and normalise.
        return v2.Compose([
            *spatial,
            v2.ToDtype(torch.float32, scale=True),
            *lighting,
            self.normalization,
        ])

    def _describe_failure(self, index: int, error: Exception) -> tuple[str, str]:
        path = self.samples[index][0]
        return path, f"image {path}"

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} images")
        index, image = self._retries(
            lambda i: load_rgb(self.samples[i][0]), index, self._describe_failure
        )
        label = self.samples[index][1]
        return {
            "inputs": [self.transform(image).contiguous()],
            "label": label,
            "index": index,
            "video_index": index,
            "view": 0,
        }


# What Pillow raises for missing, empty, unknown, corrupt or truncated files
# (UnidentifiedImageError is an OSError; some plugins raise SyntaxError or EOFError).
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def load_rgb(path: str) -> torch.Tensor:
    """uint8 (3, H, W) RGB tensor of an image file.

    Grayscale, palette, RGBA and CMYK images become RGB (alpha dropped), as with
    ImageFolder's loader; EXIF orientation is not applied (nor is it there). A truncated
    file raises ``OSError`` (Pillow's default) rather than yielding a partly grey image.
    """
    with Image.open(path) as image:
        return pil_to_tensor(image.convert("RGB"))


def _list_classes(root: str) -> tuple[list[str], dict[str, int]]:
    """Sorted class folder names of ``root`` and their label indices (ImageFolder's)."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"image folder {root} does not exist or is not a folder")
    try:
        return find_classes(root)
    except FileNotFoundError as error:  # torchvision's "no class folder" error
        raise ValueError(f"{root}: no class folders (expected root/<class>/<image>)") from error


def _list_images(root: str, class_to_idx: dict[str, int]) -> list[tuple[str, int]]:
    """``(path, label)`` of every image below the class folders; each class needs one.

    torchvision's ``make_dataset`` order (class, then sorted walk with links followed,
    then sorted file names), written out because its ``allow_empty`` needs torchvision
    0.18 and without it the error does not say which folder is empty.
    """
    samples: list[tuple[str, int]] = []
    empty: list[str] = []
    for name, label in sorted(class_to_idx.items(), key=lambda item: item[1]):
        count = len(samples)
        for folder, _, files in sorted(os.walk(os.path.join(root, name), followlinks=True)):
            for file in sorted(files):
                if file.lower().endswith(IMAGE_EXTENSIONS):
                    samples.append((os.path.join(folder, file), label))
        if len(samples) == count:
            empty.append(name)
    if empty:
        paths = ", ".join(os.path.join(root, name) for name in empty)
        raise ValueError(
            f"class folder(s) without images ({'/'.join(IMAGE_EXTENSIONS)}): {paths}"
        )
    return samples
