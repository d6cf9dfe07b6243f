"""App. E of Barannikov et al.: characteristics of an optimised path.

During path optimisation the norm of the gradient's tangent projection drops fast in the middle
of the path, and the norm of the orthogonal component, accumulated over an epoch, falls to nearly
zero by the end of training: the points have found flat regions and stop moving. This experiment
reads the engine's per-point, per-epoch diagnostics of the first path run of one (data set,
depth) unit of Fig. 2 (the same cached computation).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from toolkit.data import DATASETS
from toolkit.experiments.fc_depth import FCDepthConfig, fc_depth
from toolkit.params import as_choice, as_int
from toolkit.paths import PathEvaluation, PathSet
from toolkit.report import verdict

__all__ = ["PathCharacteristics", "path_characteristics"]


@dataclass
class PathCharacteristics:
    """The paths of one unit with their diagnostics (``pathset.diagnostics``: per epoch,
    ``grad_tangent`` and ``grad_normal`` norms as ``Tensor[P, K_e]``, NaN at the minima) and
    their dense evaluation on the whole training set."""

    dataset: str
    depth: int
    data: str
    pathset: PathSet
    evaluation: PathEvaluation
    min_losses: np.ndarray
    compute_s: float
    scale: str | None = None  # None: an entry cached before the scale was stored

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

    def verdict(self, reproduced_below: float = 0.25) -> dict:
        """App. E's verdict for ``run.finish``: the ratio of the last to the first epoch's mean
        orthogonal gradient norm is below ``reproduced_below`` (reproduced), below 1 (partly:
        it falls, but not to nearly zero), or not."""
        normal = self.mean_norm("grad_normal")
        ratio = float(normal[-1] / normal[0])
        status = ("reproduced" if ratio < reproduced_below else "partly reproduced" if ratio < 1
                  else "not reproduced")
        return verdict(
            status=status, dataset=self.data,
            runs=f"1 optimisation of {len(self.pathset)} paths, {len(self.epochs())} epochs",
            finding=f"mean orthogonal gradient norm fell from {normal[0]:.3g} (first epoch) to "
                    f"{normal[-1]:.3g} (last), ratio {ratio:.2f}",
            paper="the orthogonal gradient is nearly zero at the end of training",
            ours=f"last/first epoch mean orthogonal norm = {ratio:.2f}",
            numbers={"normal_first": normal[0], "normal_last": normal[-1], "ratio": ratio},
            compute_s=self.compute_s, scale=self.scale, compared=len(normal) - 1)


def path_characteristics(cfg: FCDepthConfig, dataset: str = "mnist", depth: int = 2, *,
                         device: str = "auto", progress: bool = True) -> PathCharacteristics:
    """The first path run of the ``(dataset, depth)`` unit of Fig. 2 under ``cfg`` (computed, or
    loaded from the cache that Fig. 2 shares), with its diagnostics."""
    dataset = as_choice(dataset, "dataset", DATASETS)
    depth = as_int(depth, "depth", minimum=1)
    one = dataclasses.replace(cfg, datasets=(dataset,), depths=(depth,))
    unit = fc_depth(one, device=device, progress=progress).units[(dataset, depth)]
    return PathCharacteristics(dataset=dataset, depth=depth, data=one.data_description(),
                               pathset=unit.paths, evaluation=unit.evaluation,
                               min_losses=unit.min_losses,
                               compute_s=unit.minima_s + unit.paths_s / one.path_seeds,
                               scale=cfg.scale)
