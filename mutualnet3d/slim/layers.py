"""Slimmable layers: one set of weights, any width (paper sections 3.2 and 4.2).

Each layer subclasses its torch counterpart (``nn.Conv3d``, ``nn.BatchNorm3d``, ...), so
parameter names, ``isinstance`` checks and weight initialisers are those of the plain
layer, and a slimmable network's ``state_dict`` has the keys of the plain network. At
width ``w`` a layer uses the leading slice of its weights given by its
:class:`~mutualnet3d.slim.channels.ChannelRule` per channel dimension (``None`` keeps a
dimension fixed). The width is set for a whole model at once with
:func:`mutualnet3d.slim.set_width`; layers never read a config.
"""

from __future__ import annotations

import re
import warnings
from typing import Any, Callable, Iterator, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

with warnings.catch_warnings():
    # Importing fvcore.nn scripts its focal loss with torch.jit.script, which torch 2.x
    # deprecates: a FutureWarning about fvcore, at every start, that users would read
    # as ours. The first import of fvcore.nn in this package is this one.
    warnings.filterwarnings("ignore", r"`torch\.jit\.script` is deprecated", FutureWarning)
    from fvcore.nn.squeeze_excitation import SqueezeExcitation

from .channels import ChannelRule, active_channels, active_groups
from .sync_bn import SyncGroup, sync_batch_norm

__all__ = [
    "SlimModule",
    "SlimConv1d",
    "SlimConv2d",
    "SlimConv3d",
    "SlimLinear",
    "SlimBatchNorm1d",
    "SlimBatchNorm2d",
    "SlimBatchNorm3d",
    "SlimSqueezeExcitation",
    "keep_inference_slices",
    "memory_format_of",
    "take_channels",
]

_DEFAULT_RULE = ChannelRule()
_STATS_KEY = re.compile(r"^[A-Za-z0-9_]+$")


def take_channels(
    tensor: torch.Tensor, dim: int, full: int, active: int, rule: Optional[ChannelRule]
) -> torch.Tensor:
    """The active channels of ``tensor`` along ``dim``: a prefix, plus a fixed tail.

    Slicing gives a view (no copy) in the common prefix case; a fixed tail needs one
    concatenation.
    """
    tail = 0 if rule is None else rule.fixed_tail
    if active == full:
        return tensor
    if tail == 0:
        return tensor.narrow(dim, 0, active)
    return torch.cat(
        [tensor.narrow(dim, 0, active - tail), tensor.narrow(dim, full - tail, tail)], dim
    )


def memory_format_of(tensor: torch.Tensor) -> torch.memory_format:
    """The memory format ``tensor`` is stored in: channels-last (``channels_last_3d`` for
    5-D, ``channels_last`` for 4-D) when it is so and not also plainly contiguous, else
    ``contiguous_format``; copies of a channels-last weight's slices keep its format."""
    for dims, fmt in ((5, torch.channels_last_3d), (4, torch.channels_last)):
        if tensor.dim() == dims and not tensor.is_contiguous():
            if tensor.is_contiguous(memory_format=fmt):
                return fmt
    return torch.contiguous_format


class SlimModule(nn.Module):
    """Marker base of slimmable layers.

    ``width`` is the fraction of channels in use (set by ``set_width``); ``export()``
    returns the plain torch layer for the current width with copies of the active
    weights; ``active_parameters()`` yields the active slices (for parameter counts).
    """

    width: float = 1.0

    def export(self) -> nn.Module:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def active_parameters(self) -> Iterator[torch.Tensor]:  # pragma: no cover
        raise NotImplementedError


class _InferenceCache:
    """Tensors derived from a layer's parameters and buffers, kept between forwards.

    Without autograd, the active slices of a layer need not be taken afresh at each call:
    that Python work costs more than the computation itself on small inputs. The cache
    is keyed by a tag (the width, ...) and each source tensor's address and version
    counter, so in-place updates (optimizer steps, ``load_state_dict``), device moves
    and replaced tensors invalidate it. The sources are held with it: a replaced tensor
    cannot be freed and its address reused by a new one while the key could match.

    ``capacity`` tags are kept (the most recently computed; 1 by default): a deployment
    that switches between configurations call by call keeps each one's slices
    (:func:`~mutualnet3d.slim.keep_inference_slices`).
    """

    def __init__(self) -> None:
        self.capacity = 1
        self._entries: dict[Any, tuple] = {}  # tag -> (source key, value, sources)

    def get(
        self, tag: Any, sources: tuple[Optional[torch.Tensor], ...], compute: Callable[[], Any]
    ) -> Any:
        """``compute()``, or its kept result while ``tag`` and ``sources`` are unchanged."""
        key = [None if t is None else (t.data_ptr(), t._version) for t in sources]
        entry = self._entries.get(tag)
        if entry is None or entry[0] != key:
            entry = (key, compute(), sources)
            self._entries.pop(tag, None)
            self._entries[tag] = entry
            while len(self._entries) > self.capacity:
                del self._entries[next(iter(self._entries))]  # the oldest
        return entry[1]


def keep_inference_slices(model: nn.Module, configurations: int) -> None:
    """Let each slimmable conv and BN layer of ``model`` keep the active slices of up to
    ``configurations`` widths (BN: width and statistics key) between no-grad forwards,
    instead of one: switching between them then takes no slice afresh. Memory: a copy
    of each kept width's active weights (about w^2 of the layer at width w)."""
    if configurations < 1:
        raise ValueError(f"configurations must be at least 1, got {configurations}")
    for module in model.modules():
        cache = getattr(module, "_inference_cache", None)
        if isinstance(cache, _InferenceCache):
            cache.capacity = configurations


# --------------------------------------------------------------------------------------
# Convolutions
# --------------------------------------------------------------------------------------
class _SlimConvNd(SlimModule):
    """Shared logic of SlimConv1d/2d/3d (mixed in before the torch conv class).

    Grouped convolutions keep their group size as the width changes, so the first
    ``k`` output channels of the full layer are exactly a ``k / group_size``-group layer;
    depthwise convs (group size 1) thus always have ``groups == active channels``. Their
    output channels follow the input, and ``out_rule`` is not consulted.
    """

    _conv: Callable[..., torch.Tensor]
    _plain: type
    in_channels: int
    out_channels: int
    groups: int
    weight: nn.Parameter
    bias: Optional[nn.Parameter]

    def _init_rules(
        self, in_rule: Optional[ChannelRule], out_rule: Optional[ChannelRule]
    ) -> None:
        if self.padding_mode != "zeros":
            raise ValueError("slimmable convs support padding_mode='zeros' only")
        self.in_rule = in_rule
        self.out_rule = out_rule
        self.width = 1.0
        self._dims_width: Optional[float] = None
        self._dims: tuple[int, int, int] = (self.in_channels, self.out_channels, self.groups)
        self._inference_cache = _InferenceCache()

    def active_dims(self) -> tuple[int, int, int]:
        """(active input channels, active output channels, active groups)."""
        if self._dims_width != self.width:  # recomputed only when the width changes
            active_in = active_channels(self.in_channels, self.width, self.in_rule)
            if self.groups == 1:
                active_out, groups = active_channels(self.out_channels, self.width, self.out_rule), 1
            else:
                groups = active_groups(self.in_channels, active_in, self.groups)
                active_out = groups * (self.out_channels // self.groups)
            self._dims, self._dims_width = (active_in, active_out, groups), self.width
        return self._dims

    def active_weight_bias(self) -> tuple[torch.Tensor, Optional[torch.Tensor], int]:
        active_in, active_out, groups = self.active_dims()
        out_rule = self.out_rule if self.groups == 1 else None
        weight = take_channels(self.weight, 0, self.out_channels, active_out, out_rule)
        if self.groups == 1:
            weight = take_channels(weight, 1, self.in_channels, active_in, self.in_rule)
        bias = self.bias
        if bias is not None:
            bias = take_channels(bias, 0, self.out_channels, active_out, out_rule)
        return weight, bias, groups

    def _contiguous_weight_bias(self) -> tuple[torch.Tensor, Optional[torch.Tensor], int]:
        weight, bias, groups = self.active_weight_bias()
        weight = weight.contiguous(memory_format=memory_format_of(self.weight))
        return weight, None if bias is None else bias.contiguous(), groups

    def _inference_weight_bias(self) -> tuple[torch.Tensor, Optional[torch.Tensor], int]:
        """Contiguous copies of the active slices, kept while the weights do not change.

        Without autograd a slice need not be a view; a contiguous copy spares the conv
        a re-layout of a strided weight at every call (most of the cost of an adaptive
        forward over a static one for small configurations). A channels-last weight's
        copies are channels-last (:func:`memory_format_of`).
        """
        params = self._parameters  # nn.Module's attribute lookup costs ~0.5 us a tensor
        return self._inference_cache.get(
            self.width, (params["weight"], params["bias"]), self._contiguous_weight_bias
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.width >= 1.0:
            weight, bias, groups = self.weight, self.bias, self.groups
        elif torch.is_grad_enabled() or torch.jit.is_tracing():
            weight, bias, groups = self.active_weight_bias()
        else:
            weight, bias, groups = self._inference_weight_bias()
        return self._conv(x, weight, bias, self.stride, self.padding, self.dilation, groups)

    def active_parameters(self) -> Iterator[torch.Tensor]:
        weight, bias, _ = self.active_weight_bias()
        yield weight
        if bias is not None:
            yield bias

    @torch.no_grad()
    def export(self) -> nn.Module:
        weight, bias, groups = self.active_weight_bias()
        conv = self._plain(
            weight.shape[1] * groups,
            weight.shape[0],
            self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=groups,
            bias=bias is not None,
            device=weight.device,
            dtype=weight.dtype,
        )
        conv.weight.copy_(weight)
        if bias is not None:
            conv.bias.copy_(bias)
        return conv

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, width={self.width}"


def _make_conv(plain: type, fn: Callable[..., torch.Tensor]) -> type:
    class SlimConv(_SlimConvNd, plain):
        def __init__(
            self,
            in_channels: int,
            out_channels: int,
            kernel_size,
            stride=1,
            padding=0,
            dilation=1,
            groups: int = 1,
            bias: bool = True,
            *,
            in_rule: Optional[ChannelRule] = _DEFAULT_RULE,
            out_rule: Optional[ChannelRule] = _DEFAULT_RULE,
            **kwargs,
        ) -> None:
            plain.__init__(
                self, in_channels, out_channels, kernel_size, stride, padding,
                dilation, groups, bias, **kwargs,
            )
            self._init_rules(in_rule, out_rule)

    SlimConv._conv = staticmethod(fn)
    SlimConv._plain = plain
    return SlimConv


SlimConv1d = _make_conv(nn.Conv1d, F.conv1d)
SlimConv2d = _make_conv(nn.Conv2d, F.conv2d)
SlimConv3d = _make_conv(nn.Conv3d, F.conv3d)
for _cls, _name in ((SlimConv1d, "SlimConv1d"), (SlimConv2d, "SlimConv2d"), (SlimConv3d, "SlimConv3d")):
    _cls.__name__ = _cls.__qualname__ = _name
    _cls.__doc__ = (
        f"Slimmable ``nn.{_cls._plain.__name__}``: ``in_rule``/``out_rule`` say how the "
        "input/output channels follow the width (``None``: fixed)."
    )


# --------------------------------------------------------------------------------------
# Linear
# --------------------------------------------------------------------------------------
class SlimLinear(SlimModule, nn.Linear):
    """Slimmable ``nn.Linear``. By default the inputs slim and the outputs (classes) do not."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        in_rule: Optional[ChannelRule] = _DEFAULT_RULE,
        out_rule: Optional[ChannelRule] = None,
        **kwargs,
    ) -> None:
        nn.Linear.__init__(self, in_features, out_features, bias, **kwargs)
        self.in_rule = in_rule
        self.out_rule = out_rule
        self.width = 1.0

    def active_weight_bias(self) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        active_in = active_channels(self.in_features, self.width, self.in_rule)
        active_out = active_channels(self.out_features, self.width, self.out_rule)
        weight = take_channels(self.weight, 0, self.out_features, active_out, self.out_rule)
        weight = take_channels(weight, 1, self.in_features, active_in, self.in_rule)
        bias = self.bias
        if bias is not None:
            bias = take_channels(bias, 0, self.out_features, active_out, self.out_rule)
        return weight, bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, *self.active_weight_bias())

    def active_parameters(self) -> Iterator[torch.Tensor]:
        weight, bias = self.active_weight_bias()
        yield weight
        if bias is not None:
            yield bias

    @torch.no_grad()
    def export(self) -> nn.Linear:
        weight, bias = self.active_weight_bias()
        linear = nn.Linear(
            weight.shape[1], weight.shape[0], bias is not None,
            device=weight.device, dtype=weight.dtype,
        )
        linear.weight.copy_(weight)
        if bias is not None:
            linear.bias.copy_(bias)
        return linear

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, width={self.width}"


# --------------------------------------------------------------------------------------
# Batch norm with statistics per configuration
# --------------------------------------------------------------------------------------
class _Moments:
    """Exact running count / mean / sum of squared deviations (Chan et al.), in float64."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: Optional[torch.Tensor] = None
        self.m2: Optional[torch.Tensor] = None

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        dims = [d for d in range(x.dim()) if d != 1]
        n = x.numel() // x.shape[1]
        var, mean = torch.var_mean(x.float(), dim=dims, correction=0)
        mean, m2 = mean.double(), var.double() * n
        if self.mean is None:
            self.count, self.mean, self.m2 = n, mean, m2
            return
        if mean.shape != self.mean.shape:
            raise RuntimeError(
                "BN calibration saw two channel counts; calibrate one width at a time"
            )
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta.square() * (self.count * n / total)
        self.count = total

    def result(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mean is None or self.count < 2:
            raise RuntimeError("BN calibration needs at least two values per channel")
        return self.mean, self.m2 / (self.count - 1)


class _SlimBatchNormNd(SlimModule):
    """Batch norm whose channels follow the width and whose statistics follow the config.

    Affine parameters are shared by all widths (first ``k`` channels). Statistics are
    not: after training, :func:`~mutualnet3d.slim.calibrate_bn` stores exact statistics
    per configuration under a *stats key* (see :func:`~mutualnet3d.slim.stats_key`) as
    buffers ``stats_<key>_mean`` / ``stats_<key>_var``, which travel in ``state_dict``
    and checkpoints. ``set_width(model, w, key)`` selects them, so deployment never
    recalibrates.

    Modes:

    * training: batch statistics. The main running statistics (``running_mean``,
      ``running_var``) are updated only at width 1, so they remain the full network's
      (even in a layer whose channels are all active at a smaller width).
    * calibrating (inside ``calibrate_bn``): batch statistics for normalisation, while the
      exact mean and unbiased variance of everything seen are accumulated.
    * eval: the calibrated statistics of the active key if present, else the leading
      slice of the main running statistics.
    """

    running_mean: Optional[torch.Tensor]
    running_var: Optional[torch.Tensor]
    num_features: int

    def _init_rule(self, rule: Optional[ChannelRule]) -> None:
        self.rule = rule
        self.width = 1.0
        self.stats_key: Optional[str] = None
        self._moments: Optional[_Moments] = None
        #: training statistics over the processes of this group (:mod:`.sync_bn`)
        self.sync_group: Optional[SyncGroup] = None
        self._features_width: Optional[float] = None
        self._features = self.num_features
        self._inference_cache = _InferenceCache()

    # -- statistics store ---------------------------------------------------------------
    @staticmethod
    def _buffer_names(key: str) -> tuple[str, str]:
        if not _STATS_KEY.match(key):
            raise ValueError(f"stats key must match [A-Za-z0-9_]+, got {key!r}")
        return f"stats_{key}_mean", f"stats_{key}_var"

    def calibrated_keys(self) -> list[str]:
        return [n[6:-5] for n, _ in self.named_buffers(recurse=False)
                if n.startswith("stats_") and n.endswith("_mean")]

    def has_stats(self, key: Optional[str]) -> bool:
        # A dict lookup, no key validation: eval forwards ask this every call.
        return key is not None and f"stats_{key}_mean" in self._buffers

    def set_stats(self, key: str, mean: torch.Tensor, var: torch.Tensor) -> None:
        """Store statistics for ``key`` (replacing earlier ones for the same key only)."""
        dtype = self.weight.dtype if self.weight is not None else torch.float32
        for name, value in zip(self._buffer_names(key), (mean, var)):
            self.register_buffer(name, value.detach().to(dtype).clone())

    def get_stats(self, key: str) -> tuple[torch.Tensor, torch.Tensor]:
        mean_name, var_name = self._buffer_names(key)
        return getattr(self, mean_name), getattr(self, var_name)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # Calibrated statistics are created on demand: register a buffer for each one
        # present in the state dict so that a fresh model loads them with strict=True.
        for name, value in state_dict.items():
            local = name[len(prefix):]
            if (name.startswith(prefix) and local.startswith("stats_") and "." not in local
                    and local.endswith("_mean") and local not in self._buffers):
                key = local[6:-5]
                var = state_dict.get(f"{prefix}stats_{key}_var", value)
                self.set_stats(key, torch.empty_like(value), torch.empty_like(var))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # -- forward ------------------------------------------------------------------------
    def active_features(self) -> int:
        if self._features_width != self.width:  # recomputed only when the width changes
            self._features = active_channels(self.num_features, self.width, self.rule)
            self._features_width = self.width
        return self._features

    def _take(self, t: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        if t is None:
            return None
        return take_channels(t, 0, self.num_features, self.active_features(), self.rule)

    def _stored_stats(self) -> tuple[Optional[torch.Tensor], Optional[torch.Tensor], bool]:
        """``(mean, var, calibrated)``: the active key's calibrated statistics, else the
        whole main running statistics. Read straight from the buffer dict (nn.Module's
        attribute lookup costs ~0.5 us a tensor, and no-grad forwards ask this at every
        layer); a key is validated when its statistics are stored."""
        buffers, key = self._buffers, self.stats_key
        mean = None if key is None else buffers.get(f"stats_{key}_mean")
        if mean is None:
            return buffers["running_mean"], buffers["running_var"], False
        return mean, buffers[f"stats_{key}_var"], True

    def eval_stats(self) -> tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """Statistics used in eval mode at the current width and key."""
        mean, var, calibrated = self._stored_stats()
        return (mean, var) if calibrated else (self._take(mean), self._take(var))

    def _eval_tensors(self) -> tuple[Optional[torch.Tensor], ...]:
        """``(weight, bias, mean, var)`` of an eval forward at the current width and key."""
        return (self._take(self.weight), self._take(self.bias), *self.eval_stats())

    def _inference_eval_tensors(self) -> tuple[Optional[torch.Tensor], ...]:
        """:meth:`_eval_tensors`, kept while the width, key and tensors do not change
        (four slices per call cost more Python time than the normalisation of a small
        clip); newly calibrated statistics are new tensors, so they invalidate it too."""
        params = self._parameters  # as _stored_stats, not through nn.Module's lookup
        mean, var, _ = self._stored_stats()
        return self._inference_cache.get(
            (self.width, self.stats_key),
            (params["weight"], params["bias"], mean, var),
            self._eval_tensors,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        if self._moments is None and not self.training and self.track_running_stats:
            if torch.is_grad_enabled() or torch.jit.is_tracing():
                weight, bias, mean, var = self._eval_tensors()
            else:
                weight, bias, mean, var = self._inference_eval_tensors()
            return F.batch_norm(x, mean, var, weight, bias, False, 0.0, self.eps)
        weight, bias = self._take(self.weight), self._take(self.bias)
        if self._moments is not None:
            self._moments.update(x)
            return F.batch_norm(x, None, None, weight, bias, True, 0.0, self.eps)
        running = None
        if self.width >= 1.0 and self.track_running_stats:
            # The full network: keep the main running statistics, exactly as nn.BatchNorm
            # does. Judged by the width, not the channels: a narrow layer (a 4-channel
            # stem, a channel rule's fixed tail) uses all its channels at widths below 1
            # too, and must not mix the sub-networks' batch statistics into the full one's.
            self.num_batches_tracked.add_(1)
            momentum = self.momentum
            if momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked)
            running = (self.running_mean, self.running_var, momentum)
        if self.sync_group is not None:
            return sync_batch_norm(x, weight, bias, self.sync_group.group, self.eps, running)
        mean, var, momentum = running or (None, None, 0.0)
        return F.batch_norm(x, mean, var, weight, bias, True, momentum, self.eps)

    def active_parameters(self) -> Iterator[torch.Tensor]:
        for t in (self.weight, self.bias):
            if t is not None:
                yield self._take(t)

    @torch.no_grad()
    def export(self) -> nn.Module:
        """Plain batch norm with the active affine slice and the eval statistics."""
        c = self.active_features()
        bn = self._plain(
            c, eps=self.eps, momentum=self.momentum, affine=self.affine,
            track_running_stats=self.track_running_stats,
            device=self.weight.device if self.affine else None,
        )
        if self.affine:
            bn.weight.copy_(self._take(self.weight))
            bn.bias.copy_(self._take(self.bias))
        if self.track_running_stats:
            mean, var = self.eval_stats()
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
            bn.num_batches_tracked.copy_(self.num_batches_tracked)
        return bn

    def extra_repr(self) -> str:
        keys = self.calibrated_keys()
        extra = f", calibrated={len(keys)}" if keys else ""
        return f"{super().extra_repr()}, width={self.width}{extra}"


def _make_bn(plain: type) -> type:
    class SlimBatchNorm(_SlimBatchNormNd, plain):
        def __init__(
            self,
            num_features: int,
            eps: float = 1e-5,
            momentum: Optional[float] = 0.1,
            affine: bool = True,
            track_running_stats: bool = True,
            *,
            rule: Optional[ChannelRule] = _DEFAULT_RULE,
            **kwargs,
        ) -> None:
            plain.__init__(
                self, num_features, eps, momentum, affine, track_running_stats, **kwargs
            )
            self._init_rule(rule)

    SlimBatchNorm._plain = plain
    return SlimBatchNorm


SlimBatchNorm1d = _make_bn(nn.BatchNorm1d)
SlimBatchNorm2d = _make_bn(nn.BatchNorm2d)
SlimBatchNorm3d = _make_bn(nn.BatchNorm3d)
for _cls, _name in (
    (SlimBatchNorm1d, "SlimBatchNorm1d"),
    (SlimBatchNorm2d, "SlimBatchNorm2d"),
    (SlimBatchNorm3d, "SlimBatchNorm3d"),
):
    _cls.__name__ = _cls.__qualname__ = _name
    _cls.__doc__ = (
        f"Slimmable ``nn.{_cls._plain.__name__}`` with statistics per configuration; "
        "see :class:`_SlimBatchNormNd`."
    )


# --------------------------------------------------------------------------------------
# Squeeze-excitation
# --------------------------------------------------------------------------------------
class SlimSqueezeExcitation(SqueezeExcitation):
    """fvcore's ``SqueezeExcitation`` (the one X3D uses) whose widths follow the model.

    Both the excited channels and the hidden size slim (paper section 6.1, MobileNetV3:
    "we multiply the width factor to both the backbone network and SE block"). Parameter
    names are fvcore's (``block.0``, ``block.2``).

    Args:
        num_channels: channels at full width.
        num_channels_reduced: hidden channels at full width.
        is_3d: 3D (video) or 2D.
        rule: how ``num_channels`` follows the width.
        hidden_rule: how the hidden size follows the width.
        activation: hidden activation module (fvcore's default: ReLU).
    """

    def __init__(
        self,
        num_channels: int,
        num_channels_reduced: int,
        is_3d: bool = True,
        *,
        rule: Optional[ChannelRule] = _DEFAULT_RULE,
        hidden_rule: Optional[ChannelRule] = _DEFAULT_RULE,
        activation: Optional[nn.Module] = None,
    ) -> None:
        super().__init__(num_channels, num_channels_reduced, is_3d=is_3d, activation=activation)
        conv = SlimConv3d if is_3d else SlimConv2d
        self.block[0] = conv(num_channels, num_channels_reduced, 1, in_rule=rule, out_rule=hidden_rule)
        self.block[2] = conv(num_channels_reduced, num_channels, 1, in_rule=hidden_rule, out_rule=rule)
