"""Private: certified evaluation of optimised paths and curves on the full training set (paper
§3: the optimised points *and* the straight pieces between them), with bootstrap error bars over
data chunks (App. H). Re-exported by :mod:`toolkit.paths`.

Adaptive refinement. A path is first sampled at its optimised points plus ``between`` points on
every straight piece (curves: ``n_t`` equally spaced parameters). Then, round after round, every
interval between neighbouring samples whose possible peak comes within ``tol`` (relative to the
path's loss range) of the current maximum is halved: the possible peak is the larger end value,
or, where the loss rises into the interval from the left and falls out of it to the right, the
crossing of the two neighbouring secants (a peak hidden between samples). Refinement stops when
no such interval is wider than ``resolution`` (in normalised ``t``): the maximum is then
*certified* at that resolution. A kink between two optimised points is found by its rising and
falling neighbours, not left to the luck of a fixed grid.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
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
        t: per path ``Tensor[T_p]`` in [0, 1], sorted -- normalised arc length for paths (Euclidean,
            in parameter space), the curve parameter for curves.
        loss, acc: per path ``Tensor[T_p]`` (``acc`` is an empty list for non-classifiers).
        node_t: per path ``Tensor[K_p]``, the ``t`` of the optimised points (empty for curves).
        max_loss: ``Tensor[P]``, the maximum of ``loss`` along each path -- the saddle estimate.
        argmax_t: ``Tensor[P]``, where it lies.
        resolution: ``Tensor[P]``, the spacing of the samples around the maximum (in ``t``).
        certified: ``BoolTensor[P]``, refinement ended with no interval left that could hide a
            higher peak (within ``tol``) wider than the resolution asked for.
        max_loss_std: ``Tensor[P]``, bootstrap standard deviation of ``max_loss`` over resampled
            data chunks (0 for analytic objectives); see :func:`std_over_runs` for repeated runs.
        endpoint_loss: ``Tensor[P, 2]``, loss at ``t = 0`` and ``t = 1`` (the two minima).
        status: per path, the optimisation's verdict (``"converged"``, ``"pruned"``, ``"budget"``;
            ``"curve"`` for curves, trained for a fixed budget): only a converged maximum estimates
            a saddle, the others are upper bounds.
        kind: ``"path"`` or the curve kind; bootstrap: resamples used; rounds: refinement rounds.
    """

    pairs: Tensor
    t: list
    loss: list
    acc: list
    node_t: list
    max_loss: Tensor
    argmax_t: Tensor
    resolution: Tensor
    certified: Tensor
    max_loss_std: Tensor
    endpoint_loss: Tensor
    status: list
    kind: str = "path"
    bootstrap: int = 0
    rounds: int = 0

    def __len__(self) -> int:
        return len(self.pairs)

    def saddles(self, exclude: tuple[str, ...] = ()) -> dict[tuple[int, int], float]:
        """``{(i, j): max_loss}`` with ``i < j``; with several paths per pair, the lowest maximum
        (the best path found). Ready for ``tk.minima_barcode(min_losses, saddles)``. ``exclude``
        leaves out paths of those statuses, e.g. ``("pruned",)``: a pruned path cannot lower a bar
        by more than the pruning tolerance, and without it every bar ends on a converged path."""
        out: dict[tuple[int, int], float] = {}
        for (i, j), m, s in zip(self.pairs.tolist(), self.max_loss.tolist(), self.status):
            if s in exclude:
                continue
            key = (min(i, j), max(i, j))
            out[key] = min(out.get(key, float("inf")), m)
        return out

    def upper_bounds(self) -> list[tuple[int, int]]:
        """Pairs whose maximum is only an upper bound of the saddle (the path did not converge)."""
        return [(min(i, j), max(i, j)) for (i, j), s in zip(self.pairs.tolist(), self.status)
                if s != "converged"]

    def dips(self) -> Tensor:
        """Per path ``Tensor[P]``: how far the loss along it falls below the lower of its two
        ends (0 when it never does). A dip next to an end means that end is not yet a minimum at
        this precision (the path runs downhill from it, and its bar starts too high by about the
        dip); a dip in the middle, that the path crosses a lower valley."""
        return torch.stack([(e.min() - lo.min()).clamp_min(0) for e, lo in
                            zip(self.endpoint_loss, self.loss)]) if len(self) else torch.zeros(0)

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


def _initial_t(pathset: Any, p: int, between: int, n_t: int) -> tuple[Tensor, Tensor]:
    """The first samples of path ``p``: ``(t, node_t)``."""
    if getattr(pathset, "kind", "path") != "path":
        return torch.linspace(0, 1, n_t, dtype=torch.float64), torch.zeros(0, dtype=torch.float64)
    node = pathset.node_t(p).double()
    s = torch.arange(between + 1, dtype=torch.float64) / (between + 1)
    t = torch.cat([(node[:-1, None] + s[None] * (node[1:] - node[:-1])[:, None]).reshape(-1), node[-1:]])
    return t, node


def _candidates(t: Tensor, v: Tensor, tol: float, resolution: float, limit: int) -> Tensor:
    """Midpoints of the intervals of ``(t [T] sorted, v [T])`` that could hide a peak within
    ``tol`` of the current maximum and are wider than ``resolution`` (at most ``limit``, highest
    possible peak first)."""
    T = len(t)
    if T < 2:
        return t.new_zeros(0)
    width = t[1:] - t[:-1]
    est = torch.maximum(v[:-1], v[1:])
    if T >= 4:  # secant crossing where the loss rises into an interval and falls out of it
        slope = (v[1:] - v[:-1]) / width.clamp_min(1e-300)
        sl, sr = slope[:-2], slope[2:]  # slopes left of interval i+1 and right of it
        ta, tb, va, vb = t[1:-2], t[2:-1], v[1:-2], v[2:-1]
        cross = ((vb - va) + sl * ta - sr * tb) / (sl - sr).where(sl != sr, torch.ones_like(sl))
        peak = va + sl * (cross - ta)
        hidden = (sl > 0) & (sr < 0) & (cross > ta) & (cross < tb)
        est[1:-1] = torch.where(hidden, torch.maximum(est[1:-1], peak), est[1:-1])
    k = int(v.argmax())
    near = torch.zeros(T - 1, dtype=torch.bool)
    near[max(k - 1, 0):min(k + 1, T - 1)] = True  # the two intervals around the maximum
    pick = ((est >= v.max() - tol) | near) & (width > resolution)
    idx = pick.nonzero().flatten()
    idx = idx[torch.argsort(est[idx], descending=True)][:limit]
    return 0.5 * (t[idx] + t[idx + 1])


def evaluate_paths(objective: Any, pathset: Any, *, between: int = 3, n_t: int = 33,
                   tol: float = 1e-3, resolution: float = 2e-3, max_rounds: int = 16,
                   per_round: int = 8, bootstrap: int = 100, seed: int = 0,
                   device: str | torch.device = "auto", progress: bool = False,
                   max_points: int = 2048) -> PathEvaluation:
    """Full-training-set loss (and accuracy) along every path of ``pathset``, with the maximum of
    each path certified by adaptive refinement (see the module docstring).

    Args:
        objective: the objective the paths were optimised on -- evaluate on the data you optimised
            on, or the "barrier" measures the gap between two data sets.
        pathset: a :class:`~toolkit.paths.PathSet` (or a :class:`~toolkit.curves.CurveSet`) whose
            points have the objective's dimension.
        between: for paths, initial points on each straight piece between optimised points.
        n_t: for curves, initial number of equally spaced ``t``.
        tol: relative to each path's loss range, how far below the current maximum an interval's
            possible peak may lie and still be refined.
        resolution: refine until the intervals that matter are at most this wide (in ``t``).
        max_rounds, per_round: refinement rounds, and new points per path per round, at most.
        bootstrap: resamples of the data chunks for ``max_loss_std`` (0 to skip).
        seed: seeds the bootstrap.
        device: where to evaluate. progress: show a tqdm bar over refinement rounds.
        max_points: points per call of ``objective.evaluate`` (bounds memory).

    BatchNorm statistics are recomputed for every evaluated point (see
    :class:`~toolkit.objectives.ModuleObjective`), so ``t = 0`` and ``t = 1`` give exactly the
    minima's losses as :meth:`~toolkit.objectives.ModuleObjective.evaluate` computes them.
    """
    dev = resolve_device(device)
    dim = pathset.points.shape[-1] if hasattr(pathset, "points") else pathset.bends.shape[-1]
    if dim != objective.dim:
        raise ValueError(f"the paths have {dim} parameters per point but the objective has "
                         f"{objective.dim}: evaluate them with the objective they were optimised on")
    obj = objective.to(dev)
    P = len(pathset)
    ts, nodes = zip(*[_initial_t(pathset, p, between, n_t) for p in range(P)]) if P else ((), ())
    ts = list(ts)
    vals: list[Tensor] = [torch.zeros(0, dtype=torch.float64) for _ in range(P)]
    accs: list[Tensor] = [torch.zeros(0, dtype=torch.float64) for _ in range(P)]
    chunks: list[Tensor] = [torch.zeros(0, 0, dtype=torch.float64) for _ in range(P)]
    new = [t.clone() for t in ts]
    ts = [t.new_zeros(0) for t in ts]
    rounds = 0
    bar = progress_bar(total=max_rounds + 1, enabled=progress, desc="evaluate", leave=False)
    while True:
        todo = [(p, u) for p, u in enumerate(new) if len(u)]
        if not todo:
            break
        pts = torch.cat([pathset.points_at(p, u) for p, u in todo])
        ev = _evaluate(obj, pts, dev, max_points)
        sizes = [len(u) for _, u in todo]
        for (p, u), lo, ac, ch in zip(todo, ev["loss"].split(sizes), ev["acc"].split(sizes),
                                      ev["chunk_loss"].split(sizes, dim=1)):
            t = torch.cat([ts[p], u])
            order = torch.argsort(t)
            ts[p] = t[order]
            vals[p] = torch.cat([vals[p], lo])[order]
            accs[p] = torch.cat([accs[p], ac])[order]
            chunks[p] = (torch.cat([chunks[p], ch], dim=1) if chunks[p].numel() else ch)[:, order]
        bar.update(1)
        if rounds >= max_rounds:
            break
        rounds += 1
        new = [_candidates(ts[p], vals[p], tol * float(vals[p].max() - vals[p].min()) + 1e-12,
                           resolution, per_round) for p in range(P)]
    bar.close()
    certified = torch.tensor([len(_candidates(ts[p], vals[p], tol * float(vals[p].max() - vals[p].min())
                                               + 1e-12, resolution, 1)) == 0 for p in range(P)])
    max_loss = torch.stack([v.max() for v in vals]) if P else torch.zeros(0, dtype=torch.float64)
    arg = [int(v.argmax()) for v in vals]
    res = torch.tensor([float(torch.diff(t[max(k - 1, 0):k + 2]).max()) for t, k in zip(ts, arg)])
    std = torch.zeros(P, dtype=torch.float64)
    if bootstrap > 1 and P:
        C = chunks[0].shape[0]
        w = torch.multinomial(torch.full((C,), 1.0 / C), C * bootstrap, replacement=True,
                              generator=seeds.generator(seed)).view(bootstrap, C)
        w = torch.nn.functional.one_hot(w, C).sum(1).double()  # [R, C] counts
        count = ev["chunk_count"].double()
        std = torch.stack([((w @ ch) / (w @ count)[:, None]).amax(1).std() for ch in chunks])
    status = list(getattr(pathset, "status", ["curve"] * P))
    return PathEvaluation(
        pairs=pathset.pairs.cpu(), t=ts, loss=vals, acc=accs if obj.is_classifier else [],
        node_t=list(nodes), max_loss=max_loss, argmax_t=torch.tensor([float(t[k]) for t, k in zip(ts, arg)]),
        resolution=res, certified=certified, max_loss_std=std,
        endpoint_loss=torch.stack([torch.stack([v[0], v[-1]]) for v in vals]) if P else torch.zeros(0, 2),
        status=status, kind=getattr(pathset, "kind", "path"), bootstrap=int(bootstrap), rounds=rounds)


def _evaluate(obj: Any, pts: Tensor, dev: torch.device, max_points: int) -> dict:
    """``obj.evaluate`` in groups of ``max_points``: loss, acc ``[B]`` (float64, CPU) and the
    per-chunk summed losses ``[C, B]`` plus chunk sizes ``[C]``."""
    out: dict[str, list] = {"loss": [], "acc": [], "chunk_loss": []}
    count = None
    for part in pts.split(max_points):
        ev = obj.evaluate(part.to(dev), return_chunks=True)
        out["loss"].append(ev["loss"].double().cpu())
        out["acc"].append(ev["acc"].double().cpu() if "acc" in ev else torch.zeros(len(part), dtype=torch.float64))
        out["chunk_loss"].append(ev["chunk_loss"].double().cpu())
        count = ev["chunk_count"].double().cpu()
    return {"loss": torch.cat(out["loss"]), "acc": torch.cat(out["acc"]),
            "chunk_loss": torch.cat(out["chunk_loss"], dim=1), "chunk_count": count}
