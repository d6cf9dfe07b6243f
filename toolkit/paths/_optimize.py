"""Private: the configuration and the run of :func:`toolkit.paths.optimize_paths` (the loop
skeleton of :mod:`toolkit._loop` around the engine of :mod:`toolkit.paths._engine`)."""

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
from toolkit.paths._engine import (
    PathState,
    Snapshots,
    apply_insertions,
    choose_insertions,
    path_step,
    segment_losses,
)
from toolkit.paths._pairs import check_pairs
from toolkit.schedules import check_schedule, multiplier

__all__ = ["PathConfig", "PathSet", "optimize_paths"]


@dataclasses.dataclass
class PathConfig:
    """Settings of :func:`optimize_paths`. Values the paper lost in extraction are ours (marked).

    Attributes:
        n_points: points per path including both minima (paper §3.1: 19).
        epochs: passes over the training set (App. C: 300 on CIFAR-10, 200 on SVHN).
        lr: base learning rate (lost in App. C; ours).
        momentum: SGD momentum (App. C uses momentum, value lost; ours). The momentum buffer is
            re-projected on the current normal space every step.
        weight_decay: the paper's L2 regularisation of each point (value lost; ours).
        batch_size: minibatch size (App. C: 150 on CIFAR-10).
        lr_schedule: ``"constant"``, ``"garipov"``, ``"cosine"`` or ``"linear"`` (App. C's scheduler
            parameters were lost; the default is Garipov et al.'s, which the paper uses for curves).
        optimizer: ``"sgd"`` (default, the paper's) or ``"adam"`` (its step is projected).
        insert_every: Alg. 4 runs after every ``insert_every`` epochs (paper: 25), never after the last.
        insert_criterion: ``"distance"`` (App. C's choice), ``"loss"`` or ``None`` (no insertion).
        insert_distance_ratio: distance criterion -- a segment longer than this × the mean
            segment length of its path gets a midpoint (ours: 1.5).
        insert_loss_tol: loss criterion -- a segment whose midpoint loss exceeds both its ends' losses
            by more than this fraction of the path's loss range gets a midpoint (ours: 0.05).
        insert_loss_batches: minibatches averaged for the loss criterion.
        insert_max: at most this many insertions per path per round (ours: 4).
        max_points: a path never grows beyond this many points (ours: 38 = 2 × 19).
        steps_per_epoch: override the objective's number of minibatches per epoch.
        on_nonfinite: ``"raise"`` (error naming path and point) or ``"backoff"`` (return to the last
            check, multiply the learning rate by ``backoff_factor`` and continue; gives up with the
            error below ``min_lr_scale``).
        check_every: steps between non-finite checks (each is one host synchronisation).
        checkpoint_every: steps between checkpoints when a checkpoint path is given.
        adam_betas, adam_eps: Adam's constants.
    """

    n_points: int = 19
    epochs: int = 300
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 150
    lr_schedule: str = "garipov"
    optimizer: Literal["sgd", "adam"] = "sgd"
    insert_every: int = 25
    insert_criterion: Literal["distance", "loss"] | None = "distance"
    insert_distance_ratio: float = 1.5
    insert_loss_tol: float = 0.05
    insert_loss_batches: int = 4
    insert_max: int = 4
    max_points: int = 38
    steps_per_epoch: int | None = None
    on_nonfinite: Literal["raise", "backoff"] = "raise"
    backoff_factor: float = 0.5
    min_lr_scale: float = 1e-6
    check_every: int = 50
    checkpoint_every: int = 500
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8

    def validate(self) -> None:
        if self.n_points < 2:
            raise ValueError(f"n_points must be >= 2 (the two minima), got {self.n_points}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer={self.optimizer!r}; use 'sgd' or 'adam'")
        if self.insert_criterion not in ("distance", "loss", None):
            raise ValueError(f"insert_criterion={self.insert_criterion!r}; use 'distance', 'loss' or None")
        check_schedule(self.lr_schedule)
        if self.on_nonfinite not in ("raise", "backoff"):
            raise ValueError(f"on_nonfinite={self.on_nonfinite!r}; use 'raise' or 'backoff'")
        if self.max_points < self.n_points:
            raise ValueError(f"max_points={self.max_points} < n_points={self.n_points}")


@dataclasses.dataclass
class PathSet:
    """Optimised paths.

    Attributes:
        points: ``Tensor[P, Kmax, D]``; path ``p`` is ``points[p, :n_points[p]]``, the rest repeats
            its last minimum (padding after insertions).
        n_points: ``LongTensor[P]``, points per path including both minima.
        pairs: ``LongTensor[P, 2]``, the minima each path joins (indices into the ``minima`` given).
        config: the :class:`PathConfig` as a dict.
        diagnostics: App. E, one entry per epoch: ``epoch`` (list of ints) and ``grad_tangent``,
            ``grad_normal`` (epoch means of ``|<g, τ>|`` and ``||g⊥||``), ``loss`` (epoch mean of the
            minibatch loss) as lists of ``Tensor[P, K_e]`` with ``NaN`` at minima and padding.
        insertions: ``[epoch, path, slot]`` of every inserted point.
        events: human-readable log (learning-rate back-offs).
        steps: optimisation steps done.
    """

    points: Tensor
    n_points: Tensor
    pairs: Tensor
    config: dict
    diagnostics: dict
    insertions: list
    events: list
    steps: int
    kind: str = "path"

    def __len__(self) -> int:
        return len(self.pairs)

    def path(self, p: int) -> Tensor:
        """Points of path ``p``: ``Tensor[K_p, D]``."""
        return self.points[p, : int(self.n_points[p])]



def _nonfinite_message(st: PathState, pairs: Tensor, step_a: int, step_b: int, lr: float) -> str:
    bad = st.bad.nonzero().tolist()
    p, k = bad[0]
    i, j = pairs[p].tolist()
    return (f"non-finite loss or gradient at path {p} (minima {i}-{j}), point {k} of {st.n[p]} "
            f"({len(bad)} points affected) between steps {step_a} and {step_b} at lr={lr:.3g}; "
            "lower PathConfig.lr or use on_nonfinite='backoff'")


class _PathTask(_loop.Task):
    """One path optimisation inside the loop skeleton (:mod:`toolkit._loop`)."""

    def __init__(self, st: PathState, obj: Objective, cfg: PathConfig, pairs: Tensor, seed: int,
                 total: int) -> None:
        self.st, self.obj, self.cfg, self.pairs, self.seed, self.total = st, obj, cfg, pairs, seed, total
        self.idx = st.interior_index()
        self.snaps = Snapshots(st, 0) if cfg.on_nonfinite == "backoff" else None
        self.batches: Any = None
        self.lr = cfg.lr

    def start_epoch(self, epoch: int, first: int) -> None:
        it = self.obj.batches(self.cfg.batch_size, seeds.epoch_generator(self.seed, epoch, 0))
        for _ in range(first):
            next(it)
        self.batches = it

    def step(self, step: int) -> None:
        cfg, st = self.cfg, self.st
        self.lr = cfg.lr * multiplier(cfg.lr_schedule, step / self.total) * st.lr_scale
        batch = next(self.batches)
        if len(self.idx):
            path_step(st, self.obj, batch, self.idx, lr=self.lr, optimizer=cfg.optimizer,
                      momentum=cfg.momentum, weight_decay=cfg.weight_decay, betas=cfg.adam_betas,
                      eps=cfg.adam_eps)

    def check(self, since: int, step: int) -> int | None:
        if not self.st.nonfinite():  # the one host synchronisation per check
            return None
        msg = _nonfinite_message(self.st, self.pairs, since, step, self.lr)
        if self.snaps is None:
            raise FloatingPointError(msg)
        scale = self.st.lr_scale * self.cfg.backoff_factor
        if scale < self.cfg.min_lr_scale:
            raise FloatingPointError(f"{msg} (gave up after backing off to lr scale "
                                     f"{self.st.lr_scale:g} < min_lr_scale={self.cfg.min_lr_scale:g})")
        events = self.st.events
        self.st, back = self.snaps.restore()
        events.append(f"non-finite values between steps {since} and {step}; back to step {back}, "
                      f"lr scale now {scale:g}")
        self.st.lr_scale, self.st.events = scale, events
        self.idx = self.st.interior_index()
        return back

    def end_epoch(self, epoch: int) -> dict[str, Any]:
        st, cfg = self.st, self.cfg
        st.close_epoch(epoch)
        done = epoch + 1
        if cfg.insert_criterion is not None and done % cfg.insert_every == 0 and done < cfg.epochs:
            seg_loss = node_loss = None
            if cfg.insert_criterion == "loss":
                it = self.obj.batches(cfg.batch_size, seeds.epoch_generator(self.seed, epoch, 1))
                bs = [b for _, b in zip(range(cfg.insert_loss_batches), it)]
                node_loss, seg_loss = segment_losses(st, self.obj, bs)
            segs = choose_insertions(st, cfg.insert_criterion, distance_ratio=cfg.insert_distance_ratio,
                                     loss_tol=cfg.insert_loss_tol, max_insert=cfg.insert_max,
                                     max_points=cfg.max_points, seg_loss=seg_loss,
                                     node_loss=node_loss)
            apply_insertions(st, segs, done)
            self.idx = st.interior_index()
        return {"loss": f"{float(st.diag['loss'][-1].nan_to_num(0).amax()):.4g}", "points": max(st.n)}

    def checked(self, step: int) -> None:
        if self.snaps is not None:
            self.snaps.push(self.st, step)

    def state(self) -> PathState:
        return self.st

    def load(self, state: PathState, step: int) -> None:
        self.st = to_device(state, self.st.pts.device)
        self.idx = self.st.interior_index()
        if self.snaps is not None:
            self.snaps = Snapshots(self.st, step)


def optimize_paths(objective: Objective, minima: Tensor, pairs: Tensor | list | None = None,
                   config: PathConfig | None = None, *, device: str | torch.device = "auto",
                   checkpoint: str | os.PathLike | None = None, resume: bool = False,
                   progress: bool = True, seed: int = 0) -> PathSet:
    """Optimise one path per pair of minima (Alg. 1/3 with Alg. 4 insertion).

    Args:
        objective: a :class:`~toolkit.objectives.Objective` (``FunctionObjective``, ``ModuleObjective``).
        minima: ``Tensor[N, D]`` flat parameter vectors (the minima store's layout).
        pairs: ``LongTensor[P, 2]`` or list of ``(i, j)``; default all pairs ``i < j``.
        config: :class:`PathConfig`.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``...
        checkpoint: file to write the run's state to every ``config.checkpoint_every`` steps.
        resume: continue from ``checkpoint`` if it exists; the result equals an uninterrupted run.
        progress: show a tqdm bar.
        seed: minibatch order (per epoch) depends only on ``seed`` and the epoch.

    Returns:
        :class:`PathSet` on the CPU.
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
                     steps_per_epoch=spe)
    st = PathState.straight(minima, pairs.to(dev), cfg.n_points, cfg.optimizer)
    task = _PathTask(st, obj, cfg, pairs, seed, total)
    steps = _loop.run(task, epochs=cfg.epochs, steps_per_epoch=spe, fingerprint=fp,
                      checkpoint=checkpoint, resume=resume, checkpoint_every=cfg.checkpoint_every,
                      check_every=cfg.check_every, progress=progress, desc=f"paths ({len(pairs)})")
    st = task.st
    return PathSet(points=st.pts.detach().cpu(), n_points=torch.tensor(st.n), pairs=pairs.cpu(),
                   config=dataclasses.asdict(cfg), diagnostics=to_cpu(st.diag),
                   insertions=st.insertions, events=st.events, steps=steps)
