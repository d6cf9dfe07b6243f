"""App. I of Barannikov et al.: the index-1 barcode from optimised triangles.

Part A (exact check, 2D): on a landscape whose minima form a ring around a hill, take the minima,
join every pair by a polygonal-chain curve (``optimize_curves``), train one triangle per triple
with fixed sides and a trainable centre (``optimize_triangles(regime="sides")``), build the
filtered complex of minima, curves and triangles (``simplex_barcode``) and compare its index-1
barcode with the exact one of the function on a fine grid (``grid_barcode``). Curves trained on the
*mean* loss can pass above the saddles; orthogonal-gradient paths (``optimize_paths``, as in the
introduction) between the same minima measure by how much.

Part B (Fig. 16, the LeNet-like net on Fashion-MNIST) is in :mod:`toolkit.experiments.lenet_triangles`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import torch

from toolkit import landscapes, scales
from toolkit.cache import cached
from toolkit.curves import CurveConfig, evaluate_curves, optimize_curves
from toolkit.experiments.intro import ToyConfig, toy_barcodes, toy_config
from toolkit.objectives import FunctionObjective
from toolkit.paths import ENGINE_VERSION
from toolkit.simplices import TriangleConfig, evaluate_triangles, optimize_triangles
from toolkit.topology import (
    Barcode,
    compare_barcodes,
    minima_barcode,
    simplex_barcode,
)

__all__ = ["ToyTriangleConfig", "ToyTriangleResult", "toy_triangles", "toy_triangles_config"]


# ============================================================================ Part A: 2D, exact

@dataclass(frozen=True)
class ToyTriangleConfig:
    """Everything that determines Part A (hashed for the cache). One "epoch" is
    ``steps_per_epoch`` exact-gradient steps (no data); no weight decay (it would pull the nodes
    toward the origin)."""

    toy: ToyConfig
    resolution: int
    curve: CurveConfig
    triangle: TriangleConfig

    @property
    def scale(self) -> str:
        return self.toy.scale

    @property
    def grid(self) -> int:
        """Side of the grid of the exact reference barcode."""
        return self.toy.grid


def toy_triangles_config(scale: str = "cpu", landscape: str = "gaussian_wells",
                         seed: int = 0) -> ToyTriangleConfig:
    """Part A's configuration at ``scale`` (settings: ``tk.scales.EXPERIMENTS["toy_triangles"]``;
    the minima, reference paths and exact grid are the introduction's, ``toy_config(scale)``)."""
    s = scales.settings("toy_triangles", scale)
    toy = toy_config(scale, landscape, seed)  # validates landscape and seed
    toy = dataclasses.replace(toy, grid=max(toy.grid, s["min_grid"]))
    common = dict(epochs=s["epochs"], steps_per_epoch=10, lr=0.02, weight_decay=0.0,
                  samples_per_step=8)
    return ToyTriangleConfig(toy=toy, resolution=s["resolution"], curve=CurveConfig(**common),
                             triangle=TriangleConfig(regime="sides", **common))


@dataclass
class ToyTriangleResult:
    """Part A's result (numpy arrays, losses in the function's units).

    ``minima [N, 2]``, ``min_losses [N]``; ``curve_max`` / ``path_max``: ``{(i, j): max}`` of the
    optimised curve / path between minima ``i < j``; ``triangles [T, 3]`` with ``side_max [T, 3]``
    and ``max_loss [T]`` (full triangle, sides included, on the barycentric grid); ``complex``: the
    barcodes ``{0, 1}`` of minima + curves + triangles (App. I); ``grid``: exact barcodes ``{0, 1}``;
    ``grid_values``: a picture of the function.
    """

    config: dict
    domain: tuple[float, float, float, float]
    minima: np.ndarray
    min_losses: np.ndarray
    curve_max: dict[tuple[int, int], float]
    path_max: dict[tuple[int, int], float]
    triangles: np.ndarray
    side_max: np.ndarray
    max_loss: np.ndarray
    complex: dict[int, Barcode]
    grid: dict[int, Barcode]
    grid_values: np.ndarray
    compute_s: float

    @property
    def value_range(self) -> float:
        """max − min of the function on the plotted domain."""
        return float(self.grid_values.max() - self.grid_values.min())

    def index1(self) -> Barcode:
        """The complex's index-1 bars longer than 1e-9 of the range (a triangle that closes no
        loop gives a zero-length pair)."""
        bars = self.complex[1]  # drop the zero-length pairs of triangles that close no loop
        return bars.subset(bars.lengths > 1e-9 * self.value_range)

    def nearest_bar(self) -> tuple[int, float]:
        """The complex's index-1 bar closest to the exact bar (L-infinity distance of the
        endpoints) and that distance in % of the range (``(-1, inf)`` if the complex has none)."""
        bc, ex = self.index1(), self.grid[1]
        if len(bc.births) == 0 or len(ex.births) == 0:
            return -1, float("inf")
        d = np.maximum(np.abs(bc.births - ex.births[0]), np.abs(bc.deaths - ex.deaths[0]))
        k = int(np.argmin(d))
        return k, 100 * float(d[k]) / self.value_range

    def index1_diff(self) -> float:
        """Largest |birth/death difference| between the exact index-1 bar and the complex's
        nearest bar, in % of the range."""
        return self.nearest_bar()[1]

    def bottleneck(self) -> float:
        """Bottleneck distance between the complex's and the exact index-1 barcodes, in % of the
        range (unmatched bars cost half their length)."""
        cmp = compare_barcodes(self.index1(), self.grid[1])
        bc, ex = self.index1(), self.grid[1]
        ue, ur = cmp.unmatched_estimate, cmp.unmatched_reference
        costs = [cmp.max_abs_diff, *((bc.deaths[ue] - bc.births[ue]) / 2),
                 *((ex.deaths[ur] - ex.births[ur]) / 2)]
        return 100 * float(max(costs)) / self.value_range

    def extra_bars(self) -> np.ndarray:
        """Lengths (in % of the range) of the complex's index-1 bars other than the nearest one."""
        bc = self.index1()
        k = np.setdiff1d(np.arange(len(bc.births)), [self.nearest_bar()[0]])
        return 100 * (bc.deaths[k] - bc.births[k]) / self.value_range

    def saddle_overshoot(self) -> float:
        """Largest (curve max − path max) over the pairs, in % of the range: how far above the
        orthogonal-gradient paths the mean-loss curves pass."""
        return 100 * max(self.curve_max[k] - self.path_max[k] for k in self.curve_max) / self.value_range

    def index1_table(self) -> str:
        """Exact index-1 bar(s) beside both complexes' bars, differences in % of the range."""
        rng = self.value_range
        lines = [f"function range {rng:.4g}; exact (grid {self.config['grid']}^2) index-1 bars:"]
        lines += [f"  [{b:+.4f}, {d:+.4f}]  length {100 * (d - b) / rng:.3f}% of the range"
                  for b, d in zip(self.grid[1].births, self.grid[1].deaths)]
        bc = self.index1()
        lines.append(f"complex of {len(self.min_losses)} minima, {len(self.curve_max)} curves, "
                     f"{len(self.triangles)} triangles: {len(bc.births)} index-1 bar(s)")
        lines += [f"  [{b:+.4f}, {d:+.4f}] opened by edge {bc.creator[k]}, filled by triangle {bc.killer[k]}"
                  for k, (b, d) in enumerate(zip(bc.births, bc.deaths))]
        k, diff = self.nearest_bar()
        ex = self.grid[1]
        if k >= 0:
            exact_len = float(ex.deaths[0] - ex.births[0])
            lines.append(f"nearest bar to the exact one: [{bc.births[k]:+.4f}, {bc.deaths[k]:+.4f}], "
                         f"largest |difference| {diff:.3f}% of the range = "
                         f"{diff * rng / 100 / exact_len:.1f} x the exact bar's length")
        extra = self.extra_bars()
        lines.append(f"other bars: {len(extra)}"
                     + (f", longest {extra.max():.3f}% of the range" if len(extra) else ""))
        lines.append(f"bottleneck distance between the index-1 barcodes: {self.bottleneck():.3f}% "
                     "of the range")
        return "\n".join(lines)

    def index0_equals_minima_barcode(self) -> bool:
        """The complex's index-0 barcode is the minima barcode (formula (1)) of the same edges."""
        edges = dict(self.curve_max)
        for tri, sm in zip(self.triangles.tolist(), self.side_max.tolist()):
            for (a, b), m in zip(((0, 1), (0, 2), (1, 2)), sm):
                edges[(tri[a], tri[b])] = m
        bc = minima_barcode(self.min_losses, edges)
        c = self.complex[0]
        return bool(np.allclose(bc.births, c.births) and np.allclose(bc.deaths, c.deaths))


def _toy_compute(cfg: ToyTriangleConfig, device: str, progress: bool) -> ToyTriangleResult:
    t0 = time.perf_counter()
    # minima, orthogonal-gradient paths (the saddle reference) and the exact grid barcode: the
    # introduction's cached computation
    ref = toy_barcodes(cfg.toy, device=device, progress=progress)
    f = landscapes.landscape(cfg.toy.landscape)
    mins = torch.from_numpy(ref.minima)
    min_losses = ref.min_losses
    obj = FunctionObjective(f, dim=2, steps_per_epoch=10)
    cs = optimize_curves(obj, mins, config=cfg.curve, device=device, progress=progress,
                         seed=cfg.toy.seed)
    curve_max = evaluate_curves(obj, cs, n_t=2 * cfg.resolution + 1, bootstrap=0,
                                device=device).saddles()
    ts = optimize_triangles(obj, mins, config=cfg.triangle, curves=cs, device=device,
                            progress=progress, seed=cfg.toy.seed)
    te = evaluate_triangles(obj, ts, resolution=cfg.resolution, device=device)
    edges, tris = te.filtration()
    cplx = simplex_barcode(min_losses, edges, tris)
    return ToyTriangleResult(
        config={**dataclasses.asdict(cfg), "grid": cfg.grid}, domain=ref.domain,
        minima=ref.minima, min_losses=min_losses, curve_max=curve_max, path_max=ref.saddles,
        triangles=te.triangles.numpy(), side_max=te.side_max.double().numpy(),
        max_loss=te.max_loss.double().numpy(), complex=cplx, grid=ref.grid,
        grid_values=ref.grid_values, compute_s=time.perf_counter() - t0)


def toy_triangles(cfg: ToyTriangleConfig, *, device: str = "auto",
                  progress: bool = True) -> ToyTriangleResult:
    """Part A: minima, curves, triangles and paths of a 2D landscape; the complexes' barcodes and
    the exact grid barcodes (cached)."""
    return cached("app_i_toy_triangles", cfg, lambda: _toy_compute(cfg, device, progress),
                  version=f"3+engine{ENGINE_VERSION}")
