"""Liao & Poggio Fig. 5 (App. B.4, Figs. 18-37; App. E, Figs. 41-45): perturb a model, retrain it.

Protocol (§4.4): a DCNN is trained by SGD for ``sgd_epochs`` (paper: 60, batch 100) and then by
batch gradient descent for ``gd_epochs`` (paper: 400). Three models of this trajectory are
probed: ``M5`` and ``M30`` (after SGD epochs ``picks``, paper 5 and 30) and ``Mfinal`` (the end).
Each is perturbed ``runs`` times (paper: 4) layer-wise by Gaussian noise of standard deviation
``noise`` (0.1) × the layer's weight standard deviation, and retrained by gradient descent for
``retrain_epochs`` (200). App. E repeats it for ``Mfinal`` with a smaller perturbation,
``small_noise`` (0.01) × the mean magnitude of each layer's weights, retrained
``small_retrain_epochs`` (400) epochs: the fourth probed model here, "Mfinal (App. E)".

Measured: training/test error and loss along every retraining; per-layer MDS (layers 2/4/6) of
the retraining trajectories (all runs of a model together, and run 1 alone); the paper's two
similarity matrices between the final models and a reference model (ours: trained from another
initialisation by the same protocol; the paper says "a random reference model"); and the error
on the straight lines between perturbation 1 and 2, before and after retraining.

Units (the base trajectory, the reference, each retraining run) are cached one by one, so an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from dataclasses import dataclass

import numpy as np
import torch

from toolkit import scales, seeds
from toolkit._device import resolve_device
from toolkit._progress import progress_bar
from toolkit.cache import cached
from toolkit.embed import layer_mds
from toolkit.experiments.lp_common import (
    LAYERS,
    Scorer,
    grouped_mds,
    lp_data,
    lp_model,
    perturb_layers,
    predict,
    set_params,
    single_thread,
)
from toolkit.experiments.lp_retrain_result import LPRetrainResult, RetrainRun
from toolkit.objectives import flatten_params, unflatten_params
from toolkit.params import as_int, as_list
from toolkit.recipes import RECIPES
from toolkit.seeds import child_seed
from toolkit.train import train

__all__ = ["LPRetrainConfig", "lp_perturb_retrain", "lp_perturb_retrain_config"]

#: the probed models, in order (the last is Mfinal under App. E's smaller perturbation)
BASES = ("M5", "M30", "Mfinal", "Mfinal (App. E)")
MDS_LAYERS = ("layer 2", "layer 4", "layer 6")


@dataclass(frozen=True)
class LPRetrainConfig:
    """Everything that determines the result (hashed for the cache). ``picks``: the SGD epochs of
    the two early models (paper: 5 and 30 of 60); ``every``: evaluate and keep weights every
    ``every`` retraining epochs; ``line_points``: points on each straight line."""

    scale: str
    seed: int
    n_train: int | None
    n_test: int | None
    width: int
    sgd_epochs: int
    sgd_lr: float
    batch_size: int
    gd_epochs: int
    gd_lr: float
    picks: tuple[int, int]
    runs: int
    noise: float
    retrain_epochs: int
    small_noise: float
    small_retrain_epochs: int
    every: int
    line_points: int
    dataset: str = "cifar10"

    def __post_init__(self) -> None:
        for name, least in (("seed", None), ("runs", 1), ("sgd_epochs", 1), ("gd_epochs", 1),
                            ("retrain_epochs", 1), ("small_retrain_epochs", 1), ("every", 1),
                            ("line_points", 2)):
            object.__setattr__(self, name, as_int(getattr(self, name), name, minimum=least))
        object.__setattr__(self, "picks", as_list(self.picks, "picks", int, min_len=2))
        if self.runs < 2:
            raise ValueError(f"need at least 2 runs per model (interpolation), got {self.runs}")
        if any(not 1 <= p <= self.sgd_epochs for p in self.picks):
            raise ValueError(f"picks {self.picks} must lie in 1..sgd_epochs={self.sgd_epochs}")

    def describe(self) -> str:
        n = "all" if self.n_train is None else f"{self.n_train:,}"
        nt = "all" if self.n_test is None else f"{self.n_test:,}"
        return (f"scale={self.scale!r}: lp_dcnn width {self.width}; base trajectory {self.sgd_epochs} "
                f"SGD epochs (batch {self.batch_size}, lr {self.sgd_lr}) + {self.gd_epochs} GD epochs "
                f"(lr {self.gd_lr}); M5 = SGD epoch {self.picks[0]}, M30 = SGD epoch "
                f"{self.picks[1]}, Mfinal = the end; each perturbed {self.runs} times by "
                f"{self.noise} x layer std and retrained {self.retrain_epochs} GD epochs; App. E: "
                f"Mfinal perturbed by {self.small_noise} x mean |w|, retrained "
                f"{self.small_retrain_epochs} epochs; {n} training / {nt} test images of "
                f"{self.dataset}")

    def retrain_epochs_of(self, base: str) -> int:
        return self.small_retrain_epochs if base == BASES[3] else self.retrain_epochs


def lp_perturb_retrain_config(scale: str = "cpu", seed: int = 0, **changes) -> LPRetrainConfig:
    """The configuration at ``scale`` (``tk.scales.EXPERIMENTS["lp_perturb_retrain"]``)."""
    cfg = LPRetrainConfig(scale=scale, seed=seed, **scales.settings("lp_perturb_retrain", scale))
    return dataclasses.replace(cfg, **changes)


@dataclass
class BaseModels:
    """The probed models of one base trajectory (``models[name]`` ``[D]``: M5, M30, Mfinal) and
    their training and test errors (the reference model is a second ``BaseModels``)."""

    models: dict[str, torch.Tensor]
    train_err: dict[str, float]
    test_err: dict[str, float]
    compute_s: float


def _data(cfg: LPRetrainConfig):
    return lp_data(cfg.dataset, cfg.scale, cfg.n_train, cfg.n_test)


def _base(cfg: LPRetrainConfig, which: int, dev: torch.device) -> BaseModels:
    """SGD then GD from initialisation ``which`` (0: the probed trajectory, 1: the reference)."""
    t0 = time.perf_counter()
    tr, te, _ = _data(cfg)
    model = lp_model(child_seed(cfg.seed, "minimum", which), tr.x, width=cfg.width,
                     num_classes=tr.num_classes)
    sgd = RECIPES["lp_sgd"].replace(epochs=cfg.sgd_epochs, lr=cfg.sgd_lr, batch_size=cfg.batch_size)
    res = train(model, (tr.x, tr.y), sgd, seed=child_seed(cfg.seed, "lp_batches", which),
                device=dev, progress=False, warn=False, record_every="epoch")
    steps = -(-len(tr.y) // cfg.batch_size)
    at = {s: i for i, s in enumerate(res.snapshot_steps)}
    found = {BASES[0]: res.snapshots[at[cfg.picks[0] * steps]],
             BASES[1]: res.snapshots[at[cfg.picks[1] * steps]]}
    gd = RECIPES["lp_gd"].replace(epochs=cfg.gd_epochs, lr=cfg.gd_lr, chunk=max(len(tr.y), 1))
    train(model, (tr.x, tr.y), gd, seed=cfg.seed, device=dev, progress=False, warn=False)
    found[BASES[2]] = flatten_params(model).detach().cpu().clone()
    model.to("cpu")
    ev = Scorer(model, tr, te, dev)(torch.stack(list(found.values())))
    names = list(found)
    return BaseModels(models=found, train_err=dict(zip(names, ev["train_err"].tolist())),
                      test_err=dict(zip(names, ev["test_err"].tolist())),
                      compute_s=time.perf_counter() - t0)


def _retrain(cfg: LPRetrainConfig, base: BaseModels, b: int, r: int, dev) -> RetrainRun:
    t0 = time.perf_counter()
    tr, te, _ = _data(cfg)
    name = BASES[b]
    model = lp_model(0, tr.x, width=cfg.width, num_classes=tr.num_classes)
    start_model = base.models[BASES[2] if b == 3 else name]
    gen = seeds.generator(child_seed(cfg.seed, "lp_perturb", b, r))
    start = (perturb_layers(start_model, model, cfg.small_noise, gen, relative_to="mean_abs")
             if b == 3 else perturb_layers(start_model, model, cfg.noise, gen))
    set_params(model, start)
    epochs = cfg.retrain_epochs_of(name)
    gd = RECIPES["lp_gd"].replace(epochs=epochs, lr=cfg.gd_lr, chunk=max(len(tr.y), 1))
    res = train(model, (tr.x, tr.y), gd, seed=cfg.seed, device=dev, progress=False, warn=False,
                record_every=cfg.every)
    model.to("cpu")
    snaps = res.snapshots
    ev = Scorer(model, tr, te, dev)(snaps)
    layers = {k: v.clone() for k, v in unflatten_params(model, snaps).items()
              if k in [LAYERS[n] for n in MDS_LAYERS]}
    pred = predict(model, snaps[-1], tr, te, dev)
    return RetrainRun(base=name, run=r, epoch=np.asarray(res.snapshot_steps),
                      train_loss=ev["train_loss"], train_err=ev["train_err"],
                      test_loss=ev["test_loss"], test_err=ev["test_err"],
                      layers={n: layers[LAYERS[n]] for n in MDS_LAYERS},
                      start=snaps[0].clone(), final=snaps[-1].clone(), pred=pred,
                      compute_s=time.perf_counter() - t0)


def _assemble(cfg: LPRetrainConfig, base: BaseModels, ref: BaseModels,
              runs: dict[tuple[int, int], RetrainRun], dev) -> LPRetrainResult:
    tr, te, info = _data(cfg)
    model = lp_model(0, tr.x, width=cfg.width, num_classes=tr.num_classes)
    ref_pred = predict(model, ref.models[BASES[2]], tr, te, dev)
    model.to("cpu")
    mds, explained, mds_one, explained_one = {}, {}, {}, {}
    for b, name in enumerate(BASES):
        rs = [runs[(b, r)] for r in range(cfg.runs)]
        for layer in MDS_LAYERS:
            w = torch.cat([x.layers[layer] for x in rs])
            res = layer_mds({layer: w}, [layer])[layer]
            mds[(name, layer)], explained[(name, layer)] = res.coords, res.explained
            c, e = grouped_mds(rs[0].layers[layer], np.zeros(len(rs[0].epoch), dtype=np.int64))
            mds_one[(name, layer)], explained_one[(name, layer)] = c, e[0]
    # straight lines between perturbation 1 and 2, before and after retraining
    t = torch.linspace(0, 1, cfg.line_points)
    pts = []
    for b, _ in enumerate(BASES):
        r1, r2 = runs[(b, 0)], runs[(b, 1)]
        for a, z in ((r1.start, r2.start), (r1.final, r2.final)):
            pts.append((1 - t)[:, None] * a[None] + t[:, None] * z[None])
    ev = Scorer(model, tr, te, dev)(torch.cat(pts))
    shape = (len(BASES), 2, cfg.line_points)
    lines = {k: v.reshape(shape) for k, v in ev.items()}
    return LPRetrainResult(
        config=dataclasses.asdict(cfg), data=info, bases=BASES,
        n_params=int(base.models[BASES[2]].numel()), base_train_err=base.train_err,
        base_test_err=base.test_err, ref_train_err=ref.train_err[BASES[2]],
        ref_test_err=ref.test_err[BASES[2]], runs=[runs[k] for k in sorted(runs)],
        y_test=te.y.numpy(), ref_pred=ref_pred, mds=mds, explained=explained, mds_one=mds_one,
        explained_one=explained_one, line_t=t.double().numpy(), lines=lines,
        compute_s=base.compute_s + ref.compute_s + sum(x.compute_s for x in runs.values()))


def lp_perturb_retrain(cfg: LPRetrainConfig, *, device: str = "auto", progress: bool = True
                       ) -> LPRetrainResult:
    """Run (or load from the cache) the base trajectory, the reference model and every
    perturb-and-retrain run of ``cfg``, each a cache entry of its own. Below paper scale
    CIFAR-10 may be replaced by a documented stand-in (``result.data`` says so)."""
    dev = resolve_device(device)
    with single_thread(dev):
        return cached("lp_perturb_retrain", cfg, lambda: _compute(cfg, dev, progress), version="2")


#: the configuration fields the base trajectory depends on (its cache key: changing how the
#: models are perturbed or retrained reuses it)
_BASE_FIELDS = ("scale", "seed", "n_train", "n_test", "width", "sgd_epochs", "sgd_lr", "batch_size",
                "gd_epochs", "gd_lr", "picks", "dataset")


def _compute(cfg: LPRetrainConfig, dev: torch.device, progress: bool) -> LPRetrainResult:
    key = {f: getattr(cfg, f) for f in _BASE_FIELDS}
    key["recipes"] = [RECIPES["lp_sgd"], RECIPES["lp_gd"]]  # the presets as they are now
    base, ref = (cached("lp_retrain_base", {"base": key, "which": w},
                        lambda w=w: _base(cfg, w, dev), version="2") for w in (0, 1))
    runs = {}
    units = list(itertools.product(range(len(BASES)), range(cfg.runs)))
    for b, r in progress_bar(units, desc="perturb and retrain", enabled=progress):
        runs[(b, r)] = cached("lp_retrain_run", {"config": cfg, "base": b, "run": r,
                                                "recipes": key["recipes"]},
                              lambda b=b, r=r: _retrain(cfg, base, b, r, dev), version="2")
    return _assemble(cfg, base, ref, runs, dev)

