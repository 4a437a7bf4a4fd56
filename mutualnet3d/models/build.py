"""The one adapter from a config to a model (style guide, principle 2)."""

from __future__ import annotations

from typing import Any

import torch.nn as nn
from fvcore.common.config import CfgNode

from .registry import get_model_builder

__all__ = ["build_model", "model_kwargs"]


def model_kwargs(cfg: CfgNode) -> dict[str, Any]:
    """The constructor arguments a config sets, by their keyword names.

    Video architectures also get their clip shape and their family's keys (SLOWFAST.*,
    X3D.*, DETECTION.*), under the names the builders in :mod:`.video` take.
    """
    kwargs: dict[str, Any] = {
        "num_classes": cfg.MODEL.NUM_CLASSES,
        "dropout_rate": cfg.MODEL.DROPOUT_RATE,
        "width_divisor": cfg.MUTUALNET.WIDTH_DIVISOR,
    }
    arch = cfg.MODEL.ARCH
    if arch == "2d":
        return kwargs
    kwargs["crop_size"] = cfg.DATA.TRAIN_CROP_SIZE
    kwargs["num_frames"] = cfg.DATA.NUM_FRAMES
    if arch in cfg.MODEL.MULTI_PATHWAY_ARCH:
        kwargs.update(
            num_frames=cfg.DATA.NUM_FRAMES // cfg.SLOWFAST.ALPHA,
            alpha=cfg.SLOWFAST.ALPHA,
            beta_inv=cfg.SLOWFAST.BETA_INV,
            fusion_conv_channel_ratio=cfg.SLOWFAST.FUSION_CONV_CHANNEL_RATIO,
            fusion_kernel_size=cfg.SLOWFAST.FUSION_KERNEL_SZ,
        )
    if arch == "x3d":
        kwargs.update(
            width_factor=cfg.X3D.WIDTH_FACTOR,
            depth_factor=cfg.X3D.DEPTH_FACTOR,
            bottleneck_factor=cfg.X3D.BOTTLENECK_FACTOR,
            head_dim_out=cfg.X3D.DIM_C5,
            stem_dim_in=cfg.X3D.DIM_C1,
        )
    if cfg.DETECTION.ENABLE:
        kwargs["roi_aligned"] = cfg.DETECTION.ALIGNED
    return kwargs


def build_model(cfg: CfgNode) -> nn.Module:
    """Build ``cfg.MODEL.MODEL_NAME`` (any registered name) on the CPU.

    Models never see the config: this adapter turns it into keyword arguments. The
    engine moves the model to its device.
    """
    return get_model_builder(cfg.MODEL.MODEL_NAME)(**model_kwargs(cfg))
