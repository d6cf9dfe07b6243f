"""Trajectories in a 2D embedding (MDS of weights) and the loss along them (Liao & Poggio Figs.
3, 4 and 5): staged SGD trajectories, batch-gradient-descent branches with their trunk
averages, and retraining runs."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_branch_errors", "plot_branches", "plot_embedded_trajectories",
           "plot_trajectory_losses"]


def _groups(stage: np.ndarray, traj: np.ndarray):
    for s, j in itertools.product(np.unique(stage), np.unique(traj)):
        m = np.flatnonzero((stage == s) & (traj == j))
        if m.size:
            yield int(s), int(j), m


def _axis_labels(ax, coords: np.ndarray, explained: np.ndarray | None) -> None:
    """MDS axis labels with each axis's share of the spectrum and, when the second axis spans a
    much smaller range than the first (matplotlib stretches it to fill the panel), by how much:
    a reader must know that a fan in axis 2 may be 1/50 of the motion along axis 1."""
    ex = [f"{100 * e:.1f}% of spectrum" for e in explained] if explained is not None else ["", ""]
    r1, r2 = np.ptp(coords[:, 0]), np.ptp(coords[:, 1])
    stretch = f"; range 1/{r1 / r2:.0f} of axis 1" if r2 > 0 and r1 / r2 >= 3 else ""
    ax.set_xlabel("MDS axis 1" + (f" ({ex[0]})" if ex[0] else ""))
    ax.set_ylabel("MDS axis 2" + (f" ({ex[1]}{stretch})" if ex[1] or stretch else ""),
                  fontsize=8 if stretch else None)


def plot_embedded_trajectories(coords: np.ndarray, stage: np.ndarray, traj: np.ndarray, *,
                               perturbed: np.ndarray | None = None, ax=None, title: str | None = None,
                               explained: np.ndarray | None = None, label: str = "traj",
                               annotate: np.ndarray | None = None) -> Figure:
    """Each trajectory (points with equal ``stage`` and ``traj``, in their given order) as a line
    through its 2D coordinates ``coords [N, 2]``, coloured by trajectory; dashed when
    ``perturbed [N]`` marks it as started from a perturbed copy. Each stage's start is labelled
    with the stage number (1-based) and each end marked by a dot. ``explained [2]`` (fractions of
    the MDS spectrum) goes into the axis labels, with the second axis's range relative to the
    first. ``label`` names a trajectory in the legend (``"run"`` for retraining runs);
    ``annotate [N]`` (e.g. epochs) writes those numbers next to the first trajectory's points
    instead of the stage numbers."""
    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] != 2 or len(coords) != len(stage) or len(stage) != len(traj):
        raise ValueError(f"need coords [N, 2], stage [N], traj [N]; got {coords.shape}, "
                         f"{np.shape(stage)}, {np.shape(traj)}")
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.5, 4.5))
    colors = plt.get_cmap("tab10")
    seen = set()
    for s, j, m in _groups(np.asarray(stage), np.asarray(traj)):
        dashed = perturbed is not None and bool(np.asarray(perturbed)[m[0]])
        lab = f"{label} {j + 1}" + (" (perturbed)" if dashed else "") if j not in seen else None
        seen.add(j)
        ax.plot(coords[m, 0], coords[m, 1], "--" if dashed else "-", color=colors(j % 10), lw=0.9,
                alpha=0.85, label=lab)
        ax.plot(coords[m[-1], 0], coords[m[-1], 1], "o", color=colors(j % 10), ms=3.5)
        if j == 0 and annotate is None:
            ax.annotate(str(s + 1), coords[m[0]], fontsize=9, fontweight="bold",
                        xytext=(3, 3), textcoords="offset points")
        elif j == 0:
            for i in m:
                ax.annotate(f"{annotate[i]:g}", coords[i], fontsize=6, color="0.3",
                            xytext=(2, 2), textcoords="offset points")
    ax.ticklabel_format(style="sci", scilimits=(-2, 3))  # MDS coordinates of 1 - cos are tiny
    _axis_labels(ax, coords, explained)
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


def _branch_lines(ax, x: np.ndarray, y: np.ndarray, kind: np.ndarray, branch: np.ndarray,
                  epoch: np.ndarray, branch_epochs, jumps: bool) -> None:
    """Trunk (black), branches (colour, solid) and averages (same colour, dotted), each in epoch
    order; with ``jumps``, a thin grey dashed line from the trunk point a branch left to the
    branch's first (perturbed) point."""
    colors = plt.get_cmap("tab10")
    trunk = np.flatnonzero(kind == 0)
    trunk = trunk[np.argsort(epoch[trunk], kind="stable")]
    ax.plot(x[trunk], y[trunk], "-", color="k", lw=1.8, label="trunk", zorder=3)
    for b in np.unique(branch[branch >= 0]):
        for k, style, lab in ((1, "-", f"branch at epoch {branch_epochs[b]}"),
                              (2, ":", "average with the trunk")):
            m = np.flatnonzero((kind == k) & (branch == b))
            m = m[np.argsort(epoch[m], kind="stable")]
            ax.plot(x[m], y[m], style, color=colors(b % 10), lw=1.5 if k == 1 else 1.2,
                    label=lab if k == 1 or b == 0 else None, zorder=3)
            if jumps and k == 1 and len(m):
                at = trunk[np.argmin(np.abs(epoch[trunk] - epoch[m[0]]))]
                ax.plot([x[at], x[m[0]]], [y[at], y[m[0]]], "--", color="0.6", lw=0.7, zorder=1)


def plot_branches(coords: np.ndarray, kind: np.ndarray, branch: np.ndarray, epoch: np.ndarray,
                  err: np.ndarray, *, branch_epochs, ax=None, title: str | None = None,
                  explained: np.ndarray | None = None) -> Figure:
    """Liao & Poggio Fig. 4 in an MDS embedding: the trunk (``kind == 0``, black), each branch
    (``kind == 1``, coloured by ``branch``, labelled with its ``branch_epochs`` entry; a grey
    dashed line marks the perturbation that created it) and the trunk/branch averages
    (``kind == 2``, dotted, same colour), joined in ``epoch`` order; every point ``[N]`` is a dot
    coloured by its training error ``err`` (the numbers the paper prints)."""
    coords = np.asarray(coords)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.5, 5))
    _branch_lines(ax, coords[:, 0], coords[:, 1], kind, branch, epoch, branch_epochs, True)
    sc = ax.scatter(coords[:, 0], coords[:, 1], c=err, cmap="viridis_r", s=7, zorder=4,
                    vmin=0, vmax=max(float(np.max(err)), 1e-3), linewidths=0)
    fig.colorbar(sc, ax=ax, label="training error (dots)")
    ax.ticklabel_format(style="sci", scilimits=(-2, 3))
    _axis_labels(ax, coords, explained)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    return fig


def plot_branch_errors(kind: np.ndarray, branch: np.ndarray, epoch: np.ndarray, err: np.ndarray,
                       *, branch_epochs, ax=None, title: str | None = None,
                       ylabel: str = "training error") -> Figure:
    """The same trunk / branch / average lines as :func:`plot_branches`, as ``err`` against
    ``epoch`` (the trunk's epochs)."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.5, 4.2))
    _branch_lines(ax, np.asarray(epoch, float), np.asarray(err), kind, branch, epoch,
                  branch_epochs, False)
    ax.set_xlabel("epoch of the trunk")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    return fig
