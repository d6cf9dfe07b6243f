"""A 2D landscape with its minima and the paths optimised between them."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def plot_landscape(values: np.ndarray, domain: Sequence[float], *, minima: np.ndarray | None = None,
                   paths: Sequence[np.ndarray] = (), highlight: Sequence[int] = (),
                   levels: int = 30, ax=None, title: str | None = None,
                   vmax: float | None = None) -> Figure:
    """Filled contours of ``values`` (``[ny, nx]`` on ``domain = (x0, x1, y0, y1)``), minima
    (``[N, 2]``) labelled by their index (0 = lowest), and paths (each ``[K, 2]``: optimised
    points joined by straight pieces). Paths whose index is in ``highlight`` are drawn bold.
    ``vmax`` clips the colour scale (values above it share the top colour), so that a steep
    function's low region stays readable."""
    if values.ndim != 2:
        raise ValueError(f"values must be a 2D grid, got shape {values.shape}")
    if vmax is not None:
        values = np.minimum(values, vmax)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 5.2))
    x0, x1, y0, y1 = domain
    xs, ys = np.linspace(x0, x1, values.shape[1]), np.linspace(y0, y1, values.shape[0])
    cf = ax.contourf(xs, ys, values, levels=levels, cmap="viridis")
    ax.contour(xs, ys, values, levels=levels, colors="k", linewidths=0.3, alpha=0.4)
    fig.colorbar(cf, ax=ax, label="loss f(x, y)")
    for k, path in enumerate(paths):
        path = np.asarray(path)
        bold = k in highlight
        ax.plot(path[:, 0], path[:, 1], "-", color="white" if bold else "0.85",
                lw=2.2 if bold else 0.9, alpha=1.0 if bold else 0.7, zorder=3)
        ax.plot(path[1:-1, 0], path[1:-1, 1], ".", color="white", ms=3 if bold else 1.5, zorder=3)
    if minima is not None:
        minima = np.asarray(minima)
        ax.plot(minima[:, 0], minima[:, 1], "o", color="tab:red", mec="white", ms=8, zorder=4)
        for i, (x, y) in enumerate(minima):
            ax.annotate(f"m{i}", (x, y), xytext=(6, 6), textcoords="offset points",
                        color="white", fontsize=10, weight="bold", zorder=5)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return fig
