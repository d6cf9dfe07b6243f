"""Private: the configuration and the run of :func:`toolkit.paths.optimize_paths` (the loop
skeleton of :mod:`toolkit._loop` around the engine of :mod:`toolkit.paths._engine`), with the
convergence test and the pruning of pairs that can no longer change the barcode
(:mod:`toolkit.paths._track`)."""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Literal

import torch
from torch import Tensor

from toolkit import _loop, seeds
from toolkit._device import resolve_device
from toolkit.cache import fingerprint, to_cpu, to_device
from toolkit.objectives import Objective
from toolkit.paths._engine import Layout, PathState, path_step, stop_paths
from toolkit.paths._geometry import choose_insertions, node_and_midpoint_losses, resample
from toolkit.paths._pairs import check_pairs
from toolkit.paths._track import Tracker
from toolkit.schedules import check_schedule, multiplier

__all__ = ["PathConfig", "PathSet", "optimize_paths"]


@dataclasses.dataclass
class PathConfig:
    """Settings of :func:`optimize_paths`. Values the paper lost in extraction are ours (marked).

    Optimisation
        n_points: points per path including both minima (paper §3.1: 19).
        epochs: the budget, in passes over the training set (App. C: 300 on CIFAR-10, 200 on
            SVHN); converged paths stop earlier and the run ends when none is left.
        lr, momentum, weight_decay: base learning rate, SGD momentum and the paper's L2 term on
            every point (values lost in App. C; ours). The momentum buffer is projected on the
            current normal space every step.
        batch_size: minibatch size (App. C: 150 on CIFAR-10).
        lr_schedule: one of :data:`toolkit.schedules.SCHEDULES` (default Garipov et al.'s).
        cycle_epochs: restart the schedule every this many epochs (warm restarts; ``None``: one
            schedule over the whole budget). Ours: with ``track_every = cycle_epochs`` the
            convergence test compares maxima at the ends of whole cycles, so a maximum that
            only stopped moving because the rate annealed is not called converged.
        optimizer: ``"sgd"`` (the paper's) or ``"adam"`` (its *step* is projected; needed on the
            plateaus of deep FC nets, see METHOD.md).
    Geometry (string method; ours)
        reparam_every: steps between resamplings of every path to equal arc-length spacing
            (folds -- points that reverse the path's direction -- are removed first).
        density: ``0`` spaces points equally in arc length; ``c > 0`` weights arc length by
            ``1 + c ×`` the normalised loss, gathering points near the saddle.
        max_step: a point moves at most this fraction of half the distance between its two
            neighbours per step (a trust region: no jump past a neighbour, whatever the lr).
        fused: compile the update into fused kernels with ``torch.compile`` (falls back to the
            eager update, silently, where no compiler works); see ``benchmarks/paths.py``.
    Insertion (Alg. 4; thresholds lost, ours)
        insert_every: epochs between insertion rounds (paper: 25), never after the last epoch.
        insert_criterion: ``"distance"`` (App. C's choice): a segment longer than
            ``insert_distance_ratio`` × the initial spacing gets a point; ``"loss"``: a segment whose
            midpoint loss (``insert_loss_batches`` minibatches) exceeds both ends by more than
            ``insert_loss_tol`` × the path's loss range gets one; ``None``: no insertion.
        insert_max: at most this many points per path per round; max_points: per path
            (default 4 × ``n_points``).
    Convergence (ours; see :mod:`toolkit.paths._track`)
        track_every: epochs between measurements of every path's maximum on a fixed subset of
            ``track_subset`` training samples (points and segment midpoints); each path keeps
            the snapshot with its lowest maximum so far, and stops (or ends) at that snapshot.
        conv_window, conv_rtol, conv_atol: a path has converged when its last ``conv_window``
            measurements brought no new low and stayed within ``conv_rtol`` × its barrier above
            the higher minimum + ``conv_atol`` of each other; never before ``min_epochs``.
        stop_converged: freeze converged paths (their compute goes to the others; the run ends
            when every path has stopped).
        prune: also stop paths that can no longer change the barcode: their two minima are
            already joined, through converged paths, at or below the pair's higher minimum.
    Robustness
        on_nonfinite: ``"raise"`` (error naming path and point) or ``"backoff"`` (return to the
            last healthy check, multiply the learning rate by ``backoff_factor``; gives up below
            ``min_lr_scale``). check_every: steps between checks (host synchronisations).
        checkpoint_every: steps between checkpoints when a checkpoint path is given.
        steps_per_epoch: override the objective's number of minibatches per epoch.
    """

    n_points: int = 19
    epochs: int = 300
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 150
    lr_schedule: str = "garipov"
    cycle_epochs: int | None = None
    optimizer: Literal["sgd", "adam"] = "sgd"
    reparam_every: int = 10
    density: float = 0.0
    max_step: float = 0.5
    fused: bool = False
    insert_every: int = 25
    insert_criterion: Literal["distance", "loss"] | None = "distance"
    insert_distance_ratio: float = 1.5
    insert_loss_tol: float = 0.05
    insert_loss_batches: int = 4
    insert_max: int = 4
    max_points: int | None = None
    track_every: int = 1
    track_subset: int | None = 2048
    conv_window: int = 5
    conv_rtol: float = 0.01
    conv_atol: float = 1e-4
    min_epochs: int = 10
    stop_converged: bool = True
    prune: bool = False
    steps_per_epoch: int | None = None
    on_nonfinite: Literal["raise", "backoff"] = "raise"
    backoff_factor: float = 0.5
    min_lr_scale: float = 1e-6
    check_every: int = 50
    checkpoint_every: int = 500
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8

    def validate(self) -> None:
        """Raise a ``ValueError`` naming the first bad setting."""
        if self.n_points < 2:
            raise ValueError(f"n_points must be >= 2 (the two minima), got {self.n_points}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1 (0 would return the straight segments as "
                             f"'optimised' paths), got {self.epochs}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0 (lr=0 would return the straight segments as "
                             f"'optimised' paths), got {self.lr}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer={self.optimizer!r}; use 'sgd' or 'adam'")
        if self.insert_criterion not in ("distance", "loss", None):
            raise ValueError(f"insert_criterion={self.insert_criterion!r}; use 'distance', 'loss' or None")
        check_schedule(self.lr_schedule)
        if self.on_nonfinite not in ("raise", "backoff"):
            raise ValueError(f"on_nonfinite={self.on_nonfinite!r}; use 'raise' or 'backoff'")
        if self.max_points is not None and self.max_points < self.n_points:
            raise ValueError(f"max_points={self.max_points} < n_points={self.n_points}")
        for name in ("reparam_every", "insert_every", "track_every", "conv_window", "check_every",
                     *(("cycle_epochs",) if self.cycle_epochs is not None else ())):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.max_step <= 1:
            raise ValueError(f"max_step must be in (0, 1], got {self.max_step}")
        if self.density < 0:
            raise ValueError(f"density must be >= 0, got {self.density}")


@dataclasses.dataclass
class PathSet:
    """Optimised paths.

    Attributes:
        points: ``Tensor[P, Kmax, D]``; path ``p`` is ``points[p, :n_points[p]]``, the rest repeats
            its last minimum (padding).
        n_points: ``LongTensor[P]``, points per path including both minima.
        pairs: ``LongTensor[P, 2]``, the minima each path joins (indices into the ``minima`` given).
        config: the :class:`PathConfig` as a dict.
        status: per path ``"converged"`` (its maximum stopped falling), ``"pruned"`` (it could no
            longer change the barcode) or ``"budget"`` (the epochs ran out first: its maximum is
            an upper bound of the saddle, not an estimate at convergence).
        stopped_epoch: ``LongTensor[P]``, the epoch after which each path stopped (-1: never).
        track_epochs: epochs (1-based counts) of the convergence measurements;
        max_history: ``Tensor[R, P]``, each path's maximum on the tracking subset at those epochs
            (``NaN`` once stopped).
        end_loss: ``Tensor[P, 2]``, the minima's losses on the tracking subset.
        diagnostics: App. E, per epoch: ``epoch`` and ``grad_tangent``, ``grad_normal`` (epoch means
            of ``|<g, τ>|`` and ``||g⊥||``), ``loss`` (epoch mean minibatch loss) as
            ``Tensor[P, K_e]`` with ``NaN`` at minima, padding and stopped paths.
        insertions: ``[epoch, path, points added]`` of every Alg. 4 insertion.
        events: human-readable log (learning-rate back-offs, folds removed, stops).
        steps: optimisation steps done; point_steps: interior points × steps optimised (compute).
    """

    points: Tensor
    n_points: Tensor
    pairs: Tensor
    config: dict
    status: list
    stopped_epoch: Tensor
    track_epochs: list
    max_history: Tensor
    end_loss: Tensor
    diagnostics: dict
    insertions: list
    events: list
    steps: int
    point_steps: int
    kind: str = "path"

    def __len__(self) -> int:
        return len(self.pairs)

    def path(self, p: int) -> Tensor:
        """Points of path ``p``: ``Tensor[K_p, D]``."""
        return self.points[p, : int(self.n_points[p])]

    def points_at(self, p: int, t: Tensor) -> Tensor:
        """Path ``p`` at normalised arc length ``t: Tensor[T]`` in [0, 1] -> ``Tensor[T, D]``
        (``t = 0`` and ``1`` are exactly the two minima)."""
        q = self.path(p)
        seg = torch.linalg.vector_norm(q[1:] - q[:-1], dim=1)
        cum = torch.cat([seg.new_zeros(1), seg.cumsum(0)])
        u = t.to(q.dtype).clamp(0, 1) * cum[-1]
        j = (torch.searchsorted(cum, u, right=True) - 1).clamp(0, len(q) - 2)
        f = ((u - cum[j]) / seg[j].clamp_min(1e-30)).clamp(0, 1)[:, None]
        out = q[j] + f * (q[j + 1] - q[j])
        out[t <= 0] = q[0]
        out[t >= 1] = q[-1]
        return out

    def node_t(self, p: int) -> Tensor:
        """Normalised arc length of the optimised points of path ``p``: ``Tensor[K_p]``."""
        q = self.path(p)
        seg = torch.linalg.vector_norm(q[1:] - q[:-1], dim=1)
        cum = torch.cat([seg.new_zeros(1), seg.cumsum(0)])
        return cum / cum[-1].clamp_min(1e-30)

    @classmethod
    def from_paths(cls, paths: list[Tensor], pairs: Tensor | list) -> PathSet:
        """A ``PathSet`` of given polylines (``paths[p]: Tensor[K_p, D]``, ends included), e.g. to
        evaluate a path from elsewhere with :func:`~toolkit.paths.evaluate_paths`; every path's
        status is ``"budget"`` (nothing says it converged)."""
        if not paths:
            raise ValueError("no paths given")
        K, D = max(len(q) for q in paths), paths[0].shape[-1]
        pts = torch.stack([torch.cat([q, q[-1:].expand(K - len(q), D)]) for q in paths])
        P = len(paths)
        return cls(points=pts, n_points=torch.tensor([len(q) for q in paths]),
                   pairs=torch.as_tensor(pairs, dtype=torch.long).reshape(P, 2), config={},
                   status=["budget"] * P, stopped_epoch=torch.full((P,), -1),
                   track_epochs=[], max_history=torch.zeros(0, P), end_loss=torch.zeros(P, 2),
                   diagnostics={}, insertions=[], events=[], steps=0, point_steps=0)

    @property
    def converged(self) -> Tensor:
        """``BoolTensor[P]``: the path's maximum converged (status ``"converged"``)."""
        return torch.tensor([s == "converged" for s in self.status])

    def summary(self) -> str:
        """One line: how many paths converged, were pruned or ran out of budget, and when."""
        counts = {s: self.status.count(s) for s in ("converged", "pruned", "budget")}
        done = [int(e) for e, s in zip(self.stopped_epoch.tolist(), self.status) if s != "budget"]
        when = f", stopped after {min(done)}-{max(done)} epochs" if done else ""
        return (f"{len(self)} paths: {counts['converged']} converged, {counts['pruned']} pruned, "
                f"{counts['budget']} out of budget (maxima are upper bounds){when}; "
                f"{self.steps} steps, {self.point_steps:,} point-steps")


def _nonfinite_message(st: PathState, pairs: Tensor, step_a: int, step_b: int, lr: float) -> str:
    p, k, count = st.first_bad()
    i, j = pairs[p].tolist()
    return (f"non-finite loss or gradient at path {p} (minima {i}-{j}), point {k} of {st.n[p]} "
            f"({count} points affected) between steps {step_a} and {step_b} at lr={lr:.3g}")


class _PathTask(_loop.Task):
    """One path optimisation inside the loop skeleton (:mod:`toolkit._loop`)."""

    def __init__(self, st: PathState, obj: Objective, tracker: Tracker, cfg: PathConfig,
                 pairs: Tensor, seed: int, total: int, spe: int) -> None:
        self.st, self.obj, self.tracker, self.cfg = st, obj, tracker, cfg
        self.pairs, self.seed, self.total, self.spe = pairs, seed, total, spe
        self.lay = Layout(st)
        self.snaps: list[tuple[PathState, int]] | None = (
            [(st.clone(), 0)] if cfg.on_nonfinite == "backoff" else None)
        self.batches: Any = None
        self.lr = cfg.lr
        self.max_points = cfg.max_points or 4 * cfg.n_points
        self.h0 = torch.linalg.vector_norm(st.ends[:, 1] - st.ends[:, 0], dim=1) / (cfg.n_points - 1)

    def start_epoch(self, epoch: int, first: int) -> None:
        it = self.obj.batches(self.cfg.batch_size, seeds.epoch_generator(self.seed, epoch, 0))
        for _ in range(first):
            next(it)
        self.batches = it

    def step(self, step: int) -> None:
        cfg, st = self.cfg, self.st
        cycle = cfg.cycle_epochs * self.spe if cfg.cycle_epochs else self.total
        self.lr = cfg.lr * multiplier(cfg.lr_schedule, (step % cycle) / cycle) * st.lr_scale
        batch = next(self.batches)
        if self.lay.M:
            path_step(st, self.lay, self.obj, batch, lr=self.lr, optimizer=cfg.optimizer,
                      momentum=cfg.momentum, weight_decay=cfg.weight_decay, betas=cfg.adam_betas,
                      eps=cfg.adam_eps, max_step=cfg.max_step, fused=cfg.fused)
            if (step + 1) % cfg.reparam_every == 0:
                self._resample()

    def _resample(self, new_n: list[int] | None = None) -> None:
        before = (list(self.st.n), len(self.st.X))
        folds = resample(self.st, new_n, density=self.cfg.density, end_loss=self.tracker.end_loss)
        if folds:
            self.st.events.append(f"removed {folds} fold(s) (points reversing a path) by resampling")
        if (list(self.st.n), len(self.st.X)) != before:
            self.lay = Layout(self.st)

    def check(self, since: int, step: int) -> int | None:
        if not self.st.nonfinite():  # the one host synchronisation per check
            return None
        msg = _nonfinite_message(self.st, self.pairs, since, step, self.lr)
        if self.snaps is None:
            raise FloatingPointError(f"{msg}; lower PathConfig.lr or use on_nonfinite='backoff'")
        scale = self.st.lr_scale * self.cfg.backoff_factor
        if scale < self.cfg.min_lr_scale or not self.snaps:
            raise FloatingPointError(f"{msg}; gave up after backing off the learning rate to "
                                     f"{self.st.lr_scale:g} x lr: lower PathConfig.lr itself")
        events = self.st.events
        if len(self.snaps) > 1 and self.snaps[-1][1] == since:
            self.snaps.pop()  # failing right after a restore: go one healthy state further back
        st, back = self.snaps[-1]
        self.st = st.clone()
        events.append(f"non-finite values between steps {since} and {step}; back to step {back}, "
                      f"lr scale now {scale:g}")
        self.st.lr_scale, self.st.events = scale, events
        self.lay = Layout(self.st)
        return back

    def checked(self, step: int) -> None:
        if self.snaps is not None:
            self.snaps = [*self.snaps[-2:], (self.st.clone(), step)]

    def end_epoch(self, epoch: int) -> dict[str, Any]:
        st, cfg = self.st, self.cfg
        st.close_epoch(epoch)
        done = epoch + 1
        if done % cfg.track_every == 0 or done == cfg.epochs:
            stops = self.tracker.measure(st, done)
            for status, paths in stops.items():
                if paths:
                    stop_paths(st, paths, status, done)
                    st.events.append(f"epoch {done}: {status} {paths}")
            self.lay = Layout(st)
        if cfg.insert_criterion is not None and done % cfg.insert_every == 0 and done < cfg.epochs:
            self._insert(epoch, done)
        return {"max": f"{self.tracker.current_max():.4g}", "active": len(st.active)}

    def _insert(self, epoch: int, done: int) -> None:
        st, cfg = self.st, self.cfg
        seg_loss = node_loss = None
        if cfg.insert_criterion == "loss":
            it = self.obj.batches(cfg.batch_size, seeds.epoch_generator(self.seed, epoch, 1))
            bs = [b for _, b in zip(range(cfg.insert_loss_batches), it)]

            @torch.no_grad()
            def mean_loss(theta: Tensor) -> Tensor:
                return sum(torch.cat([self.obj.loss(c, b) for c in theta.split(1024)]) for b in bs) / len(bs)

            node_loss, seg_loss = node_and_midpoint_losses(st, self.obj, mean_loss)
        add = choose_insertions(st, cfg.insert_criterion, h0=self.h0, distance_ratio=cfg.insert_distance_ratio,
                                loss_tol=cfg.insert_loss_tol, max_insert=cfg.insert_max,
                                max_points=self.max_points, seg_loss=seg_loss, node_loss=node_loss)
        if add:
            new_n = list(st.n)
            for p, k in add.items():
                new_n[p] += k
                st.insertions.append([done, p, k])
            self._resample(new_n)

    def finished(self) -> bool:
        return not self.st.active

    def state(self) -> dict:
        return {"st": self.st, "tracker": self.tracker.state()}

    def load(self, state: dict, step: int) -> None:
        self.st = to_device(state["st"], self.st.X.device)
        self.tracker.load(state["tracker"])
        self.lay = Layout(self.st)
        if self.snaps is not None:
            self.snaps = [(self.st.clone(), step)]


def optimize_paths(objective: Objective, minima: Tensor, pairs: Tensor | list | None = None,
                   config: PathConfig | None = None, *, init: Tensor | None = None,
                   device: str | torch.device = "auto",
                   checkpoint: str | os.PathLike | None = None, resume: bool = False,
                   progress: bool = True, seed: int = 0) -> PathSet:
    """Optimise one path per pair of minima (Alg. 1/3 with Alg. 4 insertion), until each path's
    maximum has converged (or the pair can no longer change the barcode, with ``prune``) or the
    epoch budget runs out.

    Args:
        objective: a :class:`~toolkit.objectives.Objective` (``FunctionObjective``, ``ModuleObjective``).
        minima: ``Tensor[N, D]`` flat parameter vectors (the minima store's layout).
        pairs: ``LongTensor[P, 2]`` or list of ``(i, j)``; default all pairs ``i < j``.
        config: :class:`PathConfig`.
        init: optional start ``Tensor[P, n_points, D]`` (ends included, e.g. a curve or a path from
            another run); default the straight segments. Points out of order are repaired by the
            first resampling.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``...
        checkpoint: file to write the run's state to every ``config.checkpoint_every`` steps.
        resume: continue from ``checkpoint`` if it exists; the result equals an uninterrupted run.
        progress: show a tqdm bar.
        seed: minibatch order (per epoch) depends only on ``seed`` and the epoch.

    Returns:
        :class:`PathSet` on the CPU; ``status`` says which maxima converged and which are upper
        bounds.
    """
    cfg = config or PathConfig()
    cfg.validate()
    dev = resolve_device(device)
    pairs = check_pairs(objective, minima, pairs)
    obj = objective.to(dev)
    minima = minima.detach().to(dev)
    spe = cfg.steps_per_epoch or obj.steps_per_epoch(cfg.batch_size)
    total = cfg.epochs * spe
    fp = fingerprint("paths", config=dataclasses.asdict(cfg), minima=minima, pairs=pairs, seed=seed,
                     steps_per_epoch=spe, init=init)
    st = PathState.straight(minima, pairs.to(dev), cfg.n_points, cfg.optimizer)
    if init is not None:
        init = torch.as_tensor(init, dtype=minima.dtype, device=dev)
        if init.shape != (len(pairs), cfg.n_points, minima.shape[1]):
            raise ValueError(f"init must be Tensor[P={len(pairs)}, n_points={cfg.n_points}, "
                             f"D={minima.shape[1]}], got {tuple(init.shape)}")
        st.X = init[:, 1:-1].reshape(-1, minima.shape[1]).clone()
        resample(st)  # order the points before the first step
    tracker = Tracker(obj.subset(cfg.track_subset, seeds.child_seed(seed, "track")), cfg, pairs,
                      n_minima=len(minima))
    task = _PathTask(st, obj, tracker, cfg, pairs, seed, total, spe)
    steps = _loop.run(task, epochs=cfg.epochs, steps_per_epoch=spe, fingerprint=fp,
                      checkpoint=checkpoint, resume=resume, checkpoint_every=cfg.checkpoint_every,
                      check_every=cfg.check_every, progress=progress, desc=f"paths ({len(pairs)})")
    st = task.st
    if st.active:  # the budget ran out before these converged
        stop_paths(st, list(st.active), "budget", steps // spe)
    K = max(st.n)
    pts = st.ends[:, 1:2].expand(-1, K, -1).clone()
    for p in range(st.P):
        pts[p, :st.n[p]] = st.path(p)
    return PathSet(points=pts.cpu(), n_points=torch.tensor(st.n), pairs=pairs.cpu(),
                   config=dataclasses.asdict(cfg), status=list(st.status),
                   stopped_epoch=torch.tensor(st.stopped_epoch), track_epochs=list(tracker.epochs),
                   max_history=tracker.history(st.P), end_loss=tracker.end_loss.cpu(),
                   diagnostics=to_cpu(st.diag), insertions=st.insertions, events=st.events,
                   steps=steps, point_steps=st.point_steps)
