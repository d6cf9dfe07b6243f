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
from toolkit.scales import check

__all__ = ["Run", "RunRecord", "results_dir", "load_records", "show", "STATUSES", "verdict"]

#: allowed statuses: "on stand-in" is the best a claim checked on a stand-in data set gets, and
#: every smoke-scale run is an "illustration" (seconds of training test the code, not the claim)
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
    paper: str = ""
    ours: str = ""
    measured_status: str = ""


def verdict(*, status: str, dataset: str, runs: str, finding: str, paper: str, ours: str,
            numbers: dict[str, Any] | None = None, compute_s: float | None = None,
            stand_in: bool = False) -> dict[str, Any]:
    """The keyword arguments of :meth:`Run.finish`, checked: what a result's ``verdict()``
    returns. ``status`` is derived from the measured numbers by the result; ``paper`` and ``ours``
    are the headline numbers side by side (e.g. ``"bars shorten from 2 to 8 layers"`` /
    ``"0.118 -> 0.181"``); ``stand_in`` says the data set stands in for the paper's."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    return dict(status=status, dataset=dataset, runs=runs, finding=finding, paper=paper, ours=ours,
                numbers=numbers or {}, compute_s=compute_s, stand_in=stand_in)


class Run:
    """Context of one notebook execution: ``run = tk.Run("fig02_fc_depth", "Fig. 2", claim, scale)``.

    The notebook's last cell is ``run.finish(**res.verdict())``: it saves the record, prints the
    paper's headline beside ours and returns the record.
    """

    def __init__(self, notebook: str, figure: str, claim: str, scale: str) -> None:
        self.record = RunRecord(notebook=notebook, figure=figure, claim=claim, scale=check(scale))
        self._t0 = time.perf_counter()

    def finish(self, *, status: str, dataset: str, runs: str, finding: str, paper: str = "",
               ours: str = "", numbers: dict[str, Any] | None = None,
               compute_s: float | None = None, stand_in: bool = False,
               quiet: bool = False) -> RunRecord:
        """Save the record, print the paper's headline beside ours (unless ``quiet``) and return
        the record. The wall time counts from the Run's creation (short when results came from
        the cache); ``compute_s`` is the time the cached computation took.

        Two rules hold for every notebook, whatever its verdict says: a ``smoke`` run is an
        ``"illustration"``, and a claim checked on a stand-in data set is at best ``"on
        stand-in"``. The status the numbers gave is kept in ``measured_status``.
        """
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        rec = self.record
        rec.measured_status = status
        if rec.scale == "smoke":
            status = "illustration"
        elif stand_in and status in ("reproduced", "partly reproduced"):
            status = "on stand-in"
        rec.status, rec.dataset, rec.runs, rec.finding = status, dataset, runs, finding
        rec.paper, rec.ours = paper, ours
        rec.numbers = _plain(numbers or {})
        rec.wall_time_s = round(time.perf_counter() - self._t0, 1)
        rec.compute_s = None if compute_s is None else round(float(compute_s), 1)
        rec.finished_at = time.strftime("%Y-%m-%d %H:%M:%S")
        path = results_dir() / f"{rec.notebook}.json"
        atomic_write_text(json.dumps(asdict(rec), indent=1, sort_keys=True), path)
        if not quiet:
            print(f"paper: {paper}" if paper else f"paper: {rec.claim}")
            why = "" if status == rec.measured_status else f" (numbers alone: {rec.measured_status})"
            print(f"ours:  {ours or finding} -> {status}{why}")
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
