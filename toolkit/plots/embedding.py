"""Trajectories in a 2D embedding (MDS of weights) and the loss along them (Liao & Poggio Fig. 3)."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_embedded_trajectories", "plot_trajectory_losses"]


def _groups(stage: np.ndarray, traj: np.ndarray):
    for s, j in itertools.product(np.unique(stage), np.unique(traj)):
        m = np.flatnonzero((stage == s) & (traj == j))
        if m.size:
            yield int(s), int(j), m


def plot_embedded_trajectories(coords: np.ndarray, stage: np.ndarray, traj: np.ndarray, *,
                               perturbed: np.ndarray | None = None, ax=None, title: str | None = None,
                               explained: np.ndarray | None = None) -> Figure:
    """Each trajectory (points with equal ``stage`` and ``traj``, in their given order) as a line
    through its 2D coordinates ``coords [N, 2]``, coloured by trajectory; dashed when
    ``perturbed [N]`` marks it as started from a perturbed copy. Each stage's start is labelled
    with the stage number (1-based) and each end marked by a dot. ``explained [2]`` (fractions of
    the MDS spectrum) goes into the axis labels."""
    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] != 2 or len(coords) != len(stage) or len(stage) != len(traj):
        raise ValueError(f"need coords [N, 2], stage [N], traj [N]; got {coords.shape}, "
                         f"{np.shape(stage)}, {np.shape(traj)}")
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.5, 4.5))
    colors = plt.get_cmap("tab10")
    seen = set()
    for s, j, m in _groups(np.asarray(stage), np.asarray(traj)):
        dashed = perturbed is not None and bool(np.asarray(perturbed)[m[0]])
        lab = f"traj {j + 1}" + (" (perturbed)" if dashed else "") if j not in seen else None
        seen.add(j)
        ax.plot(coords[m, 0], coords[m, 1], "--" if dashed else "-", color=colors(j % 10), lw=0.9,
                alpha=0.85, label=lab)
        ax.plot(coords[m[-1], 0], coords[m[-1], 1], "o", color=colors(j % 10), ms=3.5)
        if j == 0:
            ax.annotate(str(s + 1), coords[m[0]], fontsize=9, fontweight="bold",
                        xytext=(3, 3), textcoords="offset points")
    ex = [f" ({100 * e:.0f}% of spectrum)" for e in explained] if explained is not None else ["", ""]
    ax.ticklabel_format(style="sci", scilimits=(-2, 3))  # MDS coordinates of 1 - cos are tiny
    ax.set_xlabel("MDS axis 1" + ex[0])
    ax.set_ylabel("MDS axis 2" + ex[1])
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    return fig


def plot_trajectory_losses(epoch: np.ndarray, loss: np.ndarray, stage: np.ndarray,
                           traj: np.ndarray, *, perturbed: np.ndarray | None = None, ax=None,
                           title: str | None = None, ylabel: str = "training loss") -> Figure:
    """``loss [N]`` against ``epoch [N]`` (epochs since training began) for every trajectory,
    coloured by trajectory index, dashed for perturbed starts, with stage boundaries as faint
    vertical lines."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 3.8))
    colors = plt.get_cmap("tab10")
    for s, j, m in _groups(np.asarray(stage), np.asarray(traj)):
        dashed = perturbed is not None and bool(np.asarray(perturbed)[m[0]])
        ax.plot(epoch[m], loss[m], "--" if dashed else "-", color=colors(j % 10), lw=0.9,
                label=f"traj {j + 1}" if s == np.min(stage) else None)
    for s in np.unique(stage)[1:]:
        ax.axvline(np.min(np.asarray(epoch)[np.asarray(stage) == s]), color="0.8", lw=0.6, zorder=0)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    return fig
