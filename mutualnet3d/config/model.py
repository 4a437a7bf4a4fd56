"""Model keys: PySlowFast's MODEL, RESNET, NONLOCAL, SLOWFAST and X3D nodes.

The network itself is chosen by ``MODEL.MODEL_NAME`` (a registered builder); the other
keys are PySlowFast's, with its default values. Some exist only so that PySlowFast's
YAML files load (they set them at their defaults); :func:`validate_model` refuses the
values that would ask for a network this library does not build.
"""

from __future__ import annotations

from typing import Any

from fvcore.common.config import CfgNode

from .errors import ConfigError, is_number

__all__ = ["add_model_config", "validate_model"]


def add_model_config(cfg: CfgNode) -> None:
    """Add the MODEL, RESNET, NONLOCAL, SLOWFAST and X3D nodes."""
    cfg.MODEL = CfgNode()
    cfg.MODEL.ARCH = "slowfast"  # family: 2d, c2d, i3d, slow, slowfast, x3d
    cfg.MODEL.MODEL_NAME = "SlowFast"  # registered builder (models.list_models())
    cfg.MODEL.NUM_CLASSES = 400  # classifier outputs
    cfg.MODEL.LOSS_FUNC = "cross_entropy"  # cross_entropy, bce, bce_logit
    cfg.MODEL.LABEL_SMOOTHING = 0.0  # not PySlowFast's: smoothing of the label loss
    cfg.MODEL.DROPOUT_RATE = 0.5  # dropout before the classifier
    cfg.MODEL.HEAD_ACT = "softmax"  # activation applied to test outputs
    cfg.MODEL.FC_INIT_STD = 0.01  # std of the classifier's initial weights
    cfg.MODEL.SINGLE_PATHWAY_ARCH = ["2d", "c2d", "i3d", "slow", "x3d"]
    cfg.MODEL.MULTI_PATHWAY_ARCH = ["slowfast"]

    cfg.RESNET = CfgNode()
    cfg.RESNET.DEPTH = 50  # weight layers: 50 or 101
    cfg.RESNET.NUM_GROUPS = 1  # groups of the 3x3 conv (1: ResNet, >1: ResNeXt)
    cfg.RESNET.WIDTH_PER_GROUP = 64  # channels per group in the first stage
    cfg.RESNET.ZERO_INIT_FINAL_BN = False  # each block's last BN starts at gamma 0
    cfg.RESNET.INPLACE_RELU = True  # in-place ReLU (memory only; no effect on results)
    cfg.RESNET.TRANS_FUNC = "bottleneck_transform"  # block: bottleneck or x3d
    cfg.RESNET.STRIDE_1X1 = False  # stride on the 1x1 conv instead of the 3x3
    cfg.RESNET.NUM_BLOCK_TEMP_KERNEL = [[3], [4], [6], [3]]  # blocks with temporal conv
    cfg.RESNET.SPATIAL_STRIDES = [[1], [2], [2], [2]]  # per stage and pathway
    cfg.RESNET.SPATIAL_DILATIONS = [[1], [1], [1], [1]]  # per stage and pathway

    # Non-local blocks are not built here; the keys let PySlowFast's files load.
    cfg.NONLOCAL = CfgNode()
    cfg.NONLOCAL.LOCATION = [[[]], [[]], [[]], [[]]]  # blocks with one (must be none)
    cfg.NONLOCAL.GROUP = [[1], [1], [1], [1]]  # groups per stage and pathway
    cfg.NONLOCAL.INSTANTIATION = "dot_product"  # dot_product or softmax
    cfg.NONLOCAL.POOL = [[[1, 2, 2], [1, 2, 2]] for _ in range(4)]  # pooling per stage

    cfg.SLOWFAST = CfgNode()
    cfg.SLOWFAST.ALPHA = 8  # Fast / Slow frame-rate ratio
    cfg.SLOWFAST.BETA_INV = 8  # Slow / Fast channel ratio
    cfg.SLOWFAST.FUSION_CONV_CHANNEL_RATIO = 2  # fusion conv out = ratio x Fast in
    cfg.SLOWFAST.FUSION_KERNEL_SZ = 5  # temporal kernel of the fusion conv

    # PySlowFast's defaults are the unexpanded X3D; its X3D-XS/S/M/L files set them.
    cfg.X3D = CfgNode()
    cfg.X3D.WIDTH_FACTOR = 1.0  # channel expansion
    cfg.X3D.DEPTH_FACTOR = 1.0  # block-count expansion
    cfg.X3D.BOTTLENECK_FACTOR = 1.0  # inner expansion of each block's 3x3x3 conv
    cfg.X3D.DIM_C5 = 2048  # channels of the head's last layer
    cfg.X3D.DIM_C1 = 12  # stem channels (before width expansion)
    cfg.X3D.SCALE_RES2 = False  # expand res2's width too
    cfg.X3D.BN_LIN5 = False  # BN after the head's last layer
    cfg.X3D.CHANNELWISE_3x3x3 = True  # depthwise 3x3x3 convs


# Keys accepted only at the value the builders implement: (key, allowed, why).
_FIXED: list[tuple[str, tuple[Any, ...], str]] = [
    (
        "RESNET.TRANS_FUNC",
        ("bottleneck_transform", "x3d_transform"),
        "only bottleneck (ResNet) and x3d blocks are built",
    ),
    ("RESNET.STRIDE_1X1", (False,), "the stride is on the 3x3 conv, as PyTorchVideo"),
    ("X3D.SCALE_RES2", (False,), "X3D is built as PyTorchVideo's create_x3d"),
    ("X3D.BN_LIN5", (False,), "X3D is built as PyTorchVideo's create_x3d"),
    ("X3D.CHANNELWISE_3x3x3", (True,), "X3D is built as PyTorchVideo's create_x3d"),
]


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _flatten(item)]
    return [value]


def validate_model(cfg: CfgNode) -> None:
    """Refuse model settings that cannot be built; messages name the key."""
    known = list(cfg.MODEL.SINGLE_PATHWAY_ARCH) + list(cfg.MODEL.MULTI_PATHWAY_ARCH)
    if cfg.MODEL.ARCH not in known:
        raise ConfigError(f"MODEL.ARCH must be one of {known}, got {cfg.MODEL.ARCH!r}")
    for name in ("DROPOUT_RATE", "LABEL_SMOOTHING"):
        value = cfg.MODEL[name]
        if not (is_number(value) and 0 <= value < 1):
            raise ConfigError(f"MODEL.{name} must be in [0, 1), got {value!r}")
    for key, allowed, why in _FIXED:
        node, name = key.split(".")
        if cfg[node][name] not in allowed:
            raise ConfigError(
                f"{key} must be one of {list(allowed)} ({why}), got {cfg[node][name]!r}"
            )
    # A silently dropped non-local block would change the network, so refuse it.
    if _flatten(cfg.NONLOCAL.LOCATION):
        raise ConfigError(
            "NONLOCAL.LOCATION must hold no blocks (non-local blocks are not "
            f"implemented), got {cfg.NONLOCAL.LOCATION!r}"
        )
