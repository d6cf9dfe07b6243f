"""Sphinx extension: the book reads the same with no network.

- MathJax 3 is served from the book itself: ``book/_vendor/mathjax`` (Apache-2.0, see its
  ``PROVENANCE.txt``) becomes ``_static/mathjax`` in the build and ``mathjax_path`` points there
  instead of a CDN. The folder is added here, not under ``book/_static``, because jupyter-book
  turns every ``*.js`` below ``_static`` into a ``<script>`` tag on every page.
- sphinx-thebe (always loaded by jupyter-book) puts the URL of its bundle into every page even
  when thebe is off; its scripts are dropped. Any other script or stylesheet with a network URL
  fails the build with the page and the URL named.
- A change to ``book/_static`` (the book's CSS and JS) or to the vendored files rewrites every
  page: Sphinx alone copies static files only when some page is rebuilt, and pages name each
  asset with its checksum, so an incremental build would keep serving the old CSS.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

VENDOR = Path(__file__).resolve().parent.parent / "_vendor"
MATHJAX_PATH = "mathjax/tex-chtml-full.js"  # relative to _static; "full" needs no autoloads
_THEBE = ("sphinx-thebe.js", "THEBE_JS_URL")


def _config_inited(app: Sphinx, config: Any) -> None:
    if not (VENDOR / MATHJAX_PATH).is_file():
        raise ExtensionError(f"offline_book: {VENDOR / MATHJAX_PATH} is missing (see PROVENANCE.txt)")
    config.html_static_path.append(str(VENDOR))
    config.mathjax_path = MATHJAX_PATH


def _assets_digest(srcdir: Path) -> str:
    h = hashlib.sha256()
    for folder in (srcdir / "_static", VENDOR):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _env_get_outdated(app: Sphinx, env: Any, added: set, changed: set, removed: set) -> list[str]:
    digest = _assets_digest(Path(app.srcdir))
    if getattr(env, "offline_book_assets", None) == digest:
        return []
    env.offline_book_assets = digest  # pickled with the environment
    return sorted(env.found_docs - added - changed)


def _is_thebe(asset: Any) -> bool:
    text = f"{getattr(asset, 'filename', asset)} {getattr(asset, 'attributes', {}).get('body', '')}"
    return any(marker in text for marker in _THEBE)


def _is_remote(asset: Any) -> bool:
    name = str(getattr(asset, "filename", asset) or "")
    return name.startswith(("http://", "https://", "//"))


def _page_context(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    for key in ("script_files", "css_files"):
        assets = context.get(key)
        if assets is None:
            continue
        assets[:] = [a for a in assets if not _is_thebe(a)]  # the same list the template reads
        remote = [str(getattr(a, "filename", a)) for a in assets if _is_remote(a)]
        if remote:
            raise ExtensionError(f"offline_book: page {pagename!r} would load {remote} from the "
                                 "network; vendor it under book/_vendor instead")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", _config_inited)
    app.connect("env-get-outdated", _env_get_outdated)
    # late priority: after sphinx.ext.mathjax and sphinx-thebe have added their scripts
    app.connect("html-page-context", _page_context, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
