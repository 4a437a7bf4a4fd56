"""Small gray images (28 px, MNIST's format) as 2D classification: the item format and
augmentation the digits and Fashion-MNIST sets share."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .specs import Normalization, check_split

__all__ = ["GrayImages"]


class GrayImages(Dataset):
    """uint8 (N, 28, 28) ``images`` and their ``labels`` as 2D classification items.

    Items as :class:`~mutualnet3d.data.imagenet.ImageFolderClassification`'s: ``inputs``
    is ``[image]``, a normalised float (3, ``crop_size``, ``crop_size``) tensor (the gray
    image in three channels, resized from 28 px with antialiasing, normalised with
    ``normalization``). Train shifts each image by up to ``max_shift`` px (zero padding,
    then a random 28-px crop), drawn from torch's global RNG, which the engine seeds and
    the DataLoader seeds per worker; val and test take the image as it is.
    """

    def __init__(
        self,
        split: str,
        images: torch.Tensor,
        labels: list[int],
        *,
        crop_size: int = 28,
        normalization: Normalization,
        max_shift: int = 2,
    ) -> None:
        check_split(split)
        if crop_size < 1 or max_shift < 0:
            raise ValueError(
                f"need crop_size >= 1 and max_shift >= 0, got {crop_size}, {max_shift}"
            )
        if (
            images.dtype != torch.uint8
            or images.shape[1:] != (28, 28)
            or len(images) != len(labels)
        ):
            raise ValueError(
                f"need uint8 (N, 28, 28) images and N labels, got {images.dtype} "
                f"{tuple(images.shape)} and {len(labels)} labels"
            )
        self.split = split
        self.images = images
        self.labels = list(labels)
        self.crop_size = crop_size
        self.normalization = normalization
        self.max_shift = max_shift if split == "train" else 0
        self.num_views = 1

    @property
    def num_videos(self) -> int:
        """Images in the set (one view each)."""
        return len(self.labels)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = int(index)
        if not 0 <= index < len(self.labels):
            raise IndexError(f"index {index} out of range for {len(self.labels)} images")
        image = self.images[index].float().div(255.0)[None]  # (1, 28, 28)
        if self.max_shift:
            pad = self.max_shift
            dy, dx = torch.randint(0, 2 * pad + 1, (2,)).tolist()
            image = F.pad(image, (pad, pad, pad, pad))[:, dy : dy + 28, dx : dx + 28]
        if self.crop_size != 28:
            image = F.interpolate(
                image[None],
                size=(self.crop_size,) * 2,
                mode="bilinear",
                align_corners=False,
                antialias=True,
            )[0]
        return {
            "inputs": [self.normalization(image.expand(3, -1, -1)).contiguous()],
            "label": self.labels[index],
            "index": index,
            "video_index": index,
            "view": 0,
        }
