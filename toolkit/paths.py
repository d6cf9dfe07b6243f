"""Batched optimisation of paths between minima (paper §1.2, §3.1, Alg. 1, 3, 4; App. C, E).

``optimize_paths`` moves every interior point of every path by the component of the minibatch
gradient orthogonal to the path (tangent from its two neighbours), plus the paper's L2 term; all
``P × K`` interior points are evaluated on the same minibatch in one vectorised call per step.
``evaluate_paths`` then measures full-training-set loss along a dense resampling of every path
(optimised points and the straight pieces between them) and gives the saddle estimates a barcode
needs::

    obj = tk.FunctionObjective(f, dim=2)
    ps = tk.optimize_paths(obj, minima, config=tk.PathConfig(epochs=100, lr=0.01))
    ev = tk.evaluate_paths(obj, ps)
    bc = tk.minima_barcode(min_losses, ev.saddles())
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Literal

import torch
from torch import Tensor

from toolkit._device import resolve_device
from toolkit._paths_common import (
    SCHEDULES,
    all_pairs,
    epoch_batches,
    epoch_generator,
    fingerprint,
    load_checkpoint,
    lr_factor,
    save_checkpoint,
    to_cpu,
    to_device,
)
from toolkit._paths_engine import (
    PathState,
    Snapshots,
    apply_insertions,
    choose_insertions,
    path_step,
    segment_losses,
)
from toolkit._paths_eval import PathEvaluation, evaluate_paths, std_over_runs
from toolkit._progress import progress_bar
from toolkit.objectives import Objective

__all__ = ["PathConfig", "PathEvaluation", "PathSet", "evaluate_paths", "optimize_paths",
           "std_over_runs"]


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
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(f"lr_schedule={self.lr_schedule!r}; use one of {SCHEDULES}")
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

    def to_state(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return to_cpu({**d, "config": _plain(d["config"])})

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PathSet:
        return cls(**state)


def _plain(d: dict) -> dict:
    """Config dict with tuples as lists (plain containers for ``weights_only`` loading)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def _check_minima(objective: Objective, minima: Tensor, pairs: Tensor | None) -> Tensor:
    if minima.dim() != 2 or minima.shape[1] != objective.dim:
        raise ValueError(f"minima must be Tensor[N, D={objective.dim}], got shape {tuple(minima.shape)}")
    if not torch.isfinite(minima).all():
        raise ValueError("minima contain non-finite values")
    pairs = all_pairs(len(minima)) if pairs is None else torch.as_tensor(pairs, dtype=torch.long).reshape(-1, 2)
    if len(pairs) == 0:
        raise ValueError("no pairs of minima to connect (need at least 2 minima)")
    if pairs.min() < 0 or pairs.max() >= len(minima) or (pairs[:, 0] == pairs[:, 1]).any():
        raise ValueError(f"pairs must index distinct minima in [0, {len(minima)}), got {pairs.tolist()}")
    return pairs


def _nonfinite_message(st: PathState, pairs: Tensor, step_a: int, step_b: int, lr: float) -> str:
    bad = st.bad.nonzero().tolist()
    p, k = bad[0]
    i, j = pairs[p].tolist()
    return (f"non-finite loss or gradient at path {p} (minima {i}-{j}), point {k} of {st.n[p]} "
            f"({len(bad)} points affected) between steps {step_a} and {step_b} at lr={lr:.3g}; "
            "lower PathConfig.lr or use on_nonfinite='backoff'")


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
    pairs = _check_minima(objective, minima, pairs)
    obj = objective.to(dev)
    minima = minima.detach().to(dev)
    spe = cfg.steps_per_epoch or obj.steps_per_epoch(cfg.batch_size)
    total = cfg.epochs * spe
    fp = fingerprint("paths", config=dataclasses.asdict(cfg), minima=minima, pairs=pairs, seed=seed,
                     steps_per_epoch=spe)
    st, step = PathState.straight(minima, pairs.to(dev), cfg.n_points, cfg.optimizer), 0
    if resume and checkpoint is not None:
        saved = load_checkpoint(checkpoint, fp)
        if saved is not None:
            st, step = PathState.from_state(to_device(saved["state"], dev)), int(saved["step"])
    idx = st.interior_index()
    snaps = Snapshots(st, step) if cfg.on_nonfinite == "backoff" else None
    last_check = step
    bar = progress_bar(total=total, initial=step, enabled=progress, desc=f"paths ({len(pairs)})",
               unit="step", leave=False)
    batches = None
    try:
        while step < total:
            epoch, i = divmod(step, spe)
            if batches is None:
                batches = epoch_batches(obj, cfg.batch_size, seed, epoch, i)
            batch = next(batches)
            lr = cfg.lr * lr_factor(cfg.lr_schedule, step / total) * st.lr_scale
            if len(idx):
                path_step(st, obj, batch, idx, lr=lr, optimizer=cfg.optimizer, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay, betas=cfg.adam_betas, eps=cfg.adam_eps)
            step += 1
            bar.update(1)
            end_of_epoch = step % spe == 0
            if end_of_epoch or step - last_check >= cfg.check_every:
                if st.nonfinite():  # the one host synchronisation per check
                    if snaps is None:
                        raise FloatingPointError(_nonfinite_message(st, pairs, last_check, step, lr))
                    scale, events = st.lr_scale * cfg.backoff_factor, st.events
                    if scale < cfg.min_lr_scale:
                        raise FloatingPointError(_nonfinite_message(st, pairs, last_check, step, lr)
                                                 + f" (after backing off to lr scale {st.lr_scale:g})")
                    st, back = snaps.restore()
                    events.append(f"non-finite values between steps {last_check} and {step}; "
                                  f"back to step {back}, lr scale now {scale:g}")
                    st.lr_scale, st.events, step = scale, events, back
                    idx, batches, last_check = st.interior_index(), None, step
                    bar.reset(total)
                    bar.update(step)
                    continue
                last_check = step
            if end_of_epoch:
                batches = None
                _end_epoch(st, obj, cfg, epoch, seed)
                idx = st.interior_index()
                bar.set_postfix(loss=f"{float(st.diag['loss'][-1].nan_to_num(0).amax()):.4g}",
                                points=max(st.n))
            if snaps is not None and last_check == step:
                snaps.push(st, step)
            if checkpoint is not None and (step % cfg.checkpoint_every == 0 or step == total):
                save_checkpoint(checkpoint, {"fingerprint": fp, "step": step, "state": to_cpu(st.to_state())})
    finally:
        bar.close()
    return PathSet(points=st.pts.detach().cpu(), n_points=torch.tensor(st.n), pairs=pairs.cpu(),
                   config=_plain(dataclasses.asdict(cfg)), diagnostics=to_cpu(st.diag),
                   insertions=st.insertions, events=st.events, steps=step)


def _end_epoch(st: PathState, obj: Objective, cfg: PathConfig, epoch: int, seed: int) -> None:
    """Record the epoch's diagnostics, then run Alg. 4 when due."""
    st.close_epoch(epoch)
    done = epoch + 1
    if cfg.insert_criterion is None or done % cfg.insert_every or done >= cfg.epochs:
        return
    seg_loss = node_loss = None
    if cfg.insert_criterion == "loss":
        it = obj.batches(cfg.batch_size, epoch_generator(seed, epoch, 1))
        bs = [b for _, b in zip(range(cfg.insert_loss_batches), it)]
        node_loss, seg_loss = segment_losses(st, obj, bs)
    segs = choose_insertions(st, cfg.insert_criterion, distance_ratio=cfg.insert_distance_ratio,
                             loss_tol=cfg.insert_loss_tol, max_insert=cfg.insert_max,
                             max_points=cfg.max_points, seg_loss=seg_loss, node_loss=node_loss)
    apply_insertions(st, segs, done)
