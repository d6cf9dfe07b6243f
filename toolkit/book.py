"""Book build steps, used by the Makefile and the tests: ``python -m toolkit.book <command>``.

- ``execute SRC DST [-p name value ...]``: run a source notebook with papermill into an executed
  copy (written only when the run succeeds; a failed run is kept as ``DST.failed.ipynb``). The
  copy names no folder of the machine that ran it and opens with a note on how to re-run it.
  Values are read as Python literals (``-p depths "[2, 4]"``, ``-p seed 1``; other text stays
  text). Only a chapter executed into ``book/executed/`` writes its record to ``results/`` (see
  :func:`toolkit.report.record_dir`).
- ``table [--book book]``: the reproduction table (rows from ``book/figures.yml``, results from
  ``results/``) and the API list, into ``book/_generated/``.
- ``build [--book book] [--out DIR]``: ``table``, then jupyter-book (warnings are errors), then
  ``check``.
- ``check HTML_DIR``: every chapter page exists, shows figures, has no error output, loads
  nothing from the network and names no folder of the build machine.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from toolkit._env import environment
from toolkit.cache import REPO_ROOT, atomic_write_text  # noqa: F401 - tests read book.REPO_ROOT
from toolkit.params import parse_cli_value
from toolkit.report import BOOK_CHAPTER_ENV
from toolkit.reproduction import (  # noqa: F401 - the table's names, as the Makefile and tests use them
    BOOK,
    FIGURES,
    NOT_RUN,
    NOT_WRITTEN,
    NOTEBOOKS,
    STATUS_WORDS,
    TOC,
    FigureRow,
    _machine_paths,
    _short,
    _short_data,
    check_figures,
    load_figures,
    reproduction_table,
    scrub_paths,
    toc_files,
)

_RERUN_TAG = "book-rerun"


# --- executing notebooks -------------------------------------------------------------------

def _scrub_notebook(nb) -> None:
    """Scrub the text a reader sees (outputs, tracebacks, papermill's paths), never image data."""
    def scrub(value):
        if isinstance(value, list):
            return [scrub_paths(v) if isinstance(v, str) else v for v in value]
        return scrub_paths(value) if isinstance(value, str) else value

    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = scrub(out["text"])
            if "traceback" in out:
                out["traceback"] = scrub(out["traceback"])
            if "evalue" in out:
                out["evalue"] = scrub(out["evalue"])
            for mime, value in out.get("data", {}).items():
                if mime.startswith("text/"):  # image/* is base64: "/root" may occur by chance
                    out["data"][mime] = scrub(value)
    pm = nb.metadata.get("papermill", {})
    for key in ("input_path", "output_path", "cwd"):
        if isinstance(pm.get(key), str):
            pm[key] = scrub_paths(pm[key])


def _parameter_default(src: Path, name: str) -> str | None:
    nb = json.loads(src.read_text())
    for cell in nb["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            m = re.search(rf"^{name}\s*=\s*[\"']([^\"']*)[\"']", "".join(cell["source"]), re.M)
            return m.group(1) if m else None
    return None


def rerun_note(stem: str, scale: str | None) -> str:
    """The note that opens every chapter page: where its notebook is and how to re-run it."""
    other = "paper" if scale != "paper" else "cpu"
    ran = f"executed at scale `{scale}`" if scale else "executed"
    return f"""\
:::{{admonition}} This page is a notebook
:class: tip rerun-note

It is `notebooks/{stem}.ipynb` {ran} (download the {{download}}`executed notebook <{stem}.ipynb>`).
To re-run it at another scale (`smoke`: seconds; `cpu`: the book's default; `paper`: the
paper's settings, a GPU advised), from the repository root:

```bash
.venv/bin/papermill notebooks/{stem}.ipynb out.ipynb -p scale {other}
```
:::"""


def _finish_executed(path: Path, stem: str, scale: str | None) -> None:
    """Make the executed copy fit for the book: no machine paths, the re-run note after the
    notebook's first (title) cell."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    _scrub_notebook(nb)
    nb.cells = [c for c in nb.cells if _RERUN_TAG not in c.get("metadata", {}).get("tags", [])]
    note = nbformat.v4.new_markdown_cell(rerun_note(stem, scale))
    note.metadata["tags"] = [_RERUN_TAG]
    note["id"] = _RERUN_TAG
    first_md = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
    nb.cells.insert(first_md + 1, note)
    nbformat.write(nb, str(path))


def execute(src: Path, dst: Path, parameters: dict | None = None) -> None:
    """Execute ``src`` with papermill, writing ``dst`` atomically; raise on a failing cell."""
    import papermill as pm

    parameters = parameters or {}
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.stem}.", suffix=".ipynb")
    os.close(fd)
    env = {"TQDM_DISABLE": "1"}  # progress bars are for terminals, not book pages
    # One intra-op thread per kernel unless the caller set OMP_NUM_THREADS: on the shared 2-core
    # build machine two OpenMP threads spin-wait for each other whenever another process holds a
    # core -- measured at load 4-6: fig02 at smoke 55 s -> 14 s, the CNN chapters at cpu ~4x.
    if "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = "1"
    # reliability (issue 14): only the book's own chapters write the results/ the table reads
    if dst.resolve().parent == (BOOK / "executed").resolve():
        env[BOOK_CHAPTER_ENV] = dst.stem
    with environment(env):
        try:
            pm.execute_notebook(str(src), tmp, parameters=parameters, cwd=str(src.parent),
                                kernel_name="python3", progress_bar=False, log_output=False)
            scale = parameters.get("scale") or _parameter_default(src, "scale")
            _finish_executed(Path(tmp), src.stem, scale)
        except Exception:
            os.replace(tmp, dst.with_suffix(".failed.ipynb"))
            raise
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
    return scrub_paths("\n".join(lines) + "\n")


def write_if_changed(text: str, path: Path) -> bool:
    """Write ``text`` unless the file already holds it (keeps Sphinx's incremental build warm)."""
    if path.exists() and path.read_text() == text:
        return False
    atomic_write_text(text, path)
    return True


def write_generated(book_dir: Path = BOOK) -> dict[Path, bool]:
    """Write ``_generated/reproduction.md`` and ``_generated/api.md``; which ones changed."""
    out = book_dir / "_generated"
    return {path: write_if_changed(text, path) for text, path in
            ((reproduction_table(), out / "reproduction.md"), (api_reference(), out / "api.md"))}


def build_html(book_dir: Path = BOOK, out: Path | None = None) -> subprocess.CompletedProcess:
    """jupyter-book 1.x, warnings as errors; HTML in ``<out or book_dir>/_build/html``."""
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb), "build", str(book_dir), "--warningiserror", "--keep-going", "--quiet"]
    if out is not None:
        cmd += ["--path-output", str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


# --- checking the built HTML ---------------------------------------------------------------

_ERROR_MARKERS = ("Traceback (most recent call last)", "output traceback", "output error")
_REMOTE_ASSET = re.compile(
    r"<(?:script|img|iframe|source|audio|video)\b[^>]*\bsrc=[\"']?(?:https?:)?//[^\"' >]+"
    r"|<link\b[^>]*\bhref=[\"']?(?:https?:)?//[^\"' >]+[^>]*>"
    r"|@import\s+(?:url\()?[\"']?(?:https?:)?//|url\([\"']?(?:https?:)?//", re.I)


def remote_assets(page_html: str) -> list[str]:
    """Scripts, stylesheets, images, frames or CSS imports the page would fetch from the network
    (a plain ``<a href>`` to a paper is a link, not an asset)."""
    found = []
    for m in _REMOTE_ASSET.finditer(page_html):
        tag = m.group(0)
        if tag.lower().startswith("<link") and not re.search(r"rel=[\"']?(stylesheet|preload|modulepreload|icon)", tag, re.I):
            continue
        found.append(tag[:160])
    return found


def check_pages(html_dir: Path, notebooks: Path = NOTEBOOKS) -> list[str]:
    """Problems found in the built book: missing chapter pages, pages without figures, error
    outputs, network assets, MathJax not served from the book, folders of the build machine."""
    problems = []
    for nb in sorted(notebooks.glob("*.ipynb")):
        page = html_dir / "executed" / f"{nb.stem}.html"
        if not page.exists():
            problems.append(f"{page}: missing")
            continue
        text = page.read_text()
        if not re.search(r"<img [^>]*src=\"[^\"]*\.(png|svg)\"", text):
            problems.append(f"{page}: no figure")
        for marker in _ERROR_MARKERS:
            if marker in text:
                problems.append(f"{page}: contains {marker!r}")
        shown = html.unescape(re.sub(r"<[^>]+>", "", text))  # the command is syntax-highlighted
        if f"papermill notebooks/{nb.stem}.ipynb out.ipynb -p scale" not in shown:
            problems.append(f"{page}: no papermill command to re-run it")
    machine = [p for p, _ in _machine_paths() if p not in ("/tmp", "/var/tmp")]
    for page in sorted(html_dir.rglob("*.html")):
        text = page.read_text()
        problems += [f"{page}: loads {a!r} from the network" for a in remote_assets(text)]
        for path in machine:
            if path in text:
                problems.append(f"{page}: names the build machine's folder {path}")
        for m in re.finditer(r"<script[^>]*src=\"([^\"]*mathjax[^\"]*)\"", text, re.I):
            local = (page.parent / m.group(1).split("?")[0]).resolve()
            if not local.is_file():
                problems.append(f"{page}: MathJax {m.group(1)} is not in the built book")
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
    tb.add_argument("--book", type=Path, default=BOOK)
    bd = sub.add_parser("build")
    bd.add_argument("--book", type=Path, default=BOOK)
    bd.add_argument("--out", type=Path, default=None)
    ck = sub.add_parser("check")
    ck.add_argument("html_dir", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "execute":
        execute(args.src, args.dst, {k: parse_cli_value(v) for k, v in args.p})
        return 0
    if args.cmd in ("table", "build"):
        for path, changed in write_generated(args.book).items():
            print(f"{path}: {'updated' if changed else 'unchanged'}")
        problems = check_figures()
        print("\n".join(problems) or f"{FIGURES.name}: every notebook has a row and a toc line")
        if args.cmd == "table" or problems:
            return 1 if problems else 0
        proc = build_html(args.book, args.out)
        if proc.returncode != 0:
            print(proc.stdout[-5000:], proc.stderr[-5000:], sep="\n", file=sys.stderr)
            return proc.returncode
        html_dir = (args.out or args.book) / "_build" / "html"
    else:
        html_dir = args.html_dir
    problems = check_pages(html_dir)
    print("\n".join(problems) or f"{html_dir}: every chapter page has figures and no errors; "
          "nothing loads from the network")
    if args.cmd == "build" and not problems:
        print(f"book: {(html_dir / 'index.html').resolve()}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
