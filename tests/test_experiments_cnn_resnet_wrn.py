"""Fig. 4/8 (CNN units), Tables 1-2 (ResNet minima types), Fig. 6-7 (WRN curves), App. D
(insertion) and App. G (TO-score theorem): exact rules of the verdicts, 2D answers known in closed
form, and tiny end-to-end runs at smoke scale."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import toolkit as tk
from toolkit import landscapes as L
from toolkit.experiments._minima_paths import Level, PathsOutcome, compare, status_of
from toolkit.topology import minima_barcode

# ----------------------------------------------------------------------------- levels, verdicts

def test_level_of_combines_spread_and_noise():
    lv = Level.of([1.0, 3.0], stds=[0.0, 0.0], converged=[True, True])
    assert lv.mean == 2.0 and lv.k == 2 and lv.converged is True
    assert np.isclose(lv.err, np.sqrt(2.0 / 2))  # sample variance 2, k = 2, no noise
    one = Level.of([5.0], stds=[0.3])
    assert np.isclose(one.err, 0.3) and one.converged is None
    assert "(upper bound)" in Level.of([1.0], converged=[False]).text()
    assert "(upper bound)" not in Level.of([1.0]).text()


@pytest.mark.parametrize("a, b, expected", [
    (Level(1.0, 0.1, 3, True), Level(2.0, 0.1, 3, True), "lower"),
    (Level(2.0, 0.1, 3, True), Level(1.0, 0.1, 3, True), "higher"),
    (Level(1.0, 0.5, 3, True), Level(1.6, 0.5, 3, True), "tie"),
    # the higher side's maxima did not converge: better paths could lower it below the other
    (Level(1.0, 0.1, 3, True), Level(2.0, 0.1, 3, False), "lower (upper bounds)"),
    (Level(2.0, 0.1, 3, False), Level(1.0, 0.1, 3, True), "higher (upper bounds)"),
    # an unconverged *lower* side only gets lower: the ordering stands
    (Level(1.0, 0.1, 3, False), Level(2.0, 0.1, 3, True), "lower"),
    (Level(float("nan"), 0.0, 0, None), Level(1.0, 0.1, 3, True), "unresolved"),
])
def test_compare(a, b, expected):
    assert compare(a, b) == expected


def test_status_of():
    assert status_of(["lower", "lower"]) == "reproduced"
    assert status_of(["lower", "tie"]) == "partly reproduced"
    assert status_of(["lower (upper bounds)", "tie"]) == "partly reproduced"
    assert status_of(["lower", "higher"]) == "not reproduced"
    assert status_of(["tie", "tie"]) == "not reproduced"  # nothing resolved
    assert status_of([]) == "not reproduced"


def _outcome(min_losses, saddles, converged):
    pairs = np.array([[0, 1], [0, 2], [1, 2]])
    bc = minima_barcode(np.asarray(min_losses), {tuple(p): s for p, s in zip(pairs.tolist(), saddles)})
    return PathsOutcome(pairs=pairs, min_losses=np.asarray(min_losses, float),
                        saddles=np.asarray(saddles, float), saddle_std=np.zeros(3),
                        status=["converged" if c else "budget" for c in converged],
                        converged=np.asarray(converged), stopped_epoch=np.full(3, -1),
                        certified=np.ones(3, bool), bn=False, n_points=np.full(3, 5),
                        endpoint_gap=0.0, barcode=bc, seconds=0.0)


def test_paths_outcome_bar_paths_endpoints_and_sanity():
    o = _outcome([0.1, 0.2, 0.3], [0.5, 0.3, 0.6], [True, False, True])
    # minimum 2 joins minimum 0 through path (0, 2) at 0.3, minimum 1 through path (0, 1) at 0.5
    fin = o.barcode.finite()
    assert sorted(fin.deaths.tolist()) == [0.3, 0.5]
    assert sorted(o.bar_paths().tolist()) == [0, 1]
    assert o.at_endpoint().tolist() == [False, True, False]  # path (0, 2) peaks at minimum 2
    assert "1 ran out of budget" in o.convergence_note()
    assert o.sanity()[0]
    o.endpoint_gap = 1e-3  # a path whose ends miss the minima fails ...
    assert not o.sanity()[0]
    o.bn = True  # ... unless BatchNorm statistics were estimated from other chunks (2% of 0.3)
    assert o.sanity()[0]


# ----------------------------------------------------------------------------- 2D landscapes

def test_reparametrised_functions_are_squared_norms_exactly():
    u = torch.rand(500, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 1.4 - 0.7
    for f in (L.Banana(), L.SaturatingBowl()):
        np.testing.assert_allclose(f(f.from_convex(u)).numpy(), (u**2).sum(-1).numpy(), atol=1e-12)


def test_curved_valley_and_double_well_have_two_minima_and_one_finite_bar():
    for name, saddle in (("curved_valley", 1.0), ("tilted_double_well", 1.0)):
        f = L.landscape(name)
        v = L.grid_values(f, f.domain, 384)
        bc = tk.grid_barcode(v, min_persistence=1e-4 * float(v.max() - v.min()))[0]
        assert len(bc) == 2 and len(bc.finite()) == 1
        assert abs(bc.finite().deaths[0] - saddle) < 0.05  # the saddle near the origin, ~h


# ----------------------------------------------------------------------------- small runs

def test_to_theorem_smoke_is_exact():
    res = tk.experiments.to_theorem(tk.experiments.to_theorem_config("smoke"), progress=False)
    s = {n: f.scores() for n, f in res.functions.items()}
    assert s["banana"] == {"exact_0": 0.0, "exact_1": 0.0, "paths_0": 0.0}
    assert s["saturating_bowl"]["exact_0"] == 0.0
    dw = s["tilted_double_well"]
    assert dw["exact_0"] > 0.3 and abs(dw["paths_0"] - dw["exact_0"]) < 0.01
    assert res.functions["banana"].min_hessian < 0  # not convex, yet one basin
    assert res.verdict()["status"] == "reproduced"


def test_insertion_smoke_brings_the_path_back():
    res = tk.experiments.insertion(tk.experiments.insertion_config("smoke"), progress=False)
    err = res.errors()
    assert err["straight"] > err["before"] > 0.05  # optimised, but the pieces leave the valley
    assert len(res.after) > len(res.before)
    assert abs(err["after"]) < abs(err["before"]) / 2


def test_cnn_unit_smoke_is_sane_cached_and_shared(one_thread):
    cfg = tk.experiments.cnn_width_depth_config("smoke", widths="[4]", depths=[1])
    res = tk.experiments.cnn_width_depth(cfg, progress=False)
    (u,) = res.units.values()
    ok, line = u.paths.sanity()
    assert ok, line
    assert u.name == "CNN-1-4" and u.n_params == 954 and len(u.paths.status) == 1
    # one network: no step to compare, so the run is an illustration whatever the numbers
    assert res.verdict()["status"] == "illustration"
    # Fig. 8's unit without BatchNorm is the same cache entry
    bn = tk.experiments.cnn_batchnorm(tk.experiments.cnn_batchnorm_config("smoke", depths=[1]),
                                      progress=False)
    plain = bn.units["CNN-1-4"]
    assert plain.paths_s == u.paths_s and np.array_equal(plain.paths.saddles, u.paths.saddles)
    withbn = bn.units["CNN-1-4+BN"]
    assert withbn.paths.bn and not plain.paths.bn
    # the ends match the store up to how BN statistics are chunked (64 vs 256 images at smoke)
    assert withbn.paths.sanity()[0] and withbn.paths.endpoint_gap < 1e-3


def test_resnet_types_smoke_labels_and_tables(one_thread):
    cfg = tk.experiments.resnet_types_config("smoke", datasets="svhn")
    res = tk.experiments.resnet_types(cfg, progress=False)
    u = res.units["svhn"]
    assert u.types.tolist() == [1, 2] and u.pair_class().tolist() == ["1-2"]
    assert "88.12 ± 0.4" in u.table() and "STAND-IN" in u.table()
    assert set(u.type_barcodes()) == {"type 1 (small constant LR)", "type 2 (annealed LR)"}


def test_configs_validate():
    with pytest.raises(ValueError, match="depths"):
        tk.experiments.cnn_width_depth_config("smoke", depths=[4])
    with pytest.raises(ValueError, match="datasets"):
        tk.experiments.resnet_types_config("smoke", datasets=["imagenet"])
    with pytest.raises(ValueError, match="at least 3 minima"):
        tk.experiments.wrn_curves_config("smoke", n_minima=2)
    # the paper scale is the paper's protocol
    p = tk.experiments.wrn_curves_config("paper")
    assert (p.depth, p.widen_factor, p.n_minima, p.curve.epochs) == (16, 10, 5, 200)
    r = tk.experiments.resnet_types_config("paper")
    assert r.n_per_type == 8 and r.width == 1.0
    assert [pl.path.epochs for pl in r.plans] == [300, 200]
