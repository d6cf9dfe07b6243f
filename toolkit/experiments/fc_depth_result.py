"""The result objects of Fig. 2 / Fig. 13 (:mod:`toolkit.experiments.fc_depth`): one
(data set, depth) unit with its minima, paths, barcodes and error bars, and the whole run with
its tables, trends and verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from toolkit.paths import PathEvaluation, PathSet
from toolkit.report import verdict
from toolkit.topology import Barcode

if TYPE_CHECKING:
    from toolkit.experiments.fc_depth import FCDepthConfig

__all__ = ["FCDepthResult", "FCDepthUnit"]

#: what "indistinguishable" means: two error bars (and never finer than this, in nats)
_SIGMAS, _ATOL = 2.0, 1e-4


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

    def dip(self) -> float:
        """How far the paths of the first run fall below the lower of their two minima (the
        largest dip): the precision at which these minima are minima at all (a path that runs
        downhill from a "minimum" starts its bar too high by about this much)."""
        return float(self.evaluation.dips().max()) if self.evaluation is not None else 0.0

    def zero_bars(self) -> bool:
        """Every bar is within two error bars (or 1e-4), or within the paths' dip below their
        minima, of zero: the minima are connected without a barrier at this precision."""
        ends, err = self.bar_ends()
        starts = self.barcode.finite().births
        return bool(np.all(ends - starts <= np.maximum(_SIGMAS * err + _ATOL, self.dip())))


def _compare(a: tuple[float, float], b: tuple[float, float]) -> int:
    """-1 when ``b`` is below ``a`` by more than two combined error bars, +1 above, 0 a tie."""
    tol = _SIGMAS * float(np.hypot(a[1], b[1])) + _ATOL
    return -1 if b[0] < a[0] - tol else (1 if b[0] > a[0] + tol else 0)


@dataclass
class FCDepthResult:
    """All units of a run, ``units[(dataset, depth)]``, and the config that produced them;
    ``unit_s[(dataset, depth)]``: seconds each unit took in the call that assembled this result
    (computing it, or loading it from the cache), run by ``executor`` (``"serial"``, ``"ray"``)."""

    config: FCDepthConfig
    units: dict[tuple[str, int], FCDepthUnit]
    unit_s: dict[tuple[str, int], float] = field(default_factory=dict)
    executor: str = "serial"

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
        their error bars (``(zero)``: every bar within its error, or the dip, of zero), the dip
        (how far paths fall below their minima) and the paths' statuses."""
        lines = []
        for ds in self.config.datasets:
            lines.append(f"{ds}: depth params  train loss  |grad|   test acc   minima level      "
                         "saddle level     bar length       dip     paths (conv/pruned/budget)")
            for d in self.config.depths:
                u = self.units[(ds, d)]
                lv = u.levels()
                st = [s for run in u.status for s in run]
                zero = " (zero)" if u.zero_bars() else ""
                lines.append(
                    f"  {d:>5} {u.n_params:>7,} {u.min_losses.mean():10.4f} {u.grad_norm.mean():7.4f} "
                    f"{100 * u.test_acc.mean():8.2f}%  "
                    + "  ".join(f"{v:.4f}±{e:.4f}" for v, e in lv.values())
                    + f"{zero}  {u.dip():.4f}  "
                    f"{st.count('converged')}/{st.count('pruned')}/{st.count('budget')}")
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
        holds, words, flat = {}, [], {}
        for ds in cfg.datasets:
            zero = flat[ds] = all(self.units[(ds, k)].zero_bars() for k in cfg.depths)
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
                         + (" -- every bar within its error (or the paths' dip below the minima) of "
                            "zero: minima connected without a barrier at this precision" if zero else
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
            ours="; ".join(f"{ds}: " + ("lower with depth" if h else "no barrier at any depth"
                                        if flat[ds] else "not lower with depth")
                           for ds, h in holds.items()),
            numbers={"levels": {ds: {str(k): self.units[(ds, k)].levels() for k in cfg.depths}
                                for ds in cfg.datasets},
                     "zero_bars": {ds: {str(k): self.units[(ds, k)].zero_bars() for k in cfg.depths}
                                   for ds in cfg.datasets},
                     "sanity_ok": ok, "executor": self.executor,
                     "unit_s": {f"{ds} depth {k}": round(s, 3) for (ds, k), s in self.unit_s.items()}},
            compute_s=self.compute_s, scale=cfg.scale, compared=len(cfg.depths) - 1)

    def error_bars_verdict(self) -> dict:
        """Fig. 13's verdict for ``run.finish``: the error bars (data bootstrap combined with the
        spread over path runs) are small next to the differences between depths -- the largest
        error bar of a saddle level is below the range of the saddle levels over depths -- on
        every data set; reproduced needs both kinds measured (``path_seeds > 1``) and a lowering
        to compare with (Fig. 2's verdict on every data set): error bars small next to levels
        that do not fall with depth are only "partly" the paper's picture."""
        cfg = self.config
        ok, _ = self.sanity()
        rows = []
        for ds in cfg.datasets:
            lv = [self.units[(ds, d)].levels()["saddles"] for d in cfg.depths]
            spread = max(v for v, _ in lv) - min(v for v, _ in lv)
            rows.append((ds, spread, max(e for _, e in lv)))
        small = all(s < r for _, r, s in rows)
        lowered = self.verdict()["status"] == "reproduced"
        status = ("reproduced" if cfg.path_seeds > 1 and lowered else "partly reproduced") \
            if small and ok else "not reproduced"
        return verdict(
            status=status, dataset=cfg.data_description(),
            runs=f"{cfg.n_minima} minima x {len(cfg.depths)} depths, {cfg.path_seeds} path "
                 f"optimisations per pair, {cfg.bootstrap} bootstrap resamples",
            finding="; ".join(f"{ds}: largest error bar of a saddle level {s:.4f} vs range over "
                              f"depths {r:.4f}" for ds, r, s in rows),
            paper="error bars small compared with the lowering of the barcode",
            ours=f"largest error bar below the depth range on every data set: {small}"
                 + ("" if lowered else "; but the levels do not fall with depth (Fig. 2), so "
                    "there is no lowering to compare them with"),
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
