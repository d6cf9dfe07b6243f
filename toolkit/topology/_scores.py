"""TO-scores (paper §1.3, formulas (3)-(4)) and bar-by-bar comparison of two barcodes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from toolkit.topology._barcode import Barcode

BarcodeLike = Barcode | np.ndarray


def _diagram(barcode: BarcodeLike) -> np.ndarray:
    d = barcode.as_diagram() if isinstance(barcode, Barcode) else np.asarray(barcode, float)
    d = d.reshape(-1, 2)
    if np.isnan(d).any() or np.isinf(d[:, 0]).any():
        raise ValueError("a barcode's births must be finite and its deaths must not be NaN")
    return d


def to_score(barcode: BarcodeLike, index: int | None = None, *, p: float = np.inf) -> float:
    """TO-score: distance from a barcode to the barcode of the ideal function.

    The ideal function has a single minimum at the level of the global minimum and no other
    critical point, so its index-0 barcode is ``{[min births, +inf)}`` and its index-``k >= 1``
    barcode is empty. Bars are points ``(birth, death)``; two bars cost their L-infinity distance
    ``max(|b1 - b2|, |d1 - d2|)``, a bar left unmatched costs its L-infinity distance to the
    diagonal, ``(d - b) / 2``, and infinite bars are matched only with infinite bars (by birth).
    Hence for the minima barcode ``TO = max over finite bars of (d - b) / 2``; an extra infinite
    bar (a flagged minimum, or an unfilled cycle) makes the score ``inf``.

    Args:
        barcode: a ``Barcode`` or an ``(n, 2)`` array of ``(birth, death)`` (``inf`` allowed).
        index: homological degree; defaults to ``barcode.index`` (0 for an array).
        p: ``inf`` for the bottleneck distance (the paper's TO-score, ``gudhi.bottleneck_distance``
            computed exactly), or a finite order for the Wasserstein-p distance
            (``gudhi.wasserstein``, needs POT), ``(sum of cost**p) ** (1/p)``.

    Returns:
        The score, in the unit of the losses.
    """
    import gudhi

    if isinstance(barcode, Barcode):
        if index is not None and index != barcode.index:
            raise ValueError(f"index={index} but the barcode has index {barcode.index}")
        index = barcode.index
    index = 0 if index is None else int(index)
    diag = _diagram(barcode)
    if index == 0:
        if len(diag) == 0:
            raise ValueError("an index-0 barcode needs at least the global minimum's bar")
        ideal = np.array([[diag[:, 0].min(), np.inf]])
    else:
        ideal = np.zeros((0, 2))
    if np.isinf(p):
        return float(gudhi.bottleneck_distance(diag, ideal, 0.0))
    from gudhi.wasserstein import wasserstein_distance

    return float(wasserstein_distance(diag, ideal, order=float(p), internal_p=np.inf,
                                      keep_essential_parts=True))


@dataclass(frozen=True)
class BarcodeComparison:
    """One-to-one matching of the finite bars of an estimate with those of a reference.

    Attributes:
        pairs: ``(k, 2)`` int, ``(estimate bar, reference bar)`` positions of matched bars.
        birth_diff: ``(k,)`` estimate birth minus reference birth, per matched pair.
        death_diff: ``(k,)`` estimate death minus reference death.
        unmatched_estimate: positions of estimate finite bars matched to the diagonal.
        unmatched_reference: positions of reference finite bars matched to the diagonal.
        max_abs_diff: largest ``|birth_diff|`` or ``|death_diff|`` (0 when nothing matched).
        infinite_births: ``(estimate, reference)`` sorted births of the infinite bars.
    """

    pairs: np.ndarray
    birth_diff: np.ndarray
    death_diff: np.ndarray
    unmatched_estimate: np.ndarray
    unmatched_reference: np.ndarray
    max_abs_diff: float
    infinite_births: tuple[np.ndarray, np.ndarray]

    def within(self, tol: float) -> bool:
        """Every finite estimate bar is matched and its birth and death are within ``tol``."""
        return self.unmatched_estimate.size == 0 and self.max_abs_diff <= tol

    def __repr__(self) -> str:
        return (f"BarcodeComparison({len(self.pairs)} matched, max |diff| = "
                f"{self.max_abs_diff:.6g}, unmatched: {self.unmatched_estimate.size} estimate, "
                f"{self.unmatched_reference.size} reference)")


def compare_barcodes(estimate: BarcodeLike, reference: BarcodeLike) -> BarcodeComparison:
    """Match the finite bars of ``estimate`` with those of ``reference``, one to one.

    The matching minimises the total L-infinity cost (Hungarian algorithm): matching bars ``x``
    and ``y`` costs ``max(|b_x - b_y|, |d_x - d_y|)``, leaving a bar unmatched costs its distance
    to the diagonal ``(d - b) / 2``, so short noise bars of either side stay unmatched. Positions
    refer to the finite bars in the input's order (``barcode.finite()`` for a ``Barcode``).

    Args:
        estimate: e.g. ``minima_barcode`` of sampled minima and paths.
        reference: e.g. ``grid_barcode(values)[0]``, same index.

    Returns:
        ``BarcodeComparison``; ``.within(tol)`` says whether every estimated bar matches.
    """
    de, dr = _diagram(estimate), _diagram(reference)
    fe, fr = de[np.isfinite(de[:, 1])], dr[np.isfinite(dr[:, 1])]
    n, m = len(fe), len(fr)
    big = np.inf
    cost = np.zeros((n + m, m + n))
    cost[:n, :m] = np.abs(fe[:, None, :] - fr[None, :, :]).max(axis=2)
    cost[:n, m:] = big
    cost[:n, m:][np.arange(n), np.arange(n)] = (fe[:, 1] - fe[:, 0]) / 2
    cost[n:, :m] = big
    cost[n:, :m][np.arange(m), np.arange(m)] = (fr[:, 1] - fr[:, 0]) / 2
    rows, cols = linear_sum_assignment(cost)
    real = (rows < n) & (cols < m)
    pairs = np.stack([rows[real], cols[real]], axis=1).astype(np.int64)
    bd = fe[pairs[:, 0], 0] - fr[pairs[:, 1], 0]
    dd = fe[pairs[:, 0], 1] - fr[pairs[:, 1], 1]
    unmatched_e = np.setdiff1d(np.arange(n), pairs[:, 0])
    unmatched_r = np.setdiff1d(np.arange(m), pairs[:, 1])
    diffs = np.concatenate([np.abs(bd), np.abs(dd)])
    return BarcodeComparison(
        pairs=pairs, birth_diff=bd, death_diff=dd, unmatched_estimate=unmatched_e,
        unmatched_reference=unmatched_r, max_abs_diff=float(diffs.max()) if diffs.size else 0.0,
        infinite_births=(np.sort(de[np.isinf(de[:, 1]), 0]), np.sort(dr[np.isinf(dr[:, 1]), 0])),
    )
