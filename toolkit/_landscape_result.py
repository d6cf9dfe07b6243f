"""Private: the configuration and the result of :func:`toolkit.landscape` (re-exported there)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from toolkit.decide import Level, compare
from toolkit.join import Joined, JoinPlan
from toolkit.minima import MinimaSet
from toolkit.paths import PathEvaluation, PathSet
from toolkit.recipes import Recipe
from toolkit.report import verdict
from toolkit.topology import Barcode, to_score


@dataclass(frozen=True)
class LandscapeConfig:
    """What ``tk.landscape`` ran: the model (``arch``: its cache name, ``model``: its readable
    name, ``model_kw``: the keywords it was built with), ``n_minima``, the recipe as the scale
    trained it, the scale, the seed, and the join's plan (``plan.path``: the paths'
    ``PathConfig``; the bootstrap resamples and the data chunk size they resample)."""

    arch: str
    model: str
    model_kw: dict
    n_minima: int
    recipe: Recipe
    scale: str
    seed: int
    plan: JoinPlan

    @property
    def path(self):
        """The paths' ``PathConfig``."""
        return self.plan.path

    def describe(self) -> str:
        """The model, the minima's recipe as the scale reduces it, the paths and their
        evaluation, one line each."""
        kw = ", ".join(f"{k}={v!r}" for k, v in self.model_kw.items())
        r = self.recipe
        loss = f"loss <= {r.loss_tol}, " if np.isfinite(r.loss_tol) else ""
        until = (f"until converged (checked every {r.converge_every} epochs: {loss}gradient norm "
                 f"<= {r.grad_tol}, loss down by < {r.plateau_rtol:.0%} + {r.plateau_atol} since "
                 f"the last check), at most {r.epochs} epochs"
                 if r.converge_every else
                 f"{r.epochs} epochs (converged if loss <= {r.loss_tol} and gradient norm <= "
                 f"{r.grad_tol})")
        return "\n".join([
            f"model {self.model}({kw}), {self.n_minima} minima "
            f"({self.n_minima * (self.n_minima - 1) // 2} paths), scale {self.scale!r}, seed {self.seed}",
            f"minima: recipe {r.name!r}: {r.optimizer}, lr {r.lr}, {r.schedule} schedule, batch "
            f"{r.batch_size}, {until}",
            f"paths and evaluation: {self.plan.describe()}",
        ])


def _cell(v: Any) -> str:
    """A table cell: text as is, a number, or ``(value, error)`` as ``value±error``."""
    if isinstance(v, str):
        return v
    if isinstance(v, Level):
        return f"{v.mean:.4f}±{v.err:.4f}" if v.err else f"{v.mean:.4f}"
    return f"{v:.4f}"


@dataclass
class Landscape:
    """The result of ``tk.landscape``: minima, paths, barcode, TO-score.

    ``minima``: the ``MinimaSet`` (``minima.module(i)`` is your network at minimum ``i``;
    ``converged [n]``, ``epochs [n]``, ``train_loss [n]``, ``test_acc [n]``...). ``join``: the
    :class:`~toolkit.join.Joined` result of the paths between them, and through it ``paths`` (the
    ``PathSet`` of the ``P = n(n-1)/2`` paths, ``status`` per path: ``"converged"``,
    ``"pruned"``, ``"budget"`` = its maximum is only an upper bound), ``evaluation`` (the
    ``PathEvaluation``: certified maxima ``max_loss [P]`` with bootstrap errors ``max_loss_std
    [P]``), ``min_losses [n]`` (the minima's losses at the paths' ends), ``barcode`` (pruned
    paths left out) and ``paths_s`` (seconds the paths took).
    """

    config: LandscapeConfig
    minima: MinimaSet
    join: Joined

    # ------------------------------------------------------------------ numbers

    @property
    def paths(self) -> PathSet:
        return self.join.paths

    @property
    def evaluation(self) -> PathEvaluation:
        return self.join.evaluation

    @property
    def min_losses(self) -> np.ndarray:
        return self.join.min_losses

    @property
    def barcode(self) -> Barcode:
        return self.join.barcode

    @property
    def paths_s(self) -> float:
        return float(self.join.seconds)

    @property
    def n_params(self) -> int:
        """Parameters of the network (the dimension of the landscape)."""
        return int(self.minima.flat.shape[1])

    @property
    def to_score(self) -> float:
        """TO-score: bottleneck distance to a one-minimum barcode = half the longest finite bar."""
        return float(to_score(self.barcode))

    @property
    def compute_s(self) -> float:
        """Seconds of computation: training of the minima plus the paths (cached or not)."""
        return float(np.sum(self.minima.wall_time) + self.paths_s)

    def bar_paths(self) -> list[int]:
        """Indices of the paths whose maxima end the finite bars, in the barcode's order."""
        return self.join.bar_paths().tolist()

    def bars(self) -> tuple[np.ndarray, np.ndarray]:
        """Lengths of the finite bars ``[n-1]`` and their error bars (the data bootstrap of the
        maximum that ends each bar)."""
        return self.join.bars()

    def mean_bar(self) -> Level:
        """Mean finite-bar length with its error bar (a :class:`~toolkit.decide.Level`)."""
        length, err = self.bars()
        if not len(length):
            return Level(0.0, 0.0, 0)
        return Level(float(length.mean()), float(np.sqrt((err**2).sum()) / len(length)), len(length))

    def dips(self) -> np.ndarray:
        """Per path ``[P]``: how far the training loss along it falls below the lower of its two
        ends (0 when it never does). A dip next to an end means that end is not yet a minimum
        (the path runs downhill from it, and its bar starts too high by about the dip); a dip in
        the middle, that the path crosses a lower valley."""
        return self.join.dips

    def minimum_level(self) -> Level:
        """Mean loss of the minima with its standard error."""
        return self.join.minima_level()

    def zero_bars(self) -> bool:
        """Every finite bar is zero by :func:`toolkit.decide.zero_bar`: the minima are connected
        without a barrier at this precision."""
        return self.join.zero_bars()

    def guarantee(self) -> dict[str, Any]:
        """What makes the barcode an estimate rather than a bound: minima converged (of ``n``),
        bar-ending maxima from converged paths and certified (of ``bars``)."""
        good, bars = self.join.bar_maxima()
        return {"minima_converged": int(self.minima.converged.sum()), "n": len(self.minima),
                "bar_paths_ok": good, "bars": bars}

    def histories(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{"m0-m1": (optimisation steps, tracked maximum)}`` per path, for
        ``tk.plots.plot_path_convergence``."""
        return self.join.histories()

    def describe(self) -> str:
        """What ran: the configuration (:meth:`LandscapeConfig.describe`) and the data as used."""
        return f"{self.config.describe()}\ndata: {self.data_description()}"

    def data_description(self) -> str:
        """The data set as used (and the stand-in, if one replaced it)."""
        ms, c = self.minima, self.minima.config
        what = ms.dataset + (f" (STAND-IN: {ms.stand_in_note})" if ms.stand_in_note else "")
        test = f"{c['n_test']:,} test samples" if c["n_test"] else "no test set"
        return f"{what}: {c['n_train']:,} training samples for minima, paths and evaluation; {test}"

    # ------------------------------------------------------------------ text

    def summary(self) -> str:
        """The minima, the paths and the barcode as a table, and the TO-score."""
        ms, ev = self.minima, self.evaluation
        g = self.guarantee()
        lines = [f"{self.config.model}: {self.n_params:,} parameters; {self.data_description()}; "
                 f"scale {self.config.scale!r}",
                 f"minima ({g['minima_converged']}/{g['n']} converged):",
                 f"  {'i':>3} {'train loss':>10} {'|grad|':>8} {'test acc':>8} {'epochs':>6}  converged"]
        for i in range(len(ms)):
            lines.append(f"  {i:>3} {self.min_losses[i]:>10.4f} {ms.grad_norm[i]:>8.4f} "
                         f"{100 * ms.test_acc[i]:>7.2f}% {ms.epochs[i]:>6}  "
                         f"{'yes' if ms.converged[i] else 'NO'}")
        used = set(self.bar_paths())
        lines += [f"paths: {self.paths.summary()}",
                  f"  {'pair':>6} {'maximum':>9} {'± boot':>8}  certified  status     ends a bar"]
        for p, (i, j) in enumerate(ev.pairs.tolist()):
            lines.append(f"  {f'{i}-{j}':>6} {float(ev.max_loss[p]):>9.4f} "
                         f"{float(ev.max_loss_std[p]):>8.4f}  {'yes' if ev.certified[p] else 'NO':>9}"
                         f"  {ev.status[p]:<9}  {'yes' if p in used else ''}")
        length, err = self.bars()
        fin = self.barcode.finite()
        lines.append("barcode (finite bars):")
        for m, b, d, e in zip(fin.minimum, fin.births, fin.deaths, err):
            lines.append(f"  minimum {m}: [{b:.4f}, {d:.4f})  length {d - b:.4f} ± {e:.4f}")
        mb = self.mean_bar()
        lines.append(f"largest dip of a path below its lower end: {self.join.dip():.4f} "
                     f"(mean bar {mb.mean:.4f}); near an end it means that end is not yet a minimum")
        lines.append(f"mean bar {mb.text(4)}; TO-score {self.to_score:.4f}; estimate, not a "
                     f"bound: {g['minima_converged'] == g['n'] and g['bar_paths_ok'] == g['bars']} "
                     f"(bar-ending maxima converged and certified: {g['bar_paths_ok']}/{g['bars']})")
        return "\n".join(lines)

    def compare(self, other: Landscape, names: tuple[str, str] = ("this run", "other run")) -> str:
        """This landscape beside ``other`` (e.g. a wider network): minima, bars, dips and
        TO-scores, and a one-line answer from the numbers: differences within two error bars
        are ties; runs with unconverged minima or paths, paths falling more than half the mean
        bar below their ends, and bars all within two error bars of zero are called out."""
        rows = []
        for r in (self, other):
            g = r.guarantee()
            rows.append({"params": f"{r.n_params:,}",
                         "minima converged": f"{g['minima_converged']}/{g['n']}",
                         "mean minimum loss": r.minimum_level(), "mean bar length": r.mean_bar(),
                         "largest dip": r.join.dip(), "TO-score": r.to_score,
                         "test acc": f"{100 * np.mean(r.minima.test_acc):.2f}%", "g": g})
        w = max(16, *(len(n) + 2 for n in names))
        lines = [f"{'':<20}{names[0]:>{w}}{names[1]:>{w}}"]
        for k in ("params", "minima converged", "test acc", "mean minimum loss", "mean bar length",
                  "largest dip", "TO-score"):
            cells = [_cell(rows[0][k]), _cell(rows[1][k])]
            lines.append(f"{k:<20}{cells[0]:>{w}}{cells[1]:>{w}}")
        # one rule for every comparison (toolkit.decide.compare): a tie within two error bars
        word = {"lower": "shorter than with {} by more than two error bars",
                "tie": "as long as with {} within two error bars",
                "higher": "longer than with {} by more than two error bars"}
        a, b = rows[0]["mean bar length"], rows[1]["mean bar length"]
        level = {"lower": "lower", "tie": "at about the same level", "higher": "higher"}.get(
            compare(rows[1]["mean minimum loss"], rows[0]["mean minimum loss"]), "unresolved")
        bars = word.get(compare(b, a), "not comparable with those with {}").format(names[0])
        answer = (f"answer: with {names[1]} the bars are {bars} ({a.mean:.4f} -> {b.mean:.4f}) "
                  f"and the minima lie {level}")
        deep = [n for n, r in zip(names, rows) if r["largest dip"] > r["mean bar length"].mean / 2]
        if deep:
            answer += (f"; with {' and '.join(deep)} the paths fall more than half a bar below their "
                       "ends: those ends are not yet minima and the bars start too high")
        flat = [n for n, r in zip(names, (self, other)) if r.zero_bars() and r.minima.converged.all()]
        if flat:
            answer += (f"; {' and '.join(flat)}: every bar within two error bars of zero, the "
                       "minima are connected without a barrier at this precision")
        loose = [n for n, r in zip(names, rows) if r["g"]["minima_converged"] < r["g"]["n"]
                 or r["g"]["bar_paths_ok"] < r["g"]["bars"]]
        if loose:
            answer += (f"; caution: {' and '.join(loose)} {'have' if len(loose) > 1 else 'has'} "
                       "unconverged minima or bar ends, so those bars are upper bounds, not the "
                       "landscape's at convergence")
        return "\n".join(lines + [answer])

    def verdict(self) -> dict[str, Any]:
        """The chapter's verdict for ``run.finish``: a method check, since no paper claims a
        barcode for your model. What is checked is the method's own guarantee: every bar starts
        at a converged minimum, ends at the certified maximum of a converged path, and no path
        falls further below its minima than the longest bar (else the "minima" are not yet minima
        at the precision of the bars). "method check" when all hold, "undetermined" with the
        reason otherwise (:func:`toolkit.decide.decide`); the TO-score is reported either way."""
        g = self.guarantee()
        mb = self.mean_bar()
        length, _ = self.bars()
        longest = float(length.max()) if len(length) else 0.0
        st = self.evaluation.status
        c = self.config
        return verdict(
            status="reproduced", kind="method check", dataset=self.data_description(),
            minima=(g["minima_converged"], g["n"]), maxima=(g["bar_paths_ok"], g["bars"]),
            tolerance=self.join.dip(), effect=longest,
            runs=f"{g['n']} minima of {c.model} ({self.n_params:,} parameters), "
                 f"{len(self.paths)} paths",
            finding=(f"{g['bars']} finite bars, mean length {mb.text(4)}, longest {longest:.4f}; "
                     f"TO-score {self.to_score:.4f}; paths dip at most {self.join.dip():.4f} "
                     "below their ends"),
            paper="the method's guarantee: bars start at converged minima and end at converged "
                  "paths' certified maxima; TO-score = half the longest bar",
            ours=f"{g['minima_converged']}/{g['n']} minima converged, {g['bar_paths_ok']}/{g['bars']} "
                 f"bar-ending maxima converged and certified, largest dip {self.join.dip():.4f} vs "
                 f"longest bar {longest:.4f}; TO-score {self.to_score:.4f}",
            power=f"bars shorter than two error bars ({2 * mb.err:.4f} on the mean bar) or than "
                  f"the largest dip ({self.join.dip():.4f}) are zero at this precision",
            numbers={"to_score": self.to_score, "mean_bar": [mb.mean, mb.err],
                     "max_dip": self.join.dip(),
                     "barcode": [[float(b), float(d)] for b, d in
                                 zip(self.barcode.finite().births, self.barcode.finite().deaths)],
                     "paths": {s: st.count(s) for s in ("converged", "pruned", "budget")}, **g},
            compute_s=self.compute_s, stand_in=self.minima.stand_in_note is not None,
            scale=c.scale, compared=g["bars"])

    def plot(self):
        """The barcode beside the disconnectivity graph (``tk.plots``), as a ``Figure``."""
        import matplotlib.pyplot as plt

        from toolkit.plots import plot_barcode, plot_disconnectivity

        fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
        plot_barcode(self.barcode, ax=a, title="barcode", xlabel="training loss")
        plot_disconnectivity(self.barcode, ax=b, title="disconnectivity graph")
        fig.tight_layout()
        return fig

    def __repr__(self) -> str:
        g = self.guarantee()
        return (f"Landscape({self.config.model}, {g['n']} minima, {len(self.paths)} paths, "
                f"TO-score {self.to_score:.4g}, scale {self.config.scale!r})")
