"""Fig. 2 and Fig. 13 of Barannikov et al.: barcodes of minima of fully connected nets of growing
depth on MNIST and Fashion-MNIST, and the error bars of their path maxima (App. H).

For each data set and depth (a *unit*, cached on its own so an interrupted run resumes):

1. train ``n_minima`` minima until they meet the convergence criterion of the recipe
   (``tk.minima`` with ``fc_converge``: Adam + cyclical LR, checked at the end of every cycle);
2. join every pair by a path optimised on the *same* training set (``tk.optimize_paths``: projected
   Adam, resampling, Alg. 4 insertion, the convergence test; pairs that can no longer change the
   barcode are pruned), ``path_seeds`` times with independent minibatch streams;
3. evaluate every path on that training set with certified maxima and a bootstrap over data
   chunks (``tk.evaluate_paths``), and build one barcode per path run (``tk.minima_barcode``).

The paper's claim is that the barcode "diminishes and descends lower" with depth. The result
compares, per depth, the levels of the minima (bar starts), of the saddles (bar ends) and the bar
lengths, each with an error bar that combines the data bootstrap and the spread over path runs;
differences within two error bars are ties, and bars within two error bars of zero are reported
as "minima connected without a barrier at this precision".
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from toolkit import scales
from toolkit._progress import progress_bar
from toolkit.cache import cached
from toolkit.data import DATASETS
from toolkit.landscape import evaluation_barcode, minima_paths
from toolkit.minima import MinimaSet, minima
from toolkit.params import as_int, as_list
from toolkit.paths import PathConfig, PathEvaluation, PathSet
from toolkit.report import verdict
from toolkit.topology import Barcode, minima_barcode

__all__ = ["FCDepthConfig", "FCDepthResult", "FCDepthUnit", "fc_depth", "fc_depth_config",
           "fc_minima", "fc_paths"]

#: what "indistinguishable" means: two error bars (and never finer than this, in nats)
_SIGMAS, _ATOL = 2.0, 1e-4


@dataclass(frozen=True)
class FCDepthConfig:
    """Everything that determines the Fig. 2/13 result (hashed for the cache); build it with
    :func:`fc_depth_config` (no field has a default: the scale decides).

    The minima, the paths and their evaluation use one training set: the recipe's, reduced by the
    scale (``tk.scales.get(scale, recipe)``). ``path_seeds``: independent path optimisations per
    unit (their spread is one of Fig. 13's two error bars; the other is the data bootstrap).
    """

    datasets: tuple[str, ...]
    depths: tuple[int, ...]
    width: int
    n_minima: int
    scale: str
    seed: int
    recipe: str
    bootstrap: int
    path_seeds: int
    path: PathConfig

    def training_set(self) -> str:
        """The training set as used, e.g. ``"a fixed 5,000-image subset of the training set"``."""
        n = scales.get(self.scale, self.recipe).n_train
        return "the whole training set" if n is None else f"a fixed {n:,}-image subset of the training set"

    def data_description(self) -> str:
        """One line: the data sets and the training set every step used."""
        return (f"{', '.join(self.datasets)} (real; {self.training_set()} for minima, path "
                f"optimisation and evaluation; the full test set for test accuracy)")

    def describe(self) -> str:
        """What runs at this scale, including what the scale changes in the minima's recipe."""
        p = self.path
        return "\n".join([
            f"data sets {list(self.datasets)}, depths {list(self.depths)} x {self.width} units, "
            f"{self.n_minima} minima each ({self.n_minima * (self.n_minima - 1) // 2} pairs)",
            f"minima: recipe {self.recipe!r} until converged -- "
            + scales.get(self.scale, self.recipe).describe(self.recipe),
            f"paths: {p.n_points} points, at most {p.epochs} epochs of projected {p.optimizer} "
            f"(lr {p.lr}, {p.lr_schedule} schedule, batch {p.batch_size}) on the same training set, "
            f"insertion '{p.insert_criterion}' every {p.insert_every} epochs, convergence test "
            f"(window {p.conv_window}, not before epoch {p.min_epochs}), pruning {p.prune}; "
            f"{self.path_seeds} independent optimisations per pair",
            f"evaluation: the same training set, certified maxima, {self.bootstrap} bootstrap "
            "resamples of data chunks",
        ])


def fc_depth_config(scale: str = "cpu", *, datasets=("mnist", "fashion-mnist"),
                    depths=(2, 3, 4, 6, 8), n_minima: int | None = None, seed: int = 0) -> FCDepthConfig:
    """The Fig. 2 configuration at ``scale`` (settings: ``tk.scales.EXPERIMENTS["fc_depth"]``);
    ``n_minima=None`` takes the scale's default. ``datasets`` and ``depths`` may arrive as text
    from the command line (``"[2, 4]"``, ``"mnist"``): see :mod:`toolkit.params`."""
    s = scales.settings("fc_depth", scale)
    datasets = as_list(datasets, "datasets", str, choices=DATASETS)
    depths = as_list(depths, "depths", int)
    bad = [d for d in depths if d < 1]
    if bad:
        raise ValueError(f"depths must be positive numbers of hidden layers, got {bad}")
    n = as_int(n_minima, "n_minima", allow_none=True)
    if n is None:  # the scale's default; the paper's 10 at paper scale
        n = scales.get(scale, "fc_converge").n_minima or 10
    if n < 2:
        raise ValueError(f"a barcode needs at least 2 minima, got n_minima={n}")
    seed = as_int(seed, "seed")
    # Ours, measured on these nets: the middle of the straight segment of an 8-layer net is a
    # near-flat plateau where projected SGD's steps vanish; Adam with a projected step escapes it.
    # No L2 term: the paths measure the training loss itself.
    path = PathConfig(n_points=s["n_points"], epochs=s["path_epochs"], batch_size=128,
                      optimizer="adam", lr=3e-3, weight_decay=0.0, lr_schedule="garipov",
                      insert_every=s["insert_every"], insert_criterion="loss",
                      min_epochs=s["min_epochs"], conv_window=4, track_subset=2048,
                      prune=True, on_nonfinite="backoff")
    return FCDepthConfig(datasets=datasets, depths=depths, width=32, n_minima=n, scale=scale,
                         seed=seed, recipe="fc_converge", bootstrap=s["bootstrap"],
                         path_seeds=s["path_seeds"], path=path)


@dataclass
class FCDepthUnit:
    """One (data set, depth): ``n`` minima and the paths between them, ``S`` path runs.

    Minima (``[n]``): ``min_losses`` on the training set by the paths' own evaluation
    (``endpoint_gap``: its largest difference from the minima store's value), ``grad_norm``,
    ``epochs`` trained, ``converged`` (the recipe's criterion), ``train_acc``, ``test_acc``.
    Paths (``pairs [P, 2]``): ``saddles [S, P]`` certified maxima of each run,
    ``bootstrap_std [S, P]`` their data-bootstrap standard deviations, ``status`` per run and path
    (``"converged"``, ``"pruned"``, ``"budget"``), ``max_history`` per run ``[R, P]`` (tracked
    maxima) at ``track_steps`` per run ``[R]``, ``point_steps [S]`` (compute spent) and
    ``barcodes`` (one per run); ``paths``/``evaluation``: the first run's ``PathSet`` (with its
    App. E diagnostics) and ``PathEvaluation``.
    """

    dataset: str
    depth: int
    n_params: int
    min_losses: np.ndarray
    grad_norm: np.ndarray
    epochs: np.ndarray
    converged: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray
    pairs: np.ndarray
    saddles: np.ndarray
    bootstrap_std: np.ndarray
    status: list
    max_history: list
    track_steps: list
    point_steps: np.ndarray
    barcodes: list
    endpoint_gap: float
    minima_s: float
    paths_s: float
    note: str | None
    paths: PathSet | None = None
    evaluation: PathEvaluation | None = None

    @property
    def barcode(self) -> Barcode:
        """The barcode of the first path run."""
        return self.barcodes[0]

    def used_paths(self, run: int = 0) -> np.ndarray:
        """Indices of the paths whose maxima end a finite bar of run ``run``'s barcode."""
        index = {tuple(p): k for k, p in enumerate(self.pairs.tolist())}
        return np.array([index[tuple(k)] for k in self.barcodes[run].finite().killer], dtype=int)

    def all_used_converged(self) -> bool:
        """Every path maximum that ends a bar, in every run, comes from a converged path."""
        return all(self.status[r][p] == "converged" for r in range(len(self.barcodes))
                   for p in self.used_paths(r))

    def bar_ends(self) -> tuple[np.ndarray, np.ndarray]:
        """Per finite bar (first run's order): the mean of its end over the path runs and its error
        bar ``sqrt(spread over runs² + data bootstrap²)``; bars are matched across runs by minimum."""
        fin = [bc.finite() for bc in self.barcodes]
        mins = fin[0].minimum
        ends = np.array([[f.deaths[list(f.minimum).index(m)] if m in f.minimum else np.nan
                          for m in mins] for f in fin])  # [S, bars]
        boot = np.array([[self.bootstrap_std[r, p] for p in self.used_paths(r)] for r in range(len(fin))])
        spread = np.nanstd(ends, axis=0, ddof=1) if len(fin) > 1 else np.zeros(len(mins))
        return np.nanmean(ends, axis=0), np.sqrt(spread**2 + np.mean(boot, axis=0) ** 2)

    def levels(self) -> dict[str, tuple[float, float]]:
        """``{quantity: (value, error bar)}`` for ``"minima"`` (mean loss of the minima ± their
        standard deviation), ``"saddles"`` (mean bar end) and ``"bars"`` (mean bar length), each
        averaged over the finite bars, errors as in :meth:`bar_ends`."""
        ends, err = self.bar_ends()
        starts = self.barcode.finite().births
        n = max(len(ends), 1)
        return {"minima": (float(self.min_losses.mean()), float(self.min_losses.std(ddof=1)) if len(self.min_losses) > 1 else 0.0),
                "saddles": (float(ends.mean()), float(np.sqrt((err**2).sum()) / n)),
                "bars": (float((ends - starts).mean()), float(np.sqrt((err**2).sum()) / n))}

    def zero_bars(self) -> bool:
        """Every bar is within two error bars (or 1e-4) of zero: the minima are connected without
        a barrier at this precision."""
        ends, err = self.bar_ends()
        starts = self.barcode.finite().births
        return bool(np.all(ends - starts <= _SIGMAS * err + _ATOL))


def _compare(a: tuple[float, float], b: tuple[float, float]) -> int:
    """-1 when ``b`` is below ``a`` by more than two combined error bars, +1 above, 0 a tie."""
    tol = _SIGMAS * float(np.hypot(a[1], b[1])) + _ATOL
    return -1 if b[0] < a[0] - tol else (1 if b[0] > a[0] + tol else 0)


@dataclass
class FCDepthResult:
    """All units of a run, ``units[(dataset, depth)]``, and the config that produced them."""

    config: FCDepthConfig
    units: dict[tuple[str, int], FCDepthUnit]

    @property
    def compute_s(self) -> float:
        """Seconds the (possibly cached) computation of all units took."""
        return float(sum(u.minima_s + u.paths_s for u in self.units.values()))

    def barcodes(self, dataset: str) -> dict[str, Barcode]:
        """``{"2 layers": Barcode, ...}`` (first path run) for one data set, in depth order."""
        return {f"{d} layers": self.units[(dataset, d)].barcode for d in self.config.depths}

    def death_stds(self, dataset: str) -> dict[str, np.ndarray]:
        """``{"2 layers": error bar of each finite bar's end}`` (Fig. 13's error bars)."""
        return {f"{d} layers": self.units[(dataset, d)].bar_ends()[1] for d in self.config.depths}

    def mean_bar_length(self, dataset: str) -> dict[int, float]:
        """Mean finite-bar length per depth (first path run)."""
        return {d: float(self.units[(dataset, d)].barcode.finite().lengths.mean())
                for d in self.config.depths}

    def histories(self, dataset: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{"2 layers, m0-m1": (steps, tracked maximum)}`` of the first path run, for the
        convergence figure."""
        out = {}
        for d in self.config.depths:
            u = self.units[(dataset, d)]
            for p, (i, j) in enumerate(u.pairs.tolist()):
                h = u.max_history[0][:, p]
                keep = ~np.isnan(h)
                out[f"{d} layers, m{i}-m{j}"] = (np.asarray(u.track_steps[0])[keep], h[keep])
        return out

    def sanity(self, tol: float = 1e-4) -> tuple[bool, str]:
        """Checks of every unit: the paths' ends reproduce the minima store's losses within
        ``tol``, every path maximum is at least both endpoint losses, no minimum is flagged,
        every minimum converged and every maximum that ends a bar comes from a converged path.
        Returns (all passed, one line per unit)."""
        ok, lines = True, []
        for (ds, d), u in self.units.items():
            lo = np.maximum(u.min_losses[u.pairs[:, 0]], u.min_losses[u.pairs[:, 1]])
            above = bool((u.saddles >= lo[None, :] - 1e-6).all())
            flagged = sum(bc.flagged.size for bc in u.barcodes)
            minima_ok, paths_ok = bool(u.converged.all()), u.all_used_converged()
            good = u.endpoint_gap <= tol and above and flagged == 0 and minima_ok and paths_ok
            ok &= good
            lines.append(f"{ds:>14} depth {d}: endpoint gap {u.endpoint_gap:.1e}, saddles >= "
                         f"endpoints: {above}, flagged minima: {flagged}, minima converged "
                         f"{int(u.converged.sum())}/{len(u.converged)} (epochs "
                         f"{', '.join(map(str, u.epochs.tolist()))}), bar-ending paths converged: "
                         f"{paths_ok} -> {'ok' if good else 'FAILED'}")
        return ok, "\n".join(lines)

    def table(self) -> str:
        """Per data set and depth: minima (loss, gradient norm, accuracies), the three levels with
        their error bars, and the paths' statuses."""
        lines = []
        for ds in self.config.datasets:
            lines.append(f"{ds}: depth params  train loss  |grad|   test acc   minima level      "
                         "saddle level     bar length       paths (conv/pruned/budget)")
            for d in self.config.depths:
                u = self.units[(ds, d)]
                lv = u.levels()
                st = [s for run in u.status for s in run]
                zero = " (zero)" if u.zero_bars() else ""
                lines.append(
                    f"  {d:>5} {u.n_params:>7,} {u.min_losses.mean():10.4f} {u.grad_norm.mean():7.4f} "
                    f"{100 * u.test_acc.mean():8.2f}%  "
                    + "  ".join(f"{v:.4f}±{e:.4f}" for v, e in lv.values())
                    + f"{zero}  {st.count('converged')}/{st.count('pruned')}/{st.count('budget')}")
        return "\n".join(lines)

    def trends(self, dataset: str) -> dict[str, list[int]]:
        """Per quantity (minima, saddles, bars), the comparison of each depth with the next:
        -1 lower, +1 higher, 0 a tie within error bars; and ``"first_last"``."""
        d = self.config.depths
        lv = [self.units[(dataset, k)].levels() for k in d]
        out = {q: [_compare(a[q], b[q]) for a, b in zip(lv, lv[1:])] for q in ("minima", "saddles", "bars")}
        out["first_last"] = [_compare(lv[0][q], lv[-1][q]) for q in ("minima", "saddles", "bars")]
        return out

    def verdict(self) -> dict:
        """Fig. 2's verdict for ``run.finish``. Per data set, the claim holds when the saddle
        level (bar ends) of the deepest net is below the shallowest's by more than two error bars
        and no step to a deeper net raises it or the bar length significantly. When every bar is
        within its error of zero the minima are connected without a barrier at this precision:
        then there is nothing to lower and the claim is not supported (a finding, not a failure of
        the method). Reproduced needs every data set, partly one; the sanity checks (converged
        minima, converged bar-ending paths, endpoint reproduction) must pass."""
        cfg = self.config
        ok, _ = self.sanity()
        holds, words = {}, []
        for ds in cfg.datasets:
            zero = all(self.units[(ds, k)].zero_bars() for k in cfg.depths)
            if len(cfg.depths) < 2:
                holds[ds] = False
                words.append(f"{ds}: one depth")
                continue
            t = self.trends(ds)
            lowered = t["first_last"][1] < 0 and max(t["saddles"] + t["bars"]) <= 0
            holds[ds] = lowered and not zero
            sl = ", ".join(f"{self.units[(ds, k)].levels()['saddles'][0]:.4f}" for k in cfg.depths)
            bl = ", ".join(f"{self.units[(ds, k)].levels()['bars'][0]:.4f}" for k in cfg.depths)
            words.append(f"{ds}: saddle levels {sl}; bar lengths {bl}"
                         + (" -- every bar within its error of zero: minima connected without a "
                            "barrier at this precision" if zero else
                            (" -- lower with depth" if lowered else " -- not lower with depth")))
        n_true = sum(holds.values())
        status = ("reproduced" if n_true == len(cfg.datasets) else "partly reproduced" if n_true
                  else "not reproduced")
        if not ok:
            status = "not reproduced"
        return verdict(
            status=status, dataset=cfg.data_description(),
            runs=f"{cfg.n_minima} minima x {len(cfg.depths)} depths per data set, {cfg.path_seeds} "
                 f"path optimisations per pair",
            finding=f"for {list(cfg.depths)} hidden layers: " + "; ".join(words)
                    + ("" if ok else " (a sanity check FAILED: see the chapter)"),
            paper="barcodes diminish and descend lower as depth grows (2 -> 8 hidden layers)",
            ours="; ".join(f"{ds}: {'lower with depth' if h else 'not lower with depth'}"
                           for ds, h in holds.items()),
            numbers={"levels": {ds: {str(k): self.units[(ds, k)].levels() for k in cfg.depths}
                                for ds in cfg.datasets},
                     "zero_bars": {ds: {str(k): self.units[(ds, k)].zero_bars() for k in cfg.depths}
                                   for ds in cfg.datasets},
                     "sanity_ok": ok},
            compute_s=self.compute_s, scale=cfg.scale, compared=len(cfg.depths) - 1)

    def error_bars_verdict(self) -> dict:
        """Fig. 13's verdict for ``run.finish``: the error bars (data bootstrap combined with the
        spread over path runs) are small next to the differences between depths -- the largest
        error bar of a saddle level is below the range of the saddle levels over depths -- on
        every data set; reproduced needs both kinds measured (``path_seeds > 1``)."""
        cfg = self.config
        ok, _ = self.sanity()
        rows = []
        for ds in cfg.datasets:
            lv = [self.units[(ds, d)].levels()["saddles"] for d in cfg.depths]
            spread = max(v for v, _ in lv) - min(v for v, _ in lv)
            rows.append((ds, spread, max(e for _, e in lv)))
        small = all(s < r for _, r, s in rows)
        status = ("reproduced" if cfg.path_seeds > 1 else "partly reproduced") if small and ok \
            else "not reproduced"
        return verdict(
            status=status, dataset=cfg.data_description(),
            runs=f"{cfg.n_minima} minima x {len(cfg.depths)} depths, {cfg.path_seeds} path "
                 f"optimisations per pair, {cfg.bootstrap} bootstrap resamples",
            finding="; ".join(f"{ds}: largest error bar of a saddle level {s:.4f} vs range over "
                              f"depths {r:.4f}" for ds, r, s in rows),
            paper="error bars small compared with the lowering of the barcode",
            ours=f"largest error bar below the depth range on every data set: {small}",
            numbers={"rows": [list(r) for r in rows], "path_seeds": cfg.path_seeds},
            compute_s=self.compute_s, scale=cfg.scale, compared=len(cfg.depths) - 1)

    def error_bar_table(self) -> str:
        """Per data set and depth: each bar end with its two error bars (spread over path runs,
        data bootstrap)."""
        lines = []
        for ds in self.config.datasets:
            for d in self.config.depths:
                u = self.units[(ds, d)]
                ends, err = u.bar_ends()
                boot = u.bootstrap_std[0, u.used_paths(0)]
                lines.append(f"{ds:>14} {d} layers: bar ends "
                             + ", ".join(f"{e:.4f}±{s:.4f} (bootstrap {b:.4f})"
                                         for e, s, b in zip(ends, err, boot)))
        return "\n".join(lines)

    def summary(self) -> str:
        """The table of :meth:`table` and the pruning savings."""
        saved = [u for u in self.units.values()]
        spent = sum(int(u.point_steps.sum()) for u in saved)
        return self.table() + f"\npath compute spent: {spent:,} point-steps in {len(saved)} units"


def fc_minima(cfg: FCDepthConfig, dataset: str, depth: int, *, device: str = "auto",
              progress: bool = True) -> MinimaSet:
    """The ``cfg.n_minima`` minima of ``(dataset, depth)`` from the minima store (cached)."""
    return minima("fc", dataset, cfg.recipe, cfg.n_minima, cfg.scale, seed=cfg.seed, device=device,
                  progress=progress, hidden_layers=depth, width=cfg.width)


def fc_paths(cfg: FCDepthConfig, ms: MinimaSet, *, path_seed: int = 0, device: str = "auto",
             progress: bool = True) -> tuple[PathSet, PathEvaluation]:
    """The paths of ``cfg`` between every pair of the minima ``ms``, uncached: optimised and
    evaluated on the minima's training set, with the seed of path run ``path_seed``
    (``tk.landscape``'s :func:`~toolkit.landscape.minima_paths`)."""
    # chunks of 250 images: the data bootstrap of the maxima resamples 20 of them at cpu scale
    return minima_paths(ms, cfg.path, seed=cfg.seed, run=path_seed, bootstrap=cfg.bootstrap,
                        eval_chunk=250, device=device, progress=progress)


def _unit(cfg: FCDepthConfig, dataset: str, depth: int, device: str, progress: bool) -> FCDepthUnit:
    t0 = time.perf_counter()
    ms = fc_minima(cfg, dataset, depth, device=device, progress=progress)
    t1 = time.perf_counter()
    runs = [fc_paths(cfg, ms, path_seed=s, device=device, progress=progress)
            for s in range(cfg.path_seeds)]
    min_losses = evaluation_barcode(runs[0][1], len(ms.flat))[0]
    spe = -(-len(ms.train_data.y) // cfg.path.batch_size)
    return FCDepthUnit(
        dataset=dataset, depth=depth, n_params=int(ms.flat.shape[1]), min_losses=min_losses,
        grad_norm=np.asarray(ms.grad_norm), epochs=np.asarray(ms.epochs),
        converged=np.asarray(ms.converged), train_acc=np.asarray(ms.train_acc),
        test_acc=np.asarray(ms.test_acc), pairs=runs[0][0].pairs.numpy(),
        saddles=np.stack([ev.max_loss.double().numpy() for _, ev in runs]),
        bootstrap_std=np.stack([ev.max_loss_std.double().numpy() for _, ev in runs]),
        status=[list(ps.status) for ps, _ in runs],
        max_history=[ps.max_history.double().numpy() for ps, _ in runs],
        track_steps=[[e * spe for e in ps.track_epochs] for ps, _ in runs],
        point_steps=np.array([ps.point_steps for ps, _ in runs]),
        # pruned paths leave the barcode: every bar then ends on a converged path (or a path out
        # of budget, which the sanity check reports), and pruning can move it by at most conv_atol
        # atol: two evaluations of one minimum in different batches of points differ by ~1e-10
        barcodes=[minima_barcode(min_losses, ev.saddles(exclude=("pruned",)), atol=1e-6)
                  for _, ev in runs],
        endpoint_gap=float(np.abs(min_losses - ms.train_loss).max()), minima_s=t1 - t0,
        paths_s=time.perf_counter() - t1, note=ms.stand_in_note, paths=runs[0][0],
        evaluation=runs[0][1])


def fc_depth(cfg: FCDepthConfig, *, device: str = "auto", progress: bool = True) -> FCDepthResult:
    """Run (or load) every (data set, depth) unit of ``cfg``; each unit is cached separately."""
    units = {}
    jobs = [(ds, d) for ds in cfg.datasets for d in cfg.depths]
    for ds, d in progress_bar(jobs, desc="fc depth units", enabled=progress and len(jobs) > 1):
        unit_cfg = dataclasses.replace(cfg, datasets=(ds,), depths=(d,))  # one unit's own key
        units[(ds, d)] = cached("fc_depth_unit", unit_cfg,
                                lambda ds=ds, d=d: _unit(cfg, ds, d, device, progress), version="4")
    return FCDepthResult(config=cfg, units=units)
