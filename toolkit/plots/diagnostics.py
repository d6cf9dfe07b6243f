"""Path diagnostics: loss profiles along optimised paths/curves and the App. E gradient norms."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure


def plot_path_profiles(evaluation, paths: Sequence[int] | None = None, *, metric: str = "loss",
                       ax=None, title: str | None = None) -> Figure:
    """Loss (or ``metric="acc"``) against ``t`` along paths of a ``PathEvaluation``; optimised
    points are marked, the maximum of each path is circled, shaded by its bootstrap std."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.4, 4))
    values = evaluation.loss if metric == "loss" else evaluation.acc
    if not values:
        raise ValueError(f"this evaluation has no {metric!r} values")
    chosen = range(len(evaluation)) if paths is None else paths
    for p in chosen:
        t, v = evaluation.t[p].numpy(), values[p].numpy()
        i, j = evaluation.pairs[p].tolist()
        (line,) = ax.plot(t, v, lw=1.2, label=f"m{i}–m{j}")
        if len(evaluation.node_t) and len(evaluation.node_t[p]):
            node = np.interp(evaluation.node_t[p].numpy(), t, v)
            ax.plot(evaluation.node_t[p].numpy(), node, ".", color=line.get_color(), ms=4)
        if metric == "loss":
            m, s = float(evaluation.max_loss[p]), float(evaluation.max_loss_std[p])
            ax.plot([float(evaluation.argmax_t[p])], [m], "o", mfc="none", color=line.get_color())
            if s > 0:
                ax.axhspan(m - s, m + s, color=line.get_color(), alpha=0.12, lw=0)
    ax.set_xlabel("t (normalised arc length)" if evaluation.kind == "path" else "t (curve parameter)")
    ax.set_ylabel("training loss" if metric == "loss" else "training accuracy")
    if len(chosen) <= 12:
        ax.legend(fontsize=8, ncol=2)
    ax.set_title(title or f"{metric} along {len(chosen)} optimised {evaluation.kind}s")
    return fig


def plot_gradient_norms(pathset, path: int = 0, *, epochs: Sequence[int] | None = None,
                        ax=None) -> Figure:
    """App. E: per point of one path, the epoch-mean norms of the tangent component ``|<g, τ>|``
    (left) and of the orthogonal component ``||g⊥||`` (right) at several epochs."""
    d = pathset.diagnostics
    all_epochs = list(d["epoch"])
    if not all_epochs:
        raise ValueError("this PathSet has no diagnostics (0 epochs)")
    if epochs is None:
        idx = sorted(set(np.linspace(0, len(all_epochs) - 1, min(5, len(all_epochs))).astype(int)))
    else:
        idx = [all_epochs.index(e) for e in epochs]
    if ax is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharex=True)
    else:
        fig, axes = ax[0].figure, ax
    cmap = plt.get_cmap("viridis")
    for n, e in enumerate(idx):
        color = cmap(n / max(1, len(idx) - 1))
        for a, key in zip(axes, ("grad_tangent", "grad_normal")):
            row = d[key][e][path]
            row = row[~torch.isnan(row)].numpy() if isinstance(row, torch.Tensor) else np.asarray(row)
            a.plot(np.arange(1, len(row) + 1), row, ".-", color=color, label=f"epoch {all_epochs[e] + 1}")
    axes[0].set_ylabel("|tangent gradient|")
    axes[1].set_ylabel("|orthogonal gradient|")
    for a in axes:
        a.set_xlabel("point along the path")
        a.set_yscale("log")
    axes[1].legend(fontsize=8)
    i, j = pathset.pairs[path].tolist()
    fig.suptitle(f"gradient components along path m{i}–m{j} (App. E)")
    return fig
