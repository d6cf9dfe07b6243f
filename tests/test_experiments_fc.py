"""The Fig. 2 / App. E experiments at smoke scale: sanity checks, caching, result round trips."""

from __future__ import annotations

import numpy as np
import pytest

import toolkit as tk


@pytest.fixture(scope="module")
def cfg():
    return tk.experiments.fc_depth_config("smoke", datasets=["digits"], depths=[1, 2])


def test_config_validates():
    with pytest.raises(ValueError, match="scale"):
        tk.experiments.fc_depth_config("huge")
    with pytest.raises(ValueError, match="at least 2 minima"):
        tk.experiments.fc_depth_config("smoke", n_minima=1)
    with pytest.raises(ValueError, match="depths"):
        tk.experiments.fc_depth_config("smoke", depths=[0])


def test_fc_depth_units_are_sane_and_cached(cfg):
    res = tk.experiments.fc_depth(cfg, progress=False)
    ok, report = res.sanity()
    assert ok, report
    for (ds, _depth), u in res.units.items():
        assert ds == "digits" and len(u.min_losses) == cfg.n_minima
        # each path maximum is at least both endpoint losses, and the barcode is built from them
        lo = np.maximum(u.min_losses[u.pairs[:, 0]], u.min_losses[u.pairs[:, 1]])
        assert (u.saddles[0] >= lo - 1e-6).all()
        fin = u.barcode.finite()
        assert np.isclose(fin.deaths.max(), u.saddles[0].max()) or len(fin) == 0
        again = tk.cache.decode(tk.cache.encode(u))
        assert again.barcode == u.barcode and np.array_equal(again.saddles, u.saddles)
        assert u.death_std().shape == (len(fin),)
    # a second call loads every unit from the cache
    res2 = tk.experiments.fc_depth(cfg, progress=False)
    assert all(res2.units[k].paths_s == res.units[k].paths_s for k in res.units)


def test_path_characteristics_diagnostics(cfg):
    r = tk.experiments.path_characteristics(cfg, "digits", 1, progress=False)
    assert len(r.epochs()) == cfg.path.epochs
    assert r.mean_norm("grad_normal").shape == (cfg.path.epochs,)
    assert np.all(np.isfinite(r.mean_norm("grad_tangent")))
    back = tk.cache.decode(tk.cache.encode(r))
    assert np.array_equal(back.mean_norm(), r.mean_norm())
