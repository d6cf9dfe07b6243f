"""Random-point curves between minima (paper §4, after Garipov et al. 2018).

A curve ``φ_w(t)``, ``t ∈ [0, 1]``, joins fixed minima ``θ_a``, ``θ_b`` through one trainable bend
``w`` (initialised at the segment's midpoint):

- ``"polychain"``: ``θ_a + 2t(w − θ_a)`` for ``t ≤ 1/2``, ``w + (2t − 1)(θ_b − w)`` after;
- ``"bezier"``: ``(1 − t)² θ_a + 2t(1 − t) w + t² θ_b``.

Training minimises ``E_{t∼U(0,1)} L(φ_w(t))`` with fresh ``t`` per curve and minibatch; all curves
are evaluated on the same minibatch in one vectorised call. Evaluate with
:func:`toolkit.paths.evaluate_paths` (or :func:`evaluate_curves`), which gives the same
:class:`~toolkit.paths.PathEvaluation` as for paths.
"""

from __future__ import annotations

import dataclasses
import os

import torch
from torch import Tensor

from toolkit.objectives import Objective
from toolkit.paths import PathEvaluation, evaluate_paths
from toolkit.paths._pairs import check_pairs
from toolkit.paths._random_points import RandomPointConfig, train_random_points

__all__ = ["CurveConfig", "CurveSet", "curve_weights", "evaluate_curves", "optimize_curves"]

KINDS = ("polychain", "bezier")


@dataclasses.dataclass
class CurveConfig(RandomPointConfig):
    """:class:`~toolkit.paths._random_points.RandomPointConfig` plus ``kind``: ``"polychain"`` (the
    paper's, default) or ``"bezier"``."""

    kind: str = "polychain"

    def validate(self) -> None:
        super().validate()
        if self.kind not in KINDS:
            raise ValueError(f"kind={self.kind!r}; use one of {KINDS}")


def curve_weights(kind: str, t: Tensor) -> Tensor:
    """Weights of ``(θ_a, θ_b, w)`` at ``t``: ``Tensor[...] -> Tensor[..., 3]`` (they sum to 1)."""
    if kind == "polychain":
        first = t <= 0.5
        wa = torch.where(first, 1 - 2 * t, torch.zeros_like(t))
        wb = torch.where(first, torch.zeros_like(t), 2 * t - 1)
        return torch.stack([wa, wb, 1 - wa - wb], -1)
    if kind == "bezier":
        return torch.stack([(1 - t) ** 2, t**2, 2 * t * (1 - t)], -1)
    raise ValueError(f"kind={kind!r}; use one of {KINDS}")


@dataclasses.dataclass
class CurveSet:
    """Optimised curves.

    Attributes:
        ends: ``Tensor[P, 2, D]``, the fixed minima ``θ_a``, ``θ_b`` of each curve.
        bends: ``Tensor[P, D]``, the trained bends ``w``.
        pairs: ``LongTensor[P, 2]``.
        kind: ``"polychain"`` or ``"bezier"``.
        config: the :class:`CurveConfig` as a dict.
        loss_history: per epoch ``Tensor[P]``, mean minibatch loss at the random points.
        steps: optimisation steps done.
    """

    ends: Tensor
    bends: Tensor
    pairs: Tensor
    kind: str
    config: dict
    loss_history: list
    steps: int

    def __len__(self) -> int:
        return len(self.pairs)

    def points_at(self, p: int, t: Tensor) -> Tensor:
        """Curve ``p`` at parameters ``t: Tensor[T]`` -> ``Tensor[T, D]``."""
        w = curve_weights(self.kind, t.to(self.bends.dtype))  # [T, 3]
        nodes = torch.stack([self.ends[p, 0], self.ends[p, 1], self.bends[p]])  # [3, D]
        return w @ nodes



def optimize_curves(objective: Objective, minima: Tensor, pairs: Tensor | list | None = None,
                    config: CurveConfig | None = None, *, device: str | torch.device = "auto",
                    checkpoint: str | os.PathLike | None = None, resume: bool = False,
                    progress: bool = True, seed: int = 0) -> CurveSet:
    """Train one random-point curve per pair of minima.

    Args:
        objective: the loss (see :mod:`toolkit.objectives`).
        minima: ``Tensor[N, D]``.
        pairs: ``LongTensor[P, 2]`` / list of ``(i, j)``; default all ``i < j``.
        config: :class:`CurveConfig`.
        device, checkpoint, resume, progress, seed: as in :func:`toolkit.paths.optimize_paths`.
    """
    cfg = config or CurveConfig()
    cfg.validate()
    pairs = check_pairs(objective, minima, pairs)
    ends = torch.stack([minima[pairs[:, 0]], minima[pairs[:, 1]]], 1)  # [P, 2, D]
    bends = ends.mean(1, keepdim=True)  # [P, 1, D]: start on the straight segment

    def weights(u: Tensor) -> Tensor:
        return curve_weights(cfg.kind, u[..., 0])

    out = train_random_points(objective, ends, bends, weights, 1, cfg, kind="curves",
                              describe=lambda p: f"curve {p} (minima {pairs[p, 0]}-{pairs[p, 1]})",
                              device=device, checkpoint=checkpoint, resume=resume, progress=progress,
                              seed=seed, extra_fp={"pairs": pairs})
    return CurveSet(ends=ends.detach().cpu(), bends=out["free"][:, 0], pairs=pairs, kind=cfg.kind,
                    config=dataclasses.asdict(cfg), loss_history=out["loss"], steps=out["steps"])


def evaluate_curves(objective: Objective, curves: CurveSet, *, n_t: int = 33, bootstrap: int = 100,
                    seed: int = 0, device: str | torch.device = "auto", progress: bool = False,
                    **refine) -> PathEvaluation:
    """Full-training-set loss along every curve, from ``n_t`` equally spaced ``t`` refined until
    each maximum is certified (BatchNorm statistics recomputed at each ``t``); same result type as
    :func:`toolkit.paths.evaluate_paths`, whose refinement arguments ``refine`` accepts
    (``max_rounds=0`` keeps the fixed grid)."""
    return evaluate_paths(objective, curves, n_t=n_t, bootstrap=bootstrap, seed=seed, device=device,
                          progress=progress, **refine)
