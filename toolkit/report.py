"""What a notebook ran and what it found, saved for the book's reproduction table.

Every figure notebook opens a :class:`Run` right after its parameters and closes it in its last
cell with the measured verdict. The record (JSON, ``results/<notebook>.json``; the folder is
``$TOOLKIT_RESULTS_DIR`` when set) says which figure it reproduces, the paper's claim, the status
derived from the numbers, the data set and scale actually used, the number of runs and the wall
time. ``toolkit.book`` turns all records into the table on the book's index page; nothing in that
table is typed by hand.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from toolkit.cache import REPO_ROOT, atomic_write_text

__all__ = ["Run", "RunRecord", "results_dir", "load_records", "show", "STATUSES"]

#: allowed statuses, from best to worst; "on stand-in": the claim was checked on a stand-in data set
STATUSES = ("reproduced", "partly reproduced", "not reproduced", "on stand-in", "illustration")


def results_dir() -> Path:
    """``$TOOLKIT_RESULTS_DIR`` or ``<repo>/results``."""
    return Path(os.environ.get("TOOLKIT_RESULTS_DIR", REPO_ROOT / "results"))


@dataclass
class RunRecord:
    """One notebook execution, as saved in ``results/<notebook>.json``."""

    notebook: str
    figure: str
    claim: str
    scale: str
    status: str = "not run"
    dataset: str = ""
    runs: str = ""
    wall_time_s: float = 0.0
    compute_s: float | None = None
    finding: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)
    finished_at: str = ""
    paper: str = ""  # the paper's headline number, e.g. "mean bar 0.12 -> 0.03 (2 -> 8 layers)"
    ours: str = ""  # ours beside it, e.g. "0.118 -> 0.181"


class Run:
    """Context of one notebook execution: ``run = tk.Run("fig02_fc_depth", "Fig. 2", claim, scale)``.

    ``run.finish(status=..., dataset=..., runs=..., finding=..., numbers=...)`` writes the record.
    ``status`` must be one of :data:`STATUSES` and should be computed from the measured numbers.
    """

    def __init__(self, notebook: str, figure: str, claim: str, scale: str) -> None:
        if scale not in ("smoke", "cpu", "paper"):
            raise ValueError(f"scale must be 'smoke', 'cpu' or 'paper', got {scale!r}")
        self.record = RunRecord(notebook=notebook, figure=figure, claim=claim, scale=scale)
        self._t0 = time.perf_counter()

    def finish(self, *, status: str, dataset: str, runs: str, finding: str,
               numbers: dict[str, Any] | None = None, compute_s: float | None = None,
               paper: str = "", ours: str = "") -> RunRecord:
        """Save the record and return it. The wall time counts from the Run's creation (short when
        results came from the cache); ``compute_s`` is the time the cached computation took."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        rec = self.record
        rec.status, rec.dataset, rec.runs, rec.finding = status, dataset, runs, finding
        rec.paper, rec.ours = paper, ours
        rec.numbers = _plain(numbers or {})
        rec.wall_time_s = round(time.perf_counter() - self._t0, 1)
        rec.compute_s = None if compute_s is None else round(float(compute_s), 1)
        rec.finished_at = time.strftime("%Y-%m-%d %H:%M:%S")
        path = results_dir() / f"{rec.notebook}.json"
        atomic_write_text(json.dumps(asdict(rec), indent=1, sort_keys=True), path)
        return rec


def _plain(obj: Any) -> Any:
    """Numbers, strings, lists and dicts only (numpy and torch scalars become Python ones)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _plain(obj.tolist())
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot save {type(obj).__name__} in a run record: {obj!r}")


def load_records(folder: Path | None = None) -> dict[str, RunRecord]:
    """All saved records, by notebook name."""
    folder = folder or results_dir()
    out = {}
    for p in sorted(folder.glob("*.json")):
        out[p.stem] = RunRecord(**json.loads(p.read_text()))
    return out


def show(fig, caption: str) -> None:
    """Display a figure followed by its caption (Markdown), then close it.

    Captions are built from the result being plotted, so they state the data set, scale and
    number of runs that actually produced the figure.
    """
    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display

    display(fig)
    plt.close(fig)
    display(Markdown(f"**Figure.** {caption}"))
