"""Barcodes, persistence diagrams and disconnectivity graphs (merge trees of minima)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from toolkit.topology import Barcode


@dataclass(frozen=True)
class _Bars:
    """Bars flattened for plotting, one row per bar, grouped and sorted."""

    births: np.ndarray
    deaths: np.ndarray
    group: list[str]
    flagged: np.ndarray  # bool: infinite bar of a minimum that is not the global minimum
    order: list[str]  # group labels in drawing order


def _collect(barcode: Barcode | Mapping[str, Barcode], groups: Sequence | None) -> _Bars:
    if isinstance(barcode, Barcode):
        if groups is not None and len(groups) != len(barcode):
            raise ValueError(f"groups has {len(groups)} labels but the barcode has "
                             f"{len(barcode)} bars; give one label per bar")
        parts = {"": barcode} if groups is None else None
        labels = [""] * len(barcode) if groups is None else [str(g) for g in groups]
        codes = [barcode]
    else:
        if groups is not None:
            raise ValueError("groups= is for a single Barcode; a dict's keys are the groups")
        parts, codes = dict(barcode), list(barcode.values())
        labels = [str(k) for k, b in parts.items() for _ in range(len(b))]
    births = np.concatenate([b.births for b in codes]) if codes else np.zeros(0)
    deaths = np.concatenate([b.deaths for b in codes]) if codes else np.zeros(0)
    flagged = np.concatenate([np.isin(b.minimum, b.flagged) & np.isinf(b.deaths)
                              if b.index == 0 else np.zeros(len(b), bool) for b in codes])
    order = list(dict.fromkeys(labels))
    rank = np.array([order.index(g) for g in labels], dtype=np.int64)
    sort = np.lexsort((deaths, births, rank))
    return _Bars(births[sort], deaths[sort], [labels[k] for k in sort], flagged[sort], order)


def _top(b: _Bars) -> tuple[float, float]:
    """Lowest value and the level at which infinite bars are cut and drawn open."""
    vals = np.concatenate([b.births, b.deaths[np.isfinite(b.deaths)]])
    if vals.size == 0:
        return 0.0, 1.0
    lo, hi = float(vals.min()), float(vals.max())
    return lo, hi + 0.15 * (hi - lo if hi > lo else 1.0)


def _axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is None:
        fig, ax = plt.subplots(figsize=size, layout="constrained")
        return fig, ax
    return ax.figure, ax


def _colours(order: list[str]) -> dict[str, str]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {g: cycle[k % len(cycle)] for k, g in enumerate(order)}


def plot_barcode(
    barcode: Barcode | Mapping[str, Barcode],
    *,
    groups: Sequence | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    xlabel: str = "loss",
) -> Figure:
    """Bars as horizontal segments ``[birth, death]``, top to bottom by birth within each group.

    Args:
        barcode: one ``Barcode``, or ``{group label: Barcode}`` (e.g. one per architecture).
        groups: for a single barcode, one label per bar (e.g. minima type) used for colour.
        ax: axes to draw into; a new figure when ``None``.
        title: axes title.
        xlabel: label of the loss axis.

    Infinite bars are cut above the largest finite value and end in an arrow (open); infinite
    bars of flagged minima (no path to a lower minimum) are dashed.
    """
    bars = _collect(barcode, groups)
    fig, ax = _axes(ax, (6.0, min(8.0, 0.5 + 0.18 * max(len(bars.births), 4))))
    lo, top = _top(bars)
    colour = _colours(bars.order)
    seen: set[str] = set()
    for y, (b, d, g, flag) in enumerate(zip(bars.births, bars.deaths, bars.group, bars.flagged)):
        label = g if g and g not in seen else None
        seen.add(g)
        end = top if np.isinf(d) else d
        ax.hlines(y, b, end, colors=colour[g], lw=3, linestyles="--" if flag else "-", label=label)
        if np.isinf(d):
            ax.plot(top, y, marker=">", color=colour[g], ms=7)
        elif d == b:
            ax.plot(b, y, marker="|", color=colour[g], ms=7)
    if bars.flagged.any():
        ax.plot([], [], "k--", lw=2, label="no path to a lower minimum")
    ax.set_xlim(lo - 0.03 * (top - lo), top + 0.05 * (top - lo))
    ax.set_ylim(max(len(bars.births), 1), -1)  # first bar on top, as in the paper's figures
    ax.set_yticks([])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("bar (sorted by birth)")
    if title:
        ax.set_title(title)
    if seen - {""} or bars.flagged.any():
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")  # keep bars clear
    return fig


def plot_diagram(
    barcode: Barcode | Mapping[str, Barcode],
    *,
    groups: Sequence | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Persistence diagram: one point ``(birth, death)`` per bar, the diagonal, and infinite
    bars on a dashed line marked ``+inf`` above the finite points. Arguments as ``plot_barcode``.
    """
    bars = _collect(barcode, groups)
    fig, ax = _axes(ax, (4.5, 4.5))
    lo, top = _top(bars)
    colour = _colours(bars.order)
    ax.plot([lo, top], [lo, top], color="0.5", lw=1)
    ax.axhline(top, color="0.5", lw=1, ls="--")
    ax.text(lo, top, " +inf", va="bottom", color="0.4")
    for g in bars.order:
        sel = np.array([x == g for x in bars.group], dtype=bool)
        fin = sel & np.isfinite(bars.deaths)
        inf = sel & ~np.isfinite(bars.deaths)
        ax.scatter(bars.births[fin], bars.deaths[fin], s=18, color=colour[g], label=g or None)
        ax.scatter(bars.births[inf], np.full(inf.sum(), top), s=40, marker="^", color=colour[g])
    pad = 0.05 * (top - lo)
    ax.set_xlim(lo - pad, top + pad)
    ax.set_ylim(lo - pad, top + 2 * pad)
    ax.set_xlabel("birth (loss)")
    ax.set_ylabel("death (loss)")
    if title:
        ax.set_title(title)
    if any(bars.order):
        ax.legend(loc="lower right", fontsize="small")
    return fig


def _merge_tree(barcode: Barcode) -> tuple[list[list[int]], np.ndarray, list[int]]:
    """Binary merge tree of the minima: ``children`` per node, ``level`` per node, ``roots``.

    Nodes ``0 .. n-1`` are the bars' minima (level = birth); each finite bar adds one internal
    node at its death joining the components of its killing path's two ends.
    """
    if barcode.index != 0 or barcode.kind != "simplices":
        raise ValueError("a disconnectivity graph needs an index-0 barcode of minima and paths "
                         f"(got index={barcode.index}, kind={barcode.kind!r})")
    n = len(barcode)
    pos = {int(m): k for k, m in enumerate(barcode.minimum)}
    children: list[list[int]] = [[] for _ in range(n)]
    level = list(barcode.births)
    parent = list(range(n))  # union-find over bar positions
    node = list(range(n))  # tree node currently on top of each component root

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = x = parent[parent[x]]
        return x

    for k in np.lexsort((np.arange(n), barcode.deaths)):
        if np.isinf(barcode.deaths[k]):
            continue
        i, j = barcode.killer[k]
        if i not in pos or j not in pos:
            raise ValueError(f"bar {k} is killed by path {(i, j)} whose ends are not bars' minima")
        a, b = find(pos[i]), find(pos[j])
        if a == b:
            continue
        children.append([node[a], node[b]])
        level.append(float(barcode.deaths[k]))
        parent[b] = a
        node[a] = len(children) - 1
    roots = sorted({node[find(k)] for k in range(n)}, key=lambda r: level[r])
    return children, np.asarray(level), roots


def plot_disconnectivity(
    barcode: Barcode,
    *,
    labels: Sequence | None = None,
    groups: Sequence | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Disconnectivity graph: the merge tree of the minima (which minima join at which loss).

    Args:
        barcode: a minima ``Barcode`` (from ``minima_barcode`` or ``simplex_barcode(...)[0]``).
        labels: one tick label per bar (default: the minimum's index; no ticks past 40 minima).
        groups: one group label per bar, colouring the minima's markers.
        ax, title: as ``plot_barcode``.

    Each minimum is a leaf at its loss; two branches join at the path maximum that first
    connects them. Components never joined (the global minimum's, flagged minima's) go up to
    the top of the plot and end in an arrow.
    """
    if not isinstance(barcode, Barcode):
        raise TypeError(f"plot_disconnectivity draws a Barcode (tk.minima_barcode(...)), got "
                        f"{type(barcode).__name__}")
    children, level, roots = _merge_tree(barcode)
    n = len(barcode)
    lowest = level.copy()  # lowest leaf under each node, to put deeper branches left
    for v in range(n, len(children)):
        lowest[v] = min(lowest[c] for c in children[v])
    x = np.zeros(len(children))
    leaves: list[int] = []

    def place(v: int) -> None:  # iterative DFS: merge trees of many minima are deep
        stack = [(v, False)]
        while stack:
            u, done = stack.pop()
            if u < n:
                x[u] = len(leaves)
                leaves.append(u)
            elif done:
                x[u] = np.mean([x[c] for c in children[u]])
            else:
                stack.append((u, True))
                for c in sorted(children[u], key=lambda c: -lowest[c]):
                    stack.append((c, False))

    for r in sorted(roots, key=lambda r: lowest[r]):
        place(r)
    bars = _collect(barcode, groups)
    lo, top = _top(bars)
    fig, ax = _axes(ax, (min(12.0, max(4.0, 0.25 * n + 2.0)), 4.0))
    for v in range(n, len(children)):
        xs = [x[c] for c in children[v]]
        ax.hlines(level[v], min(xs), max(xs), colors="k", lw=1.2)
        for c in children[v]:
            ax.vlines(x[c], level[c], level[v], colors="k", lw=1.2)
    for r in roots:
        ax.vlines(x[r], level[r], top, colors="k", lw=1.2)
        ax.plot(x[r], top, marker="^", color="k", ms=6)
    group = [str(g) for g in groups] if groups is not None else [""] * n
    colour = _colours(list(dict.fromkeys(group)))
    for g in colour:
        sel = [k for k in range(n) if group[k] == g]
        ax.scatter(x[sel], level[sel], s=25, color=colour[g], zorder=3, label=g or None)
    if n <= 40:
        names = [str(m) for m in barcode.minimum] if labels is None else [str(v) for v in labels]
        ax.set_xticks(x[:n], names, fontsize="small")
    else:
        ax.set_xticks([])
    ax.set_xlabel("minimum")
    ax.set_ylabel("loss")
    ax.set_ylim(lo - 0.05 * (top - lo), top + 0.05 * (top - lo))
    if title:
        ax.set_title(title)
    if groups is not None:
        ax.legend(fontsize="small")
    return fig
