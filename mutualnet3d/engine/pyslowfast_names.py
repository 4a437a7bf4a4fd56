"""PySlowFast's key names -> PyTorchVideo's (which our video networks keep), per family.

PySlowFast's own models (``slowfast/models/video_model_builder.py``) name their stages
``s1`` (the stem, ``stem_helper.VideoModelStem``: ``pathway{p}_stem``, early versions
``s{p}_stem``) to ``s5`` (``resnet_helper.ResStage``: blocks ``pathway{p}_res{i}``), the
SlowFast fusions ``s1_fuse`` .. ``s4_fuse`` and the head ``head`` (``head_helper``).
PyTorchVideo's builders name the same layers ``blocks.0`` (stem) .. ``blocks.4``
(stages), SlowFast's pathways ``multipathway_blocks.{p}`` and its fusion
``multipathway_fusion``; the classifier is the model's ``head_name``.

A family's mapping is a :class:`~.layer_names.LayerTable` in :data:`FAMILIES`; the
target templates may use:

* ``{blocks}``: the model's block list (``blocks``; a detector's ``model.blocks``);
* ``{block}``: the index in ``{blocks}`` of PySlowFast's stage ``{stage}`` (the stem is
  block 0, the stages the blocks holding ``res_blocks`` in order: C2D and I3D have a
  pooling block after res2, so their res3 is block 3);
* ``{path}``: ``.multipathway_blocks.{p}`` in a two-pathway network, else empty (a
  key of pathway 1 then has no name in the model);
* ``{head}``, ``{head_block}``: the model's classifier and the block holding it;
* any field of the source template (``{i}``, ``{p}``...).

A new family (say a PySlowFast layout of another network) adds a table to
:data:`FAMILIES`; :func:`best_family` picks, for a given model, the table whose names
cover most of the model's keys, so nothing else changes.

X3D comes in two layouts that one table names alike: PySlowFast's ``X3D`` normalises
the shortcut of res2's first block (``s2.pathway0_res0.branch1_bn``), PyTorchVideo's
(its hub files, PySlowFast's ``PTVX3D``) does not. A file of one layout loaded into a
model of the other is told so by :func:`x3d_layout_hint`, naming the model to build.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, NamedTuple, Optional

import torch

from .layer_names import LayerRule, LayerTable

__all__ = [
    "FAMILIES",
    "RESNET",
    "X3D",
    "X3D_LAYOUTS",
    "X3D_SHORTCUT_BN",
    "TargetNames",
    "best_family",
    "is_pyslowfast_state",
    "pyslowfast_to_pytorchvideo",
    "x3d_layout_hint",
]

_RES = "s{stage}.pathway{p}_res{i}"  # resnet_helper.ResStage's blocks
_PTV_RES = "{blocks}.{block}{path}.res_blocks.{i}"

#: Slow, SlowFast, C2D, I3D (``ResNet``, ``SlowFast`` of video_model_builder.py, any
#: depth), bottleneck blocks (``resnet_helper.BottleneckTransform``: a, b, c).
RESNET = LayerTable(
    (
        LayerRule("s1.pathway{p}_stem.conv", "{blocks}.0{path}.conv"),
        LayerRule("s1.pathway{p}_stem.bn", "{blocks}.0{path}.norm"),
        LayerRule("s1.s{p}_stem.conv", "{blocks}.0{path}.conv"),  # early PySlowFast
        LayerRule("s1.s{p}_stem.bn", "{blocks}.0{path}.norm"),
        LayerRule(f"{_RES}.branch1", f"{_PTV_RES}.branch1_conv"),
        LayerRule(f"{_RES}.branch1_bn", f"{_PTV_RES}.branch1_norm"),
        *(LayerRule(f"{_RES}.branch2.{x}", f"{_PTV_RES}.branch2.conv_{x}") for x in "abc"),
        *(LayerRule(f"{_RES}.branch2.{x}_bn", f"{_PTV_RES}.branch2.norm_{x}") for x in "abc"),
        LayerRule(
            "s{stage}_fuse.conv_f2s", "{blocks}.{block}.multipathway_fusion.conv_fast_to_slow"
        ),
        LayerRule("s{stage}_fuse.bn", "{blocks}.{block}.multipathway_fusion.norm"),
        LayerRule("head.projection", "{head}"),
    )
)

#: PySlowFast's ``X3D`` (stem_helper.X3DStem, resnet_helper.X3DTransform with its SE,
#: head_helper.X3DHead) -> PyTorchVideo's ``create_x3d``. PyTorchVideo's stem holds the
#: 1x3x3 convolution as ``conv_t`` and the temporal one as ``conv_xy``; its ``norm_b`` is
#: (BN, SE or Identity); its head's ProjectedPool holds conv_5 and lin_5.
X3D = LayerTable(
    (
        LayerRule("s1.pathway0_stem.conv_xy", "{blocks}.0.conv.conv_t"),
        LayerRule("s1.pathway0_stem.conv", "{blocks}.0.conv.conv_xy"),
        LayerRule("s1.pathway0_stem.bn", "{blocks}.0.norm"),
        LayerRule(f"{_RES}.branch1", f"{_PTV_RES}.branch1_conv"),
        LayerRule(f"{_RES}.branch1_bn", f"{_PTV_RES}.branch1_norm"),
        *(LayerRule(f"{_RES}.branch2.{x}", f"{_PTV_RES}.branch2.conv_{x}") for x in "abc"),
        LayerRule(f"{_RES}.branch2.a_bn", f"{_PTV_RES}.branch2.norm_a"),
        LayerRule(f"{_RES}.branch2.b_bn", f"{_PTV_RES}.branch2.norm_b.0"),
        LayerRule(f"{_RES}.branch2.se.fc1", f"{_PTV_RES}.branch2.norm_b.1.block.0"),
        LayerRule(f"{_RES}.branch2.se.fc2", f"{_PTV_RES}.branch2.norm_b.1.block.2"),
        LayerRule(f"{_RES}.branch2.c_bn", f"{_PTV_RES}.branch2.norm_c"),
        LayerRule("head.conv_5", "{head_block}.pool.pre_conv"),
        LayerRule("head.conv_5_bn", "{head_block}.pool.pre_norm"),
        LayerRule("head.lin_5", "{head_block}.pool.post_conv"),
        LayerRule("head.lin_5_bn", "{head_block}.pool.post_norm"),
        LayerRule("head.projection", "{head}"),
    )
)

#: family -> its table; best_family tries them in this order (ties: the first)
FAMILIES: dict[str, LayerTable] = {"resnet": RESNET, "x3d": X3D}


class TargetNames(NamedTuple):
    """Where a model keeps what the templates name (see the module docstring)."""

    blocks: str = "blocks"
    head: str = "blocks.5.proj"
    two_pathways: bool = False
    stage_blocks: tuple[int, ...] = (0, 1, 2, 3, 4)  # PySlowFast's s1..s5 -> block index

    @classmethod
    def of(cls, model_keys: Iterable[str], head: str, two_pathways: bool) -> "TargetNames":
        """A model's names: PyTorchVideo's detectors hold their backbone as
        ``model.blocks``, classifiers as ``blocks``; the stages are the blocks holding
        residual blocks."""
        keys = list(model_keys)
        detector = any(k.startswith("model.blocks.") for k in keys)
        blocks = "model.blocks" if detector else "blocks"
        stage = re.compile(
            rf"^{re.escape(blocks)}\.(\d+)\.(?:multipathway_blocks\.\d+\.)?res_blocks\."
        )
        found = sorted({int(m.group(1)) for k in keys if (m := stage.match(k))})
        stage_blocks = (0, *found) if found else cls._field_defaults["stage_blocks"]
        return cls(blocks, head, two_pathways, stage_blocks)


def _layer_and_tensor(key: str) -> tuple[str, str]:
    layer, _, tensor = key.rpartition(".")
    return layer, tensor


def is_pyslowfast_state(state: Iterable[str]) -> bool:
    """Whether any key (prefixes already stripped) has a name of a PySlowFast family."""
    return any(
        table.matches(_layer_and_tensor(key)[0]) for key in state for table in FAMILIES.values()
    )


def _fields(target: TargetNames) -> Any:
    head_block = target.head.rpartition(".")[0]

    def complete(found: dict[str, str]) -> Optional[dict[str, object]]:
        pathway = int(found.get("p", 0))
        if pathway and not target.two_pathways:
            return None
        path = f".multipathway_blocks.{pathway}" if target.two_pathways else ""
        values: dict[str, object] = dict(found, path=path, head_block=head_block)
        values.update(blocks=target.blocks, head=target.head)
        if "stage" in found:
            stage = int(found["stage"])
            if not 1 <= stage <= len(target.stage_blocks):
                return None
            values["block"] = target.stage_blocks[stage - 1]
        return values

    return complete


def pyslowfast_to_pytorchvideo(
    state: Mapping[str, torch.Tensor],
    *,
    family: str = "resnet",
    target: Optional[TargetNames] = None,
) -> dict[str, torch.Tensor]:
    """PySlowFast keys renamed to PyTorchVideo's by ``family``'s table.

    A key the table does not name (a non-local block, another family's layer...) keeps
    its name, so that loading reports it as unexpected. Tensors are shared, not copied.

    Args:
        state: PySlowFast names (``module.`` prefixes already stripped).
        family: a key of :data:`FAMILIES`.
        target: the model's names (default: a classifier's ``blocks``, its head at
            ``blocks.5.proj`` for one pathway or ``blocks.6.proj`` for two, two pathways
            when the file has a fusion or a pathway-1 key).
    """
    if target is None:
        two = any("_fuse." in k or ".pathway1_" in k or ".s1_stem." in k for k in state)
        target = TargetNames("blocks", f"blocks.{6 if two else 5}.proj", two)
    table, complete = FAMILIES[family], _fields(target)
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        layer, tensor = _layer_and_tensor(key)
        renamed = table.rename(layer, complete)
        out[key if renamed is None else f"{renamed}.{tensor}"] = value
    return out


def best_family(
    state: Mapping[str, torch.Tensor], model_keys: Iterable[str], target: TargetNames
) -> tuple[str, dict[str, torch.Tensor]]:
    """``(family, renamed state)`` of the family whose names cover most model keys.

    ``"as is"`` (no renaming) competes too, for networks built with PySlowFast's own
    names.
    """
    keys = set(model_keys)
    best, renamed = "as is", dict(state)
    score = len(keys.intersection(renamed))
    for family in FAMILIES:
        candidate = pyslowfast_to_pytorchvideo(state, family=family, target=target)
        covered = len(keys.intersection(candidate))
        if covered > score:
            best, renamed, score = family, candidate, covered
    return best, renamed


# --------------------------------------------------------------------------------------
# X3D's two layouts
# --------------------------------------------------------------------------------------
#: res2's first shortcut convolution and the BN that PySlowFast's X3D has after it and
#: PyTorchVideo's lacks, in PyTorchVideo's names
X3D_SHORTCUT = "blocks.1.res_blocks.0.branch1_conv"
X3D_SHORTCUT_BN = "blocks.1.res_blocks.0.branch1_norm"
_X3D_STEM = "blocks.0.conv.conv_t.weight"  # X3D's stem (a ResNet's is blocks.0.conv)
_BN_TENSORS = ("weight", "bias", "running_mean", "running_var")

#: PySlowFast's layout (True) or PyTorchVideo's (False): what it is, and the model
#: names that build it (PySlowFast's MODEL.MODEL_NAME, our variants)
X3D_LAYOUTS: dict[bool, tuple[str, str]] = {
    True: (
        "PySlowFast's X3D layout (a BN on res2's first shortcut, s2.pathway0_res0.branch1_bn)",
        "MODEL.MODEL_NAME X3D or the variants x3d_xs_pyslowfast, x3d_s_pyslowfast, "
        "x3d_m_pyslowfast, x3d_l_pyslowfast",
    ),
    False: (
        "PyTorchVideo's X3D layout (no BN on res2's first shortcut: PyTorchVideo's hub "
        "files, PySlowFast's PTVX3D)",
        "MODEL.MODEL_NAME PTVX3D or the variants x3d_xs, x3d_s, x3d_m, x3d_l",
    ),
}


def x3d_layout_hint(model_keys: Iterable[str], file_keys: Iterable[str]) -> Optional[str]:
    """Which X3D layout the file has and which model to build, when the model is an X3D
    of the other layout; None otherwise.

    The file has PySlowFast's layout when it holds any tensor of
    :data:`X3D_SHORTCUT_BN`, PyTorchVideo's when it holds res2's first shortcut
    convolution but none of that BN.

    Args:
        model_keys: the model's state-dict keys.
        file_keys: the file's keys under the model's names (after renaming).
    """
    model, found = set(model_keys), set(file_keys)
    if _X3D_STEM not in model or f"{X3D_SHORTCUT}.weight" not in model:
        return None
    shortcut_bn = {f"{X3D_SHORTCUT_BN}.{t}" for t in _BN_TENSORS}
    model_layout = shortcut_bn <= model
    if found & shortcut_bn:
        file_layout = True
    elif f"{X3D_SHORTCUT}.weight" in found:
        file_layout = False
    else:
        return None  # the file says nothing of the layout
    if file_layout == model_layout:
        return None
    (has, use), (other, instead) = X3D_LAYOUTS[file_layout], X3D_LAYOUTS[model_layout]
    return f"the file has {has}, the model {other}: for this file build {use} (not {instead})"
