"""Data sets in PySlowFast's formats: Kinetics (PyAV), Charades and AVA (frame lists),
ImageNet (class folders), and the embedded Moving Digits demo set.

The data sets take explicit, typed settings (:mod:`.specs`); a :class:`DatasetSpec`
gathers them for :func:`build_dataset`. Nothing here reads the config: the engine turns
it into a spec (``mutualnet3d.engine.spec.dataset_spec``).
"""

from .annotations import AnnotationWarning
from .ava import Ava
from .ava_annotations import read_box_csvs, read_labelmap
from .build import DATASET_ALIASES, DATASETS, IMAGE_DATASETS, AvaFiles, DatasetSpec, DigitsSettings, build_dataset
from .charades import Charades
from .clip_dataset import ClipDataset
from .collate import ava_collate, collate_fn_for, collate_samples
from .decoder import DecodeError, clip_span, decode_clip, sample_frame_indices
from .failures import FailureLog, RetryLoop
from .fashion_mnist import FashionMNIST
from .frame_lists import FRAME_LIST_HEADER, FrameLists, read_frame_lists
from .imagenet import ImageFolderClassification
from .kinetics import Kinetics, read_annotations
from .loader import build_loader
from .moving_digits import DigitImages, MovingDigits
from .pathways import pack_pathways
from .specs import (
    SPLITS,
    ClipSampling,
    ColorAugmentation,
    Normalization,
    RetryPolicy,
    SpatialSampling,
    TestViews,
)
from .video_dataset import VideoDataset, VideoDecodeWarning

__all__ = [
    "DATASETS",
    "DATASET_ALIASES",
    "FRAME_LIST_HEADER",
    "IMAGE_DATASETS",
    "SPLITS",
    "AnnotationWarning",
    "Ava",
    "AvaFiles",
    "Charades",
    "ClipDataset",
    "ClipSampling",
    "ColorAugmentation",
    "DatasetSpec",
    "DecodeError",
    "DigitImages",
    "DigitsSettings",
    "FailureLog",
    "FashionMNIST",
    "FrameLists",
    "ImageFolderClassification",
    "Kinetics",
    "MovingDigits",
    "Normalization",
    "RetryLoop",
    "RetryPolicy",
    "SpatialSampling",
    "TestViews",
    "VideoDataset",
    "VideoDecodeWarning",
    "ava_collate",
    "build_dataset",
    "build_loader",
    "clip_span",
    "collate_fn_for",
    "collate_samples",
    "decode_clip",
    "pack_pathways",
    "read_annotations",
    "read_box_csvs",
    "read_frame_lists",
    "read_labelmap",
    "sample_frame_indices",
]
