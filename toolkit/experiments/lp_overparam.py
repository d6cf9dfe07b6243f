"""Liao & Poggio App. D, Fig. 40: over-parametrising the DCNN does not raise validation error.

Protocol (ours: the paper gives a figure and its caption only): for every training-set size
``n`` in ``n_trains`` and every width in ``widths``, the DCNN is trained by SGD for ``steps``
minibatch steps (the same number of steps for every cell, so a larger set is seen fewer times)
and its validation error is measured on ``n_test`` held-out images. The paper's reading: at
every amount of data, adding parameters beyond the number of training points ("60x more
parameters than data") does not make the validation error worse.

Each (size, width) cell is cached on its own.
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
from toolkit.decide import Level, compare, power
from toolkit.experiments.lp_common import LPData, lp_data, lp_model, single_thread
from toolkit.models import param_count
from toolkit.params import as_int, as_list
from toolkit.recipes import RECIPES
from toolkit.report import verdict
from toolkit.seeds import child_seed
from toolkit.train import train

__all__ = ["LPOverparamConfig", "LPOverparamResult", "lp_overparam", "lp_overparam_config"]


@dataclass(frozen=True)
class LPOverparamConfig:
    """Everything that determines the result (hashed for the cache)."""

    scale: str
    seed: int
    n_trains: tuple[int, ...]
    widths: tuple[int, ...]
    n_test: int | None
    steps: int
    lr: float
    batch_size: int
    dataset: str = "cifar10"

    def __post_init__(self) -> None:
        object.__setattr__(self, "seed", as_int(self.seed, "seed"))
        object.__setattr__(self, "steps", as_int(self.steps, "steps", minimum=1))
        object.__setattr__(self, "n_trains", as_list(self.n_trains, "n_trains", int))
        object.__setattr__(self, "widths", as_list(self.widths, "widths", int))

    def epochs_for(self, n: int) -> int:
        """Epochs that give (at least) ``steps`` minibatch steps on ``n`` images."""
        return max(1, math.ceil(self.steps / math.ceil(n / self.batch_size)))

    def describe(self) -> str:
        nt = "all" if self.n_test is None else f"{self.n_test:,}"
        return (f"scale={self.scale!r}: lp_dcnn widths {', '.join(map(str, self.widths))} x "
                f"training sets of {', '.join(f'{n:,}' for n in self.n_trains)} images of "
                f"{self.dataset}; SGD {self.steps} steps (batch {self.batch_size}, lr {self.lr}) "
                f"for every cell; validation on {nt} test images")


def lp_overparam_config(scale: str = "cpu", seed: int = 0, **changes) -> LPOverparamConfig:
    """The configuration at ``scale`` (``tk.scales.EXPERIMENTS["lp_overparam"]``)."""
    cfg = LPOverparamConfig(scale=scale, seed=seed, **scales.settings("lp_overparam", scale))
    return dataclasses.replace(cfg, **changes)


@dataclass
class OverparamCell:
    """One trained model: training set size, width, parameter count, final training/validation
    loss and error, wall time."""

    n_train: int
    width: int
    n_params: int
    train_err: float
    train_loss: float
    test_err: float
    test_loss: float
    compute_s: float


@dataclass
class LPOverparamResult:
    """``test_err`` etc. ``[len(n_trains), len(widths)]``; ``n_params`` ``[len(widths)]``."""

    config: dict
    data: LPData
    n_trains: np.ndarray
    widths: np.ndarray
    n_params: np.ndarray
    train_err: np.ndarray
    test_err: np.ndarray
    test_loss: np.ndarray
    compute_s: float

    @property
    def data_label(self) -> str:
        return self.data.label

    def se(self, err: float) -> float:
        """Binomial standard error of an error rate measured on the validation images."""
        p = min(max(err, 1e-3), 1 - 1e-3)
        return math.sqrt(p * (1 - p) / self.data.n_test)

    def level(self, i: int, k: int) -> Level:
        """The validation error at training-set size ``i`` and width ``k`` with its binomial
        standard error, as a :class:`~toolkit.decide.Level`."""
        e = float(self.test_err[i, k])
        return Level(e, self.se(e), 1)

    def increases(self) -> list[tuple[int, int, int, float]]:
        """Steps to a wider over-parametrised net (both more parameters than training images)
        whose validation error rose beyond two combined standard errors (the book's one rule,
        :func:`toolkit.decide.compare`): ``(n_train, width, next width, rise)``."""
        out = []
        for i, n in enumerate(self.n_trains.tolist()):
            over = [k for k in range(len(self.widths)) if self.n_params[k] > n]
            for a, b in zip(over, over[1:]):
                if compare(self.level(i, b), self.level(i, a)) == "higher":
                    out.append((n, int(self.widths[a]), int(self.widths[b]),
                                float(self.test_err[i, b] - self.test_err[i, a])))
        return out

    def n_steps_tested(self) -> int:
        """How many steps between consecutive over-parametrised widths :meth:`increases` tests."""
        return int(sum(max(0, int((self.n_params > n).sum()) - 1) for n in self.n_trains))

    def summary(self) -> str:
        head = " ".join(f"{f'w={w} ({p:,})':>16}" for w, p in zip(self.widths, self.n_params))
        lines = [f"{'n_train':>8} {head}   (validation error; training error in brackets)"]
        for i, n in enumerate(self.n_trains):
            cells = " ".join(f"{self.test_err[i, k]:8.3f} [{self.train_err[i, k]:.3f}]"
                             for k in range(len(self.widths)))
            lines.append(f"{n:>8,} {cells}")
        return "\n".join(lines)

    def verdict(self) -> dict:
        """Fig. 40's verdict: at every training-set size, widening an already over-parametrised
        net never raises the validation error beyond two combined standard errors
        (:meth:`increases`). None: reproduced; some, but the widest net is no worse than the
        narrowest over-parametrised one at every size: partly; else not reproduced. Sizes with
        fewer than two over-parametrised widths test nothing and are named."""
        ups = self.increases()
        untested = [int(n) for n in self.n_trains if (self.n_params > n).sum() < 2]
        last_ok = True
        for i, n in enumerate(self.n_trains.tolist()):
            over = np.flatnonzero(self.n_params > n)
            if len(over) >= 2:
                last_ok &= compare(self.level(i, over[-1]), self.level(i, over[0])) != "higher"
        tested = len(self.n_trains) - len(untested)
        status = ("not reproduced" if tested == 0 or not last_ok else
                  "reproduced" if not ups else "partly reproduced")
        ratio = float(self.n_params.max() / self.n_trains.min())
        e = float(np.nanmedian(self.test_err))
        detect = power(Level(e, self.se(e), 1), Level(e, self.se(e), 1))
        unfit = float(self.train_err.max())
        cfg = self.config
        return verdict(
            status=status, stand_in=self.data.stand_in, dataset=self.data.verdict_label,
            runs=f"{len(self.n_trains)} training-set sizes x {len(self.widths)} widths, one run "
                 f"each, {cfg['steps']} SGD steps",
            power=f"a rise of the validation error smaller than about {detect:.3f} (two combined "
                  f"binomial errors on {self.data.n_test:,} validation images at error {e:.2f}) is "
                  "a tie",
            finding=(f"validation-error rises beyond two combined SE when widening an over-parametrised "
                     f"net: {ups or 'none'}"
                     + (f"; sizes with < 2 over-parametrised widths (untested): {untested}"
                        if untested else "")
                     + f"; up to {ratio:.0f}x more parameters than images; largest training "
                       f"error {unfit:.3f}"),
            paper="with any amount of data, over-parametrising never raises validation error",
            ours=f"{len(ups)} significant rises in {tested} training-set size(s), up to "
                 f"{ratio:.0f}x parameters/images",
            numbers={"n_rises": len(ups), "max_params_per_image": ratio,
                     "test_err": self.test_err.tolist(), "compute_s": self.compute_s},
            compute_s=self.compute_s, scale=cfg["scale"], compared=self.n_steps_tested())


def _cell(cfg: LPOverparamConfig, n: int, width: int, dev) -> OverparamCell:
    t0 = time.perf_counter()
    tr, te, _ = lp_data(cfg.dataset, cfg.scale, n, cfg.n_test)
    model = lp_model(child_seed(cfg.seed, "lp_overparam", n, width), tr.x, width=width,
                     num_classes=tr.num_classes)
    recipe = RECIPES["lp_sgd"].replace(epochs=cfg.epochs_for(n), lr=cfg.lr,
                                       batch_size=cfg.batch_size)
    res = train(model, (tr.x, tr.y), recipe, seed=child_seed(cfg.seed, "lp_batches", n, width),
                device=dev, progress=False, warn=False, test=(te.x, te.y))
    return OverparamCell(n_train=len(tr.y), width=width, n_params=param_count(model),
                         train_err=1 - res.train_acc, train_loss=res.train_loss,
                         test_err=1 - res.test_acc, test_loss=res.test_loss,
                         compute_s=time.perf_counter() - t0)


def lp_overparam(cfg: LPOverparamConfig, *, device: str = "auto", progress: bool = True
                 ) -> LPOverparamResult:
    """Train (or load from the cache) every (training-set size, width) cell of ``cfg``. Below
    paper scale CIFAR-10 may be replaced by a documented stand-in (``result.data`` says so)."""
    dev = resolve_device(device)
    units = [(n, w) for n in cfg.n_trains for w in cfg.widths]
    cells = {}
    with single_thread(dev):
        for n, w in progress_bar(units, desc="sizes x widths", enabled=progress):
            cells[(n, w)] = cached("lp_overparam_cell", {"config": cfg, "n": n, "width": w,
                                                        "recipe": RECIPES["lp_sgd"]},
                                   lambda n=n, w=w: _cell(cfg, n, w, dev), version="1")
    _, _, info = lp_data(cfg.dataset, cfg.scale, max(cfg.n_trains), cfg.n_test)
    info = dataclasses.replace(info, subsets=tuple(cells[(n, cfg.widths[0])].n_train
                                                   for n in cfg.n_trains))

    def grid(key: str) -> np.ndarray:
        return np.array([[getattr(cells[(n, w)], key) for w in cfg.widths] for n in cfg.n_trains])

    return LPOverparamResult(
        config=dataclasses.asdict(cfg), data=info, n_trains=np.array(cfg.n_trains),
        widths=np.array(cfg.widths), n_params=grid("n_params")[0], train_err=grid("train_err"),
        test_err=grid("test_err"), test_loss=grid("test_loss"),
        compute_s=float(sum(c.compute_s for c in cells.values())))
