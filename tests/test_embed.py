"""Classical MDS and the cosine dissimilarity: exact answers, invariances, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import toolkit as tk
from toolkit import embed


def _pdist(x: np.ndarray) -> np.ndarray:
    return np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))


@pytest.mark.parametrize("dim,n,seed", [(1, 5, 0), (2, 12, 1), (3, 20, 2)])
def test_mds_of_euclidean_points_recovers_their_distances(dim, n, seed):
    x = np.random.default_rng(seed).normal(size=(n, dim))
    res = embed.classical_mds(_pdist(x), k=dim)
    assert res.coords.shape == (n, dim)
    np.testing.assert_allclose(_pdist(res.coords), _pdist(x), atol=1e-9)
    # the spectrum of a rank-dim configuration: dim positive eigenvalues, the rest zero
    assert np.all(res.eigenvalues[:dim] > 1e-9) and np.abs(res.eigenvalues[dim:]).max() < 1e-9
    assert res.explained_total == pytest.approx(1.0)


def test_mds_recovers_a_square_up_to_rotation():
    sq = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)
    res = embed.classical_mds(_pdist(sq), k=2)
    np.testing.assert_allclose(res.eigenvalues[:2], [1.0, 1.0], atol=1e-12)  # B = X Xᵀ of centred square
    np.testing.assert_allclose(res.coords.mean(0), 0, atol=1e-12)            # centred
    np.testing.assert_allclose(_pdist(res.coords), _pdist(sq), atol=1e-12)
    np.testing.assert_allclose(res.explained, [0.5, 0.5])


def test_mds_embedding_in_higher_dimension_keeps_the_top_axes():
    # points on a line embedded in R^5 by an orthogonal map: 1 axis carries everything
    t = np.array([0.0, 1.0, 3.0, 7.0])
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(5, 5)))
    x = np.outer(t, q[:, 0])
    res = embed.classical_mds(torch.tensor(_pdist(x)), k=2)
    np.testing.assert_allclose(np.abs(res.coords[:, 0] - res.coords[0, 0]), t, atol=1e-9)
    np.testing.assert_allclose(res.coords[:, 1], 0, atol=1e-7)
    assert res.explained[0] == pytest.approx(1.0)


def test_cosine_distances_of_known_vectors():
    W = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0], [1.0, 1.0]])
    d = embed.cosine_distances(W)
    s = 1 - 1 / math.sqrt(2)
    want = torch.tensor([[0, 1, 2, s], [1, 0, 1, s], [2, 1, 0, 2 - s], [s, s, 2 - s, 0]],
                        dtype=torch.float64)
    torch.testing.assert_close(d, want, atol=1e-12, rtol=0)
    assert d.dtype == torch.float64 and d.shape == (4, 4)
    # invariant under positive rescaling of each row (what BatchNorm normalises out)
    torch.testing.assert_close(embed.cosine_distances(W * torch.tensor([[2.0], [0.5], [7.0], [3.0]])), d)


def test_layer_mds_accepts_stacked_and_per_snapshot_layers():
    g = torch.Generator().manual_seed(0)
    stacked = {"a.weight": torch.randn(6, 3, 2, 2, generator=g), "b.weight": torch.randn(6, 4, generator=g)}
    per = [{k: v[i] for k, v in stacked.items()} for i in range(6)]
    r1 = embed.layer_mds(stacked, ["a.weight", "b.weight"], k=2)
    r2 = embed.layer_mds(per, ["a.weight", "b.weight"], k=2)
    assert set(r1) == {"a.weight", "b.weight"}
    for name in r1:
        assert r1[name].coords.shape == (6, 2)
        np.testing.assert_allclose(r1[name].coords, r2[name].coords, atol=1e-12)
    want = embed.classical_mds(embed.cosine_distances(stacked["a.weight"].reshape(6, -1)), 2)
    np.testing.assert_allclose(r1["a.weight"].coords, want.coords)
    assert tk.embed is embed


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="square"):
        embed.classical_mds(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="symmetric"):
        embed.classical_mds(np.array([[0.0, 1.0], [2.0, 0.0]]))
    with pytest.raises(ValueError, match="k must be"):
        embed.classical_mds(np.zeros((3, 3)), k=4)
    with pytest.raises(ValueError, match="at least 2"):
        embed.classical_mds(np.zeros((1, 1)))
    with pytest.raises(ValueError, match="NaN"):
        embed.classical_mds(np.array([[0.0, np.nan], [np.nan, 0.0]]))
    with pytest.raises(ValueError, match=r"\[n, D\]"):
        embed.cosine_distances(torch.zeros(3))
    with pytest.raises(ValueError, match=r"rows \[1\]"):
        embed.cosine_distances(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(KeyError, match="'c.weight'"):
        embed.layer_mds({"a.weight": torch.ones(2, 3)}, ["c.weight"])
    with pytest.raises(ValueError, match="layer_names is empty"):
        embed.layer_mds({"a.weight": torch.ones(2, 3)}, [])


def test_trajectory_plots_draw_one_line_per_trajectory():
    import matplotlib

    matplotlib.use("Agg")
    stage = np.repeat([0, 0, 1, 1], 3)
    traj = np.tile(np.repeat([0, 1], 3), 2)
    coords = np.random.default_rng(0).normal(size=(12, 2))
    fig = tk.plots.plot_embedded_trajectories(coords, stage, traj, perturbed=traj == 1,
                                              explained=np.array([0.6, 0.3]), title="t")
    ax = fig.axes[0]
    assert sum(len(line.get_xdata()) == 3 for line in ax.get_lines()) == 4  # 2 stages x 2 trajectories
    assert "60.0% of spectrum" in ax.get_xlabel()  # one decimal: a 0.2% axis must not read "0%"
    fig2 = tk.plots.plot_trajectory_losses(np.arange(12.0), np.linspace(2, 1, 12), stage, traj)
    assert fig2.axes[0].get_ylabel() == "training loss"
    with pytest.raises(ValueError, match="coords"):
        tk.plots.plot_embedded_trajectories(coords[:, :1], stage, traj)
