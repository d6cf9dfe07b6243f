"""Fig. 4/8 (CNN units), Tables 1-2 (ResNet minima types), Fig. 6-7 (WRN curves), App. D
(insertion) and App. G (TO-score theorem): exact rules of the verdicts, 2D answers known in closed
form, and tiny end-to-end runs at smoke scale."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import toolkit as tk
from toolkit import landscapes as L

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
    assert res.verdict()["status"] == "method check"  # a theorem on functions built for it


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
