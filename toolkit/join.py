"""Minima joined by paths: the one place every chapter and ``tk.landscape`` do it.

A :class:`JoinPlan` says how: the path optimiser's settings (``tk.PathConfig``; Fig. 2's protocol
is :func:`protocol_paths`) and the certified evaluation (points per straight piece, refinement,
bootstrap). :func:`join` optimises a path between every pair of trained minima on their own
training set (``tk.optimize_paths``), evaluates every path on that set with certified maxima and a
bootstrap over data chunks (``tk.evaluate_paths``), and returns one :class:`Joined`: the minima's
losses at the paths' ends, the maxima with their error bars, every path's status, the barcode,
the dips and the sanity checks. :func:`joined` does the same through the cache, keyed by the
content of the minima (weights and buffers), their data, the plan, the path run and
``ENGINE_VERSION``; an interrupted optimisation resumes from its checkpoint.

Which paths end bars (:func:`bar_barcode`): every path except the pruned ones (a pruned path
could no longer change the barcode by more than the pruning tolerance). Comparisons of levels,
zero bars and statuses are :mod:`toolkit.decide`'s.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from toolkit import cache
from toolkit.decide import Level, zero_bar
from toolkit.objectives import ModuleObjective
from toolkit.paths import (
    ENGINE_VERSION,
    PathConfig,
    PathEvaluation,
    PathSet,
    evaluate_paths,
    optimize_paths,
)
from toolkit.seeds import child_seed
from toolkit.topology import Barcode, minima_barcode

__all__ = ["JoinPlan", "Joined", "bar_barcode", "evidence", "is_joined", "join", "join_key",
           "joined", "protocol_paths"]

_VERSION = f"1+engine{ENGINE_VERSION}"


def protocol_paths(s: Mapping, *, batch_size: int, track_subset: int | None) -> PathConfig:
    """Fig. 2's path protocol from a scale row ``s`` (``n_points``, ``path_epochs``,
    ``cycle_epochs``, ``insert_every``, ``min_epochs``, ``conv_window``, ``conv_atol``): projected
    Adam (lr 3e-3, no L2 term), Garipov's schedule restarted every cycle with the maxima tracked
    and tested at cycle ends (5% of the barrier + ``conv_atol``), loss-based insertion, pruning,
    back-off on non-finite values. Used by Fig. 2 and ``tk.landscape``."""
    return PathConfig(n_points=s["n_points"], epochs=s["path_epochs"], batch_size=batch_size,
                      optimizer="adam", lr=3e-3, weight_decay=0.0, lr_schedule="garipov",
                      cycle_epochs=s["cycle_epochs"], track_every=s["cycle_epochs"],
                      insert_every=s["insert_every"], insert_criterion="loss",
                      min_epochs=s["min_epochs"], conv_window=s["conv_window"], conv_rtol=0.05,
                      conv_atol=s["conv_atol"], track_subset=track_subset, prune=True,
                      on_nonfinite="backoff")


@dataclass(frozen=True)
class JoinPlan:
    """How minima are joined (hashed into the cache key).

    ``path``: the optimiser's settings; ``between``: points evaluated on each straight piece
    between optimised points (paper §3: the straight pieces are part of the path); ``bootstrap``:
    resamples of the data chunks for each maximum's error bar; ``eval_chunk``: data chunk size of
    the evaluation (the unit of the bootstrap and of BatchNorm statistics); ``resolution`` and
    ``max_rounds``: the evaluation's adaptive refinement (``tk.evaluate_paths``) -- a maximum is
    certified once no interval that could hide a higher one is wider than ``resolution``.
    """

    path: PathConfig
    between: int = 3
    bootstrap: int = 100
    eval_chunk: int = 250
    resolution: float = 2e-3
    max_rounds: int = 16

    def describe(self) -> str:
        """One line: points, epochs, optimiser, schedule, convergence test, evaluation."""
        p = self.path
        ins = (f"insertion '{p.insert_criterion}' every {p.insert_every} epochs"
               if p.insert_criterion else "no insertion")
        cycle = f" restarted every {p.cycle_epochs} epochs" if p.cycle_epochs else ""
        return (f"{p.n_points} points, at most {p.epochs} epochs of projected {p.optimizer} (lr "
                f"{p.lr}, {p.lr_schedule} schedule{cycle}, batch {p.batch_size}, L2 "
                f"{p.weight_decay}) on the minima's training set; {ins}; convergence test every "
                f"{p.track_every} epochs (no new low by more than {p.conv_rtol:.0%} of the barrier "
                f"+ {p.conv_atol:g} over {p.conv_window} tests, not before epoch {p.min_epochs}); "
                f"pruning {p.prune}; evaluated on the same images with {self.between} extra "
                f"point(s) per straight piece, refined to {self.resolution:g} of the path (at most "
                f"{self.max_rounds} rounds) to certify each maximum, {self.bootstrap} bootstrap "
                f"resamples of {self.eval_chunk}-image chunks")


def bar_barcode(ev: PathEvaluation, n: int) -> tuple[np.ndarray, Barcode]:
    """``(min_losses [n], barcode)``: the losses of the ``n`` minima as the paths' ends measure
    them, and the barcode of those minima with the maxima of every path that was not pruned --
    the one rule for which paths end bars. Saddles within 1e-6 below an end's loss count as at
    it: two evaluations of one minimum in different batches of points differ by ~1e-10."""
    losses = ev.minima_losses()
    missing = [i for i in range(n) if i not in losses]
    if missing:
        raise ValueError(f"minima {missing} are the end of no path: evaluate paths from every minimum")
    min_losses = np.array([losses[i] for i in range(n)])
    return min_losses, minima_barcode(min_losses, ev.saddles(exclude=("pruned",)), atol=1e-6)


@dataclass
class Joined:
    """``n`` minima joined by ``P`` paths, evaluated: the one result of every join.

    Minima ``[n]``: ``min_losses`` measured by the paths' own evaluation (BatchNorm statistics
    recomputed), ``stored_losses`` as the minima store measured them. Paths ``[P]``: ``pairs
    [P, 2]``, certified ``saddles`` with their data-bootstrap ``saddle_std``, ``status``
    (``"converged"``, ``"pruned"``, ``"budget"`` = upper bound), ``certified``, ``stopped_epoch``
    (-1: ran the whole budget), ``n_points``, ``dips`` (how far each path falls below its lower
    end); ``max_history [R, P]`` (tracked maxima) at ``track_steps [R]`` optimisation steps;
    ``point_steps`` (compute spent); ``barcode`` (:func:`bar_barcode`); ``bn``: the network has
    BatchNorm; ``seconds``: optimisation + evaluation; ``paths``/``evaluation``: the
    ``PathSet``/``PathEvaluation`` when kept (``keep=True``).
    """

    pairs: np.ndarray
    min_losses: np.ndarray
    stored_losses: np.ndarray
    saddles: np.ndarray
    saddle_std: np.ndarray
    status: list
    certified: np.ndarray
    stopped_epoch: np.ndarray
    n_points: np.ndarray
    dips: np.ndarray
    max_history: np.ndarray
    track_steps: np.ndarray
    point_steps: int
    barcode: Barcode
    bn: bool
    seconds: float
    paths: PathSet | None = field(default=None, repr=False)
    evaluation: PathEvaluation | None = field(default=None, repr=False)

    @property
    def converged(self) -> np.ndarray:
        """``[P]`` bool: the path passed the engine's convergence test."""
        return np.array([s == "converged" for s in self.status], dtype=bool)

    @property
    def endpoint_gap(self) -> float:
        """Largest difference between the paths' ends and the minima store's losses."""
        return float(np.abs(self.min_losses - self.stored_losses).max())

    def bar_paths(self) -> np.ndarray:
        """Index into ``pairs`` of the path ending each finite bar (``barcode.finite()`` order)."""
        index = {tuple(p): k for k, p in enumerate(self.pairs.tolist())}
        return np.array([index[tuple(k)] for k in self.barcode.finite().killer], dtype=np.int64)

    def bars(self) -> tuple[np.ndarray, np.ndarray]:
        """Lengths of the finite bars and their error bars (the bootstrap of each ending maximum)."""
        fin = self.barcode.finite()
        return fin.deaths - fin.births, self.saddle_std[self.bar_paths()]

    def bar_maxima(self) -> tuple[int, int]:
        """``(good, bars)``: bar-ending maxima from converged paths and certified, of all bars."""
        k = self.bar_paths()
        return int((self.converged[k] & self.certified[k]).sum()), len(k)

    def saddle_level(self) -> Level:
        """Mean end of the finite bars (the saddles) with its error bar; converged only when
        every bar-ending path is."""
        k = self.bar_paths()
        return Level.of(self.saddles[k], self.saddle_std[k], self.converged[k])

    def minima_level(self) -> Level:
        """Mean loss of the minima at the paths' ends with its standard error."""
        return Level.of(self.min_losses)

    def dip(self) -> float:
        """The largest dip of a path below its lower end: the precision at which the minima are
        minima at all (a path running downhill from a "minimum" starts its bar too high)."""
        return float(self.dips.max()) if len(self.dips) else 0.0

    def zero_bars(self) -> bool:
        """Every finite bar is zero by :func:`toolkit.decide.zero_bar` (within two error bars, or
        within the paths' dip): the minima are connected without a barrier at this precision."""
        length, err = self.bars()
        return bool(zero_bar(length, err, self.dip()).all())

    def at_endpoint(self, tol: float = 1e-6) -> np.ndarray:
        """``[P]`` bool: paths whose maximum is one of their two minima (no barrier found)."""
        ends = np.maximum(self.min_losses[self.pairs[:, 0]], self.min_losses[self.pairs[:, 1]])
        return self.saddles <= ends + tol

    def convergence_note(self) -> str:
        """How many paths converged; the others are upper bounds."""
        conv, total = int(self.converged.sum()), len(self.status)
        pruned = self.status.count("pruned")
        cert = int((~self.certified).sum())
        bad = total - conv - pruned
        return (f"{conv}/{total} paths converged" + (f", {pruned} pruned" if pruned else "")
                + (f" ({bad} ran out of budget: upper bounds)" if bad else "")
                + (f", {cert} maxima not certified by refinement" if cert else ""))

    def sanity(self, tol: float = 1e-4, bn_rtol: float = 0.02) -> tuple[bool, str]:
        """The paths' ends reproduce the stored minima within ``tol`` (with BatchNorm, within
        ``tol + bn_rtol`` x the largest minimum's loss: the minima store estimates the statistics
        from one chunk of up to 4,096 images, the paths from ``eval_chunk``-image chunks), every
        maximum lies above both its ends, and no minimum is flagged. Returns (passed, one line)."""
        lo = np.maximum(self.min_losses[self.pairs[:, 0]], self.min_losses[self.pairs[:, 1]])
        above = bool((self.saddles >= lo - 1e-6).all())
        limit = tol + (bn_rtol * float(self.min_losses.max()) if self.bn else 0.0)
        ok = self.endpoint_gap <= limit and above and self.barcode.flagged.size == 0
        return ok, (f"endpoint gap {self.endpoint_gap:.1e}, maxima >= endpoints: {above}, flagged "
                    f"minima: {self.barcode.flagged.size} -> {'ok' if ok else 'FAILED'}")

    def histories(self, label: str = "") -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{"<label>m0-m1": (optimisation steps, tracked maximum)}`` per path, for
        ``tk.plots.plot_path_convergence``."""
        out = {}
        for p, (i, j) in enumerate(self.pairs.tolist()):
            keep = ~np.isnan(self.max_history[:, p])
            out[f"{label}m{i}-m{j}"] = (self.track_steps[keep], self.max_history[keep, p])
        return out


def _is_bn(model: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


def join(model: torch.nn.Module, data: Any, flat: torch.Tensor, stored_losses, plan: JoinPlan,
         *, seed: int = 0, run: int = 0, pairs: Any = None, device: str = "auto",
         progress: bool = True, checkpoint: Any = None, keep: bool = False) -> Joined:
    """Join the minima ``flat [n, D]`` of ``model`` (``stored_losses [n]``: the minima store's
    losses, for the endpoint check) by a path between every pair (or ``pairs``), optimised with
    ``plan`` on ``data`` (``data.x``, ``data.y``: the minima's own training set) and evaluated on
    the same data; uncached (:func:`joined` caches). Path run ``run`` draws its minibatches from
    ``child_seed(seed, "path_run", run)`` and its bootstrap from ``child_seed(seed, "bootstrap",
    run)``. ``checkpoint``: a file to resume the optimisation from; ``keep``: keep the
    ``PathSet`` and ``PathEvaluation`` in the result."""
    t0 = time.perf_counter()
    obj = ModuleObjective(model, data.x, data.y, eval_chunk=plan.eval_chunk)
    ps = optimize_paths(obj, flat, pairs, config=plan.path, device=device, progress=progress,
                        seed=child_seed(seed, "path_run", run), checkpoint=checkpoint,
                        resume=checkpoint is not None)
    ev = evaluate_paths(obj, ps, between=plan.between, resolution=plan.resolution,
                        max_rounds=plan.max_rounds, bootstrap=plan.bootstrap,
                        seed=child_seed(seed, "bootstrap", run), device=device, progress=progress)
    min_losses, barcode = bar_barcode(ev, len(flat))
    spe = -(-len(data.y) // plan.path.batch_size)  # optimisation steps per epoch
    return Joined(
        pairs=ps.pairs.numpy(), min_losses=min_losses,
        stored_losses=np.asarray(stored_losses, dtype=np.float64),
        saddles=ev.max_loss.double().cpu().numpy(), saddle_std=ev.max_loss_std.double().cpu().numpy(),
        status=list(ps.status), certified=np.asarray(ev.certified.cpu(), dtype=bool),
        stopped_epoch=np.asarray(ps.stopped_epoch.cpu(), dtype=np.int64),
        n_points=ps.n_points.numpy(), dips=ev.dips().double().cpu().numpy(),
        max_history=ps.max_history.double().cpu().numpy(),
        track_steps=np.array([e * spe for e in ps.track_epochs], dtype=np.int64),
        point_steps=int(ps.point_steps), barcode=barcode, bn=_is_bn(model),
        seconds=time.perf_counter() - t0, paths=ps if keep else None, evaluation=ev if keep else None)


def join_key(flat: torch.Tensor, buffers: Mapping | None, data_hash: str, plan: JoinPlan, *,
             seed: int, run: int, keep: bool) -> dict[str, Any]:
    """The cache key of a join: the minima's content (weights and buffers), their data's hash,
    the plan, the seed and path run (``ENGINE_VERSION`` is in the version)."""
    return {"minima": flat, "buffers": dict(buffers or {}), "data_hash": data_hash, "plan": plan,
            "seed": seed, "run": run, "keep": keep}


def joined(ms: Any, plan: JoinPlan, *, seed: int = 0, run: int = 0, device: str = "auto",
           progress: bool = True, keep: bool = False, refresh: bool = False) -> Joined:
    """:func:`join` for a minima set ``ms`` (a ``tk.minima`` result: ``model``, ``flat``,
    ``buffers``, ``train_data``, ``train_loss``, ``config["data_hash"]``), cached under
    :func:`join_key` and resumable from a checkpoint."""
    key = join_key(ms.flat, ms.buffers, ms.config["data_hash"], plan, seed=seed, run=run, keep=keep)
    ckpt = cache.cache_path("join-ckpt", key, _VERSION)

    def compute() -> Joined:
        return join(ms.model, ms.train_data, ms.flat, ms.train_loss, plan, seed=seed, run=run,
                    device=device, progress=progress, checkpoint=ckpt, keep=keep)

    out = cache.cached("join", key, compute, version=_VERSION, refresh=refresh)
    with contextlib.suppress(OSError):  # gone already, or a read-only cache
        ckpt.unlink()
    return out


def is_joined(ms: Any, plan: JoinPlan, *, seed: int = 0, run: int = 0, keep: bool = False) -> bool:
    """Whether :func:`joined` would load this join from the cache."""
    key = join_key(ms.flat, ms.buffers, ms.config["data_hash"], plan, seed=seed, run=run, keep=keep)
    return cache.cache_path("join", key, _VERSION).exists()


def evidence(joins, minima_converged=None) -> dict[str, Any]:
    """What the status rule (:func:`toolkit.decide.decide`) needs from several joins:
    ``maxima`` = (bar-ending maxima converged and certified, bars), ``minima`` = (converged,
    total) from ``minima_converged`` (arrays of flags, one per join) when given, and ``note``,
    one line for the page (``"; paths converged 3/15 (...)"``)."""
    joins = list(joins)
    conv = sum(int(j.converged.sum()) for j in joins)
    total = sum(len(j.status) for j in joins)
    bars = [j.bar_maxima() for j in joins]
    good, nbars = sum(b[0] for b in bars), sum(b[1] for b in bars)
    note = (f"; paths converged {conv}/{total}, bar-ending maxima converged and certified "
            f"{good}/{nbars}")
    if good < nbars:
        note += " (the others are upper bounds)"
    out: dict[str, Any] = {"maxima": (good, nbars), "note": note}
    if minima_converged is not None:
        flags = [np.asarray(f, dtype=bool) for f in minima_converged]
        out["minima"] = (sum(int(f.sum()) for f in flags), sum(len(f) for f in flags))
    return out
