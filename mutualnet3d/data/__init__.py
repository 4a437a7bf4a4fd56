"""Data sets in PySlowFast's formats: Kinetics (PyAV), Charades (frame lists), ImageNet.

The data sets take explicit arguments; ``build_dataset(cfg, split)`` is the config edge.
"""

from .charades import Charades
from .imagenet import ImageFolderClassification
from .build import DATASETS, build_dataset, build_loader, collate_samples
from .decoder import DecodeError, clip_span, decode_clip, sample_frame_indices
from .kinetics import Kinetics, VideoDecodeWarning, pack_pathways, read_annotations

__all__ = [
    "Charades",
    "DATASETS",
    "ImageFolderClassification",
    "DecodeError",
    "Kinetics",
    "VideoDecodeWarning",
    "build_dataset",
    "build_loader",
    "clip_span",
    "collate_samples",
    "decode_clip",
    "pack_pathways",
    "read_annotations",
    "sample_frame_indices",
]
