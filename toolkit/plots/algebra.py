"""Zero-loss solutions of tiny polynomial networks (Liao & Poggio §3, App. A): how many there
are next to Bezout's bound, and the Hessian spectrum at the zeros of over-parametrised nets."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_hessian_spectra", "plot_solution_counts"]


def plot_solution_counts(n_complex: np.ndarray, n_real: np.ndarray, bezout: np.ndarray,
                         paper_count: int, *, ax=None, title: str | None = None) -> Figure:
    """Per square system ``[draws]``: bars of its finite complex and real solutions, with
    Bezout's bound (``bezout [draws]``) and the paper's ``l^(N d)`` as horizontal lines."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.5, 3.8))
    x = np.arange(len(n_complex))
    ax.bar(x - 0.18, n_complex, 0.36, label="complex solutions (finite)", color="tab:blue")
    ax.bar(x + 0.18, n_real, 0.36, label="real solutions", color="tab:orange")
    for value, style, lab in ((float(np.max(bezout)), "-", "Bezout's bound (product of degrees)"),
                              (float(paper_count), "--", "the paper's l^(N d)")):
        ax.axhline(value, ls=style, color="0.3", lw=1)
        ax.annotate(lab, (x[-1] + 0.45, value), fontsize=7, ha="right", va="bottom")
    ax.set_xticks(x, [f"data {i + 1}" for i in x])
    ax.set_ylabel("number of zeros of the empirical error")
    ax.set_ylim(0, float(np.max(bezout)) * 1.15)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7, loc="center left")
    return fig


def plot_hessian_spectra(spectra: Sequence[np.ndarray], labels: Sequence[str], *, ax=None,
                         title: str | None = None) -> Figure:
    """``|eigenvalues|`` (sorted, log scale) of the Hessian of the square loss at each zero,
    one line per zero, coloured by its ``labels`` entry (e.g. ``"N=4, K=6"``): the flat
    directions are the eigenvalues at the float64 noise floor."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.5, 3.8))
    colors = plt.get_cmap("tab10")
    order = list(dict.fromkeys(labels))
    seen: set[str] = set()
    for s, lab in zip(spectra, labels):
        v = np.maximum(np.sort(np.abs(np.asarray(s))), 1e-18)
        ax.semilogy(np.arange(1, len(v) + 1), v, "o-", ms=3, lw=0.8,
                    color=colors(order.index(lab) % 10), label=None if lab in seen else lab)
        seen.add(lab)
    ax.set_xlabel("eigenvalue index (sorted by magnitude)")
    ax.set_ylabel("|Hessian eigenvalue| at a zero")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7)
    return fig
