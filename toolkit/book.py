"""Book build steps, used by the Makefile and the tests: ``python -m toolkit.book <command>``.

- ``execute SRC DST [-p name value ...]``: run a source notebook with papermill into an executed
  copy (written only when the run succeeds; a failed run is kept as ``DST.failed.ipynb``). Values
  are read as Python literals (``-p depths "[2, 4]"``, ``-p seed 1``; other text stays text). Only
  a chapter executed into ``book/executed/`` writes its record to ``results/`` (see
  :func:`toolkit.report.record_dir`).
- ``table [--out book/_generated/reproduction.md]``: the reproduction table from ``results/``.
- ``check HTML_DIR``: every chapter page exists, shows figures and has no error output.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

from toolkit.cache import REPO_ROOT, atomic_write_text
from toolkit.params import parse_cli_value
from toolkit.report import BOOK_CHAPTER_ENV, load_records, results_dir

NOTEBOOKS = REPO_ROOT / "notebooks"
BOOK = REPO_ROOT / "book"


def execute(src: Path, dst: Path, parameters: dict | None = None) -> None:
    """Execute ``src`` with papermill, writing ``dst`` atomically; raise on a failing cell."""
    import papermill as pm

    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.stem}.", suffix=".ipynb")
    os.close(fd)
    env = {"TQDM_DISABLE": "1"}  # progress bars are for terminals, not book pages
    # reliability (issue 14): only the book's own chapters write the results/ the table reads
    if dst.resolve().parent == (BOOK / "executed").resolve():
        env[BOOK_CHAPTER_ENV] = dst.stem
    env_before = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        pm.execute_notebook(str(src), tmp, parameters=parameters or {}, cwd=str(src.parent),
                            kernel_name="python3", progress_bar=False, log_output=False)
    except Exception:
        os.replace(tmp, dst.with_suffix(".failed.ipynb"))
        raise
    finally:
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    os.replace(tmp, dst)


def write_notebook(path: Path, cells: list[tuple[str, str]]) -> None:
    """Write a source notebook from ``(kind, source)`` cells, kind ``"md"``, ``"code"`` or
    ``"params"`` (a code cell tagged ``parameters``): a maintainer's way to author chapters."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, src) in enumerate(cells):
        src = src.strip("\n")
        if kind == "md":
            cell = nbformat.v4.new_markdown_cell(src)
        elif kind in ("code", "params"):
            cell = nbformat.v4.new_code_cell(src)
            if kind == "params":
                cell.metadata["tags"] = ["parameters"]
        else:
            raise ValueError(f"cell kind must be 'md', 'code' or 'params', got {kind!r}")
        cell["id"] = f"c{i:02d}"
        nb.cells.append(cell)
    nbformat.write(nb, str(path))


def _notebook_title(path: Path) -> str:
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def reproduction_table(notebooks: Path = NOTEBOOKS, results: Path | None = None) -> str:
    """Markdown table of every notebook's saved run record (``not run`` when there is none)."""
    records = load_records(results or results_dir())
    rows = ["| Figure | Paper's claim | Status: what we found | Data, scale, runs | Wall time |",
            "|---|---|---|---|---|"]
    for nb in sorted(notebooks.glob("*.ipynb")):
        rec = records.get(nb.stem)
        if rec is None:
            rows.append(f"| {{doc}}`{_cell(_notebook_title(nb))} <executed/{nb.stem}>` | | not run | | |")
            continue
        wall = _duration(rec.wall_time_s)
        if rec.compute_s is not None:
            wall += f" (compute: {_duration(rec.compute_s)})"
        rows.append(f"| {{doc}}`{_cell(rec.figure)} <executed/{nb.stem}>` | {_cell(rec.claim)} | "
                    f"**{rec.status}**: {_cell(rec.finding)} | {_cell(rec.dataset)}; scale "
                    f"`{rec.scale}`; {_cell(rec.runs)} | {wall} |")
    return "\n".join(rows) + "\n"


def api_reference() -> str:
    """Markdown list of the public names of ``toolkit`` with the first paragraph of each docstring."""
    import inspect

    import toolkit

    lines = []
    for name in sorted(n for n in dir(toolkit) if not n.startswith("_")):
        obj = getattr(toolkit, name)
        doc = inspect.getdoc(obj) or ""
        first = " ".join(doc.split("\n\n")[0].split())
        if inspect.ismodule(obj):
            lines.append(f"- `tk.{name}` (module): {first}")
        elif callable(obj):
            try:
                params = inspect.signature(obj).parameters.values()
                sig = "(" + ", ".join(p.name if p.default is p.empty else f"{p.name}={p.default!r}"
                                      for p in params) + ")"
            except (TypeError, ValueError):
                sig = "(...)"
            sig = sig if len(sig) <= 90 else sig[:87] + "...)"
            lines.append(f"- `tk.{name}{sig}`: {first}")
    return "\n".join(lines) + "\n"


def write_if_changed(text: str, path: Path) -> bool:
    """Write ``text`` unless the file already holds it (keeps Sphinx's incremental build warm)."""
    if path.exists() and path.read_text() == text:
        return False
    atomic_write_text(text, path)
    return True


_ERROR_MARKERS = ("Traceback (most recent call last)", "output traceback", "output error")


def check_pages(html_dir: Path, notebooks: Path = NOTEBOOKS) -> list[str]:
    """Problems found in the built book: missing chapter pages, pages without figures, errors."""
    problems = []
    for nb in sorted(notebooks.glob("*.ipynb")):
        page = html_dir / "executed" / f"{nb.stem}.html"
        if not page.exists():
            problems.append(f"{page}: missing")
            continue
        html = page.read_text()
        if not re.search(r"<img [^>]*src=\"[^\"]*\.(png|svg)\"", html):
            problems.append(f"{page}: no figure")
        for marker in _ERROR_MARKERS:
            if marker in html:
                problems.append(f"{page}: contains {marker!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m toolkit.book", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("execute")
    ex.add_argument("src", type=Path)
    ex.add_argument("dst", type=Path)
    ex.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    tb = sub.add_parser("table")
    tb.add_argument("--out", type=Path, default=BOOK / "_generated" / "reproduction.md")
    ck = sub.add_parser("check")
    ck.add_argument("html_dir", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "execute":
        execute(args.src, args.dst, {k: parse_cli_value(v) for k, v in args.p})
    elif args.cmd == "table":
        for text, out in ((reproduction_table(), args.out), (api_reference(), args.out.with_name("api.md"))):
            changed = write_if_changed(text, out)
            print(f"{out}: {'updated' if changed else 'unchanged'}")
    else:
        problems = check_pages(args.html_dir)
        print("\n".join(problems) or f"{args.html_dir}: every chapter page has figures, no errors")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
