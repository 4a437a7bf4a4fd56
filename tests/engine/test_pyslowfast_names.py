"""PySlowFast's key names -> PyTorchVideo's, per family, checked against names written
out by hand from both libraries (slowfast/models/video_model_builder.py, stem_helper.py,
resnet_helper.py, head_helper.py; PyTorchVideo's builders)."""

from __future__ import annotations

import pytest
import torch

from mutualnet3d.engine.layer_names import LayerRule, LayerTable
from mutualnet3d.engine.pyslowfast_names import (
    FAMILIES,
    TargetNames,
    best_family,
    is_pyslowfast_state,
    pyslowfast_to_pytorchvideo,
)

from .foreign_formats import pyslowfast_state, reference

SLOW_NAMES = {
    "s1.pathway0_stem.conv.weight": "blocks.0.conv.weight",
    "s1.pathway0_stem.bn.running_var": "blocks.0.norm.running_var",
    "s2.pathway0_res0.branch1.weight": "blocks.1.res_blocks.0.branch1_conv.weight",
    "s2.pathway0_res0.branch1_bn.bias": "blocks.1.res_blocks.0.branch1_norm.bias",
    "s3.pathway0_res3.branch2.a.weight": "blocks.2.res_blocks.3.branch2.conv_a.weight",
    "s4.pathway0_res5.branch2.b_bn.weight": "blocks.3.res_blocks.5.branch2.norm_b.weight",
    "s5.pathway0_res2.branch2.c_bn.running_mean": "blocks.4.res_blocks.2.branch2.norm_c.running_mean",
    "head.projection.weight": "blocks.5.proj.weight",
}
SLOWFAST_NAMES = {
    "s1.pathway0_stem.conv.weight": "blocks.0.multipathway_blocks.0.conv.weight",
    "s1.pathway1_stem.bn.weight": "blocks.0.multipathway_blocks.1.norm.weight",
    "s1_fuse.conv_f2s.weight": "blocks.0.multipathway_fusion.conv_fast_to_slow.weight",
    "s4_fuse.bn.running_mean": "blocks.3.multipathway_fusion.norm.running_mean",
    "s2.pathway1_res0.branch1.weight": "blocks.1.multipathway_blocks.1.res_blocks.0.branch1_conv.weight",
    "s5.pathway0_res2.branch2.c.weight": "blocks.4.multipathway_blocks.0.res_blocks.2.branch2.conv_c.weight",
    "head.projection.bias": "blocks.6.proj.bias",
}
X3D_NAMES = {
    "s1.pathway0_stem.conv_xy.weight": "blocks.0.conv.conv_t.weight",  # the 1x3x3 conv
    "s1.pathway0_stem.conv.weight": "blocks.0.conv.conv_xy.weight",  # the 5x1x1 one
    "s1.pathway0_stem.bn.bias": "blocks.0.norm.bias",
    "s3.pathway0_res0.branch1_bn.running_mean": "blocks.2.res_blocks.0.branch1_norm.running_mean",
    "s3.pathway0_res0.branch2.b_bn.weight": "blocks.2.res_blocks.0.branch2.norm_b.0.weight",
    "s3.pathway0_res0.branch2.se.fc1.weight": "blocks.2.res_blocks.0.branch2.norm_b.1.block.0.weight",
    "s4.pathway0_res2.branch2.se.fc2.bias": "blocks.3.res_blocks.2.branch2.norm_b.1.block.2.bias",
    "s5.pathway0_res1.branch2.c_bn.running_var": "blocks.4.res_blocks.1.branch2.norm_c.running_var",
    "head.conv_5.weight": "blocks.5.pool.pre_conv.weight",
    "head.conv_5_bn.weight": "blocks.5.pool.pre_norm.weight",
    "head.lin_5.weight": "blocks.5.pool.post_conv.weight",
    "head.projection.weight": "blocks.5.proj.weight",
}


@pytest.mark.parametrize(
    "name, family, names",
    [
        ("slow_tiny", "resnet", SLOW_NAMES),
        ("slowfast_tiny", "resnet", SLOWFAST_NAMES),
        ("x3d_tiny", "x3d", X3D_NAMES),
    ],
)
def test_pyslowfast_names_map_to_pytorchvideo_names(name: str, family: str, names: dict) -> None:
    _, state = reference(name)
    assert set(names.values()) <= set(state)
    exported = pyslowfast_state(state, family)  # the tests' own table
    assert set(names) <= set(exported)
    for pyslowfast_name, pytorchvideo_name in names.items():
        assert exported[pyslowfast_name] is state[pytorchvideo_name]
    assert is_pyslowfast_state(exported) and not is_pyslowfast_state(state)
    head = max(k for k in state if k.endswith(".proj.weight")).rpartition(".")[0]
    target = TargetNames.of(state, head, "multipathway" in head or "slowfast" in name)
    assert best_family(exported, state, target) == (family, state)
    assert pyslowfast_to_pytorchvideo(exported, family=family) == state


def test_early_pyslowfast_stem_names_map_too() -> None:
    # Early PySlowFast versions named the stems s{p}_stem (stem_helper.py).
    _, state = reference("slowfast_tiny")
    exported = pyslowfast_state(state, "resnet")
    old = {k.replace("pathway0_stem", "s0_stem"): v for k, v in exported.items()}
    assert pyslowfast_to_pytorchvideo(old) == pyslowfast_to_pytorchvideo(exported) == state


def test_stages_follow_the_blocks_holding_residual_blocks() -> None:
    """C2D and I3D (PyTorchVideo's stage1_pool) have a pooling block after res2: res3 is
    blocks.3, res5 blocks.5; the head blocks.6."""
    keys = ["blocks.0.conv.weight", "blocks.6.proj.weight"]
    keys += [f"blocks.{b}.res_blocks.0.branch2.conv_a.weight" for b in (1, 3, 4, 5)]
    target = TargetNames.of(keys, "blocks.6.proj", two_pathways=False)
    assert target.stage_blocks == (0, 1, 3, 4, 5)
    state = {
        "s3.pathway0_res0.branch2.a.weight": torch.ones(1),
        "s5.pathway0_res0.branch2.a.weight": torch.ones(1),
        "head.projection.weight": torch.ones(1),
    }
    renamed = pyslowfast_to_pytorchvideo(state, target=target)
    assert list(renamed) == [
        "blocks.3.res_blocks.0.branch2.conv_a.weight",
        "blocks.5.res_blocks.0.branch2.conv_a.weight",
        "blocks.6.proj.weight",
    ]


def test_a_second_pathway_has_no_name_in_a_one_pathway_network() -> None:
    state = {
        "s1.pathway1_stem.conv.weight": torch.ones(1),
        "s1.pathway0_stem.conv.weight": torch.ones(1),
    }
    renamed = pyslowfast_to_pytorchvideo(state, target=TargetNames())
    assert list(renamed) == ["s1.pathway1_stem.conv.weight", "blocks.0.conv.weight"]


def test_a_family_is_a_table_of_templates() -> None:
    """A new family is data: its table, added to FAMILIES, is picked where it covers most
    of the model's keys (here: a network built with PySlowFast's own names competes as
    "as is")."""
    table = LayerTable(
        (LayerRule("s{stage}.pathway{p}_res{i}.branch2.a", "{blocks}.{block}.r{i}.a"),)
    )
    assert (
        table.rename("s3.pathway0_res2.branch2.a", lambda f: dict(f, blocks="b", block=2))
        == "b.2.r2.a"
    )
    assert table.rename("s3.pathway0_res2.branch2.b") is None
    assert set(FAMILIES) >= {"resnet", "x3d"}
    own = {"s1.pathway0_stem.conv.weight": torch.ones(1)}
    assert best_family(own, own, TargetNames())[0] == "as is"
