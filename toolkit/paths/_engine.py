"""Private engine of :func:`toolkit.paths.optimize_paths`: the path state, one optimisation step
for every interior point of every active path, and the resampling that keeps paths ordered.

Layout. The interior points of the paths being optimised are one contiguous ``X: Tensor[M, D]``,
path after path (``active`` gives their order); the fixed ends of every path are
``ends: Tensor[P, 2, D]``. A step evaluates ``X`` itself (no gather), takes each point's tangent
from its neighbours (``X[k+1] - X[k-1]``, one shifted subtraction; only the first and last
interior point of each path read an end instead), and updates ``X`` and the optimiser's buffers
in place (no scatter). Per-row optimiser state lives in ``opt`` with the same row order.

Geometry (the string method; E, Ren & Vanden-Eijnden 2007). Every ``reparam_every`` steps and
after every insertion each active path is resampled: points that reverse the path's direction
(a fold: the segments before and after a point make an obtuse angle) are dropped, and the path
is re-cut into its number of points, equally spaced in arc length (optionally denser where the
loss is high). A point is out of order when one of its two segments runs backwards along its
tangent (a sharp turn whose arms are of similar length is a kink and stays). So points never cross, the tangent from the neighbours is meaningful, and a point
can be added anywhere without running out of room. Optimiser buffers are carried along by the same
interpolation and re-projected on the current tangent at every step.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor

from toolkit.paths import _kernels

_TINY = 1e-30


@dataclasses.dataclass
class PathState:
    """Everything that evolves during path optimisation (tensors on the run's device).

    ``status[p]`` is ``"active"``, ``"converged"`` (its tracked maximum stopped falling) or
    ``"pruned"`` (it can no longer change the barcode); stopped paths keep their interior points
    in ``frozen[p]``.
    """

    ends: Tensor  # [P, 2, D]
    n: list[int]  # points per path, ends included
    X: Tensor  # [M, D] interior points of the active paths, in `active` order
    opt: dict[str, Tensor]  # per-row optimiser state: [M, D] buffers, [M] counts
    active: list[int]
    frozen: dict[int, Tensor]  # stopped path -> [n_p - 2, D]
    best: dict[int, Tensor]  # path -> interior at its lowest tracked maximum so far
    acc: dict[str, Tensor]  # per-row epoch sums ([M]) and the step count ([])
    bad: Tensor  # [M] non-finite losses/gradients since the last check
    last_loss: Tensor  # [M] minibatch loss of each row at the last step
    status: list[str]
    stopped_epoch: list[int]
    lr_scale: float = 1.0
    point_steps: int = 0  # interior points x steps optimised so far (the compute spent)
    diag: dict[str, list] = dataclasses.field(default_factory=dict)
    track: dict[str, list] = dataclasses.field(default_factory=dict)
    insertions: list[list[int]] = dataclasses.field(default_factory=list)  # [epoch, path, added]
    events: list[str] = dataclasses.field(default_factory=list)

    # ------------------------------------------------------------------ construction

    @classmethod
    def straight(cls, minima: Tensor, pairs: Tensor, n_points: int, optimizer: str) -> PathState:
        """Paths initialised with ``n_points`` equally spaced points on the straight segments."""
        a, b = minima[pairs[:, 0]], minima[pairs[:, 1]]  # [P, D]
        P, D = a.shape
        s = torch.linspace(0, 1, n_points, device=minima.device, dtype=minima.dtype)[1:-1]
        X = (a[:, None] + s[None, :, None] * (b - a)[:, None]).reshape(-1, D)
        st = cls(ends=torch.stack([a, b], 1), n=[n_points] * P, X=X, opt={}, active=list(range(P)),
                 frozen={}, best={}, acc={}, bad=X.new_zeros(len(X)), last_loss=X.new_zeros(len(X)),
                 status=["active"] * P, stopped_epoch=[-1] * P)
        st.opt = _new_opt(X, optimizer)
        st.reset_acc()
        st.diag = {"epoch": [], "grad_tangent": [], "grad_normal": [], "loss": []}
        st.track = {"epoch": [], "max": [], "end_loss": None}
        return st

    def reset_acc(self) -> None:
        self.acc = {k: self.X.new_zeros(len(self.X)) for k in ("grad_tangent", "grad_normal", "loss")}
        self.acc["steps"] = self.X.new_zeros(())

    @property
    def P(self) -> int:
        return int(self.ends.shape[0])

    def interior(self, p: int) -> Tensor:
        """Interior points of path ``p``: ``Tensor[n_p - 2, D]`` (a view for active paths)."""
        if p in self.frozen:
            return self.frozen[p]
        lay = Layout(self)
        i = self.active.index(p)
        return self.X[lay.offsets[i]:lay.offsets[i] + lay.sizes[i]]

    def path(self, p: int) -> Tensor:
        """All points of path ``p``, ends included: ``Tensor[n_p, D]``."""
        return torch.cat([self.ends[p, :1], self.interior(p), self.ends[p, 1:]])

    def nonfinite(self) -> bool:
        """Whether a non-finite loss, gradient or position appeared since the last reset (one
        host synchronisation); marks the offending rows in ``bad``."""
        self.bad += (~torch.isfinite(self.X).all(dim=1)).to(self.bad.dtype)
        return bool((self.bad > 0).any())

    def first_bad(self) -> tuple[int, int, int]:
        """``(path, point index along it, number of bad rows)`` of the first non-finite row."""
        rows = (self.bad > 0).nonzero().flatten().tolist()
        lay = Layout(self)
        i = int(torch.searchsorted(torch.tensor(lay.offsets), rows[0], right=True)) - 1
        return self.active[i], rows[0] - lay.offsets[i] + 1, len(rows)

    def clone(self) -> PathState:
        return dataclasses.replace(
            self, ends=self.ends, n=list(self.n), X=self.X.clone(),
            opt={k: v.clone() for k, v in self.opt.items()}, active=list(self.active),
            frozen=dict(self.frozen), best=dict(self.best), acc={k: v.clone() for k, v in self.acc.items()},
            bad=self.bad.clone(), last_loss=self.last_loss.clone(), status=list(self.status),
            stopped_epoch=list(self.stopped_epoch), diag={k: list(v) for k, v in self.diag.items()},
            track={k: (list(v) if isinstance(v, list) else v) for k, v in self.track.items()},
            insertions=[list(i) for i in self.insertions], events=list(self.events))

    # ------------------------------------------------------------------ epoch bookkeeping

    def close_epoch(self, epoch: int) -> None:
        """Append this epoch's mean diagnostics as ``Tensor[P, Kmax]`` (``NaN`` at the ends, in the
        padding and for stopped paths) and reset the accumulators."""
        steps = self.acc["steps"].clamp_min(1)
        K = max(self.n)
        lay = Layout(self)
        rows = lay.slot_index(K)  # [M] flat index into [P, K]
        self.diag["epoch"].append(int(epoch))
        for k in ("grad_tangent", "grad_normal", "loss"):
            out = torch.full((self.P * K,), float("nan"), dtype=self.X.dtype)
            out[rows.cpu()] = (self.acc[k] / steps).cpu()
            self.diag[k].append(out.view(self.P, K))
        self.reset_acc()


def _new_opt(X: Tensor, optimizer: str) -> dict[str, Tensor]:
    if optimizer == "sgd":
        return {"buf": torch.zeros_like(X)}
    return {"m": torch.zeros_like(X), "v": torch.zeros_like(X), "count": X.new_zeros(len(X))}


class Layout:
    """Derived row bookkeeping of a :class:`PathState` (recomputed whenever rows change)."""

    def __init__(self, st: PathState) -> None:
        self.sizes = [st.n[p] - 2 for p in st.active]
        self.offsets = [0]
        for s in self.sizes[:-1]:
            self.offsets.append(self.offsets[-1] + s)
        dev = st.X.device
        nonempty = [i for i, s in enumerate(self.sizes) if s > 0]
        self.blocks = torch.tensor(nonempty, dtype=torch.long, device=dev)
        first = [self.offsets[i] for i in nonempty]
        last = [self.offsets[i] + self.sizes[i] - 1 for i in nonempty]
        self.first = torch.tensor(first, dtype=torch.long, device=dev)
        self.last = torch.tensor(last, dtype=torch.long, device=dev)
        self.single = (self.first == self.last)[:, None]
        act = torch.tensor([st.active[i] for i in nonempty], dtype=torch.long, device=dev)
        self.A = st.ends[act, 0] if len(act) else st.ends[:0, 0]
        self.B = st.ends[act, 1] if len(act) else st.ends[:0, 1]
        self.M = sum(self.sizes)
        self.active = list(st.active)
        self.n = list(st.n)

    def work(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Two ``[M, D]`` work arrays (tangents, products), allocated once per layout: a step
        then allocates nothing of that size."""
        if getattr(self, "_work", None) is None or self._work[0].shape != X.shape:
            self._work = (torch.empty_like(X), torch.empty_like(X))
        return self._work

    def slot_index(self, K: int) -> Tensor:
        """``LongTensor[M]``: flat index into a ``[P, K]`` table of each row's (path, slot)."""
        idx = [p * K + 1 + j for p, s in zip(self.active, self.sizes) for j in range(s)]
        return torch.tensor(idx, dtype=torch.long)

    def row_block(self) -> Tensor:
        """``LongTensor[M]``: the block (position in ``active``) of every row."""
        return torch.repeat_interleave(torch.arange(len(self.sizes)), torch.tensor(self.sizes))


def tangents(X: Tensor, lay: Layout, out: Tensor | None = None) -> Tensor:
    """Unnormalised tangents ``θ_{k+1} − θ_{k−1}`` of every row of ``X: Tensor[M, D]`` (the first
    and last interior point of a path use its ends) -> ``Tensor[M, D]`` (into ``out`` if given)."""
    d = torch.empty_like(X) if out is None else out
    if len(X) > 2:
        torch.sub(X[2:], X[:-2], out=d[1:-1])
    if len(lay.first):
        nxt = torch.where(lay.single, lay.B, X.index_select(0, (lay.first + 1).clamp(max=len(X) - 1)))
        prv = torch.where(lay.single, lay.A, X.index_select(0, (lay.last - 1).clamp(min=0)))
        d.index_copy_(0, lay.first, nxt - lay.A)
        d.index_copy_(0, lay.last, lay.B - prv)
    return d


def path_step(st: PathState, lay: Layout, objective: Any, batch: Any, *, lr: float, optimizer: str,
              momentum: float, weight_decay: float, betas: tuple[float, float], eps: float,
              max_step: float = 0.5, fused: bool = False) -> None:
    """One in-place update of every interior point of every active path (no host
    synchronisation): one vectorised loss and gradient of all rows on the minibatch, then the
    projected update -- SGD: ``b ← P⊥(μ·b + g)``, ``θ ← (1 − lr·λ)θ − lr·b`` with ``P⊥`` removing
    the component along the current tangent (so the momentum buffer stays orthogonal to the path;
    the L2 term is not projected, as in the paper); Adam on ``P⊥(g) + λθ`` with its step projected
    too (Adam's per-coordinate scaling would otherwise slide points along the path). The step of
    every point is clipped to ``max_step`` × half the distance between its neighbours. ``fused``
    uses the compiled update of :mod:`toolkit.paths._kernels` when it is available."""
    X = st.X
    theta = X.detach().requires_grad_(True)  # shares storage with X: no copy
    loss = objective.loss(theta, batch)
    (g,) = torch.autograd.grad(loss.sum(), theta)
    loss = loss.detach()
    with torch.no_grad():
        out = None
        if fused:
            hyper = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, max_step=max_step,
                         b1=betas[0], b2=betas[1], eps=eps)
            out = _kernels.fused_step(optimizer, X, g, st.opt, lay, hyper)
        if out is None:
            work, scratch = lay.work(X)
            d = tangents(X, lay, out=work)
            if optimizer == "sgd":
                out = _kernels.sgd_eager(X, d, g, st.opt.get("buf"), lr, momentum, weight_decay,
                                         max_step, scratch)
            else:
                out = _kernels.adam_eager(X, d, g, st.opt["m"], st.opt["v"], st.opt["count"], lr,
                                          weight_decay, betas, eps, max_step, scratch)
        gd, dd, gn2 = out
        # App. E diagnostics and the non-finite flag, on the device ([M]-sized, cheap)
        acc = st.acc
        acc["grad_tangent"] += gd.abs() / dd.sqrt()
        acc["grad_normal"] += gn2.sqrt()
        acc["loss"] += loss
        acc["steps"] += 1
        st.last_loss = loss
        st.bad += (~(torch.isfinite(loss) & torch.isfinite(gn2) & torch.isfinite(gd))).to(st.bad.dtype)
    st.point_steps += len(X)


def stop_paths(st: PathState, paths: list[int], status: str, epoch: int) -> None:
    """Freeze ``paths`` (remove their rows from the optimised block) with ``status``; a path
    with a snapshot in ``best`` (its lowest tracked maximum) is frozen at that snapshot."""
    if not paths:
        return
    lay = Layout(st)
    keep_rows = []
    for i, p in enumerate(lay.active):
        o, s = lay.offsets[i], lay.sizes[i]
        if p in paths:
            st.frozen[p] = st.best.pop(p, st.X[o:o + s]).clone()
            st.n[p] = len(st.frozen[p]) + 2
            st.status[p], st.stopped_epoch[p] = status, int(epoch)
        else:
            keep_rows.append(torch.arange(o, o + s))
    idx = torch.cat(keep_rows).to(st.X.device) if keep_rows else torch.zeros(0, dtype=torch.long,
                                                                              device=st.X.device)
    st.active = [p for p in st.active if p not in paths]
    st.X = st.X.index_select(0, idx)
    st.opt = {k: v.index_select(0, idx) for k, v in st.opt.items()}
    st.acc = {k: (v.index_select(0, idx) if v.dim() else v) for k, v in st.acc.items()}
    st.bad = st.bad.index_select(0, idx)
    st.last_loss = st.last_loss.index_select(0, idx)
