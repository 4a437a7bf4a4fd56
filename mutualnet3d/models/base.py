"""The one contract every network of the library follows (style guide, principle 6).

2D classifiers, video classifiers and video detectors are all :class:`SlimNet`: the rest
of the library asks the model, not the config, what it takes (``input_kind``,
``num_pathways``, ``detects``), its full configuration (``full_config()``) and a valid
input (``example_args()``). The width is switched for the whole model with
:func:`mutualnet3d.slim.set_width`.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import torch
import torch.nn as nn

from ..slim import SlimLinear, SubnetConfig

__all__ = ["SlimNet", "ModelInput", "init_conv", "init_weights"]

#: (B, 3, H, W) images, (B, 3, T, H, W) clips, or [slow, fast] clips of two pathways
ModelInput = Union[torch.Tensor, Sequence[torch.Tensor]]


class SlimNet(nn.Module):
    """Base of every slimmable network.

    Subclasses implement ``forward_features`` (input -> features) and keep their final
    linear layer at the qualified name ``head_name``; ``forward_head`` turns features
    into scores (default: the final linear layer alone).

    Class attributes:
        head_name: qualified name of the final linear layer.
        input_kind: ``"image"`` (B, 3, H, W) or ``"video"`` (B, 3, T, H, W), or a list
            ``[slow, fast]`` of clips for two pathways.
        detects: a detector, whose ``forward`` also takes boxes (N, 5) = (batch index,
            x1, y1, x2, y2) in input pixels and scores each box.

    Args:
        crop_size: input size (pixels) of the full configuration.
        num_frames: Slow (or single) pathway frames of the full configuration; ``None``
            for images.
        alpha: Fast / Slow frame-rate ratio of a two-pathway network, else ``None``.
    """

    head_name: str = "fc"
    input_kind: str = "image"
    detects: bool = False

    def __init__(
        self, *, crop_size: int, num_frames: Optional[int] = None, alpha: Optional[int] = None
    ) -> None:
        super().__init__()
        if self.input_kind not in ("image", "video"):
            raise ValueError(f"input_kind must be 'image' or 'video', got {self.input_kind!r}")
        if (num_frames is None) != (self.input_kind == "image"):
            raise ValueError(f"num_frames must be given for video only, got {num_frames!r}")
        if alpha is not None and self.input_kind == "image":
            raise ValueError(f"alpha is for two-pathway video networks, got {alpha!r}")
        self.crop_size = crop_size
        self.num_frames = num_frames
        self.alpha = alpha

    @property
    def num_pathways(self) -> int:
        """2 for SlowFast (``[slow, fast]`` inputs), else 1."""
        return 1 if self.alpha is None else 2

    def full_config(self) -> SubnetConfig:
        """The full configuration: width 1.0, ``crop_size`` px, ``num_frames`` frames."""
        return SubnetConfig(1.0, self.crop_size, self.num_frames)

    # -- forward ------------------------------------------------------------------------
    def forward_features(self, x: ModelInput) -> Any:  # pragma: no cover
        raise NotImplementedError

    def forward_head(self, features: Any, *head_args: torch.Tensor) -> torch.Tensor:
        return self.get_classifier()(features)

    def forward(self, x: ModelInput, *head_args: torch.Tensor) -> torch.Tensor:
        """Scores: (B, classes), or (N, classes) for the N boxes of a detector."""
        return self.forward_head(self.forward_features(x), *head_args)

    # -- the classifier -----------------------------------------------------------------
    def get_classifier(self) -> nn.Linear:
        return self.get_submodule(self.head_name)

    @torch.no_grad()
    def reset_classifier(self, num_classes: int) -> None:
        """A freshly initialised final linear layer for ``num_classes``.

        N(0, 0.01) weights, zero bias, the same input rule. With the current class
        count the layer is re-initialised in place, so an optimizer that holds its
        parameters keeps training them (fine-tuning from a checkpoint of another class
        count); with another count it is replaced.
        """
        old = self.get_classifier()
        new = old
        if num_classes != old.out_features:
            new = SlimLinear(
                old.in_features, num_classes, old.bias is not None,
                in_rule=getattr(old, "in_rule", None), out_rule=None,
                device=old.weight.device, dtype=old.weight.dtype,
            )
            new.width = getattr(old, "width", 1.0)
            parent, _, name = self.head_name.rpartition(".")
            setattr(self.get_submodule(parent), name, new)
        nn.init.normal_(new.weight, 0, 0.01)
        if new.bias is not None:
            nn.init.zeros_(new.bias)

    # -- initialisation -----------------------------------------------------------------
    def init_conv(self, conv: nn.Module) -> None:
        """Initialise ``conv`` as this network's builder initialises a convolution of its
        shape: :func:`init_weights`'s rule (torchvision's). Video networks override it."""
        init_conv(conv)

    @torch.no_grad()
    def init_at_own_size(self) -> None:
        """Every layer whose initial scale depends on its size initialised afresh for the
        size it has now, as in a network built at that size: each convolution by
        :meth:`init_conv` (Kaiming over its own fan). Linear layers start at N(0, std)
        and BN at constants in every network of the library, whatever their size: they
        are kept. For a network exported at a narrower width (an I-Net,
        :func:`~mutualnet3d.slim.export_subnet`), whose layers are slices of the full
        ones and so keep the full layers' scale."""
        for module in self.modules():
            if isinstance(module, nn.modules.conv._ConvNd):
                self.init_conv(module)

    # -- example inputs -----------------------------------------------------------------
    def _device(self) -> torch.device:
        tensor = next(self.parameters(), None)
        return torch.device("cpu") if tensor is None else tensor.device

    def example_input(
        self, spatial: Optional[int] = None, temporal: Optional[int] = None, batch_size: int = 1
    ) -> ModelInput:
        """A zero input at ``spatial`` px and ``temporal`` Slow frames (default: full size)
        on the model's device; the Fast pathway of two always has its full size."""
        spatial = spatial or self.crop_size
        if self.input_kind == "image":
            return torch.zeros(batch_size, 3, spatial, spatial, device=self._device())
        temporal = temporal or self.num_frames
        slow = torch.zeros(batch_size, 3, temporal, spatial, spatial, device=self._device())
        if self.alpha is None:
            return slow
        size, frames = self.crop_size, self.num_frames * self.alpha
        return [slow, torch.zeros(batch_size, 3, frames, size, size, device=slow.device)]

    def example_args(
        self, spatial: Optional[int] = None, temporal: Optional[int] = None, batch_size: int = 1
    ) -> tuple:
        """``forward``'s positional arguments for a zero input: ``(example_input,)``, and
        for a detector one whole-frame box per clip, ``(example_input, boxes)``."""
        x = self.example_input(spatial, temporal, batch_size)
        return (x, self.example_boxes(spatial, batch_size)) if self.detects else (x,)

    def example_boxes(self, spatial: Optional[int] = None, batch_size: int = 1) -> torch.Tensor:
        """A detector's boxes for :meth:`example_input`: one whole frame per clip, (B, 5)."""
        size = float(spatial or self.crop_size)
        boxes = [[i, 0.0, 0.0, size, size] for i in range(batch_size)]
        return torch.tensor(boxes, device=self._device())


def init_conv(conv: nn.Module) -> None:
    """torchvision's initialisation of a convolution: Kaiming-normal over its fan_out
    (ReLU gain: std sqrt(2 / (out channels x kernel size))), zero bias."""
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


def init_weights(model: nn.Module) -> None:
    """torchvision's initialisation for classification networks.

    Kaiming-normal (fan_out) convolutions (:func:`init_conv`), unit BN scale, N(0, 0.01)
    linear layers.
    """
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            init_conv(m)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
