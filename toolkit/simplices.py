"""Optimised triangles for the index-1 barcode (paper §1.4, App. I).

A triangle carries seven parameter-space nodes: vertices ``V_i`` (minima), side centres ``S_ij`` and
the centre ``C``. A point with barycentric coordinates ``λ`` lies in the sub-triangle
``(V_i, S_ij, C)`` of the ordering ``λ_i ≥ λ_j ≥ λ_k`` and maps to

    p = (λ_i − λ_j) V_i + 2(λ_j − λ_k) S_ij + 3 λ_k C

(for linear nodes ``S_ij = (V_i + V_j)/2``, ``C = mean V`` this is ``Σ λ_m V_m``). Two regimes:
``"vertices"`` (vertices fixed, ``S_ij`` and ``C`` trainable, initialised linearly) and ``"sides"``
(the sides are previously optimised polygonal-chain curves, so ``S_ij`` are their bends and only ``C``
trains). Random ``λ``, uniform on the simplex, per triangle and minibatch.

The triangle's bar in the index-1 barcode is ``[max loss over its sides, max loss over the triangle]``;
:meth:`TriangleEvaluation.filtration` gives the inputs of ``tk.simplex_barcode``.
"""

from __future__ import annotations

import dataclasses
import os

import torch
from torch import Tensor

from toolkit._device import resolve_device
from toolkit._progress import progress_bar
from toolkit.curves import CurveSet
from toolkit.objectives import Objective
from toolkit.paths._pairs import check_minima
from toolkit.paths._random_points import RandomPointConfig, train_random_points

__all__ = ["TriangleConfig", "TriangleEvaluation", "TriangleSet", "barycentric_grid",
           "evaluate_triangles", "optimize_triangles", "triangle_weights"]

#: node order: V1, V2, V3, S12, S13, S23, C
_SIDE = {(0, 1): 3, (0, 2): 4, (1, 2): 5}
REGIMES = ("vertices", "sides")


@dataclasses.dataclass
class TriangleConfig(RandomPointConfig):
    """:class:`~toolkit.paths._random_points.RandomPointConfig` plus ``regime``: ``"vertices"`` (fixed
    minima; trainable side centres and centre) or ``"sides"`` (fixed curves; trainable centre)."""

    regime: str = "vertices"

    def validate(self) -> None:
        super().validate()
        if self.regime not in REGIMES:
            raise ValueError(f"regime={self.regime!r}; use one of {REGIMES}")


def triangle_weights(lam: Tensor) -> Tensor:
    """Weights of the seven nodes at barycentric ``lam: Tensor[..., 3]`` -> ``Tensor[..., 7]``
    (App. I's formula; they are >= 0 and sum to 1)."""
    srt, order = lam.sort(dim=-1, descending=True, stable=True)
    i, j = order[..., 0], order[..., 1]
    out = lam.new_zeros(*lam.shape[:-1], 7)
    side = torch.tensor([[0, 3, 4], [3, 0, 5], [4, 5, 0]], device=lam.device)[i, j]  # S_ij slot
    out.scatter_add_(-1, i[..., None], (srt[..., 0] - srt[..., 1])[..., None])
    out.scatter_add_(-1, side[..., None], (2 * (srt[..., 1] - srt[..., 2]))[..., None])
    out[..., 6] += 3 * srt[..., 2]
    return out


def _uniform_simplex(u: Tensor) -> Tensor:
    """Uniform points on the 2-simplex from uniforms ``u: Tensor[..., 3]`` (Dirichlet(1, 1, 1))."""
    e = -torch.log1p(-u.clamp(max=1 - 1e-7))
    return e / e.sum(-1, keepdim=True)


def barycentric_grid(resolution: int) -> Tensor:
    """All ``λ = (a, b, c)/resolution`` with integer ``a + b + c = resolution``:
    ``Tensor[(r+1)(r+2)/2, 3]``, vertices and side points included."""
    r = int(resolution)
    pts = [(a, b, r - a - b) for a in range(r + 1) for b in range(r + 1 - a)]
    return torch.tensor(pts, dtype=torch.float64) / r


@dataclasses.dataclass
class TriangleSet:
    """Optimised triangles.

    Attributes:
        nodes: ``Tensor[T, 7, D]`` in the order ``V1, V2, V3, S12, S13, S23, C``.
        triangles: ``LongTensor[T, 3]``, the minima at the vertices (``i < j < k``).
        regime: ``"vertices"`` or ``"sides"``.
        config: the :class:`TriangleConfig` as a dict.
        loss_history: per epoch ``Tensor[T]``, mean minibatch loss at the random points.
        steps: optimisation steps done.
    """

    nodes: Tensor
    triangles: Tensor
    regime: str
    config: dict
    loss_history: list
    steps: int

    def __len__(self) -> int:
        return len(self.triangles)

    def points_at(self, tri: int, lam: Tensor) -> Tensor:
        """Triangle ``tri`` at barycentric ``lam: Tensor[G, 3]`` -> ``Tensor[G, D]``."""
        return triangle_weights(lam.to(self.nodes.dtype)) @ self.nodes[tri]



def _side_centres(curves: CurveSet, tris: Tensor) -> Tensor:
    """``S_ij`` of every triangle from the curves between its vertices: ``Tensor[T, 3, D]``."""
    if curves.kind != "polychain":
        raise ValueError(f"regime='sides' needs polygonal-chain curves (their bend is the side "
                         f"centre), got kind={curves.kind!r}")
    index = {tuple(sorted(p)): n for n, p in enumerate(curves.pairs.tolist())}
    out = []
    for tri in tris.tolist():
        row = []
        for a, b in ((0, 1), (0, 2), (1, 2)):
            key = tuple(sorted((tri[a], tri[b])))
            if key not in index:
                raise ValueError(f"no curve between minima {key[0]} and {key[1]} for triangle {tri}")
            n = index[key]
            row.append(curves.bends[n])
            # a curve stored as (j, i) has the same bend: a polychain is symmetric in its ends
        out.append(torch.stack(row))
    return torch.stack(out)


def optimize_triangles(objective: Objective, minima: Tensor, triangles: Tensor | list | None = None,
                       config: TriangleConfig | None = None, *, curves: CurveSet | None = None,
                       device: str | torch.device = "auto", checkpoint: str | os.PathLike | None = None,
                       resume: bool = False, progress: bool = True, seed: int = 0) -> TriangleSet:
    """Train one triangle per triple of minima (App. I).

    Args:
        objective: the loss.
        minima: ``Tensor[N, D]``.
        triangles: ``LongTensor[T, 3]`` / list of triples; default all ``i < j < k``.
        config: :class:`TriangleConfig`; ``regime="sides"`` needs ``curves``.
        curves: polygonal-chain :class:`~toolkit.curves.CurveSet` containing every side's pair.
        device, checkpoint, resume, progress, seed: as in :func:`toolkit.paths.optimize_paths`.
    """
    cfg = config or TriangleConfig()
    cfg.validate()
    check_minima(objective, minima)
    tris = (torch.combinations(torch.arange(len(minima)), r=3) if triangles is None
            else torch.as_tensor(triangles, dtype=torch.long).reshape(-1, 3).sort(dim=1).values)
    if len(tris) == 0:
        raise ValueError("no triangles (need at least 3 minima)")
    V = minima[tris]  # [T, 3, D]
    if cfg.regime == "sides":
        if curves is None:
            raise ValueError("regime='sides' needs curves=optimize_curves(...) between the minima")
        S = _side_centres(curves, tris).to(V)
        fixed, free = torch.cat([V, S], 1), V.mean(1, keepdim=True)
    else:
        S = torch.stack([(V[:, a] + V[:, b]) / 2 for a, b in ((0, 1), (0, 2), (1, 2))], 1)
        fixed, free = V, torch.cat([S, V.mean(1, keepdim=True)], 1)

    def weights(u: Tensor) -> Tensor:
        return triangle_weights(_uniform_simplex(u))

    out = train_random_points(objective, fixed, free, weights, 3, cfg, kind="triangles",
                              describe=lambda t: f"triangle {t} (minima {tris[t].tolist()})",
                              device=device, checkpoint=checkpoint, resume=resume, progress=progress,
                              seed=seed, extra_fp={"triangles": tris})
    nodes = torch.cat([fixed.detach().cpu(), out["free"]], 1)
    return TriangleSet(nodes=nodes, triangles=tris, regime=cfg.regime, config=dataclasses.asdict(cfg),
                       loss_history=out["loss"], steps=out["steps"])


@dataclasses.dataclass
class TriangleEvaluation:
    """Full-training-set loss on a barycentric grid of every triangle.

    Attributes:
        triangles: ``LongTensor[T, 3]``.
        lam: ``Tensor[G, 3]``, the grid (see :func:`barycentric_grid`).
        loss, acc: ``Tensor[T, G]`` (``acc`` empty for non-classifiers).
        max_loss: ``Tensor[T]``, maximum over the whole triangle.
        side_max: ``Tensor[T, 3]``, maximum over the sides ``(V1,V2)``, ``(V1,V3)``, ``(V2,V3)``.
        vertex_loss: ``Tensor[T, 3]``.
    """

    triangles: Tensor
    lam: Tensor
    loss: Tensor
    acc: Tensor
    max_loss: Tensor
    side_max: Tensor
    vertex_loss: Tensor

    def filtration(self) -> tuple[dict[tuple[int, int], float], dict[tuple[int, int, int], float]]:
        """``(edges, triangles)`` for ``tk.simplex_barcode(vertex_losses, edges, triangles)``.
        An edge shared by several triangles (vertices regime: each has its own side) gets the
        lowest of their side maxima -- the best path found between its minima."""
        edges: dict[tuple[int, int], float] = {}
        for tri, sm in zip(self.triangles.tolist(), self.side_max.tolist()):
            for (a, b), m in zip(((0, 1), (0, 2), (1, 2)), sm):
                key = (tri[a], tri[b])
                edges[key] = min(edges.get(key, float("inf")), m)
        tris = {tuple(t): m for t, m in zip(self.triangles.tolist(), self.max_loss.tolist())}
        return edges, tris



def evaluate_triangles(objective: Objective, triangles: TriangleSet, *, resolution: int = 12,
                       device: str | torch.device = "auto", progress: bool = False) -> TriangleEvaluation:
    """Loss (and accuracy) on the full training set at every point of a barycentric grid with
    ``resolution`` steps per side (BatchNorm statistics recomputed per point)."""
    dev = resolve_device(device)
    obj = objective.to(dev)
    lam = barycentric_grid(resolution)
    losses, accs = [], []
    for t in progress_bar(range(len(triangles)), enabled=progress, desc="triangles", leave=False):
        ev = obj.evaluate(triangles.points_at(t, lam).to(dev))
        losses.append(ev["loss"].cpu())
        if "acc" in ev:
            accs.append(ev["acc"].cpu())
    loss = torch.stack(losses)
    on_side = [lam[:, k] == 0 for k in (2, 1, 0)]  # sides (1,2), (1,3), (2,3) have λ3, λ2, λ1 = 0
    side_max = torch.stack([loss[:, m].amax(1) for m in on_side], 1)
    vertex = torch.stack([loss[:, (lam[:, k] == 1)].squeeze(1) for k in range(3)], 1)
    return TriangleEvaluation(triangles=triangles.triangles, lam=lam, loss=loss,
                              acc=torch.stack(accs) if accs else torch.zeros(0),
                              max_loss=loss.amax(1), side_max=side_max, vertex_loss=vertex)
