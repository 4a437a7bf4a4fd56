"""Data sets in PySlowFast's formats: Kinetics (PyAV), Charades and AVA (frame lists),
ImageNet (class folders).

The data sets take explicit arguments; ``build_dataset(cfg, split)`` is the config edge.
"""

from .ava import Ava, ava_collate
from .build import DATASETS, build_dataset, build_loader, collate_fn, collate_samples
from .charades import Charades
from .imagenet import ImageFolderClassification
from .decoder import DecodeError, clip_span, decode_clip, sample_frame_indices
from .clip_dataset import ClipDataset, VideoDecodeWarning, pack_pathways
from .kinetics import Kinetics, read_annotations

__all__ = [
    "Ava",
    "Charades",
    "ClipDataset",
    "DATASETS",
    "ImageFolderClassification",
    "DecodeError",
    "Kinetics",
    "VideoDecodeWarning",
    "ava_collate",
    "build_dataset",
    "build_loader",
    "clip_span",
    "collate_fn",
    "collate_samples",
    "decode_clip",
    "pack_pathways",
    "read_annotations",
    "sample_frame_indices",
]
