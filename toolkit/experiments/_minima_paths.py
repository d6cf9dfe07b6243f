"""Shared by the experiments that join trained minima by optimised paths (Fig. 4, Fig. 8,
Tables 1-2): optimise one path per pair, evaluate every path densely on the minima's training
set, build the barcode, and compare saddle levels honestly.

Two rules every verdict built on these pieces follows:

- a path maximum is an **upper bound** of the saddle it estimates; when the path engine reports
  that a path has not converged (``PathSet.status``: ``"budget"``, the epochs ran out before its
  maximum stopped falling), a better path could still lower it, so a comparison in which the
  *higher* side is unconverged is unresolved, not a finding;
- two levels whose difference is smaller than their combined error bars are a **tie**.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from toolkit.landscape import evaluation_barcode, join_minima
from toolkit.paths import PathConfig
from toolkit.topology import Barcode

__all__ = ["Level", "PathPlan", "PathsOutcome", "compare", "convergence_summary", "describe_data",
           "paths_between", "status_of"]


@dataclass(frozen=True)
class PathPlan:
    """How the paths of one unit are optimised and evaluated (hashed into the unit's cache key).

    ``path``: the optimiser's settings; ``between``: points evaluated on each straight piece
    between optimised points (paper §3: the straight pieces are part of the path); ``bootstrap``:
    resamples of the data chunks for each maximum's error bar; ``eval_chunk``: data chunk size of
    the evaluation (the unit of the bootstrap and of BatchNorm statistics); ``resolution`` and
    ``max_rounds``: the evaluation's adaptive refinement (``tk.evaluate_paths``) -- a maximum is
    certified once no interval that could hide a higher one is wider than ``resolution``.
    """

    path: PathConfig
    between: int
    bootstrap: int
    eval_chunk: int
    resolution: float
    max_rounds: int

    def describe(self) -> str:
        """One line: points, epochs, optimiser, insertion, evaluation."""
        p = self.path
        ins = (f"insertion '{p.insert_criterion}' every {p.insert_every} epochs"
               if p.insert_criterion else "no insertion")
        return (f"{p.n_points} points, at most {p.epochs} epochs of {p.optimizer} (lr {p.lr}, "
                f"batch {p.batch_size}, L2 {p.weight_decay}) with projected steps -- a path stops "
                f"when its maximum has converged, not before {p.min_epochs} epochs; {ins}; "
                f"evaluated on all the minima's training images with {self.between} extra "
                f"point(s) per straight piece, refined to {self.resolution:g} of the path (at most "
                f"{self.max_rounds} rounds) to certify each maximum, {self.bootstrap} bootstrap "
                f"resamples of {self.eval_chunk}-image chunks")


@dataclass
class PathsOutcome:
    """Paths between ``n`` minima, evaluated.

    ``pairs [P, 2]``; ``min_losses [n]``: each minimum's training loss measured by the same
    evaluation as the paths (BatchNorm statistics recomputed); ``saddles [P]``: path maxima;
    ``saddle_std [P]``: their bootstrap standard deviation over data chunks; ``status [P]``: the
    engine's per-path verdict (``"converged"``, ``"pruned"``, ``"budget"``), ``converged [P]``
    its boolean, ``stopped_epoch [P]`` when each path stopped (-1: ran the whole budget);
    ``certified [P]``: the dense evaluation's refinement left no interval that could hide a higher
    maximum; ``n_points [P]``: points per path
    at the end; ``endpoint_gap``: largest difference between ``min_losses`` and the minima
    store's losses; ``seconds``: optimisation + evaluation.
    """

    pairs: np.ndarray
    min_losses: np.ndarray
    saddles: np.ndarray
    saddle_std: np.ndarray
    status: list
    converged: np.ndarray
    stopped_epoch: np.ndarray
    certified: np.ndarray
    bn: bool
    n_points: np.ndarray
    endpoint_gap: float
    barcode: Barcode
    seconds: float

    def bar_paths(self) -> np.ndarray:
        """Index into ``pairs`` of the path ending each finite bar (``barcode.finite()`` order)."""
        index = {tuple(p): k for k, p in enumerate(self.pairs.tolist())}
        return np.array([index[tuple(k)] for k in self.barcode.finite().killer], dtype=np.int64)

    def at_endpoint(self, tol: float = 1e-6) -> np.ndarray:
        """``[P]`` bool: paths whose maximum is one of their two minima (no barrier found, e.g.
        when a "minimum" is not converged and the path descends from it)."""
        ends = np.maximum(self.min_losses[self.pairs[:, 0]], self.min_losses[self.pairs[:, 1]])
        return self.saddles <= ends + tol

    def convergence_note(self) -> str:
        """How many maxima converged; the others are upper bounds."""
        bad = int((~self.converged).sum())
        cert = int((~self.certified).sum())
        return (f"{len(self.converged) - bad}/{len(self.converged)} paths converged"
                + (f" ({bad} ran out of budget: upper bounds)" if bad else "")
                + (f", {cert} maxima not certified by refinement" if cert else ""))

    def sanity(self, tol: float = 1e-4, bn_rtol: float = 0.02) -> tuple[bool, str]:
        """Ends reproduce the stored minima within ``tol`` (with BatchNorm, within ``tol +
        bn_rtol`` x the largest minimum's loss: the minima store estimates the statistics from one
        chunk of up to 4,096 images, the paths from ``eval_chunk``-image chunks), maxima lie above
        both ends, and no minimum is flagged. Returns (passed, one line)."""
        lo = np.maximum(self.min_losses[self.pairs[:, 0]], self.min_losses[self.pairs[:, 1]])
        above = bool((self.saddles >= lo - 1e-6).all())
        limit = tol + (bn_rtol * float(self.min_losses.max()) if self.bn else 0.0)
        ok = self.endpoint_gap <= limit and above and self.barcode.flagged.size == 0
        return ok, (f"endpoint gap {self.endpoint_gap:.1e}, maxima >= endpoints: {above}, flagged "
                    f"minima: {self.barcode.flagged.size} -> {'ok' if ok else 'FAILED'}")


def paths_between(model: torch.nn.Module, data, flat: torch.Tensor, stored_losses: np.ndarray,
                  plan: PathPlan, *, seed: int, device: str = "auto", progress: bool = True,
                  pairs=None) -> PathsOutcome:
    """Optimise a path between every pair of minima ``flat [n, D]`` of ``model`` on ``data``
    (``data.x``, ``data.y``: the minima's own training set), evaluate each on the same data and
    build the barcode (uncached; the caller caches the unit). ``stored_losses [n]`` are the minima
    store's losses, used for the endpoint check."""
    t0 = time.perf_counter()
    ps, ev = join_minima(model, data, flat, plan.path, pairs=pairs, seed=seed,
                         bootstrap=plan.bootstrap, bootstrap_seed=seed, eval_chunk=plan.eval_chunk,
                         device=device, progress=progress, between=plan.between,
                         resolution=plan.resolution, max_rounds=plan.max_rounds)
    min_losses, barcode = evaluation_barcode(ev, len(flat))
    status = list(getattr(ps, "status", ["budget"] * len(ps)))
    return PathsOutcome(
        pairs=ps.pairs.numpy(), min_losses=min_losses,
        saddles=ev.max_loss.double().cpu().numpy(), saddle_std=ev.max_loss_std.double().cpu().numpy(),
        status=status, converged=np.array([s == "converged" for s in status], dtype=bool),
        stopped_epoch=np.asarray(ps.stopped_epoch.cpu(), dtype=np.int64),
        certified=np.asarray(ev.certified.cpu(), dtype=bool),
        bn=any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()),
        n_points=ps.n_points.numpy(),
        endpoint_gap=float(np.abs(min_losses - np.asarray(stored_losses)).max()),
        barcode=barcode, seconds=time.perf_counter() - t0)


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
    converged: bool | None

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


def compare(lower_expected: Level, higher_expected: Level) -> str:
    """Whether ``lower_expected`` is below ``higher_expected``:

    - ``"tie"``: the difference is within the combined error bars;
    - ``"lower"`` / ``"higher"``: beyond the error bars, and the side that came out higher has
      converged maxima (or no convergence test): the ordering of the saddles is established;
    - ``"lower (upper bounds)"`` / ``"higher (upper bounds)"``: beyond the error bars, but the side
      that came out higher has unconverged maxima -- upper bounds that better paths could lower
      below the other side: the ordering holds for the maxima found at equal budget, not
      (yet) for the saddles;
    - ``"unresolved"``: a side has no value.
    """
    a, b = lower_expected, higher_expected
    if a.k == 0 or b.k == 0 or not (np.isfinite(a.mean) and np.isfinite(b.mean)):
        return "unresolved"
    if abs(a.mean - b.mean) <= a.err + b.err:
        return "tie"
    word = "lower" if a.mean < b.mean else "higher"
    top = b if a.mean < b.mean else a
    return f"{word} (upper bounds)" if top.converged is False else word


def status_of(outcomes: list[str]) -> str:
    """The status a list of :func:`compare` outcomes supports: ``"reproduced"`` when every one is
    ``"lower"`` (established), ``"partly reproduced"`` when at least one is lower (established or
    at equal budget) and none is an established ``"higher"``, else ``"not reproduced"`` (all
    ties included: the claimed difference is not resolved)."""
    if outcomes and all(o == "lower" for o in outcomes):
        return "reproduced"
    if any(o.startswith("lower") for o in outcomes) and "higher" not in outcomes:
        return "partly reproduced"
    return "not reproduced"


def convergence_summary(outcomes) -> tuple[str, list[int]]:
    """``("; paths converged 3/15 (...)", [3, 15])`` over several :class:`PathsOutcome`."""
    outcomes = list(outcomes)
    conv = sum(int(o.converged.sum()) for o in outcomes)
    total = sum(len(o.converged) for o in outcomes)
    note = f"; paths converged {conv}/{total}"
    if conv < total:
        note += f" ({total - conv} ran out of budget: their maxima are upper bounds)"
    return note, [conv, total]


def describe_data(ms, *, what: str = "minima, paths and evaluation") -> str:
    """The data a minima set actually used, e.g. ``"fashion-mnist, 500 training images (STAND-IN
    for cifar10: ...)"``."""
    n = len(ms.train_data.y)
    text = f"{ms.dataset}, {n:,} training images for {what}, {len(ms.test_data.y):,} test images"
    if ms.stand_in_note:
        text += f" (STAND-IN for {ms.config['stand_in_for']}: {ms.stand_in_note})"
    return text
