"""Error and loss curves of groups of runs (Liao & Poggio Figs. 2, 5 and 40), and the
similarity matrices of Figs. 23, 29 and 36."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_error_vs_params", "plot_run_curves", "plot_similarity"]


def plot_run_curves(x: np.ndarray, groups: Mapping[str, np.ndarray], *, ax=None,
                    title: str | None = None, xlabel: str = "epoch", ylabel: str = "error",
                    styles: Sequence[str] = ("-", "--", ":", "-.")) -> Figure:
    """One colour per group (``{label: values [runs, K]}`` against ``x [K]``), one line per run
    (line style cycling through ``styles``), e.g. ReLU vs polynomial runs or the four
    retrainings of a perturbed model."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 4))
    colors = plt.get_cmap("tab10")
    for g, (label, values) in enumerate(groups.items()):
        values = np.atleast_2d(np.asarray(values))
        for r, v in enumerate(values):
            ax.plot(x, v, styles[r % len(styles)], color=colors(g % 10), lw=1.1,
                    label=f"{label}" + (f" (run {r + 1})" if len(values) > 1 else ""))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    return fig


def plot_similarity(matrix: np.ndarray, labels: Sequence[str], *, ax=None,
                    title: str | None = None, vmin: float = 0.0, vmax: float = 1.0) -> Figure:
    """A ``[m, m]`` matrix of conditional probabilities (row model given, column model asked)
    as a heat map with its values written in the cells."""
    matrix = np.asarray(matrix)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(4.2, 3.6))
    im = ax.imshow(matrix, cmap="magma", vmin=vmin, vmax=vmax)
    for i, j in np.ndindex(matrix.shape):
        ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7,
                color="w" if matrix[i, j] < 0.5 * (vmin + vmax) else "k")
    ax.set_xticks(range(len(labels)), labels, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("column model")
    ax.set_ylabel("row model")
    fig.colorbar(im, ax=ax, fraction=0.046)
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def plot_error_vs_params(n_params: np.ndarray, errors: np.ndarray, n_trains: Sequence[int], *,
                         ax=None, title: str | None = None, ylabel: str = "validation error"
                         ) -> Figure:
    """Liao & Poggio Fig. 40: ``errors [len(n_trains), W]`` against the parameter count
    ``n_params [W]`` (log axis), one line per training-set size; a hollow marker where the net
    has no more parameters than training images (not over-parametrised)."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 4))
    colors = plt.get_cmap("viridis")
    n_params = np.asarray(n_params)
    for i, n in enumerate(n_trains):
        c = colors(i / max(len(n_trains) - 1, 1))
        ax.plot(n_params, errors[i], "-", color=c, lw=1.2, label=f"{n:,} training images")
        over = n_params > n
        ax.plot(n_params[over], errors[i][over], "o", color=c, ms=5)
        ax.plot(n_params[~over], errors[i][~over], "o", mfc="none", color=c, ms=5)
    ax.set_xscale("log")
    ax.set_xlabel("parameters (filled: more parameters than training images)")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7)
    return fig
