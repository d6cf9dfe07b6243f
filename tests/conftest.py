"""Shared fixtures: every test gets its own cache folder, so tests never read stale results;
the session builds one smoke-scale book that the notebook and browser tests share."""

from __future__ import annotations

import os
import shutil
from types import SimpleNamespace

import matplotlib
import pytest
import torch

from toolkit import book

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


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory):
    """Every notebook executed at scale="smoke" into a copy of the book (own cache and results
    folders), then the book built once: ``html`` is its HTML folder, ``errors`` the notebooks
    that failed (by stem), ``build`` jupyter-book's completed process."""
    root = tmp_path_factory.mktemp("smoke_book")
    env = {"TOOLKIT_RESULTS_DIR": str(root / "results"), "TOOLKIT_CACHE_DIR": str(root / "cache")}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    target = root / "book"
    shutil.copytree(book.BOOK, target, ignore=shutil.ignore_patterns("_build", "executed", "_generated"))
    errors = {}
    try:
        for nb in sorted(book.NOTEBOOKS.glob("*.ipynb")):
            try:
                book.execute(nb, target / "executed" / nb.name, {"scale": "smoke"})
            except Exception as err:  # noqa: BLE001 - reported per notebook by the tests
                errors[nb.stem] = f"{type(err).__name__}: {err}"
        book.write_generated(target)
        proc = book.build_html(target, root / "out")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return SimpleNamespace(root=root, book=target, html=root / "out" / "_build" / "html",
                           results=root / "results", errors=errors, build=proc)
