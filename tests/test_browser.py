"""What a reader sees: every page of the session's smoke book (conftest ``smoke_book``), opened
from disk in Chromium with the network unplugged (every request that is not for a local file
is aborted and counted).

Per page: no console error, nothing fetched from the network, every image loaded with a
non-zero size, every formula typeset by MathJax (no raw ``\\(`` left in the text), nothing
scrolling sideways (code cells, outputs, tables), figures shown at a readable fraction of their
size and captioned, and the sidebar linking every chapter. A full-page screenshot of each page
goes to ``book/_build/screenshots/``, with ``summary.json`` (the counts).

Needs Chromium: Debian's ``chromium`` or the browser at ``$CHROMIUM`` (Playwright drives it; no
browser is downloaded). Without one the tests are skipped with a one-line reason.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from toolkit import book

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
VIEWPORT = {"width": 1366, "height": 768}  # the commonest laptop screen, at the default zoom
MIN_FIGURE_SCALE = 0.6  # a figure shown at 60% of its size keeps 10 pt labels at >= 8 px
SCREENSHOTS = book.BOOK / "_build" / "screenshots"
PAGES = book.toc_files()

pytestmark = pytest.mark.skipif(  # CI sets REQUIRE_CHROMIUM: there a missing browser fails
    CHROMIUM is None and not os.environ.get("REQUIRE_CHROMIUM"),
    reason="no Chromium to drive: apt-get install chromium (or set CHROMIUM=/path/to/chrome)")

# Runs in the page once MathJax and the images are done; returns what the checks need.
_PROBE = r"""async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await Promise.all([...document.images].map(img => img.complete ? null :
      new Promise(done => { img.addEventListener('load', done); img.addEventListener('error', done); })));
  const article = document.querySelector('article.bd-article') || document.body;
  const prose = article.cloneNode(true);
  prose.querySelectorAll('pre, code, script, style, mjx-container, .highlight').forEach(e => e.remove());
  const text = prose.textContent;
  const raw = ['\\(', '\\)', '\\[', '\\]', '$$', '\\begin{'].filter(d => text.includes(d));
  const maths = [...article.querySelectorAll('.math')];
  const images = [...document.images].map(img => {
    const box = img.getBoundingClientRect();
    const output = img.closest('.cell_output');
    let caption = null;
    if (output) {
      const after = [...output.querySelectorAll('p, figcaption')].find(
          p => img.compareDocumentPosition(p) & Node.DOCUMENT_POSITION_FOLLOWING);
      caption = after ? after.textContent.trim() : '';
    }
    return {src: img.getAttribute('src'), natural: img.naturalWidth, width: box.width,
            height: box.height, caption: caption};
  });
  const scrolls = [...article.querySelectorAll('*')].filter(e => {
    const overflow = getComputedStyle(e).overflowX;
    return (overflow === 'auto' || overflow === 'scroll') && e.scrollWidth > e.clientWidth + 1;
  }).map(e => `<${e.tagName.toLowerCase()} class="${e.className}"> needs ${e.scrollWidth}px, has ${e.clientWidth}px`);
  if (document.documentElement.scrollWidth > document.documentElement.clientWidth + 1)
    scrolls.push(`the page needs ${document.documentElement.scrollWidth}px`);
  return {
    raw: raw,
    untypeset: maths.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 80)),
    formulas: article.querySelectorAll('mjx-container').length,
    mathErrors: article.querySelectorAll('mjx-merror').length,
    images: images,
    sidebar: [...document.querySelectorAll('.bd-sidebar-primary nav a[href]')].map(a => a.href),
    scrolls: scrolls,
  };
}"""


def _page_file(html: Path, doc: str) -> Path:
    return html / f"{doc}.html"


@pytest.fixture(scope="module")
def reader(request):
    """Every page of the smoke book as Chromium shows it: {doc: probe result + messages}."""
    if CHROMIUM is None:
        pytest.fail("REQUIRE_CHROMIUM is set but there is no chromium on PATH and no $CHROMIUM")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
    smoke_book = request.getfixturevalue("smoke_book")  # only once a browser is there to use it
    assert smoke_book.build.returncode == 0, smoke_book.build.stderr[-2000:]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    seen: dict[str, dict] = {}
    t0 = time.perf_counter()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport=VIEWPORT)
        network: list[str] = []

        def unplugged(route) -> None:  # no route out, as on a machine without network
            if route.request.url.startswith(("file:", "data:", "blob:", "about:")):
                route.continue_()
            else:
                network.append(route.request.url)
                route.abort("internetdisconnected")

        context.route("**/*", unplugged)
        page = context.new_page()
        messages: list[str] = []
        page.on("console", lambda m: messages.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda err: messages.append(f"uncaught: {err}"))
        page.on("requestfailed", lambda r: messages.append(f"failed to load {r.url}: {r.failure}"))
        for doc in PAGES:
            messages.clear()
            network.clear()
            path = _page_file(smoke_book.html, doc)
            if not path.exists():
                seen[doc] = {"missing": str(path)}
                continue
            page.goto(path.as_uri(), wait_until="load")
            probe = page.evaluate(_PROBE)
            shot = SCREENSHOTS / f"{doc.replace('/', '__')}.png"
            page.screenshot(path=str(shot), full_page=True)
            seen[doc] = {**probe, "errors": list(messages), "network": list(network), "screenshot": str(shot)}
        browser.close()
    summary = {"pages": len(seen), "seconds": round(time.perf_counter() - t0, 1),
               "figures": sum(len([i for i in p.get("images", []) if i["caption"] is not None]) for p in seen.values()),
               "images": sum(len(p.get("images", [])) for p in seen.values()),
               "formulas": sum(p.get("formulas", 0) for p in seen.values()),
               "viewport": VIEWPORT,
               "smallest_figure_scale": min((i["width"] / i["natural"] for p in seen.values()
                                             for i in p.get("images", []) if i["caption"] is not None
                                             and i["natural"]), default=None),
               "per_page": {d: {"formulas": p.get("formulas", 0), "images": len(p.get("images", []))}
                            for d, p in seen.items()}}
    (SCREENSHOTS / "summary.json").write_text(json.dumps(summary, indent=1))
    return seen


def _problems(doc: str, seen: dict, chapters: list[str]) -> list[str]:
    if "missing" in seen:
        return [f"page not built: {seen['missing']}"]
    problems = [f"console: {m}" for m in seen["errors"]]
    problems += [f"asked the network for {u}" for u in seen["network"]]
    problems += [f"raw TeX delimiter {d!r} in the text" for d in seen["raw"]]
    problems += [f"formula not typeset: {t!r}" for t in seen["untypeset"]]
    if seen["mathErrors"]:
        problems.append(f"{seen['mathErrors']} formulas with TeX errors")
    for img in seen["images"]:
        if not img["natural"] or not img["width"] or not img["height"]:
            problems.append(f"image not loaded or of zero size: {img['src']}")
        elif img["caption"] is not None:  # a notebook figure
            scale = img["width"] / img["natural"]
            if scale < MIN_FIGURE_SCALE:
                problems.append(f"figure {img['src']} shown at {scale:.0%} of its {img['natural']} px "
                                f"(< {MIN_FIGURE_SCALE:.0%}: labels unreadable)")
            if not img["caption"].startswith(("Figure", "Fig.")):
                problems.append(f"figure {img['src']} has no caption after it (got {img['caption'][:40]!r})")
    problems += [f"scrolls sideways: {s}" for s in seen["scrolls"]]
    linked = {u.split("#")[0] for u in seen["sidebar"]}
    for other in chapters:
        if other != doc and not any(u.endswith(f"/{other}.html") for u in linked):
            problems.append(f"sidebar has no link to {other}")
    if not Path(seen["screenshot"]).stat().st_size:
        problems.append("empty screenshot")
    return problems


@pytest.mark.parametrize("doc", PAGES)
def test_page_as_a_reader_sees_it(reader, doc):
    chapters = [d for d in PAGES if d != PAGES[0]]  # the root page is the sidebar's title link
    problems = _problems(doc, reader[doc], chapters)
    assert not problems, f"{doc}:\n  " + "\n  ".join(problems)


def test_formulas_are_typeset_offline(reader):
    """The introduction's formula (1) and its inline symbols come out as MathJax output."""
    intro = reader["executed/intro_barcodes"]
    assert intro["formulas"] >= 5 and not intro["raw"] and not intro["untypeset"]
    assert sum(p.get("formulas", 0) for p in reader.values()) > 0
