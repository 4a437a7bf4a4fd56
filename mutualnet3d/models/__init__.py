"""Models registered by name: ``build_model(cfg)`` or ``get_model_builder(name)(**kwargs)``.

Every network is a :class:`SlimNet` (one contract for 2D classifiers, video classifiers
and detectors). Every model module is imported here so that its names are registered:
our variants (``i3d_r101``, ``slowfast_r50_8x8``, ``x3d_m``, ...), which fix their
architecture, and PySlowFast's own names (``ResNet``, ``ResNet_nopool``, ``SlowFast``,
``X3D``, ``PTVResNet``, ``PTVSlowFast``, ``PTVX3D``), which build the one MODEL.ARCH,
RESNET.* and X3D.* describe (:mod:`.layout` holds PySlowFast's rules).
"""

from . import mobilenet, resnet, resnet3d, slowfast, x3d  # noqa: F401  (registers the models)
from .base import SlimNet
from .build import build_model, model_kwargs
from .facts import ModelFacts, describe_model
from .fusion import AdaptiveFusion
from .mobilenet import MobileNetV1, MobileNetV2
from .registry import (
    get_model_builder,
    list_models,
    register_model,
    register_pyslowfast_name,
    register_variant,
)
from .resnet import ResNet, WideResNet
from .video_net import VideoDetector, VideoNet

__all__ = [
    "AdaptiveFusion",
    "MobileNetV1",
    "MobileNetV2",
    "ModelFacts",
    "ResNet",
    "SlimNet",
    "VideoDetector",
    "VideoNet",
    "WideResNet",
    "build_model",
    "describe_model",
    "get_model_builder",
    "list_models",
    "model_kwargs",
    "register_model",
    "register_pyslowfast_name",
    "register_variant",
]
