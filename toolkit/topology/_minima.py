"""Barcode of minima from sampled minima and optimised paths (paper §1.1, formulas (1)-(2)).

Graph filtration: vertex ``i`` enters at ``min_losses[i]``, edge ``(i, j)`` at the maximal loss of
the best path found between minima ``i`` and ``j``. Its 0-dimensional persistence, by union-find
with the elder rule, is the estimate of formula (1): a minimum dies at the lowest level at which its
component contains a lower minimum.

Tie-breaking: a total order on vertices and paths, which the GUDHI cross-check is given as its
filtration (``minima_barcode_gudhi``), so both agree field by field, bar owners and killers too:

* minima are ordered by ``(loss, index)``: of two minima at the same loss the lower index is the
  elder and survives a merge (so a tie for the global minimum goes to the lower index, and an
  unconnected equal minimum is flagged);
* paths are ordered by ``(saddle, j, i)`` with ``i < j`` (GUDHI's reverse-lexicographic order on
  equal values); the first path in this order that joins two components kills the younger one.

The diagram (multiset of bars) and each minimum's death level for distinct losses do not depend
on these choices; the order only decides which of several equal minima owns which bar, and which
of several equal paths is reported as ``killer``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import minimum_spanning_tree

from toolkit.topology._barcode import Barcode

Saddles = Mapping[tuple[int, int], float] | np.ndarray


def _check_losses(min_losses: Sequence[float] | np.ndarray) -> np.ndarray:
    losses = np.asarray(min_losses, dtype=np.float64)
    if losses.ndim != 1 or losses.size == 0:
        raise ValueError(f"min_losses must be a non-empty 1D sequence, got shape {losses.shape}")
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"min_losses[{k}] = {losses[k]} is not finite; every minimum needs a "
                         "finite loss (drop or re-evaluate that minimum)")
    return losses


def _pairs_from_mapping(saddles: Mapping, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = len(saddles)
    try:  # read as floats so that a key like (0.5, 1) is caught, not truncated
        ij = np.fromiter(saddles.keys(), dtype=np.dtype((np.float64, 2)), count=m).reshape(m, 2)
    except (TypeError, ValueError) as err:
        raise ValueError("saddles must map pairs (i, j) of minima indices to path maxima; "
                         f"found a key that is not a pair of ints ({err})") from None
    bad = np.flatnonzero((ij != np.round(ij)).any(axis=1))
    if bad.size:
        raise ValueError(f"saddles key {tuple(ij[bad[0]].tolist())} is not a pair of integer "
                         "indices")
    s = np.fromiter(saddles.values(), dtype=np.float64, count=m)
    return ij[:, 0].astype(np.int64), ij[:, 1].astype(np.int64), s


def _pairs_from_matrix(saddles: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mat = np.asarray(saddles, dtype=np.float64)
    if mat.shape != (n, n):
        raise ValueError(f"saddle matrix must have shape ({n}, {n}) (one row per minimum), "
                         f"got {mat.shape}")
    i, j = np.nonzero(~np.isnan(mat) & ~np.eye(n, dtype=bool))
    return i, j, mat[i, j]


def _graph(min_losses, saddles: Saddles, atol: float):
    """Validated graph: ``losses (N,)``, and per path ``i (M,) < j (M,)``, ``s (M,)``.

    A pair given twice (``(i, j)`` and ``(j, i)``) keeps the lower value: both are paths between
    the same two minima and the best one counts. Saddles within ``atol`` below an endpoint's loss
    are raised to it (noisy loss evaluations); further below is an error.
    """
    losses = _check_losses(min_losses)
    n = losses.size
    if isinstance(saddles, Mapping):
        i, j, s = _pairs_from_mapping(saddles, n)
    else:
        i, j, s = _pairs_from_matrix(saddles, n)
    for test, why in (
        (~np.isfinite(s), "is not finite (omit pairs without a path instead)"),
        ((i < 0) | (j < 0), "has a negative index"),
        ((i >= n) | (j >= n), f"has an index out of range for {n} minima"),
        (i == j, "joins a minimum to itself"),
    ):
        bad = np.flatnonzero(test)
        if bad.size:
            k = int(bad[0])
            raise ValueError(f"saddles[({i[k]}, {j[k]})] = {s[k]} {why}")
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    floor = np.maximum(losses[lo], losses[hi])
    bad = np.flatnonzero(s < floor - atol)
    if bad.size:
        k = int(bad[np.argmax(floor[bad] - s[bad])])
        raise ValueError(
            f"saddles[({i[k]}, {j[k]})] = {float(s[k])!r} is below an endpoint's loss "
            f"(min_losses[{lo[k]}] = {float(losses[lo[k]])!r}, "
            f"min_losses[{hi[k]}] = {float(losses[hi[k]])!r}); "
            "a path's maximum cannot be below its ends: a bug upstream, or pass atol= for noisy "
            "loss evaluations"
        )
    s = np.maximum(s, floor)
    # keep the best of duplicated pairs: sort by value, keep the first of each key
    order = np.lexsort((s, hi * n + lo))
    key = (hi * n + lo)[order]
    first = np.ones(key.size, dtype=bool)
    first[1:] = key[1:] != key[:-1]
    keep = order[first]
    return losses, lo[keep], hi[keep], s[keep]


def _flagged(deaths: np.ndarray, losses: np.ndarray) -> np.ndarray:
    glob = int(np.lexsort((np.arange(losses.size), losses))[0])
    inf = np.flatnonzero(np.isinf(deaths))
    return inf[inf != glob]


def minima_barcode(
    min_losses: Sequence[float] | np.ndarray, saddles: Saddles, *, atol: float = 0.0
) -> Barcode:
    """Barcode of minima by union-find with the elder rule (0-dim persistence of the graph).

    Args:
        min_losses: ``(N,)`` loss of each sampled minimum (any unit, e.g. mean cross-entropy).
        saddles: the maximal loss along the best path found between minima ``i`` and ``j``,
            either a mapping ``{(i, j): value}`` (pairs may be missing, either order) or an
            ``(N, N)`` array with NaN where there is no path (diagonal ignored).
        atol: tolerance (same unit as the losses) for path maxima slightly below an endpoint's
            loss, which noisy evaluations can produce; such values are raised to the endpoint's.

    Returns:
        ``Barcode`` with one bar per minimum (bar ``k`` is minimum ``k``): ``[L_k, d_k)`` where
        ``d_k`` is the lowest path maximum joining ``k`` to a component with a lower minimum
        (see the module docstring for ties). The global minimum's bar is infinite; other
        infinite bars (no path to a lower minimum) are listed in ``flagged``.

    Raises:
        ValueError: non-finite losses or path maxima, negative or out-of-range indices, a pair
            ``(i, i)``, or a path maximum below an endpoint's loss by more than ``atol``.
    """
    losses, lo, hi, s = _graph(min_losses, saddles, atol)
    n = losses.size
    age = np.empty(n, dtype=np.int64)
    age[np.lexsort((np.arange(n), losses))] = np.arange(n)
    deaths = np.full(n, np.inf)
    killer: list[tuple[int, int] | None] = [None] * n
    if s.size:
        # Only edges of the minimum spanning tree (for the strict order below) merge components;
        # scipy finds them in C, so the Python loop runs N - 1 times instead of M.
        order = np.lexsort((lo, hi, s))
        rank = np.empty(s.size)
        rank[order] = np.arange(1, s.size + 1)
        tree = minimum_spanning_tree(coo_matrix((rank, (lo, hi)), shape=(n, n))).tocoo()
        edges = order[np.sort(tree.data).astype(np.int64) - 1]
        parent = list(range(n))
        for e in edges.tolist():
            a, b = int(lo[e]), int(hi[e])
            while parent[a] != a:
                parent[a] = a = parent[parent[a]]
            while parent[b] != b:
                parent[b] = b = parent[parent[b]]
            old, young = (a, b) if age[a] < age[b] else (b, a)
            parent[young] = old
            deaths[young] = s[e]
            killer[young] = (int(lo[e]), int(hi[e]))
    return Barcode(births=losses, deaths=deaths, minimum=np.arange(n), killer=killer,
                   flagged=_flagged(deaths, losses), index=0,
                   creator=[(k,) for k in range(n)])


def minima_barcode_gudhi(
    min_losses: Sequence[float] | np.ndarray,
    saddles: Saddles,
    *,
    atol: float = 0.0,
    break_ties: bool = True,
) -> Barcode:
    """The same barcode as ``minima_barcode`` from GUDHI's ``SimplexTree`` persistence.

    A second, independent implementation (GUDHI's persistent cohomology of the graph with
    vertices at the minima's losses and edges at the path maxima) used to cross-check the
    union-find; slower for large graphs.

    GUDHI resolves equal values its own way (at a merge of two components born at the same
    level it kills the one holding the edge's larger vertex id), which is not a total order on
    the minima. With ``break_ties=True`` (default) GUDHI is given each simplex's position in the
    module's total order as its filtration value, then values are mapped back: the result equals
    ``minima_barcode`` field by field. With ``break_ties=False`` GUDHI sees the raw values; the
    diagram (multiset of bars) still agrees, the owners and killers of tied bars may not.
    """
    import gudhi

    losses, lo, hi, s = _graph(min_losses, saddles, atol)
    n, m = losses.size, s.size
    value = np.concatenate([losses, s])
    if break_ties:  # (value, dim, index) for vertices, (value, dim, j, i) for paths
        order = np.lexsort((np.concatenate([np.zeros(n, np.int64), lo]),
                            np.concatenate([np.arange(n), hi]),
                            np.concatenate([np.zeros(n), np.ones(m)]), value))
        filt = np.empty(n + m)
        filt[order] = np.arange(n + m)
    else:
        filt = value
    st = gudhi.SimplexTree()
    for v in range(n):
        st.insert([v], float(filt[v]))
    for e, (a, b) in enumerate(zip(lo.tolist(), hi.tolist())):
        st.insert([a, b], float(filt[n + e]))
    st.persistence(homology_coeff_field=2, min_persistence=-1)
    edge = {(a, b): e for e, (a, b) in enumerate(zip(lo.tolist(), hi.tolist()))}
    deaths = np.full(n, np.inf)
    killer: list[tuple[int, int] | None] = [None] * n
    for birth, death in st.persistence_pairs():
        if len(birth) == 1 and death:
            killer[birth[0]] = (min(death), max(death))
            deaths[birth[0]] = s[edge[killer[birth[0]]]]
    return Barcode(births=losses, deaths=deaths, minimum=np.arange(n), killer=killer,
                   flagged=_flagged(deaths, losses), index=0,
                   creator=[(k,) for k in range(n)])
