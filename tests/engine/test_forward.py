"""A model on a batch at a configuration: inputs resized (with the run's align_corners), a
detector's boxes scaled."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mutualnet3d.engine import SubnetConfig, forward_at, mutual_step, resize_input, scale_boxes
from mutualnet3d.engine.forward import batch_inputs, batch_targets
from mutualnet3d.utils.resample import resize_clip


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


# ----------------------------------------------------------------------------------
# align_corners of the sub-networks' resize (MUTUALNET.RESIZE_ALIGN_CORNERS)
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("align_corners", [True, False])
def test_the_resize_is_bilinear_interpolation_with_the_align_corners_asked(align_corners):
    torch.manual_seed(0)
    images = torch.randn(2, 3, 32, 24)  # the short side (24) becomes 16: 21 x 16
    expected = F.interpolate(images, (21, 16), mode="bilinear", align_corners=align_corners)
    resized = resize_clip(images, 16, align_corners=align_corners)
    torch.testing.assert_close(resized, expected, rtol=0, atol=0)
    clip = torch.randn(2, 3, 4, 32, 32)  # frames 0 and 3, each frame resized alone
    frames = [
        F.interpolate(clip[:, :, t], (16, 16), mode="bilinear", align_corners=align_corners)
        for t in (0, 3)
    ]
    resized = resize_clip(clip, 16, 2, align_corners=align_corners)
    torch.testing.assert_close(resized, torch.stack(frames, 2), rtol=0, atol=0)
    # The two rules give different images.
    other = resize_clip(clip, 16, 2, align_corners=not align_corners)
    assert (resized - other).abs().max() > 0.05


def test_align_corners_defaults_to_false_and_reaches_the_slow_pathway_only():
    torch.manual_seed(0)
    slow, fast = torch.randn(2, 3, 4, 32, 32), torch.randn(2, 3, 16, 32, 32)
    config = SubnetConfig(0.5, 16, 2)
    assert torch.equal(resize_input(slow, config), resize_clip(slow, 16, 2, align_corners=False))
    both = resize_input([slow, fast], config, align_corners=True)
    assert torch.equal(both[0], resize_clip(slow, 16, 2, align_corners=True))
    assert both[1] is fast


class _InputRecorder(nn.Module):
    """A classifier of images that keeps every input it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.seen: list[torch.Tensor] = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.fc(x.mean((2, 3)))


@pytest.mark.parametrize("align_corners", [True, False])
def test_mutual_step_resizes_the_students_input_with_the_align_corners_asked(align_corners):
    torch.manual_seed(0)
    model, images = _InputRecorder(), torch.randn(4, 3, 32, 32)
    configs = [SubnetConfig(1.0, 32), SubnetConfig(1.0, 20), SubnetConfig(1.0, 16)]
    mutual_step(
        model,
        images,
        torch.tensor([0, 1, 2, 3]),
        configs,
        nn.CrossEntropyLoss(),
        align_corners=align_corners,
    )
    assert torch.equal(model.seen[0], images)  # the full network: its input as it came
    for seen, size in zip(model.seen[1:], (20, 16)):
        expected = F.interpolate(images, (size, size), mode="bilinear", align_corners=align_corners)
        torch.testing.assert_close(seen, expected, rtol=0, atol=0)
