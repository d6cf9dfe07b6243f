"""One CNN of Barannikov et al. Tables 8-10 (CNN-L-C, optionally with BatchNorm): its minima,
the optimised paths between every pair, and its barcode -- the unit shared by Fig. 4 (width and
depth, :mod:`toolkit.experiments.cnn_width_depth`) and Fig. 8 (BatchNorm,
:mod:`toolkit.experiments.cnn_batchnorm`).

A unit is its minima (cached one by one by the minima store, keyed by the resolved recipe and
the data's content) and their join (:func:`toolkit.join.joined`, cached by the minima's
content), so the two chapters share their non-BatchNorm units: whichever runs second loads them.

BatchNorm nets: the minima store keeps each minimum's BatchNorm buffers, and every point of a path
(the minima included) is evaluated with BatchNorm statistics recomputed for that point over the
training set (:class:`toolkit.objectives.ModuleObjective`), so a path's ends give the minima's
losses exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from toolkit import scales
from toolkit.decide import Level
from toolkit.executor import map_units
from toolkit.join import Joined, JoinPlan, joined
from toolkit.minima import describe_data, minima
from toolkit.paths import PathConfig

__all__ = ["CNNUnit", "CNNUnitConfig", "cnn_name", "cnn_plan", "cnn_units"]

RECIPE = "cnn_cyclic"


def cnn_name(layers: int, channels: int, bn: bool = False) -> str:
    """``"CNN-2-16"`` or ``"CNN-2-16+BN"``."""
    return f"CNN-{layers}-{channels}" + ("+BN" if bn else "")


def cnn_plan(scale: str) -> tuple[int, JoinPlan]:
    """``(n_minima, path plan)`` of every CNN unit at ``scale`` (settings:
    ``tk.scales.EXPERIMENTS["cnn_units"]``). The optimiser is the one Fig. 2 measured (Adam with a
    projected step, loss-criterion insertion; the paper gives no path recipe for CNNs)."""
    s = scales.settings("cnn_units", scale)
    path = PathConfig(n_points=s["n_points"], epochs=s["path_epochs"], batch_size=s["batch_size"],
                      optimizer="adam", lr=3e-3, weight_decay=5e-4, lr_schedule="garipov",
                      insert_every=s["insert_every"], insert_criterion="loss",
                      insert_max=s["insert_max"], max_points=s["max_points"],
                      min_epochs=s["min_epochs"], track_every=s["track_every"],
                      track_subset=s["track_subset"], conv_window=s["conv_window"],
                      on_nonfinite="backoff")
    return s["n_minima"], JoinPlan(path=path, between=s["between"], bootstrap=s["bootstrap"],
                                   eval_chunk=s["eval_chunk"], resolution=s["resolution"],
                                   max_rounds=s["max_rounds"])


@dataclass(frozen=True)
class CNNUnitConfig:
    """What determines one unit (its cache key)."""

    dataset: str
    layers: int
    channels: int
    bn: bool
    n_minima: int
    scale: str
    seed: int
    plan: JoinPlan

    @property
    def name(self) -> str:
        return cnn_name(self.layers, self.channels, self.bn)


@dataclass
class CNNUnit:
    """One architecture's minima and paths.

    ``train_loss``/``train_acc``/``test_acc``/``converged`` ``[n]``: the minima store's numbers;
    ``paths``: the join (:class:`toolkit.join.Joined`: the optimised, evaluated paths and the
    barcode); ``data``: the data actually used; ``minima_s``/``paths_s``: compute seconds (as
    first computed, also when loaded from the cache).
    """

    name: str
    layers: int
    channels: int
    bn: bool
    n_params: int
    train_loss: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray
    minima_converged: np.ndarray
    paths: Joined
    data: str
    stand_in: bool
    minima_s: float
    paths_s: float

    def saddle_level(self) -> Level:
        """Mean end of the finite bars (the saddles of formula (1)) with its error bar; converged
        only when every bar-ending path is."""
        return self.paths.saddle_level()

    def minima_level(self) -> Level:
        """Mean training loss of the minima (as the paths' ends measure it) with its standard error
        (the minima's own convergence is reported apart, in :meth:`row`)."""
        return self.paths.minima_level()

    def row(self) -> str:
        """One line of the summary table."""
        s, m = self.saddle_level(), self.minima_level()
        flat = int(self.paths.at_endpoint()[self.paths.bar_paths()].sum())
        return (f"{self.name:>12} {self.n_params:>8,} {100 * self.train_acc.mean():8.2f}% "
                f"{100 * self.test_acc.mean():8.2f}% {m.mean:9.4f} "
                f"{int(self.minima_converged.sum())}/{len(self.minima_converged)} "
                f"{s.text(4):>32} {flat:>3}  {self.paths.convergence_note()}")


HEADER = (f"{'network':>12} {'params':>8} {'train acc':>9} {'test acc':>9} {'min loss':>9} "
          f"conv {'mean bar end (saddle) ± err':>32} {'0-len':>3}  path convergence\n"
          "(conv: minima passing the training loop's convergence test; 0-len: bars whose path "
          "maximum is a minimum itself, i.e. no barrier found)")


def _unit(cfg: CNNUnitConfig, *, device: str, progress: bool) -> CNNUnit:
    """One network: its minima and their join, each cached on its own (the function
    :func:`toolkit.executor.map_units` runs)."""
    ms = minima("cnn", cfg.dataset, RECIPE, cfg.n_minima, cfg.scale, seed=cfg.seed, device=device,
                progress=progress, layers=cfg.layers, channels=cfg.channels, bn=cfg.bn)
    paths = joined(ms, cfg.plan, seed=cfg.seed, run=0, device=device, progress=progress)
    return CNNUnit(name=cfg.name, layers=cfg.layers, channels=cfg.channels, bn=cfg.bn,
                   n_params=int(ms.flat.shape[1]), train_loss=np.asarray(ms.train_loss),
                   train_acc=np.asarray(ms.train_acc), test_acc=np.asarray(ms.test_acc),
                   minima_converged=np.asarray(ms.converged), paths=paths,
                   data=describe_data(ms), stand_in=bool(ms.stand_in_note),
                   minima_s=float(ms.wall_time.sum()), paths_s=paths.seconds)


def cnn_units(dataset: str, archs, scale: str, seed: int, *, device: str = "auto",
              progress: bool = True, executor: str | None = None) -> dict[str, CNNUnit]:
    """``{name: CNNUnit}`` for ``archs`` (``(layers, channels, bn)`` triples), each unit cached
    on its own (an interrupted run resumes at the next unit); ``executor="ray"`` (or
    ``$TOOLKIT_EXECUTOR``) runs one Ray task per unit (:mod:`toolkit.executor`)."""
    n, plan = cnn_plan(scale)
    cfgs = [CNNUnitConfig(dataset=dataset, layers=int(layers), channels=int(channels),
                          bn=bool(bn), n_minima=n, scale=scale, seed=seed, plan=plan)
            for layers, channels, bn in archs]
    runs = map_units(partial(_unit, device=device, progress=progress), cfgs,
                     executor=executor, device=device, desc="CNN units",
                     progress=progress and len(cfgs) > 1)
    return {c.name: u for c, u in zip(cfgs, runs.values)}


def plan_description(scale: str, dataset: str) -> str:
    """What every unit at ``scale`` runs: minima recipe as scaled, number of minima, paths."""
    n, plan = cnn_plan(scale)
    recipe = [ln for ln in scales.get(scale, RECIPE).describe(RECIPE).splitlines()
              if not ln.startswith("  minima")]
    return "\n".join([
        f"data set: {dataset} (a stand-in is named below when the files are absent)",
        f"minima: {n} per network, recipe {RECIPE!r} at {recipe[0]}", *recipe[1:],
        f"paths: all {n * (n - 1) // 2} pairs per network; {plan.describe()}"])
