"""Scale presets: ``smoke`` (seconds, for tests), ``cpu`` (an honest reduction for 2 CPU cores),
``paper`` (the paper's numbers).

A :class:`Scale` says what it changes relative to a recipe: training-set and test-set subset
sizes, the number of epochs, the default number of minima, any other recipe field
(``recipe_overrides``) and architecture keywords (``arch_kw``, e.g. a narrower WideResNet).
``describe()`` prints exactly that, so a notebook can show what its scale changed. Everything
at ``cpu`` scale is our choice; ``paper`` changes nothing.

    >>> s = get("cpu", "fc_cyclic")
    >>> print(s.describe())                                     # doctest: +SKIP
    >>> recipe = s.apply(tk.train.RECIPES["fc_cyclic"])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from toolkit.recipes import Recipe, get_recipe

__all__ = ["SCALES", "Scale", "get"]

SCALES = ("smoke", "cpu", "paper")


@dataclass(frozen=True)
class Scale:
    """What a scale changes. ``None`` means "as the recipe / data set has it"."""

    name: str
    n_train: int | None = None
    n_test: int | None = None
    epochs: int | None = None
    n_minima: int | None = None
    recipe_overrides: Mapping[str, Any] = field(default_factory=dict)
    arch_kw: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""

    def __post_init__(self) -> None:
        if self.name not in SCALES:
            raise ValueError(f"scale name must be one of {SCALES}, got {self.name!r}")
        object.__setattr__(self, "recipe_overrides", MappingProxyType(dict(self.recipe_overrides)))
        object.__setattr__(self, "arch_kw", MappingProxyType(dict(self.arch_kw)))

    def apply(self, recipe: str | Recipe) -> Recipe:
        """The recipe as trained at this scale (epochs and overrides replaced)."""
        recipe = get_recipe(recipe)
        changes = dict(self.recipe_overrides)
        if self.epochs is not None:
            changes["epochs"] = self.epochs
        return recipe.replace(**changes) if changes else recipe

    def replace(self, **changes: Any) -> Scale:
        """A copy with ``changes`` (e.g. ``scale.replace(n_minima=10)``)."""
        return dataclasses.replace(self, **changes)

    def describe(self, recipe: str | Recipe | None = None) -> str:
        """What this scale changes, one line per change (relative to ``recipe`` when given)."""
        base = get_recipe(recipe) if recipe is not None else None
        lines = [f"scale {self.name!r}: {self.note}".rstrip(": ")]
        lines.append(f"  training set : {'all' if self.n_train is None else f'{self.n_train:,} samples (fixed random subset)'}")
        lines.append(f"  test set     : {'all' if self.n_test is None else f'{self.n_test:,} samples'}")
        ep = "recipe's" if self.epochs is None else str(self.epochs)
        if base is not None:
            ep += f" (paper: {base.epochs})"
        lines.append(f"  epochs       : {ep}")
        if self.n_minima is not None:
            lines.append(f"  minima       : {self.n_minima}")
        for k, v in self.recipe_overrides.items():
            was = f" (paper: {getattr(base, k)!r})" if base is not None else ""
            lines.append(f"  recipe.{k:<6}: {v!r}{was}")
        for k, v in self.arch_kw.items():
            lines.append(f"  arch.{k:<8}: {v!r}")
        return "\n".join(lines)


_SMOKE = Scale("smoke", n_train=256, n_test=256, epochs=1, n_minima=2,
               note="seconds, for tests: 256 samples, 1 epoch, 2 minima; results are not minima")

# cpu scale, per recipe: our reductions, sized for 2 CPU cores (per-minimum times in the comments
# were measured on this project's 2-core machine, one thread)
_CPU: Mapping[str, Scale] = MappingProxyType({
    # full MNIST/FMNIST, 6 epochs: ~3-5 s per minimum, >= 98% train accuracy on MNIST for 2x32
    "fc_cyclic": Scale("cpu", epochs=6, n_minima=4,
                       note="full data, 6 epochs of the cyclical schedule instead of 20"),
    # CNN-1-32 ~1 ms per image-epoch: ~15 s per minimum
    "cnn_cyclic": Scale("cpu", n_train=2000, n_test=2000, epochs=8, n_minima=3,
                        note="2,000 images, 8 epochs instead of 30"),
    # ResNet-like ~1.5 ms per image-epoch: ~30 s per minimum
    "resnet_type1": Scale("cpu", n_train=1000, n_test=2000, epochs=20, n_minima=3,
                          recipe_overrides={"lr": 2e-3},
                          note="1,000 images, 20 epochs; constant LR raised to 2e-3 so that it "
                               "trains at all in 20 epochs (still 25x below type 2's initial LR)"),
    "resnet_type2": Scale("cpu", n_train=1000, n_test=2000, epochs=20, n_minima=3,
                          note="1,000 images, 20 epochs of the same annealing shape"),
    # WRN-16-10 is ~17M parameters; WRN-16-1 (~0.18M) at ~5 ms per image-epoch: ~50 s per minimum
    "wrn_garipov": Scale("cpu", n_train=1000, n_test=2000, epochs=10, n_minima=3,
                         arch_kw={"widen_factor": 1},
                         note="WRN-16-1 instead of 16-10, 1,000 images, 10 epochs"),
    "lenet": Scale("cpu", n_train=10000, n_test=2000, epochs=8, n_minima=3,
                   note="10,000 images, 8 epochs instead of 50"),
    # LP DCNN ~1.5 ms per image-epoch
    "lp_sgd": Scale("cpu", n_train=2000, n_test=2000, epochs=10, n_minima=2,
                    note="2,000 images, 10 epochs"),
    "lp_gd": Scale("cpu", n_train=1000, n_test=2000, epochs=60, n_minima=2,
                   note="1,000 images, 60 full-batch steps instead of 400"),
})
_CPU_DEFAULT = Scale("cpu", n_train=5000, n_test=2000, epochs=5, n_minima=3,
                     note="generic reduction: 5,000 images, 5 epochs")


def get(scale: str | Scale, recipe: str | Recipe | None = None) -> Scale:
    """The :class:`Scale` preset named ``scale`` for ``recipe`` (a preset name or a Recipe; the
    ``cpu`` reduction is per recipe). A ``Scale`` instance is returned unchanged."""
    if isinstance(scale, Scale):
        return scale
    if scale == "smoke":
        return _SMOKE
    if scale == "paper":
        r = get_recipe(recipe) if recipe is not None else None
        return Scale("paper", note=f"the paper's numbers{f' ({r.source})' if r else ''}")
    if scale == "cpu":
        name = recipe.name if isinstance(recipe, Recipe) else recipe
        return _CPU.get(name, _CPU_DEFAULT) if name is not None else _CPU_DEFAULT
    raise ValueError(f"scale must be one of {SCALES} or a tk.scales.Scale, got {scale!r}")
