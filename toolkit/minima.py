"""A store of trained minima: ``tk.minima(arch, dataset, recipe, n, scale)`` -> :class:`MinimaSet`.

Minimum ``i`` is trained from an initialisation seeded by ``seed + i`` (so ``n=20`` extends the
``n=10`` set of the same seed by ten new minima) on the same fixed training subset (every
minimum belongs to the same loss function). Each minimum is cached on its own under
``data/cache/minima/<sha256>.pt``, keyed by its full configuration: architecture and keywords,
the data actually used (name, stand-in, subset sizes and a content hash), the recipe as scaled,
the seed, the input normalisation and a code version. An interrupted call loses at most the
epoch in progress: finished minima are cache hits, and the minimum in progress resumes from its
per-epoch checkpoint (``data/cache/minima-ckpt/``).

Each minimum is one unit of :func:`toolkit.executor.map_units`: ``executor="ray"`` (or
``$TOOLKIT_EXECUTOR=ray``) trains them as Ray tasks, bit for bit the serial result on the CPU.

Inputs are standardised per channel inside the model (:class:`toolkit.models.InputNorm`, with
the training subset's mean and std) when the recipe says ``input_norm=True``, so ``ms.model``
consumes the raw ``[0, 1]`` tensors of ``tk.data``.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parameters_to_vector

from toolkit import cache, models, scales, seeds
from toolkit.executor import map_units
from toolkit.recipes import Recipe, get_recipe
from toolkit.seeds import child_seed
from toolkit.train import train

__all__ = ["MinimaPlan", "MinimaSet", "describe_data", "minima", "plan_minima"]

# bump when a change to models/train/minima changes what a cached minimum means
_VERSION = "3"


@dataclass
class MinimaSet:
    """``n`` trained minima of one architecture on one data set.

    ``model`` is a CPU template of the architecture (holding minimum 0's weights);
    ``flat [n, D]`` holds ``parameters_to_vector(model.parameters())`` of each minimum, in the
    template's parameter order; ``buffers`` maps each buffer name (BatchNorm statistics, input
    normalisation) to ``[n, *shape]``, or is None when the model has none. Per-minimum metrics are
    arrays ``[n]``: mean cross-entropy ``train_loss``/``test_loss``, accuracies in [0, 1],
    full-batch ``grad_norm``, ``wall_time`` in seconds, ``converged`` flags (criterion in
    :mod:`toolkit.train`), ``epochs`` trained (fewer than the recipe's when it trains until
    converged). ``dataset`` is the data set actually used; ``stand_in_note`` says why
    when it stands in for the requested one. ``train_data``/``test_data`` are the data sets the
    minima were trained and tested on (after the scale's subsetting): build the loss landscape
    from these, e.g. ``tk.ModuleObjective(ms.model, ms.train_data.x, ms.train_data.y)``.
    """

    model: nn.Module
    flat: torch.Tensor
    buffers: dict[str, torch.Tensor] | None
    train_loss: np.ndarray
    train_acc: np.ndarray
    test_loss: np.ndarray
    test_acc: np.ndarray
    grad_norm: np.ndarray
    wall_time: np.ndarray
    converged: np.ndarray
    epochs: np.ndarray
    seeds: list[int]
    config: dict[str, Any]
    dataset: str
    stand_in_note: str | None
    scale: str
    histories: list[dict[str, list[float]]] = field(default_factory=list)
    train_data: Any = field(default=None, repr=False)
    test_data: Any = field(default=None, repr=False)
    #: ``[n]`` seconds each minimum took in the call that built this set (training it, or loading
    #: it from the cache) and where it ran (``"serial"`` or ``"ray"``)
    unit_s: np.ndarray | None = field(default=None, repr=False)
    executor: str = "serial"

    def __len__(self) -> int:
        return int(self.flat.shape[0])

    def load_state(self, i: int) -> dict[str, torch.Tensor]:
        """The ``state_dict`` of minimum ``i`` (parameters from ``flat[i]``, buffers from
        ``buffers``), loadable into ``self.model`` or any model built with the same config."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"minimum index {i} out of range for {len(self)} minima")
        template = {k: v.clone() for k, v in self.model.state_dict().items()}
        names = [k for k, _ in self.model.named_parameters()]
        offset = 0
        for k in names:
            n = template[k].numel()
            template[k] = self.flat[i, offset:offset + n].view_as(template[k]).clone()
            offset += n
        for k, v in (self.buffers or {}).items():
            template[k] = v[i].clone()
        return template

    def module(self, i: int) -> nn.Module:
        """A fresh copy of the template holding minimum ``i``, in ``eval`` mode."""
        m = copy.deepcopy(self.model)
        m.load_state_dict(self.load_state(i))
        return m.eval()

    def summary(self, file=None) -> str:
        """A table of the minima (one row each) plus the data and scale, printed and returned."""
        head = (f"{len(self)} minima of {self.config['arch']} "
                f"({self.flat.shape[1]:,} parameters) on {self.dataset}, "
                f"recipe {self.config['recipe']['name']!r}, scale {self.scale!r}")
        lines = [head]
        if self.stand_in_note:
            lines.append(f"STAND-IN: {self.stand_in_note}")
        lines.append(f"{'i':>3} {'seed':>6} {'train loss':>11} {'train acc':>9} {'test loss':>10} "
                     f"{'test acc':>9} {'|grad|':>9} {'epochs':>6} {'time s':>8}  converged")
        for i in range(len(self)):
            lines.append(f"{i:>3} {self.seeds[i]:>6} {self.train_loss[i]:>11.4g} "
                         f"{100 * self.train_acc[i]:>8.2f}% {self.test_loss[i]:>10.4g} "
                         f"{100 * self.test_acc[i]:>8.2f}% {self.grad_norm[i]:>9.3g} {self.epochs[i]:>6} "
                         f"{self.wall_time[i]:>8.1f}  {'yes' if self.converged[i] else 'NO'}")
        text = "\n".join(lines)
        print(text, file=file)
        return text

    def __repr__(self) -> str:
        return (f"MinimaSet(n={len(self)}, arch={self.config['arch']!r}, dataset={self.dataset!r}, "
                f"D={self.flat.shape[1]}, scale={self.scale!r})")


def _fingerprint(x: torch.Tensor, y: torch.Tensor) -> str:
    h = hashlib.sha256()
    for t in (x, y):
        h.update(str((tuple(t.shape), str(t.dtype))).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _load_data(dataset: Any, scale_name: str):
    """(train, test) for a name through ``tk.data.load_for``, or user-given data sets."""
    if isinstance(dataset, str):
        from toolkit import data as tkdata

        return tkdata.load_for(dataset, "train", scale_name), tkdata.load_for(dataset, "test", scale_name)
    if isinstance(dataset, tuple) and len(dataset) == 2 and dataset[0] is not None:
        return dataset
    raise TypeError("dataset must be a name ('mnist', 'cifar10', ...) or a (train, test) pair of "
                    f"tk.data.Dataset (test may be None), got {type(dataset).__name__}")


def _subset(ds: Any, n: int | None) -> Any:
    if ds is None or n is None or n >= len(ds.y):
        return ds
    if hasattr(ds, "subset"):
        return ds.subset(n, seed=0)
    idx = torch.randperm(len(ds.y), generator=seeds.generator(0))[:n]
    return dataclasses.replace(ds, x=ds.x[idx], y=ds.y[idx])


def _build(arch: str, arch_kw: dict[str, Any], seed: int, norm: tuple[list, list] | None) -> nn.Module:
    net = models.build_seeded(arch, seed, **arch_kw)
    return models.with_input_norm(net, *norm) if norm is not None else net


@dataclass
class MinimaPlan:
    """Everything :func:`minima` fixes before training (data, configuration, seeds), so that the
    minima can be trained anywhere: ``train(i)`` trains (or loads) minimum ``i`` as one cached
    unit, ``assemble(entries)`` builds the :class:`MinimaSet`. Picklable: Ray tasks receive it.
    Build it with :func:`plan_minima`; :func:`minima` is ``plan`` + ``train`` + ``assemble``."""

    arch: str
    arch_kw: dict[str, Any]
    recipe: Recipe
    scale: scales.Scale
    base_recipe: Recipe
    base_cfg: dict[str, Any]
    norm: tuple[list, list] | None
    train_ds: Any = field(repr=False)
    test_ds: Any = field(repr=False)
    seeds: list[int]
    seed: int
    device: str
    progress: bool
    refresh: bool

    def __len__(self) -> int:
        return len(self.seeds)

    def describe(self) -> str:
        """e.g. ``"minima fc on mnist (smoke)"``: the progress bars' label."""
        return f"minima {self.arch} on {self.base_cfg['data_used']} ({self.scale.name})"

    def key(self, i: int) -> dict[str, Any]:
        """The cache key of minimum ``i``: the architecture with its keywords, the data as used
        (names, sizes, content hashes), the recipe as the scale reduces it (its fields, not its
        name), the input normalisation and the seed; the store's version goes with it."""
        return {**self.base_cfg, "seed": self.seeds[i]}

    def is_cached(self, i: int) -> bool:
        """Whether minimum ``i`` would be loaded from the cache."""
        return cache.cache_path("minima", self.key(i), _VERSION).exists()

    def train(self, i: int) -> dict[str, Any]:
        """Minimum ``i``: its cache entry (weights, metrics, history), trained if not cached, from
        its per-epoch checkpoint when an earlier attempt died."""
        s = self.seeds[i]
        cfg = self.key(i)
        ckpt = cache.cache_path("minima-ckpt", cfg, _VERSION)

        def compute() -> dict[str, Any]:
            net = _build(self.arch, self.arch_kw, s, self.norm)
            # warn=False: minima() warns, for cached minima too
            res = train(net, self.train_ds, self.recipe, seed=s, device=self.device,
                        progress=self.progress, test=self.test_ds, checkpoint=ckpt, warn=False,
                        data_digest=self.base_cfg["data_hash"])
            return {"state": res.state, "train_loss": res.train_loss, "train_acc": res.train_acc,
                    "test_loss": res.test_loss, "test_acc": res.test_acc,
                    "grad_norm": res.grad_norm, "wall_time": res.wall_time,
                    "converged": res.converged, "history": res.history,
                    "epochs_run": res.epochs_run, "checks": res.checks}

        entry = cache.cached("minima", cfg, compute, version=_VERSION, refresh=self.refresh)
        with contextlib.suppress(OSError):  # gone already, or a read-only cache
            ckpt.unlink()
        return entry

    def warn_unconverged(self, entries: list[dict[str, Any]], stacklevel: int = 3) -> None:
        """One warning per minimum that did not meet the recipe's convergence criterion."""
        rec, name = self.recipe, self.base_cfg["data_used"]
        for s, entry in zip(self.seeds, entries):
            if not entry["converged"]:
                warnings.warn(
                    f"minimum {s} of {self.arch} on {name} (recipe {rec.name!r}, scale "
                    f"{self.scale.name!r}) did not converge: train loss {entry['train_loss']:.4g} "
                    f"(tolerance {rec.loss_tol}), gradient norm {entry['grad_norm']:.3g} (tolerance "
                    f"{rec.grad_tol}); use a larger scale or more epochs before reading its barcode "
                    "as the paper's", stacklevel=stacklevel)

    def assemble(self, entries: list[dict[str, Any]], seconds: list[float] | None = None,
                 executor: str = "serial") -> MinimaSet:
        """The :class:`MinimaSet` of the entries of ``train(0), ..., train(n - 1)``; ``seconds``:
        the wall time each took in this call (``unit_s``)."""
        template = _build(self.arch, self.arch_kw, self.seed, self.norm)
        template.load_state_dict(entries[0]["state"])
        template.eval()
        flats = []
        for r in entries:
            template.load_state_dict(r["state"])
            flats.append(parameters_to_vector(template.parameters()).detach().clone())
        template.load_state_dict(entries[0]["state"])
        buf_names = [k for k, _ in template.named_buffers() if k in entries[0]["state"]]
        buffers = ({k: torch.stack([r["state"][k] for r in entries]) for k in buf_names}
                   if buf_names else None)

        def arr(key: str, dtype=float) -> np.ndarray:
            return np.array([r[key] for r in entries], dtype=dtype)

        stand_in = self.base_cfg["stand_in_for"]
        return MinimaSet(
            model=template, flat=torch.stack(flats), buffers=buffers,
            train_loss=arr("train_loss"), train_acc=arr("train_acc"), test_loss=arr("test_loss"),
            test_acc=arr("test_acc"), grad_norm=arr("grad_norm"), wall_time=arr("wall_time"),
            converged=arr("converged", bool), epochs=arr("epochs_run", int), seeds=list(self.seeds),
            config={**self.base_cfg, "recipe": _recipe_dict(self.recipe),
                    "scale": self.scale.describe(self.base_recipe), "n": len(self.seeds),
                    "seed": self.seed},
            dataset=self.base_cfg["data_used"],
            stand_in_note=getattr(self.train_ds, "note", None) if stand_in else None,
            scale=self.scale.name, histories=[dict(r["history"]) for r in entries],
            train_data=self.train_ds, test_data=self.test_ds,
            unit_s=np.array(seconds if seconds is not None else [np.nan] * len(entries)),
            executor=executor)


def plan_minima(arch: str, dataset: Any, recipe: str | Recipe, n: int | None = None,
                scale: str | scales.Scale = "cpu", *, seed: int = 0, device: str = "auto",
                progress: bool = True, refresh: bool = False, **arch_kw: Any) -> MinimaPlan:
    """The :class:`MinimaPlan` of ``minima(arch, dataset, recipe, n, scale, ...)`` (same
    arguments): loads the data and fixes every minimum's configuration, trains nothing. An
    experiment that trains several minima sets at once gives every minimum of every set to one
    :func:`toolkit.executor.map_units` call with ``plan.train``."""
    base = get_recipe(recipe)
    sc = scales.get(scale, base)
    rec = sc.apply(base)
    n = sc.n_minima if n is None else n
    if n is None or n < 1:
        raise ValueError(f"number of minima must be >= 1, got {n}")
    train_ds, test_ds = _load_data(dataset, sc.name)
    train_ds, test_ds = _subset(train_ds, sc.n_train), _subset(test_ds, sc.n_test)

    kw = {**dict(sc.arch_kw), **arch_kw}
    if models.accepts(arch, "in_shape"):
        kw.setdefault("in_shape", tuple(train_ds.x.shape[1:]))
    if models.accepts(arch, "num_classes"):
        kw.setdefault("num_classes", int(getattr(train_ds, "num_classes", int(train_ds.y.max()) + 1)))
    norm = None
    if rec.input_norm:
        dims = [0] + list(range(2, train_ds.x.ndim))
        norm = (train_ds.x.mean(dim=dims).tolist(), train_ds.x.std(dim=dims).clamp_min(1e-6).tolist())

    name_used = getattr(train_ds, "name", "custom")
    base_cfg = {
        "arch": arch, "arch_kw": kw, "dataset": dataset if isinstance(dataset, str) else name_used,
        "data_used": name_used, "stand_in_for": getattr(train_ds, "stand_in_for", None),
        "n_train": len(train_ds.y), "n_test": 0 if test_ds is None else len(test_ds.y),
        "data_hash": _fingerprint(train_ds.x, train_ds.y),
        "test_hash": None if test_ds is None else _fingerprint(test_ds.x, test_ds.y),
        "recipe": rec, "input_norm": norm,
    }
    return MinimaPlan(arch=arch, arch_kw=kw, recipe=rec, scale=sc, base_recipe=base,
                      base_cfg=base_cfg, norm=norm, train_ds=train_ds, test_ds=test_ds,
                      seeds=[child_seed(seed, "minimum", i) for i in range(n)], seed=seed,
                      device=str(device), progress=progress, refresh=refresh)


def minima(arch: str, dataset: Any, recipe: str | Recipe, n: int | None = None,
           scale: str | scales.Scale = "cpu", *, seed: int = 0, device: str = "auto",
           progress: bool = True, refresh: bool = False, executor: str | None = None,
           **arch_kw: Any) -> MinimaSet:
    """Train (or load from the cache) ``n`` minima of ``arch`` on ``dataset`` with ``recipe``.

    ``dataset`` is a ``tk.data`` name (loaded with ``tk.data.load_for(name, split, scale)``, so a
    documented stand-in replaces an absent paper data set below paper scale) or a
    ``(train, test)`` pair of data sets (``test`` may be ``None``: test metrics are then NaN).
    ``recipe`` is a name in ``tk.recipes.RECIPES`` or a
    ``Recipe``; ``scale`` (``"smoke"``, ``"cpu"``, ``"paper"`` or a ``tk.scales.Scale``) reduces it
    as ``tk.scales.get(scale, recipe).describe()`` says; ``n=None`` takes the scale's default.
    ``arch_kw`` go to ``tk.models.build`` (``in_shape`` and ``num_classes`` are filled from the
    data when the architecture accepts them). ``refresh=True`` retrains instead of loading.
    ``executor``: ``"serial"`` or ``"ray"`` (one Ray task per minimum; default
    ``$TOOLKIT_EXECUTOR`` or serial, see :mod:`toolkit.executor`). Warns once per unconverged
    minimum.
    """
    plan = plan_minima(arch, dataset, recipe, n, scale, seed=seed, device=device,
                       progress=progress, refresh=refresh, **arch_kw)
    runs = map_units(plan.train, range(len(plan)), executor=executor, device=device,
                     desc=plan.describe(), progress=progress)
    plan.warn_unconverged(runs.values)
    return plan.assemble(runs.values, runs.seconds, runs.executor)


def describe_data(ms: MinimaSet, *, what: str = "minima, paths and evaluation") -> str:
    """The data a minima set actually used, e.g. ``"fashion-mnist, 500 training images for
    minima, paths and evaluation, 500 test images (STAND-IN for cifar10: ...)"``."""
    n = len(ms.train_data.y)
    text = f"{ms.dataset}, {n:,} training images for {what}, {len(ms.test_data.y):,} test images"
    if ms.stand_in_note:
        text += f" (STAND-IN for {ms.config['stand_in_for']}: {ms.stand_in_note})"
    return text


def _recipe_dict(rec: Recipe) -> dict[str, Any]:
    d = dataclasses.asdict(rec)
    d["schedule_args"] = dict(rec.schedule_args)
    return d
