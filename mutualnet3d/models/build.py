"""The one adapter from a config to a model (style guide, principle 2)."""

from __future__ import annotations

import inspect
from types import MappingProxyType
from typing import Any, Callable, Mapping

import torch.nn as nn
from fvcore.common.config import CfgNode

from .registry import get_model_builder

__all__ = ["CONFIG_KEYS", "build_model", "builder_arguments", "model_kwargs"]

# Builder keyword -> the config key that sets it.
CONFIG_KEYS: Mapping[str, str] = MappingProxyType({
    "num_classes": "MODEL.NUM_CLASSES",
    "dropout_rate": "MODEL.DROPOUT_RATE",
    "width_divisor": "MUTUALNET.WIDTH_DIVISOR",
    "crop_size": "DATA.TRAIN_CROP_SIZE",
    "num_frames": "DATA.NUM_FRAMES",
    "alpha": "SLOWFAST.ALPHA",
    "beta_inv": "SLOWFAST.BETA_INV",
    "fusion_conv_channel_ratio": "SLOWFAST.FUSION_CONV_CHANNEL_RATIO",
    "fusion_kernel_size": "SLOWFAST.FUSION_KERNEL_SZ",
    "width_factor": "X3D.WIDTH_FACTOR",
    "depth_factor": "X3D.DEPTH_FACTOR",
    "bottleneck_factor": "X3D.BOTTLENECK_FACTOR",
    "head_dim_out": "X3D.DIM_C5",
    "stem_dim_in": "X3D.DIM_C1",
    "roi_aligned": "DETECTION.ALIGNED",
})
# Passed to every builder: a builder without them fails loudly rather than ignore them.
_ALWAYS = ("num_classes", "dropout_rate", "width_divisor")


def _get(cfg: CfgNode, key: str) -> Any:
    node, name = key.split(".")
    return cfg[node][name]


def builder_arguments(builder: Callable[..., nn.Module]) -> frozenset[str]:
    """The keyword names ``builder`` declares (a ``**kwargs`` catch-all is not one)."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    params = inspect.signature(builder).parameters.values()
    return frozenset(p.name for p in params if p.kind in kinds)


def model_kwargs(cfg: CfgNode) -> dict[str, Any]:
    """The arguments a config sets for the builder of ``cfg.MODEL.MODEL_NAME``.

    ``num_classes``, ``dropout_rate`` and ``width_divisor`` always; every other argument
    of :data:`CONFIG_KEYS` only when the builder's signature declares it (so a variant
    states what it takes by its family's parameters, not by MODEL.ARCH). ``num_frames``
    is the Slow pathway's, ``DATA.NUM_FRAMES // SLOWFAST.ALPHA``, for a builder that
    also takes ``alpha``.
    """
    accepted = builder_arguments(get_model_builder(cfg.MODEL.MODEL_NAME))
    kwargs = {
        name: _get(cfg, key) for name, key in CONFIG_KEYS.items()
        if name in _ALWAYS or name in accepted
    }
    if "alpha" in kwargs and "num_frames" in kwargs:
        kwargs["num_frames"] = cfg.DATA.NUM_FRAMES // cfg.SLOWFAST.ALPHA
    return kwargs


def build_model(cfg: CfgNode) -> nn.Module:
    """Build ``cfg.MODEL.MODEL_NAME`` (any registered name) on the CPU.

    Models never see the config: this adapter turns it into keyword arguments. The
    engine moves the model to its device.
    """
    return get_model_builder(cfg.MODEL.MODEL_NAME)(**model_kwargs(cfg))
