"""Progress bars for long work: tqdm's text bar (``tqdm.auto`` would need ipywidgets in
notebooks), shown unless the caller passes ``enabled=False`` or ``TQDM_DISABLE`` is set (the book
build sets it: progress bars belong in terminals, not on book pages)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm


def progress_bar(iterable: Iterable | None = None, *, enabled: bool = True, **kw: Any) -> tqdm:
    """``tqdm(iterable, **kw)``, disabled when ``enabled`` is false or ``$TQDM_DISABLE`` is set."""
    off = not enabled or os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true", "yes")
    return tqdm(iterable, disable=off, **kw)
