"""How the book decides: one rule to compare two levels, one rule for when a bar is zero, and one
rule that turns a chapter's comparisons into its status. Every chapter decides through these
(``book/decides.md`` says the same in prose).

- **Levels** (:class:`Level`): a mean with its error bar (standard error over the group combined
  with each value's own measurement noise) and, for path maxima, whether every maximum converged.
- **Comparing two levels** (:func:`compare`): a tie when they differ by at most
  ``SIGMAS`` (2) combined error bars, ``sqrt(err_a² + err_b²)``; otherwise lower or higher. When
  the side that came out *higher* holds unconverged path maxima (upper bounds), a better path
  could still bring it below the other: the outcome is then marked "(upper bound)" and counts as
  evidence in neither direction.
- **A bar of zero length** (:func:`zero_bar`): within two error bars of zero, or within the dip of
  the paths below their minima (how far a path runs downhill from a "minimum": the precision at
  which the minima are minima at all).
- **A chapter's status** (:func:`status_of` for the comparisons, :func:`decide` for the rest):
  "reproduced" / "partly reproduced" / "not reproduced" only from established comparisons, and
  "undetermined" -- with the reason -- when fewer than all minima or fewer than
  ``MIN_CONVERGED`` (80%) of the bar-ending maxima converged, or when the chapter's convergence
  tolerance exceeds the effect it measures. Chapters that test the method on a function with a
  known answer are a "method check"; smoke runs are an "illustration"; a stand-in data set caps
  every measured status at "on stand-in" (:meth:`toolkit.report.Run.finish`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MIN_CONVERGED", "SIGMAS", "Level", "compare", "decide", "power", "status_of",
           "zero_bar"]

#: two levels differ when they are more than this many combined error bars apart
SIGMAS = 2.0
#: fewest bar-ending maxima that must have converged for a measured status (a fraction)
MIN_CONVERGED = 0.8
#: the outcomes of :func:`compare` that count as evidence
ESTABLISHED = ("lower", "tie", "higher")


@dataclass(frozen=True)
class Level:
    """A mean loss level of a group (e.g. the bar ends of one architecture) with its error bar.

    ``err``: standard error over the group's values combined with their measurement noise
    (``sqrt(s² / k + mean(σ²) / k)``); ``converged``: for path maxima, True when every maximum in
    the group passed the engine's convergence test and False when one did not (they are then
    upper bounds); None for values that are not path maxima (minima, accuracies).
    """

    mean: float
    err: float
    k: int
    converged: bool | None = None

    @classmethod
    def of(cls, values, stds=None, converged=None) -> Level:
        """The level of ``values [k]`` with measurement ``stds [k]`` and per-value convergence
        flags ``converged [k]`` (None: not path maxima)."""
        v = np.asarray(values, dtype=np.float64)
        k = len(v)
        if k == 0:
            return cls(float("nan"), float("nan"), 0, None)
        s2 = v.var(ddof=1) if k > 1 else 0.0
        noise = 0.0 if stds is None else float(np.mean(np.asarray(stds, dtype=np.float64) ** 2))
        conv = None if converged is None else bool(np.all(converged))
        return cls(float(v.mean()), float(np.sqrt(s2 / k + noise / k)), k, conv)

    def text(self, digits: int = 3) -> str:
        """``"0.512 ± 0.031"``, with "(upper bound)" for unconverged path maxima."""
        bound = " (upper bound)" if self.converged is False else ""
        return f"{self.mean:.{digits}f} ± {self.err:.{digits}f}{bound}"


def compare(a: Level, b: Level) -> str:
    """Where ``a`` lies relative to ``b``:

    - ``"tie"``: ``|a - b| <= SIGMAS * sqrt(a.err² + b.err²)``;
    - ``"lower"`` / ``"higher"``: beyond that, and the side that came out higher has converged
      maxima (or is not a path maximum): established;
    - ``"lower (upper bound)"`` / ``"higher (upper bound)"``: beyond that, but the side that came
      out higher holds unconverged maxima, upper bounds that better paths could lower: no
      evidence either way;
    - ``"unresolved"``: a side has no value.
    """
    if a.k == 0 or b.k == 0 or not (np.isfinite(a.mean) and np.isfinite(b.mean)):
        return "unresolved"
    if abs(a.mean - b.mean) <= SIGMAS * float(np.hypot(a.err, b.err)):
        return "tie"
    word = "lower" if a.mean < b.mean else "higher"
    top = b if a.mean < b.mean else a
    return f"{word} (upper bound)" if top.converged is False else word


def power(a: Level, b: Level) -> float:
    """The smallest difference between ``a`` and ``b`` that :func:`compare` would resolve with
    these error bars: ``SIGMAS * sqrt(a.err² + b.err²)``."""
    return SIGMAS * float(np.hypot(a.err, b.err))


def zero_bar(length, err, dip: float = 0.0) -> np.ndarray:
    """``[bars]`` bool: bars within ``SIGMAS`` error bars of zero, or within ``dip`` (how far the
    paths fall below their minima)."""
    length, err = np.asarray(length, dtype=np.float64), np.asarray(err, dtype=np.float64)
    return length <= np.maximum(SIGMAS * err, dip)


def status_of(outcomes) -> str:
    """The status a list of :func:`compare` outcomes supports, from established outcomes only
    ("lower", "tie", "higher"; an upper bound is evidence in neither direction):
    ``"reproduced"`` when every outcome is an established "lower", ``"partly reproduced"`` when at
    least one is and none is an established "higher", ``"undetermined"`` when none is
    established, else ``"not reproduced"`` (ties included: the claimed difference is not
    resolved)."""
    outcomes = list(outcomes)
    est = [o for o in outcomes if o in ESTABLISHED]
    if not est:
        return "undetermined"
    if all(o == "lower" for o in outcomes):
        return "reproduced"
    if "lower" in est and "higher" not in est:
        return "partly reproduced"
    return "not reproduced"


def decide(status: str, *, minima: tuple[int, int] | None = None,
           maxima: tuple[int, int] | None = None, tolerance: float | None = None,
           effect: float | None = None, kind: str = "measurement") -> tuple[str, str]:
    """``(status, reason)``: the measured ``status`` unless the evidence cannot carry it.

    ``kind="illustration"`` returns that. Otherwise the status becomes ``"undetermined"`` when
    ``minima = (converged, total)`` has an unconverged minimum, when ``maxima = (converged,
    total)`` (the bar-ending path maxima) is below ``MIN_CONVERGED``, or when the convergence
    ``tolerance`` exceeds the ``effect`` the chapter measures; ``reason`` says which. Then
    ``kind="method check"`` (the method tested on a function with a known answer, or on a
    reader's model) returns ``"method check"`` when the check passed (``status ==
    "reproduced"``) and the measured status otherwise.
    """
    if kind == "illustration":
        return kind, ""
    if kind not in ("measurement", "method check"):
        raise ValueError(f"kind must be 'measurement', 'method check' or 'illustration', got {kind!r}")
    why = []
    if minima is not None and minima[0] < minima[1]:
        why.append(f"{minima[0]}/{minima[1]} minima converged")
    if maxima is not None and maxima[1] and maxima[0] < MIN_CONVERGED * maxima[1]:
        why.append(f"{maxima[0]}/{maxima[1]} bar-ending path maxima converged (fewer than "
                   f"{MIN_CONVERGED:.0%}: the others are upper bounds)")
    if tolerance is not None and effect is not None and tolerance > effect:
        why.append(f"the convergence tolerance ({tolerance:.2g}) exceeds the effect measured "
                   f"({effect:.2g})")
    if why:
        return "undetermined", "; ".join(why)
    if kind == "method check":  # a check that fails on a known answer is a failure, not a check
        return ("method check", "") if status == "reproduced" else \
            (status, "the method missed the known answer")
    return status, ""
