"""App. I of Barannikov et al.: the index-1 barcode from optimised triangles.

Part A (exact check, 2D): on a landscape whose minima form a ring around a hill, take the minima,
join every pair by a polygonal-chain curve (``optimize_curves``), train one triangle per triple
with fixed sides and a trainable centre (``optimize_triangles(regime="sides")``), build the
filtered complex of minima, curves and triangles (``simplex_barcode``) and compare its index-1
barcode with the exact one of the function on a fine grid (``grid_barcode``). Curves trained on the
*mean* loss can pass above the saddles; orthogonal-gradient paths (``optimize_paths``, as in the
introduction) between the same minima measure by how much.

Part B (Fig. 16): three minima of the LeNet-like net on Fashion-MNIST, polygonal-chain curves
between them and the triangle with those sides and a trainable centre, evaluated on the training
set on a barycentric grid; its index-1 bar is ``[max over the sides, max over the triangle]``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from toolkit import landscapes, scales
from toolkit.cache import cached
from toolkit.curves import CurveConfig, evaluate_curves, optimize_curves
from toolkit.minima import minima as train_minima
from toolkit.objectives import FunctionObjective, ModuleObjective
from toolkit.paths import PathConfig, evaluate_paths, optimize_paths
from toolkit.simplices import TriangleConfig, evaluate_triangles, optimize_triangles
from toolkit.topology import (
    Barcode,
    compare_barcodes,
    grid_barcode,
    minima_barcode,
    simplex_barcode,
)

__all__ = ["LenetTriangleConfig", "LenetTriangleResult", "ToyTriangleConfig", "ToyTriangleResult",
           "lenet_triangle", "lenet_triangle_config", "toy_triangles", "toy_triangles_config"]


def _bc_json(bcs: dict[int, Barcode]) -> dict[str, dict]:
    return {str(k): v.to_json() for k, v in bcs.items()}


def _bc_from(d: dict) -> dict[int, Barcode]:
    return {int(k): Barcode.from_json(v) for k, v in d.items()}


def _pairs_list(d: dict[tuple[int, ...], float]) -> list[list[float]]:
    return [[*k, v] for k, v in d.items()]


def _pairs_dict(rows: list) -> dict[tuple[int, ...], float]:
    return {tuple(int(a) for a in r[:-1]): float(r[-1]) for r in rows}


def _significant(bc: Barcode, eps: float) -> Barcode:
    """The bars of ``bc`` longer than ``eps`` (drops the zero-length pairs of triangles that
    close no loop)."""
    keep = np.flatnonzero(bc.deaths - bc.births > eps)
    return Barcode(births=bc.births[keep], deaths=bc.deaths[keep], minimum=bc.minimum[keep],
                   killer=[bc.killer[k] for k in keep], index=bc.index,
                   creator=None if bc.creator is None else [bc.creator[k] for k in keep], kind=bc.kind)


# ============================================================================ Part A: 2D, exact

_TOY_SCALES = {
    "smoke": dict(grid=192, starts_per_side=6, descent_steps=1500, epochs=20, path_epochs=20,
                  resolution=16),
    "cpu": dict(grid=768, starts_per_side=12, descent_steps=3000, epochs=100, path_epochs=100,
                resolution=32),
    "paper": dict(grid=2048, starts_per_side=24, descent_steps=6000, epochs=300, path_epochs=300,
                  resolution=64),
}


@dataclass(frozen=True)
class ToyTriangleConfig:
    """Everything that determines Part A (hashed for the cache). One "epoch" is
    ``steps_per_epoch`` exact-gradient steps (no data); no weight decay (it would pull the nodes
    toward the origin)."""

    landscape: str = "gaussian_wells"
    scale: str = "cpu"
    seed: int = 0
    grid: int = 768
    starts_per_side: int = 12
    descent_steps: int = 3000
    resolution: int = 32
    curve: CurveConfig = field(default_factory=CurveConfig)
    triangle: TriangleConfig = field(default_factory=TriangleConfig)
    path: PathConfig = field(default_factory=PathConfig)


def toy_triangles_config(scale: str = "cpu", landscape: str = "gaussian_wells",
                         seed: int = 0) -> ToyTriangleConfig:
    """Part A's configuration at ``scale`` (``smoke``, ``cpu`` or ``paper``)."""
    if scale not in _TOY_SCALES:
        raise ValueError(f"scale must be one of {sorted(_TOY_SCALES)}, got {scale!r}")
    s = _TOY_SCALES[scale]
    common = dict(epochs=s["epochs"], steps_per_epoch=10, lr=0.02, weight_decay=0.0,
                  samples_per_step=8)
    path = PathConfig(n_points=19, epochs=s["path_epochs"], steps_per_epoch=10, lr=0.02, momentum=0.9,
                      weight_decay=0.0, lr_schedule="garipov",
                      insert_every=max(1, s["path_epochs"] // 4), insert_criterion="distance")
    return ToyTriangleConfig(landscape=landscape, scale=scale, seed=seed, grid=s["grid"],
                             starts_per_side=s["starts_per_side"], descent_steps=s["descent_steps"],
                             resolution=s["resolution"], curve=CurveConfig(**common),
                             triangle=TriangleConfig(regime="sides", **common), path=path)


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
        return _significant(self.complex[1], 1e-9 * self.value_range)

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

    def to_state(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for k in ("complex", "grid"):
            d[k] = _bc_json(d[k])
        for k in ("curve_max", "path_max"):
            d[k] = _pairs_list(d[k])
        for k in ("minima", "min_losses", "triangles", "side_max", "max_loss", "grid_values"):
            d[k] = torch.from_numpy(np.asarray(d[k]))
        d["domain"] = list(self.domain)
        return d

    @classmethod
    def from_state(cls, s: dict) -> ToyTriangleResult:
        return cls(config=s["config"], domain=tuple(s["domain"]), minima=s["minima"].numpy(),
                   min_losses=s["min_losses"].numpy(), curve_max=_pairs_dict(s["curve_max"]),
                   path_max=_pairs_dict(s["path_max"]), triangles=s["triangles"].numpy(),
                   side_max=s["side_max"].numpy(), max_loss=s["max_loss"].numpy(),
                   complex=_bc_from(s["complex"]),
                   grid=_bc_from(s["grid"]), grid_values=s["grid_values"].numpy(),
                   compute_s=float(s["compute_s"]))


def _toy_compute(cfg: ToyTriangleConfig, device: str, progress: bool) -> ToyTriangleResult:
    t0 = time.perf_counter()
    f = landscapes.landscape(cfg.landscape)
    torch.manual_seed(cfg.seed)
    mins = landscapes.find_minima(f, f.domain, starts_per_side=cfg.starts_per_side,
                                  steps=cfg.descent_steps)
    with torch.no_grad():
        min_losses = f(mins).numpy()
    obj = FunctionObjective(f, dim=2, steps_per_epoch=10)
    cs = optimize_curves(obj, mins, config=cfg.curve, device=device, progress=progress, seed=cfg.seed)
    curve_max = evaluate_curves(obj, cs, n_t=2 * cfg.resolution + 1, bootstrap=0,
                                device=device).saddles()
    ts = optimize_triangles(obj, mins, config=cfg.triangle, curves=cs, device=device,
                            progress=progress, seed=cfg.seed)
    te = evaluate_triangles(obj, ts, resolution=cfg.resolution, device=device)
    edges, tris = te.filtration()
    cplx = simplex_barcode(min_losses, edges, tris)
    ps = optimize_paths(obj, mins, config=cfg.path, device=device, progress=progress, seed=cfg.seed)
    path_max = evaluate_paths(obj, ps, between=4, bootstrap=0, device=device).saddles()
    values = landscapes.grid_values(f, f.domain, cfg.grid)
    exact = grid_barcode(values, min_persistence=1e-5 * float(values.max() - values.min()))
    step = max(1, cfg.grid // 256)
    return ToyTriangleResult(
        config=dataclasses.asdict(cfg), domain=f.domain, minima=mins.numpy(), min_losses=min_losses,
        curve_max=curve_max, path_max=path_max, triangles=te.triangles.numpy(),
        side_max=te.side_max.double().numpy(), max_loss=te.max_loss.double().numpy(),
        complex=cplx, grid=exact,
        grid_values=values[::step, ::step].copy(), compute_s=time.perf_counter() - t0)


def toy_triangles(cfg: ToyTriangleConfig, *, device: str = "auto",
                  progress: bool = True) -> ToyTriangleResult:
    """Part A: minima, curves, triangles and paths of a 2D landscape; the complexes' barcodes and
    the exact grid barcodes (cached)."""
    return cached("app_i_toy_triangles", cfg, lambda: _toy_compute(cfg, device, progress),
                  version="1", codec=ToyTriangleResult)


# ============================================================================ Part B: LeNet

#: what each scale changes for the curves and the triangle (the minima follow tk.scales "lenet")
_LENET_SCALES = {
    "smoke": dict(epochs=1, triangle_epochs=2, resolution=4),
    "cpu": dict(epochs=3, triangle_epochs=8, resolution=8),
    # the paper: curves get a minimum's budget; the triangle "more epochs" (how many is not given)
    "paper": dict(epochs=50, triangle_epochs=100, resolution=24),
}


@dataclass(frozen=True)
class LenetTriangleConfig:
    """Everything that determines Part B (hashed for the cache). The minima are
    ``tk.minima("lenet", dataset, "lenet", n=3, scale=scale)``; curves and the triangle are trained
    on the same training subset (the paper gives a curve a minimum's budget and the triangle's
    centre more epochs; how many is not given)."""

    dataset: str = "fashion-mnist"
    scale: str = "cpu"
    seed: int = 0
    resolution: int = 12
    curve: CurveConfig = field(default_factory=CurveConfig)
    triangle: TriangleConfig = field(default_factory=TriangleConfig)

    def describe(self) -> str:
        """What runs at this scale (minima, curves, triangle, evaluation grid)."""
        sc = scales.get(self.scale, "lenet")
        minima_lines = [ln for ln in sc.describe("lenet").splitlines() if not ln.startswith("  minima")]
        return "\n".join([
            *minima_lines,
            "  minima       : 3 (the triangle's vertices)",
            f"  curves       : 3 polygonal chains, {self.curve.epochs} epochs, SGD lr {self.curve.lr}, "
            f"batch {self.curve.batch_size} (paper: a minimum's budget, 50 epochs)",
            f"  triangle     : sides fixed, centre trained {self.triangle.epochs} epochs (paper: more "
            "than the curves, number not given)",
            f"  evaluation   : barycentric grid of {self.resolution} steps per side "
            f"({(self.resolution + 1) * (self.resolution + 2) // 2} points) on the training subset"])


def lenet_triangle_config(scale: str = "cpu", seed: int = 0,
                          dataset: str = "fashion-mnist") -> LenetTriangleConfig:
    """Part B's configuration at ``scale``."""
    if scale not in _LENET_SCALES:
        raise ValueError(f"scale must be one of {sorted(_LENET_SCALES)}, got {scale!r}")
    s = _LENET_SCALES[scale]
    common = dict(lr=0.01, momentum=0.9, weight_decay=0.0, batch_size=128)
    return LenetTriangleConfig(dataset=dataset, scale=scale, seed=seed, resolution=s["resolution"],
                               curve=CurveConfig(epochs=s["epochs"], **common),
                               triangle=TriangleConfig(regime="sides", epochs=s["triangle_epochs"],
                                                       **common))


@dataclass
class LenetTriangleResult:
    """Part B's result.

    Minima table ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc`` (``[3]``, accuracies
    in [0, 1]) and ``converged`` flags (``tk.train``'s criterion); ``curve_max``: ``{(i, j): max}``
    on each curve; ``lam [G, 3]`` barycentric grid
    with the triangle's training ``loss [G]`` and ``acc [G]``; ``side_max [3]``, ``max_loss``;
    ``barcode``: ``{0, 1}`` of the complex (3 minima, 3 curves, 1 triangle); ``data``: the data
    actually used; ``minima_s``: training time of the minima (0 when cached).
    """

    config: dict
    data: str
    n_params: int
    train_loss: np.ndarray
    train_acc: np.ndarray
    test_loss: np.ndarray
    test_acc: np.ndarray
    converged: np.ndarray
    curve_max: dict[tuple[int, int], float]
    lam: np.ndarray
    loss: np.ndarray
    acc: np.ndarray
    side_max: np.ndarray
    max_loss: float
    barcode: dict[int, Barcode]
    minima_s: float
    compute_s: float

    @property
    def bar(self) -> tuple[float, float]:
        """The triangle's index-1 bar ``[max over sides, max over triangle]``."""
        return float(self.side_max.max()), float(self.max_loss)

    @property
    def vertex_loss(self) -> np.ndarray:
        """``[3]`` training loss at the vertices (the minima), from the triangle's grid."""
        return np.array([self.loss[np.isclose(self.lam[:, k], 1)][0] for k in range(3)])

    def is_short(self) -> bool:
        """The triangle rises above its sides by less than its sides rise above the highest
        minimum: the index-1 bar is shorter than the index-0 barriers it sits on."""
        b, d = self.bar
        return bool(np.isfinite(d) and d - b < b - self.vertex_loss.max())

    def table(self) -> str:
        """The minima (paper's Table 14 style) and the triangle's bar."""
        lines = [f"{'minimum':>8} {'train loss':>11} {'train acc':>10} {'test loss':>10} {'test acc':>9}"]
        for i in range(len(self.train_loss)):
            lines.append(f"{i:>8} {self.train_loss[i]:>11.4f} {100 * self.train_acc[i]:>9.2f}% "
                         f"{self.test_loss[i]:>10.4f} {100 * self.test_acc[i]:>8.2f}%")
        b, d = self.bar
        lines.append("curve maxima: " + ", ".join(f"{i}-{j}: {v:.4f}" for (i, j), v in self.curve_max.items()))
        lines.append(f"triangle: side maxima {np.round(self.side_max, 4).tolist()}, maximum {d:.4f}, "
                     f"lowest accuracy on it {100 * self.acc.min():.2f}%")
        lines.append(f"index-1 bar [{b:.4f}, {d:.4f}], length {d - b:.4f}; the sides rise "
                     f"{b - self.vertex_loss.max():.4f} above the highest minimum")
        return "\n".join(lines)

    def to_state(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["barcode"] = _bc_json(d["barcode"])
        d["curve_max"] = _pairs_list(d["curve_max"])
        for k in ("train_loss", "train_acc", "test_loss", "test_acc", "converged", "lam", "loss", "acc",
                  "side_max"):
            d[k] = torch.from_numpy(np.asarray(d[k]))
        return d

    @classmethod
    def from_state(cls, s: dict) -> LenetTriangleResult:
        s = dict(s)
        for k in ("train_loss", "train_acc", "test_loss", "test_acc", "converged", "lam", "loss", "acc",
                  "side_max"):
            s[k] = s[k].numpy()
        s["barcode"] = _bc_from(s["barcode"])
        s["curve_max"] = _pairs_dict(s["curve_max"])
        return cls(**s)


def _lenet_compute(cfg: LenetTriangleConfig, device: str, progress: bool) -> LenetTriangleResult:
    t0 = time.perf_counter()
    ms = train_minima("lenet", cfg.dataset, "lenet", n=3, scale=cfg.scale, seed=cfg.seed,
                      device=device, progress=progress)
    minima_s = time.perf_counter() - t0
    obj = ModuleObjective(ms.model, ms.train_data.x, ms.train_data.y)
    cs = optimize_curves(obj, ms.flat, config=cfg.curve, device=device, progress=progress,
                         seed=cfg.seed)
    ts = optimize_triangles(obj, ms.flat, config=cfg.triangle, curves=cs, device=device,
                            progress=progress, seed=cfg.seed)
    te = evaluate_triangles(obj, ts, resolution=cfg.resolution, device=device, progress=progress)
    # the minima's losses on the same grid evaluation (recomputed BN statistics, full subset)
    vertex = te.vertex_loss[0].double().numpy()
    edges, tris = te.filtration()
    bc = simplex_barcode(vertex, edges, tris)
    n_test = len(ms.test_data.y)
    data = (f"{ms.dataset} (real; {len(ms.train_data.y):,} training images for minima, curves, "
            f"triangle and evaluation; {n_test:,} test images)")
    if ms.stand_in_note:
        data += f" STAND-IN: {ms.stand_in_note}"
    curve_max = {(int(a), int(b)): float(m) for (a, b), m in
                 zip(cs.pairs.tolist(), te.side_max[0].tolist())}
    return LenetTriangleResult(
        config=dataclasses.asdict(cfg), data=data, n_params=int(ms.flat.shape[1]),
        train_loss=ms.train_loss, train_acc=ms.train_acc, test_loss=ms.test_loss,
        test_acc=ms.test_acc, converged=ms.converged, curve_max=curve_max, lam=te.lam.double().numpy(),
        loss=te.loss[0].double().numpy(),
        acc=(te.acc[0].double().numpy() if te.acc.numel() else np.zeros(0)),
        side_max=te.side_max[0].double().numpy(), max_loss=float(te.max_loss[0]),
        barcode=bc, minima_s=minima_s, compute_s=time.perf_counter() - t0)


def lenet_triangle(cfg: LenetTriangleConfig, *, device: str = "auto",
                   progress: bool = True) -> LenetTriangleResult:
    """Part B: three LeNet minima, curves, the triangle with trainable centre, its loss on a
    barycentric grid and its index-1 bar (cached)."""
    return cached("app_i_lenet_triangle", cfg, lambda: _lenet_compute(cfg, device, progress),
                  version="1", codec=LenetTriangleResult)
