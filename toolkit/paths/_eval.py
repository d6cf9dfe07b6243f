"""Private: dense evaluation of optimised paths and curves on the full training set
(paper §3: optimised points *and* the straight pieces between them), with bootstrap error bars
over data chunks (App. H). Re-exported by :mod:`toolkit.paths`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from toolkit import seeds
from toolkit._device import resolve_device
from toolkit._progress import progress_bar


@dataclasses.dataclass
class PathEvaluation:
    """Full-training-set loss along every path or curve.

    Attributes:
        pairs: ``LongTensor[P, 2]``, minima joined by each path.
        t: per path ``Tensor[T_p]`` in [0, 1] -- normalised arc length for paths (Euclidean, in
            parameter space), the curve parameter for curves.
        loss, acc: per path ``Tensor[T_p]`` (``acc`` is an empty list for non-classifiers).
        node_t: per path ``Tensor[K_p]``, the ``t`` of the optimised points (empty for curves).
        max_loss: ``Tensor[P]``, the maximum of ``loss`` along each path -- the saddle estimate.
        argmax_t: ``Tensor[P]``, where it lies.
        max_loss_std: ``Tensor[P]``, bootstrap standard deviation of ``max_loss`` over resampled
            data chunks (0 for analytic objectives); see :func:`std_over_runs` for repeated runs.
        endpoint_loss: ``Tensor[P, 2]``, loss at ``t = 0`` and ``t = 1`` (the two minima).
        kind: ``"path"`` or the curve kind.
    """

    pairs: Tensor
    t: list
    loss: list
    acc: list
    node_t: list
    max_loss: Tensor
    argmax_t: Tensor
    max_loss_std: Tensor
    endpoint_loss: Tensor
    kind: str = "path"
    bootstrap: int = 0

    def __len__(self) -> int:
        return len(self.pairs)

    def saddles(self) -> dict[tuple[int, int], float]:
        """``{(i, j): max_loss}`` with ``i < j``; with several paths per pair, the lowest maximum
        (the best path found). Ready for ``tk.minima_barcode(min_losses, saddles)``."""
        out: dict[tuple[int, int], float] = {}
        for (i, j), m in zip(self.pairs.tolist(), self.max_loss.tolist()):
            key = (min(i, j), max(i, j))
            out[key] = min(out.get(key, float("inf")), m)
        return out

    def minima_losses(self) -> dict[int, float]:
        """``{i: loss of minimum i}`` as measured at the paths' ends."""
        out: dict[int, float] = {}
        for (i, j), (a, b) in zip(self.pairs.tolist(), self.endpoint_loss.tolist()):
            out[i], out[j] = a, b
        return out


def std_over_runs(evaluations: Sequence[PathEvaluation]) -> Tensor:
    """Standard deviation of ``max_loss`` across repeated runs (same pairs, other seeds), ``Tensor[P]``
    (App. H's error bars)."""
    if len(evaluations) < 2:
        raise ValueError(f"need at least 2 runs, got {len(evaluations)}")
    pairs = evaluations[0].pairs
    if any(not torch.equal(e.pairs, pairs) for e in evaluations):
        raise ValueError("all runs must evaluate the same pairs in the same order")
    return torch.stack([e.max_loss for e in evaluations]).std(dim=0)


def _path_dense(path: Tensor, between: int) -> tuple[Tensor, Tensor, Tensor]:
    """Optimised points of one path plus ``between`` equally spaced points on each straight piece:
    ``(points: Tensor[T, D], t: Tensor[T], node_t: Tensor[K])`` with ``t`` the normalised arc length."""
    K = len(path)
    s = torch.arange(between + 1, device=path.device, dtype=path.dtype) / (between + 1)
    seg = path[1:] - path[:-1]  # [K-1, D]
    pts = (path[:-1, None] + s[None, :, None] * seg[:, None]).reshape(-1, path.shape[1])
    pts = torch.cat([pts, path[-1:]])
    length = seg.norm(dim=1)
    cum = torch.cat([length.new_zeros(1), length.cumsum(0)])
    total = cum[-1].clamp_min(1e-30)
    node_t = cum / total
    t = torch.cat([(cum[:-1, None] + s[None] * length[:, None]).reshape(-1), cum[-1:]]) / total
    assert len(t) == (K - 1) * (between + 1) + 1
    return pts, t, node_t


def evaluate_dense(objective: Any, groups: list[tuple[Tensor, Tensor, Tensor]], pairs: Tensor, *,
                   kind: str, bootstrap: int, seed: int, device: str | torch.device, progress: bool,
                   max_points: int = 2048) -> PathEvaluation:
    """Evaluate per-path point sets ``[(points: Tensor[T_p, D], t: Tensor[T_p], node_t), ...]``."""
    dev = resolve_device(device)
    obj = objective.to(dev)
    gen = seeds.generator(seed)
    losses, accs, boots = [], [], []
    w = None
    # several paths per evaluate() call amortise the BN statistics pass; bounded memory
    batches, cur, n = [], [], 0
    for p, g in enumerate(groups):
        if cur and n + len(g[0]) > max_points:
            batches.append(cur)
            cur, n = [], 0
        cur.append(p)
        n += len(g[0])
    if cur:
        batches.append(cur)
    for ps in progress_bar(batches, enabled=progress, desc="evaluate", leave=False):
        pts = torch.cat([groups[p][0] for p in ps]).to(dev)
        ev = obj.evaluate(pts, return_chunks=bootstrap > 0)
        sizes = [len(groups[p][0]) for p in ps]
        losses += list(ev["loss"].cpu().split(sizes))
        if "acc" in ev:
            accs += list(ev["acc"].cpu().split(sizes))
        if bootstrap > 0:
            C = len(ev["chunk_count"])
            if w is None:  # one resampling of data chunks shared by all paths
                w = torch.multinomial(torch.full((C,), 1.0 / C), C * bootstrap, replacement=True,
                                      generator=gen).view(bootstrap, C)
                w = torch.nn.functional.one_hot(w, C).sum(1)
            cl = ev["chunk_loss"]
            wd = w.to(dev, cl.dtype)
            bl = (wd @ cl) / (wd @ ev["chunk_count"].to(cl.dtype))[:, None]  # [R, M]
            boots += [b.amax(dim=1).cpu() for b in bl.split(sizes, dim=1)]
    max_loss = torch.stack([lo.max() for lo in losses])
    argmax_t = torch.stack([g[1][lo.argmax()].cpu() for g, lo in zip(groups, losses)])
    std = torch.stack([b.std() for b in boots]) if bootstrap > 1 else torch.zeros_like(max_loss)
    return PathEvaluation(pairs=pairs.cpu(), t=[g[1].cpu() for g in groups], loss=losses, acc=accs,
                          node_t=[g[2].cpu() for g in groups], max_loss=max_loss, argmax_t=argmax_t,
                          max_loss_std=std, endpoint_loss=torch.stack([torch.stack([lo[0], lo[-1]])
                                                                       for lo in losses]),
                          kind=kind, bootstrap=int(bootstrap))


def evaluate_paths(objective: Any, pathset: Any, *, between: int = 3, n_t: int = 61,
                   bootstrap: int = 100, seed: int = 0, device: str | torch.device = "auto",
                   progress: bool = False) -> PathEvaluation:
    """Full-training-set loss (and accuracy) along every path of ``pathset``.

    Args:
        objective: the objective the paths were optimised on (or one with other data).
        pathset: a :class:`~toolkit.paths.PathSet` (or a :class:`~toolkit.curves.CurveSet`).
        between: for paths, points evaluated on each straight piece between neighbouring optimised
            points (paper §3); ``T_p = (K_p - 1)(between + 1) + 1``.
        n_t: for curves, number of equally spaced ``t`` in [0, 1].
        bootstrap: resamples of the data chunks for ``max_loss_std`` (0 to skip).
        seed: seeds the bootstrap.
        device: where to evaluate.
        progress: show a tqdm bar.

    BatchNorm statistics are recomputed for every evaluated point (see
    :class:`~toolkit.objectives.ModuleObjective`), so ``t = 0`` and ``t = 1`` give exactly the
    minima's losses as :meth:`~toolkit.objectives.ModuleObjective.evaluate` computes them.
    """
    dense: Callable[[int], tuple[Tensor, Tensor, Tensor]]
    if getattr(pathset, "kind", "path") == "path":
        def dense(p: int) -> tuple[Tensor, Tensor, Tensor]:
            return _path_dense(pathset.path(p), between)
    else:
        def dense(p: int) -> tuple[Tensor, Tensor, Tensor]:
            t = torch.linspace(0, 1, n_t, dtype=pathset.bends.dtype)
            return pathset.points_at(p, t), t, t.new_zeros(0)
    groups = [dense(p) for p in range(len(pathset))]
    return evaluate_dense(objective, groups, pathset.pairs, kind=pathset.kind, bootstrap=bootstrap,
                          seed=seed, device=device, progress=progress)
