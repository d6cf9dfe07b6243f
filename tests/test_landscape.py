"""``tk.landscape``: a user's own module to its barcode in one call, checked against the same
barcode built by the individual toolkit calls; caching of a factory; the data forms it reads; the
one-line errors; the verdict's logic; the chapter shows the example model's real code."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import toolkit as tk
from toolkit import book
from toolkit.seeds import child_seed

pytestmark = pytest.mark.usefixtures("one_thread")

# the module (tk.landscape, the attribute, is the function of the same name)
landscape_mod = importlib.import_module("toolkit.landscape")


class TwoLayerTanh(nn.Module):
    """A user's network, defined here and registered nowhere: [B, 1, 8, 8] -> [B, classes]."""

    def __init__(self, in_shape=(1, 8, 8), num_classes=10, hidden=12, act=torch.tanh):
        super().__init__()
        self.fc1 = nn.Linear(int(np.prod(in_shape)), hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        self.act = act

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x.flatten(1))))


def _landscape(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # smoke points are not minima: the flags say so
        return tk.landscape(*args, progress=False, **kw)


@pytest.fixture(scope="module")
def landscape_cache(tmp_path_factory):
    """The cache folder of :func:`digits_smoke` (every test otherwise gets a fresh one)."""
    return tmp_path_factory.mktemp("landscape-cache")


@pytest.fixture(scope="module")
def digits_smoke(landscape_cache):
    """One smoke-scale landscape of the user's network on the digits (3 minima, 3 paths), in a
    cache of its own."""
    mp = pytest.MonkeyPatch()
    mp.setenv("TOOLKIT_CACHE_DIR", str(landscape_cache))
    torch.set_num_threads(1)
    res = _landscape(TwoLayerTanh, "digits", n_minima=3, scale="smoke", seed=5, hidden=12)
    yield res
    mp.undo()


def test_one_call_equals_the_individual_toolkit_calls(digits_smoke):
    res = digits_smoke
    tk.models.register("test-two-layer-tanh", TwoLayerTanh, overwrite=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ms = tk.minima("test-two-layer-tanh", "digits", "converge", 3, "smoke", seed=5,
                       progress=False, hidden=12)
    assert torch.equal(ms.flat, res.minima.flat)  # same initialisations, same training
    obj = tk.ModuleObjective(ms.model, ms.train_data.x, ms.train_data.y, eval_chunk=250)
    cfg = res.config.path
    assert cfg.n_points == tk.scales.settings("landscape", "smoke")["n_points"]
    ps = tk.optimize_paths(obj, ms.flat, config=cfg, progress=False,
                           seed=child_seed(5, "path_run", 0))
    ev = tk.evaluate_paths(obj, ps, bootstrap=res.config.plan.bootstrap,
                           seed=child_seed(5, "bootstrap", 0))
    losses = ev.minima_losses()
    min_losses = np.array([losses[i] for i in range(3)])
    bc = tk.minima_barcode(min_losses, ev.saddles(exclude=("pruned",)), atol=1e-6)
    assert bc == res.barcode  # every field: births, deaths, owners, killers
    np.testing.assert_array_equal(min_losses, res.min_losses)
    assert tk.to_score(bc) == res.to_score
    assert list(ps.status) == list(res.paths.status)
    assert len(res.paths) == 3 and len(res.barcode) == 3 and res.n_params == 64 * 12 + 12 + 130


def test_result_reports_minima_paths_and_barcode(digits_smoke):
    res = digits_smoke
    text = res.summary()
    for word in ("TwoLayerTanh", "converged", "certified", "barcode", "TO-score", "digits"):
        assert word in text
    assert "hidden=12" in res.describe() and "in_shape=(1, 8, 8)" in res.describe()
    assert res.config.arch.startswith("TwoLayerTanh@")
    assert set(res.histories()) == {"m0-m1", "m0-m2", "m1-m2"}
    assert len(res.bar_paths()) == 2 and res.dips().shape == (3,)
    same = res.compare(res, names=("a", "b"))
    assert "as long as with a within two error bars" in same
    fig = res.plot()
    assert len(fig.axes) == 2


def test_second_call_loads_from_the_cache(digits_smoke, landscape_cache, monkeypatch):
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(landscape_cache))

    def boom(*a, **k):
        raise AssertionError("recomputed instead of loading")

    monkeypatch.setattr(importlib.import_module("toolkit.join"), "join", boom)
    again = _landscape(TwoLayerTanh, "digits", n_minima=3, scale="smoke", seed=5, hidden=12)
    assert again.barcode == digits_smoke.barcode and again.config == digits_smoke.config


def test_factory_key_sees_keywords_weights_and_outputs():
    x, y = torch.rand(40, 1, 8, 8), torch.arange(40) % 10
    ident = landscape_mod._identify
    kw = {"in_shape": (1, 8, 8), "num_classes": 10}
    tanh = ident(TwoLayerTanh, kw, x, y, "n", "n")
    assert tanh == ident(TwoLayerTanh, kw, x, y, "n", "n")  # stable
    assert tanh != ident(TwoLayerTanh, {**kw, "hidden": 13}, x, y, "n", "n")  # keywords, shapes
    relu = ident(lambda **k: TwoLayerTanh(act=torch.relu, **k), kw, x, y, "n", "n")
    assert relu != tanh  # same parameters, another forward: seen through the outputs


def test_tensors_and_torch_datasets_without_a_test_set():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(60, 64, generator=g)  # flat features: the input normalisation must broadcast
    y = (x[:, 0] > 0.5).long() + 2 * (x[:, 1] > 0.5).long()
    res = _landscape(lambda in_shape, num_classes: TwoLayerTanh(in_shape, num_classes, hidden=6),
                     (x, y), n_minima=2, scale="smoke", name="flat-net")
    assert res.config.model_kw["in_shape"] == (64,)
    assert res.config.model_kw["num_classes"] == 4 and np.isnan(res.minima.test_acc).all()
    assert "no test set" in res.data_description()
    ds = torch.utils.data.TensorDataset(x, y)
    mine = tk.recipes.RECIPES["converge"].replace(name="mine")  # a reader's own recipe
    again = _landscape(lambda in_shape, num_classes: TwoLayerTanh(in_shape, num_classes, hidden=6),
                       ds, test_data=(x[:20], y[:20]), n_minima=2, scale="smoke", name="flat-net",
                       recipe=mine)
    assert torch.equal(again.minima.flat, res.minima.flat)  # same data and training, same minima
    assert "recipe 'mine'" in again.describe() and again.config.recipe.epochs == 1  # smoke
    assert not np.isnan(again.minima.test_acc).any()


@pytest.mark.parametrize("call, match", [
    (lambda: tk.landscape(lambda: 3, "digits", n_minima=2, scale="smoke"), "not an nn.Module"),
    (lambda: tk.landscape(TwoLayerTanh(), "digits", n_minima=2, scale="smoke"), "built network"),
    (lambda: tk.landscape(TwoLayerTanh, "digits", n_minima=2, scale="smoke", num_classes=5),
     "labels of train_data run from 0 to 9 but model TwoLayerTanh has 5 outputs"),
    (lambda: tk.landscape(TwoLayerTanh, "digits", n_minima=1, scale="smoke"), "at least 2 minima"),
    (lambda: tk.landscape(TwoLayerTanh, 42, n_minima=2, scale="smoke"), "train_data must be"),
    (lambda: tk.landscape(TwoLayerTanh, (torch.rand(9, 64), torch.rand(9)), scale="smoke"),
     "integer class indices"),
    (lambda: tk.landscape(TwoLayerTanh, "digitz", scale="smoke"), "unknown data set"),
    (lambda: tk.landscape(lambda: nn.Linear(3, 10), "digits", scale="smoke"), "fails on inputs"),
    (lambda: tk.landscape(TwoLayerTanh, "digits", scale="smoke", paths={"epoch": 3}),
     "unknown setting"),
])
def test_bad_input_gets_one_line_naming_it(call, match):
    with pytest.raises((TypeError, ValueError)) as err:
        call()
    assert match in str(err.value) and "\n" not in str(err.value)


def test_verdict_is_a_method_check_of_the_guarantee(digits_smoke):
    """The reader's model is a method check: it passes when every minimum converged, every
    bar-ending maximum converged and no path dips below its minima further than the longest
    bar; otherwise it is undetermined, saying why."""
    res = digits_smoke
    j = res.join
    conv_minima = dataclasses.replace(res.minima, converged=np.ones(3, bool))
    flat = dict(dips=np.zeros(3))
    good = dataclasses.replace(j, status=["converged"] * 3, certified=np.ones(3, bool), **flat)
    bad = dataclasses.replace(j, status=["budget"] * 3, **flat)
    cases = {(False, False): "undetermined", (True, False): "undetermined",
             (False, True): "undetermined", (True, True): "method check"}
    for (m, p), status in cases.items():
        r = dataclasses.replace(res, minima=conv_minima if m else dataclasses.replace(
            res.minima, converged=np.zeros(3, bool)), join=good if p else bad)
        v = r.verdict()
        assert v["status"] == status, (m, p)
        assert v["scale"] == "smoke" and v["numbers"]["bars"] == 2
        assert len(v["numbers"]["barcode"]) == 2
    # a path falling below its minima by more than the longest bar: the minima are not minima yet
    deep = dataclasses.replace(good, dips=np.full(3, 10.0))
    v = dataclasses.replace(res, minima=conv_minima, join=deep).verdict()
    assert v["status"] == "undetermined" and "tolerance" in v["reason"]
    assert "TO-score" in res.verdict()["ours"]


def test_chapter_shows_the_example_models_code():
    cells = json.loads((book.NOTEBOOKS / "toolkit_your_model.ipynb").read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert inspect.getsource(tk.examples.TinyMLP).rstrip() in text
    assert "executed/toolkit_your_model" in book.toc_files()


def test_one_warning_names_every_unconverged_minimum(digits_smoke, landscape_cache, monkeypatch):
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(landscape_cache))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tk.landscape(TwoLayerTanh, "digits", n_minima=3, scale="smoke", seed=5, hidden=12,
                     progress=False)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1, messages
    assert "3 of 3 minima of TwoLayerTanh did not converge (minima [0, 1, 2]" in messages[0]
