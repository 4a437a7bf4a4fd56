"""The contract every model of the library follows (style guide, principle 6)."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn

from ..slim import SlimLinear

__all__ = ["SlimClassifier"]


class SlimClassifier(nn.Module):
    """Base of the slimmable classifiers.

    Subclasses implement ``forward_features`` (input -> pooled features, shape (B, C))
    and keep their final linear layer at the attribute path ``head_name``. The width is
    switched for the whole model with :func:`mutualnet3d.slim.set_width`.
    """

    head_name: str = "fc"
    #: input layout: "image" (B, 3, H, W) or "video" (B, 3, T, H, W)
    input_kind: str = "image"

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def get_classifier(self) -> nn.Linear:
        return self.get_submodule(self.head_name)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.get_classifier()(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier with a freshly initialised one for ``num_classes``."""
        old = self.get_classifier()
        new = SlimLinear(
            old.in_features, num_classes, old.bias is not None,
            in_rule=getattr(old, "in_rule", None),
        ).to(old.weight.device)
        nn.init.normal_(new.weight, 0, 0.01)
        if new.bias is not None:
            nn.init.zeros_(new.bias)
        parent, _, name = self.head_name.rpartition(".")
        setattr(self.get_submodule(parent) if parent else self, name, new)

    def example_input(
        self, spatial: int, temporal: Optional[int] = None, batch_size: int = 1
    ) -> torch.Tensor:
        """A zero input of the given size (for FLOP counting and shape checks)."""
        if self.input_kind == "image":
            return torch.zeros(batch_size, 3, spatial, spatial)
        return torch.zeros(batch_size, 3, temporal, spatial, spatial)


def init_weights(model: nn.Module) -> None:
    """torchvision's initialisation for classification networks.

    Kaiming-normal (fan_out) convolutions, unit BN scale, N(0, 0.01) linear layers.
    """
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
