"""One data set from one spec: :class:`DatasetSpec` and ``build_dataset(spec, split)``.

A :class:`DatasetSpec` holds everything a data set needs but the split and the model's
pathway ratio; the engine makes one from its config (``mutualnet3d.engine.spec``), and
tests or scripts make one directly. The per-data-set rules of PySlowFast's layouts
(which file a split reads) live here, in :func:`build_dataset`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from torch.utils.data import Dataset

from .ava import Ava
from .charades import Charades
from .fashion_mnist import FashionMNIST
from .imagenet import ImageFolderClassification
from .kinetics import Kinetics
from .moving_digits import DigitImages, MovingDigits
from .specs import (
    ClipSampling,
    ColorAugmentation,
    Normalization,
    RetryPolicy,
    SpatialSampling,
    TestViews,
    check_split,
)

__all__ = [
    "DATASETS",
    "DATASET_ALIASES",
    "IMAGE_DATASETS",
    "AvaFiles",
    "DatasetSpec",
    "DigitsSettings",
    "build_dataset",
]

#: the data set names (PySlowFast's TRAIN.DATASET / TEST.DATASET, lower case)
DATASETS = (
    "kinetics",
    "charades",
    "ava",
    "imagenet",
    "moving_digits",
    "mnist_digits",
    "fashion_mnist",
)
#: the data sets of 2D images (one pathway, no frames)
IMAGE_DATASETS = ("imagenet", "mnist_digits", "fashion_mnist")
#: PySlowFast's names of its PyTorchVideo-based loaders of the same files -> ours
DATASET_ALIASES = {"ptvkinetics": "kinetics", "ptvcharades": "charades"}


@dataclass(frozen=True)
class AvaFiles:
    """Where AVA's files are (PySlowFast's AVA keys; defaults are its file names).

    Frames lie in ``frame_dir``, the frame lists in ``frame_list_dir``, and box csvs,
    label map, exclusions and groundtruth in ``annotation_dir``. Train reads
    ``train_lists`` with the groundtruth ``train_gt_box_lists`` plus the detected
    ``train_predict_box_lists``; val and test read ``test_lists`` with the detected
    ``test_predict_box_lists`` (the groundtruth ``groundtruth_file`` when that is
    empty). Detections count from ``detection_score_thresh``. Validation keeps the key
    frames of every 4th second unless ``full_test_on_val`` (PySlowFast's AVA keys).
    """

    frame_dir: str
    frame_list_dir: str
    annotation_dir: str
    train_lists: tuple[str, ...] = ("train.csv",)
    test_lists: tuple[str, ...] = ("val.csv",)
    train_gt_box_lists: tuple[str, ...] = ("ava_train_v2.2.csv",)
    train_predict_box_lists: tuple[str, ...] = ()
    test_predict_box_lists: tuple[str, ...] = ("ava_val_predicted_boxes.csv",)
    detection_score_thresh: float = 0.9
    label_map_file: str = "ava_action_list_v2.2_for_activitynet_2019.pbtxt"
    exclusion_file: str = "ava_val_excluded_timestamps_v2.2.csv"
    groundtruth_file: str = "ava_val_v2.2.csv"
    full_test_on_val: bool = False

    def __post_init__(self) -> None:
        # Tuples, so a spec made from a config's lists is hashable like the others.
        for field in (
            "train_lists",
            "test_lists",
            "train_gt_box_lists",
            "train_predict_box_lists",
            "test_predict_box_lists",
        ):
            object.__setattr__(self, field, tuple(getattr(self, field)))

    def annotation(self, name: str) -> str:
        """The path of annotation file ``name``."""
        return os.path.join(self.annotation_dir, name)

    def annotations(self, names: Sequence[str]) -> list[str]:
        """The paths of annotation files ``names``."""
        return [self.annotation(name) for name in names]


@dataclass(frozen=True)
class DigitsSettings:
    """Moving Digits' size (MOVING_DIGITS keys): clips of train and of val and of test, the
    rendered frame side (pixels) and the seed the whole set is a function of."""

    num_train_clips: int = 4800
    num_val_clips: int = 1200
    size: int = 64
    seed: int = 0


# What each data set needs beyond the fields every one has.
_REQUIRED = {
    "kinetics": ("sampling",),
    "charades": ("sampling", "num_classes"),
    "ava": ("sampling", "ava"),
    "imagenet": (),
    "moving_digits": ("sampling", "digits"),
    "mnist_digits": (),
    "fashion_mnist": (),
}


@dataclass(frozen=True, kw_only=True)
class DatasetSpec:
    """Everything a data set needs except the split and the pathway ratio ``alpha``.

    ``name`` is one of :data:`DATASETS`; ``root`` the folder of its csvs or image
    folders (DATA.PATH_TO_DATA_DIR); ``path_prefix`` is joined before every video or
    frame path of the csvs; ``separator`` splits path and label in Kinetics' csvs;
    ``num_classes`` is the width of Charades' multi-hot labels and AVA's targets, and
    bounds every label the annotation files list, Kinetics' too, and ImageNet's class
    folders (None: not checked);
    ``allow_duplicates`` False refuses annotation rows listed twice (True keeps them,
    as PySlowFast, and warns once per file with the count). ``color``: the colour
    jitter and lighting noise of ImageNet's training images (none by default; the
    other data sets refuse it). ``sampling`` is needed
    by the video sets, ``ava`` by AVA, ``digits`` by Moving Digits; a missing one raises
    ``ValueError`` naming it. Fields a data set does not use are ignored by it.
    """

    name: str
    normalization: Normalization
    root: str = ""
    path_prefix: str = ""
    separator: str = " "
    num_classes: Optional[int] = None
    allow_duplicates: bool = True
    sampling: Optional[ClipSampling] = None
    spatial: SpatialSampling = SpatialSampling()
    color: ColorAugmentation = ColorAugmentation()  # ImageNet's training images
    views: TestViews = TestViews()
    retry: RetryPolicy = RetryPolicy()
    ava: Optional[AvaFiles] = None
    digits: Optional[DigitsSettings] = None
    num_train_images: int = 0  # fashion_mnist: training images (0: all 55,000)
    decode_threads: bool = False  # FFmpeg's threads for videos (Kinetics)

    def __post_init__(self) -> None:
        if self.name not in DATASETS:
            raise ValueError(
                f"DatasetSpec.name must be one of {', '.join(DATASETS)}, got {self.name!r}"
            )
        for field in _REQUIRED[self.name]:
            if getattr(self, field) is None:
                raise ValueError(f"DatasetSpec.{field} is required for {self.name}")
        if self.color.enabled and self.name != "imagenet":
            raise ValueError(
                f"DatasetSpec.color acts for imagenet only (colour augmentation of videos "
                f"and digits is not built), got {self.color} for {self.name}"
            )


def _clip_arguments(spec: DatasetSpec, alpha: Optional[int]) -> dict[str, Any]:
    """The keyword arguments Kinetics and Charades share."""
    return dict(
        sampling=spec.sampling,
        spatial=spec.spatial,
        views=spec.views,
        normalization=spec.normalization,
        retry=spec.retry,
        alpha=alpha,
        path_prefix=spec.path_prefix,
        seed=None,
        allow_duplicates=spec.allow_duplicates,
    )


def _kinetics(spec: DatasetSpec, split: str, alpha: Optional[int]) -> Kinetics:
    csv = os.path.join(spec.root, f"{split}.csv")
    return Kinetics(
        csv,
        split,
        separator=spec.separator,
        decode_threads=spec.decode_threads,
        num_classes=spec.num_classes,
        **_clip_arguments(spec, alpha),
    )


def _charades(spec: DatasetSpec, split: str, alpha: Optional[int]) -> Charades:
    # Test reads val.csv, as PySlowFast (Charades has no labelled test split).
    csv = os.path.join(spec.root, f"{'val' if split == 'test' else split}.csv")
    return Charades(csv, split, num_classes=spec.num_classes, **_clip_arguments(spec, alpha))


def _ava(spec: DatasetSpec, split: str, alpha: Optional[int]) -> Ava:
    files = spec.ava
    train = split == "train"
    lists = files.train_lists if train else files.test_lists
    return Ava(
        [os.path.join(files.frame_list_dir, name) for name in lists],
        files.annotations(files.train_gt_box_lists if train else [files.groundtruth_file]),
        split,
        frame_dir=files.frame_dir,
        label_map_pbtxt=files.annotation(files.label_map_file),
        predicted_box_csvs=files.annotations(
            files.train_predict_box_lists if train else files.test_predict_box_lists
        ),
        detection_score_thresh=files.detection_score_thresh,
        sampling=spec.sampling,
        spatial=spec.spatial,
        normalization=spec.normalization,
        retry=spec.retry,
        alpha=alpha,
        # PySlowFast validates on the key frames of every 4th second unless told otherwise.
        second_stride=4 if split == "val" and not files.full_test_on_val else 1,
        num_classes=spec.num_classes,
        allow_duplicates=spec.allow_duplicates,
    )


def _imagenet(spec: DatasetSpec, split: str, alpha: Optional[int]) -> ImageFolderClassification:
    s = spec.spatial
    # The evaluation's short side: TEST_CROP_SIZE when larger than the crop, else the
    # ResNet papers' 256 -> 224 ratio.
    resize = s.test_crop_size if s.test_crop_size > s.crop_size else round(s.crop_size / 0.875)
    dataset = ImageFolderClassification(
        os.path.join(spec.root, "train" if split == "train" else "val"),
        split,
        crop_size=s.crop_size,
        resize_size=resize,
        normalization=spec.normalization,
        random_flip=s.random_flip,
        crop_scale=s.scales_relative or (0.08, 1.0),
        crop_ratio=s.aspect_relative or (3 / 4, 4 / 3),
        color=spec.color,
        # No failure ratio (PySlowFast has none for ImageNet): failures are only counted.
        retry=RetryPolicy(spec.retry.max_retries),
    )
    # Labels are the class folders' indices: more folders than classes, labels outside.
    if spec.num_classes is not None and dataset.num_classes > spec.num_classes:
        raise ValueError(
            f"{dataset.root}: {dataset.num_classes} class folders, so labels up to "
            f"{dataset.num_classes - 1}, outside [0, {spec.num_classes}): the network has "
            f"{spec.num_classes} classes (MODEL.NUM_CLASSES)"
        )
    return dataset


def _moving_digits(spec: DatasetSpec, split: str, alpha: Optional[int]) -> MovingDigits:
    digits = spec.digits
    return MovingDigits(
        split,
        num_clips=digits.num_train_clips if split == "train" else digits.num_val_clips,
        num_frames=spec.sampling.num_frames,
        size=digits.size,
        crop_size=spec.spatial.test_crop_size if split == "test" else spec.spatial.crop_size,
        normalization=spec.normalization,
        alpha=alpha,
        seed=digits.seed,
    )


def _mnist_digits(spec: DatasetSpec, split: str, alpha: Optional[int]) -> DigitImages:
    return DigitImages(split, crop_size=spec.spatial.crop_size, normalization=spec.normalization)


def _fashion_mnist(spec: DatasetSpec, split: str, alpha: Optional[int]) -> FashionMNIST:
    return FashionMNIST(
        split,
        root=spec.root,
        num_train=spec.num_train_images or 55000,
        crop_size=spec.spatial.crop_size,
        normalization=spec.normalization,
    )


_BUILDERS: dict[str, Callable[[DatasetSpec, str, Optional[int]], Dataset]] = {
    "kinetics": _kinetics,
    "charades": _charades,
    "ava": _ava,
    "imagenet": _imagenet,
    "moving_digits": _moving_digits,
    "mnist_digits": _mnist_digits,
    "fashion_mnist": _fashion_mnist,
}


def build_dataset(spec: DatasetSpec, split: str, *, alpha: Optional[int] = None) -> Dataset:
    """The data set ``spec`` describes, for ``split`` (train, val, test).

    * kinetics: ``{root}/{split}.csv`` of ``path label`` lines;
    * charades: PySlowFast's frame lists ``{root}/{split}.csv`` (test reads ``val.csv``,
      as PySlowFast), multi-hot labels of ``num_classes`` classes;
    * ava: PySlowFast's AVA layout (:class:`AvaFiles`);
    * imagenet: class folders ``{root}/{train,val}`` (test reads val); crop
      ``spatial.crop_size``, evaluated at a short side of ``spatial.test_crop_size``
      when larger, else ``crop_size / 0.875``; training images get ``color``'s jitter
      and lighting noise;
    * moving_digits: the embedded demo set, rendered in memory (``digits``; val and test
      hold different digits; test crops ``spatial.test_crop_size``, train/val
      ``spatial.crop_size``);
    * mnist_digits: the digits of that set as 2D images (``spatial.crop_size`` px);
    * fashion_mnist: Fashion-MNIST's IDX files in ``root`` (empty: Debian's folder),
      train the first ``num_train_images`` (0: all) of the training file's first 55,000,
      val its last 5,000, test t10k (:class:`~mutualnet3d.data.fashion_mnist.FashionMNIST`).

    ``alpha`` (SlowFast's Fast/Slow frame ratio) packs two pathways; the image sets
    (imagenet, mnist_digits) have one and refuse it. Augmentation draws from torch's
    global RNG, which the engine seeds and the DataLoader seeds per worker.
    """
    check_split(split)
    if alpha is not None and spec.name in IMAGE_DATASETS:
        raise ValueError(f"{spec.name} has one pathway of images: alpha must be None, got {alpha}")
    return _BUILDERS[spec.name](spec, split, alpha)
