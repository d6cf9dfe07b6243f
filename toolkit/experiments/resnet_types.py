"""Tables 1-2 and their barcode figure (Barannikov et al. §3): ResNet-like minima of two types --
type 1 trained with a constant small learning rate, type 2 with an annealed one -- on CIFAR-10
and SVHN. The paper trains 8 of each, optimises the 28 + 28 + 64 paths within and between the
types, and finds that type-1 minima have higher saddles and generalise worse.

Per data set (a cached unit): ``n`` minima of each type (``tk.minima`` with the recipes
``resnet_type1`` / ``resnet_type2``, the same training subset for both), a path between every pair
of the ``2n`` minima, every path evaluated on that training subset (BatchNorm statistics
recomputed per point), and the barcode of all ``2n`` minima, its bars labelled by type.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from types import SimpleNamespace

import numpy as np
import torch

from toolkit import scales
from toolkit.data import DATASETS
from toolkit.decide import Level, compare, power, status_of
from toolkit.executor import map_units
from toolkit.join import Joined, JoinPlan, evidence, joined
from toolkit.minima import describe_data, minima
from toolkit.params import as_int, as_list
from toolkit.paths import PathConfig
from toolkit.recipes import get_recipe
from toolkit.report import verdict
from toolkit.seeds import child_seed
from toolkit.topology import Barcode

__all__ = ["PAPER_TABLES", "ResNetTypesConfig", "ResNetTypesResult", "ResNetTypesUnit",
           "resnet_types", "resnet_types_config"]

TYPES = ("type 1 (small constant LR)", "type 2 (annealed LR)")

#: Tables 1 (CIFAR-10) and 2 (SVHN): (mean, std) per type; train loss has no std in the paper
PAPER_TABLES = {
    "cifar10": {"train loss": ((0.009, None), (0.002, None)), "test loss": ((1.74, 0.058), (1.32, 0.033)),
                "train acc %": ((99.97, 0.02), (99.99, 0.01)), "test acc %": ((67.41, 0.93), (75.74, 0.64))},
    "svhn": {"train loss": ((0.008, None), (0.001, None)), "test loss": ((0.53, 0.025), (0.42, 0.015)),
             "train acc %": ((99.98, 0.01), (99.99, 0.01)), "test acc %": ((88.12, 0.40), (93.29, 0.19))},
}


def _plan(s: dict, dataset: str) -> JoinPlan:
    p = s["paths"][dataset]
    path = PathConfig(n_points=p["n_points"], epochs=p["epochs"], batch_size=p["batch_size"],
                      optimizer=p["optimizer"], lr=p["lr"], momentum=0.9, weight_decay=5e-4,
                      lr_schedule="garipov", insert_every=p["insert_every"],
                      insert_criterion=p["insert_criterion"], insert_max=p["insert_max"],
                      max_points=p["max_points"], min_epochs=p["min_epochs"],
                      track_every=s["track_every"], track_subset=s["track_subset"],
                      conv_window=s["conv_window"], on_nonfinite="backoff")
    return JoinPlan(path=path, between=s["between"], bootstrap=s["bootstrap"],
                    eval_chunk=s["eval_chunk"], resolution=s["resolution"],
                    max_rounds=s["max_rounds"])


@dataclass(frozen=True)
class ResNetTypesConfig:
    """Data sets, minima per type, and one path plan per data set (App. C: CIFAR-10 batch 150,
    300 epochs; SVHN batch 256, 200 epochs). Build with :func:`resnet_types_config`."""

    datasets: tuple[str, ...]
    n_per_type: int
    width: float
    scale: str
    seed: int
    plans: tuple[JoinPlan, ...]

    def describe(self) -> str:
        """Minima per type with each recipe as scaled, and the paths."""
        n = self.n_per_type
        net = "ResNet-like (Table 11)" + ("" if self.width == 1 else
                                          f" at {self.width:g} x its channels (reduced)")
        lines = [f"{net}; data sets {list(self.datasets)}: {n} minima of each type, "
                 f"{n * (n - 1) // 2} + {n * (n - 1) // 2} + {n * n} paths (within type 1, within "
                 f"type 2, between)"]
        for name in ("resnet_type1", "resnet_type2"):
            rec = [ln for ln in scales.get(self.scale, name).describe(name).splitlines()
                   if not ln.startswith("  minima")]
            lines += [f"{name} at {rec[0]}", *rec[1:]]
        for ds, plan in zip(self.datasets, self.plans):
            lines.append(f"paths on {ds}: {plan.describe()}")
        return "\n".join(lines)


def resnet_types_config(scale: str = "cpu", *, seed: int = 0, datasets=("cifar10", "svhn"),
                        n_per_type: int | None = None) -> ResNetTypesConfig:
    """The Tables 1-2 configuration at ``scale`` (settings:
    ``tk.scales.EXPERIMENTS["resnet_types"]``; minima from the ``resnet_type1``/``resnet_type2``
    presets)."""
    s = scales.settings("resnet_types", scale)
    datasets = as_list(datasets, "datasets", str, choices=DATASETS)
    seed = as_int(seed, "seed")
    n = as_int(n_per_type, "n_per_type", allow_none=True)
    n = s["n_per_type"] if n is None else n
    if n < 1:
        raise ValueError(f"need at least one minimum per type, got n_per_type={n}")
    unknown = [d for d in datasets if d not in s["paths"]]
    if unknown:
        raise ValueError(f"no path plan for data set(s) {unknown}; known: {sorted(s['paths'])}")
    return ResNetTypesConfig(datasets=tuple(datasets), n_per_type=n, width=float(s["width"]),
                             scale=scale, seed=seed,
                             plans=tuple(_plan(s, d) for d in datasets))


@dataclass
class ResNetTypesUnit:
    """One data set: ``2n`` minima (``types [2n]``: 1 or 2; minimum ``k`` is bar ``k``), their
    store numbers (``train_loss``, ``train_acc``, ``test_loss``, ``test_acc``,
    ``minima_converged``, all ``[2n]``) and the paths between every pair."""

    dataset: str
    data: str
    stand_in: bool
    n_params: int
    types: np.ndarray
    train_loss: np.ndarray
    train_acc: np.ndarray
    test_loss: np.ndarray
    test_acc: np.ndarray
    minima_converged: np.ndarray
    paths: Joined
    minima_s: float
    paths_s: float

    def labels(self) -> list[str]:
        """One type label per bar (= per minimum)."""
        return [TYPES[int(t) - 1] for t in self.types]

    def type_barcodes(self) -> dict[str, Barcode]:
        """``{type label: the bars of that type's minima}`` (for the bar-ends plot)."""
        return {TYPES[k - 1]: self.paths.barcode.subset(self.types == k) for k in (1, 2)}

    def pair_class(self) -> np.ndarray:
        """``[P]`` ``"1-1"``, ``"2-2"`` or ``"1-2"`` for every path."""
        t = self.types[self.paths.pairs]
        return np.array([f"{min(a, b)}-{max(a, b)}" for a, b in t])

    def bar_level(self, kind: int) -> Level:
        """Mean end of the finite bars of the type-``kind`` minima (their saddles)."""
        p = self.paths
        fin = p.barcode.finite()
        sel = self.types[fin.minimum] == kind
        k = p.bar_paths()[sel]
        return Level.of(fin.deaths[sel], p.saddle_std[k], p.converged[k])

    def class_level(self, cls: str) -> Level:
        """Mean path maximum over the paths of class ``"1-1"``, ``"2-2"`` or ``"1-2"``."""
        p = self.paths
        sel = self.pair_class() == cls
        return Level.of(p.saddles[sel], p.saddle_std[sel], p.converged[sel])

    def acc_level(self, kind: int) -> Level:
        """Mean test accuracy (%) of the type-``kind`` minima with its standard error."""
        return Level.of(100 * self.test_acc[self.types == kind])

    def table(self) -> str:
        """Tables 1-2: mean ± std per type beside the paper's, then the saddles by type."""
        paper = PAPER_TABLES.get(self.dataset)
        rows = [("train loss", self.train_loss, 1), ("test loss", self.test_loss, 1),
                ("train acc %", self.train_acc, 100), ("test acc %", self.test_acc, 100)]
        lines = [f"{self.dataset} -> ran on: {self.data}",
                 f"{'':>12} {'ours: type 1':>16} {'ours: type 2':>16} {'paper: type 1':>16} {'paper: type 2':>16}"]
        for name, v, f in rows:
            ours = [f"{f * v[self.types == k].mean():.4g} ± {f * v[self.types == k].std():.2g}" for k in (1, 2)]
            pap = ([f"{m:g}" + ("" if s is None else f" ± {s:g}") for m, s in paper[name]]
                   if paper else ["", ""])
            lines.append(f"{name:>12} {ours[0]:>16} {ours[1]:>16} {pap[0]:>16} {pap[1]:>16}")
        conv = [int(self.minima_converged[self.types == k].sum()) for k in (1, 2)]
        n = int((self.types == 1).sum())
        lines.append(f"{'converged':>12} {f'{conv[0]}/{n}':>16} {f'{conv[1]}/{n}':>16}")
        lines.append("bar ends (saddles) by type: " + ", ".join(
            f"type {k}: {self.bar_level(k).text(4)}" for k in (1, 2)))
        lines.append("path maxima by pair class: " + ", ".join(
            f"{c}: {self.class_level(c).text(4)}" for c in ("1-1", "1-2", "2-2")))
        lines.append(f"paths: {self.paths.convergence_note()}; "
                     f"{int(self.paths.at_endpoint().sum())} path maxima at a minimum (no barrier)")
        return "\n".join(lines)

    def outcome(self) -> dict[str, str]:
        """``generalisation``: type 1's test accuracy against type 2's (``"lower"``: worse, as
        the paper); ``saddles``: type 2's bar ends against type 1's (``"lower"``: type 1 higher,
        as the paper); ``always``: every type-1 bar ends above every type-2 bar."""
        fin = self.paths.barcode.finite()
        t = self.types[fin.minimum]
        always = bool(len(fin.deaths[t == 1]) and len(fin.deaths[t == 2])
                      and fin.deaths[t == 1].min() > fin.deaths[t == 2].max())
        return {"generalisation": compare(self.acc_level(1), self.acc_level(2)),
                "saddles": compare(self.bar_level(2), self.bar_level(1)), "always": str(always)}


def _unit(cfg: ResNetTypesConfig, job: tuple[str, JoinPlan], *, device: str,
          progress: bool) -> ResNetTypesUnit:
    """One data set: the minima of both types (cached one by one) and their join (cached by the
    minima's content): the function :func:`toolkit.executor.map_units` runs."""
    dataset, plan = job
    r2 = get_recipe("resnet_type2")
    if dataset == "svhn":  # App. A Table 5: type 2 trains 100 epochs on SVHN (300 on CIFAR-10)
        r2 = r2.replace(epochs=100)
    sets = [minima("resnet_like", dataset, "resnet_type1", cfg.n_per_type, cfg.scale, seed=cfg.seed,
                   device=device, progress=progress, width=cfg.width),
            minima("resnet_like", dataset, r2, cfg.n_per_type, cfg.scale,
                   seed=child_seed(cfg.seed, "resnet_type2"), device=device, progress=progress,
                   width=cfg.width)]

    def cat(key: str) -> np.ndarray:
        return np.concatenate([np.asarray(getattr(s, key)) for s in sets])

    both = SimpleNamespace(  # the 2n minima as one set for the join (same model, same data)
        model=sets[0].model, train_data=sets[0].train_data, train_loss=cat("train_loss"),
        flat=torch.cat([s.flat for s in sets]), config=sets[0].config,
        buffers=None if sets[0].buffers is None else
        {k: torch.cat([s.buffers[k] for s in sets]) for k in sets[0].buffers})
    paths = joined(both, plan, seed=cfg.seed, run=0, device=device, progress=progress)
    return ResNetTypesUnit(
        dataset=dataset, data=describe_data(sets[0]), stand_in=bool(sets[0].stand_in_note),
        n_params=int(both.flat.shape[1]), types=np.repeat([1, 2], cfg.n_per_type),
        train_loss=cat("train_loss"), train_acc=cat("train_acc"), test_loss=cat("test_loss"),
        test_acc=cat("test_acc"), minima_converged=cat("converged").astype(bool), paths=paths,
        minima_s=float(cat("wall_time").sum()), paths_s=paths.seconds)


@dataclass
class ResNetTypesResult:
    """``units[dataset]`` and the config."""

    config: ResNetTypesConfig
    units: dict[str, ResNetTypesUnit]

    @property
    def compute_s(self) -> float:
        return float(sum(u.minima_s + u.paths_s for u in self.units.values()))

    def tables(self) -> str:
        """Tables 1-2 for every data set, ours beside the paper's."""
        return "\n\n".join(u.table() for u in self.units.values())

    def verdict(self) -> dict:
        """Tables 1-2's verdict for ``run.finish``: per data set, type 1 must generalise worse
        (test accuracy below type 2's beyond the error bars) and have higher saddles (mean bar end
        above type 2's beyond the error bars). Reproduced when both hold on every data set with
        converged paths; partly when one of them holds somewhere (the saddles maybe only as upper
        bounds at equal budget) and neither is reversed beyond the error bars anywhere; not
        reproduced otherwise (see :func:`~toolkit.decide.status_of`); undetermined when minima or
        bar-ending maxima did not converge (:func:`~toolkit.decide.decide`)."""
        cfg = self.config
        out = {ds: u.outcome() for ds, u in self.units.items()}
        checks = [o[k] for o in out.values() for k in ("generalisation", "saddles")]
        ok = all(u.paths.sanity()[0] for u in self.units.values())
        status = status_of(checks) if ok else "not reproduced"
        us = list(self.units.values())
        ev = evidence((u.paths for u in us), [u.minima_converged for u in us])
        conv_note, conv = ev.pop("note"), list(ev["maxima"])
        detect = max(power(u.bar_level(1), u.bar_level(2)) for u in us)
        effect = min(abs(u.bar_level(1).mean - u.bar_level(2).mean) for u in us)
        n = cfg.n_per_type
        per = "; ".join(
            f"{ds}: test acc type 1 {u.acc_level(1).text(2)}% vs type 2 {u.acc_level(2).text(2)}% "
            f"({out[ds]['generalisation']}); bar ends type 1 {u.bar_level(1).text(3)} vs type 2 "
            f"{u.bar_level(2).text(3)} (type 2 {out[ds]['saddles']}; always higher for type 1: "
            f"{out[ds]['always']})" for ds, u in self.units.items())
        return verdict(
            status=status, dataset="; ".join(u.data for u in self.units.values()), **ev,
            tolerance=cfg.plans[0].path.conv_atol, effect=effect,
            power=f"type-1 vs type-2 bar ends differing by less than {detect:.4f} (two combined "
                  f"error bars, {n} minima per type) are ties",
            runs=f"{n} minima per type per data set, {n * (n - 1) // 2} + {n * (n - 1) // 2} + "
                 f"{n * n} paths, 1 path optimisation; scale {cfg.scale}",
            finding=per + f"; sanity {'ok' if ok else 'FAILED'}"
                    + conv_note,
            paper="type 1 (small LR) generalises worse (CIFAR-10 67.41 ± 0.93 vs 75.74 ± 0.64 %; "
                  "SVHN 88.12 ± 0.40 vs 93.29 ± 0.19 %) and its saddles are always higher",
            ours="; ".join(f"{ds}: generalisation {o['generalisation']}, type-2 saddles "
                           f"{o['saddles']}" for ds, o in out.items()),
            numbers={"outcomes": out, "sanity_ok": ok, "paths_converged": conv,
                     "test_acc": {ds: [u.acc_level(k).mean for k in (1, 2)] for ds, u in self.units.items()},
                     "bar_end": {ds: [u.bar_level(k).mean for k in (1, 2)] for ds, u in self.units.items()}},
            compute_s=self.compute_s, stand_in=any(u.stand_in for u in self.units.values()),
            scale=cfg.scale, compared=len(checks))


def resnet_types(cfg: ResNetTypesConfig, *, device: str = "auto", progress: bool = True,
                 executor: str | None = None) -> ResNetTypesResult:
    """Run (or load) one cached unit per data set; ``executor="ray"`` (or ``$TOOLKIT_EXECUTOR``)
    runs one Ray task per data set (:mod:`toolkit.executor`)."""
    jobs = list(zip(cfg.datasets, cfg.plans))
    runs = map_units(partial(_unit, cfg, device=device, progress=progress), jobs,
                     executor=executor, device=device, desc="ResNet data sets",
                     progress=progress and len(jobs) > 1)
    return ResNetTypesResult(config=cfg, units=dict(zip(cfg.datasets, runs.values)))
