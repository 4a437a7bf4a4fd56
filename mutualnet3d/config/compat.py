"""PySlowFast's keys that this library reads but does not build as PySlowFast does.

Every other key of the defaults is built: a builder or the engine reads it. The keys
here exist so that PySlowFast's YAML files load unchanged, and each says what happens
to it:

* :data:`FIXED`: accepted only at the values that are built; any other value is
  refused at load, because the network or the run would silently differ;
* :data:`NOT_BUILT`: accepted at any value, with no effect; a run names each one set
  to another value than its default (:func:`ignored_settings`), in a warning;
* :data:`EQUIVALENT`: values served another way with the same result; a run says how,
  once, in its log (:func:`equivalent_settings`).

PySlowFast's nodes of features not built here (:data:`NODES_NOT_BUILT`: multigrid
training, MViT, mixup...) are refused at load with a line saying so.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

from fvcore.common.config import CfgNode

from .errors import ConfigError, lookup

__all__ = [
    "EQUIVALENT",
    "FIXED",
    "NODES_NOT_BUILT",
    "NOT_BUILT",
    "check_fixed",
    "equivalent_settings",
    "ignored_settings",
    "not_built_node",
]


class Fixed(NamedTuple):
    key: str
    allowed: tuple[Any, ...]
    why: str


FIXED: tuple[Fixed, ...] = (
    Fixed(
        "RESNET.TRANS_FUNC",
        ("bottleneck_transform", "x3d_transform"),
        "only bottleneck (ResNet) and x3d blocks are built",
    ),
    Fixed("RESNET.STRIDE_1X1", (False,), "the stride is on the 3x3 conv, as PyTorchVideo"),
    Fixed("X3D.SCALE_RES2", (False,), "X3D is built as PyTorchVideo's create_x3d"),
    Fixed("X3D.BN_LIN5", (False,), "X3D is built as PyTorchVideo's create_x3d"),
    Fixed("X3D.CHANNELWISE_3x3x3", (True,), "X3D is built as PyTorchVideo's create_x3d"),
    # Older PySlowFast files set it; the slim BN layers always use PyTorch's 0.1.
    Fixed("BN.MOMENTUM", (0.1,), "the slim BN layers' momentum"),
    # sub_batchnorm (multigrid's) is not built; sync_batchnorm is the slim BN synchronised.
    Fixed(
        "BN.NORM_TYPE",
        ("batchnorm", "sync_batchnorm"),
        "the slim BN layers, synchronised across processes or not",
    ),
    Fixed("DATA.DECODING_BACKEND", ("pyav", "torchvision"), "videos are decoded with PyAV"),
)


class Equivalent(NamedTuple):
    key: str
    values: tuple[Any, ...]
    how: str


EQUIVALENT: tuple[Equivalent, ...] = (
    # PySlowFast's X3D files ask for torchvision's reader; both are FFmpeg's decoder, and
    # the frames of a clip are chosen by the same rule (data/decoder.py) either way.
    Equivalent(
        "DATA.DECODING_BACKEND", ("torchvision",), "decoded with PyAV (FFmpeg, the same frames)"
    ),
)

#: PySlowFast's config nodes of features not built here -> what the feature is.
NODES_NOT_BUILT: dict[str, str] = {
    "MULTIGRID": "multigrid training",
    "MVIT": "MViT networks",
    "MIXUP": "mixup and cutmix",
    "AUG": "RandAugment and random erasing",
    "MASK": "masked pre-training (MaskFeat, MAE)",
    "CONTRASTIVE": "contrastive learning",
    "DEMO": "the webcam and video demo",
    "TASK": "PySlowFast's task switch (ssl, ...)",
}

#: key -> default: read so that PySlowFast's files load, behaviour not built.
NOT_BUILT: dict[str, Any] = {
    "DATA.TRAIN_JITTER_SCALES_RELATIVE": [],
    "DATA.TRAIN_JITTER_ASPECT_RELATIVE": [],
    "DETECTION.SPATIAL_SCALE_FACTOR": 16,
    "DETECTION.ROI_XFORM_RESOLUTION": 7,
    "AVA.TRAIN_USE_COLOR_AUGMENTATION": False,
    "AVA.TEST_FORCE_FLIP": False,
}


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _flatten(item)]
    return [value]


def check_fixed(cfg: CfgNode) -> None:
    """Refuse a :data:`FIXED` key at a value that is not built, and non-local blocks."""
    for key, allowed, why in FIXED:
        if lookup(cfg, key) not in allowed:
            raise ConfigError(
                f"{key} must be one of {list(allowed)} ({why}), got {lookup(cfg, key)!r}"
            )
    # A silently dropped non-local block would change the network, so refuse it.
    if _flatten(cfg.NONLOCAL.LOCATION):
        raise ConfigError(
            "NONLOCAL.LOCATION must hold no blocks (non-local blocks are not "
            f"implemented), got {cfg.NONLOCAL.LOCATION!r}"
        )


def ignored_settings(cfg: CfgNode) -> list[str]:
    """``KEY=value`` for each :data:`NOT_BUILT` key set to another value than its default."""
    return [
        f"{key}={lookup(cfg, key)!r}"
        for key, default in NOT_BUILT.items()
        if lookup(cfg, key) != default
    ]


def equivalent_settings(cfg: CfgNode) -> list[str]:
    """``KEY=value: how it is served`` for each :data:`EQUIVALENT` value a config sets."""
    return [
        f"{key}={lookup(cfg, key)!r}: {how}"
        for key, values, how in EQUIVALENT
        if lookup(cfg, key) in values
    ]


def not_built_node(key: str) -> Optional[str]:
    """Why ``key`` is refused when its node is one of :data:`NODES_NOT_BUILT`, else None."""
    node = key.split(".")[0]
    if node not in NODES_NOT_BUILT:
        return None
    return f"{key}: PySlowFast's {node} node ({NODES_NOT_BUILT[node]}) is not built here"
