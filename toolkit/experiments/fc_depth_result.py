"""The result objects of Fig. 2 / Fig. 13 (:mod:`toolkit.experiments.fc_depth`): one
(data set, depth) unit with its minima and joins, and the whole run with its tables, trends and
verdicts. Comparisons and statuses are :mod:`toolkit.decide`'s; this module imports nothing of
:mod:`toolkit.experiments.fc_depth` (no cycle: the config is only read)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from toolkit.decide import Level, compare, power, status_of, zero_bar
from toolkit.paths import PathEvaluation, PathSet
from toolkit.report import verdict
from toolkit.topology import Barcode

__all__ = ["FCDepthResult", "FCDepthUnit"]


@dataclass
class FCDepthUnit:
    """One (data set, depth): ``n`` minima and ``S`` joins of them (one per path run).

    Minima (``[n]``, the store's numbers): ``grad_norm``, ``epochs`` trained, ``converged`` (the
    recipe's criterion), ``train_acc``, ``test_acc``; ``minima_s``: their training seconds;
    ``note``: the stand-in note, if any. ``joins``: a :class:`toolkit.join.Joined` per path run
    (the first keeps its ``PathSet`` and ``PathEvaluation``).
    """

    dataset: str
    depth: int
    n_params: int
    grad_norm: np.ndarray
    epochs: np.ndarray
    converged: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray
    joins: list
    minima_s: float
    note: str | None = None

    @property
    def min_losses(self) -> np.ndarray:
        """``[n]`` the minima's losses at the paths' ends (first run)."""
        return self.joins[0].min_losses

    @property
    def barcodes(self) -> list[Barcode]:
        return [j.barcode for j in self.joins]

    @property
    def barcode(self) -> Barcode:
        """The barcode of the first path run."""
        return self.joins[0].barcode

    @property
    def paths(self) -> PathSet | None:
        return self.joins[0].paths

    @property
    def evaluation(self) -> PathEvaluation | None:
        return self.joins[0].evaluation

    @property
    def paths_s(self) -> float:
        return float(sum(j.seconds for j in self.joins))

    @property
    def point_steps(self) -> np.ndarray:
        return np.array([j.point_steps for j in self.joins])

    def bar_maxima(self) -> tuple[int, int]:
        """``(converged and certified, total)`` bar-ending maxima over every path run."""
        counts = [j.bar_maxima() for j in self.joins]
        return sum(c[0] for c in counts), sum(c[1] for c in counts)

    def bar_ends(self) -> tuple[np.ndarray, np.ndarray]:
        """Per finite bar (first run's order): the mean of its end over the path runs and its
        error bar ``sqrt(spread over runs² + mean data bootstrap²)``; bars matched by minimum."""
        fin = [bc.finite() for bc in self.barcodes]
        mins = fin[0].minimum
        ends = np.array([[f.deaths[list(f.minimum).index(m)] if m in f.minimum else np.nan
                          for m in mins] for f in fin])  # [S, bars]
        boot = np.array([j.saddle_std[j.bar_paths()] for j in self.joins])
        spread = np.nanstd(ends, axis=0, ddof=1) if len(fin) > 1 else np.zeros(len(mins))
        return np.nanmean(ends, axis=0), np.sqrt(spread**2 + np.mean(boot, axis=0) ** 2)

    def levels(self) -> dict[str, Level]:
        """``{"minima", "saddles", "bars"}``: the mean loss of the minima, the mean bar end and
        the mean bar length, averaged over the finite bars with the errors of :meth:`bar_ends`;
        saddles and bars are converged when every bar-ending maximum of every run is."""
        ends, err = self.bar_ends()
        starts = self.barcode.finite().births
        n = max(len(ends), 1)
        e = float(np.sqrt((err**2).sum()) / n)
        conv = self.bar_maxima()
        ok = conv[0] == conv[1]
        return {"minima": Level.of(self.min_losses),
                "saddles": Level(float(ends.mean()), e, len(ends), ok),
                "bars": Level(float((ends - starts).mean()), e, len(ends), ok)}

    def dip(self) -> float:
        """The largest dip of the first run's paths below their minima (the precision at which
        these minima are minima at all)."""
        return self.joins[0].dip()

    def zero_bars(self) -> bool:
        """Every bar is zero by :func:`toolkit.decide.zero_bar` (its error bars here combine the
        runs' spread with the bootstrap)."""
        ends, err = self.bar_ends()
        return bool(zero_bar(ends - self.barcode.finite().births, err, self.dip()).all())

    def sanity(self) -> tuple[bool, str]:
        """Every join's sanity check (:meth:`toolkit.join.Joined.sanity`); one line."""
        checks = [j.sanity() for j in self.joins]
        ok = all(c[0] for c in checks)
        return ok, "; ".join(sorted({c[1] for c in checks}))


@dataclass
class FCDepthResult:
    """All units of a run, ``units[(dataset, depth)]``, and the config that produced them;
    ``unit_s[(dataset, depth)]``: seconds each unit took in the call that assembled this result
    (computing it, or loading it from the cache), run by ``executor`` (``"serial"``, ``"ray"``)."""

    config: Any  # FCDepthConfig
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
            out.update(self.units[(dataset, d)].joins[0].histories(f"{d} layers, "))
        return out

    def evidence(self) -> dict[str, tuple[int, int]]:
        """``minima`` and ``maxima`` as ``(converged, total)`` over every unit (for the status
        rule, :func:`toolkit.decide.decide`)."""
        us = list(self.units.values())
        bars = [u.bar_maxima() for u in us]
        return {"minima": (sum(int(u.converged.sum()) for u in us), sum(len(u.converged) for u in us)),
                "maxima": (sum(b[0] for b in bars), sum(b[1] for b in bars))}

    def sanity(self) -> tuple[bool, str]:
        """Per unit: the joins' checks (ends reproduce the store's minima, maxima above both ends,
        no flagged minimum) with the minima's and the bar-ending paths' convergence listed
        (convergence decides the status, :func:`toolkit.decide.decide`). (all passed, lines)."""
        ok, lines = True, []
        for (ds, d), u in self.units.items():
            good, line = u.sanity()
            conv = u.bar_maxima()
            ok &= good
            lines.append(f"{ds:>14} depth {d}: {line}; minima converged "
                         f"{int(u.converged.sum())}/{len(u.converged)} (epochs "
                         f"{', '.join(map(str, u.epochs.tolist()))}); bar-ending maxima converged "
                         f"and certified {conv[0]}/{conv[1]}")
        return ok, "\n".join(lines)

    def table(self) -> str:
        """Per data set and depth: minima (loss, gradient norm, accuracies), the three levels with
        their error bars (``(zero)``: every bar zero by the book's rule), the dip (how far paths
        fall below their minima) and the paths' statuses."""
        lines = []
        for ds in self.config.datasets:
            lines.append(f"{ds}: depth params  train loss  |grad|   test acc   minima level      "
                         "saddle level     bar length       dip     paths (conv/pruned/budget)")
            for d in self.config.depths:
                u = self.units[(ds, d)]
                st = [s for j in u.joins for s in j.status]
                zero = " (zero)" if u.zero_bars() else ""
                lines.append(
                    f"  {d:>5} {u.n_params:>7,} {u.min_losses.mean():10.4f} {u.grad_norm.mean():7.4f} "
                    f"{100 * u.test_acc.mean():8.2f}%  "
                    + "  ".join(f"{lv.mean:.4f}±{lv.err:.4f}" for lv in u.levels().values())
                    + f"{zero}  {u.dip():.4f}  "
                    f"{st.count('converged')}/{st.count('pruned')}/{st.count('budget')}")
        return "\n".join(lines)

    def trends(self, dataset: str) -> dict[str, list[str]]:
        """Per quantity (minima, saddles, bars), :func:`toolkit.decide.compare` of each depth's
        level with the previous depth's ("lower": the deeper net is lower); ``"first_last"``: the
        deepest against the shallowest, per quantity."""
        lv = [self.units[(dataset, k)].levels() for k in self.config.depths]
        q = ("minima", "saddles", "bars")
        out = {k: [compare(b[k], a[k]) for a, b in zip(lv, lv[1:])] for k in q}
        out["first_last"] = [compare(lv[-1][k], lv[0][k]) for k in q]
        return out

    def power(self) -> float:
        """The smallest saddle-level difference between the shallowest and the deepest net that
        the comparison could resolve, the largest over data sets."""
        d = self.config.depths
        return max(power(self.units[(ds, d[0])].levels()["saddles"],
                         self.units[(ds, d[-1])].levels()["saddles"]) for ds in self.config.datasets)

    def smallest_effect(self) -> float:
        """The smallest difference the verdict rests on: the smallest |saddle-level difference|
        between consecutive depths, over data sets (the convergence tolerance must be below it)."""
        d = self.config.depths
        diffs = [abs(self.units[(ds, a)].levels()["saddles"].mean
                     - self.units[(ds, b)].levels()["saddles"].mean)
                 for ds in self.config.datasets for a, b in zip(d, d[1:])]
        return float(min(diffs)) if diffs else float("nan")

    def verdict(self) -> dict:
        """Fig. 2's verdict for ``run.finish``. Per data set, the claim holds when the saddle
        level (bar ends) of the deepest net is below the shallowest's (``compare``: beyond two
        combined error bars, converged) and no step to a deeper net raises the saddles or the
        bars. Per data set the outcome is "lower", or "tie" when every bar is zero (nothing to
        lower) or the trend is not resolved, or "higher"; :func:`toolkit.decide.status_of` sums
        them up and :func:`toolkit.decide.decide` makes it "undetermined" when minima or
        bar-ending maxima did not converge, or when the paths' convergence tolerance
        (``conv_atol``) exceeds the smallest depth-to-depth difference measured."""
        cfg = self.config
        ok, _ = self.sanity()
        outcomes, words, flat = [], [], {}
        for ds in cfg.datasets:
            flat[ds] = all(self.units[(ds, k)].zero_bars() for k in cfg.depths)
            t = self.trends(ds)
            raised = any(o == "higher" for o in t["saddles"] + t["bars"])
            first_last = t["first_last"][1]
            out = "higher" if raised else (first_last if not flat[ds] else "tie")
            outcomes.append(out)
            sl = ", ".join(self.units[(ds, k)].levels()["saddles"].text(4) for k in cfg.depths)
            bl = ", ".join(f"{self.units[(ds, k)].levels()['bars'].mean:.4f}" for k in cfg.depths)
            words.append(f"{ds}: saddle levels {sl}; bar lengths {bl} -- "
                         + ("every bar zero (within two error bars or the paths' dip): minima "
                            "connected without a barrier at this precision" if flat[ds] else
                            f"deepest vs shallowest: {first_last}"))
        status = status_of(outcomes) if ok else "not reproduced"
        ev = self.evidence()
        return verdict(
            status=status, dataset=cfg.data_description(), **ev,
            tolerance=cfg.path.conv_atol, effect=self.smallest_effect(),
            runs=f"{cfg.n_minima} minima x {len(cfg.depths)} depths per data set, {cfg.path_seeds} "
                 f"path optimisations per pair",
            finding=f"for {list(cfg.depths)} hidden layers: " + "; ".join(words)
                    + ("" if ok else " (a sanity check FAILED: see the chapter)"),
            paper="barcodes diminish and descend lower as depth grows (2 -> 8 hidden layers)",
            ours="; ".join(f"{ds}: " + ("no barrier at any depth" if flat[ds] else
                                        f"deepest vs shallowest saddles {o}")
                           for ds, o in zip(cfg.datasets, outcomes)),
            power=f"saddle-level differences below {self.power():.4f} (two combined error bars, "
                  f"shallowest vs deepest) are ties; path maxima converge to within "
                  f"{cfg.path.conv_atol:g} + 5% of the barrier",
            numbers={"levels": {ds: {str(k): [self.units[(ds, k)].levels()[q].mean for q in
                                              ("minima", "saddles", "bars")] for k in cfg.depths}
                                for ds in cfg.datasets},
                     "zero_bars": {ds: {str(k): self.units[(ds, k)].zero_bars() for k in cfg.depths}
                                   for ds in cfg.datasets},
                     "outcomes": dict(zip(cfg.datasets, outcomes)), "evidence": ev,
                     "sanity_ok": ok, "executor": self.executor,
                     "unit_s": {f"{ds} depth {k}": round(s, 3) for (ds, k), s in self.unit_s.items()}},
            compute_s=self.compute_s, scale=cfg.scale, compared=len(cfg.depths) - 1)

    def error_bars_verdict(self) -> dict:
        """Fig. 13's verdict for ``run.finish``: the error bars (data bootstrap combined with the
        spread over at least 3 path runs) are small next to the differences between depths --
        the largest error bar of a saddle level is below the range of the saddle levels over
        depths -- on every data set; reproduced needs a lowering to compare with (Fig. 2's
        outcome "lower" on every data set): error bars small next to levels that do not fall
        with depth are only "partly" the paper's picture. Fewer than 3 path runs: undetermined."""
        cfg = self.config
        ok, _ = self.sanity()
        rows = []
        for ds in cfg.datasets:
            lv = [self.units[(ds, d)].levels()["saddles"] for d in cfg.depths]
            spread = max(v.mean for v in lv) - min(v.mean for v in lv)
            rows.append((ds, spread, max(v.err for v in lv)))
        small = all(s < r for _, r, s in rows)
        lowered = self.verdict()["measured_status"] == "reproduced"
        status = ("reproduced" if lowered else "partly reproduced") if small and ok else "not reproduced"
        ev = self.evidence()
        if cfg.path_seeds < 3:
            ev["maxima"] = (0, max(ev["maxima"][1], 1))  # the spread over runs is not measured
        return verdict(
            status=status, dataset=cfg.data_description(), **ev,
            runs=f"{cfg.n_minima} minima x {len(cfg.depths)} depths, {cfg.path_seeds} path "
                 f"optimisations per pair, {cfg.bootstrap} bootstrap resamples",
            finding="; ".join(f"{ds}: largest error bar of a saddle level {s:.4f} vs range over "
                              f"depths {r:.4f}" for ds, r, s in rows)
                    + ("" if cfg.path_seeds >= 3 else
                       f"; only {cfg.path_seeds} path runs: the spread over runs is not measured"),
            paper="error bars small compared with the lowering of the barcode",
            ours=f"largest error bar below the depth range on every data set: {small}"
                 + ("" if lowered else "; but the levels do not fall with depth (Fig. 2), so "
                    "there is no lowering to compare them with"),
            power=f"error bars from {cfg.path_seeds} path runs x {cfg.bootstrap} bootstrap "
                  "resamples; the largest is compared with the range of levels over depths",
            numbers={"rows": [list(r) for r in rows], "path_seeds": cfg.path_seeds},
            compute_s=self.compute_s, scale=cfg.scale, compared=len(cfg.depths) - 1)

    def error_bar_table(self) -> str:
        """Per data set and depth: each bar end with its error bar (spread over path runs and
        data bootstrap) and the first run's bootstrap alone."""
        lines = []
        for ds in self.config.datasets:
            for d in self.config.depths:
                u = self.units[(ds, d)]
                ends, err = u.bar_ends()
                j = u.joins[0]
                boot = j.saddle_std[j.bar_paths()]
                lines.append(f"{ds:>14} {d} layers: bar ends "
                             + ", ".join(f"{e:.4f}±{s:.4f} (bootstrap {b:.4f})"
                                         for e, s, b in zip(ends, err, boot)))
        return "\n".join(lines)

    def summary(self) -> str:
        """The table of :meth:`table` and the compute spent."""
        spent = sum(int(u.point_steps.sum()) for u in self.units.values())
        return self.table() + f"\npath compute spent: {spent:,} point-steps in {len(self.units)} units"
