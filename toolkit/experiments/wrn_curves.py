"""Fig. 6, Fig. 7 and Table 3 of Barannikov et al. (§4): random-point curves scale the barcode to
a WideResNet16x10 (17M parameters) on CIFAR-100.

Five minima (Table 3); a polygonal chain with one trainable bend between every pair, trained on
random points of the curve with the budget of one minimum (App. C: the minima's recipe); the
index-0 barcode from the curves' maxima (Fig. 6a); its robustness to the choice and number of
minima -- barcodes of every subset of 3 and 4 of the 5 minima (Fig. 7); and the index-1 barcode
from optimised triangles whose sides are the curves and whose centre is trained (Fig. 6b, App. I).
Curves and triangles are evaluated with BatchNorm statistics recomputed at every point.

At ``cpu`` scale the network is reduced (the ``wrn_garipov`` preset says how: depth and width)
and CIFAR-100 is replaced by the documented stand-in; both are named in every printout.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import torch

from toolkit import scales
from toolkit.cache import cached
from toolkit.curves import CurveConfig, evaluate_curves, optimize_curves
from toolkit.data import DATASETS
from toolkit.join import bar_barcode
from toolkit.minima import describe_data, minima
from toolkit.objectives import ModuleObjective
from toolkit.params import as_choice, as_int
from toolkit.recipes import get_recipe
from toolkit.report import verdict
from toolkit.seeds import child_seed
from toolkit.simplices import TriangleConfig, evaluate_triangles, optimize_triangles
from toolkit.topology import Barcode, minima_barcode, simplex_barcode, to_score

__all__ = ["PAPER_TABLE3", "WRNCurvesConfig", "WRNCurvesResult", "wrn_curves", "wrn_curves_config"]

RECIPE = "wrn_garipov"

#: Table 3 (mean, std) over the paper's 5 minima
PAPER_TABLE3 = {"train loss": (0.0072, 0.0007), "test loss": (0.9093, 0.0130),
                "train acc %": (99.9812, 0.0060), "test acc %": (77.9280, 0.2665)}


@dataclass(frozen=True)
class WRNCurvesConfig:
    """Everything that determines the result (hashed for the cache). ``curve.epochs`` is the
    minima's epochs at this scale (a curve gets a minimum's budget); ``triangle_minima``: the
    triangles span every triple of the first that many minima; ``subset_sizes``: Fig. 7's
    numbers of minima."""

    dataset: str
    depth: int
    widen_factor: int
    n_minima: int
    scale: str
    seed: int
    curve: CurveConfig
    triangle: TriangleConfig
    n_t: int
    resolution: int
    triangle_minima: int
    subset_sizes: tuple[int, ...]
    eval_chunk: int
    resolution_t: float
    max_rounds: int

    @property
    def arch(self) -> str:
        """``"WideResNet-16-10"``, or the reduced network, said so."""
        name = f"WideResNet-{self.depth}-{self.widen_factor}"
        return name + ("" if (self.depth, self.widen_factor) == (16, 10) else " (reduced from WRN-16-10)")

    def describe(self) -> str:
        """Minima recipe as scaled, curves, triangles, evaluation."""
        k, n = self.triangle_minima, self.n_minima
        rec = [ln for ln in scales.get(self.scale, RECIPE).describe(RECIPE).splitlines()
               if not ln.startswith("  minima")]
        return "\n".join([
            f"{self.arch} on {self.dataset} (paper: WideResNet-16-10 on CIFAR-100); {n} minima",
            f"minima: recipe {RECIPE!r} at {rec[0]}", *rec[1:],
            f"curves: {n * (n - 1) // 2} polygonal chains with one bend, {self.curve.epochs} epochs "
            f"of SGD (lr {self.curve.lr}, batch {self.curve.batch_size}, the minima's schedule) "
            f"on random points; evaluated at {self.n_t} equally spaced t",
            f"triangles: every triple of the first {k} minima ({len(list(combinations(range(k), 3)))}), "
            f"sides = the curves, centre trained {self.triangle.epochs} epochs; barycentric grid of "
            f"{self.resolution} steps per side",
            f"Fig. 7: barcodes of every subset of {list(self.subset_sizes)} of the {n} minima"])


def wrn_curves_config(scale: str = "cpu", *, seed: int = 0, dataset: str = "cifar100",
                      n_minima: int | None = None) -> WRNCurvesConfig:
    """The configuration at ``scale`` (settings: ``tk.scales.EXPERIMENTS["wrn_curves"]``; minima
    from the ``wrn_garipov`` preset)."""
    s = scales.settings("wrn_curves", scale)
    dataset = as_choice(dataset, "dataset", DATASETS)
    seed = as_int(seed, "seed")
    n = as_int(n_minima, "n_minima", allow_none=True)
    n = s["n_minima"] if n is None else n
    if n < 3:
        raise ValueError(f"triangles and Fig. 7's subsets need at least 3 minima, got {n}")
    rec = scales.get(scale, RECIPE).apply(RECIPE)
    common = dict(lr=rec.lr, momentum=rec.momentum, weight_decay=rec.weight_decay,
                  batch_size=s["batch_size"], lr_schedule="garipov")
    return WRNCurvesConfig(
        dataset=dataset, depth=s["arch"][0], widen_factor=s["arch"][1], n_minima=n, scale=scale,
        seed=seed,
        curve=CurveConfig(epochs=rec.epochs, kind="polychain", **common),
        triangle=TriangleConfig(epochs=s["triangle_epochs"], regime="sides", **common),
        n_t=s["n_t"], resolution=s["resolution"], triangle_minima=min(n, s["triangle_minima"]),
        subset_sizes=tuple(k for k in s["subset_sizes"] if 2 <= k < n), eval_chunk=s["eval_chunk"],
        resolution_t=s["resolution_t"], max_rounds=s["max_rounds"])


@dataclass
class WRNCurvesResult:
    """Minima table (``train_loss``, ``train_acc``, ``test_loss``, ``test_acc``, ``converged``,
    all ``[n]``; accuracies in [0, 1]), ``min_losses [n]`` and ``curve_max {(i, j): max}`` from
    the curves' evaluation, ``curve_loss {(i, j): [T, 2]}`` (t, loss) along each curve with
    ``curve_certified [P]`` (the refinement certified its maximum), the index-0
    ``barcode``, ``subsets {(i, j, ...): Barcode}`` (Fig. 7), per triangle ``triangle_max
    {(i, j, k): max}`` with the loss ``triangle_loss [T, G]`` on the barycentric grid ``lam [G, 3]``,
    and ``complex {0, 1, 2: Barcode}``: the barcodes of the complex of the first
    ``triangle_minima`` minima, their curves and every triangle between them."""

    config: dict
    data: str
    stand_in: bool
    arch: str
    n_params: int
    train_loss: np.ndarray
    train_acc: np.ndarray
    test_loss: np.ndarray
    test_acc: np.ndarray
    converged: np.ndarray
    min_losses: np.ndarray
    curve_max: dict[tuple[int, int], float]
    curve_loss: dict[tuple[int, int], np.ndarray]
    curve_certified: np.ndarray
    barcode: Barcode
    subsets: dict[tuple[int, ...], Barcode]
    triangle_max: dict[tuple[int, int, int], float]
    lam: np.ndarray
    triangle_loss: np.ndarray
    complex: dict[int, Barcode]
    minima_s: float
    curves_s: float
    triangles_s: float

    @property
    def compute_s(self) -> float:
        return self.minima_s + self.curves_s + self.triangles_s

    def table3(self) -> str:
        """Table 3: mean ± std over the minima beside the paper's."""
        rows = [("train loss", self.train_loss, 1), ("test loss", self.test_loss, 1),
                ("train acc %", self.train_acc, 100), ("test acc %", self.test_acc, 100)]
        lines = [f"{self.arch}, {self.n_params:,} parameters; data: {self.data}",
                 f"{'':>12} {'ours':>20} {'paper (WRN-16-10, CIFAR-100)':>30}"]
        for name, v, f in rows:
            m, s = PAPER_TABLE3[name]
            lines.append(f"{name:>12} {f'{f * v.mean():.4g} ± {f * v.std():.2g}':>20} {f'{m:g} ± {s:g}':>30}")
        lines.append(f"{'converged':>12} {f'{int(self.converged.sum())}/{len(self.converged)}':>20}")
        return "\n".join(lines)

    def curve_profiles(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{"m0-m1": (t, loss)}`` along every curve."""
        return {f"m{i}-m{j}": (tl[:, 0], tl[:, 1]) for (i, j), tl in self.curve_loss.items()}

    def highest_triangle(self) -> tuple[tuple[int, int, int], np.ndarray]:
        """The triangle with the highest maximum and its loss on the grid ``[G]``."""
        k = int(np.argmax(list(self.triangle_max.values())))
        return list(self.triangle_max)[k], self.triangle_loss[k]

    def subset_barcodes(self, size: int) -> dict[str, Barcode]:
        """``{"m0 m1 m3": Barcode}`` for every subset of ``size`` minima."""
        return {" ".join(f"m{i}" for i in k): b for k, b in self.subsets.items() if len(k) == size}

    def mean_bar_end(self, barcode: Barcode) -> float:
        """Mean death of the finite bars (NaN when there is none)."""
        d = barcode.finite().deaths
        return float(d.mean()) if len(d) else float("nan")

    def robustness(self) -> dict[int, tuple[float, float]]:
        """Per subset size: the largest |mean bar end of a subset − that of all minima| and the
        same as a fraction of the full barcode's mean bar length."""
        full = self.mean_bar_end(self.barcode)
        length = float(self.barcode.finite().lengths.mean())
        out = {}
        for k in self.config["subset_sizes"]:
            dev = max(abs(self.mean_bar_end(b) - full) for b in self.subset_barcodes(k).values())
            out[k] = (dev, dev / length if length > 0 else float("inf"))
        return out

    def index1(self) -> Barcode:
        """The triangles' finite index-1 bars longer than zero (a triangle that fills no loop of
        the complex gives a zero-length pair)."""
        b = self.complex[1].finite()
        return b.subset(b.lengths > 1e-12)

    def index_summary(self) -> str:
        """Index-0 and index-1 barcodes, TO-scores and Fig. 7's deviations."""
        b0, b1 = self.barcode, self.index1()
        lines = [f"index 0 (curves): {b0}", f"TO-score (index 0): {to_score(b0):.4f}",
                 f"index 1 (triangles): {len(b1)} finite bar(s), lengths "
                 f"{np.round(b1.lengths, 4).tolist()}; TO-score (index 1, finite bars): "
                 f"{to_score(b1) if len(b1) else 0.0:.4f}",
                 f"unfilled index-1 loops: {int(self.complex[1].infinite.sum())}; index-2 bars "
                 f"(voids of the triangles, no tetrahedra optimised): {len(self.complex.get(2, []))}"]
        for k, (dev, rel) in self.robustness().items():
            lines.append(f"subsets of {k}: largest deviation of the mean bar end from all "
                         f"{len(self.min_losses)} minima's {dev:.4f} ({100 * rel:.0f}% of the mean "
                         "bar length)")
        return "\n".join(lines)

    def verdict(self, robust_tol: float = 0.5) -> dict:
        """Fig. 6-7's verdict for ``run.finish``. (a) Fig. 7: the barcode is robust when, for every
        subset size, every subset's mean bar end lies within ``robust_tol`` x the full barcode's
        mean bar length of the full barcode's mean bar end; (b) Fig. 6b: the index-1 bars are
        short -- the longest is shorter than the longest finite index-0 bar -- and every loop of
        the complex is filled; sanity: no flagged minimum. Reproduced when (a) and (b) hold and
        the minima converged; partly when (a) or (b) holds; not reproduced otherwise; and
        undetermined while the minima or the curves' maxima have not converged (the curves
        train for a fixed budget, so their maxima are upper bounds)."""
        rob = self.robustness()
        robust = bool(rob) and all(rel <= robust_tol for _, rel in rob.values())
        b1 = self.index1()
        len0 = float(self.barcode.finite().lengths.max()) if len(self.barcode.finite()) else 0.0
        len1 = float(b1.lengths.max()) if len(b1) else 0.0
        filled = int(self.complex[1].infinite.sum()) == 0
        short = filled and len1 < len0
        sane = self.barcode.flagged.size == 0
        if robust and short and sane and self.converged.all():
            status = "reproduced"
        elif (robust or short) and sane:
            status = "partly reproduced"
        else:
            status = "not reproduced"
        n = len(self.min_losses)
        bars = len(self.barcode.finite())
        return verdict(
            status=status, dataset=self.data,
            # curves train for a fixed budget with no convergence test: their maxima are upper
            # bounds (toolkit.decide), so no bar-ending maximum counts as converged
            minima=(int(np.sum(self.converged)), n), maxima=(0, bars),
            runs=f"{self.arch}: {n} minima, {len(self.curve_max)} curves, {len(self.triangle_max)} "
                 f"triangles, 1 run; scale {self.config['scale']}",
            finding=f"index-0 barcode from curves: mean bar end {self.mean_bar_end(self.barcode):.4f}, "
                    f"TO-score {to_score(self.barcode):.4f}; Fig. 7 subsets: "
                    + ", ".join(f"{k} minima deviate by <= {100 * r:.0f}% of the mean bar length"
                                for k, (_, r) in rob.items())
                    + f" (robust at {100 * robust_tol:.0f}%: {robust}); index 1: {len(b1)} bar(s), "
                      f"longest {len1:.4f} vs longest index-0 bar {len0:.4f} (short: {short}, all "
                      f"loops filled: {filled}); minima converged {int(self.converged.sum())}/{n}",
            paper="random-point curves give the barcode of a 17M-parameter WRN on CIFAR-100, robust "
                  "to the choice and number of minima (Fig. 7); triangles give its index-1 barcode",
            ours=f"subsets robust: {robust}; index-1 bars short: {short}",
            numbers={"robustness": {str(k): list(v) for k, v in rob.items()},
                     "index1_lengths": b1.lengths, "longest_index0": len0,
                     "to_score": to_score(self.barcode), "converged": self.converged,
                     "test_acc": self.test_acc},
            compute_s=self.compute_s, stand_in=self.stand_in, scale=self.config["scale"],
            compared=len(rob) + 1)


def _compute(cfg: WRNCurvesConfig, device: str, progress: bool,
             executor: str | None) -> WRNCurvesResult:
    t0 = time.perf_counter()
    ms = minima("wrn16x10", cfg.dataset, RECIPE, cfg.n_minima, cfg.scale, seed=cfg.seed,
                device=device, progress=progress, executor=executor, depth=cfg.depth,
                widen_factor=cfg.widen_factor)
    t1 = time.perf_counter()
    obj = ModuleObjective(ms.model, ms.train_data.x, ms.train_data.y, eval_chunk=cfg.eval_chunk)
    seed = child_seed(cfg.seed, "path_run", 0)
    cs = optimize_curves(obj, ms.flat, config=cfg.curve, device=device, progress=progress, seed=seed)
    ev = evaluate_curves(obj, cs, n_t=cfg.n_t, bootstrap=0, device=device, progress=progress,
                         resolution=cfg.resolution_t, max_rounds=cfg.max_rounds)
    ends = ev.minima_losses()
    losses = np.array([ends[i] for i in range(cfg.n_minima)])
    curve_max = ev.saddles()
    barcode = bar_barcode(ev, cfg.n_minima)[1]  # the one rule for which maxima end bars
    subsets = {}
    for k in cfg.subset_sizes:
        for sub in combinations(range(cfg.n_minima), k):
            idx = {m: r for r, m in enumerate(sub)}
            sad = {(idx[i], idx[j]): v for (i, j), v in curve_max.items() if i in idx and j in idx}
            subsets[sub] = minima_barcode(losses[list(sub)], sad)
    t2 = time.perf_counter()
    tris = list(combinations(range(cfg.triangle_minima), 3))
    ts = optimize_triangles(obj, ms.flat, tris, config=cfg.triangle, curves=cs, device=device,
                            progress=progress, seed=seed)
    te = evaluate_triangles(obj, ts, resolution=cfg.resolution, device=device, progress=progress)
    tri_max = {tuple(t): float(m) for t, m in zip(te.triangles.tolist(), te.max_loss.tolist())}
    # the complex of the first k minima: their curves and every triangle between them, so that
    # every loop of its edges can be filled (a loop through a minimum without triangles could not)
    k = cfg.triangle_minima
    cplx = simplex_barcode(losses[:k], {e: v for e, v in curve_max.items() if max(e) < k}, tri_max)
    return WRNCurvesResult(
        config={**dataclasses.asdict(cfg), "subset_sizes": list(cfg.subset_sizes)},
        data=describe_data(ms, what="minima, curves, triangles and evaluation"),
        stand_in=bool(ms.stand_in_note),
        arch=cfg.arch,
        n_params=int(ms.flat.shape[1]), train_loss=np.asarray(ms.train_loss),
        train_acc=np.asarray(ms.train_acc), test_loss=np.asarray(ms.test_loss),
        test_acc=np.asarray(ms.test_acc), converged=np.asarray(ms.converged),
        min_losses=losses, curve_max=curve_max,
        curve_loss={tuple(p): torch.stack([t, lo], 1).double().numpy()
                    for p, t, lo in zip(ev.pairs.tolist(), ev.t, ev.loss)},
        curve_certified=ev.certified.numpy(),
        barcode=barcode, subsets=subsets, triangle_max=tri_max, lam=te.lam.double().numpy(),
        triangle_loss=te.loss.double().numpy(), complex=cplx,
        minima_s=t1 - t0, curves_s=t2 - t1, triangles_s=time.perf_counter() - t2)


def wrn_curves(cfg: WRNCurvesConfig, *, device: str = "auto", progress: bool = True,
               executor: str | None = None) -> WRNCurvesResult:
    """Minima, curves, barcodes of subsets, triangles and the index-1 barcode (cached);
    ``executor="ray"`` trains the minima as one Ray task each (:mod:`toolkit.executor`)."""
    key = {"config": cfg, "recipe": scales.get(cfg.scale, RECIPE).apply(get_recipe(RECIPE))}
    return cached("wrn_curves", key, lambda: _compute(cfg, device, progress, executor),
                  version="1")
