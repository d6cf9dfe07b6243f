"""What a notebook ran and what it found, saved for the book's reproduction table.

Every figure notebook opens a :class:`Run` right after its parameters and closes it in its last
cell with the measured verdict. The record (JSON) says which figure it reproduces, the paper's
claim, the status derived from the numbers, the data set and scale actually used, the number of
runs and the wall time. ``toolkit.book`` turns the records in ``results/`` (:func:`results_dir`)
into the table on the book's index page; nothing in that table is typed by hand.

Where a record goes (:func:`record_dir`): the table must describe the executed chapter it links
to, so only the book's own execution of a chapter (``python -m toolkit.book execute SRC
book/executed/<stem>.ipynb``, what ``make book`` runs; it sets ``$TOOLKIT_BOOK_CHAPTER``) writes
``results/<notebook>.json``. Any other run -- a reader's ``papermill ... -p scale paper`` -- writes
``results/adhoc/<notebook>.json`` and says so. ``$TOOLKIT_RESULTS_DIR``, when set, takes every
record (tests and timing runs use it).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from toolkit.cache import REPO_ROOT, atomic_write_text
from toolkit.decide import decide
from toolkit.scales import check

__all__ = ["Run", "RunRecord", "results_dir", "record_dir", "load_records", "show", "STATUSES",
           "verdict"]

#: allowed statuses (``book/decides.md``): a measured status ("reproduced", "partly reproduced",
#: "not reproduced") only from converged quantities on the paper's data; "undetermined" when the
#: evidence cannot carry one (:func:`toolkit.decide.decide`); "on stand-in" caps every measured
#: status on a stand-in data set; "method check" for the method tested on a known answer; every
#: smoke-scale run is an "illustration" (seconds of training test the code, not the claim)
STATUSES = ("reproduced", "partly reproduced", "not reproduced", "undetermined", "on stand-in",
            "method check", "illustration")
#: the statuses a measurement can give, which a stand-in caps
MEASURED = ("reproduced", "partly reproduced", "not reproduced")
#: the page that explains the statuses, relative to an executed chapter
DECIDES_PAGE = "../decides.md"


#: set by ``toolkit.book.execute`` to the stem of the book chapter it is executing
BOOK_CHAPTER_ENV = "TOOLKIT_BOOK_CHAPTER"


def results_dir() -> Path:
    """The book's records, read by the reproduction table: ``$TOOLKIT_RESULTS_DIR`` or
    ``<repo>/results``."""
    return Path(os.environ.get("TOOLKIT_RESULTS_DIR", REPO_ROOT / "results"))


def record_dir(notebook: str) -> Path:
    """Where :meth:`Run.finish` saves ``notebook``'s record: ``$TOOLKIT_RESULTS_DIR`` when set;
    :func:`results_dir` while ``toolkit.book`` executes that chapter of the book; otherwise
    ``results_dir() / "adhoc"``, so a one-off run never changes what the book's table says about
    a chapter executed differently."""
    if "TOOLKIT_RESULTS_DIR" in os.environ or os.environ.get(BOOK_CHAPTER_ENV) == notebook:
        return results_dir()
    return results_dir() / "adhoc"


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
    reason: str = ""
    power: str = ""


def verdict(*, status: str, dataset: str, runs: str, finding: str, paper: str, ours: str,
            numbers: dict[str, Any] | None = None, compute_s: float | None = None,
            stand_in: bool = False, scale: str | None = None,
            compared: int | None = None, minima: tuple[int, int] | None = None,
            maxima: tuple[int, int] | None = None, tolerance: float | None = None,
            effect: float | None = None, kind: str = "measurement",
            power: str = "") -> dict[str, Any]:
    """The keyword arguments of :meth:`Run.finish`, checked and decided: what a result's
    ``verdict()`` returns. ``status`` is what the result's comparisons gave
    (:func:`toolkit.decide.status_of`); ``paper`` and ``ours`` are the headline numbers side by
    side (e.g. ``"bars shorten from 2 to 8 layers"`` / ``"0.118 -> 0.181"``); ``stand_in`` says the
    data set stands in for the paper's; ``scale`` is the scale the result was computed at
    (``Run.finish`` refuses a result of another scale than the notebook's and applies the smoke
    rule to it).

    The evidence, for the one status rule (:func:`toolkit.decide.decide`): ``minima`` and
    ``maxima`` as ``(converged, total)`` (the minima; the path maxima that end bars),
    ``tolerance`` (the convergence tolerance) against ``effect`` (the smallest effect the
    verdict rests on), ``kind`` (``"measurement"``, ``"method check"``, ``"illustration"``);
    ``power``: one line stating the smallest difference the chapter could detect.

    A verdict needs the comparisons it is about: ``compared`` is how many the status rests on
    (depth steps of a trend, bars matched, pairs of trajectories...). With ``compared=0`` nothing
    was tested (e.g. ``all([])`` is True), so the status becomes ``"illustration"`` and the
    finding says so; ``None`` means the result did not count.
    """
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    measured, reason = status, ""
    if compared is not None and compared <= 0 and status != "illustration":
        status = "illustration"
        finding = f"{finding} (nothing to compare: the claim is not tested by this run)"
    elif status in MEASURED or status == "undetermined":
        status, reason = decide(status, minima=minima, maxima=maxima, tolerance=tolerance,
                                effect=effect, kind=kind)
    out = dict(status=status, dataset=dataset, runs=runs, finding=finding, paper=paper, ours=ours,
               numbers=numbers or {}, compute_s=compute_s, stand_in=stand_in,
               measured_status=measured, reason=reason, power=power)
    if scale is not None:
        out["scale"] = check(scale)
    return out


class Run:
    """Context of one notebook execution: ``run = tk.Run("fig02_fc_depth", "Fig. 2", claim, scale)``.

    The notebook's last cell is ``run.finish(**res.verdict())``: it saves the record, prints the
    paper's headline beside ours and returns the record.
    """

    def __init__(self, notebook: str, figure: str, claim: str, scale: str) -> None:
        chapter = os.environ.get(BOOK_CHAPTER_ENV)
        if chapter and chapter != notebook:
            raise ValueError(f"this book chapter is {chapter!r} but its Run is named {notebook!r}: "
                             f"name the Run after its notebook, tk.Run({chapter!r}, ...)")
        self.record = RunRecord(notebook=notebook, figure=figure, claim=claim, scale=check(scale))
        self._t0 = time.perf_counter()

    def finish(self, *, status: str, dataset: str, runs: str, finding: str, paper: str = "",
               ours: str = "", numbers: dict[str, Any] | None = None,
               compute_s: float | None = None, stand_in: bool = False,
               scale: str | None = None, measured_status: str | None = None, reason: str = "",
               power: str = "", quiet: bool = False) -> RunRecord:
        """Save the record, print the paper's headline beside ours (unless ``quiet``) and return
        the record. The wall time counts from the Run's creation (short when results came from
        the cache); ``compute_s`` is the time the cached computation took.

        Two rules hold for every notebook, whatever its verdict says: a ``smoke`` run is an
        ``"illustration"``, and on a stand-in data set every measured status -- positive or
        negative -- becomes ``"on stand-in"``. The status the numbers gave is kept in
        ``measured_status``; ``reason`` says why a status is "undetermined"; ``power`` states the
        smallest difference the chapter could detect. ``scale`` (from the result's verdict) must
        be the run's own. The printed verdict links to the page that explains the statuses.
        """
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        rec = self.record
        if scale is not None and scale != rec.scale:
            raise ValueError(f"the result was computed at scale {scale!r} but this run is at scale "
                             f"{rec.scale!r}: build its config from the notebook's scale parameter")
        rec.measured_status = measured_status or status
        rec.reason, rec.power = reason, power
        if rec.scale == "smoke":
            status = "illustration"
        elif stand_in and status in MEASURED:
            status = "on stand-in"
        rec.status, rec.dataset, rec.runs, rec.finding = status, dataset, runs, finding
        rec.paper, rec.ours = paper, ours
        rec.numbers = _plain(numbers or {})
        rec.wall_time_s = round(time.perf_counter() - self._t0, 1)
        rec.compute_s = None if compute_s is None else round(float(compute_s), 1)
        rec.finished_at = time.strftime("%Y-%m-%d %H:%M:%S")
        folder = record_dir(rec.notebook)
        path = folder / f"{rec.notebook}.json"
        atomic_write_text(json.dumps(asdict(rec), indent=1, sort_keys=True), path)
        if folder != results_dir():  # say so: a reader looking for it in results/ would not find it
            print(f"record saved to {path} (not the book's table: only `make book` writes "
                  f"{results_dir()}/)")
        if not quiet:
            print(f"paper: {paper}" if paper else f"paper: {rec.claim}")
            why = "" if status == rec.measured_status else f" (numbers alone: {rec.measured_status})"
            print(f"ours:  {ours or finding} -> {status}{why}")
            if reason:
                print(f"undetermined because: {reason}")
            if power:
                print(f"power: {power}")
            _link(f"How this verdict was decided: [How this book decides]({DECIDES_PAGE}).")
        return rec


def _link(text: str) -> None:
    """``text`` as Markdown in a notebook (a link the book resolves), as plain text elsewhere."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - IPython is a dependency of papermill
        print(text)
        return
    if get_ipython() is None:
        print(text)
    else:
        display(Markdown(text))


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
        try:
            out[p.stem] = RunRecord(**json.loads(p.read_text()))
        except (ValueError, TypeError, OSError) as err:
            raise ValueError(f"run record {p} cannot be read ({type(err).__name__}: {err}); delete "
                             f"it and book/executed/{p.stem}.ipynb, then run `make book` again"
                             ) from None
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
