"""The one home of ``scale``: ``smoke`` (seconds, for tests), ``cpu`` (an honest reduction for
2 CPU cores, the book's default) and ``paper`` (the paper's numbers).

Two kinds of table live here, and nowhere else:

- :data:`EXPERIMENTS`: per experiment (``"fc_depth"``, ``"intro"``, ...) and scale, the settings
  its ``*_config(scale)`` builder reads (:func:`settings`).
- Training presets: a :class:`Scale` per recipe says how a recipe is reduced (training and test
  subset sizes, epochs, default number of minima, other recipe fields, architecture keywords);
  ``tk.minima(..., scale=...)`` applies it and ``describe()`` prints exactly what it changes.

:func:`check` is the one validation of a scale name; every module that takes ``scale`` calls it.
Everything at ``cpu`` scale is our choice; ``paper`` changes nothing.

    >>> s = get("cpu", "fc_cyclic")
    >>> print(s.describe("fc_cyclic"))                          # doctest: +SKIP
    >>> recipe = s.apply(tk.recipes.RECIPES["fc_cyclic"])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from toolkit.recipes import Recipe, get_recipe

__all__ = ["EXPERIMENTS", "SCALES", "Scale", "check", "get", "settings"]

SCALES = ("smoke", "cpu", "paper")


def check(scale: str) -> str:
    """``scale`` itself if it is one of :data:`SCALES`, else a ``ValueError`` saying so."""
    if not isinstance(scale, str) or scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(map(repr, SCALES))}, got {scale!r}")
    return scale


def _frozen(table: dict[str, dict[str, dict[str, Any]]]) -> Mapping:
    for exp, per in table.items():
        if tuple(per) != SCALES:
            raise AssertionError(f"EXPERIMENTS[{exp!r}] must define {SCALES} in this order")
    return MappingProxyType({k: MappingProxyType({s: MappingProxyType(v) for s, v in per.items()})
                             for k, per in table.items()})


#: per experiment and scale, what its configuration builder reads (see each experiment module)
EXPERIMENTS: Mapping[str, Mapping[str, Mapping[str, Any]]] = _frozen({
    # Fig. 2 / Fig. 13 (toolkit.experiments.fc_depth): points per path, path epochs (at most:
    # converged paths stop), insertion rounds, the convergence test's earliest epoch, bootstrap
    # resamples, independent path optimisations per pair; minima from the "fc_converge" preset.
    # cpu: within ~25 minutes on 2 CPU cores for both data sets and all five depths (measured with
    # 40 path epochs and a 2,048-image tracking subset: minima 6.5 min + paths 16 min, one thread,
    # under load; 30 epochs anneal the schedule sooner and tracking on 1,024 images costs half)
    "fc_depth": {
        "smoke": dict(n_points=5, path_epochs=2, insert_every=1, min_epochs=1, bootstrap=10,
                      path_seeds=2, track_subset=256),
        "cpu": dict(n_points=9, path_epochs=30, insert_every=10, min_epochs=10, bootstrap=50,
                    path_seeds=2, track_subset=1024),
        "paper": dict(n_points=19, path_epochs=100, insert_every=25, min_epochs=20, bootstrap=100,
                      path_seeds=3, track_subset=4096),
    },
    # the introduction's 2D landscape (toolkit.experiments.intro)
    "intro": {
        "smoke": dict(grid=96, starts_per_side=6, descent_steps=1500, epochs=20, steps_per_epoch=5,
                      resolution=8),
        "cpu": dict(grid=768, starts_per_side=12, descent_steps=3000, epochs=100,
                    steps_per_epoch=10, resolution=32),
        "paper": dict(grid=2048, starts_per_side=24, descent_steps=6000, epochs=300,
                      steps_per_epoch=10, resolution=64),
    },
    # App. I Part A (toolkit.experiments.triangles): curves and triangles on the intro's
    # landscape; the exact grid is at least 192^2 so the ring's short index-1 bar is resolved
    "toy_triangles": {
        "smoke": dict(epochs=20, resolution=16, min_grid=192),
        "cpu": dict(epochs=100, resolution=32, min_grid=192),
        "paper": dict(epochs=300, resolution=64, min_grid=192),
    },
    # App. I Part B (toolkit.experiments.lenet_triangles); minima from the "lenet" preset. The
    # paper gives curves a minimum's budget and the triangle "more epochs" (how many: not given)
    "lenet_triangle": {
        "smoke": dict(epochs=1, triangle_epochs=2, resolution=4),
        "cpu": dict(epochs=3, triangle_epochs=8, resolution=8),
        "paper": dict(epochs=50, triangle_epochs=100, resolution=24),
    },
    # tk.landscape (toolkit.landscape), a reader's own model: points per path, path epochs (at
    # most: converged paths stop), insertion rounds, the convergence test's earliest epoch and
    # bootstrap resamples; paper = the Fig. 2 protocol (19 points, fc_depth's paper row).
    # cpu: a 16-unit MLP on scikit-learn's digits, 4 minima: ~8 s of paths on 2 CPU cores
    "landscape": {
        "smoke": dict(n_points=5, path_epochs=2, insert_every=1, min_epochs=1, bootstrap=10),
        "cpu": dict(n_points=9, path_epochs=40, insert_every=10, min_epochs=10, bootstrap=50),
        "paper": dict(n_points=19, path_epochs=100, insert_every=25, min_epochs=20, bootstrap=100),
    },
    # Liao & Poggio Fig. 3 (toolkit.experiments.lp_sgd_mds); paper: width 81 (see models.lp)
    "lp_sgd_mds": {
        "smoke": dict(n_train=200, width=4, stages=2, trajectories=2, epochs=1, record_every=1,
                      line_points=5),
        "cpu": dict(n_train=1000, width=16, stages=3, trajectories=4, epochs=2, record_every=4,
                    line_points=5),
        "paper": dict(n_train=None, width=81, stages=12, trajectories=8, epochs=10,
                      record_every="epoch", line_points=11),
    },
})


def settings(experiment: str, scale: str) -> dict[str, Any]:
    """A copy of :data:`EXPERIMENTS` ``[experiment][scale]``."""
    check(scale)
    if experiment not in EXPERIMENTS:
        raise ValueError(f"no scale table for experiment {experiment!r}; known: {sorted(EXPERIMENTS)}")
    return dict(EXPERIMENTS[experiment][scale])


# ----------------------------------------------------------------------------- training presets


@dataclass(frozen=True)
class Scale:
    """How a scale reduces a training recipe. ``None`` means "as the recipe / data set has it"."""

    name: str
    n_train: int | None = None
    n_test: int | None = None
    epochs: int | None = None
    n_minima: int | None = None
    recipe_overrides: Mapping[str, Any] = field(default_factory=dict)
    arch_kw: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""

    def __post_init__(self) -> None:
        check(self.name)
        object.__setattr__(self, "recipe_overrides", MappingProxyType(dict(self.recipe_overrides)))
        object.__setattr__(self, "arch_kw", MappingProxyType(dict(self.arch_kw)))

    def apply(self, recipe: str | Recipe) -> Recipe:
        """The recipe as trained at this scale (epochs and overrides replaced)."""
        recipe = get_recipe(recipe)
        changes = dict(self.recipe_overrides)
        if self.epochs is not None:
            changes["epochs"] = self.epochs
            if recipe.converge_every and recipe.converge_every > self.epochs:
                changes["converge_every"] = self.epochs  # check once, at the end
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
    # 5,000 training images: every FC net of Fig. 2 meets the convergence criterion within the
    # recipe's 400 epochs (measured: 45 epochs for 2x32 on MNIST, 110 for 8x32; 170 and 285 on
    # Fashion-MNIST), at ~0.05 s per epoch
    "fc_converge": Scale("cpu", n_train=5000, n_minima=3,
                         note="a fixed 5,000-image training set (the loss landscape of those images) "
                              "and 3 minima instead of all 60,000 and 10"),
    # tk.landscape's default: a reader's model, trained until converged; scikit-learn's digits
    # (1,437 training images) fit whole: a 16-unit MLP converges in 115-180 epochs, ~3 s each
    "converge": Scale("cpu", n_train=5000, n_test=2000, n_minima=3,
                      note="at most 5,000 training and 2,000 test samples, 3 minima by default"),
    "lenet": Scale("cpu", n_train=10000, n_test=2000, epochs=8, n_minima=3,
                   note="10,000 images, 8 epochs instead of 50"),
})
_CPU_DEFAULT = Scale("cpu", n_train=5000, n_test=2000, epochs=5, n_minima=3,
                     note="generic reduction: 5,000 images, 5 epochs")


def get(scale: str | Scale, recipe: str | Recipe | None = None) -> Scale:
    """The :class:`Scale` preset named ``scale`` for ``recipe`` (a preset name or a Recipe; the
    ``cpu`` reduction is per recipe). A ``Scale`` instance is returned unchanged."""
    if isinstance(scale, Scale):
        return scale
    check(scale)
    if scale == "smoke":
        return _SMOKE
    if scale == "paper":
        r = get_recipe(recipe) if recipe is not None else None
        return Scale("paper", note=f"the paper's numbers{f' ({r.source})' if r else ''}")
    name = recipe.name if isinstance(recipe, Recipe) else recipe
    return _CPU.get(name, _CPU_DEFAULT) if name is not None else _CPU_DEFAULT
