"""Models registered by name: ``build_model(cfg)`` or ``get_model_builder(name)(**kwargs)``.

Every network is a :class:`SlimNet` (one contract for 2D classifiers, video classifiers
and detectors). Every model module is imported here so that its names are registered.
"""

from . import mobilenet, resnet, slow, slowfast, x3d  # noqa: F401  (registers the models)
from .base import SlimNet
from .build import build_model, model_kwargs
from .facts import ModelFacts, describe_model
from .fusion import AdaptiveFusion
from .mobilenet import MobileNetV1, MobileNetV2
from .registry import get_model_builder, list_models, register_model, register_variant
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
    "register_variant",
]
