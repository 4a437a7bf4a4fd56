"""Export on CUDA: each format's file, written from the adaptive network on the GPU, gives
its logits there (deploy/export.py's verification, then the file run again here).

Marked ``cuda``: skipped, saying so, without a GPU (tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import copy
import json

import pytest
import torch

from mutualnet3d.config import load_config
from mutualnet3d.deploy import (
    by_configuration,
    calibrated_checkpoint,
    export_configuration,
    load_runner,
    parse_configuration,
)
from mutualnet3d.engine.evaluate import forward_configs
from mutualnet3d.engine.spec import RunSpec
from mutualnet3d.slim import SubnetConfig
from tests.cuda.helpers import float32_only

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning"),
]

CUDA = torch.device("cuda")


@pytest.mark.parametrize("fmt", ["torchscript", "pt", "onnx"])
@pytest.mark.parametrize("configuration", ["0.5,16,2", "1.0,32,8"])  # resized + picked, full
def test_an_export_on_cuda_equals_the_adaptive_network_there(
    tiny_run, adaptive, fmt, configuration, tmp_path
):
    # onnxruntime runs float32 on the CPU: no TF32 on the GPU's side either.
    with float32_only() if fmt == "onnx" else contextlib.nullcontext():
        _export_and_check(tiny_run, adaptive, fmt, configuration, tmp_path)


def _export_and_check(tiny_run, adaptive, fmt, configuration, tmp_path):
    spec = RunSpec.from_cfg(load_config(tiny_run.cfg, tiny_run.opts))
    model, batch = adaptive
    model, batch = copy.deepcopy(model).to(CUDA).eval(), batch.to(CUDA)
    row = by_configuration(tiny_run.rows, *parse_configuration(configuration))
    paths = export_configuration(
        model,
        row,
        model_name=spec.model.name,
        metric="top1",
        fmt=fmt,
        out_dir=tmp_path / "out",
        input_size="full",
        align_corners=spec.resize_align_corners,
        data=spec.train_data,
        multi_label=spec.multi_label,
        checkpoint=calibrated_checkpoint(spec.output_dir),
        batches=[batch],
    )  # raises ExportMismatch beyond 1e-4
    card = json.loads(paths["card"].read_text())
    assert card["verification"]["max_abs_logits_difference"] <= 1e-4
    got = load_runner(fmt, str(paths["model"]))([batch])
    assert got.is_cuda
    config = SubnetConfig(row.width, row.spatial, row.temporal)
    expected = forward_configs(model, batch, [config])[0]
    assert (got.float() - expected).abs().max().item() <= 1e-4
