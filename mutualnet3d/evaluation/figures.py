"""The look every accuracy-vs-cost figure shares: a log cost axis, a grid, a legend,
saved off-screen.

The search's plot, the latency fronts and the cascade curve draw their own points; these
two functions keep their axes and files alike, and keep matplotlib (an optional, slow
import) out of the library until a figure is drawn.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["cost_axes", "pyplot", "save_figure"]


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend: figures are written, never shown."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def cost_axes(ax, xlabel: str, ylabel: str, legend_size: int = 8) -> None:
    """Log-scale cost on x, the metric on y, a light grid and the legend bottom right."""
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=legend_size)


def save_figure(fig, path: str) -> Path:
    """Lay out, write and close ``fig``; return the file's path."""
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    pyplot().close(fig)
    return path
