"""toolkit.plots.barcodes: figures with labelled axes that draw exactly the bars they are given."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

import toolkit as tk
from toolkit.plots import plot_barcode, plot_diagram, plot_disconnectivity
from toolkit.topology import grid_barcode, minima_barcode

LOSSES = [0.0, 2.0, 1.0, 3.0, 2.5]
SADDLES = {(0, 1): 5.0, (1, 2): 4.0, (2, 3): 6.0}  # minimum 4 has no path: flagged


@pytest.fixture
def barcode():
    return minima_barcode(LOSSES, SADDLES)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _segments(ax) -> list[np.ndarray]:
    return [seg for c in ax.collections if isinstance(c, LineCollection) for seg in c.get_segments()]


def test_plot_barcode_draws_every_bar(barcode):
    fig = plot_barcode(barcode, groups=["a", "b", "a", "b", "a"], title="toy")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "loss" and ax.get_ylabel() and ax.get_title() == "toy"
    segs = _segments(ax)
    assert len(segs) == len(barcode)
    starts = sorted(float(s[0, 0]) for s in segs)
    assert starts == sorted(LOSSES)
    finite_ends = sorted(float(s[1, 0]) for s in segs if s[1, 0] in (4.0, 5.0, 6.0))
    assert finite_ends == [4.0, 5.0, 6.0]
    # the two infinite bars are cut above every finite value and drawn open
    top = max(float(s[1, 0]) for s in segs)
    assert top > 6.0 and sum(float(s[1, 0]) == top for s in segs) == 2
    assert ax.get_xlim()[1] > top
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"a", "b", "no path to a lower minimum"} <= set(labels)


def test_plot_barcode_groups_from_a_dict(barcode):
    other = minima_barcode([0.5, 0.7], {(0, 1): 0.9})
    fig, ax = plt.subplots()
    assert plot_barcode({"wide": barcode, "deep": other}, ax=ax) is fig
    assert len(_segments(ax)) == len(barcode) + len(other)
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["wide", "deep"]


def test_plot_barcode_rejects_mismatched_groups(barcode):
    with pytest.raises(ValueError, match="groups has 2 labels"):
        plot_barcode(barcode, groups=["a", "b"])


def test_plot_diagram_points(barcode):
    fig = plot_diagram(barcode)
    ax = fig.axes[0]
    assert "birth" in ax.get_xlabel() and "death" in ax.get_ylabel()
    pts = np.concatenate([c.get_offsets() for c in ax.collections])
    assert len(pts) == len(barcode)
    fin = pts[pts[:, 1] <= 6.0]
    assert sorted(map(tuple, fin.tolist())) == [(1.0, 5.0), (2.0, 4.0), (3.0, 6.0)]


def test_disconnectivity_merges_at_the_deaths(barcode):
    fig = plot_disconnectivity(barcode)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "loss" and ax.get_xlabel() == "minimum"
    segs = _segments(ax)
    horizontal = sorted(float(s[0, 1]) for s in segs if s[0, 1] == s[1, 1])
    assert horizontal == [4.0, 5.0, 6.0]  # one join per finite bar, at its death
    # leaves at the minima's losses, one x tick per minimum
    leaves = np.concatenate([c.get_offsets() for c in ax.collections
                             if not isinstance(c, LineCollection)])
    assert sorted(leaves[:, 1].tolist()) == sorted(LOSSES)
    assert sorted(t.get_text() for t in ax.get_xticklabels()) == ["0", "1", "2", "3", "4"]
    # each join spans exactly the branches it merges: m1 and m2 meet at 4 above them
    x_of = dict(zip([t.get_text() for t in ax.get_xticklabels()], ax.get_xticks()))
    join4 = next(s for s in segs if s[0, 1] == s[1, 1] == 4.0)
    assert sorted(join4[:, 0].tolist()) == sorted([x_of["1"], x_of["2"]])


def test_disconnectivity_needs_a_minima_barcode():
    with pytest.raises(ValueError, match="index-0 barcode of minima and paths"):
        plot_disconnectivity(grid_barcode(np.array([0.0, 2.0, 1.0]))[0])
    with pytest.raises(TypeError, match="draws a Barcode"):  # plots compute no barcode
        plot_disconnectivity(LOSSES)


def test_many_minima_render_quickly():
    rng = np.random.default_rng(0)
    n = 300
    losses = rng.random(n)
    saddles = {(i, i + 1): max(losses[i], losses[i + 1]) + rng.random() for i in range(n - 1)}
    b = minima_barcode(losses, saddles)
    for fig in (plot_barcode(b), plot_diagram(b), plot_disconnectivity(b)):
        w, h = fig.get_size_inches()
        assert w <= 12 and h <= 8


def test_reexported():
    assert tk.plots.plot_barcode is plot_barcode
