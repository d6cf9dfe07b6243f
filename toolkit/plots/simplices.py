"""Plots of optimised triangles (App. I): the loss over a triangle as a barycentric heat map."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import matplotlib.tri as mtri
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["plot_triangle_loss"]

#: corners of the drawn equilateral triangle for λ = (1,0,0), (0,1,0), (0,0,1)
_CORNERS = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])


def plot_triangle_loss(lam: np.ndarray, loss: np.ndarray, *, labels: Sequence[str] = ("m0", "m1", "m2"),
                       ax: Axes | None = None, title: str | None = None, cmap: str = "viridis",
                       colorbar_label: str = "loss") -> Figure:
    """Heat map of ``loss [G]`` at barycentric points ``lam [G, 3]`` (e.g. from
    ``tk.simplices.barycentric_grid``), drawn on an equilateral triangle with the vertices
    labelled; the maximum is marked with a cross and the three side maxima with dots."""
    lam, loss = np.asarray(lam, dtype=float), np.asarray(loss, dtype=float)
    if lam.ndim != 2 or lam.shape[1] != 3 or len(lam) != len(loss):
        raise ValueError(f"lam must be [G, 3] and loss [G], got {lam.shape} and {loss.shape}")
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.2, 4.5))
    xy = lam @ _CORNERS
    tri = mtri.Triangulation(xy[:, 0], xy[:, 1])
    im = ax.tripcolor(tri, loss, shading="gouraud", cmap=cmap)
    ax.tricontour(tri, loss, levels=8, colors="white", linewidths=0.5, alpha=0.6)
    fig.colorbar(im, ax=ax, label=colorbar_label)
    k = int(np.argmax(loss))
    ax.plot(*xy[k], "rx", ms=9, mew=2, label=f"max over triangle {loss[k]:.4g}")
    for side, c in enumerate((2, 1, 0)):  # sides (0,1), (0,2), (1,2) have λ_c = 0
        on = np.flatnonzero(np.isclose(lam[:, c], 0))
        j = on[np.argmax(loss[on])]
        ax.plot(*xy[j], "o", color="orange", ms=6,
                label="max on each side" if side == 0 else None)
    offsets = np.array([[-0.05, -0.05], [0.05, -0.05], [0.0, 0.05]])
    for corner, off, name in zip(_CORNERS, offsets, labels):
        ax.text(*(corner + off), name, ha="center", va="center")
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.legend(loc="upper center", fontsize=8, frameon=False, bbox_to_anchor=(0.5, -0.02), ncol=2)
    if title:
        ax.set_title(title, pad=14)
    return fig
