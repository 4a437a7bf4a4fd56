"""PySlowFast's architecture rules as data, resolved into each pathway's explicit sizes.

PySlowFast builds C2D, I3D, Slow and SlowFast from one ResNet (``MODEL.ARCH`` and
``RESNET.*``; SlowFast paper, Table 1; Non-local paper, Table 1): the stage depths of
ResNet-50 and -101, a temporal kernel basis per architecture (the stem's kernel and,
per stage, a pattern repeated over the blocks), the number of leading blocks of each
stage that take it (``RESNET.NUM_BLOCK_TEMP_KERNEL``, the rest take 1), a temporal max
pool after res2 for C2D and I3D ("pool1"), and per-stage spatial strides and dilations.
:func:`resnet_layouts` turns those settings into one :class:`PathwayLayout` per pathway,
which the families pass to PyTorchVideo's builders.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Mapping, Optional, Sequence, Union

__all__ = [
    "POOL1",
    "STAGE_DEPTHS",
    "TEMPORAL_KERNEL_BASIS",
    "PathwayLayout",
    "check_choice",
    "PerStage",
    "per_pathway",
    "resnet_layouts",
]

#: RESNET.DEPTH -> bottleneck blocks in res2, res3, res4, res5
STAGE_DEPTHS: Mapping[int, tuple[int, int, int, int]] = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}

#: MODEL.ARCH -> per pathway: the stem's temporal kernel, then per stage (res2..res5)
#: the temporal kernels of its blocks' first conv, a pattern repeated over the blocks
TEMPORAL_KERNEL_BASIS: Mapping[str, tuple[tuple[tuple[int, ...], ...], ...]] = {
    "c2d": (((1,), (1,), (1,), (1,), (1,)),),
    "i3d": (((5,), (3,), (3, 1), (3, 1), (1, 3)),),
    "slow": (((1,), (1,), (1,), (3,), (3,)),),
    "slowfast": (((1,), (1,), (1,), (3,), (3,)), ((5,), (3,), (3,), (3,), (3,))),
    "x3d": (((5,), (3,), (3,), (3,), (3,)),),
}

#: MODEL.ARCH -> temporal kernel (and stride) of the max pool after res2 (1: none)
POOL1: Mapping[str, int] = {"c2d": 2, "i3d": 2, "slow": 1, "slowfast": 1, "x3d": 1}

#: A per-stage setting: per stage an int (every pathway) or one int per pathway, as
#: PySlowFast's ``[[3], [4], [6], [3]]`` or ``[[3, 3], [4, 4], [6, 6], [3, 3]]``.
PerStage = Sequence[Union[int, Sequence[int]]]


def check_choice(name: str, value: object, choices: Sequence[object]) -> None:
    """Raise ``ValueError("<name>: one of [...], got ...")`` unless ``value`` is a choice."""
    if value not in choices:
        raise ValueError(f"{name}: one of {list(choices)}, got {value!r}")


def per_pathway(name: str, value: PerStage, pathways: int) -> tuple[tuple[int, ...], ...]:
    """``value`` as pathways x 4 stages; a single entry of a stage holds for every pathway.

    Raises:
        ValueError: not four stages, or a stage with another number of entries.
    """
    if isinstance(value, (str, bytes)) or len(value) != 4:
        raise ValueError(f"{name}: one entry per stage (res2..res5) is needed, got {value!r}")
    stages = []
    for stage in value:
        entries = (stage,) if isinstance(stage, int) else tuple(stage)
        if len(entries) == 1:
            entries *= pathways
        if len(entries) != pathways or not all(isinstance(e, int) for e in entries):
            takes = f"1 or {pathways} whole numbers" if pathways > 1 else "one whole number"
            raise ValueError(f"{name}: each stage takes {takes} (per pathway), got {value!r}")
        stages.append(entries)
    return tuple(zip(*stages))


@dataclass(frozen=True)
class PathwayLayout:
    """The sizes of one pathway of a PySlowFast ResNet, every one explicit.

    Attributes:
        stem_kernel: temporal kernel of the stem conv (``stem_kernel`` x 7 x 7).
        block_kernels: per stage, the temporal kernel of each block's first conv (k x 1 x 1).
        spatial_strides: per stage, the stride of its first block's 3x3 conv.
        spatial_dilations: per stage, the dilation of its 3x3 convs.
        pool1: temporal kernel and stride of the max pool after res2 (1: no pool).
    """

    stem_kernel: int
    block_kernels: tuple[tuple[int, ...], ...]
    spatial_strides: tuple[int, ...]
    spatial_dilations: tuple[int, ...]
    pool1: int = 1

    @property
    def spatial_stride(self) -> int:
        """Input pixels per feature of res5: the stem's 2 x 2, times the stages'."""
        return 4 * prod(self.spatial_strides)

    def conv_a_kernel_sizes(self) -> tuple[tuple[tuple[int, int, int], ...], ...]:
        """PyTorchVideo's ``stage_conv_a_kernel_size``: per stage, per block."""
        return tuple(tuple((k, 1, 1) for k in stage) for stage in self.block_kernels)

    def conv_b_dilations(self) -> tuple[tuple[int, int, int], ...]:
        """PyTorchVideo's ``stage_conv_b_dilation``: per stage."""
        return tuple((1, d, d) for d in self.spatial_dilations)


def _block_kernels(
    basis: tuple[int, ...], blocks: int, temporal: Optional[int], where: str
) -> tuple[int, ...]:
    """PySlowFast's rule: the first ``temporal`` blocks repeat ``basis``, the rest take 1."""
    temporal = blocks if temporal is None else temporal
    if not 0 <= temporal <= blocks:
        raise ValueError(
            f"num_block_temp_kernel: {where} has {blocks} blocks, so 0 to {blocks} of them "
            f"can take a temporal kernel, got {temporal}"
        )
    return ((basis * blocks)[:temporal] + (1,) * blocks)[:blocks]


def resnet_layouts(
    arch: str,
    depth: int,
    num_block_temp_kernel: Optional[PerStage],
    spatial_strides: PerStage,
    spatial_dilations: PerStage,
    *,
    pool1: bool = True,
) -> tuple[PathwayLayout, ...]:
    """One :class:`PathwayLayout` per pathway of PySlowFast's ``arch`` at ``depth``.

    Args:
        arch: a key of :data:`TEMPORAL_KERNEL_BASIS` (MODEL.ARCH).
        depth: 50 or 101 (RESNET.DEPTH).
        num_block_temp_kernel: per stage, how many leading blocks take the basis kernel
            (RESNET.NUM_BLOCK_TEMP_KERNEL); ``None``: every block (PySlowFast's
            PyTorchVideo-built ``PTVResNet`` ignores the key).
        spatial_strides, spatial_dilations: per stage (RESNET.SPATIAL_STRIDES,
            SPATIAL_DILATIONS).
        pool1: apply the architecture's pool after res2 (False: ``ResNet_nopool``).

    Raises:
        ValueError: naming the argument at fault.
    """
    check_choice("arch", arch, list(TEMPORAL_KERNEL_BASIS))
    check_choice("depth", depth, list(STAGE_DEPTHS))
    bases = TEMPORAL_KERNEL_BASIS[arch]
    pathways = len(bases)
    temporal = (
        ((None,) * 4,) * pathways
        if num_block_temp_kernel is None
        else per_pathway("num_block_temp_kernel", num_block_temp_kernel, pathways)
    )
    strides = per_pathway("spatial_strides", spatial_strides, pathways)
    dilations = per_pathway("spatial_dilations", spatial_dilations, pathways)
    for name, values in (("spatial_strides", strides), ("spatial_dilations", dilations)):
        if any(v < 1 for pathway in values for v in pathway):
            raise ValueError(f"{name}: whole numbers >= 1, got {values!r}")
    layouts = []
    for p, basis in enumerate(bases):
        kernels = tuple(
            _block_kernels(basis[s + 1], blocks, temporal[p][s], f"pathway {p} res{s + 2}")
            for s, blocks in enumerate(STAGE_DEPTHS[depth])
        )
        pool = POOL1[arch] if pool1 else 1
        layouts.append(PathwayLayout(basis[0][0], kernels, strides[p], dilations[p], pool))
    return tuple(layouts)
