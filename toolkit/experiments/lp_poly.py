"""Liao & Poggio Fig. 2: the DCNN with ReLU and with a polynomial activation, trained alike.

Protocol: the 6-layer DCNN (``tk.models.build("lp_dcnn")``) with ReLU and with the polynomial
activation of ``toolkit.models.lp`` (the degree-2 least-squares fit of ReLU under a standard normal
weight, ``0.1995 + 0.5 x + 0.1995 x^2``; the paper's formula was lost in extraction), trained
with the same SGD recipe from the same initial weights and minibatch order (a paired
comparison), ``runs`` times with different seeds. The training and test (validation) error and
loss are recorded after every epoch. The paper shows the two sets of curves side by side and
says that "the polynomial net performs similarly to a ReLU net"; the recipe of its figure is not
given (ours: the Fig. 3 recipe, ``lp_sgd``).

Each (activation, run) is cached on its own, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np

from toolkit import scales
from toolkit._device import resolve_device
from toolkit._progress import progress_bar
from toolkit.cache import cached
from toolkit.experiments.lp_common import LPData, Scorer, lp_data, lp_model, single_thread
from toolkit.models import param_count
from toolkit.models.lp import relu_poly_coefficients
from toolkit.params import as_int
from toolkit.recipes import RECIPES
from toolkit.report import verdict
from toolkit.seeds import child_seed
from toolkit.train import train

__all__ = ["LPPolyConfig", "LPPolyResult", "lp_poly", "lp_poly_config"]

ACTIVATIONS = ("relu", "poly")


@dataclass(frozen=True)
class LPPolyConfig:
    """Everything that determines the Fig. 2 result (hashed for the cache). ``n_train``/``n_test``
    ``None``: the whole split. ``lr``/``batch_size``/``epochs``: the SGD recipe both nets share."""

    scale: str
    seed: int
    n_train: int | None
    n_test: int | None
    width: int
    epochs: int
    lr: float
    batch_size: int
    runs: int
    dataset: str = "cifar10"
    poly_degree: int = 2

    def __post_init__(self) -> None:
        for name, least in (("seed", None), ("epochs", 1), ("runs", 1), ("width", 1),
                            ("poly_degree", 1)):
            object.__setattr__(self, name, as_int(getattr(self, name), name, minimum=least))

    def describe(self) -> str:
        n = "all" if self.n_train is None else f"{self.n_train:,}"
        nt = "all" if self.n_test is None else f"{self.n_test:,}"
        return (f"scale={self.scale!r}: lp_dcnn width {self.width}, ReLU vs degree-"
                f"{self.poly_degree} polynomial activation, {self.runs} paired run(s) each (same "
                f"initial weights and minibatches); SGD {self.epochs} epochs, batch "
                f"{self.batch_size}, lr {self.lr}; {n} training / {nt} test images of "
                f"{self.dataset}")


def lp_poly_config(scale: str = "cpu", seed: int = 0, **changes) -> LPPolyConfig:
    """The configuration at ``scale`` (``tk.scales.EXPERIMENTS["lp_poly"]``) with ``changes``."""
    cfg = LPPolyConfig(scale=scale, seed=seed, **scales.settings("lp_poly", scale))
    return dataclasses.replace(cfg, **changes)


@dataclass
class PolyRun:
    """One training run: per epoch ``0..E`` (``[E+1]``), training/test loss and error on the
    whole subsets; ``diverged`` when the loss became NaN/inf (the curves stop there, NaN after)."""

    activation: str
    run: int
    train_loss: np.ndarray
    train_err: np.ndarray
    test_loss: np.ndarray
    test_err: np.ndarray
    diverged: bool
    compute_s: float


@dataclass
class LPPolyResult:
    """``runs[activation]``: the :class:`PolyRun` of each seed; ``poly_coef`` the activation's
    power coefficients ``[c_0, ..., c_degree]``."""

    config: dict
    data: LPData
    n_params: int
    poly_coef: list[float]
    runs: dict[str, list[PolyRun]]
    compute_s: float

    @property
    def data_label(self) -> str:
        return self.data.label

    @property
    def epochs(self) -> np.ndarray:
        """``[E+1]`` epoch numbers of the curves."""
        return np.arange(self.config["epochs"] + 1)

    def curves(self, key: str) -> dict[str, np.ndarray]:
        """``{activation: [runs, E+1]}`` of ``key`` (``"train_err"``, ``"test_err"``, ...)."""
        return {a: np.stack([getattr(r, key) for r in rs]) for a, rs in self.runs.items()}

    def gap(self, key: str) -> tuple[float, float]:
        """Final-epoch ``mean(poly) − mean(relu)`` of ``key`` and its standard error: the spread
        over runs, floored by the binomial error of an error rate on the evaluated images."""
        c = self.curves(key)
        n = self.data.n_test if key.startswith("test") else self.data.n_train
        se2 = 0.0
        for a in ACTIVATIONS:
            v = c[a][:, -1]
            p = float(np.clip(np.nanmean(v), 1e-3, 1 - 1e-3))
            binom = p * (1 - p) / n / len(v) if key.endswith("err") else 0.0
            spread = float(np.nanvar(v, ddof=1)) / len(v) if len(v) > 1 else 0.0
            se2 += max(binom, spread)
        return float(np.nanmean(c["poly"][:, -1]) - np.nanmean(c["relu"][:, -1])), math.sqrt(se2)

    def summary(self) -> str:
        lines = [f"{'activation':<10} {'run':>3} {'train err':>9} {'test err':>9} {'train loss':>10} "
                 f"{'test loss':>9}"]
        for a, rs in self.runs.items():
            for r in rs:
                lines.append(f"{a:<10} {r.run + 1:>3} {r.train_err[-1]:9.3f} {r.test_err[-1]:9.3f} "
                             f"{r.train_loss[-1]:10.3f} {r.test_loss[-1]:9.3f}"
                             + ("  DIVERGED" if r.diverged else ""))
        return "\n".join(lines)

    def verdict(self, tol: float = 0.02) -> dict:
        """Fig. 2's verdict: the polynomial net "performs similarly": its final training error
        and its final test error each lie within ``max(tol, 2 SE)`` of the ReLU net's (SE:
        :meth:`gap`). Both: reproduced; one: partly; none (or a diverged run): not reproduced."""
        cfg = self.config
        d_test, se_test = self.gap("test_err")
        d_train, se_train = self.gap("train_err")
        diverged = any(r.diverged for rs in self.runs.values() for r in rs)
        ok = [abs(d) <= max(tol, 2 * se) for d, se in ((d_train, se_train), (d_test, se_test))]
        status = ("not reproduced" if diverged or not any(ok)
                  else "reproduced" if all(ok) else "partly reproduced")
        c = self.curves("test_err")
        relu, poly = float(np.nanmean(c["relu"][:, -1])), float(np.nanmean(c["poly"][:, -1]))
        return verdict(
            status=status, stand_in=self.data.stand_in, dataset=self.data.verdict_label,
            runs=f"{cfg['runs']} paired run(s) per activation, {cfg['epochs']} epochs each",
            power=f"a test-error gap above {max(tol, 2 * se_test):.3f} (training: "
                  f"{max(tol, 2 * se_train):.3f}) would have been called a difference",
            finding=f"final test error ReLU {relu:.3f} vs polynomial {poly:.3f} (gap "
                    f"{d_test:+.3f} ± {se_test:.3f}); training-error gap {d_train:+.3f} ± "
                    f"{se_train:.3f}; tie when within max({tol}, 2 SE)"
                    + ("; a polynomial run DIVERGED" if diverged else ""),
            paper="the polynomial net performs similarly to the ReLU net (curves, CIFAR-10)",
            ours=f"test error {relu:.3f} (ReLU) vs {poly:.3f} (polynomial), gap {d_test:+.3f} ± "
                 f"{se_test:.3f}",
            numbers={"test_err_relu": relu, "test_err_poly": poly, "test_gap": d_test,
                     "test_gap_se": se_test, "train_gap": d_train, "train_gap_se": se_train,
                     "diverged": diverged, "compute_s": self.compute_s},
            compute_s=self.compute_s, scale=cfg["scale"], compared=len(ok))


def _run(cfg: LPPolyConfig, activation: str, run: int, dev) -> PolyRun:
    t0 = time.perf_counter()
    train_ds, test_ds, _ = lp_data(cfg.dataset, cfg.scale, cfg.n_train, cfg.n_test)
    # same initial weights for both activations (PolyReLU has no parameters): a paired comparison
    model = lp_model(child_seed(cfg.seed, "minimum", run), train_ds.x, width=cfg.width,
                     activation=activation, num_classes=train_ds.num_classes,
                     poly_degree=cfg.poly_degree)
    recipe = RECIPES["lp_sgd"].replace(epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size)
    nan = np.full(cfg.epochs + 1, np.nan)
    try:
        res = train(model, (train_ds.x, train_ds.y), recipe, seed=child_seed(cfg.seed, "lp_batches", run),
                    device=dev, progress=False, warn=False, record_every="epoch")
    except FloatingPointError:
        return PolyRun(activation, run, nan, nan.copy(), nan.copy(), nan.copy(), True,
                       time.perf_counter() - t0)
    model.to("cpu")
    ev = Scorer(model, train_ds, test_ds, dev)(res.snapshots)
    return PolyRun(activation, run, ev["train_loss"], ev["train_err"], ev["test_loss"],
                   ev["test_err"], False, time.perf_counter() - t0)


def lp_poly(cfg: LPPolyConfig, *, device: str = "auto", progress: bool = True) -> LPPolyResult:
    """Train (or load from the cache) the ReLU and polynomial DCNNs of ``cfg``; every run is a
    cache entry of its own. Below paper scale CIFAR-10 may be replaced by a documented stand-in
    (``result.data`` says so)."""
    train_ds, _, info = lp_data(cfg.dataset, cfg.scale, cfg.n_train, cfg.n_test)
    units = [(a, r) for r in range(cfg.runs) for a in ACTIVATIONS]
    runs: dict[str, list[PolyRun]] = {a: [] for a in ACTIVATIONS}
    dev = resolve_device(device)
    with single_thread(dev):
        for a, r in progress_bar(units, desc="ReLU / polynomial runs", enabled=progress):
            key = {"config": cfg, "activation": a, "run": r, "recipe": RECIPES["lp_sgd"]}
            runs[a].append(cached("lp_poly_run", key, lambda a=a, r=r: _run(cfg, a, r, dev),
                                  version="2"))
    model = lp_model(0, train_ds.x, width=cfg.width, num_classes=train_ds.num_classes)
    return LPPolyResult(config=dataclasses.asdict(cfg), data=info, n_params=param_count(model),
                        poly_coef=relu_poly_coefficients(cfg.poly_degree), runs=runs,
                        compute_s=sum(r.compute_s for rs in runs.values() for r in rs))
