"""2D landscapes: minima found by gradient descent are the grid's minima."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toolkit import landscapes as L


def test_six_hump_camel_minima_are_the_known_ones():
    f = L.landscape("six_hump_camel")
    m = L.find_minima(f, f.domain)
    vals = f(m).numpy()
    # the six known local minima values of the six-hump camel function
    np.testing.assert_allclose(np.sort(vals), [-1.0316285, -1.0316285, -0.2154638, -0.2154638,
                                                2.1042503, 2.1042503], atol=1e-6)


def test_gaussian_wells_minima_match_grid_local_minima():
    f = L.landscape("gaussian_wells")
    m = L.find_minima(f, f.domain)
    assert len(m) == len(f.centers)
    v = L.grid_values(f, f.domain, 301)
    inner = v[1:-1, 1:-1]
    neigh = np.stack([v[:-2, 1:-1], v[2:, 1:-1], v[1:-1, :-2], v[1:-1, 2:]])
    n_grid_minima = int((inner < neigh.min(0)).sum())
    assert n_grid_minima == len(m)
    assert abs(float(f(m).min()) - v.min()) < 1e-3


def test_bad_inputs():
    with pytest.raises(ValueError, match="unknown landscape"):
        L.landscape("rosenbrock3d")
    with pytest.raises(ValueError, match="differ in length"):
        L.GaussianWells(depths=(1.0,))
    with pytest.raises(ValueError, match="grid size"):
        L.grid_values(L.SixHumpCamel(), (0, 1, 0, 1), 1)


def test_function_is_differentiable_and_batched():
    f = L.GaussianWells()
    xy = torch.randn(4, 3, 2, dtype=torch.float64, requires_grad=True)
    out = f(xy)
    assert out.shape == (4, 3)
    out.sum().backward()
    assert xy.grad.shape == xy.shape
