"""App. I of Barannikov et al., Part B (Fig. 16): the index-1 bar of a triangle of LeNet minima.

Three minima of the LeNet-like net on Fashion-MNIST, polygonal-chain curves between them and the
triangle with those sides and a trainable centre, evaluated on the training set on a barycentric
grid; its index-1 bar is ``[max over the sides, max over the triangle]``. Part A (the exact 2D
check) is in :mod:`toolkit.experiments.triangles`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from toolkit import scales
from toolkit.cache import cached
from toolkit.curves import CurveConfig, optimize_curves
from toolkit.data import DATASETS
from toolkit.experiments.triangles import ToyTriangleResult
from toolkit.minima import minima as train_minima
from toolkit.objectives import ModuleObjective
from toolkit.params import as_choice, as_int
from toolkit.recipes import get_recipe
from toolkit.report import verdict
from toolkit.simplices import TriangleConfig, evaluate_triangles, optimize_triangles
from toolkit.topology import Barcode, simplex_barcode

__all__ = ["IndexOneResult", "LenetTriangleConfig", "LenetTriangleResult",
           "lenet_triangle", "lenet_triangle_config"]

@dataclass(frozen=True)
class LenetTriangleConfig:
    """Everything that determines Part B (hashed for the cache). The minima are
    ``tk.minima("lenet", dataset, "lenet", n=3, scale=scale)``; curves and the triangle are trained
    on the same training subset (the paper gives a curve a minimum's budget and the triangle's
    centre more epochs; how many is not given)."""

    dataset: str
    scale: str
    seed: int
    resolution: int
    curve: CurveConfig
    triangle: TriangleConfig

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
    """Part B's configuration at ``scale`` (settings: ``tk.scales.EXPERIMENTS["lenet_triangle"]``;
    the minima follow the ``"lenet"`` training preset)."""
    s = scales.settings("lenet_triangle", scale)
    dataset = as_choice(dataset, "dataset", DATASETS)
    seed = as_int(seed, "seed")
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
    key = {"config": cfg, "recipe": scales.get(cfg.scale, "lenet").apply(get_recipe("lenet"))}
    return cached("app_i_lenet_triangle", key, lambda: _lenet_compute(cfg, device, progress),
                  version="2")


@dataclass
class IndexOneResult:
    """App. I's chapter: Part A (``toy``, the exact 2D check) and Part B (``lenet``, Fig. 16)."""

    toy: ToyTriangleResult
    lenet: LenetTriangleResult

    def verdict(self, tol_fraction: float = 0.1) -> dict:
        """App. I's verdict for ``run.finish``. Part A passes when the complex's nearest index-1
        bar and the bottleneck distance to the exact index-1 barcode are within ``tol_fraction``
        of the exact bar's own length (the tolerance is relative to what it tests) and the
        complex's index-0 barcode is the minima barcode of its edges.
        Part B passes when the LeNet triangle's index-1 bar is short
        (:meth:`LenetTriangleResult.is_short`). Reproduced needs both and converged minima; partly
        needs one. A landscape whose exact grid has no index-1 bar leaves Part A untested (it
        cannot pass), and the results of both parts must be of one scale."""
        toy, net = self.toy, self.lenet
        if toy.config["toy"]["scale"] != net.config["scale"]:
            raise ValueError(f"Part A was computed at scale {toy.config['toy']['scale']!r} and Part B "
                             f"at {net.config['scale']!r}: build both configs from one scale")
        diff, bottleneck = toy.index1_diff(), toy.bottleneck()
        has_exact = len(toy.grid[1].births) > 0
        exact_len = (100 * float(toy.grid[1].deaths[0] - toy.grid[1].births[0]) / toy.value_range
                     if has_exact else float("nan"))
        extra = toy.extra_bars()
        tol_percent = tol_fraction * exact_len if has_exact else 0.0  # in % of the range
        part_a = (has_exact and diff <= tol_percent and bottleneck <= tol_percent
                  and toy.index0_equals_minima_barcode())
        b, d = net.bar
        part_b = net.is_short()
        status = ("reproduced" if part_a and part_b and net.converged.all()
                  else "partly reproduced" if part_a or part_b else "not reproduced")
        grid = toy.config["grid"]
        return verdict(
            status=status, minima=(int(net.converged.sum()), len(net.converged)),
            power=f"Part A resolves index-1 bars to {tol_fraction:.0%} of the exact bar's length "
                  f"({tol_percent:.3f}% of the range)",
            dataset=f"Part A: analytic 2D function ({toy.config['toy']['landscape']}), {grid}x{grid} grid "
                    f"reference; Part B: {net.data}",
            runs=f"1 run each: Part A {len(toy.minima)} minima, {len(toy.curve_max)} curves, "
                 f"{len(toy.triangles)} triangles; Part B 3 minima, 3 curves, 1 triangle",
            finding=(f"2D: nearest index-1 bar within {diff:.3f}% of the range of the exact one, "
                     f"bottleneck {bottleneck:.3f}% (tolerance {tol_fraction:.0%} of the exact "
                     f"bar's length {exact_len:.3f}% = {tol_percent:.3f}%; "
                     f"{len(extra)} other short bar(s))" if has_exact else
                     "2D: not tested (the exact grid barcode has no index-1 bar)")
                    + f"; LeNet triangle's index-1 bar [{b:.3f}, "
                    f"{d:.3f}] ({'short' if part_b else 'not short'}: sides "
                    f"{b - net.vertex_loss.max():.3f} above the highest minimum; minima "
                    f"converged: {int(net.converged.sum())}/3)",
            paper="optimised triangles give a short index-1 bar for LeNet on Fashion-MNIST (Fig. 16)",
            ours=f"2D check: nearest bar {diff:.3f}%, bottleneck {bottleneck:.3f}% of the range "
                 f"(exact bar {exact_len:.3f}% long); LeNet bar [{b:.4f}, {d:.4f}], "
                 f"{'short' if part_b else 'not short'}; minima converged "
                 f"{int(net.converged.sum())}/3",
            numbers={"part_a_index1_diff_percent_of_range": diff,
                     "part_a_bottleneck_percent_of_range": bottleneck,
                     "part_a_exact_bar_percent_of_range": exact_len,
                     "part_a_extra_bars": len(extra), "part_b_bar_birth": b, "part_b_bar_death": d,
                     "part_b_train_loss": net.train_loss, "part_b_train_acc": net.train_acc,
                     "part_b_test_loss": net.test_loss, "part_b_test_acc": net.test_acc},
            compute_s=toy.compute_s + net.compute_s, scale=net.config["scale"])

