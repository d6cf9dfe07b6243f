"""Higher barcodes: optimised simplices (paper §1.4, Alg. 2, App. I) and exact grid references."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np

from toolkit.topology._barcode import Barcode
from toolkit.topology._minima import Saddles, _flagged, _graph


def _check_simplices(
    simplices: Mapping[tuple[int, ...], float], n: int, what: str
) -> dict[tuple[int, ...], float]:
    out: dict[tuple[int, ...], float] = {}
    for key, value in simplices.items():
        simplex = tuple(sorted(int(v) for v in key))
        value = float(value)
        if len(simplex) < 3:
            raise ValueError(f"{what}[{key}]: simplices here need at least 3 vertices "
                             "(vertices and edges have their own arguments)")
        if not np.isfinite(value):
            raise ValueError(f"{what}[{key}] = {value} is not finite")
        if simplex[0] < 0 or simplex[-1] >= n:
            raise ValueError(f"{what}[{key}] has a vertex index out of range for {n} minima")
        if len(set(simplex)) != len(simplex):
            raise ValueError(f"{what}[{key}] repeats a vertex")
        out[simplex] = min(value, out.get(simplex, np.inf))  # best of duplicates
    return out


def simplex_barcode(
    vertex_losses: Sequence[float] | np.ndarray,
    edges: Saddles,
    triangles: Mapping[tuple[int, int, int], float] | None = None,
    *,
    simplices: Mapping[tuple[int, ...], float] | None = None,
    atol: float = 0.0,
) -> dict[int, Barcode]:
    """Barcodes of the filtered complex of optimised simplices (Alg. 2; App. I for triangles).

    Every simplex enters at the maximal loss found on it, raised where needed to the maximum of
    its faces' values so the filtration is monotone (the largest loss on a triangle includes its
    sides). Reduced by GUDHI's persistent cohomology over Z/2, with ties broken by the total order
    of ``minima_barcode`` (value, then dimension, then vertex ids from the largest).

    Args:
        vertex_losses: ``(N,)`` losses of the minima (the 0-simplices).
        edges: path maxima between minima, as for ``minima_barcode`` (mapping or ``(N, N)``).
        triangles: ``{(i, j, k): max loss over the optimised triangle}``; each of its three
            sides must be in ``edges`` (an optimised triangle is spanned by optimised paths).
        simplices: further simplices of any dimension >= 2, ``{(v0, ..., vd): max loss}``,
            merged with ``triangles``; every face must be given too.
        atol: tolerance for path maxima below an endpoint's loss (see ``minima_barcode``).

    Returns:
        ``{k: Barcode}`` for ``k = 0 .. top dimension`` (at least ``{0, 1}``). Index 0 has one bar
        per vertex (bar ``k`` is minimum ``k``) and equals ``minima_barcode(vertex_losses, edges)``;
        index ``k >= 1`` bars are sorted by ``(birth, death)``; their ``creator`` is the
        ``k``-simplex whose entry opens the cycle, ``killer`` the ``(k+1)``-simplex filling it.
        The bar of a lone triangle is ``[max over its sides, max over the triangle]``.
    """
    import gudhi

    losses, lo, hi, s = _graph(vertex_losses, edges, atol)
    n = losses.size
    value: dict[tuple[int, ...], float] = {(v,): float(losses[v]) for v in range(n)}
    value.update(zip(zip(lo.tolist(), hi.tolist()), s.tolist()))
    higher = _check_simplices(triangles or {}, n, "triangles")
    for key, val in _check_simplices(simplices or {}, n, "simplices").items():
        higher[key] = min(val, higher.get(key, np.inf))
    for simplex in sorted(higher, key=len):  # faces first, so their values are final
        faces = list(combinations(simplex, len(simplex) - 1))
        missing = [f for f in faces if f not in value]
        if missing:
            raise ValueError(f"simplex {simplex} has face {missing[0]} that was not given; every "
                             "face of an optimised simplex must itself be optimised")
        value[simplex] = max(higher[simplex], *(value[f] for f in faces))
    top = max(1, max((len(k) - 1 for k in value), default=0))

    # GUDHI breaks ties its own way; give it positions in our total order (value, dimension,
    # vertices from the largest, as in toolkit.topology._minima), then read values back.
    order = sorted(value, key=lambda sx: (value[sx], len(sx), sx[::-1]))
    st = gudhi.SimplexTree()
    for rank, simplex in enumerate(order):
        st.insert(list(simplex), float(rank))
    st.persistence(homology_coeff_field=2, min_persistence=-1, persistence_dim_max=True)
    bars: dict[int, list[tuple[float, float, tuple[int, ...], tuple[int, ...] | None]]] = {
        k: [] for k in range(top + 1)}
    for birth, death in st.persistence_pairs():
        b = tuple(sorted(birth))
        d = tuple(sorted(death)) if death else None
        bars[len(b) - 1].append((value[b], value[d] if d else np.inf, b, d))

    out: dict[int, Barcode] = {}
    for k, rows in bars.items():
        rows.sort(key=lambda r: (r[2][0], r[0]) if k == 0 else (r[0], r[1], r[2]))
        deaths = np.array([r[1] for r in rows], dtype=np.float64)
        out[k] = Barcode(
            births=np.array([r[0] for r in rows], dtype=np.float64), deaths=deaths,
            minimum=[r[2][0] for r in rows] if k == 0 else np.full(len(rows), -1),
            killer=[r[3] for r in rows], creator=[r[2] for r in rows], index=k,
            flagged=_flagged(deaths, losses) if k == 0 else np.zeros(0, dtype=np.int64),
        )
    return out


def grid_barcode(
    values: np.ndarray, *, periodic: bool | Sequence[bool] = False, min_persistence: float = 0.0
) -> dict[int, Barcode]:
    """Exact sublevel-set barcodes of a function sampled on a regular grid (GUDHI cubical complex).

    Each sample is a top-dimensional cell (pixel/voxel) filtered by its value; lower faces take
    the minimum of their cofaces, so cells touching at a corner are connected. The result is the
    exact persistence of that piecewise-constant function, which converges to the function's own
    barcode as the grid is refined (critical values are recovered to grid precision).

    Args:
        values: ``(n0,)``, ``(n0, n1)`` or ``(n0, n1, n2)`` samples (any unit).
        periodic: wrap the grid around (all axes, or one flag per axis).
        min_persistence: bars of length ``<= min_persistence`` are dropped (``0`` drops only the
            zero-length pairs that discretisation creates).

    Returns:
        ``{k: Barcode}`` for ``k = 0 .. values.ndim - 1`` (``.. values.ndim`` if periodic) with ``kind="grid"``: ``creator`` and
        ``killer`` are multi-indices into ``values`` of the cells that create/kill each bar (so
        ``values[creator] == birth``), and for index 0 ``minimum`` is the flat (C-order) index of
        the bar's minimum. Bars are sorted by ``(birth, death)``.
    """
    import gudhi

    grid = np.asarray(values, dtype=np.float64)
    if grid.ndim < 1 or grid.size == 0:
        raise ValueError(f"grid_barcode needs a non-empty 1D/2D/3D array, got shape {grid.shape}")
    bad = np.argwhere(~np.isfinite(grid))
    if bad.size:
        cell = tuple(int(v) for v in bad[0])
        raise ValueError(f"values[{cell}] = {grid[cell]} is not finite; mask it with a large "
                         "finite value instead")
    if np.any(periodic):
        flags = [bool(periodic)] * grid.ndim if np.ndim(periodic) == 0 else list(periodic)
        cc = gudhi.PeriodicCubicalComplex(top_dimensional_cells=grid, periodic_dimensions=flags)
    else:
        cc = gudhi.CubicalComplex(top_dimensional_cells=grid)
    cc.compute_persistence(homology_coeff_field=2, min_persistence=min_persistence)
    regular, essential = cc.cofaces_of_persistence_pairs()
    flat = grid.ravel(order="F")  # GUDHI numbers top cells with the first axis fastest

    def cell(idx: int) -> tuple[int, ...]:
        return tuple(int(v) for v in np.unravel_index(int(idx), grid.shape, order="F"))

    out: dict[int, Barcode] = {}
    for k in range(grid.ndim + 1 if np.any(periodic) else grid.ndim):  # a torus has top cycles
        pairs = regular[k] if k < len(regular) else np.zeros((0, 2), dtype=np.int64)
        ess = essential[k] if k < len(essential) else np.zeros(0, dtype=np.int64)
        rows = [(flat[b], flat[d], cell(b), cell(d)) for b, d in np.reshape(pairs, (-1, 2))]
        rows += [(flat[b], np.inf, cell(b), None) for b in np.reshape(ess, -1)]
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
        out[k] = Barcode(
            births=np.array([r[0] for r in rows], dtype=np.float64),
            deaths=np.array([r[1] for r in rows], dtype=np.float64),
            minimum=[int(np.ravel_multi_index(r[2], grid.shape)) if k == 0 else -1 for r in rows],
            killer=[r[3] for r in rows], creator=[r[2] for r in rows], index=k, kind="grid",
        )
    return out
