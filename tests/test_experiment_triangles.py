"""App. I experiment (toolkit.experiments.triangles): the 2D index-1 bar against the exact grid
barcode, the index-0 barcode against formula (1), round trips through the cache codec, and the
triangle heat-map plot."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import toolkit as tk
from toolkit.experiments import lenet_triangles as L
from toolkit.experiments import triangles as T
from toolkit.topology import minima_barcode


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    import os

    saved = os.environ.get("TOOLKIT_CACHE_DIR")
    os.environ["TOOLKIT_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    try:
        yield T.toy_triangles(T.toy_triangles_config("smoke"), device="cpu", progress=False)
    finally:
        if saved is None:
            os.environ.pop("TOOLKIT_CACHE_DIR", None)
        else:
            os.environ["TOOLKIT_CACHE_DIR"] = saved


def test_scales_and_bad_scale():
    assert T.toy_triangles_config("smoke").triangle.regime == "sides"
    assert L.lenet_triangle_config("paper").curve.epochs == 50  # the paper's minimum budget
    assert "3 (the triangle's vertices)" in L.lenet_triangle_config("cpu").describe()
    with pytest.raises(ValueError, match="scale must be one of"):
        T.toy_triangles_config("huge")
    with pytest.raises(ValueError, match="scale must be one of"):
        L.lenet_triangle_config("huge")


def test_exact_index1_bar_of_the_ring_of_wells(toy):
    # the default wells ring a hill: exactly one index-1 bar, from the highest ring saddle to the hill
    exact = toy.grid[1]
    assert len(exact.births) == 1
    assert exact.births[0] == pytest.approx(-0.0757, abs=5e-4)
    assert exact.deaths[0] == pytest.approx(-0.0720, abs=5e-4)
    assert len(toy.minima) == 5 and len(toy.triangles) == 10
    # the complex's matching bar is within 1% of the function's range, none missing
    assert toy.index1_diff() <= 1.0
    # a filling of the ring covers the hill: the killing triangle's max is at least the hill's value
    matched = tk.compare_barcodes(toy.index1(), exact).pairs[0][0]
    assert toy.index1().deaths[matched] >= exact.deaths[0] - 2e-3 * toy.value_range


def test_complex_filtration_laws(toy):
    # a triangle's maximum includes its sides; every side is at least as high as its endpoints
    assert (toy.max_loss[:, None] >= toy.side_max - 1e-12).all()
    for tri, sm in zip(toy.triangles, toy.side_max):
        ends = toy.min_losses[tri]
        assert sm[0] >= max(ends[0], ends[1]) - 1e-12 and sm[2] >= max(ends[1], ends[2]) - 1e-12
    # index 0 of the complex is formula (1) on its edges; the paths only lower (or keep) saddles
    assert toy.index0_equals_minima_barcode()
    bc = minima_barcode(toy.min_losses, toy.path_max)
    assert np.isinf(bc.deaths).sum() == 1 and bc.births.min() == pytest.approx(toy.min_losses.min())
    assert toy.saddle_overshoot() >= -1e-6 * 100


def test_toy_state_round_trip(toy):
    back = tk.cache.decode(tk.cache.encode(toy))
    assert back.complex[1] == toy.complex[1] and back.grid[0] == toy.grid[0]
    assert back.curve_max == toy.curve_max and back.path_max == toy.path_max
    np.testing.assert_array_equal(back.side_max, toy.side_max)
    assert back.index1_diff() == toy.index1_diff()


def _fake_lenet() -> L.LenetTriangleResult:
    lam = tk.simplices.barycentric_grid(4).numpy()
    loss = 0.3 + lam @ np.array([0.0, 0.1, 0.2]) + 2.0 * lam.prod(1)  # a bump in the middle
    on = [np.isclose(lam[:, c], 0) for c in (2, 1, 0)]
    side_max = np.array([loss[m].max() for m in on])
    edges = {(0, 1): side_max[0], (0, 2): side_max[1], (1, 2): side_max[2]}
    bc = tk.simplex_barcode([0.3, 0.4, 0.5], edges, {(0, 1, 2): float(loss.max())})
    return L.LenetTriangleResult(
        config={}, data="fashion-mnist (real; 3 images)", n_params=10,
        train_loss=np.array([0.3, 0.4, 0.5]), train_acc=np.ones(3), test_loss=np.ones(3),
        test_acc=np.ones(3), converged=np.ones(3, bool), curve_max=edges, lam=lam, loss=loss,
        acc=np.ones(len(lam)), side_max=side_max, max_loss=float(loss.max()), barcode=bc,
        minima_s=0.0, compute_s=1.0)


def test_lenet_result_bar_table_and_round_trip():
    res = _fake_lenet()
    b, d = res.bar
    assert b == pytest.approx(0.5) and d == pytest.approx(res.loss.max())
    assert res.barcode[1].births[0] == pytest.approx(b) and res.barcode[1].deaths[0] == pytest.approx(d)
    np.testing.assert_allclose(res.vertex_loss, [0.3, 0.4, 0.5])
    # bump of 2/27 above sides that rise 0 above the highest minimum: not short
    assert not res.is_short()
    assert "index-1 bar" in res.table()
    back = tk.cache.decode(tk.cache.encode(res))
    assert back.barcode[1] == res.barcode[1] and back.curve_max == res.curve_max
    np.testing.assert_array_equal(back.loss, res.loss)
    assert back.converged.dtype == bool


def test_plot_triangle_loss():
    res = _fake_lenet()
    fig = tk.plots.plot_triangle_loss(res.lam, res.loss, title="t")
    assert fig.axes[0].get_title() == "t"
    with pytest.raises(ValueError, match="lam must be"):
        tk.plots.plot_triangle_loss(res.lam[:, :2], res.loss)
    import matplotlib.pyplot as plt

    plt.close(fig)
