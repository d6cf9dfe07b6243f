"""The introduction's experiment: the barcode of a 2D function from minima and optimised paths,
checked against the exact sublevel-set barcode of the same function on a fine grid.

Steps (paper §1.1–1.3, Fig. 1 and 9): find the local minima by gradient descent from a grid of
starting points; join every pair by a path optimised with the orthogonal-gradient update (Alg. 1,
with Alg. 4 insertion); evaluate each path densely and take its maximum; build the minima barcode
(formula (1)) and the TO-score; compute the exact barcode with GUDHI's cubical complex.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import torch

from toolkit import landscapes, scales
from toolkit.cache import cached
from toolkit.objectives import FunctionObjective
from toolkit.params import as_choice, as_int
from toolkit.paths import ENGINE_VERSION, PathConfig, evaluate_paths, optimize_paths
from toolkit.report import verdict
from toolkit.topology import Barcode, compare_barcodes, grid_barcode, minima_barcode, to_score

__all__ = ["ToyConfig", "ToyResult", "toy_config", "toy_barcodes"]

@dataclass(frozen=True)
class ToyConfig:
    """Everything that determines the introduction's result (hashed for the cache).

    ``path`` is the path optimiser's configuration; on an analytic function there is no data, so
    one "epoch" is ``steps_per_epoch`` exact-gradient steps. The paper's L2 term is off
    (``weight_decay=0``): on a 2D function it would pull the paths toward the origin.
    """

    landscape: str
    scale: str
    seed: int
    grid: int
    starts_per_side: int
    descent_steps: int
    resolution: int
    path: PathConfig


def toy_config(scale: str = "cpu", landscape: str = "gaussian_wells", seed: int = 0) -> ToyConfig:
    """The configuration of the introduction at ``scale`` (settings:
    ``tk.scales.EXPERIMENTS["intro"]``)."""
    s = scales.settings("intro", scale)
    landscape = as_choice(landscape, "landscape", tuple(landscapes.LANDSCAPES))
    seed = as_int(seed, "seed")
    # the engine's defaults (19 points, SGD with momentum 0.9 and lr 0.05, resampling, distance
    # insertion, convergence test); no L2 term: on a 2D function it would pull paths to the origin
    path = PathConfig(epochs=s["epochs"], steps_per_epoch=s["steps_per_epoch"], weight_decay=0.0)
    return ToyConfig(landscape=landscape, scale=scale, seed=seed, grid=s["grid"],
                     starts_per_side=s["starts_per_side"], descent_steps=s["descent_steps"],
                     resolution=s["resolution"], path=path)


@dataclass
class ToyResult:
    """What the introduction computed (arrays are numpy, losses in the function's units).

    minima ``[N, 2]`` (sorted, lowest first) with values ``min_losses [N]``; ``pairs [P, 2]`` and
    ``paths`` (list of ``[K_p, 2]`` optimised points); ``profiles`` (list of ``[M_p, 2]``: arc
    parameter and loss along each path); ``saddles`` maps ``(i, j)`` to the path maximum and
    ``path_summary`` says how many paths converged and how many maxima are certified;
    ``barcode`` is the minima barcode from the paths; ``grid`` maps index 0/1 to the exact
    barcodes of the grid function; ``grid_values`` is a ``[g, g]`` picture of the function.
    """

    config: dict
    domain: tuple[float, float, float, float]
    minima: np.ndarray
    min_losses: np.ndarray
    pairs: np.ndarray
    paths: list[np.ndarray]
    profiles: list[np.ndarray]
    saddles: dict[tuple[int, int], float]
    path_summary: str
    barcode: Barcode
    grid: dict[int, Barcode]
    grid_values: np.ndarray
    compute_s: float

    @property
    def value_range(self) -> float:
        """max − min of the function on the plotted domain (the grid)."""
        return float(self.grid_values.max() - self.grid_values.min())

    def comparison(self):
        """Finite bars of the path barcode matched one-to-one with the exact grid bars."""
        return compare_barcodes(self.barcode, self.grid[0])

    def killer_paths(self) -> list[int]:
        """Indices of the paths whose maxima end a finite bar of the path barcode."""
        killers = {tuple(k) for k in self.barcode.killer if k is not None}
        return [p for p, (i, j) in enumerate(self.pairs.tolist()) if (i, j) in killers]

    def comparison_table(self) -> str:
        """Text table: each finite path bar beside its matched exact bar, differences in % of the
        function's range on the plotted domain."""
        cmp = self.comparison()
        est = self.barcode.finite()
        ref = self.grid[0].finite()
        rng = self.value_range
        lines = [f"{'minimum':>8} {'path bar':>22} {'exact bar':>22} {'|d birth|':>10} "
                 f"{'|d death|':>10}  (differences in % of the range {rng:.4g})"]
        for e, r in cmp.pairs:
            lines.append(f"{'m' + str(int(est.minimum[e])):>8} "
                         f"[{est.births[e]:+.4f}, {est.deaths[e]:+.4f}] "
                         f"[{ref.births[r]:+.4f}, {ref.deaths[r]:+.4f}] "
                         f"{100 * abs(est.births[e] - ref.births[r]) / rng:9.3f}% "
                         f"{100 * abs(est.deaths[e] - ref.deaths[r]) / rng:9.3f}%")
        for e in cmp.unmatched_estimate:
            lines.append(f"path bar {e} [{est.births[e]:+.4f}, {est.deaths[e]:+.4f}] has no exact partner")
        for r in cmp.unmatched_reference:
            lines.append(f"exact bar [{ref.births[r]:+.4f}, {ref.deaths[r]:+.4f}] was not found by the paths")
        lines.append(f"max |difference| = {cmp.max_abs_diff:.4g} = {100 * cmp.max_abs_diff / rng:.3f}% "
                     "of the range")
        return "\n".join(lines)

    def matches_exact(self, tol_fraction: float = 0.01) -> bool:
        """Every finite bar on either side is matched, within ``tol_fraction`` of the range."""
        cmp = self.comparison()
        return cmp.within(tol_fraction * self.value_range) and cmp.unmatched_reference.size == 0

    def profile_lines(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{"m0-m1": (t, loss)}`` along every optimised path (normalised arc length)."""
        return {f"m{i}-m{j}": (prof[:, 0], prof[:, 1])
                for (i, j), prof in zip(self.pairs.tolist(), self.profiles)}

    def to_score(self) -> tuple[float, float]:
        """TO-scores of the path barcode and of the exact grid barcode."""
        return to_score(self.barcode), to_score(self.grid[0])

    def verdict(self, tol_fraction: float = 0.01) -> dict:
        """The introduction's verdict for ``run.finish``: reproduced when every finite bar of the
        path barcode matches an exact bar within ``tol_fraction`` of the function's range and no
        exact bar is missed (:meth:`matches_exact`)."""
        ok = self.matches_exact(tol_fraction)
        exact_bars = len(self.grid[0].finite().births)  # nothing to match when the function has one minimum
        diff = 100 * self.comparison().max_abs_diff / self.value_range
        to_paths, to_exact = self.to_score()
        return verdict(
            status="reproduced" if ok else "not reproduced", kind="method check",
            dataset=f"analytic 2D function ({self.config['landscape']}), "
                    f"{self.config['grid']}x{self.config['grid']} grid reference",
            runs=f"1 run: {len(self.minima)} minima, {len(self.paths)} paths",
            finding=f"largest bar difference {diff:.3f}% of the function's range (tolerance "
                    f"{100 * tol_fraction:g}%)",
            paper="optimised paths give the barcode of minima (an upper bound of formula (1))",
            ours=f"largest |path bar - exact bar| = {diff:.3f}% of the range",
            numbers={"max_diff_percent_of_range": diff, "to_score_paths": to_paths,
                     "to_score_exact": to_exact, "n_minima": len(self.minima),
                     "compute_s": self.compute_s},
            compute_s=self.compute_s, scale=self.config["scale"], compared=exact_bars)


def _compute(cfg: ToyConfig, device: str, progress: bool) -> ToyResult:
    t0 = time.perf_counter()
    f = landscapes.landscape(cfg.landscape)
    minima = landscapes.find_minima(f, f.domain, starts_per_side=cfg.starts_per_side,
                                    steps=cfg.descent_steps)
    with torch.no_grad():
        min_losses = f(minima)
    obj = FunctionObjective(f, dim=2, steps_per_epoch=cfg.path.steps_per_epoch or 10)
    ps = optimize_paths(obj, minima, config=cfg.path, device=device, progress=progress,
                        seed=cfg.seed)
    ev = evaluate_paths(obj, ps, between=cfg.resolution, bootstrap=0, device=device)
    saddles = ev.saddles()
    barcode = minima_barcode(min_losses.numpy(), saddles)
    values = landscapes.grid_values(f, f.domain, cfg.grid)
    # bars shorter than 1e-5 of the range are pixel artefacts of the sampled maximum, not topology
    exact = grid_barcode(values, min_persistence=1e-5 * float(values.max() - values.min()))
    step = max(1, cfg.grid // 256)  # the picture needs no more than ~256 pixels a side
    return ToyResult(
        config=dataclasses.asdict(cfg), domain=f.domain, minima=minima.numpy(),
        min_losses=min_losses.numpy(), pairs=ps.pairs.numpy(),
        paths=[ps.path(p).cpu().double().numpy() for p in range(len(ps))],
        profiles=[torch.stack([t, v], 1).cpu().double().numpy() for t, v in zip(ev.t, ev.loss)],
        saddles=saddles, path_summary=f"{ps.summary()}; maxima certified: "
                                       f"{int(ev.certified.sum())}/{len(ev)}", barcode=barcode,
        grid=exact,
        grid_values=values[::step, ::step].copy(), compute_s=time.perf_counter() - t0)


def toy_barcodes(cfg: ToyConfig, *, device: str = "auto", progress: bool = True) -> ToyResult:
    """Minima, optimised paths, path barcode and exact grid barcode of a 2D landscape (cached)."""
    return cached("intro_toy_barcodes", cfg, lambda: _compute(cfg, device, progress), version=f"4+engine{ENGINE_VERSION}")
