"""The slimmable core shared by the 2D and 3D models.

One set of weights runs at any width: a sub-network of width ``w`` uses the first
``make_divisible(w * C)`` channels of every slimmable layer (paper section 3.2).

* layers: :class:`SlimConv1d`/``2d``/``3d`` (grouped and depthwise too),
  :class:`SlimBatchNorm1d`/``2d``/``3d`` with statistics per configuration,
  :class:`SlimLinear`, :class:`SlimSqueezeExcitation`;
* :class:`ChannelRule` says how a channel dimension follows the width;
* :func:`convert_to_slim` makes a plain network slimmable in place (same parameter
  names, per-dimension rules);
* :func:`set_width` switches a model (also a context manager), :func:`calibrate_bn`
  re-estimates BN statistics for one configuration, :func:`export_subnet` returns a
  static network of plain torch layers;
* :func:`count_flops`, :func:`count_params`, :func:`complexity_table` give the cost of
  any configuration with fvcore.
"""

from .calibration import BNCalibrator, calibrate_bn
from .channels import ChannelRule, active_channels, make_divisible
from .complexity import Complexity, complexity_table, count_flops, count_params
from .convert import convert_to_slim
from .export import export_subnet
from .layers import (
    SlimBatchNorm1d,
    SlimBatchNorm2d,
    SlimBatchNorm3d,
    SlimConv1d,
    SlimConv2d,
    SlimConv3d,
    SlimLinear,
    SlimModule,
    SlimSqueezeExcitation,
    keep_inference_slices,
)
from .sync_bn import enable_sync_bn
from .width import SubnetConfig, WidthSwitch, get_width, set_width, slim_modules, stats_key

__all__ = [
    "BNCalibrator",
    "ChannelRule",
    "Complexity",
    "SlimBatchNorm1d",
    "SlimBatchNorm2d",
    "SlimBatchNorm3d",
    "SlimConv1d",
    "SlimConv2d",
    "SlimConv3d",
    "SlimLinear",
    "SlimModule",
    "SlimSqueezeExcitation",
    "SubnetConfig",
    "WidthSwitch",
    "active_channels",
    "calibrate_bn",
    "complexity_table",
    "convert_to_slim",
    "count_flops",
    "count_params",
    "enable_sync_bn",
    "export_subnet",
    "get_width",
    "keep_inference_slices",
    "make_divisible",
    "set_width",
    "slim_modules",
    "stats_key",
]
