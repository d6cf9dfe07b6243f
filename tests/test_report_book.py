"""Run records and the generated reproduction table."""

from __future__ import annotations

import json

import pytest

import toolkit as tk
from toolkit import book


def test_run_record_roundtrip_and_table(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_RESULTS_DIR", str(tmp_path / "results"))
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    for name in ("a_fig", "b_fig"):
        cell = {"cell_type": "markdown", "metadata": {}, "source": [f"# Title of {name}\n"]}
        (nbs / f"{name}.ipynb").write_text(json.dumps({"cells": [cell]}))
    run = tk.Run("a_fig", "Fig. 9", "bars | match", "cpu")
    import numpy as np

    rec = run.finish(status="reproduced", dataset="toy", runs="1 run", finding="max diff 0.1%",
                     numbers={"diff": np.float64(0.001)})
    assert rec.numbers == {"diff": 0.001} and rec.wall_time_s >= 0
    table = book.reproduction_table(nbs)
    lines = table.strip().splitlines()
    assert len(lines) == 4
    assert "{doc}`Fig. 9 <executed/a_fig>`" in lines[2] and "**reproduced**" in lines[2]
    assert "bars \\| match" in lines[2]
    assert "not run" in lines[3] and "Title of b_fig" in lines[3]


def test_smoke_runs_are_illustrations_and_stand_ins_never_reproduce(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_RESULTS_DIR", str(tmp_path))
    v = tk.verdict(status="reproduced", dataset="d", runs="1", finding="f", paper="p", ours="o")
    rec = tk.Run("x", "Fig. 1", "c", "smoke").finish(**v)
    assert rec.status == "illustration" and rec.measured_status == "reproduced"
    rec = tk.Run("x", "Fig. 1", "c", "cpu").finish(**{**v, "stand_in": True})
    assert rec.status == "on stand-in"
    rec = tk.Run("x", "Fig. 1", "c", "cpu").finish(**{**v, "status": "not reproduced", "stand_in": True})
    assert rec.status == "not reproduced"
    assert json.loads((tmp_path / "x.json").read_text())["paper"] == "p"


def test_run_validates_status_and_scale(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_RESULTS_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="scale"):
        tk.Run("x", "Fig. 1", "c", "huge")
    with pytest.raises(ValueError, match="status"):
        tk.Run("x", "Fig. 1", "c", "cpu").finish(status="great", dataset="", runs="", finding="")


def test_write_if_changed(tmp_path):
    p = tmp_path / "t.md"
    assert book.write_if_changed("a", p) and not book.write_if_changed("a", p)
    assert book.write_if_changed("b", p) and p.read_text() == "b"


def test_api_reference_lists_public_names():
    text = book.api_reference()
    assert "`tk.resolve_device(device='auto')`" in text and "tk._" not in text


def test_write_notebook_tags_parameters(tmp_path):
    path = tmp_path / "n.ipynb"
    book.write_notebook(path, [("md", "# T\n"), ("params", "scale = 'cpu'\n"), ("code", "x = 1")])
    cells = json.loads(path.read_text())["cells"]
    assert [c["cell_type"] for c in cells] == ["markdown", "code", "code"]
    assert cells[1]["metadata"]["tags"] == ["parameters"] and "tags" not in cells[2]["metadata"]
    assert "".join(cells[0]["source"]) == "# T"
    with pytest.raises(ValueError, match="cell kind"):
        book.write_notebook(path, [("raw", "x")])
