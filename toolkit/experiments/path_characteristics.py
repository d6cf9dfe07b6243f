"""App. E of Barannikov et al.: characteristics of an optimised path.

During path optimisation the norm of the gradient's tangent projection drops fast in the middle
of the path, and the norm of the orthogonal component, accumulated over an epoch, falls to nearly
zero by the end of training: the points have found flat regions and stop moving. This experiment
optimises the paths of one (data set, depth) unit of the Fig. 2 configuration and keeps the
engine's per-point, per-epoch diagnostics.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import torch

from toolkit.cache import cached
from toolkit.experiments.fc_depth import FCDepthConfig, fc_paths
from toolkit.paths import PathEvaluation, PathSet

__all__ = ["PathCharacteristics", "path_characteristics"]


@dataclass
class PathCharacteristics:
    """The paths of one unit with their diagnostics (``pathset.diagnostics``: per epoch,
    ``grad_tangent`` and ``grad_normal`` norms as ``Tensor[P, K_e]``, NaN at the minima) and
    their dense evaluation on the whole training set."""

    dataset: str
    depth: int
    pathset: PathSet
    evaluation: PathEvaluation
    min_losses: np.ndarray
    compute_s: float

    def epochs(self) -> np.ndarray:
        """Epoch numbers of the diagnostics."""
        return np.asarray(self.pathset.diagnostics["epoch"])

    def mean_norm(self, component: str = "grad_normal") -> np.ndarray:
        """Mean over all interior points of all paths, per epoch: ``[E]``."""
        return np.array([float(torch.nanmean(t.double())) for t in self.pathset.diagnostics[component]])

    def middle_vs_ends(self, component: str = "grad_tangent") -> tuple[np.ndarray, np.ndarray]:
        """Per epoch, the mean norm over the middle third of every path's interior points and
        over the outer two thirds (App. E: the tangent projection drops in the middle first)."""
        mid, ends = [], []
        for t in self.pathset.diagnostics[component]:
            k = t.shape[1]
            m = torch.zeros(k, dtype=torch.bool)
            m[k // 3: k - k // 3] = True
            mid.append(float(torch.nanmean(t[:, m].double())))
            ends.append(float(torch.nanmean(t[:, ~m].double())))
        return np.array(mid), np.array(ends)

    def to_state(self) -> dict:
        return {"dataset": self.dataset, "depth": self.depth, "pathset": self.pathset.to_state(),
                "evaluation": self.evaluation.to_state(),
                "min_losses": torch.from_numpy(self.min_losses), "compute_s": self.compute_s}

    @classmethod
    def from_state(cls, s: dict) -> PathCharacteristics:
        return cls(dataset=s["dataset"], depth=int(s["depth"]),
                   pathset=PathSet.from_state(s["pathset"]),
                   evaluation=PathEvaluation.from_state(s["evaluation"]),
                   min_losses=s["min_losses"].numpy(), compute_s=float(s["compute_s"]))


def _compute(cfg: FCDepthConfig, dataset: str, depth: int, device: str,
             progress: bool) -> PathCharacteristics:
    t0 = time.perf_counter()
    ms, ps, ev = fc_paths(cfg, dataset, depth, device=device, progress=progress)
    return PathCharacteristics(dataset=dataset, depth=depth, pathset=ps, evaluation=ev,
                               min_losses=np.asarray(ms.train_loss, dtype=np.float64),
                               compute_s=time.perf_counter() - t0)


def path_characteristics(cfg: FCDepthConfig, dataset: str = "mnist", depth: int = 2, *,
                         device: str = "auto", progress: bool = True) -> PathCharacteristics:
    """Optimise (or load) the paths of ``(dataset, depth)`` under ``cfg`` with diagnostics."""
    key = dataclasses.replace(cfg, datasets=(dataset,), depths=(int(depth),))
    return cached("path_characteristics", key,
                  lambda: _compute(cfg, dataset, int(depth), device, progress),
                  version="1", codec=PathCharacteristics)
