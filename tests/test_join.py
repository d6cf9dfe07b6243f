"""The one join (toolkit.join): which paths end bars, endpoints and sanity on a hand-made
result; cache keys from resolved inputs (a preset edited in toolkit/scales.py or
toolkit/recipes.py changes the key of every unit that uses it); and no second home for joining,
comparing or deciding in the package."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest

import toolkit as tk
from toolkit import recipes, scales
from toolkit.join import Joined, join_key
from toolkit.minima import plan_minima
from toolkit.topology import minima_barcode

TOOLKIT = Path(tk.__file__).parent


def _joined(min_losses, saddles, converged) -> Joined:
    pairs = np.array([[0, 1], [0, 2], [1, 2]])
    bc = minima_barcode(np.asarray(min_losses), {tuple(p): s for p, s in zip(pairs.tolist(), saddles)})
    lows = np.asarray(min_losses, float)
    return Joined(pairs=pairs, min_losses=lows, stored_losses=lows.copy(),
                  saddles=np.asarray(saddles, float), saddle_std=np.zeros(3),
                  status=["converged" if c else "budget" for c in converged],
                  certified=np.ones(3, bool), stopped_epoch=np.full(3, -1),
                  n_points=np.full(3, 5), dips=np.zeros(3), max_history=np.zeros((1, 3)),
                  track_steps=np.array([10]), point_steps=0, barcode=bc, bn=False, seconds=0.0)


def test_bar_paths_endpoints_evidence_and_sanity():
    j = _joined([0.1, 0.2, 0.3], [0.5, 0.3, 0.6], [True, False, True])
    # minimum 2 joins minimum 0 through path (0, 2) at 0.3, minimum 1 through path (0, 1) at 0.5
    fin = j.barcode.finite()
    assert sorted(fin.deaths.tolist()) == [0.3, 0.5]
    assert sorted(j.bar_paths().tolist()) == [0, 1]
    assert j.bar_maxima() == (1, 2)  # path (0, 2) ends a bar but ran out of budget
    assert j.saddle_level().converged is False
    assert j.at_endpoint().tolist() == [False, True, False]  # path (0, 2) peaks at minimum 2
    assert "1 ran out of budget" in j.convergence_note()
    ev = tk.join.evidence([j, j], [np.ones(3, bool), np.array([True, False, True])])
    assert ev["maxima"] == (2, 4) and ev["minima"] == (5, 6)
    assert j.sanity()[0]
    j.stored_losses = j.min_losses + 1e-3  # a path whose ends miss the minima fails ...
    assert not j.sanity()[0]
    j.bn = True  # ... unless BatchNorm statistics were estimated from other chunks (2% of 0.3)
    assert j.sanity()[0]


def _plan(**kw):
    return plan_minima("fc", "digits", "fc_converge", 2, "cpu", seed=0, hidden_layers=1, width=8,
                       **kw)


def test_editing_a_recipe_preset_changes_the_key_of_a_unit_that_uses_it(monkeypatch):
    before = _plan()
    key = tk.cache.config_hash("minima", before.key(0))
    edited = dict(recipes.RECIPES)
    edited["fc_converge"] = recipes.RECIPES["fc_converge"].replace(lr=1.2345e-3)
    monkeypatch.setattr(recipes, "RECIPES", MappingProxyType(edited))
    assert tk.cache.config_hash("minima", _plan().key(0)) != key
    monkeypatch.undo()
    assert tk.cache.config_hash("minima", _plan().key(0)) == key  # and back


def test_editing_a_scale_preset_changes_the_key_of_a_unit_that_uses_it(monkeypatch):
    key = tk.cache.config_hash("minima", _plan().key(0))
    cpu = dict(scales._CPU)
    cpu["fc_converge"] = dataclasses.replace(scales._CPU["fc_converge"], epochs=7)
    monkeypatch.setattr(scales, "_CPU", MappingProxyType(cpu))
    assert tk.cache.config_hash("minima", _plan().key(0)) != key


def test_the_join_key_follows_the_minima_content_and_the_plan():
    import torch

    cfg = tk.experiments.fc_depth_config("smoke", datasets=["digits"], depths=[1])
    flat = torch.zeros(2, 5)
    k = tk.cache.config_hash("join", join_key(flat, None, "h", cfg.plan, seed=0, run=0, keep=False))
    assert k != tk.cache.config_hash("join", join_key(flat + 1e-6, None, "h", cfg.plan, seed=0,
                                                      run=0, keep=False))
    other = dataclasses.replace(cfg.plan, bootstrap=cfg.plan.bootstrap + 1)
    assert k != tk.cache.config_hash("join", join_key(flat, None, "h", other, seed=0, run=0,
                                                      keep=False))


def _imports() -> dict[str, set[str]]:
    """``{module: toolkit modules it imports}`` over the package (static)."""
    out = {}
    for p in TOOLKIT.rglob("*.py"):
        mod = ".".join(p.relative_to(TOOLKIT.parent).with_suffix("").parts).removesuffix(".__init__")
        deps = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("toolkit"):
                deps.add(node.module)
                deps.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("toolkit"))
        out[mod] = deps
    return out


def test_no_import_cycle_and_no_module_imports_the_readers_entry_point():
    graph = _imports()
    mods = set(graph)
    graph = {m: {d for d in deps if d in mods and d != m} for m, deps in graph.items()}
    importers = sorted(m for m, deps in graph.items() if "toolkit.landscape" in deps)
    assert importers == ["toolkit"], importers
    # cycles among modules (a package's __init__ re-exporting its children is not one)
    state: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for d in graph[m]:
            if d == "toolkit" or m.startswith(d + ".") or d.startswith(m + "."):
                continue
            if state.get(d) == 1:
                pytest.fail(f"import cycle: {' -> '.join(stack + [m, d])}")
            if d not in state:
                visit(d, stack + [m])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])


@pytest.mark.parametrize("pattern", ["def compare(a", "SIGMAS * ", "def status_of(", "def bar_barcode(",
                                     "ev.saddles(exclude=", "def _compare("])
def test_one_home_for_each_rule(pattern):
    homes = [p.relative_to(TOOLKIT).as_posix() for p in TOOLKIT.rglob("*.py")
             if pattern in p.read_text()]
    assert len(homes) <= 1, homes
