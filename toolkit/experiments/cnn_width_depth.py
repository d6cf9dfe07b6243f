"""Fig. 4 of Barannikov et al. (§2.2): barcodes of CNNs of growing width (CNN-1-C for growing C)
and depth (CNN-1/2/3, Tables 8-10) on CIFAR-10; the saddles fall with more channels and layers.

Each network is a cached unit of :mod:`toolkit.experiments.cnn_units` (minima, paths between every
pair, barcode). The verdict compares the mean bar end (the saddle level) of consecutive networks
of each series, with error bars: smaller differences are ties, and a comparison whose higher side
has unconverged path maxima is unresolved (those maxima are upper bounds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from toolkit import scales
from toolkit.data import DATASETS
from toolkit.decide import compare, power, status_of
from toolkit.experiments.cnn_units import (
    HEADER,
    CNNUnit,
    cnn_name,
    cnn_plan,
    cnn_units,
    plan_description,
)
from toolkit.join import evidence
from toolkit.params import as_choice, as_int, as_list
from toolkit.report import verdict
from toolkit.topology import Barcode

__all__ = ["CNNWidthDepthConfig", "CNNWidthDepthResult", "cnn_width_depth", "cnn_width_depth_config"]


@dataclass(frozen=True)
class CNNWidthDepthConfig:
    """Fig. 4's networks: CNN-1-C for C in ``widths``, CNN-L-``depth_channels`` for L in
    ``depths``, plus ``extra`` ``(layers, channels)`` networks placed by parameter count (the
    paper's CNN-2-64). Build with :func:`cnn_width_depth_config`."""

    dataset: str
    widths: tuple[int, ...]
    depths: tuple[int, ...]
    depth_channels: int
    extra: tuple[tuple[int, int], ...]
    scale: str
    seed: int

    @property
    def archs(self) -> list[tuple[int, int, bool]]:
        """Every network once, as ``(layers, channels, bn=False)``."""
        out = [(1, c) for c in self.widths] + [(d, self.depth_channels) for d in self.depths]
        out += [tuple(e) for e in self.extra]
        return [(int(a), int(b), False) for a, b in dict.fromkeys(out)]

    def describe(self) -> str:
        """The networks and what every unit runs at this scale."""
        names = ", ".join(cnn_name(a, b) for a, b, _ in self.archs)
        return f"networks: {names}\n{plan_description(self.scale, self.dataset)}"


def cnn_width_depth_config(scale: str = "cpu", *, seed: int = 0, dataset: str = "cifar10",
                           widths=None, depths=None) -> CNNWidthDepthConfig:
    """Fig. 4's configuration at ``scale`` (settings: ``tk.scales.EXPERIMENTS["cnn_width_depth"]``;
    ``widths``/``depths`` None take the scale's; they may arrive as text, see
    :mod:`toolkit.params`)."""
    s = scales.settings("cnn_width_depth", scale)
    widths = as_list(s["widths"] if widths is None else widths, "widths", int)
    depths = as_list(s["depths"] if depths is None else depths, "depths", int)
    dataset = as_choice(dataset, "dataset", DATASETS)
    seed = as_int(seed, "seed")
    bad = [d for d in depths if d not in (1, 2, 3)]
    if bad or any(c < 1 for c in widths):
        raise ValueError(f"depths must be 1, 2 or 3 (Tables 8-10) and widths positive, got "
                         f"depths={list(depths)}, widths={list(widths)}")
    return CNNWidthDepthConfig(dataset=dataset, widths=widths, depths=depths,
                               depth_channels=int(s["depth_channels"]),
                               extra=tuple(tuple(e) for e in s["extra"]), scale=scale, seed=seed)


@dataclass
class CNNWidthDepthResult:
    """Every network's unit, ``units[name]``, and the config."""

    config: CNNWidthDepthConfig
    units: dict[str, CNNUnit]

    @property
    def compute_s(self) -> float:
        """Seconds the units took when first computed."""
        return float(sum(u.minima_s + u.paths_s for u in self.units.values()))

    def by_params(self) -> list[CNNUnit]:
        """The units sorted by parameter count (the paper's Fig. 4(b) order)."""
        return sorted(self.units.values(), key=lambda u: u.n_params)

    def width_series(self) -> list[CNNUnit]:
        """CNN-1-C by growing C."""
        return [self.units[cnn_name(1, c)] for c in sorted(self.config.widths)]

    def depth_series(self) -> list[CNNUnit]:
        """CNN-L-C at ``depth_channels`` by growing L."""
        return [self.units[cnn_name(d, self.config.depth_channels)] for d in sorted(self.config.depths)]

    def barcodes(self) -> dict[str, Barcode]:
        """``{name: barcode}`` by parameter count."""
        return {u.name: u.paths.barcode for u in self.by_params()}

    def steps(self, series: list[CNNUnit]) -> list[tuple[str, str, str]]:
        """``(smaller, larger, outcome)`` for consecutive networks: ``"lower"`` when the larger
        network's saddle level is below the smaller's beyond the error bars (see
        :func:`toolkit.decide.compare`)."""
        return [(a.name, b.name, compare(b.saddle_level(), a.saddle_level()))
                for a, b in zip(series, series[1:])]

    def rank_correlation(self) -> float:
        """Spearman correlation of parameter count and mean bar end over all networks (the paper:
        negative, "a straightforward dependence"); NaN with fewer than 3 networks."""
        us = self.by_params()
        if len(us) < 3:
            return float("nan")
        return float(spearmanr([u.n_params for u in us], [u.saddle_level().mean for u in us])[0])

    def level_series(self) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """For the levels plot: ``{label: (n_params, mean, err)}`` of the saddles (bar ends) and
        of the minima, networks by parameter count."""
        us = self.by_params()
        x = np.array([u.n_params for u in us], dtype=float)
        sad = [u.saddle_level() for u in us]
        mins = [u.minima_level() for u in us]
        return {"saddles (mean bar end)": (x, np.array([s.mean for s in sad]), np.array([s.err for s in sad])),
                "minima (mean loss)": (x, np.array([m.mean for m in mins]), np.array([m.err for m in mins]))}

    def summary(self) -> str:
        """Per network: parameters, accuracies, minima's loss, saddle level; then the steps."""
        first = self.by_params()[0]
        lines = [f"data: {first.data}", HEADER] + [u.row() for u in self.by_params()]
        for label, series in (("width", self.width_series()), ("depth", self.depth_series())):
            steps = self.steps(series)
            lines.append(f"{label} series: " + ("; ".join(f"{a} -> {b}: {o}" for a, b, o in steps)
                                                 if steps else "one network, no trend to test"))
        lines.append(f"Spearman correlation of parameter count and saddle level: "
                     f"{self.rank_correlation():+.2f}")
        return "\n".join(lines)

    def verdict(self) -> dict:
        """Fig. 4's verdict for ``run.finish``: the consecutive steps of the width and depth series
        compared with :func:`~toolkit.decide.compare` and summed up by
        :func:`~toolkit.decide.status_of` -- reproduced when every step lowers
        the saddle level beyond the error bars with converged paths; partly when at least one step
        lowers it (maybe only as upper bounds at equal budget) and none raises it with converged
        paths; not reproduced otherwise (all ties included: the trend is then not resolved). A
        failed sanity check (path ends, maxima below ends, flagged minima) is not reproduced."""
        cfg = self.config
        series = {"width": self.width_series(), "depth": self.depth_series()}
        steps = {k: self.steps(s) for k, s in series.items()}
        outcomes = [o for st in steps.values() for _, _, o in st]
        ends = {k: compare(s[-1].saddle_level(), s[0].saddle_level()) if len(s) > 1 else "untested"
                for k, s in series.items()}
        ok = all(u.paths.sanity()[0] for u in self.units.values())
        status = status_of(outcomes) if ok else "not reproduced"
        us = self.by_params()
        first = us[0]
        levels = ", ".join(f"{u.name} {u.saddle_level().text(3)}" for u in us)
        ev = evidence((u.paths for u in us), [u.minima_converged for u in us])
        conv_note, conv = ev.pop("note"), list(ev["maxima"])
        pairs = [(a, b) for s_ in series.values() for a, b in zip(s_, s_[1:])]
        detect = max((power(a.saddle_level(), b.saddle_level()) for a, b in pairs), default=0.0)
        effect = min((abs(a.saddle_level().mean - b.saddle_level().mean) for a, b in pairs),
                     default=None)
        n = len(first.paths.min_losses)
        return verdict(
            status=status, dataset=first.data, **ev, effect=effect,
            tolerance=cnn_plan(cfg.scale)[1].path.conv_atol,
            power=f"saddle-level differences between consecutive networks below {detect:.4f} "
                  "(two combined error bars) are ties",
            runs=f"{len(us)} networks x {n} minima, {n * (n - 1) // 2} paths each, 1 path "
                 f"optimisation; scale {cfg.scale}",
            finding=(f"saddle level (mean bar end ± error) by parameter count: {levels}; steps "
                     + "; ".join(f"{a}->{b} {o}" for st in steps.values() for a, b, o in st)
                     + "; largest vs smallest per series: " + ", ".join(f"{k} {v}" for k, v in ends.items())
                     + f"; Spearman(params, saddle) "
                     f"{self.rank_correlation():+.2f}; sanity {'ok' if ok else 'FAILED'}"
                     + conv_note),
            paper="saddles fall with more channels (CNN-1-C) and more layers (CNN-1/2/3); "
                  "ordered by parameter count the dependence is straightforward",
            ours="; ".join(f"{k} steps: " + (", ".join(o for _, _, o in steps[k]) or "none")
                           for k in ("width", "depth")) + " (ties: within error bars)",
            numbers={"saddle_mean": {u.name: u.saddle_level().mean for u in us},
                     "saddle_err": {u.name: u.saddle_level().err for u in us},
                     "minima_mean": {u.name: u.minima_level().mean for u in us},
                     "n_params": {u.name: u.n_params for u in us},
                     "steps": {k: [list(s) for s in st] for k, st in steps.items()},
                     "spearman": self.rank_correlation(), "sanity_ok": ok,
                     "paths_converged": conv},
            compute_s=self.compute_s, stand_in=first.stand_in, scale=cfg.scale,
            compared=len(outcomes))


def cnn_width_depth(cfg: CNNWidthDepthConfig, *, device: str = "auto",
                    progress: bool = True, executor: str | None = None) -> CNNWidthDepthResult:
    """Run (or load) every network of ``cfg``; each is a cached ``cnn_unit``."""
    units = cnn_units(cfg.dataset, cfg.archs, cfg.scale, cfg.seed, device=device, progress=progress,
                      executor=executor)
    return CNNWidthDepthResult(config=cfg, units=units)
