"""Path diagnostics: loss profiles along optimised paths/curves and the App. E gradient norms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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


def plot_profiles(profiles: Mapping[str, tuple[np.ndarray, np.ndarray]], *, ax=None,
                  title: str | None = None, xlabel: str = "position along the path",
                  ylabel: str = "training loss", legend: bool | None = None,
                  marker: str = "", reference: Mapping[str, float] | None = None) -> Figure:
    """One line per entry of ``profiles`` (``{label: (t [M], values [M])}``), e.g. the loss along
    every path or on straight lines between trained points. The legend is shown for up to 12
    lines unless ``legend`` says otherwise. ``reference``: horizontal dashed lines
    ``{label: level}`` (e.g. the exact saddle)."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.4, 4))
    for label, (t, v) in profiles.items():
        ax.plot(np.asarray(t), np.asarray(v), lw=1.0, marker=marker, ms=3, label=label)
    for label, level in (reference or {}).items():
        ax.axhline(level, color="k", ls="--", lw=1, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if legend if legend is not None else len(profiles) <= 12:
        ax.legend(fontsize=7, ncol=2)
    return fig


def plot_path_convergence(histories: Mapping[str, tuple[np.ndarray, np.ndarray]], *, ax=None,
                          title: str | None = None, log: bool = True) -> Figure:
    """Each path's tracked maximum against optimisation steps (``{"2 layers, m0-m1": (steps,
    maxima)}``), one colour per group (the label's part before ``", "``), a marker where a path
    stopped (its last measurement)."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.4, 4))
    groups = list(dict.fromkeys(label.split(", ")[0] for label in histories))
    cmap = plt.get_cmap("viridis")
    colour = {g: cmap(i / max(1, len(groups) - 1)) for i, g in enumerate(groups)}
    seen = set()
    for label, (steps, values) in histories.items():
        g = label.split(", ")[0]
        ax.plot(steps, values, lw=1, color=colour[g], label=g if g not in seen else None)
        if len(steps):
            ax.plot(steps[-1], values[-1], "o", ms=3, color=colour[g])
        seen.add(g)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("optimisation steps")
    ax.set_ylabel("path maximum (tracking subset)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def plot_gradient_trends(epochs: np.ndarray, middle: np.ndarray, ends: np.ndarray,
                         normal: np.ndarray) -> Figure:
    """App. E over training: left, the mean tangent projection ``|<g, τ>|`` in the middle third
    of the paths (``middle [E]``) and in the outer thirds (``ends [E]``); right, the mean
    orthogonal gradient norm (``normal [E]``), against ``epochs [E]``."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    axes[0].plot(epochs, middle, "o-", label="middle third of the path")
    axes[0].plot(epochs, ends, "s-", label="outer thirds")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("mean |<g, tangent>|")
    axes[0].legend()
    axes[1].plot(epochs, normal, "o-", color="tab:red")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("mean ||orthogonal gradient||")
    fig.tight_layout()
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
