"""mutualnet3d: one video network that runs at many cost budgets (MutualNet, TPAMI)."""

__version__ = "0.1.0"
