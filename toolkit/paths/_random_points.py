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

from toolkit import _loop, seeds
from toolkit._device import resolve_device
from toolkit.cache import fingerprint, to_device
from toolkit.schedules import check_schedule, multiplier


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
        check_schedule(self.lr_schedule)
        if self.samples_per_step < 1:
            raise ValueError(f"samples_per_step must be >= 1, got {self.samples_per_step}")


def combine(weights: Tensor, nodes: Tensor) -> Tensor:
    """Points ``Σ_n weights[p, s, n] · nodes[p, n]``: ``[P, S, N] × [P, N, D] -> [P, S, D]``."""
    return torch.einsum("psn,pnd->psd", weights.to(nodes.dtype), nodes)


@dataclasses.dataclass
class _RandomPointState:
    """What a checkpoint of :func:`train_random_points` holds."""

    free: Tensor  # [P, F, D]
    opt: dict  # the optimiser's state_dict
    history: list  # per epoch Tensor[P]
    acc: Tensor  # [P], this epoch's summed minibatch losses


class _RandomPointTask(_loop.Task):
    def __init__(self, obj: Any, fixed: Tensor, free: Tensor, weights_fn: Callable[[Tensor], Tensor],
                 n_random: int, cfg: RandomPointConfig, seed: int, spe: int, total: int,
                 describe: Callable[[int], str]) -> None:
        self.obj, self.fixed, self.free, self.weights_fn = obj, fixed, free, weights_fn
        self.n_random, self.cfg, self.seed, self.spe, self.total = n_random, cfg, seed, spe, total
        self.describe = describe
        P = fixed.shape[0]
        self.opt: torch.optim.Optimizer
        if cfg.optimizer == "sgd":
            self.opt = torch.optim.SGD([free], lr=cfg.lr, momentum=cfg.momentum,
                                       weight_decay=cfg.weight_decay)
        else:
            self.opt = torch.optim.Adam([free], lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.history: list[Tensor] = []
        self.acc, self.bad = fixed.new_zeros(P), fixed.new_zeros(P)
        self.batches: Any = None
        self.draws: Tensor | None = None

    def start_epoch(self, epoch: int, first: int) -> None:
        it = self.obj.batches(self.cfg.batch_size, seeds.epoch_generator(self.seed, epoch, 0))
        for _ in range(first):
            next(it)
        self.batches = it
        P = self.fixed.shape[0]
        self.draws = torch.rand(self.spe, P, self.cfg.samples_per_step, self.n_random,
                                generator=seeds.epoch_generator(self.seed, epoch, 2)).to(self.fixed.device)

    def step(self, step: int) -> None:
        cfg, free = self.cfg, self.free
        batch = next(self.batches)
        for g in self.opt.param_groups:
            g["lr"] = cfg.lr * multiplier(cfg.lr_schedule, step / self.total)
        P = self.fixed.shape[0]
        theta = combine(self.weights_fn(self.draws[step % self.spe]), torch.cat([self.fixed, free], 1))
        loss = self.obj.loss(theta.reshape(-1, theta.shape[-1]), batch).view(P, -1).mean(1)
        self.opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        finite = torch.isfinite(loss) & torch.isfinite(free.grad).flatten(1).all(1)
        self.bad += (~finite).to(self.bad.dtype)
        self.opt.step()
        self.acc += loss.detach()

    def check(self, since: int, step: int) -> int | None:
        if bool((self.bad > 0).any()):
            p = int((self.bad > 0).nonzero()[0])
            raise FloatingPointError(f"non-finite loss or gradient on {self.describe(p)} between "
                                     f"steps {since} and {step}; lower the learning rate "
                                     f"(lr={self.cfg.lr:g})")
        return None

    def end_epoch(self, epoch: int) -> dict[str, Any]:
        self.history.append((self.acc / self.spe).cpu())
        self.acc = torch.zeros_like(self.acc)
        return {"loss": f"{float(self.history[-1].max()):.4g}"}

    def state(self) -> _RandomPointState:
        return _RandomPointState(free=self.free.detach(), opt=self.opt.state_dict(),
                                 history=self.history, acc=self.acc)

    def load(self, state: _RandomPointState, step: int) -> None:
        dev = self.fixed.device
        with torch.no_grad():
            self.free.copy_(state.free.to(dev))
        self.opt.load_state_dict(to_device(state.opt, dev))
        self.history, self.acc = list(state.history), state.acc.to(dev)


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
    spe = cfg.steps_per_epoch or obj.steps_per_epoch(cfg.batch_size)
    total = cfg.epochs * spe
    fp = fingerprint(kind, config=dataclasses.asdict(cfg), fixed=fixed, free=free.detach(), seed=seed,
                     steps_per_epoch=spe, **extra_fp)
    task = _RandomPointTask(obj, fixed, free, weights_fn, n_random, cfg, seed, spe, total, describe)
    steps = _loop.run(task, epochs=cfg.epochs, steps_per_epoch=spe, fingerprint=fp,
                      checkpoint=checkpoint, resume=resume, checkpoint_every=cfg.checkpoint_every,
                      check_every=cfg.check_every, progress=progress,
                      desc=f"{kind} ({fixed.shape[0]})")
    return {"free": free.detach().cpu(), "loss": task.history, "steps": steps}
