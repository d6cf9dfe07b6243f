"""Loss levels (minima, saddles) of several networks against a size axis, with error bars."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure


def plot_levels(series: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]], *,
                names: Sequence[str] | None = None, logx: bool = True, ax: Axes | None = None,
                title: str | None = None, xlabel: str = "parameters",
                ylabel: str = "training loss") -> Figure:
    """One line with error bars per entry of ``series``: ``{label: (x [N], mean [N], err [N])}``
    (e.g. the mean bar end and the mean minimum of each network against its parameter count).
    ``names [N]`` label the points of the first series (e.g. ``"CNN-2-8"``)."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.4, 4))
    for k, (label, (x, m, e)) in enumerate(series.items()):
        x, m, e = (np.asarray(v, dtype=float) for v in (x, m, e))
        ax.errorbar(x, m, yerr=e, fmt="o-" if k == 0 else "s--", ms=5, capsize=3, lw=1.2,
                    label=label)
        if k == 0 and names is not None:
            for xi, mi, name in zip(x, m, names):
                ax.annotate(str(name), (xi, mi), xytext=(4, 6), textcoords="offset points",
                            fontsize=8)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return fig
