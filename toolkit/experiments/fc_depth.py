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
from functools import partial

import numpy as np

from toolkit import scales
from toolkit.cache import cache_path, cached
from toolkit.data import DATASETS
from toolkit.executor import map_units, resolve_executor
from toolkit.experiments.fc_depth_result import FCDepthResult, FCDepthUnit
from toolkit.landscape import evaluation_barcode, minima_paths, protocol_paths
from toolkit.minima import MinimaPlan, MinimaSet, minima, plan_minima
from toolkit.params import as_int, as_list
from toolkit.paths import ENGINE_VERSION, PathConfig, PathEvaluation, PathSet
from toolkit.topology import minima_barcode

__all__ = ["FCDepthConfig", "FCDepthResult", "FCDepthUnit", "fc_depth", "fc_depth_config",
           "fc_minima", "fc_paths"]

#: code version of a cached (data set, depth) unit
_UNIT_VERSION = f"4+engine{ENGINE_VERSION}"


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
            f"(lr {p.lr}, {p.lr_schedule} schedule restarted every {p.cycle_epochs} epochs, batch "
            f"{p.batch_size}) on the same training set, insertion '{p.insert_criterion}' every "
            f"{p.insert_every} epochs, convergence test at cycle ends (no new low by more than "
            f"{p.conv_rtol:.0%} of the barrier + {p.conv_atol:g} over {p.conv_window} cycles), "
            f"pruning {p.prune}; "
            f"{self.path_seeds} independent optimisations per pair",
            f"evaluation: the same training set, certified maxima, {self.bootstrap} bootstrap "
            "resamples of data chunks",
        ])


def fc_depth_config(scale: str = "cpu", *, datasets=("mnist", "fashion-mnist"),
                    depths=None, n_minima: int | None = None, seed: int = 0) -> FCDepthConfig:
    """The Fig. 2 configuration at ``scale`` (settings: ``tk.scales.EXPERIMENTS["fc_depth"]``);
    ``depths=None`` and ``n_minima=None`` take the scale's defaults. ``datasets`` and ``depths`` may arrive as text
    from the command line (``"[2, 4]"``, ``"mnist"``): see :mod:`toolkit.params`."""
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
    return FCDepthConfig(datasets=datasets, depths=depths, width=32, n_minima=n, scale=scale,
                         seed=seed, recipe="fc_converge", bootstrap=s["bootstrap"],
                         path_seeds=s["path_seeds"], path=path)


def fc_minima(cfg: FCDepthConfig, dataset: str, depth: int, *, device: str = "auto",
              progress: bool = True, executor: str | None = None) -> MinimaSet:
    """The ``cfg.n_minima`` minima of ``(dataset, depth)`` from the minima store (cached)."""
    return minima("fc", dataset, cfg.recipe, cfg.n_minima, cfg.scale, seed=cfg.seed, device=device,
                  progress=progress, executor=executor, hidden_layers=depth, width=cfg.width)


def fc_paths(cfg: FCDepthConfig, ms: MinimaSet, *, path_seed: int = 0, device: str = "auto",
             progress: bool = True) -> tuple[PathSet, PathEvaluation]:
    """The paths of ``cfg`` between every pair of the minima ``ms``, uncached: optimised and
    evaluated on the minima's training set, with the seed of path run ``path_seed``
    (``tk.landscape``'s :func:`~toolkit.landscape.minima_paths`)."""
    # chunks of 250 images: the data bootstrap of the maxima resamples 20 of them at cpu scale
    return minima_paths(ms, cfg.path, seed=cfg.seed, run=path_seed, bootstrap=cfg.bootstrap,
                        eval_chunk=250, device=device, progress=progress)


def _unit(cfg: FCDepthConfig, dataset: str, depth: int, device: str, progress: bool) -> FCDepthUnit:
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
        endpoint_gap=float(np.abs(min_losses - ms.train_loss).max()),
        # the minima's training time, wherever and whenever they were trained (Ray trains them
        # in tasks of their own before the units run)
        minima_s=float(ms.wall_time.sum()),
        paths_s=time.perf_counter() - t1, note=ms.stand_in_note, paths=runs[0][0],
        evaluation=runs[0][1])


def _unit_config(cfg: FCDepthConfig, dataset: str, depth: int) -> FCDepthConfig:
    return dataclasses.replace(cfg, datasets=(dataset,), depths=(depth,))  # one unit's own key


def _cached_unit(cfg: FCDepthConfig, job: tuple[str, int], *, device: str,
                 progress: bool) -> FCDepthUnit:
    """One (data set, depth) unit, cached on its own: the function :func:`map_units` runs."""
    ds, d = job
    return cached("fc_depth_unit", _unit_config(cfg, ds, d),
                  lambda: _unit(cfg, ds, d, device, progress), version=_UNIT_VERSION)


def _train_minimum(plans: dict[tuple[str, int], MinimaPlan], job: tuple[tuple[str, int], int]) -> None:
    plans[job[0]].train(job[1])  # cached; the unit loads it


def fc_depth(cfg: FCDepthConfig, *, device: str = "auto", progress: bool = True,
             executor: str | None = None) -> FCDepthResult:
    """Run (or load) every (data set, depth) unit of ``cfg``; each unit is cached separately.

    ``executor="ray"`` (or ``$TOOLKIT_EXECUTOR=ray``; see :mod:`toolkit.executor`) first trains
    every minimum of every unit not yet cached as a Ray task of its own, then runs the units'
    paths as one task per unit; the result is the serial one (bit for bit on the CPU).
    """
    name = resolve_executor(executor)
    jobs = [(ds, d) for ds in cfg.datasets for d in cfg.depths]
    todo = [j for j in jobs
            if not cache_path("fc_depth_unit", _unit_config(cfg, *j), _UNIT_VERSION).exists()]
    if name != "serial" and todo:
        plans = {j: plan_minima("fc", j[0], cfg.recipe, cfg.n_minima, cfg.scale, seed=cfg.seed,
                                device=device, progress=progress, hidden_layers=j[1],
                                width=cfg.width) for j in todo}
        deep_first = sorted(todo, key=lambda j: -j[1])  # the longest first: no lone last task
        map_units(partial(_train_minimum, plans),
                  [(j, i) for j in deep_first for i in range(cfg.n_minima)],
                  executor=name, device=device, desc="fc depth minima", progress=progress)
    order = sorted(jobs, key=lambda j: -j[1]) if name != "serial" else jobs
    runs = map_units(partial(_cached_unit, cfg, device=device, progress=progress), order,
                     executor=name, device=device, desc="fc depth units",
                     progress=progress and len(jobs) > 1)
    units, secs = dict(zip(order, runs.values)), dict(zip(order, runs.seconds))
    return FCDepthResult(config=cfg, units={j: units[j] for j in jobs},
                         unit_s={j: secs[j] for j in jobs}, executor=name)
