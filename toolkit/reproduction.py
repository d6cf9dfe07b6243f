"""The front page's reproduction table: one row per figure or table of both papers
(``book/figures.yml``, in the papers' order), each with the claim, a one-word status, the paper's
headline number beside ours, scale and data, wall time -- from the records the executed chapters
saved (``results/``), never typed -- and the checks that every notebook has a row and a toc line.
Used through :mod:`toolkit.book`."""

from __future__ import annotations

import html
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from toolkit.cache import REPO_ROOT
from toolkit.report import RunRecord, load_records, results_dir

NOTEBOOKS = REPO_ROOT / "notebooks"
BOOK = REPO_ROOT / "book"
FIGURES = BOOK / "figures.yml"
TOC = BOOK / "_toc.yml"

#: record status -> the short word shown in the table (its CSS class is ``status-<word>``)
STATUS_WORDS = {"reproduced": "reproduced", "partly reproduced": "partly",
                "not reproduced": "not reproduced", "undetermined": "undetermined",
                "on stand-in": "on stand-in", "method check": "method check",
                "illustration": "illustration"}
NOT_WRITTEN = "not yet written"  # table only: the row's notebook does not exist yet
NOT_RUN = "not run"  # the notebook exists but saved no record


def _machine_paths() -> list[tuple[str, str]]:
    """(absolute folder of this machine, what the book shows instead), most specific first."""
    pairs = [(str(REPO_ROOT), ".")]
    for var in ("TOOLKIT_CACHE_DIR", "TOOLKIT_RESULTS_DIR"):
        if os.environ.get(var):
            pairs += [(str(Path(os.environ[var]).resolve()), f"${var}"),
                      (os.environ[var].rstrip("/"), f"${var}")]
    if not Path(sys.prefix).resolve().is_relative_to(REPO_ROOT):
        pairs.append((sys.prefix, "<python>"))
    pairs += [(str(Path.home()), "~"), (tempfile.gettempdir(), "<tmp>")]
    pairs = [(p, r) for p, r in pairs if len(p) > 1]
    return sorted(set(pairs), key=lambda pr: -len(pr[0]))


def scrub_paths(text: str) -> str:
    """``text`` with this machine's absolute folders made relative (the repository) or named
    (``$TOOLKIT_CACHE_DIR``, ``~``, ``<tmp>``): a page must not show where it was built."""
    for prefix, repl in _machine_paths():
        if repl == ".":  # repository paths read as repository-relative ones
            text = text.replace(prefix + "/", "")
        text = text.replace(prefix, repl)
    return text


@dataclass(frozen=True)
class FigureRow:
    """One row of ``book/figures.yml``: figures/tables of a paper and the notebook for them."""

    part: str
    label: str
    claim: str
    notebook: str | None = None
    also: str = ""
    paper: str = ""


def load_figures(path: Path = FIGURES) -> list[FigureRow]:
    """The rows of ``figures.yml`` in the file's order (the papers' order)."""
    import yaml

    data = yaml.safe_load(path.read_text())
    rows = []
    for part in data["parts"]:
        for row in part["rows"]:
            unknown = set(row) - {"label", "claim", "notebook", "also", "paper"}
            if unknown or not row.get("label") or not row.get("claim"):
                raise ValueError(f"{path}: row {row!r} needs label and claim; unknown keys {sorted(unknown)}")
            rows.append(FigureRow(part=part["title"], label=str(row["label"]), claim=str(row["claim"]),
                                  notebook=row.get("notebook") or None, also=str(row.get("also") or ""),
                                  paper=str(row.get("paper") or "")))
    return rows


def toc_files(toc: Path = TOC) -> list[str]:
    """Every document of ``_toc.yml`` (root first), e.g. ``["index", "executed/intro_barcodes"]``."""
    import yaml

    def walk(node: object) -> list[str]:
        if isinstance(node, dict):
            own = [str(node[k]) for k in ("root", "file") if k in node]
            return own + [f for v in node.values() for f in walk(v)]
        if isinstance(node, list):
            return [f for v in node for f in walk(v)]
        return []

    return [re.sub(r"\.(md|ipynb)$", "", f) for f in walk(yaml.safe_load(toc.read_text()))]


def _notebook_title(path: Path) -> str:
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def _md(text: str) -> str:
    """Plain text for a Markdown table cell: nothing in it is markup."""
    text = scrub_paths(str(text)).replace("\n", " ").replace("&", "&amp;").replace("<", "&lt;")
    return re.sub(r"([|*`$\\\[\]_])", r"\\\1", text)


def _attr(text: str) -> str:
    return html.escape(scrub_paths(str(text)).replace("\n", " "), quote=True).replace("|", "&#124;")


def _short(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters (with an ellipsis)."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:(") + " …"


def _short_data(dataset: str) -> str:
    """The data set's name without the parenthesised details and the explanation after ' — '."""
    text = str(dataset).split(" — ")[0]
    while re.search(r"\([^()]*\)", text):
        text = re.sub(r"\s*\([^()]*\)", "", text)
    return _short(re.sub(r"\s+([,;])", r"\1", text), 48)


def _with_title(short: str, full: str) -> str:
    """``short`` in a cell; the full text on hover when something was cut."""
    if " ".join(full.split()) == short:
        return _md(short)
    return f'<span title="{_attr(full)}">{_md(short)}</span>'


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _status_badge(word: str, full: str | None = None) -> str:
    css = "status-" + re.sub(r"[^a-z]+", "-", word.lower()).strip("-")
    title = f' title="{_attr(full)}"' if full and full != word else ""
    return f'<span class="status {css}"{title}>{_md(word)}</span>'


def _row_cells(row: FigureRow, rec: RunRecord | None, exists: bool, in_toc: bool) -> list[str]:
    label = _md(row.label)
    if exists and in_toc:
        label = f"{{doc}}`{row.label.replace('<', '&lt;')} <executed/{row.notebook}>`"
    if row.also:
        label += f' <span class="also">{_md(row.also)}</span>'
    paper_text = (rec.paper if rec and rec.paper else row.paper) or ""
    paper = _with_title(_short(paper_text, 80), paper_text)
    if not exists:
        return [label, _md(row.claim), _status_badge(NOT_WRITTEN), paper, "", "", ""]
    if rec is None:
        return [label, _md(row.claim), _status_badge(NOT_RUN), paper, "", "", ""]
    word = STATUS_WORDS.get(rec.status, rec.status)
    ours_text = rec.ours or rec.finding  # records from before the headline numbers: the finding
    ours = _with_title(_short(ours_text, 80), ours_text)
    data = f"`{rec.scale}` · " + _with_title(_short_data(rec.dataset), rec.dataset)
    wall = _wall_cell(rec.wall_time_s, rec.compute_s)
    return [label, _md(row.claim), _status_badge(word, rec.status), paper, ours, data, wall]


def _wall_cell(wall_s: float, compute_s: float | None) -> str:
    """The run's wall time; when its computation took longer (``compute_s``, summed over units):
    results loaded from the cache show the computing time, units run side by side (Ray) the wall
    time, each with a hover text saying which."""
    if compute_s is None or compute_s <= wall_s:
        return _duration(wall_s)
    if wall_s < CACHED_FRACTION * compute_s:  # results from the cache
        return _with_title(_duration(compute_s), f"computing took {_duration(compute_s)}; this "
                           f"run loaded the cached results in {_duration(wall_s)}")
    return _with_title(_duration(wall_s), f"this run took {_duration(wall_s)}; its units took "
                       f"{_duration(compute_s)} added up (several ran at the same time)")


#: a run shorter than this fraction of its computing time loaded (most of) it from the cache
CACHED_FRACTION = 0.1

_HEADER = ("Figure", "Claim", "Status", "Paper", "Ours", "Scale · data", "Wall time")  # widths: book.css


def _markdown_table(rows: list[list[str]]) -> str:
    lines = ["```{table}", ":class: reproduction", "",
             "| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines + ["```"])


def reproduction_table(notebooks: Path = NOTEBOOKS, results: Path | None = None,
                       figures: Path = FIGURES, toc: Path = TOC) -> str:
    """The front page's table: one row per figure/table of ``figures.yml`` in the papers' order,
    its status from the notebook's saved record (``not yet written`` while the notebook does not
    exist), then any notebook no row names."""
    records = load_records(results or results_dir())
    in_toc = {f.removeprefix("executed/") for f in toc_files(toc) if f.startswith("executed/")}
    rows = load_figures(figures)
    named = {r.notebook for r in rows if r.notebook}
    for nb in sorted(notebooks.glob("*.ipynb")):
        if nb.stem not in named:
            rec = records.get(nb.stem)
            rows.append(FigureRow(part="Other chapters", label=rec.figure if rec else _notebook_title(nb),
                                  claim=rec.claim if rec else "", notebook=nb.stem))
    parts: dict[str, list[list[str]]] = {}
    counts: dict[str, int] = {}
    for row in rows:
        exists = row.notebook is not None and (notebooks / f"{row.notebook}.ipynb").exists()
        rec = records.get(row.notebook) if exists else None
        cells = _row_cells(row, rec, exists, row.notebook in in_toc)
        parts.setdefault(row.part, []).append(cells)
        word = (STATUS_WORDS.get(rec.status, rec.status) if rec else NOT_RUN) if exists else NOT_WRITTEN
        counts[word] = counts.get(word, 0) + 1
    order = [*STATUS_WORDS.values(), NOT_RUN, NOT_WRITTEN]
    legend = " ".join(f"{_status_badge(w)} {counts[w]}" for w in order if counts.get(w))
    out = [f"Rows: {len(rows)}; by status: {legend}", ""]
    for title, cells in parts.items():
        out += [f"### {_md(title)}", "", _markdown_table(cells), ""]
    return "\n".join(out)


def check_figures(notebooks: Path = NOTEBOOKS, figures: Path = FIGURES, toc: Path = TOC) -> list[str]:
    """Problems between notebooks, ``figures.yml`` and ``_toc.yml``: a notebook that no row
    names or that the table of contents lacks, a chapter in the toc without a notebook."""
    rows = load_figures(figures)
    named = {r.notebook for r in rows if r.notebook}
    docs = toc_files(toc)
    chapters = {f.removeprefix("executed/") for f in docs if f.startswith("executed/")}
    problems = []
    for nb in sorted(notebooks.glob("*.ipynb")):
        if nb.stem not in named:
            problems.append(f"{nb.name}: no row of {figures.name} names it (add its figure there)")
        if nb.stem not in chapters:
            problems.append(f"{nb.name}: not in {toc.name} (add '- file: executed/{nb.stem}')")
    for stem in sorted(chapters):
        if not (notebooks / f"{stem}.ipynb").exists():
            problems.append(f"{toc.name}: executed/{stem} has no notebooks/{stem}.ipynb")
    return problems


