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
as "minima connected without a barrier at this precision" (:mod:`toolkit.decide`). Minima are
joined by :mod:`toolkit.join`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from toolkit import scales
from toolkit.data import DATASETS
from toolkit.executor import map_units, resolve_executor
from toolkit.experiments.fc_depth_result import FCDepthResult, FCDepthUnit
from toolkit.join import Joined, JoinPlan, is_joined, joined, protocol_paths
from toolkit.minima import MinimaPlan, MinimaSet, minima, plan_minima
from toolkit.params import as_int, as_list

__all__ = ["FCDepthConfig", "FCDepthResult", "FCDepthUnit", "fc_depth", "fc_depth_config",
           "fc_minima", "fc_paths"]


@dataclass(frozen=True)
class FCDepthConfig:
    """Everything that determines the Fig. 2/13 result; build it with :func:`fc_depth_config`
    (no field has a default: the scale decides).

    The minima, the paths and their evaluation use one training set: the recipe's, reduced by the
    scale (``tk.scales.get(scale, recipe)``). ``path_seeds``: independent path optimisations per
    unit (their spread is one of Fig. 13's two error bars; the other is the data bootstrap);
    ``plan``: how minima are joined (:class:`toolkit.join.JoinPlan`).
    """

    datasets: tuple[str, ...]
    depths: tuple[int, ...]
    width: int
    n_minima: int
    scale: str
    seed: int
    recipe: str
    path_seeds: int
    plan: JoinPlan

    @property
    def path(self):
        """The paths' ``PathConfig``."""
        return self.plan.path

    @property
    def bootstrap(self) -> int:
        """Bootstrap resamples of the data chunks for each maximum's error bar."""
        return self.plan.bootstrap

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
        return "\n".join([
            f"data sets {list(self.datasets)}, depths {list(self.depths)} x {self.width} units, "
            f"{self.n_minima} minima each ({self.n_minima * (self.n_minima - 1) // 2} pairs)",
            f"minima: recipe {self.recipe!r} until converged -- "
            + scales.get(self.scale, self.recipe).describe(self.recipe),
            f"paths: {self.plan.describe()}; {self.path_seeds} independent optimisations per pair",
        ])


def fc_depth_config(scale: str = "cpu", *, datasets=("mnist", "fashion-mnist"),
                    depths=None, n_minima: int | None = None, seed: int = 0) -> FCDepthConfig:
    """The Fig. 2 configuration at ``scale`` (settings: ``tk.scales.EXPERIMENTS["fc_depth"]``);
    ``depths=None`` and ``n_minima=None`` take the scale's defaults. ``datasets`` and ``depths``
    may arrive as text from the command line (``"[2, 4]"``, ``"mnist"``): see
    :mod:`toolkit.params`."""
    s = scales.settings("fc_depth", scale)
    datasets = as_list(datasets, "datasets", str, choices=DATASETS)
    depths = as_list(s["depths"] if depths is None else depths, "depths", int)
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
    # No L2 term: the paths measure the training loss itself. The schedule (Garipov's: constant,
    # then annealed to 1%) restarts every cycle; maxima are compared at cycle ends only, where
    # the rate is lowest, so "converged" means a whole further cycle could not lower the maximum
    # by more than 5% of its barrier + conv_atol -- not that the annealed rate froze it.
    path = protocol_paths(s, batch_size=128, track_subset=s["track_subset"])
    # chunks of 250 images: the data bootstrap of the maxima resamples 20 of them at cpu scale
    return FCDepthConfig(datasets=datasets, depths=depths, width=32, n_minima=n, scale=scale,
                         seed=seed, recipe="fc_converge", path_seeds=s["path_seeds"],
                         plan=JoinPlan(path=path, bootstrap=s["bootstrap"], eval_chunk=250))


def fc_minima(cfg: FCDepthConfig, dataset: str, depth: int, *, device: str = "auto",
              progress: bool = True, executor: str | None = None) -> MinimaSet:
    """The ``cfg.n_minima`` minima of ``(dataset, depth)`` from the minima store (cached)."""
    return minima("fc", dataset, cfg.recipe, cfg.n_minima, cfg.scale, seed=cfg.seed, device=device,
                  progress=progress, executor=executor, hidden_layers=depth, width=cfg.width)


def fc_paths(cfg: FCDepthConfig, ms: MinimaSet, *, path_seed: int = 0, device: str = "auto",
             progress: bool = True) -> Joined:
    """Path run ``path_seed`` of ``cfg`` between every pair of the minima ``ms``: the join
    (:func:`toolkit.join.joined`, cached by the minima's content); the first run keeps its
    ``PathSet`` (App. E reads its diagnostics)."""
    return joined(ms, cfg.plan, seed=cfg.seed, run=path_seed, device=device, progress=progress,
                  keep=path_seed == 0)


# ----------------------------------------------------------------------------- running


def _unit(cfg: FCDepthConfig, job: tuple[str, int], *, device: str, progress: bool) -> FCDepthUnit:
    """One (data set, depth): its minima (cached one by one) and its joins (cached by content):
    the function :func:`map_units` runs."""
    dataset, depth = job
    ms = fc_minima(cfg, dataset, depth, device=device, progress=progress)
    joins = [fc_paths(cfg, ms, path_seed=s, device=device, progress=progress)
             for s in range(cfg.path_seeds)]
    return FCDepthUnit(
        dataset=dataset, depth=depth, n_params=int(ms.flat.shape[1]),
        grad_norm=np.asarray(ms.grad_norm), epochs=np.asarray(ms.epochs),
        converged=np.asarray(ms.converged), train_acc=np.asarray(ms.train_acc),
        test_acc=np.asarray(ms.test_acc), joins=joins,
        # the minima's training time, wherever and whenever they were trained
        minima_s=float(ms.wall_time.sum()), note=ms.stand_in_note)


def _plan(cfg: FCDepthConfig, job: tuple[str, int], device: str, progress: bool) -> MinimaPlan:
    return plan_minima("fc", job[0], cfg.recipe, cfg.n_minima, cfg.scale, seed=cfg.seed,
                       device=device, progress=progress, hidden_layers=job[1], width=cfg.width)


def _done(cfg: FCDepthConfig, plan: MinimaPlan) -> bool:
    """Every minimum and every join of the unit is in the cache."""
    if not all(plan.is_cached(i) for i in range(len(plan))):
        return False
    runs = [plan.train(i) for i in range(len(plan))]
    ms = plan.assemble(runs)
    return all(is_joined(ms, cfg.plan, seed=cfg.seed, run=s, keep=s == 0)
               for s in range(cfg.path_seeds))


def _train_minimum(plans: dict[tuple[str, int], MinimaPlan], job: tuple[tuple[str, int], int]) -> None:
    plans[job[0]].train(job[1])  # cached; the unit loads it


def fc_depth(cfg: FCDepthConfig, *, device: str = "auto", progress: bool = True,
             executor: str | None = None) -> FCDepthResult:
    """Run (or load) every (data set, depth) unit of ``cfg``: minima and joins are cached one by
    one, so an interrupted run resumes where it stopped.

    ``executor="ray"`` (or ``$TOOLKIT_EXECUTOR=ray``; see :mod:`toolkit.executor`) first trains
    every minimum not yet cached as a Ray task of its own, then runs the units' paths as one
    task per unit; the result is the serial one (bit for bit on the CPU).
    """
    name = resolve_executor(executor)
    jobs = [(ds, d) for ds in cfg.datasets for d in cfg.depths]
    if name != "serial":
        plans = {j: _plan(cfg, j, device, progress) for j in jobs}
        todo = [j for j in jobs if not _done(cfg, plans[j])]
        if not todo:  # everything is cached: no runtime to start
            name = "serial"
        else:
            deep_first = sorted(todo, key=lambda j: -j[1])  # the longest first: no lone last task
            map_units(partial(_train_minimum, plans),
                      [(j, i) for j in deep_first for i in range(cfg.n_minima)
                       if not plans[j].is_cached(i)],
                      executor=name, device=device, desc="fc depth minima", progress=progress)
    order = sorted(jobs, key=lambda j: -j[1]) if name != "serial" else jobs
    runs = map_units(partial(_unit, cfg, device=device, progress=progress), order,
                     executor=name, device=device, desc="fc depth units",
                     progress=progress and len(jobs) > 1)
    units, secs = dict(zip(order, runs.values)), dict(zip(order, runs.seconds))
    return FCDepthResult(config=cfg, units={j: units[j] for j in jobs},
                         unit_s={j: secs[j] for j in jobs}, executor=name)
