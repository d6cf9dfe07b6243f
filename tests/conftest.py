"""Shared fixtures: every test gets its own cache folder, so tests never read stale results;
the session builds one smoke-scale book that the notebook and browser tests share."""

from __future__ import annotations

import dataclasses
import shutil
import warnings
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest
import torch

import toolkit as tk
from toolkit import book
from toolkit._env import environment
from toolkit.experiments.fc_depth import FCDepthResult, FCDepthUnit
from toolkit.join import Joined

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="module")
def one_thread():
    """Tiny tensors: one intra-op thread avoids OpenMP spin-waits on a shared 2-core machine
    (measured 50-100x slower per vmapped step with 2 threads under load)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ---------------------------------------------------------------------------- small helpers


def synthetic_images(n=96, c=3, hw=8, k=4, seed=0, signal=0.3):
    """A tiny labelled image set (train, test) in [0, 1]: noise around 0.5 plus ``signal`` times
    the class index / k, so a net can learn it in a few epochs (``signal=0``: labels only)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    x = (0.5 + 0.2 * torch.randn(n, c, hw, hw, generator=g) + signal * (y.view(n, 1, 1, 1) / k)).clamp(0, 1)
    ds = tk.data.Dataset(name="synthetic", split="train", x=x, y=y, num_classes=k)
    return ds, dataclasses.replace(ds, split="test")


def quiet(fn, *a, **kw):
    """``fn(*a, **kw)`` with warnings silenced (smoke-scale minima warn that they did not converge)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **kw)


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory):
    """Every notebook executed at scale="smoke" into a copy of the book (own cache and results
    folders), then the book built once: ``html`` is its HTML folder, ``errors`` the notebooks
    that failed (by stem), ``build`` jupyter-book's completed process."""
    root = tmp_path_factory.mktemp("smoke_book")
    env = {"TOOLKIT_RESULTS_DIR": str(root / "results"), "TOOLKIT_CACHE_DIR": str(root / "cache")}
    target = root / "book"
    shutil.copytree(book.BOOK, target, ignore=shutil.ignore_patterns("_build", "executed", "_generated"))
    errors = {}
    with environment(env):
        for nb in sorted(book.NOTEBOOKS.glob("*.ipynb")):
            try:
                book.execute(nb, target / "executed" / nb.name, {"scale": "smoke"})
            except Exception as err:  # noqa: BLE001 - reported per notebook by the tests
                errors[nb.stem] = f"{type(err).__name__}: {err}"
        book.write_generated(target)
        proc = book.build_html(target, root / "out")
    return SimpleNamespace(root=root, book=target, html=root / "out" / "_build" / "html",
                           results=root / "results", errors=errors, build=proc)


# ---------------------------------------------------------------------------- Fig. 2 results


def synthetic_join(bar: float, err: float, converged: bool = True) -> Joined:
    """Two minima at 0.1 and 0.2 joined by one path whose maximum is ``0.2 + bar`` (± ``err`` as
    the data bootstrap): one finite bar of length ``bar``."""
    lows = np.array([0.1, 0.2])
    top = 0.2 + bar
    return Joined(
        pairs=np.array([[0, 1]]), min_losses=lows, stored_losses=lows, saddles=np.array([top]),
        saddle_std=np.array([err]), status=["converged" if converged else "budget"],
        certified=np.ones(1, bool), stopped_epoch=np.array([-1]), n_points=np.array([5]),
        dips=np.zeros(1), max_history=np.full((3, 1), top), track_steps=np.array([10, 20, 30]),
        point_steps=100, barcode=tk.minima_barcode(lows, {(0, 1): top}), bn=False, seconds=0.0)


def synthetic_unit(depth: int, bar: float, err: float, runs: int = 3, dataset: str = "digits",
                   converged: bool = True) -> FCDepthUnit:
    """A Fig. 2 unit of ``runs`` identical :func:`synthetic_join` path runs."""
    return FCDepthUnit(
        dataset=dataset, depth=depth, n_params=10, grad_norm=np.full(2, 0.01),
        epochs=np.full(2, 50), converged=np.full(2, converged), train_acc=np.ones(2),
        test_acc=np.ones(2), joins=[synthetic_join(bar, err, converged) for _ in range(runs)],
        minima_s=0.0)


def _synthetic_result(scale: str, bars: dict[int, float], err: float = 0.001, **kw) -> FCDepthResult:
    cfg = tk.experiments.fc_depth_config(scale, datasets=["digits"], depths=list(bars))
    return FCDepthResult(config=cfg, units={("digits", d): synthetic_unit(d, b, err, **kw)
                                            for d, b in bars.items()})


@pytest.fixture
def synthetic_result():
    """Builds a Fig. 2 result from bar lengths per depth, with known error bars (see
    :func:`synthetic_unit`)."""
    return _synthetic_result
