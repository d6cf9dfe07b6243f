"""Run records and the generated reproduction table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import toolkit as tk
from toolkit import book


def _notebook(folder, name, title="Title"):
    cell = {"cell_type": "markdown", "metadata": {}, "source": [f"# {title} of {name}\n"]}
    (folder / f"{name}.ipynb").write_text(json.dumps({"cells": [cell]}))


FIGURES_YML = """
parts:
  - title: Paper One
    rows:
      - {label: Fig. 2, claim: "bars | match", notebook: a_fig, paper: "0.12 -> 0.03", also: App. X}
      - {label: Fig. 3, claim: lost caption, notebook: null}
      - {label: Table 1, claim: later, notebook: d_fig, paper: "67.4%"}
  - title: Paper Two
    rows:
      - {label: Fig. 1, claim: not run yet, notebook: b_fig}
"""
TOC_YML = """
format: jb-book
root: index
parts:
  - caption: One
    chapters:
      - file: executed/a_fig
      - file: executed/b_fig
"""


def test_run_record_roundtrip_and_table(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_RESULTS_DIR", str(tmp_path / "results"))
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    for name in ("a_fig", "b_fig", "e_fig"):
        _notebook(nbs, name)
    (tmp_path / "figures.yml").write_text(FIGURES_YML)
    (tmp_path / "_toc.yml").write_text(TOC_YML)
    run = tk.Run("a_fig", "Fig. 2", "bars | match", "cpu")
    import numpy as np

    rec = run.finish(status="partly reproduced", dataset="toy (details) — why", runs="1 run",
                     finding="max diff 0.1%", numbers={"diff": np.float64(0.001)}, ours="0.118 -> 0.181")
    assert rec.numbers == {"diff": 0.001} and rec.wall_time_s >= 0 and rec.ours == "0.118 -> 0.181"
    table = book.reproduction_table(nbs, figures=tmp_path / "figures.yml", toc=tmp_path / "_toc.yml")
    rows = [line for line in table.splitlines() if line.startswith("| ") and "Figure" not in line]
    # the papers' order, then the notebook no row names
    assert [r.split(" | ")[0] for r in rows] == [
        '| {doc}`Fig. 2 <executed/a_fig>` <span class="also">App. X</span>', "| Fig. 3",
        "| Table 1", "| {doc}`Fig. 1 <executed/b_fig>`", "| Title of e\\_fig"]
    a, lost, later, b, other = rows
    assert 'class="status status-partly"' in a and ">partly<" in a and "bars \\| match" in a
    assert "| 0.12 -> 0.03 | 0.118 -> 0.181 |" in a  # the paper's headline beside ours
    assert '`cpu` · <span title="toy (details) — why">toy</span>' in a  # short data, full on hover
    assert "status-not-yet-written" in lost and "status-not-yet-written" in later and "67.4%" in later
    assert "status-not-run" in b and "status-not-run" in other
    assert table.index("### Paper One") < table.index("### Paper Two") < table.index("### Other chapters")
    assert "Rows: 5" in table


def test_check_figures_names_what_is_missing(tmp_path):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    for name in ("a_fig", "e_fig"):
        _notebook(nbs, name)
    (tmp_path / "figures.yml").write_text(FIGURES_YML)
    (tmp_path / "_toc.yml").write_text(TOC_YML)
    problems = book.check_figures(nbs, tmp_path / "figures.yml", tmp_path / "_toc.yml")
    assert problems == ["e_fig.ipynb: no row of figures.yml names it (add its figure there)",
                        "e_fig.ipynb: not in _toc.yml (add '- file: executed/e_fig')",
                        "_toc.yml: executed/b_fig has no notebooks/b_fig.ipynb"]


def test_figures_yml_lists_both_papers_in_order():
    rows = book.load_figures()
    parts = list(dict.fromkeys(r.part for r in rows))
    assert parts[0] == "Introduction" and "Barannikov" in parts[1] and "Liao" in parts[2]
    stems = {r.notebook for r in rows}
    for stem in ("intro_barcodes", "fig02_fc_depth", "fig13_error_bars", "app_e_path_characteristics",
                 "app_i_triangles", "lp_fig03_sgd_mds", "fig04_cnn_width_depth", "tab01_resnet_minima_types",
                 "fig06_wrn_curves", "lp_fig05_perturb_retrain", "toolkit_your_model"):
        assert stem in stems
    labels = " ".join(r.label + " " + r.also for r in rows if "Barannikov" in r.part or r.part == "Introduction")
    for n in range(1, 17):  # every figure of Topological Obstructions has a row
        assert f"{n}" in labels


def test_toc_files_and_the_real_toc():
    docs = book.toc_files()
    assert docs[0] == "index" and "executed/intro_barcodes" in docs and "reproducing" in docs


def test_scrub_paths_hides_the_build_machine(monkeypatch, tmp_path):
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(tmp_path / "cache"))
    text = f"absent from {book.REPO_ROOT}/data/raw/cifar10/; cache {tmp_path}/cache/x.pt; home {Path.home()}/x"
    assert book.scrub_paths(text) == "absent from data/raw/cifar10/; cache $TOOLKIT_CACHE_DIR/x.pt; home ~/x"


def test_executed_copy_gets_rerun_note_and_no_paths(tmp_path):
    import nbformat

    path = tmp_path / "fig.ipynb"
    book.write_notebook(path, [("md", "# T\nclaim"), ("params", "scale = 'cpu'"), ("code", "x = 1")])
    nb = nbformat.read(str(path), as_version=4)
    image = "iVBORw0KGgo/root/" + "A" * 20  # base64 may contain "/root" by chance: left alone
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text=f"data in {book.REPO_ROOT}/data/raw\n"),
                           nbformat.v4.new_output("display_data", data={"image/png": image})]
    nbformat.write(nb, str(path))
    for _ in range(2):  # idempotent
        book._finish_executed(path, "fig", "smoke")
    cells = nbformat.read(str(path), as_version=4).cells
    assert [c.cell_type for c in cells] == ["markdown", "markdown", "code", "code"]
    assert "papermill notebooks/fig.ipynb out.ipynb -p scale paper" in cells[1].source
    assert "scale `smoke`" in cells[1].source
    assert cells[3].outputs[0].text == "data in data/raw\n" and cells[3].outputs[1].data["image/png"] == image


def test_remote_assets_finds_scripts_and_styles_not_links():
    page = """<script src="https://cdn.example.org/m.js"></script><a href="https://arxiv.org/abs/1">x</a>
    <link rel="stylesheet" href="//fonts.example.org/a.css"><link rel="next" href="https://x.org/b.html">
    <script src="_static/mathjax/tex-chtml-full.js"></script><style>@import url("https://f.org/c.css")</style>"""
    found = book.remote_assets(page)
    assert len(found) == 3 and "cdn.example.org" in found[0] and "fonts.example.org" in found[1]


def test_short_data_keeps_the_name():
    assert book._short_data("mnist, fashion-mnist (real; a subset (256) of images) — note") == "mnist, fashion-mnist"
    assert book._short("a b c d e f", 7) == "a b c …"


def test_smoke_runs_are_illustrations_and_stand_ins_never_reproduce(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_RESULTS_DIR", str(tmp_path))
    v = tk.verdict(status="reproduced", dataset="d", runs="1", finding="f", paper="p", ours="o")
    rec = tk.Run("x", "Fig. 1", "c", "smoke").finish(**v)
    assert rec.status == "illustration" and rec.measured_status == "reproduced"
    rec = tk.Run("x", "Fig. 1", "c", "cpu").finish(**{**v, "stand_in": True})
    assert rec.status == "on stand-in"
    # a stand-in caps a negative result exactly as it caps a positive one
    v = tk.verdict(status="not reproduced", dataset="d", runs="1", finding="f", paper="p",
                   ours="o", stand_in=True)
    rec = tk.Run("x", "Fig. 1", "c", "cpu").finish(**v)
    assert rec.status == "on stand-in" and rec.measured_status == "not reproduced"
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


def test_wall_time_cell_says_whether_the_run_computed_or_loaded():
    """Wall time of the run; a run that loaded its results shows the computing time, a run whose
    units ran side by side shows its own wall time (the units' sum is larger): never the sum as if
    it were the wall time."""
    from toolkit.reproduction import _wall_cell

    side_by_side = _wall_cell(793.5, 1505.7)
    assert side_by_side.split(">")[1].startswith("13.2 min") and "added up" in side_by_side
    loaded = _wall_cell(7.0, 1505.7)
    assert "loaded the cached results" in loaded and loaded.split(">")[1].startswith("25.1 min")
    assert _wall_cell(60.0, 50.0) == _wall_cell(60.0, None)
