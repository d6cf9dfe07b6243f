"""Bar ends per group (depth, width, minima type): where the minima and their saddles lie."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from toolkit.topology import Barcode


def plot_bar_ends(barcodes: Mapping[str, Barcode], *, errors: Mapping[str, np.ndarray] | None = None,
                  ax: Axes | None = None, title: str | None = None, ylabel: str = "loss",
                  xtick_rotation: float = 0.0) -> Figure:
    """Births (minima, hollow) and deaths (saddles, filled) of the finite bars of each group's
    barcode, one column per group, with the groups' mean death joined by a line.

    ``errors[group]``: standard deviation of each finite bar's death, in the order of
    ``barcode.finite()`` (drawn as error bars, Fig. 13 style). ``xtick_rotation``: degrees, for
    many or long group labels.
    """
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.5, 4))
    means = []
    for x, (label, bc) in enumerate(barcodes.items()):
        fin = bc.finite()
        jitter = np.linspace(-0.15, 0.15, len(fin)) if len(fin) > 1 else np.zeros(len(fin))
        ax.scatter(x + jitter, fin.births, facecolors="none", edgecolors="tab:blue", s=22,
                   label="minimum (bar start)" if x == 0 else None, zorder=3)
        err = None if errors is None else np.asarray(errors[label])
        ax.errorbar(x + jitter, fin.deaths, yerr=err, fmt="o", color="tab:red", ms=4, capsize=2,
                    lw=0.8, label="saddle (bar end)" if x == 0 else None, zorder=4)
        means.append(fin.deaths.mean() if len(fin) else np.nan)
    ax.plot(range(len(means)), means, "-", color="tab:red", alpha=0.5, lw=1.5,
            label="mean bar end")
    ax.set_xticks(range(len(barcodes)), list(barcodes), rotation=xtick_rotation,
                  ha="right" if xtick_rotation else "center")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return fig
