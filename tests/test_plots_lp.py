"""Plots of the Liao & Poggio chapters: figures with the lines, cells and labels they are given."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

import toolkit as tk


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_embedded_trajectories_label_says_how_much_axis_2_is_stretched():
    coords = np.c_[np.linspace(0, 1, 6), np.linspace(0, 0.02, 6)]
    fig = tk.plots.plot_embedded_trajectories(coords, np.zeros(6, int), np.array([0] * 3 + [1] * 3),
                                              explained=np.array([0.98, 0.004]), label="run",
                                              annotate=np.arange(6))
    ax = fig.axes[0]
    assert "98.0% of spectrum" in ax.get_xlabel()
    assert "0.4% of spectrum; range 1/50 of axis 1" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["run 1", "run 2"]
    assert [t.get_text() for t in ax.texts] == ["0", "1", "2"]  # run 1's epochs annotated


def test_plot_branches_draws_trunk_branches_and_averages():
    kind = np.array([0, 0, 0, 1, 1, 2, 2])
    branch = np.array([-1, -1, -1, 0, 0, 0, 0])
    epoch = np.array([0, 1, 2, 1, 2, 1, 2])
    coords = np.random.default_rng(0).normal(size=(7, 2))
    fig = tk.plots.plot_branches(coords, kind, branch, epoch, np.linspace(0, 0.5, 7),
                                 branch_epochs=(1,))
    ax = fig.axes[0]
    assert isinstance(fig, Figure) and len(ax.get_lines()) == 4  # trunk, branch, average, jump
    assert ax.get_legend().get_texts()[1].get_text() == "branch at epoch 1"
    fig = tk.plots.plot_branch_errors(kind, branch, epoch, np.zeros(7), branch_epochs=(1,))
    assert len(fig.axes[0].get_lines()) == 3


def test_curves_similarity_and_parameters_plots():
    fig = tk.plots.plot_run_curves(np.arange(3), {"relu": np.ones((2, 3)), "poly": np.zeros((2, 3))})
    assert len(fig.axes[0].get_lines()) == 4
    m = np.array([[1.0, 0.5], [0.25, 1.0]])
    fig = tk.plots.plot_similarity(m, ["1", "ref"])
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["0.25", "0.50", "1.00", "1.00"]
    fig = tk.plots.plot_error_vs_params(np.array([10, 100, 1000]), np.ones((2, 3)), [50, 500])
    assert fig.axes[0].get_xscale() == "log" and len(fig.axes[0].get_lines()) == 6


def test_algebra_plots():
    fig = tk.plots.plot_solution_counts(np.array([8, 8]), np.array([4, 8]), np.array([36, 36]), 16)
    assert len(fig.axes[0].patches) == 4
    fig = tk.plots.plot_hessian_spectra([np.array([1e-17, 1.0]), np.array([0.0, 2.0])],
                                        ["N=1, K=2", "N=1, K=2"])
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["N=1, K=2"]
