"""A model on a batch at a configuration: inputs resized, a detector's boxes scaled."""

import torch
import torch.nn as nn

from mutualnet3d.engine import SubnetConfig, forward_at, scale_boxes
from mutualnet3d.engine.forward import batch_inputs, batch_targets


def test_boxes_scale_with_the_slow_pathway_and_keep_their_batch_index():
    boxes = torch.tensor([[0.0, 8.0, 4.0, 24.0, 32.0], [1.0, 0.0, 0.0, 32.0, 16.0]])
    scaled = scale_boxes(boxes, (32, 32), (16, 24))
    torch.testing.assert_close(
        scaled, torch.tensor([[0.0, 6.0, 2.0, 18.0, 16.0], [1.0, 0.0, 0.0, 24.0, 8.0]])
    )

    seen = {}

    class Recorder(nn.Module):
        def forward(self, clip, boxes):
            seen["clip"], seen["boxes"] = clip, boxes
            return torch.zeros(len(boxes), 3)

    slow, fast = torch.randn(2, 3, 4, 32, 32), torch.randn(2, 3, 16, 32, 32)
    forward_at(Recorder(), [slow, fast], SubnetConfig(0.5, 16, 2), boxes)
    assert seen["clip"][0].shape == (2, 3, 2, 16, 16) and seen["clip"][1].shape == fast.shape
    torch.testing.assert_close(seen["boxes"], boxes * torch.tensor([1.0, 0.5, 0.5, 0.5, 0.5]))


def test_batches_give_one_tensor_per_pathway_count_and_the_right_targets():
    clip = torch.zeros(2, 3, 4, 8, 8)
    batch = {"inputs": [clip], "label": torch.tensor([1, 0])}
    assert torch.equal(batch_inputs(batch, torch.device("cpu"), 1), clip)
    assert isinstance(batch_inputs({"inputs": [clip, clip]}, torch.device("cpu"), 2), list)
    assert torch.equal(batch_targets(batch, torch.device("cpu")), torch.tensor([1, 0]))
    detection = {"inputs": [clip], "boxes": torch.zeros(3, 5), "labels": torch.ones(3, 4)}
    assert batch_targets(detection, torch.device("cpu")).shape == (3, 4)
