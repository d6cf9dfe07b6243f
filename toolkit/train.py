"""One training loop; the papers' recipes are configuration (:mod:`toolkit.recipes`).

``train(model, data, recipe, seed=...)`` runs minibatch SGD/Adam (or full-batch gradient descent
when ``recipe.batch_size is None``) with the recipe's learning-rate schedule, then evaluates the
final point on the full training set (and the test set, if given) in ``eval`` mode, with BatchNorm
statistics recomputed over the training set (:func:`recompute_bn`): loss,
accuracy and the norm of the full-batch gradient. A point whose final training loss or gradient
norm is above the recipe's tolerances triggers a ``warnings.warn`` (criterion below).

Determinism: minibatch order and augmentation draw from a generator seeded by ``(seed, epoch)``
(:func:`toolkit.seeds.epoch_generator`), so a run resumed from a checkpoint (``checkpoint=path``)
replays exactly the epochs it missed; on CPU two runs with the same seed, model initialisation
and thread count give the same weights bit for bit. The loop itself is the toolkit's one loop
skeleton (:mod:`toolkit._loop`).

Convergence check: ``converged = train_loss <= recipe.loss_tol and grad_norm <= recipe.grad_tol``
(with ``recipe.converge_every``, training stops at the first periodic check where this holds and
the loss has plateaued; see :class:`toolkit.recipes.Recipe`), where ``train_loss`` is the mean cross-entropy over the whole training set and ``grad_norm`` the
Euclidean norm of its gradient, both at the final weights in ``eval`` mode. The tolerances are
per recipe (ours), set from what a well-trained minimum of that recipe reaches (e.g. 2x32 FC on
MNIST at cpu scale: loss ~0.05, gradient norm 0.05-0.10; on Fashion-MNIST ~0.27 and 0.10-0.15).
They flag points far from a minimum; passing them does not certify one.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from torch import nn
from torch.nn import functional as F

from toolkit import _loop, seeds
from toolkit._device import resolve_device
from toolkit.cache import config_hash, fingerprint
from toolkit.recipes import Recipe, get_recipe

__all__ = ["TrainResult", "evaluate", "full_grad_norm", "recompute_bn", "train"]

class _DataLike(Protocol):
    x: torch.Tensor
    y: torch.Tensor


@dataclass
class TrainResult:
    """Outcome of :func:`train`. ``state`` is the final ``state_dict`` (CPU tensors); losses are
    mean cross-entropy, accuracies fractions in [0, 1]; ``test_*`` are NaN without a test set;
    ``history`` holds per-epoch ``loss`` (mean minibatch loss during the epoch) and ``lr``.
    With ``train(..., record_every=...)``, ``snapshots`` ``[S, D]`` (float32, CPU) holds the flat
    parameters (``parameters_to_vector`` order, i.e. ``tk.unflatten_params`` layout) at the
    optimiser steps ``snapshot_steps`` ``[S]`` (0 is the initial point); else ``None`` and ``[]``.
    ``epochs_run`` is the number of epochs trained; with ``recipe.converge_every``, ``checks`` lists
    every convergence check (``epoch``, full-training-set ``loss`` and ``grad_norm``)."""

    state: dict[str, torch.Tensor]
    train_loss: float
    train_acc: float
    test_loss: float
    test_acc: float
    grad_norm: float
    wall_time: float
    converged: bool
    seed: int
    history: dict[str, list[float]]
    snapshots: torch.Tensor | None = None
    snapshot_steps: list[int] = field(default_factory=list)
    epochs_run: int = 0
    checks: list[dict[str, float]] = field(default_factory=list)


def _xy(data: _DataLike | tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = (data.x, data.y) if hasattr(data, "x") else data
    if x.ndim < 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"need x [N, ...] and y [N] with equal N, got {tuple(x.shape)} and {tuple(y.shape)}")
    return x, y


def _make_optimizer(recipe: Recipe, params) -> torch.optim.Optimizer:
    if recipe.optimizer == "adam":
        return torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    return torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum,
                           weight_decay=recipe.weight_decay)


def _flip_crop(xb: torch.Tensor, gen: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random horizontal flip and random ``pad``-pixel translation (zero padding), per sample."""
    b, _, h, w = xb.shape
    flip = torch.rand(b, generator=gen) < 0.5
    shifts = torch.randint(0, 2 * pad + 1, (b, 2), generator=gen)
    xb = torch.where(flip.to(xb.device).view(b, 1, 1, 1), xb.flip(3), xb)
    padded = F.pad(xb, (pad, pad, pad, pad))
    rows = (shifts[:, 0].view(b, 1) + torch.arange(h)).to(xb.device)  # [B, H]
    cols = (shifts[:, 1].view(b, 1) + torch.arange(w)).to(xb.device)  # [B, W]
    idx_b = torch.arange(b, device=xb.device).view(b, 1, 1)
    return padded.permute(0, 2, 3, 1)[idx_b, rows.view(b, h, 1), cols.view(b, 1, w)].permute(0, 3, 1, 2)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, chunk: int = 4096) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` (in its current mode) on ``x [N, ...]``,
    ``y [N]``, in chunks of ``chunk`` samples, on the model's device."""
    dev = next(model.parameters()).device
    loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
    correct = torch.zeros((), dtype=torch.int64, device=dev)
    for i in range(0, x.shape[0], chunk):
        xb, yb = x[i:i + chunk].to(dev), y[i:i + chunk].to(dev)
        out = model(xb)
        loss_sum += F.cross_entropy(out, yb, reduction="sum").double()
        correct += (out.argmax(1) == yb).sum()
    n = x.shape[0]
    return loss_sum.item() / n, correct.item() / n


def full_grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, chunk: int = 4096) -> float:
    """Euclidean norm of the gradient of the mean cross-entropy over all of ``x``, ``y`` with
    respect to ``model.parameters()``, in the model's current mode (leaves ``.grad`` zeroed)."""
    dev = next(model.parameters()).device
    params = [p for p in model.parameters() if p.requires_grad]
    model.zero_grad(set_to_none=True)
    n = x.shape[0]
    for i in range(0, n, chunk):
        xb, yb = x[i:i + chunk].to(dev), y[i:i + chunk].to(dev)
        (F.cross_entropy(model(xb), yb, reduction="sum") / n).backward()
    norm = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params if p.grad is not None))
    model.zero_grad(set_to_none=True)
    return float(norm)


@torch.no_grad()
def recompute_bn(model: nn.Module, x: torch.Tensor, *, chunk: int = 4096) -> None:
    """Replace every BatchNorm's running statistics by their average over ``x [N, ...]`` (in
    chunks of ``chunk``), as Garipov et al.'s ``update_bn``; no-op without BatchNorm. The model's
    mode is restored afterwards."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
           and m.track_running_stats]
    if not bns:
        return
    was_training = model.training
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average = equal-weight mean over the chunks
    model.train()
    dev = next(model.parameters()).device
    for i in range(0, x.shape[0], chunk):
        model(x[i:i + chunk].to(dev))
    for m, mom in zip(bns, momenta, strict=True):
        m.momentum = mom
    model.train(was_training)


@dataclass
class _TrainState:
    """What a training checkpoint holds."""

    model: dict[str, torch.Tensor]
    optimizer: dict
    elapsed: float
    history: dict[str, list[float]]
    snapshots: list[torch.Tensor]
    snapshot_steps: list[int]
    checks: list[dict[str, float]]
    done: bool


class _TrainTask(_loop.Task):
    """One epoch of :func:`train` is ``steps`` minibatch steps over a seeded permutation of the
    data (or one full-batch gradient step); the loss is checked once per epoch."""

    def __init__(self, model: nn.Module, opt: torch.optim.Optimizer, recipe: Recipe, x: torch.Tensor,
                 y: torch.Tensor, seed: int, bs: int, steps: int, every: int | None) -> None:
        self.model, self.opt, self.recipe, self.x, self.y = model, opt, recipe, x, y
        self.seed, self.bs, self.steps, self.every = seed, bs, steps, every
        self.history: dict[str, list[float]] = {"loss": [], "lr": []}
        self.snaps: list[torch.Tensor] = []
        self.snap_steps: list[int] = []
        self.elapsed, self.t0 = 0.0, time.perf_counter()
        self.lr = recipe.lr
        self.epoch_loss = 0.0
        self.checks: list[dict[str, float]] = []
        self.done = False
        if every is not None:
            self.record(0)

    def record(self, step: int) -> None:
        flat = nn.utils.parameters_to_vector(self.model.parameters())
        self.snaps.append(flat.detach().to("cpu", torch.float32))
        self.snap_steps.append(step)

    def start_epoch(self, epoch: int, first: int) -> None:
        if first:
            raise AssertionError("training checkpoints are taken at epoch ends")
        self.gen = seeds.epoch_generator(self.seed, epoch)
        self.model.train()
        self.loss_sum = torch.zeros((), device=self.x.device)
        if self.recipe.batch_size is not None:
            self.perm = torch.randperm(len(self.x), generator=self.gen).to(self.x.device)

    def step(self, step: int) -> None:
        recipe, model, opt, x, y = self.recipe, self.model, self.opt, self.x, self.y
        epoch, s = divmod(step, self.steps)
        n = len(x)
        if recipe.batch_size is None:  # one full-batch gradient step per epoch
            self.lr = recipe.lr_at(epoch / recipe.epochs, epoch)
            for g in opt.param_groups:
                g["lr"] = self.lr
            opt.zero_grad(set_to_none=True)
            for i in range(0, n, recipe.chunk):
                xb, yb = x[i:i + recipe.chunk], y[i:i + recipe.chunk]
                loss = F.cross_entropy(model(xb), yb, reduction="sum") / n
                loss.backward()
                self.loss_sum += loss.detach()
            opt.step()
        else:
            self.lr = recipe.lr_at((epoch + s / self.steps) / recipe.epochs, epoch)
            for g in opt.param_groups:
                g["lr"] = self.lr
            idx = self.perm[s * self.bs:(s + 1) * self.bs]
            xb, yb = x[idx], y[idx]
            if recipe.augment == "flip_crop":
                xb = _flip_crop(xb, self.gen)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            self.loss_sum += loss.detach() * idx.numel()
        if self.every is not None and (step + 1) % self.every == 0:
            self.record(step + 1)

    def check(self, since: int, step: int) -> int | None:
        total = self.loss_sum if self.recipe.batch_size is None else self.loss_sum / len(self.x)
        self.epoch_loss = float(total)  # the epoch's one host synchronisation
        if not math.isfinite(self.epoch_loss):
            epoch, rec = step // self.steps - 1, self.recipe
            raise FloatingPointError(
                f"training loss became {self.epoch_loss} in epoch {epoch} of recipe {rec.name!r} "
                f"(lr={rec.lr}); lower the learning rate, e.g. recipe.replace(lr={rec.lr / 10:g})")
        return None

    def end_epoch(self, epoch: int) -> dict[str, str]:
        self.history["loss"].append(self.epoch_loss)
        self.history["lr"].append(self.lr)
        rec = self.recipe
        if rec.converge_every and (epoch + 1) % rec.converge_every == 0:
            self.done = self.convergence_check(epoch + 1)
        return {"loss": f"{self.epoch_loss:.4f}", "lr": f"{self.lr:.2e}"}

    def convergence_check(self, epochs: int) -> bool:
        """Full-training-set loss and gradient norm now (BatchNorm statistics recomputed, eval
        mode); True when the recipe's convergence criterion holds."""
        rec, model = self.recipe, self.model
        recompute_bn(model, self.x, chunk=rec.chunk)
        model.eval()
        loss, _ = evaluate(model, self.x, self.y, chunk=rec.chunk)
        grad = full_grad_norm(model, self.x, self.y, chunk=rec.chunk)
        model.train()
        prev = self.checks[-1]["loss"] if self.checks else math.inf
        self.checks.append({"epoch": epochs, "loss": loss, "grad_norm": grad})
        return (loss <= rec.loss_tol and grad <= rec.grad_tol
                and prev - loss <= rec.plateau_rtol * prev + rec.plateau_atol)

    def finished(self) -> bool:
        return self.done

    def wall(self) -> float:
        return self.elapsed + time.perf_counter() - self.t0

    def state(self) -> _TrainState:
        return _TrainState(model=self.model.state_dict(), optimizer=self.opt.state_dict(),
                           elapsed=self.wall(), history=self.history, snapshots=self.snaps,
                           snapshot_steps=self.snap_steps, checks=self.checks, done=self.done)

    def load(self, state: _TrainState, step: int) -> None:
        self.model.load_state_dict(state.model)
        self.opt.load_state_dict(state.optimizer)
        self.elapsed, self.t0 = float(state.elapsed), time.perf_counter()
        self.history = {k: list(v) for k, v in state.history.items()}
        if self.every is not None:
            self.snaps, self.snap_steps = list(state.snapshots), list(state.snapshot_steps)
        self.checks, self.done = list(state.checks), bool(state.done)


def train(model: nn.Module, data: _DataLike | tuple[torch.Tensor, torch.Tensor],
          recipe: str | Recipe, *, seed: int, device: str | torch.device = "auto",
          progress: bool = True, test: _DataLike | tuple[torch.Tensor, torch.Tensor] | None = None,
          checkpoint: str | Path | None = None, checkpoint_every: int = 1,
          warn: bool = True, record_every: int | str | None = None,
          data_digest: str | None = None) -> TrainResult:
    """Train ``model`` in place on ``data`` (``x [N, C, H, W]``, ``y [N]`` int64) with ``recipe``.

    ``seed`` fixes the minibatch order and augmentation (the initial weights are whatever
    ``model`` holds). With ``checkpoint`` set, model and optimizer state are saved there every
    ``checkpoint_every`` epochs and a later call with the same path resumes from it; the file is
    left in place (the caller deletes it once the result is stored). The checkpoint carries a
    fingerprint of the run (recipe, seed, the model's parameter names and shapes, the data:
    ``data_digest`` when the caller has one, else computed); a checkpoint of another run raises
    ``ValueError``. A resumed run takes the weights from the checkpoint, not from ``model``. Returns a
    :class:`TrainResult`; warns if the final point fails the recipe's convergence criterion.
    ``record_every`` keeps flat weight snapshots along the trajectory (``TrainResult.snapshots``):
    ``"epoch"`` at the start and after every epoch, an int ``k`` at the start and after every
    ``k``-th optimiser step (a full-batch epoch is one step); they survive a checkpoint resume.
    Raises ``FloatingPointError`` when the loss becomes NaN/inf (lower ``recipe.lr``).
    """
    recipe = get_recipe(recipe)
    dev = resolve_device(device)
    x, y = _xy(data)
    x, y = x.to(dev), y.to(dev)
    model.to(dev)
    opt = _make_optimizer(recipe, model.parameters())
    n = x.shape[0]
    bs = n if recipe.batch_size is None else min(recipe.batch_size, n)
    steps = 1 if recipe.batch_size is None else math.ceil(n / bs)
    if record_every is not None and record_every != "epoch" and (
            not isinstance(record_every, int) or isinstance(record_every, bool) or record_every < 1):
        raise ValueError(f"record_every must be None, 'epoch' or a positive int (optimiser steps), "
                         f"got {record_every!r}")
    every = steps if record_every == "epoch" else record_every
    fp = ""
    if checkpoint is not None:
        fp = fingerprint("train", recipe=recipe, seed=seed, record_every=every,
                         params=[[k, list(v.shape)] for k, v in model.state_dict().items()],
                         data=data_digest or config_hash("data", [x, y]))
    task = _TrainTask(model, opt, recipe, x, y, seed, bs, steps, every)
    done_steps = _loop.run(task, epochs=recipe.epochs, steps_per_epoch=steps, fingerprint=fp,
              checkpoint=checkpoint, checkpoint_every=checkpoint_every * steps, check_every=steps,
              progress=progress, desc=f"train {recipe.name}")

    # BatchNorm statistics of the final weights over the whole training set, not the lagging
    # running averages of training: the stored minimum is then the function the paths see
    recompute_bn(model, x, chunk=recipe.chunk)
    model.eval()
    train_loss, train_acc = evaluate(model, x, y, chunk=recipe.chunk)
    gnorm = full_grad_norm(model, x, y, chunk=recipe.chunk)
    test_loss = test_acc = float("nan")
    if test is not None:
        xt, yt = _xy(test)
        test_loss, test_acc = evaluate(model, xt, yt, chunk=recipe.chunk)
    wall = task.wall()
    converged = train_loss <= recipe.loss_tol and gnorm <= recipe.grad_tol
    if recipe.converge_every:  # the criterion held at the last check, which is this point
        converged = converged and task.done
    if warn and not converged:
        warnings.warn(
            f"training with recipe {recipe.name!r} (seed {seed}) did not converge: final train loss "
            f"{train_loss:.4g} (tolerance {recipe.loss_tol}), full-batch gradient norm {gnorm:.3g} "
            f"(tolerance {recipe.grad_tol}); train longer (recipe.replace(epochs=...)) or use a "
            "larger scale before treating this point as a minimum", stacklevel=2)
    state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    return TrainResult(state=state, train_loss=train_loss, train_acc=train_acc, test_loss=test_loss,
                       test_acc=test_acc, grad_norm=gnorm, wall_time=wall, converged=converged,
                       seed=seed, history=task.history,
                       snapshots=torch.stack(task.snaps) if every is not None else None,
                       snapshot_steps=list(task.snap_steps) if every is not None else [],
                       epochs_run=done_steps // steps, checks=task.checks)
