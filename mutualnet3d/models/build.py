"""The one adapter from a config to a model (style guide, principle 2).

A builder states what it takes by its signature: :func:`model_kwargs` passes the config
keys of the arguments it declares. The architecture arguments (:data:`ARCHITECTURE`:
MODEL.ARCH, RESNET.DEPTH and the other RESNET sizes, X3D.*, DETECTION.ENABLE) are read
from the config only by PySlowFast's model names (``ResNet``, ``SlowFast``, ``X3D``,
``PTV*``: :func:`~mutualnet3d.models.registry.register_pyslowfast_name`); a registered
variant (``i3d_r101``, ``x3d_m``, ...) fixes them, and :func:`fixed_architecture` says
to what, so that the config package can refuse keys that contradict it.
"""

from __future__ import annotations

import inspect
from types import MappingProxyType
from typing import Any, Callable, Mapping

import torch.nn as nn
from fvcore.common.config import CfgNode

from .registry import get_model_builder, reads_architecture

__all__ = [
    "ARCHITECTURE",
    "CONFIG_KEYS",
    "build_model",
    "builder_arguments",
    "fixed_architecture",
    "model_kwargs",
]

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
    "roi_aligned": "DETECTION.ALIGNED",
    "zero_init_final_bn": "RESNET.ZERO_INIT_FINAL_BN",
    "fc_init_std": "MODEL.FC_INIT_STD",
    # The architecture (ARCHITECTURE below).
    "arch": "MODEL.ARCH",
    "depth": "RESNET.DEPTH",
    "num_block_temp_kernel": "RESNET.NUM_BLOCK_TEMP_KERNEL",
    "spatial_strides": "RESNET.SPATIAL_STRIDES",
    "spatial_dilations": "RESNET.SPATIAL_DILATIONS",
    "width_per_group": "RESNET.WIDTH_PER_GROUP",
    "trans_func": "RESNET.TRANS_FUNC",
    "width_factor": "X3D.WIDTH_FACTOR",
    "depth_factor": "X3D.DEPTH_FACTOR",
    "bottleneck_factor": "X3D.BOTTLENECK_FACTOR",
    "head_dim_out": "X3D.DIM_C5",
    "stem_dim_in": "X3D.DIM_C1",
    "detection": "DETECTION.ENABLE",
})
#: The arguments that make the network what its name says (read from the config by
#: PySlowFast's names only).
ARCHITECTURE = frozenset({
    "arch", "depth", "num_block_temp_kernel", "spatial_strides", "spatial_dilations",
    "width_per_group", "trans_func", "width_factor", "depth_factor", "bottleneck_factor",
    "head_dim_out", "stem_dim_in", "detection",
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


def fixed_architecture(builder: Callable[..., nn.Module]) -> dict[str, Any]:
    """The architecture arguments ``builder`` fixes, with the values it builds.

    A variant fixes every one it declares (its own value or its family's default); one
    of PySlowFast's names only those it binds (``PTVResNet``'s temporal kernels).
    """
    params = inspect.signature(builder).parameters
    bound = getattr(builder, "keywords", {})
    names = bound if reads_architecture(builder) else builder_arguments(builder)
    return {n: p.default for n, p in params.items() if n in ARCHITECTURE and n in names}


def model_kwargs(cfg: CfgNode) -> dict[str, Any]:
    """The arguments a config sets for the builder of ``cfg.MODEL.MODEL_NAME``.

    ``num_classes``, ``dropout_rate`` and ``width_divisor`` always; every other argument
    of :data:`CONFIG_KEYS` only when the builder's signature declares it and, for an
    :data:`ARCHITECTURE` argument, does not fix it (:func:`fixed_architecture`): a
    variant states what it takes by its family's parameters, not by MODEL.ARCH.
    ``num_frames`` is the Slow pathway's, ``DATA.NUM_FRAMES // SLOWFAST.ALPHA``, for a
    builder that also takes ``alpha``.
    """
    builder = get_model_builder(cfg.MODEL.MODEL_NAME)
    accepted = builder_arguments(builder) - set(fixed_architecture(builder))
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
