"""Model keys: PySlowFast's MODEL, RESNET, NONLOCAL, SLOWFAST and X3D nodes.

The network itself is chosen by ``MODEL.MODEL_NAME`` (a registered builder); the other
keys are PySlowFast's, with its default values. PySlowFast's own names (``ResNet``,
``SlowFast``, ``X3D``, ``PTVResNet``, ...) build the architecture MODEL.ARCH, RESNET.*
and X3D.* describe; a variant of ours (``i3d_r101``, ``x3d_m``) fixes it, and a key
that contradicts it is refused (at PySlowFast's default, a key defers to the name). A
key no part of the chosen network reads must stay at its default. :mod:`.compat`
refuses the values that would ask for a network this library does not build.
:func:`validate_model` builds the network on the meta device, so that whatever it
cannot be built from is refused at load, and returns its facts (pathways, full
configuration), which the rest of the validation checks the config against.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from fvcore.common.config import CfgNode

from ..models import ModelFacts, describe_model, get_model_builder, model_kwargs
from ..models.build import ARCHITECTURE, CONFIG_KEYS, builder_arguments, fixed_architecture
from .errors import ConfigError, check_choice, check_whole, is_number, lookup

__all__ = ["HEAD_ACTS", "LOSSES", "add_model_config", "validate_model"]

#: MODEL.LOSS_FUNC values the engine builds; the multi-label ones take multi-hot targets
LOSSES = ("cross_entropy", "bce", "bce_logit")
_MULTI_LABEL_LOSSES = ("bce", "bce_logit")
# What a builder raises for arguments it cannot build a network from.
_BUILD_ERRORS = (TypeError, ValueError, AssertionError, RuntimeError, ZeroDivisionError)
#: the activation the evaluation applies to the logits of single-label and of
#: multi-label (and detection) outputs: MODEL.HEAD_ACT's only values
HEAD_ACTS = {False: "softmax", True: "sigmoid"}
# Arguments whose key must stay at its default when the network does not read it: the
# architecture (but MODEL.ARCH and DETECTION.ENABLE: _check_facts) and initialisation.
_UNREAD_AT_DEFAULT = tuple(
    sorted(ARCHITECTURE - {"arch", "detection"})
    + ["zero_init_final_bn", "fc_init_std"]
    + ["alpha", "beta_inv", "fusion_conv_channel_ratio", "fusion_kernel_size"]  # SLOWFAST.*
)


def add_model_config(cfg: CfgNode) -> None:
    """Add the MODEL, RESNET, NONLOCAL, SLOWFAST and X3D nodes."""
    cfg.MODEL = CfgNode()
    cfg.MODEL.ARCH = "slowfast"  # family: 2d, c2d, i3d, slow, slowfast, x3d
    cfg.MODEL.MODEL_NAME = "SlowFast"  # registered builder (models.list_models())
    cfg.MODEL.NUM_CLASSES = 400  # classifier outputs
    cfg.MODEL.LOSS_FUNC = "cross_entropy"  # cross_entropy, bce, bce_logit
    cfg.MODEL.LABEL_SMOOTHING = 0.0  # not PySlowFast's: smoothing of the label loss
    cfg.MODEL.DROPOUT_RATE = 0.5  # dropout before the classifier
    cfg.MODEL.HEAD_ACT = "softmax"  # test activation: softmax, or sigmoid (multi-label)
    cfg.MODEL.FC_INIT_STD = 0.01  # std of the classifier's initial weights
    cfg.MODEL.SINGLE_PATHWAY_ARCH = ["2d", "c2d", "i3d", "slow", "x3d"]
    cfg.MODEL.MULTI_PATHWAY_ARCH = ["slowfast"]
    # Not in PySlowFast (timm's --channels-last): conv weights stored channels-last
    # (channels_last_3d for video, channels_last for images), so activations follow;
    # the same outputs, faster convolutions on tensor-core GPUs. Checkpoints unchanged.
    cfg.MODEL.CHANNELS_LAST = False

    cfg.RESNET = CfgNode()
    cfg.RESNET.DEPTH = 50  # weight layers: 50 or 101 (ResNet, SlowFast)
    cfg.RESNET.NUM_GROUPS = 1  # groups of the 3x3 conv (1: ResNet; ResNeXt not built)
    cfg.RESNET.WIDTH_PER_GROUP = 64  # channels per group in the first stage
    # PySlowFast's default is False, but each of its ResNet and X3D files sets True, as
    # PyTorchVideo's builders do: True here.
    cfg.RESNET.ZERO_INIT_FINAL_BN = True  # each block's last BN starts at gamma 0
    cfg.RESNET.INPLACE_RELU = True  # in-place ReLU (memory only; no effect on results)
    cfg.RESNET.TRANS_FUNC = "bottleneck_transform"  # block: bottleneck or x3d
    cfg.RESNET.STRIDE_1X1 = False  # stride on the 1x1 conv instead of the 3x3
    cfg.RESNET.NUM_BLOCK_TEMP_KERNEL = [[3], [4], [6], [3]]  # blocks with temporal conv
    cfg.RESNET.SPATIAL_STRIDES = [[1], [2], [2], [2]]  # per stage and pathway
    cfg.RESNET.SPATIAL_DILATIONS = [[1], [1], [1], [1]]  # per stage and pathway

    # Non-local blocks are not built here (LOCATION must be empty: compat.py); the keys
    # let PySlowFast's files load.
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


def validate_model(cfg: CfgNode) -> ModelFacts:
    """Refuse model settings that cannot be built; returns the network's facts.

    The name must be registered, the builder must accept what the config gives it, and
    MODEL.ARCH must agree with the network (images for "2d"; two pathways for the
    MULTI_PATHWAY_ARCH families). Messages name the keys.
    """
    model = cfg.MODEL
    known = list(model.SINGLE_PATHWAY_ARCH) + list(model.MULTI_PATHWAY_ARCH)
    check_choice("MODEL.ARCH", model.ARCH, known)
    check_whole("MODEL.NUM_CLASSES", model.NUM_CLASSES, 1)  # 0 would build a headless net
    for name in ("DROPOUT_RATE", "LABEL_SMOOTHING"):
        value = model[name]
        if not (is_number(value) and 0 <= value < 1):
            raise ConfigError(f"MODEL.{name} must be in [0, 1), got {value!r}")
    _validate_loss(cfg)
    try:
        builder = get_model_builder(model.MODEL_NAME)
    except KeyError as error:
        raise ConfigError(f"MODEL.MODEL_NAME: {error.args[0]}") from None
    kwargs = model_kwargs(cfg)
    try:
        facts = describe_model(model.MODEL_NAME, kwargs)
    except _BUILD_ERRORS as error:
        raise _build_error(cfg, kwargs, error) from None
    _check_facts(cfg, facts)
    _check_architecture(cfg, builder)
    return facts


def _build_error(cfg: CfgNode, kwargs: dict[str, Any], error: BaseException) -> ConfigError:
    """The builder's error, naming the config key when it names one of its arguments."""
    name = cfg.MODEL.MODEL_NAME
    argument = re.match(r"^(\w+): (.*)$", str(error), re.DOTALL)
    if argument and argument[1] in kwargs and argument[1] in CONFIG_KEYS:
        key = CONFIG_KEYS[argument[1]]
        return ConfigError(
            f"{key} {lookup(cfg, key)!r} cannot be built by MODEL.MODEL_NAME {name!r}: "
            f"{argument[2]}"
        )
    return ConfigError(
        f"MODEL.MODEL_NAME {name!r} cannot be built with {kwargs}: "
        f"{type(error).__name__}: {error}"
    )


def _as_tuples(value: Any) -> Any:
    return tuple(map(_as_tuples, value)) if isinstance(value, (list, tuple)) else value


def _same(value: Any, other: Any) -> bool:
    """Equal settings, where per stage one entry stands for that entry in every pathway
    (``[[3], [4]]`` is ``[[3, 3], [4, 4]]`` and ``(3, 4)``)."""
    value, other = _as_tuples(value), _as_tuples(other)
    if not (isinstance(value, tuple) and isinstance(other, tuple) and len(value) == len(other)):
        return value == other
    stages = [(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,))
              for a, b in zip(value, other)]
    return all(a == b or set(a) == set(b) and 1 in (len(a), len(b)) for a, b in stages)


def _check_architecture(cfg: CfgNode, builder: Callable[..., Any]) -> None:
    """Keys the network does not read agree with what it builds, or stay at default.

    A variant fixes its architecture: a key set to another value than PySlowFast's
    default must match it. A key no argument of the builder reads must be at default.
    """
    defaults = CfgNode()
    add_model_config(defaults)
    name, declared = cfg.MODEL.MODEL_NAME, builder_arguments(builder)
    for argument, built in fixed_architecture(builder).items():
        key = CONFIG_KEYS[argument]
        if key == "DETECTION.ENABLE":
            continue  # _check_facts: the network detects or not
        value, default = lookup(cfg, key), lookup(defaults, key)
        # MODEL.ARCH must name the family itself: its default is the two-pathway one.
        deferring = _same(value, default) and key != "MODEL.ARCH"
        if not (_same(value, built) or deferring):
            advice = "set it to that" if key == "MODEL.ARCH" else (
                f"leave {key} at PySlowFast's default {default!r} or set it to that"
            )
            raise ConfigError(
                f"{key} {value!r} does not match MODEL.MODEL_NAME {name!r}, which is "
                f"built with {argument}={built!r} ({advice})"
            )
    for argument in _UNREAD_AT_DEFAULT:
        key = CONFIG_KEYS[argument]
        value, default = lookup(cfg, key), lookup(defaults, key)
        if argument not in declared and not _same(value, default):
            raise ConfigError(
                f"{key} {value!r} is not read by MODEL.MODEL_NAME {name!r}: it must stay "
                f"at its default {default!r}"
            )


def _validate_loss(cfg: CfgNode) -> None:
    model = cfg.MODEL
    check_choice("MODEL.LOSS_FUNC", model.LOSS_FUNC, LOSSES)
    multi_label = cfg.DATA.MULTI_LABEL or cfg.DETECTION.ENABLE
    def targets(multi: bool) -> str:
        kind = "multi-hot targets" if multi else "one label per clip"
        return (f"{kind} (DATA.MULTI_LABEL {cfg.DATA.MULTI_LABEL}, DETECTION.ENABLE "
                f"{cfg.DETECTION.ENABLE})")

    if multi_label != (model.LOSS_FUNC in _MULTI_LABEL_LOSSES):
        raise ConfigError(
            f"MODEL.LOSS_FUNC {model.LOSS_FUNC!r} does not fit {targets(multi_label)}: use "
            f"{'bce_logit or bce' if multi_label else 'cross_entropy'}"
        )
    # The networks give logits; the evaluation applies softmax to single-label outputs
    # and sigmoid to multi-label ones. PySlowFast's default softmax defers to that (its
    # Charades and AVA files set sigmoid); any other value must say what is applied.
    head_act = HEAD_ACTS[multi_label]
    if model.HEAD_ACT not in (head_act, "softmax"):
        raise ConfigError(
            f"MODEL.HEAD_ACT {model.HEAD_ACT!r} does not fit {targets(multi_label)}: the "
            f"evaluation applies {head_act} to the network's logits"
        )
    if model.LABEL_SMOOTHING and model.LOSS_FUNC != "cross_entropy":
        raise ConfigError(
            f"MODEL.LABEL_SMOOTHING ({model.LABEL_SMOOTHING}) smooths cross_entropy only, "
            f"but MODEL.LOSS_FUNC is {model.LOSS_FUNC!r}"
        )


def _check_facts(cfg: CfgNode, facts: ModelFacts) -> None:
    """MODEL.ARCH, DETECTION.ENABLE and DATA.INPUT_CHANNEL_NUM agree with the network,
    and its Slow pathway gets frames."""
    model = cfg.MODEL
    image = facts.input_kind == "image"
    two = facts.num_pathways == 2
    if (model.ARCH == "2d") != image or (model.ARCH in model.MULTI_PATHWAY_ARCH) != two:
        takes = "images" if image else f"video in {facts.num_pathways} pathway(s)"
        raise ConfigError(
            f"MODEL.ARCH {model.ARCH!r} does not match MODEL.MODEL_NAME "
            f"{model.MODEL_NAME!r}, which takes {takes}"
        )
    if not cfg.DETECTION.ENABLE and not cfg.DETECTION.ALIGNED:
        raise ConfigError(
            "DETECTION.ALIGNED False is read by detectors only (DETECTION.ENABLE False): "
            "it must stay at its default True"
        )
    if cfg.DETECTION.ENABLE != facts.detects:
        raise ConfigError(
            f"DETECTION.ENABLE is {cfg.DETECTION.ENABLE} but MODEL.MODEL_NAME "
            f"{model.MODEL_NAME!r} {'detects' if facts.detects else 'does not detect'}: "
            "detection (AVA) takes a network with an RoI head (the *_detection models)"
        )
    if facts.full.temporal == 0:
        raise ConfigError(
            f"DATA.NUM_FRAMES {cfg.DATA.NUM_FRAMES} gives the Slow pathway no frame "
            f"(DATA.NUM_FRAMES // SLOWFAST.ALPHA {facts.alpha} = 0)"
        )
    channels = list(cfg.DATA.INPUT_CHANNEL_NUM)
    if channels != [3] * facts.num_pathways:
        raise ConfigError(
            f"DATA.INPUT_CHANNEL_NUM must be {[3] * facts.num_pathways} (RGB for each of "
            f"{model.MODEL_NAME}'s pathways), got {channels!r}"
        )
