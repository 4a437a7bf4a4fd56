"""Models registered by name: ``build_model(cfg)`` or ``get_model_builder(name)(**kwargs)``.

Every model module is imported here so that its names are registered.
"""

from . import mobilenet, resnet, video  # noqa: F401  (registers the models)
from .base import SlimClassifier
from .build import build_model, model_kwargs
from .mobilenet import MobileNetV1, MobileNetV2
from .registry import get_model_builder, list_models, register_model
from .resnet import ResNet, WideResNet
from .video import AdaptiveFusion, VideoNet

__all__ = [
    "AdaptiveFusion",
    "VideoNet",
    "MobileNetV1",
    "MobileNetV2",
    "ResNet",
    "SlimClassifier",
    "WideResNet",
    "build_model",
    "get_model_builder",
    "list_models",
    "model_kwargs",
    "register_model",
]
