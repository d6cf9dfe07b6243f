"""Every notebook runs under papermill at scale="smoke", and the book builds from the results.

The notebooks are executed once per test session into a temporary book (the ``smoke_book``
fixture of conftest.py, with its own cache and results folders); the tests then check each
notebook, the house style, and the built HTML (tests/test_browser.py opens it in Chromium).
"""

from __future__ import annotations

import ast
import json
import re

import pytest

from toolkit import book

NOTEBOOKS = sorted(book.NOTEBOOKS.glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]
MAX_LINE = 110  # characters of a code line that the book shows without a sideways scroll
MAX_FIGURE_INCHES = 16  # at the default 100 dpi a wider figure is shown below 60% of its size


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=IDS)
def test_notebook_house_style(nb):
    """The notebook shape of STYLE.md: a titled markdown cell with the claim, a ``parameters``
    cell of literals (scale, seed, device), toolkit calls, no functions, loops of training or
    installs, imports that are used, and a short closing cell without control flow."""
    cells = json.loads(nb.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith("# ")
    assert "claim" in "".join(cells[0]["source"]).lower(), "the first cell states the paper's claim"
    assert "parameters" in code[0]["metadata"].get("tags", []), "first code cell must be tagged"
    params = ast.parse("".join(code[0]["source"]))
    for stmt in params.body:
        assert isinstance(stmt, ast.Assign), f"parameters cell holds assignments only: {ast.dump(stmt)}"
        ast.literal_eval(stmt.value)  # literals only, so papermill can override them
    names = {t.id for stmt in params.body for t in stmt.targets}
    assert {"scale", "seed", "device"} <= names
    assert re.search(r'^scale = "cpu"', "".join(code[0]["source"]), re.M), "the book's default is cpu"
    imported, used = set(), set()
    for c in code:
        src = "".join(c["source"])
        assert not c.get("outputs"), "source notebooks are committed without outputs"
        tree = ast.parse(src)
        for node in ast.walk(tree):
            assert not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Lambda)), "no functions"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mod = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                assert mod in {"toolkit", "matplotlib.pyplot", "numpy"}, mod
                imported |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, ast.Name):
                used.add(node.id)
        assert not re.search(r"\.backward\(|optimizer\.step\(|^\s*[!%]\s*pip", src, re.M)
    assert imported <= used, f"unused imports: {imported - used}"
    for c in code:  # what fits the book's code column (tests/test_browser.py: no sideways scroll)
        for line in "".join(c["source"]).splitlines():
            assert len(line) <= MAX_LINE, f"code line of {len(line)} > {MAX_LINE} characters: {line[:60]}..."
        for width in re.findall(r"figsize=\((\d+(?:\.\d*)?),", "".join(c["source"])):
            assert float(width) <= MAX_FIGURE_INCHES, f"figsize width {width} in > {MAX_FIGURE_INCHES}"
    last = "".join(code[-1]["source"]).strip()
    assert len(last.splitlines()) <= 8, "the closing cell is at most 8 lines"
    assert re.search(r"run\.finish\(\*\*.*verdict\(", last), "the closing cell is run.finish(**res.verdict())"
    for node in ast.walk(ast.parse(last)):
        assert not isinstance(node, (ast.If, ast.For, ast.While, ast.IfExp, ast.comprehension)), \
            "no control flow in the closing cell: the verdict lives in the result object"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=IDS)
def test_notebook_runs_at_smoke_scale(smoke_book, nb):
    assert nb.stem not in smoke_book.errors, smoke_book.errors.get(nb.stem)
    executed = json.loads((smoke_book.book / "executed" / nb.name).read_text())
    outputs = [o for c in executed["cells"] for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "notebook shows no figure"
    record = json.loads((smoke_book.results / f"{nb.stem}.json").read_text())
    assert record["scale"] == "smoke" and record["status"] != "not run"


def test_book_builds_with_figures_and_no_errors(smoke_book):
    assert smoke_book.build.returncode == 0, smoke_book.build.stdout[-3000:] + smoke_book.build.stderr[-3000:]
    assert book.check_pages(smoke_book.html) == []
    index = (smoke_book.html / "index.html").read_text()
    for stem in IDS:
        assert f"executed/{stem}.html" in index, f"{stem} missing from the reproduction table"
    assert "not run" not in index


def test_book_is_offline_and_names_no_build_folder(smoke_book):
    """MathJax comes from the built book; no page loads a script or stylesheet from the network
    or shows a folder of the machine that built it (here: the repository, the smoke folder)."""
    intro = (smoke_book.html / "executed" / "intro_barcodes.html").read_text()
    assert '_static/mathjax/tex-chtml-full.js' in intro and 'class="math' in intro
    assert (smoke_book.html / "_static" / "mathjax" / "tex-chtml-full.js").is_file()
    for page in sorted(smoke_book.html.rglob("*.html")):
        text = page.read_text()
        assert book.remote_assets(text) == [], page
        assert not re.search(r"<(script|link)[^>]*(src|href)=\"https?://", text), page
        for folder in (str(book.REPO_ROOT), str(smoke_book.root)):
            assert folder not in text, f"{page.name} names {folder}"


def test_chapter_pages_say_how_to_rerun(smoke_book):
    for stem in IDS:
        cells = json.loads((smoke_book.book / "executed" / f"{stem}.ipynb").read_text())["cells"]
        notes = [c for c in cells if "book-rerun" in c["metadata"].get("tags", [])]
        assert len(notes) == 1 and cells.index(notes[0]) == 1, stem
        text = "".join(notes[0]["source"])
        assert f"papermill notebooks/{stem}.ipynb out.ipynb -p scale paper" in text
        assert "scale `smoke`" in text and f"{{download}}`executed notebook <{stem}.ipynb>`" in text


def test_every_notebook_has_a_row_and_a_toc_line():
    assert book.check_figures() == []
