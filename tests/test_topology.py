"""toolkit.topology: exact answers, GUDHI cross-checks, closed-form critical values, laws."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import toolkit as tk
from toolkit.topology import (
    Barcode,
    compare_barcodes,
    grid_barcode,
    minima_barcode,
    minima_barcode_gudhi,
    simplex_barcode,
    to_score,
)

# A 1D chain (the paper's Fig. 9 in miniature): minima at x = 0, 2, 4, 6 with losses 0, 2, 1, 3
# and maxima 5, 4, 6 between neighbours. By hand: m1 meets the lower m2 at 4; {m1, m2} meets m0
# at 5; m3 meets everything at 6.
CHAIN_KNOTS = np.array([0.0, 5.0, 2.0, 4.0, 1.0, 6.0, 3.0])
CHAIN_LOSSES = [0.0, 2.0, 1.0, 3.0]
CHAIN_SADDLES = {(0, 1): 5.0, (1, 2): 4.0, (2, 3): 6.0}


def _random_graph(rng: np.random.Generator, ties: bool):
    n = int(rng.integers(2, 26))
    losses = rng.integers(0, 5, n).astype(float) if ties else rng.normal(size=n)
    p = rng.uniform(0.1, 1.0)
    saddles = {}
    for i, j in itertools.combinations(range(n), 2):
        if rng.random() < p:
            lift = rng.integers(0, 4) if ties else rng.exponential()
            key = (i, j) if rng.random() < 0.5 else (j, i)
            saddles[key] = max(losses[i], losses[j]) + float(lift)
    return losses, saddles


def _sorted_diagram(b: Barcode) -> np.ndarray:
    d = b.as_diagram()
    return d[np.lexsort((d[:, 1], d[:, 0]))]


def _minimax_deaths(losses, saddles):
    """Formula (1) by brute force: for each minimum, the lowest path maximum (chains allowed,
    Floyd-Warshall on max-min) to any elder minimum (lower loss; equal loss and lower index)."""
    n = len(losses)
    d = np.full((n, n), np.inf)
    for (i, j), s in saddles.items():
        d[i, j] = d[j, i] = min(d[i, j], s)
    for k in range(n):
        d = np.minimum(d, np.maximum(d[:, [k]], d[[k], :]))
    elder = [(losses[v], v) for v in range(n)]
    return np.array([min([d[m, v] for v in range(n) if elder[v] < elder[m]], default=np.inf)
                     for m in range(n)])


# ---- minima_barcode: exact answers --------------------------------------------------------------
def test_chain_by_hand():
    b = minima_barcode(CHAIN_LOSSES, CHAIN_SADDLES)
    assert b.births.tolist() == CHAIN_LOSSES
    assert b.deaths.tolist() == [np.inf, 4.0, 5.0, 6.0]
    assert b.killer == [None, (1, 2), (0, 1), (2, 3)]
    assert b.minimum.tolist() == [0, 1, 2, 3]
    assert b.flagged.size == 0 and b.index == 0 and len(b) == 4


def test_all_pairs_of_a_1d_chain_give_the_same_barcode():
    # a straight path between minima a < b climbs to the highest knot between them
    saddles = {(a, b): CHAIN_KNOTS[2 * a:2 * b + 1].max() for a, b in itertools.combinations(range(4), 2)}
    assert minima_barcode(CHAIN_LOSSES, saddles).deaths.tolist() == [np.inf, 4.0, 5.0, 6.0]


def test_chains_through_other_minima_count():
    # no direct path 1 -> 0; the chain 1 -> 2 -> 0 reaches lower loss at max(3, 3.5)
    b = minima_barcode([0.0, 1.0, 2.0], {(1, 2): 3.0, (2, 0): 3.5})
    assert b.deaths.tolist() == [np.inf, 3.5, 3.0]
    assert b.killer == [None, (0, 2), (1, 2)]


def test_isolated_minimum_is_flagged():
    b = minima_barcode([0.0, 1.0, 2.0], {(0, 1): 2.0})
    assert np.isinf(b.deaths[2]) and b.flagged.tolist() == [2]
    assert to_score(b) == np.inf
    assert "flagged minima [2]" in repr(b)


def test_ties_lower_index_is_elder():
    b = minima_barcode([1.0, 1.0, 1.0], {(1, 2): 2.0, (0, 2): 2.0})
    # paths ordered (saddle, j, i): (0, 2) before (1, 2); (0, 2) kills 2, then (1, 2) kills 1
    assert b.deaths.tolist() == [np.inf, 2.0, 2.0]
    assert b.killer == [None, (1, 2), (0, 2)]
    b = minima_barcode([0.0, 0.0], {})
    assert b.flagged.tolist() == [1]


def test_duplicate_pairs_keep_the_best_path():
    b = minima_barcode([0.0, 1.0], {(0, 1): 3.0, (1, 0): 2.0})
    assert b.deaths[1] == 2.0


def test_matrix_input_equals_mapping():
    rng = np.random.default_rng(1)
    losses, saddles = _random_graph(rng, ties=True)
    mat = np.full((len(losses), len(losses)), np.nan)
    for (i, j), s in saddles.items():
        mat[i, j] = s
    assert minima_barcode(losses, mat) == minima_barcode(losses, saddles)


def test_zero_length_bars_are_kept():
    b = minima_barcode([0.0, 1.0], {(0, 1): 1.0})
    assert b.lengths.tolist() == [np.inf, 0.0]


# ---- minima_barcode: second implementations and laws ---------------------------------------------
@pytest.mark.parametrize("ties", [True, False])
def test_union_find_equals_gudhi_on_random_graphs(ties):
    rng = np.random.default_rng(4 if ties else 5)
    for _ in range(60):
        losses, saddles = _random_graph(rng, ties)
        uf, gd = minima_barcode(losses, saddles), minima_barcode_gudhi(losses, saddles)
        assert uf == gd, (losses, saddles)
        raw = minima_barcode_gudhi(losses, saddles, break_ties=False)
        np.testing.assert_array_equal(_sorted_diagram(raw), _sorted_diagram(uf))


def test_deaths_equal_brute_force_formula_1():
    rng = np.random.default_rng(6)
    for ties in (True, False) * 15:
        losses, saddles = _random_graph(rng, ties)
        np.testing.assert_array_equal(minima_barcode(losses, saddles).deaths,
                                      _minimax_deaths(losses, saddles))


def test_relabelling_minima_permutes_the_bars():
    rng = np.random.default_rng(7)
    for ties in (False, True) * 10:
        losses, saddles = _random_graph(rng, ties)
        perm = rng.permutation(len(losses))
        new_losses = np.empty_like(losses)
        new_losses[perm] = losses
        new = minima_barcode(new_losses, {(perm[i], perm[j]): s for (i, j), s in saddles.items()})
        old = minima_barcode(losses, saddles)
        if not ties:  # each minimum keeps its own bar
            np.testing.assert_array_equal(new.deaths[perm], old.deaths)
        # with ties, which equal minimum survives depends on labels but the diagram does not
        np.testing.assert_array_equal(_sorted_diagram(new), _sorted_diagram(old))
        assert to_score(new) == to_score(old)


def test_better_paths_only_lower_deaths():
    rng = np.random.default_rng(8)
    for _ in range(20):
        losses, saddles = _random_graph(rng, ties=False)
        better = {k: s - rng.random() * (s - max(losses[k[0]], losses[k[1]]))
                  for k, s in saddles.items()}
        assert (minima_barcode(losses, better).deaths
                <= minima_barcode(losses, saddles).deaths).all()


# ---- validation -------------------------------------------------------------------------------
@pytest.mark.parametrize("losses, saddles, match", [
    ([0.0, np.nan], {}, r"min_losses\[1\] = nan"),
    ([0.0, np.inf], {}, r"min_losses\[1\] = inf"),
    ([0.0, 1.0], {(0, 1): np.nan}, r"saddles\[\(0, 1\)\] = nan is not finite"),
    ([0.0, 1.0], {(0, 1): np.inf}, r"saddles\[\(0, 1\)\] = inf is not finite"),
    ([0.0, 1.0], {(-1, 1): 2.0}, r"saddles\[\(-1, 1\)\].*negative"),
    ([0.0, 1.0], {(0, 2): 2.0}, r"saddles\[\(0, 2\)\].*out of range"),
    ([0.0, 1.0], {(1, 1): 2.0}, r"saddles\[\(1, 1\)\].*itself"),
    ([0.0, 1.0], {(0, 1): 0.5}, r"saddles\[\(0, 1\)\] = 0.5 is below .*min_losses\[1\] = 1.0"),
    ([0.0, 1.0], {(0, 1, 2): 2.0}, r"not a pair"),
    ([0.0, 1.0], {(0.5, 1): 2.0}, r"\(0.5, 1.0\) is not a pair of integer"),
    ([], {}, r"non-empty"),
])
def test_invalid_inputs_name_the_entry(losses, saddles, match):
    with pytest.raises(ValueError, match=match):
        minima_barcode(losses, saddles)
    with pytest.raises(ValueError, match=match):
        minima_barcode_gudhi(losses, saddles)


def test_atol_admits_noisy_saddles_and_raises_them_to_the_endpoint():
    with pytest.raises(ValueError):
        minima_barcode([0.0, 1.0], {(0, 1): 1.0 - 1e-7})
    b = minima_barcode([0.0, 1.0], {(0, 1): 1.0 - 1e-7}, atol=1e-6)
    assert b.deaths[1] == 1.0


# ---- Barcode object ---------------------------------------------------------------------------
def test_barcode_views_and_round_trips():
    b = minima_barcode([0.0, 2.0, 1.0, 3.0, 5.0], {**CHAIN_SADDLES, (3, 4): 7.0, (0, 4): 9.0})
    assert b.as_diagram().shape == (5, 2)
    f = b.finite()
    assert len(f) == 4 and np.isfinite(f.deaths).all() and f.minimum.tolist() == [1, 2, 3, 4]
    assert b.lengths.tolist() == [np.inf, 2.0, 4.0, 3.0, 2.0]
    text = b.to_json()
    assert "Infinity" not in text  # strict JSON
    assert Barcode.from_json(text) == b
    assert tk.cache.decode(tk.cache.encode(b)) == b
    assert b != minima_barcode(CHAIN_LOSSES, CHAIN_SADDLES)
    assert repr(b).startswith("Barcode(index=0, 5 bars: 4 finite, 1 infinite)")


def test_barcode_rejects_inconsistent_fields():
    with pytest.raises(ValueError, match="dies before it is born"):
        Barcode(births=[1.0], deaths=[0.5], minimum=[0], killer=[None])
    with pytest.raises(ValueError, match="killer has 2 entries"):
        Barcode(births=[1.0], deaths=[2.0], minimum=[0], killer=[(0, 1), (1, 2)])


def test_public_names_are_reexported():
    assert tk.minima_barcode is minima_barcode and tk.Barcode is Barcode
    assert tk.topology.simplex_barcode is simplex_barcode and tk.to_score is to_score


# ---- TO-score ---------------------------------------------------------------------------------
def test_to_score_hand_computed():
    b = minima_barcode(CHAIN_LOSSES, CHAIN_SADDLES)  # finite bars [2,4], [1,5], [3,6]
    assert to_score(b) == pytest.approx(2.0)  # (5 - 1) / 2, the longest bar's half length
    assert to_score(b, p=1) == pytest.approx(1.0 + 2.0 + 1.5)
    assert to_score(b, p=2) == pytest.approx(np.sqrt(1.0 + 4.0 + 2.25))
    assert to_score(np.array([[0.3, np.inf]])) == 0.0
    assert to_score(np.array([[3.0, 5.0]]), index=1) == pytest.approx(1.0)
    assert to_score(np.zeros((0, 2)), index=1) == 0.0
    with pytest.raises(ValueError, match="index=1 but the barcode has index 0"):
        to_score(b, index=1)


# ---- simplex_barcode --------------------------------------------------------------------------
TRI_LOSSES = [0.0, 0.1, 0.2]
TRI_EDGES = {(0, 1): 1.0, (1, 2): 2.0, (0, 2): 3.0}


def test_lone_triangle_bar_is_sides_to_triangle_max():
    bars = simplex_barcode(TRI_LOSSES, TRI_EDGES, {(0, 1, 2): 5.0})
    assert bars[1].as_diagram().tolist() == [[3.0, 5.0]]
    assert bars[1].creator == [(0, 2)] and bars[1].killer == [(0, 1, 2)]
    assert bars[0] == minima_barcode(TRI_LOSSES, TRI_EDGES)
    assert to_score(bars[1]) == pytest.approx(1.0)


def test_triangle_below_its_sides_is_raised_to_them():
    bars = simplex_barcode(TRI_LOSSES, TRI_EDGES, {(2, 1, 0): 2.5})
    assert bars[1].as_diagram().tolist() == [[3.0, 3.0]]


def test_unfilled_cycles_are_infinite_index_1_bars():
    bars = simplex_barcode([0.0] * 4, {(0, 1): 1, (1, 2): 2, (2, 3): 3, (0, 3): 4, (0, 2): 5})
    assert bars[1].deaths.tolist() == [np.inf, np.inf]  # 5 edges - 4 vertices + 1 component
    assert sorted(bars[1].births.tolist()) == [4.0, 5.0]


def test_hollow_tetrahedron_has_an_index_2_bar_filled_by_the_solid_one():
    edges = {e: 1.0 for e in itertools.combinations(range(4), 2)}
    faces = {t: 2.0 + k for k, t in enumerate(itertools.combinations(range(4), 3))}
    hollow = simplex_barcode([0.0] * 4, edges, faces)
    assert hollow[2].as_diagram().tolist() == [[5.0, np.inf]]
    solid = simplex_barcode([0.0] * 4, edges, faces, simplices={(0, 1, 2, 3): 7.0})
    assert solid[2].as_diagram().tolist() == [[5.0, 7.0]]
    assert solid[1].as_diagram().tolist() == [[1.0, 2.0], [1.0, 3.0], [1.0, 4.0]]


def test_simplex_barcode_errors():
    with pytest.raises(ValueError, match=r"face \(1, 2\) that was not given"):
        simplex_barcode(TRI_LOSSES, {(0, 1): 1.0, (0, 2): 3.0}, {(0, 1, 2): 5.0})
    with pytest.raises(ValueError, match="repeats a vertex"):
        simplex_barcode(TRI_LOSSES, TRI_EDGES, {(0, 1, 1): 5.0})
    with pytest.raises(ValueError, match=r"triangles\[\(0, 1, 2\)\] = nan"):
        simplex_barcode(TRI_LOSSES, TRI_EDGES, {(0, 1, 2): np.nan})


def test_simplex_index_0_equals_minima_barcode_on_random_complexes():
    rng = np.random.default_rng(9)
    for ties in (True, False) * 10:
        losses, saddles = _random_graph(rng, ties)
        edges = {tuple(sorted(k)): v for k, v in saddles.items()}
        tris = {t: max(edges[(t[0], t[1])], edges[(t[0], t[2])], edges[(t[1], t[2])]) + rng.random()
                for t in itertools.combinations(range(len(losses)), 3)
                if all(p in edges for p in itertools.combinations(t, 2)) and rng.random() < 0.5}
        bars = simplex_barcode(losses, saddles, tris)
        assert bars[0] == minima_barcode(losses, saddles)
        # Euler characteristic: (#V - #E + #T) = sum_k (-1)^k (#essential index-k bars)
        ess = [int(np.isinf(bars[k].deaths).sum()) for k in (0, 1, 2) if k in bars]
        assert len(losses) - len(edges) + len(tris) == sum((-1) ** k * e for k, e in enumerate(ess))


# ---- grid_barcode -----------------------------------------------------------------------------
def test_grid_1d_polynomial_critical_values():
    f = np.polynomial.Polynomial([0.0, 0.3, -2.0, 0.0, 1.0])  # x^4 - 2x^2 + 0.3x
    crit = np.sort(f.deriv().roots().real)  # minimum, maximum, minimum
    lo_min, hi_min = sorted([f(crit[0]), f(crit[2])])
    x = np.linspace(-2.0, 2.0, 4001)
    bars = grid_barcode(f(x))[0]
    tol = 1e-5  # h = 1e-3, |f''| <= 12 near the critical points: error <= 12 h^2 / 2
    assert len(bars) == 2
    assert bars.births[0] == pytest.approx(lo_min, abs=tol) and np.isinf(bars.deaths[0])
    assert bars.births[1] == pytest.approx(hi_min, abs=tol)
    assert bars.deaths[1] == pytest.approx(f(crit[1]), abs=tol)


def test_grid_chain_equals_minima_barcode_exactly():
    x = np.linspace(0.0, 6.0, 601)
    values = np.interp(x, np.arange(7.0), CHAIN_KNOTS)
    grid = grid_barcode(values)[0]
    est = minima_barcode(CHAIN_LOSSES, CHAIN_SADDLES)
    cmp = compare_barcodes(est, grid)
    assert cmp.within(1e-12) and cmp.unmatched_reference.size == 0
    assert to_score(grid) == pytest.approx(to_score(est))


@pytest.fixture(scope="module")
def ring():
    """f = (x^2 + y^2 - 1)^2 + c y^2: minima (+-1, 0) at 0, saddles (0, +-sqrt(1 - c/2)) at
    c - c^2/4, local maximum (0, 0) at 1."""
    c = 0.5
    t = np.linspace(-1.5, 1.5, 301)
    x, y = np.meshgrid(t, t, indexing="ij")
    return (x**2 + y**2 - 1) ** 2 + c * y**2, c - c**2 / 4


def test_grid_2d_ring_critical_values(ring):
    values, saddle = ring
    bars = grid_barcode(values, min_persistence=1e-3)
    tol = 5e-4  # grid step h = 0.01; error O(h^2 |Hessian|)
    assert len(bars[0]) == 2 and len(bars[1]) == 1
    d0 = _sorted_diagram(bars[0])
    np.testing.assert_allclose(d0[:, 0], [0.0, 0.0], atol=tol)
    assert d0[0, 1] == pytest.approx(saddle, abs=tol) and np.isinf(d0[1, 1])
    assert bars[1].births[0] == pytest.approx(saddle, abs=tol)
    assert bars[1].deaths[0] == pytest.approx(1.0, abs=tol)


def test_grid_cells_point_at_the_values():
    rng = np.random.default_rng(10)
    values = rng.random((7, 5, 3))
    bars = grid_barcode(values)
    assert sorted(bars) == [0, 1, 2]
    assert bars[0].creator[0] == np.unravel_index(values.argmin(), values.shape)
    assert bars[0].minimum[0] == values.argmin()
    for b in bars.values():
        for k in range(len(b)):
            assert values[b.creator[k]] == b.births[k]
            if b.killer[k] is not None:
                assert values[b.killer[k]] == b.deaths[k]


def test_grid_3d_double_well():
    t = np.linspace(-1.5, 1.5, 31)
    x, y, z = np.meshgrid(t, t, t, indexing="ij")
    bars = grid_barcode((x**2 - 1) ** 2 + y**2 + z**2, min_persistence=1e-3)
    assert _sorted_diagram(bars[0]).tolist() == [[0.0, pytest.approx(1.0)], [0.0, np.inf]]
    assert len(bars[1]) == 0 and len(bars[2]) == 0


def test_grid_periodic_circle():
    theta = np.linspace(0.0, 2 * np.pi, 300, endpoint=False)
    bars = grid_barcode(np.cos(3 * theta), periodic=True, min_persistence=1e-3)
    np.testing.assert_allclose(_sorted_diagram(bars[0]), [[-1, 1], [-1, 1], [-1, np.inf]], atol=1e-3)
    assert bars[1].as_diagram().tolist() == [[pytest.approx(1.0, abs=1e-3), np.inf]]  # the circle


def test_grid_rejects_nan():
    with pytest.raises(ValueError, match=r"values\[\(1, 2\)\] = nan"):
        grid_barcode(np.where(np.arange(9).reshape(3, 3) == 5, np.nan, 0.0))


# ---- compare_barcodes -------------------------------------------------------------------------
def test_compare_hand_example():
    est = np.array([[0.0, np.inf], [1.0, 3.0], [2.0, 2.5]])
    ref = np.array([[0.0, np.inf], [1.1, 2.9], [5.0, 5.01]])
    cmp = compare_barcodes(est, ref)
    assert cmp.pairs.tolist() == [[0, 0]]  # positions among the finite bars
    assert cmp.birth_diff == pytest.approx([-0.1]) and cmp.death_diff == pytest.approx([0.1])
    assert cmp.max_abs_diff == pytest.approx(0.1)
    assert cmp.unmatched_estimate.tolist() == [1] and cmp.unmatched_reference.tolist() == [1]
    assert not cmp.within(1.0)  # the bar [2, 2.5] has no partner
    cmp = compare_barcodes(est[:2], ref)
    assert cmp.within(0.11) and not cmp.within(0.05)
    assert [b.tolist() for b in cmp.infinite_births] == [[0.0], [0.0]]
