"""Training recipes of both papers as configuration: :class:`Recipe` and the presets
:data:`RECIPES` used by :func:`toolkit.train.train` (the one training loop) and
:func:`toolkit.minima`.

Recipes (``RECIPES``); "ours" marks a number the paper does not give (lost in extraction or
never stated), chosen by us and kept a parameter:

================  ==========================================================================
``fc_cyclic``     Barannikov Fig. 2: Adam + triangular cyclical LR (Smith 2015). Paper: "until
                  full convergence". Ours: peak LR 5e-3, floor 1e-4, batch 128, 2 cycles,
                  20 epochs at paper scale.
``converge``      ``tk.landscape``'s default for a reader's own model (no paper's; all ours): the
                  ``fc_converge`` schedule with LR 1e-2, until the full-training-set gradient
                  norm is <= 0.005 and the loss fell by less than 10% over a 5-epoch cycle (no
                  loss tolerance: a minimum need not fit the data), at most 400 epochs.
``cnn_cyclic``    Barannikov Figs. 4/8 (CNN-1/2/3): no recipe in the paper; all ours: Adam,
                  the FC schedule with peak LR 2e-3, batch 128, 30 epochs.
``resnet_type1``  Tables 4/5 type 1: SGD momentum, batch 256, constant small LR, 1500 epochs.
                  LR 1e-4 and momentum 0.9 from the authors' code (lost in the text).
``resnet_type2``  Tables 4/5 type 2: SGD momentum, batch 256, 300 epochs (CIFAR-10; 100 for
                  SVHN), LR held at 0.05 for the first 10% of training then linearly annealed to
                  1e-4 at 50% (the authors' code: knots at epochs 0, 10, 50 of 101).
``wrn_garipov``   Table 6: SGD, batch 128, 200 epochs, initial LR 0.03 (column header lost; read
                  as the LR), Garipov et al.'s schedule. Ours (from Garipov et al.): momentum
                  0.9, weight decay 5e-4, random crop + flip augmentation.
``lenet``         Table 7: SGD, batch 128, 50 epochs, LR 0.01 (header lost; read as the LR).
                  Ours: momentum 0.9, no weight decay.
``lp_sgd``        Liao & Poggio Fig. 3: plain SGD, batch 100, LR 0.01, no augmentation.
``lp_gd``         Liao & Poggio Figs. 4-5: batch gradient descent (one step per epoch on the
                  full-training-set gradient). Ours: LR 0.01 (the text gives the SGD LR only).
================  ==========================================================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from toolkit.schedules import check_schedule, multiplier

__all__ = ["RECIPES", "Recipe", "get_recipe"]

_OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class Recipe:
    """How to train a minimum. Epoch-valued schedule arguments are fractions of training, so a
    scale that shortens training keeps the schedule's shape.

    ``schedule`` and its ``schedule_args``:
      - ``"constant"``: ``lr`` throughout.
      - ``"cyclic"``: triangular cyclical LR (Smith 2015) between ``lr * floor`` and ``lr``;
        ``cycles`` full cycles over training (each rises then falls, so training ends at the
        floor); ``decay`` multiplies the amplitude each cycle (0.5 is Smith's "triangular2").
      - ``"anneal"``: piecewise-linear in training progress through ``knots`` (fractions in
        [0, 1]) with LR multipliers ``factors``, constant after the last knot (Barannikov App. A;
        ``knots=(0,), factors=(1,)`` is the constant scheduler).
      - ``"garipov"``: multiplier 1 for the first half, then linear to ``final`` (0.01) at 90%,
        then constant (Garipov et al. 2018), applied per epoch.
    Convergence (``converge_every``, epochs): training is checked every ``converge_every``
    epochs and stops at the first check where the full-training-set loss is at most ``loss_tol``,
    its gradient norm at most ``grad_tol`` and the loss fell by less than
    ``plateau_rtol × previous loss + plateau_atol`` since the previous check; ``epochs`` is then the most it may take. Without it,
    training runs ``epochs`` epochs and the same tolerances only flag the result.
    ``batch_size=None`` is full-batch gradient descent: one step per epoch with the gradient of
    the mean loss over the whole training set, accumulated in chunks of ``chunk`` samples (with
    BatchNorm the statistics are per chunk, i.e. ghost batch norm).
    """

    name: str = "custom"
    optimizer: str = "sgd"
    lr: float = 0.01
    epochs: int = 10
    batch_size: int | None = 128
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "constant"
    schedule_args: Mapping[str, Any] = field(default_factory=dict)
    augment: str | None = None
    input_norm: bool = True
    loss_tol: float = 0.1
    grad_tol: float = 0.1
    converge_every: int | None = None
    plateau_rtol: float = 0.1
    plateau_atol: float = 0.0
    chunk: int = 4096
    source: str = ""
    ours: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, got {self.optimizer!r}")
        check_schedule(self.schedule)
        if self.augment not in (None, "flip_crop"):
            raise ValueError(f"augment must be None or 'flip_crop', got {self.augment!r}")
        if self.converge_every is not None and not 1 <= self.converge_every <= self.epochs:
            raise ValueError(f"converge_every must be between 1 and epochs={self.epochs}, got "
                             f"{self.converge_every}")
        if self.epochs < 1 or self.lr <= 0:
            raise ValueError(f"need epochs >= 1 and lr > 0, got epochs={self.epochs}, lr={self.lr}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be positive or None (full batch), got {self.batch_size}")
        # a private copy, so that editing one recipe's args never edits a preset's
        object.__setattr__(self, "schedule_args", dict(self.schedule_args))

    def replace(self, **changes: Any) -> Recipe:
        """A copy with ``changes`` (e.g. ``recipe.replace(epochs=5, lr=1e-3)``)."""
        return dataclasses.replace(self, **changes)

    def lr_at(self, progress: float, epoch: int) -> float:
        """Learning rate at ``progress`` in [0, 1] of training (``epoch`` is the integer epoch;
        Garipov's schedule is applied per epoch, as in their code). A cyclic schedule with
        ``cycle_epochs`` in its arguments repeats every ``cycle_epochs`` epochs, however long
        training runs (so convergence checks can fall at the ends of cycles)."""
        frac = epoch / self.epochs if self.schedule == "garipov" else progress
        args = dict(self.schedule_args)
        if "cycle_epochs" in args:
            args["cycles"] = max(1, round(self.epochs / args.pop("cycle_epochs")))
        return self.lr * multiplier(self.schedule, frac, **args)

    def describe(self) -> str:
        """One line per setting, with the values we chose (not from the paper) marked."""
        rows = []
        for f in dataclasses.fields(self):
            if f.name in ("source", "ours"):
                continue
            v = getattr(self, f.name)
            v = dict(v) if isinstance(v, Mapping) else v
            rows.append(f"  {f.name:<14}{v!r}{'   (ours)' if f.name in self.ours else ''}")
        return f"Recipe {self.name!r} — {self.source}\n" + "\n".join(rows)


def _r(**kw: Any) -> Recipe:
    return Recipe(**kw)


RECIPES: Mapping[str, Recipe] = MappingProxyType({
    "fc_cyclic": _r(
        name="fc_cyclic", optimizer="adam", lr=5e-3, epochs=20, batch_size=128,
        schedule="cyclic", schedule_args={"cycles": 2, "floor": 0.02, "decay": 1.0},
        loss_tol=0.5, grad_tol=0.25,
        source="Barannikov et al. §2.1/Fig. 2: Adam + cyclical LR until full convergence",
        ours=("lr", "epochs", "batch_size", "schedule_args", "loss_tol", "grad_tol")),
    "fc_converge": _r(
        name="fc_converge", optimizer="adam", lr=3e-3, epochs=400, batch_size=128,
        schedule="cyclic", schedule_args={"cycle_epochs": 5, "floor": 0.001, "decay": 1.0},
        converge_every=5, loss_tol=0.02, grad_tol=0.03, plateau_rtol=0.1, plateau_atol=1e-3,
        source="Barannikov et al. §2.1/Fig. 2: Adam + cyclical LR until full convergence; "
               "converged = at the end of a 5-epoch cycle the full-training-set loss is <= 0.02, "
               "its gradient norm <= 0.03 and it fell by less than 10% + 0.001 over the cycle; "
               "at most 400 epochs",
        ours=("lr", "epochs", "batch_size", "schedule_args", "converge_every", "loss_tol",
              "grad_tol", "plateau_rtol", "plateau_atol")),
    "converge": _r(
        name="converge", optimizer="adam", lr=1e-2, epochs=400, batch_size=128,
        schedule="cyclic", schedule_args={"cycle_epochs": 5, "floor": 0.001, "decay": 1.0},
        converge_every=5, loss_tol=float("inf"), grad_tol=5e-3, plateau_rtol=0.1,
        plateau_atol=0.0,
        source="tk.landscape's default for a reader's own model (not a paper's): Adam + cyclical "
               "LR until, at the end of a 5-epoch cycle, the full-training-set gradient norm is "
               "<= 0.005 and the loss fell by less than 10% over the cycle; at most 400 epochs. "
               "Tolerances tight enough that optimised paths barely descend below their ends "
               "(measured on scikit-learn's digits: fc_converge's loss <= 0.02 stops so early that "
               "paths fall 0.01 below the minima, more than the bars are long)",
        ours=("optimizer", "lr", "epochs", "batch_size", "schedule", "schedule_args",
              "converge_every", "loss_tol", "grad_tol", "plateau_rtol", "plateau_atol")),
    "cnn_cyclic": _r(
        name="cnn_cyclic", optimizer="adam", lr=2e-3, epochs=30, batch_size=128,
        schedule="cyclic", schedule_args={"cycles": 2, "floor": 0.02, "decay": 1.0},
        loss_tol=0.5, grad_tol=0.25,
        source="Barannikov et al. §2.2/Figs. 4, 8 (CNN-1/2/3 on CIFAR-10): the paper gives no "
               "recipe; we reuse the FC recipe's optimiser and schedule",
        ours=("optimizer", "lr", "epochs", "batch_size", "schedule", "schedule_args", "loss_tol",
              "grad_tol")),
    "resnet_type1": _r(
        name="resnet_type1", optimizer="sgd", lr=1e-4, epochs=1500, batch_size=256, momentum=0.9,
        schedule="constant", input_norm=False, loss_tol=0.05, grad_tol=0.05,
        source="Barannikov et al. App. A Tables 4/5, type 1 (constant small LR); LR and momentum "
               "from the authors' code (BarcodesDNN/find_minimas.py)",
        ours=("loss_tol", "grad_tol")),
    "resnet_type2": _r(
        name="resnet_type2", optimizer="sgd", lr=5e-2, epochs=300, batch_size=256, momentum=0.9,
        schedule="anneal", schedule_args={"knots": (0.0, 0.1, 0.5), "factors": (1.0, 1.0, 2e-3)},
        input_norm=False, loss_tol=0.05, grad_tol=0.05,
        source="Barannikov et al. App. A Tables 4/5, type 2 (annealed LR; 300 epochs on CIFAR-10, "
               "100 on SVHN); LR values and knots from the authors' code",
        ours=("loss_tol", "grad_tol")),
    "wrn_garipov": _r(
        name="wrn_garipov", optimizer="sgd", lr=0.03, epochs=200, batch_size=128, momentum=0.9,
        weight_decay=5e-4, schedule="garipov", schedule_args={"final": 0.01}, augment="flip_crop",
        loss_tol=0.05, grad_tol=0.1, chunk=1024,
        source="Barannikov et al. App. A Table 6 (Garipov et al. 2018 schedule)",
        ours=("momentum", "weight_decay", "augment", "loss_tol", "grad_tol")),
    "lenet": _r(
        name="lenet", optimizer="sgd", lr=0.01, epochs=50, batch_size=128, momentum=0.9,
        loss_tol=0.3, grad_tol=0.1,
        source="Barannikov et al. App. A Table 7 (LeNet-like, Fashion-MNIST)",
        ours=("momentum", "loss_tol", "grad_tol")),
    "lp_sgd": _r(
        name="lp_sgd", optimizer="sgd", lr=0.01, epochs=60, batch_size=100, loss_tol=0.1,
        grad_tol=0.5,
        source="Liao & Poggio §4.2/Fig. 3: SGD, batch 100, LR 0.01, no augmentation "
               "(60 epochs as for M_final in §4.4)",
        ours=("loss_tol", "grad_tol")),
    "lp_gd": _r(
        name="lp_gd", optimizer="sgd", lr=0.01, epochs=400, batch_size=None, loss_tol=0.1,
        grad_tol=0.5, chunk=2500,
        source="Liao & Poggio §4.3-4.4: batch gradient descent (batch = training set)",
        ours=("lr", "chunk", "loss_tol", "grad_tol")),
})


def get_recipe(recipe: str | Recipe) -> Recipe:
    """``recipe`` itself, or the preset of that name in :data:`RECIPES`."""
    if isinstance(recipe, Recipe):
        return recipe
    try:
        return RECIPES[recipe]
    except KeyError:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of {sorted(RECIPES)} "
                         "or pass a tk.recipes.Recipe(...)") from None
