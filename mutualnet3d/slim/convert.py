"""Make a plain network slimmable by swapping its layers in place (paper section 4).

:func:`convert_to_slim` replaces every ``nn.Conv1d/2d/3d``, ``nn.BatchNorm1d/2d/3d`` and
``nn.Linear`` under a module by its slimmable twin (:mod:`.layers`), keeping the module
names and sharing the parameter tensors and buffers: the ``state_dict`` keys and shapes
stay those of the plain network, so its checkpoints load with ``strict=True``, and at
width 1.0 the forward pass is the plain one. So a network built by someone else's
builder (PyTorchVideo's, torchvision's) becomes adaptive without a fork of its code.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import torch.nn as nn

from .channels import ChannelRule
from .layers import (
    SlimBatchNorm1d,
    SlimBatchNorm2d,
    SlimBatchNorm3d,
    SlimConv1d,
    SlimConv2d,
    SlimConv3d,
    SlimLinear,
    SlimModule,
)

__all__ = ["convert_to_slim"]

Rule = Optional[ChannelRule]


def _conv(slim: type) -> Callable[[nn.Module, Rule, Rule], SlimModule]:
    def convert(m: nn.Module, in_rule: Rule, out_rule: Rule) -> SlimModule:
        return slim(
            m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation,
            m.groups, m.bias is not None, in_rule=in_rule, out_rule=out_rule,
            padding_mode=m.padding_mode, device="meta",
        )

    return convert


def _batch_norm(slim: type) -> Callable[[nn.Module, Rule, Rule], SlimModule]:
    def convert(m: nn.Module, in_rule: Rule, out_rule: Rule) -> SlimModule:  # in == out
        return slim(
            m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats,
            rule=out_rule, device="meta",
        )

    return convert


def _linear(m: nn.Module, in_rule: Rule, out_rule: Rule) -> SlimModule:
    return SlimLinear(
        m.in_features, m.out_features, m.bias is not None,
        in_rule=in_rule, out_rule=out_rule, device="meta",
    )


# Plain type (exactly: subclasses, the slim layers included, are left alone) -> converter.
_CONVERTERS: dict[type, Callable[[nn.Module, Rule, Rule], SlimModule]] = {
    nn.Conv1d: _conv(SlimConv1d),
    nn.Conv2d: _conv(SlimConv2d),
    nn.Conv3d: _conv(SlimConv3d),
    nn.BatchNorm1d: _batch_norm(SlimBatchNorm1d),
    nn.BatchNorm2d: _batch_norm(SlimBatchNorm2d),
    nn.BatchNorm3d: _batch_norm(SlimBatchNorm3d),
    nn.Linear: _linear,
}


def _twin(module: nn.Module, in_rule: Rule, out_rule: Rule) -> SlimModule:
    """The slimmable twin of one plain layer, holding its parameters and buffers."""
    new = _CONVERTERS[type(module)](module, in_rule, out_rule)
    for name, param in module.named_parameters(recurse=False):
        setattr(new, name, param)
    for name, buffer in module.named_buffers(recurse=False):
        setattr(new, name, buffer)
    return new.train(module.training)


def _rules(
    name: str, module: nn.Module, rule: ChannelRule, in_rules: Mapping[str, Rule],
    out_rules: Mapping[str, Rule],
) -> tuple[Rule, Rule]:
    """``(in_rule, out_rule)`` of one layer; a batch norm's one dimension may be named
    in either mapping (naming it in both with two rules is an error)."""
    if not isinstance(module, nn.modules.batchnorm._BatchNorm):
        return in_rules.get(name, rule), out_rules.get(name, rule)
    named = {r[name] for r in (in_rules, out_rules) if name in r}
    if len(named) > 1:
        raise ValueError(f"{name}: a batch norm has one channel dimension, got two rules")
    own = named.pop() if named else rule
    return own, own


def _under(name: str, prefixes: Sequence[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def convert_to_slim(
    root: nn.Module,
    rule: ChannelRule,
    *,
    in_rules: Mapping[str, Rule] = {},
    out_rules: Mapping[str, Rule] = {},
    skip: Sequence[str] = (),
) -> None:
    """Swap every plain conv, batch norm and linear layer under ``root`` for its twin.

    Every channel dimension follows ``rule``, a linear layer's outputs included, except
    the input dimensions named in ``in_rules`` and the output dimensions named in
    ``out_rules`` (qualified module name -> rule; ``None`` fixes the dimension, e.g. the
    RGB input of a stem or the classes of a classifier). A batch norm has one dimension,
    named in either mapping. Depthwise and grouped convs follow their groups (their
    output rule is not consulted, see :class:`~mutualnet3d.slim.SlimConv2d`). Layers
    under the prefixes in ``skip`` stay plain (SlowFast's Fast pathway).

    Args:
        root: the network, changed in place (it must not itself be a layer to swap).
        rule: the rule of every dimension not named otherwise.
        in_rules, out_rules: exceptions by qualified module name.
        skip: module-name prefixes left plain.

    Raises:
        KeyError: a name in ``in_rules`` or ``out_rules`` is not a layer this swaps.
        ValueError: ``root`` is itself such a layer; two rules for one batch norm.
    """
    if type(root) in _CONVERTERS:
        raise ValueError(f"cannot swap the root {type(root).__name__} in place: convert its parent")
    targets = [
        (name, m) for name, m in root.named_modules()
        if type(m) in _CONVERTERS and not _under(name, skip)
    ]
    names = {name for name, _ in targets}
    unknown = (set(in_rules) | set(out_rules)) - names
    if unknown:
        raise KeyError(f"rules name modules that are not convertible layers: {sorted(unknown)}")
    for name, module in targets:
        parent_name, _, child = name.rpartition(".")
        parent = root.get_submodule(parent_name) if parent_name else root
        setattr(parent, child, _twin(module, *_rules(name, module, rule, in_rules, out_rules)))
