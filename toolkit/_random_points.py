"""Private training loop shared by random-point curves and triangles (paper §4, App. I; Garipov et
al. 2018): every object is a fixed linear combination of parameter-space nodes, some fixed (minima,
previously optimised sides) and some trainable; each step draws random positions on every object,
evaluates all of them on one minibatch in one vectorised call and moves the trainable nodes by the
gradient of the mean loss. Deterministic per (seed, epoch), checkpointable and resumable."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from toolkit._device import resolve_device
from toolkit._paths_common import (
    SCHEDULES,
    epoch_batches,
    epoch_generator,
    fingerprint,
    load_checkpoint,
    lr_factor,
    save_checkpoint,
    to_cpu,
    to_device,
)
from toolkit._progress import progress_bar


@dataclasses.dataclass
class RandomPointConfig:
    """Settings shared by :class:`~toolkit.curves.CurveConfig` and
    :class:`~toolkit.simplices.TriangleConfig`.

    Attributes:
        epochs: passes over the training set (the paper: a curve gets a minimum's budget).
        lr, momentum, weight_decay: SGD settings (weight decay = L2 on every trainable node).
        batch_size: minibatch size.
        lr_schedule: ``"garipov"`` (default, Garipov et al.'s), ``"constant"``, ``"cosine"``, ``"linear"``.
        optimizer: ``"sgd"`` or ``"adam"``.
        samples_per_step: random positions per object per minibatch (paper: 1).
        steps_per_epoch: override the objective's number of minibatches per epoch.
        check_every: steps between non-finite checks (host synchronisations).
        checkpoint_every: steps between checkpoints when a checkpoint path is given.
    """

    epochs: int = 50
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 128
    lr_schedule: str = "garipov"
    optimizer: str = "sgd"
    samples_per_step: int = 1
    steps_per_epoch: int | None = None
    check_every: int = 50
    checkpoint_every: int = 500

    def validate(self) -> None:
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer={self.optimizer!r}; use 'sgd' or 'adam'")
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(f"lr_schedule={self.lr_schedule!r}; use one of {SCHEDULES}")
        if self.samples_per_step < 1:
            raise ValueError(f"samples_per_step must be >= 1, got {self.samples_per_step}")


def combine(weights: Tensor, nodes: Tensor) -> Tensor:
    """Points ``Σ_n weights[p, s, n] · nodes[p, n]``: ``[P, S, N] × [P, N, D] -> [P, S, D]``."""
    return torch.einsum("psn,pnd->psd", weights.to(nodes.dtype), nodes)


def train_random_points(objective: Any, fixed: Tensor, free: Tensor,
                        weights_fn: Callable[[Tensor], Tensor], n_random: int,
                        cfg: RandomPointConfig, *, kind: str, describe: Callable[[int], str],
                        device: str | torch.device, checkpoint: str | os.PathLike | None,
                        resume: bool, progress: bool, seed: int, extra_fp: dict) -> dict[str, Any]:
    """Optimise the ``free: Tensor[P, F, D]`` nodes; node order is ``cat([fixed, free], 1)``.

    ``weights_fn(u: Tensor[P, S, n_random])`` maps uniform random numbers to node weights
    ``Tensor[P, S, Nf + F]``. Returns ``{"free": Tensor[P, F, D], "loss": list[Tensor[P]], "steps"}``
    with the epoch-mean minibatch loss of every object.
    """
    cfg.validate()
    dev = resolve_device(device)
    obj = objective.to(dev)
    fixed, free = fixed.detach().to(dev), free.detach().to(dev).clone().requires_grad_(True)
    P = fixed.shape[0]
    spe = cfg.steps_per_epoch or obj.steps_per_epoch(cfg.batch_size)
    total = cfg.epochs * spe
    opt: torch.optim.Optimizer
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD([free], lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.Adam([free], lr=cfg.lr, weight_decay=cfg.weight_decay)
    fp = fingerprint(kind, config=dataclasses.asdict(cfg), fixed=fixed, free=free.detach(), seed=seed,
                     steps_per_epoch=spe, **extra_fp)
    step, history = 0, []
    acc, bad = fixed.new_zeros(P), fixed.new_zeros(P)
    if resume and checkpoint is not None:
        saved = load_checkpoint(checkpoint, fp)
        if saved is not None:
            with torch.no_grad():
                free.copy_(saved["free"].to(dev))
            opt.load_state_dict(to_device(saved["opt"], dev))
            step, history = int(saved["step"]), list(saved["history"])
            acc = saved["acc"].to(dev)
    bar = progress_bar(total=total, initial=step, enabled=progress, desc=f"{kind} ({P})", unit="step",
               leave=False)
    batches = draws = None
    try:
        while step < total:
            epoch, i = divmod(step, spe)
            if batches is None:
                batches = epoch_batches(obj, cfg.batch_size, seed, epoch, i)
                draws = torch.rand(spe, P, cfg.samples_per_step, n_random,
                                   generator=epoch_generator(seed, epoch, 2)).to(dev)
            batch = next(batches)
            for g in opt.param_groups:
                g["lr"] = cfg.lr * lr_factor(cfg.lr_schedule, step / total)
            theta = combine(weights_fn(draws[i]), torch.cat([fixed, free], 1))  # [P, S, D]
            loss = obj.loss(theta.reshape(-1, theta.shape[-1]), batch).view(P, -1).mean(1)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            finite = torch.isfinite(loss) & torch.isfinite(free.grad).flatten(1).all(1)
            bad += (~finite).to(bad.dtype)
            opt.step()
            acc += loss.detach()
            step += 1
            bar.update(1)
            end = step % spe == 0
            if (end or step % cfg.check_every == 0) and bool((bad > 0).any()):
                p = int((bad > 0).nonzero()[0])
                raise FloatingPointError(f"non-finite loss or gradient on {describe(p)} before step "
                                         f"{step}; lower the learning rate (lr={cfg.lr:g})")
            if end:
                history.append((acc / spe).cpu())
                acc = torch.zeros_like(acc)
                batches = None
            if checkpoint is not None and (step % cfg.checkpoint_every == 0 or step == total):
                save_checkpoint(checkpoint, {"fingerprint": fp, "step": step, "free": to_cpu(free),
                                             "opt": to_cpu(opt.state_dict()), "history": history,
                                             "acc": to_cpu(acc)})
    finally:
        bar.close()
    return {"free": free.detach().cpu(), "loss": history, "steps": step}
