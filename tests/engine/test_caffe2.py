"""Caffe2 pickles: the restricted unpickler's allow-list, Python 2 pickles, blob names."""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict

import numpy as np
import pytest

from mutualnet3d.engine.caffe2 import (
    ALLOWED_GLOBALS,
    ForbiddenGlobal,
    caffe2_blobs,
    caffe2_to_pyslowfast,
    read_pickle,
)

from .foreign_formats import python2_pickle

# Caffe2 blob -> PySlowFast name: the examples of PySlowFast's c2_model_loading.py and
# names of its Caffe2 model zoo (SLOWFAST_8x8_R50.pkl, X3D's), written out by hand.
CAFFE2_NAMES = {
    "conv1_w": "s1.pathway0_stem.conv.weight",
    "res_conv1_bn_s": "s1.pathway0_stem.bn.weight",
    "res_conv1_bn_riv": "s1.pathway0_stem.bn.running_var",
    "t_conv1_w": "s1.pathway1_stem.conv.weight",
    "t_res_conv1_bn_rm": "s1.pathway1_stem.bn.running_mean",
    "res4_0_branch1_w": "s4.pathway0_res0.branch1.weight",
    "res4_0_branch1_bn_b": "s4.pathway0_res0.branch1_bn.bias",
    "res4_4_branch2c_bn_b": "s4.pathway0_res4.branch2.c_bn.bias",
    "t_res3_1_branch2a_w": "s3.pathway1_res1.branch2.a.weight",
    "t_pool1_subsample_w": "s1_fuse.conv_f2s.weight",
    "t_pool1_subsample_bn_rm": "s1_fuse.bn.running_mean",
    "t_res4_5_branch2c_bn_subsample_w": "s4_fuse.conv_f2s.weight",
    "t_res4_5_branch2c_bn_subsample_bn_riv": "s4_fuse.bn.running_var",
    "conv1_xy_w": "s1.pathway0_stem.conv_xy.weight",
    "res2_0_branch2b_bn_fc1_w": "s2.pathway0_res0.branch2.se.fc1.weight",
    "res2_0_branch2b_bn_fc2_b": "s2.pathway0_res0.branch2.se.fc2.bias",
    "conv_5_w": "head.conv_5.weight",
    "conv_5_bn_s": "head.conv_5_bn.weight",
    "lin_5_w": "head.lin_5.weight",
    "pred_w": "head.projection.weight",
    "pred_b": "head.projection.bias",
}


def test_caffe2_blob_names_map_to_pyslowfast_names() -> None:
    blobs = {name: np.full((2,), i, np.float32) for i, name in enumerate(CAFFE2_NAMES)}
    blobs.update({"res2_0_branch2a_w_momentum": np.ones(1, np.float32), "lr": np.ones(1)})
    blobs["model_iter"] = np.ones(1, np.int64)
    blobs["nonlocal_conv3_1_theta_w"] = np.ones(1, np.float32)  # not built: keeps its name
    blobs["names"] = np.array(["a"], dtype=object)  # not numeric
    state, skipped = caffe2_to_pyslowfast(blobs)
    assert skipped == ["res2_0_branch2a_w_momentum", "lr", "model_iter", "names"]
    assert list(state) == [*CAFFE2_NAMES.values(), "nonlocal_conv3_1_theta_w"]
    assert [int(state[v][0]) for v in CAFFE2_NAMES.values()] == list(range(len(CAFFE2_NAMES)))


def test_a_python2_pickle_of_numpy_arrays_reads_back_exactly() -> None:
    """Python 2 wrote NumPy's raw data as str and NumPy 1's names (numpy.core...)."""
    arrays = {"conv1_w": np.random.rand(2, 3, 1, 7, 7).astype(np.float32), "lr": np.float32(0.1)}
    data = python2_pickle({b"blobs": {k.encode(): v for k, v in arrays.items()}})
    assert b"numpy.core.multiarray" in data
    loaded = caffe2_blobs(read_pickle(io.BytesIO(data), "model.pkl"), "model.pkl")
    assert list(loaded) == ["conv1_w", "lr"]
    np.testing.assert_array_equal(loaded["conv1_w"], arrays["conv1_w"])
    assert loaded["lr"] == np.float32(0.1)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_python3_pickles_of_plain_containers_read_back(protocol: int) -> None:
    payload = {"blobs": OrderedDict(w=np.arange(6.0).reshape(2, 3)), "tags": {1, 2}, "b": b"x"}
    loaded = read_pickle(io.BytesIO(pickle.dumps(payload, protocol=protocol)), "m.pkl")
    assert loaded["tags"] == {1, 2} and loaded["b"] == b"x"
    np.testing.assert_array_equal(loaded["blobs"]["w"], payload["blobs"]["w"])


def test_the_allow_list_is_numpy_reconstruction_and_containers_only() -> None:
    modules = {module for module, _ in ALLOWED_GLOBALS}
    assert modules == {
        "numpy",
        "numpy.core.multiarray",
        "numpy._core.multiarray",
        "numpy.core.numeric",
        "numpy._core.numeric",
        "builtins",
        "collections",
        "_codecs",
    }
    assert ("builtins", "eval") not in ALLOWED_GLOBALS and (
        "builtins",
        "getattr",
    ) not in ALLOWED_GLOBALS


def test_a_forbidden_global_names_the_file_and_the_global() -> None:
    data = b"\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."
    with pytest.raises(
        ForbiddenGlobal, match=r"^zoo/model\.pkl: refused to unpickle the global posix\.system"
    ):
        read_pickle(io.BytesIO(data), "zoo/model.pkl")
    # Python 2's module names are checked under their Python 3 names.
    data = b"\x80\x02c__builtin__\neval\nq\x00."
    with pytest.raises(ForbiddenGlobal, match=r"builtins\.eval"):
        read_pickle(io.BytesIO(data), "m.pkl")
