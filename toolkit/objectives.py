"""Objectives: what the path, curve and triangle optimisers minimise.

An objective maps a *batch of points* in parameter space, ``theta: Tensor[B, D]``, to their losses
``Tensor[B]`` on one shared minibatch. Two implementations cover the book:

- :class:`FunctionObjective` wraps an analytic torch function of ``D`` variables (2D test landscapes);
  it has no data, an "epoch" is a configurable number of steps.
- :class:`ModuleObjective` wraps any ``nn.Module`` and a training set; a point is the flat parameter
  vector in the order of ``torch.nn.utils.parameters_to_vector(model.parameters())`` and all points are
  evaluated in one ``torch.func.vmap`` over ``functional_call``.

BatchNorm (``ModuleObjective``): during optimisation every point normalises with its own batch
statistics of the current minibatch (running statistics are never read or updated). For evaluation the
statistics are recomputed for every point over the whole training set -- the average of per-chunk
batch means and unbiased variances, exactly what ``torch.optim.swa_utils.update_bn`` computes on a
single model fed the same chunks -- and the loss is then computed in eval mode. A minimum evaluated
through :meth:`ModuleObjective.evaluate` therefore gets the same number as the same minimum on a path.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, vmap

from toolkit import seeds

__all__ = [
    "FunctionObjective",
    "ModuleObjective",
    "Objective",
    "flatten_params",
    "unflatten_params",
]


class Objective:
    """Base class of the objectives the optimisers accept.

    Subclasses define ``dim`` (the number of parameters ``D``), :meth:`loss`, :meth:`batches`,
    :meth:`steps_per_epoch`, :meth:`evaluate` and :meth:`to`.
    """

    dim: int
    #: whether :meth:`evaluate` returns an ``acc`` entry
    is_classifier: bool = False

    def loss(self, theta: Tensor, batch: Any) -> Tensor:
        """Differentiable loss of every point on one minibatch: ``Tensor[B, D] -> Tensor[B]``."""
        raise NotImplementedError

    def batches(self, batch_size: int, generator: torch.Generator) -> Iterator[Any]:
        """Yield the minibatches of one epoch (``steps_per_epoch(batch_size)`` of them)."""
        raise NotImplementedError

    def steps_per_epoch(self, batch_size: int) -> int:
        """Number of minibatches :meth:`batches` yields."""
        raise NotImplementedError

    def evaluate(self, theta: Tensor, *, return_chunks: bool = False) -> dict[str, Tensor]:
        """Full-training-set metrics of every point, no gradient.

        Returns ``{"loss": Tensor[B]}`` (plus ``"acc": Tensor[B]`` for classifiers). With
        ``return_chunks=True`` also ``"chunk_loss": Tensor[C, B]`` (summed loss per data chunk),
        ``"chunk_correct": Tensor[C, B]`` and ``"chunk_count": Tensor[C]``, used for bootstrap error
        bars over data subsets.
        """
        raise NotImplementedError

    def to(self, device: torch.device) -> Objective:
        """This objective with its data and model on ``device`` (may return ``self``)."""
        raise NotImplementedError

    def subset(self, n: int | None, seed: int = 0) -> Objective:
        """The same loss on a fixed subset of at most ``n`` training samples (``self`` when there
        is no data or ``n`` is None); used to track path maxima cheaply during optimisation."""
        return self

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")


class FunctionObjective(Objective):
    """An analytic, differentiable landscape ``fn(theta: Tensor[..., D]) -> Tensor[...]``.

    ``steps_per_epoch`` sets how many optimisation steps make one "epoch" (there is no data); the
    minibatch passed to :meth:`loss` is ``None``. The landscape is exact (no gradient noise), so path
    maxima converge to saddle values up to the path's resolution. ``chunk`` bounds how many points
    :meth:`evaluate` passes to ``fn`` at once.
    """

    def __init__(self, fn: Callable[[Tensor], Tensor], dim: int, *, steps_per_epoch: int = 10,
                 chunk: int = 65536) -> None:
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.fn = fn
        self.dim = int(dim)
        self._steps = int(steps_per_epoch)
        self._chunk = int(chunk)
        self._device = torch.device("cpu")

    def loss(self, theta: Tensor, batch: Any = None) -> Tensor:
        """``fn(theta)``: ``Tensor[B, D] -> Tensor[B]``."""
        return self.fn(theta)

    def batches(self, batch_size: int, generator: torch.Generator) -> Iterator[None]:
        for _ in range(self._steps):
            yield None

    def steps_per_epoch(self, batch_size: int) -> int:
        return self._steps

    @torch.no_grad()
    def evaluate(self, theta: Tensor, *, return_chunks: bool = False) -> dict[str, Tensor]:
        loss = torch.cat([self.fn(c) for c in theta.split(self._chunk)]) if len(theta) else \
            theta.new_zeros(0)
        out = {"loss": loss}
        if return_chunks:
            # one "chunk" holding everything: bootstrap over data gives zero spread, as it should
            out.update(chunk_loss=loss[None], chunk_correct=torch.zeros_like(loss)[None],
                       chunk_count=torch.ones(1, device=loss.device, dtype=loss.dtype))
        return out

    def to(self, device: torch.device) -> FunctionObjective:
        new = copy.copy(self)
        new._device = torch.device(device)
        return new

    @property
    def device(self) -> torch.device:
        return self._device


# --------------------------------------------------------------------------- flat parameters


def flatten_params(model: nn.Module) -> Tensor:
    """The model's parameters as one flat vector ``Tensor[D]`` (detached copy), in the order of
    ``torch.nn.utils.parameters_to_vector(model.parameters())``."""
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()


def unflatten_params(model: nn.Module, flat: Tensor) -> dict[str, Tensor]:
    """Split ``flat: Tensor[..., D]`` into ``{name: Tensor[..., *param.shape]}`` (views of ``flat``,
    differentiable) in ``model.named_parameters()`` order."""
    names, shapes = _param_layout(model)
    return _split(flat, names, shapes)


def _param_layout(model: nn.Module) -> tuple[list[str], list[torch.Size]]:
    named = list(model.named_parameters())
    return [n for n, _ in named], [p.shape for _, p in named]


def _split(flat: Tensor, names: list[str], shapes: list[torch.Size]) -> dict[str, Tensor]:
    sizes = [s.numel() for s in shapes]
    if flat.shape[-1] != sum(sizes):
        raise ValueError(f"flat parameter vector has {flat.shape[-1]} entries, model has {sum(sizes)}")
    lead = flat.shape[:-1]
    return {n: c.reshape(*lead, *s) for n, c, s in zip(names, flat.split(sizes, dim=-1), shapes)}


def _is_bn(m: nn.Module) -> bool:
    return isinstance(m, nn.modules.batchnorm._BatchNorm)


_LOSSES: dict[str, Callable[..., Tensor]] = {
    "cross_entropy": F.cross_entropy,
    "mse": F.mse_loss,
}


class ModuleObjective(Objective):
    """Loss of an ``nn.Module`` on a training set ``(x, y)`` as a function of its flat parameters.

    Args:
        model: any module; it is copied, never modified. Dropout is disabled (eval mode) so the
            loss is a deterministic function of the point and the minibatch.
        x: inputs ``Tensor[N, ...]``; y: targets ``Tensor[N]`` (class indices, checked to lie in
            ``[0, number of outputs)``) or ``Tensor[N, ...]``.
        loss: ``"cross_entropy"``, ``"mse"`` or ``callable(output, target, reduction=...)`` with
            torch's functional-loss signature.
        eval_chunk: data chunk size of :meth:`evaluate` (also the unit of the data bootstrap).
        point_chunk: how many points :meth:`evaluate` pushes through one vmapped call.
        batching: how all points are pushed through the network: ``"vmap"`` (one vectorised call),
            ``"loop"`` (one ``functional_call`` per point, the same shared module), or ``"auto"``:
            ``"loop"`` for a network with convolutions on the CPU -- where torch turns a vmap over
            weights into a grouped convolution that is slower than separate ones (measured: CNN-2-8,
            14 points, 0.8x a per-point loop) -- and ``"vmap"`` otherwise.
        drop_last: drop the last incomplete minibatch of an epoch (default when the model has
            BatchNorm would be needed anyway for a size-1 batch; on by default for equal batches).
        bn_x: inputs ``Tensor[M, ...]`` over which :meth:`evaluate` recomputes the BatchNorm
            statistics (default ``x``): pass the training inputs to score a held-out set ``x``
            with training-set statistics, as a trained model is deployed.
    """

    def __init__(self, model: nn.Module, x: Tensor, y: Tensor, loss: str | Callable = "cross_entropy",
                 *, eval_chunk: int = 1000, point_chunk: int = 64, drop_last: bool = True,
                 batching: str = "auto", bn_x: Tensor | None = None) -> None:
        if batching not in ("auto", "vmap", "loop"):
            raise ValueError(f"batching={batching!r}; use 'auto', 'vmap' or 'loop'")
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
        if isinstance(loss, str):
            if loss not in _LOSSES:
                raise ValueError(f"loss={loss!r}; use one of {sorted(_LOSSES)} or a callable")
            self.loss_name, self._loss_fn = loss, _LOSSES[loss]
        else:
            self.loss_name, self._loss_fn = getattr(loss, "__name__", "custom"), loss
        self.is_classifier = self.loss_name == "cross_entropy"
        self.x, self.y = x, y
        self.bn_x = bn_x
        self.eval_chunk, self.point_chunk, self.drop_last = int(eval_chunk), int(point_chunk), drop_last
        self._names, self._shapes = _param_layout(model)
        self.dim = sum(s.numel() for s in self._shapes)
        self.has_bn = any(_is_bn(m) for m in model.modules())
        self.batching = batching
        self._has_conv = any(isinstance(m, nn.modules.conv._ConvNd) for m in model.modules())
        # Training copy: BN layers without running statistics always normalise with batch
        # statistics, so vmap never has to write to an unbatched buffer.
        self._train_model = copy.deepcopy(model).eval()
        for m in self._train_model.modules():
            if _is_bn(m):
                m.track_running_stats = False
                m.running_mean = m.running_var = m.num_batches_tracked = None
        # Evaluation copy: BN with momentum 1, so after a train-mode forward its (batched) running
        # buffers hold exactly that chunk's batch mean / unbiased variance, which we average.
        self._eval_model = copy.deepcopy(model).eval()
        for m in self._eval_model.modules():
            if _is_bn(m):
                m.momentum = 1.0
                m.num_batches_tracked = None  # would be an in-place write to an unbatched buffer
        self._bn_names = [n for n, b in self._eval_model.named_buffers()
                          if _is_bn(self._owner(self._eval_model, n)) and not n.endswith("num_batches_tracked")]
        self._other_buffers = {n: b for n, b in self._train_model.named_buffers()}
        self._eval_other = {n: b for n, b in self._eval_model.named_buffers()
                            if not _is_bn(self._owner(self._eval_model, n))}
        if self.is_classifier:
            self._check_labels()

    def _check_labels(self) -> None:
        """Class-index targets must lie in ``[0, number of outputs)``; checked once here (one
        forward of one sample) because inside the vmapped loss a bad label is an opaque error,
        and a label of -100 would be silently ignored by ``cross_entropy``."""
        y = self.y
        if len(y) == 0 or y.is_floating_point() or y.dim() != 1:
            return  # no samples, or class probabilities: nothing to index
        param = next(self._eval_model.parameters(), None)
        with torch.no_grad():
            out = self._eval_model(self.x[:1].to(param.device if param is not None else y.device))
        if out.dim() != 2:
            return
        classes = int(out.shape[1])
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= classes:
            raise ValueError(f"labels must lie in [0, {classes}) for this model's {classes} outputs, "
                             f"got labels from {lo} to {hi}: a model built for another data set?")

    @staticmethod
    def _owner(model: nn.Module, name: str) -> nn.Module:
        return model.get_submodule(name.rpartition(".")[0]) if "." in name else model

    # ------------------------------------------------------------------ data

    @property
    def device(self) -> torch.device:
        return self.x.device

    def _map(self, fn: Callable, batched: tuple, shared: tuple = ()) -> Any:
        """``fn`` over points: ``vmap(fn, in_dims=(0,)*len(batched) + (None,)*len(shared))`` or,
        per :attr:`batching`, a loop over the points stacking the results."""
        loop = self.batching == "loop" or (self.batching == "auto" and self._has_conv
                                           and self.x.device.type == "cpu")
        if not loop:
            return vmap(fn, in_dims=(0,) * len(batched) + (None,) * len(shared))(*batched, *shared)
        B = len(next(iter(batched[0].values())))
        outs = [fn(*({k: v[i] for k, v in b.items()} for b in batched), *shared) for i in range(B)]
        if isinstance(outs[0], tuple):
            return tuple(torch.stack(o) for o in zip(*outs))
        return torch.stack(outs)

    def to(self, device: torch.device) -> ModuleObjective:
        device = torch.device(device)
        if device == self.x.device:
            return self
        new = copy.copy(self)
        new.x, new.y = self.x.to(device), self.y.to(device)
        new.bn_x = None if self.bn_x is None else self.bn_x.to(device)
        new._train_model = copy.deepcopy(self._train_model).to(device)
        new._eval_model = copy.deepcopy(self._eval_model).to(device)
        new._other_buffers = {n: b for n, b in new._train_model.named_buffers()}
        new._eval_other = {n: b for n, b in new._eval_model.named_buffers()
                           if not _is_bn(self._owner(new._eval_model, n))}
        return new

    def subset(self, n: int | None, seed: int = 0) -> ModuleObjective:
        """This objective on the first ``n`` samples of a seeded permutation of the data."""
        if n is None or n >= len(self.x):
            return self
        idx = torch.randperm(len(self.x), generator=seeds.generator(seed))[:n].to(self.x.device)
        new = copy.copy(self)
        new.x, new.y = self.x[idx], self.y[idx]
        return new

    def steps_per_epoch(self, batch_size: int) -> int:
        n = len(self.x)
        if self.drop_last and n >= batch_size:
            return n // batch_size
        return -(-n // batch_size)

    def batches(self, batch_size: int, generator: torch.Generator) -> Iterator[tuple[Tensor, Tensor]]:
        """A random permutation of the training set in ``steps_per_epoch`` minibatches
        ``(x: Tensor[b, ...], y: Tensor[b])``; ``generator`` is a CPU generator."""
        perm = torch.randperm(len(self.x), generator=generator).to(self.x.device)
        for i in range(self.steps_per_epoch(batch_size)):
            idx = perm[i * batch_size:(i + 1) * batch_size]
            yield self.x[idx], self.y[idx]

    # ------------------------------------------------------------------ losses

    def loss(self, theta: Tensor, batch: tuple[Tensor, Tensor]) -> Tensor:
        """Mean minibatch loss of every point, ``Tensor[B, D] -> Tensor[B]``, one vmapped call.
        BatchNorm uses each point's own batch statistics."""
        xb, yb = batch
        params = _split(theta, self._names, self._shapes)
        bufs = self._other_buffers

        def one(p: dict[str, Tensor]) -> Tensor:
            out = functional_call(self._train_model, (p, bufs), (xb,))
            return self._loss_fn(out, yb)

        return self._map(one, (params,))

    @torch.no_grad()
    def evaluate(self, theta: Tensor, *, return_chunks: bool = False) -> dict[str, Tensor]:
        """Full-training-set loss (and accuracy) of every point, ``Tensor[B, D]`` ->
        ``{"loss": Tensor[B], "acc": Tensor[B]}``; see :class:`Objective`. Points are processed
        ``point_chunk`` at a time, data ``eval_chunk`` samples at a time."""
        parts = [self._evaluate_chunk(c) for c in theta.split(self.point_chunk)] if len(theta) else []
        if not parts:
            z = theta.new_zeros(0)
            parts = [{"chunk_loss": z[None], "chunk_correct": z[None],
                      "chunk_count": theta.new_ones(1)}]
        chunk_loss = torch.cat([p["chunk_loss"] for p in parts], dim=1)
        chunk_correct = torch.cat([p["chunk_correct"] for p in parts], dim=1)
        count = parts[0]["chunk_count"]
        out = {"loss": chunk_loss.sum(0) / count.sum()}
        if self.is_classifier:
            out["acc"] = chunk_correct.sum(0) / count.sum()
        if return_chunks:
            out.update(chunk_loss=chunk_loss, chunk_correct=chunk_correct, chunk_count=count)
        return out

    def _chunks(self) -> list[tuple[Tensor, Tensor]]:
        return list(zip(self.x.split(self.eval_chunk), self.y.split(self.eval_chunk)))

    def bn_statistics(self, theta: Tensor) -> dict[str, Tensor]:
        """BatchNorm running statistics of every point recomputed over the training set (or
        ``bn_x``): ``{buffer_name: Tensor[B, C]}`` (empty without BN). Equals ``update_bn`` with
        the same ``eval_chunk``-sized chunks in order."""
        if not self.has_bn:
            return {}
        params = _split(theta, self._names, self._shapes)
        model = self._eval_model
        stats = {n: theta.new_zeros(len(theta), *dict(model.named_buffers())[n].shape)
                 for n in self._bn_names}
        chunks = self._chunks() if self.bn_x is None else [(c, None) for c in self.bn_x.split(self.eval_chunk)]
        acc = {n: torch.zeros_like(v) for n, v in stats.items()}
        for m in model.modules():
            if _is_bn(m):
                m.train()
        try:
            def one(p: dict[str, Tensor], s: dict[str, Tensor], xb: Tensor) -> Tensor:
                return functional_call(model, (p, {**s, **self._eval_other}), (xb,))

            for xb, _ in chunks:
                # writes this chunk's batch statistics into ``stats`` (momentum 1)
                self._map(one, (params, stats), (xb,))
                for n in acc:
                    acc[n] += stats[n]
        finally:
            model.eval()
        return {n: v / len(chunks) for n, v in acc.items()}

    def _evaluate_chunk(self, theta: Tensor) -> dict[str, Tensor]:
        params = _split(theta, self._names, self._shapes)
        stats = self.bn_statistics(theta)
        model = self._eval_model
        losses, corrects, counts = [], [], []

        def one(p: dict[str, Tensor], s: dict[str, Tensor], xb: Tensor, yb: Tensor
                ) -> tuple[Tensor, Tensor]:
            out = functional_call(model, (p, {**s, **self._eval_other}), (xb,))
            loss = self._loss_fn(out, yb, reduction="sum")
            if self.is_classifier:
                return loss, (out.argmax(-1) == yb).sum()
            return loss, loss.new_zeros(())

        for xb, yb in self._chunks():
            lo, co = self._map(one, (params, stats), (xb, yb))
            losses.append(lo)
            corrects.append(co.to(lo.dtype))
            counts.append(float(yb.numel() if self.loss_name == "mse" else len(xb)))
        return {"chunk_loss": torch.stack(losses), "chunk_correct": torch.stack(corrects),
                "chunk_count": torch.tensor(counts, device=theta.device, dtype=theta.dtype)}
