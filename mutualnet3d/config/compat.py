"""PySlowFast's keys that this library does not build as PySlowFast does.

Every other key of the defaults is built: a builder or the engine reads it (a test
walks every key). The keys here exist so that PySlowFast's YAML files load unchanged,
and each says what happens to it; none is accepted and then ignored:

* :data:`FIXED`: accepted only at the values that are built; any other value is
  refused at load, because the network or the run would silently differ;
* :data:`INERT`: accepted at any value because they have no effect, here as in
  PySlowFast (the settings of non-local blocks, which must be absent, for example);
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
    "INERT",
    "NODES_NOT_BUILT",
    "check_fixed",
    "equivalent_settings",
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
    Fixed("RESNET.NUM_GROUPS", (1,), "ResNeXt's grouped 3x3 convs are not built"),
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
    Fixed("DIST_BACKEND", ("nccl", "gloo"), "torch.distributed's GPU and CPU backends"),
    # PySlowFast's lists of the families MODEL.ARCH names, by pathway count.
    Fixed(
        "MODEL.SINGLE_PATHWAY_ARCH",
        (["2d", "c2d", "i3d", "slow", "x3d"],),
        "the single-pathway families built here; CSN, R(2+1)D and MViT are not",
    ),
    Fixed(
        "MODEL.MULTI_PATHWAY_ARCH",
        (["slowfast"],),
        "the two-pathway family built here; MODEL.ARCH is checked against the network",
    ),
    Fixed("DETECTION.SPATIAL_SCALE_FACTOR", (16,), "the RoI head pools stride-16 features"),
    Fixed("DETECTION.ROI_XFORM_RESOLUTION", (7,), "PyTorchVideo's RoI head pools 7 x 7"),
    Fixed(
        "AVA.TRAIN_USE_COLOR_AUGMENTATION",
        (False,),
        "colour jitter is built for ImageNet only (DATA.TRAIN_COLOR_JITTER)",
    ),
    Fixed("AVA.TEST_FORCE_FLIP", (False,), "test-time flips are not built"),
    Fixed("AVA.IMG_PROC_BACKEND", ("cv2",), "AVA's transforms follow PySlowFast's cv2 path"),
    # Used by PySlowFast's multigrid schedule only (not built).
    Fixed("SOLVER.GAMMA", (0.1,), "PySlowFast's multigrid schedule only reads it"),
    Fixed("SOLVER.STEP_SIZE", (1,), "PySlowFast's multigrid schedule only reads it"),
    Fixed("SOLVER.WARMUP_FACTOR", (0.1,), "warm-ups start at SOLVER.WARMUP_START_LR"),
)

#: key -> why it has no effect, at any value, here as in PySlowFast.
INERT: dict[str, str] = {
    "NONLOCAL.GROUP": "non-local blocks only (NONLOCAL.LOCATION holds none)",
    "NONLOCAL.INSTANTIATION": "non-local blocks only (NONLOCAL.LOCATION holds none)",
    "NONLOCAL.POOL": "non-local blocks only (NONLOCAL.LOCATION holds none)",
    "RESNET.INPLACE_RELU": "in-place ReLU saves memory; the results are the same",
    # AVA's colour augmentation's setting (AVA.TRAIN_USE_COLOR_AUGMENTATION must stay off).
    "AVA.TRAIN_PCA_JITTER_ONLY": "colour augmentation only (AVA.TRAIN_USE_COLOR_AUGMENTATION)",
}


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
    "BENCHMARK": "the data-loader benchmark",
    "VIS_MASK": "mask visualisation",
    "TENSORBOARD.MODEL_VIS": "model visualisation",
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


def equivalent_settings(cfg: CfgNode) -> list[str]:
    """``KEY=value: how it is served`` for each :data:`EQUIVALENT` value a config sets."""
    return [
        f"{key}={lookup(cfg, key)!r}: {how}"
        for key, values, how in EQUIVALENT
        if lookup(cfg, key) in values
    ]


def not_built_node(key: str) -> Optional[str]:
    """Why ``key`` is refused when its node is one of :data:`NODES_NOT_BUILT`, else None."""
    nodes = [n for n in NODES_NOT_BUILT if key == n or key.startswith(n + ".")]
    if not nodes:
        return None
    node = max(nodes, key=len)
    return f"{key}: PySlowFast's {node} node ({NODES_NOT_BUILT[node]}) is not built here"
