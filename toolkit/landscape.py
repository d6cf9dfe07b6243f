"""Your own model's barcode in one call: ``tk.landscape(model_factory, train_data, ...)``.

From something that builds an ``nn.Module`` (a class or a function, registered nowhere) and a
data set to the minima, the optimised paths between them, the barcode and its TO-score, with the
pieces every chapter of the book uses, in this order:

1. the minima store (``tk.plan_minima``, as ``tk.minima`` uses it) trains ``n_minima`` minima
   with ``recipe`` as the scale reduces it (default ``"converge"``: Adam with a cyclical
   learning rate until the gradient norm is small and the loss has stopped falling), each
   cached on its own, serially or one Ray task each; an interrupted call resumes at the minimum
   in progress;
2. :func:`toolkit.join.joined` joins every pair by a path optimised on the same training set
   (``tk.optimize_paths``: projected Adam, Alg. 4 insertion, the convergence test, pruning of
   pairs that cannot change the barcode), evaluates it there with certified maxima and a data
   bootstrap (``tk.evaluate_paths``) and builds the barcode (``tk.minima_barcode``) from the
   minima's losses and the maxima of the paths that were not pruned; one cache entry keyed by
   the minima's content, resumable from a checkpoint; ``tk.to_score`` gives the TO-score.

The result, :class:`~toolkit._landscape_result.Landscape`, prints a ``summary()``, plots, compares
itself with another run (``compare``) and closes a chapter (``verdict``).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from toolkit import cache, models, scales
from toolkit._device import resolve_device
from toolkit._landscape_result import Landscape, LandscapeConfig
from toolkit.data import DATASETS, Dataset, load_for
from toolkit.executor import map_units, resolve_executor
from toolkit.join import Joined, JoinPlan, joined, protocol_paths
from toolkit.minima import MinimaPlan, MinimaSet, plan_minima
from toolkit.params import as_int
from toolkit.paths import ENGINE_VERSION, PathConfig
from toolkit.recipes import Recipe, get_recipe

__all__ = ["Landscape", "LandscapeConfig", "landscape"]

_VERSION = f"1+engine{ENGINE_VERSION}"
#: training inputs the factory's seeded build is run on to identify it (see ``landscape``)
_PROBE = 8


def path_config(scale: str, *, batch_size: int = 128, paths: PathConfig | Mapping | None = None
                ) -> PathConfig:
    """The paths of ``tk.landscape`` at ``scale`` (``tk.scales.EXPERIMENTS["landscape"]``), as
    Fig. 2 optimises them: projected Adam (lr 3e-3, Garipov schedule restarted every cycle,
    maxima compared at cycle ends), loss-based insertion,
    pruning, back-off on non-finite values. ``paths``: a ``PathConfig`` to use instead, or a dict
    of changes (e.g. ``{"epochs": 100}``)."""
    base = protocol_paths(scales.settings("landscape", scale), batch_size=batch_size,
                          track_subset=2048)
    if paths is None:
        return base
    if isinstance(paths, PathConfig):
        return paths
    if isinstance(paths, Mapping):
        known = {f.name for f in dataclasses.fields(PathConfig)}
        bad = sorted(set(paths) - known)
        if bad:
            raise ValueError(f"paths: unknown setting(s) {bad}; tk.PathConfig has {sorted(known)}")
        return dataclasses.replace(base, **paths)
    raise TypeError(f"paths must be None, a tk.PathConfig or a dict of its settings, got "
                    f"{type(paths).__name__}")


# ----------------------------------------------------------------------------- inputs


def _as_dataset(data: Any, what: str, split: str) -> Dataset:
    """A ``tk.data.Dataset`` from ``(x, y)`` tensors or arrays, a ``torch.utils.data.Dataset`` of
    ``(x, y)`` items, or a ``tk.data.Dataset``; one-line errors otherwise."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = data
    elif isinstance(data, torch.utils.data.Dataset):
        if not hasattr(data, "__len__") or len(data) == 0:
            raise ValueError(f"{what} is an empty (or unsized) torch Dataset")
        first = data[0]
        if not (isinstance(first, (tuple, list)) and len(first) == 2):
            raise TypeError(f"{what}: items of a torch Dataset must be (input, label) pairs, item "
                            f"0 is a {type(first).__name__}")
        try:
            x = torch.stack([torch.as_tensor(data[i][0]) for i in range(len(data))])
            y = torch.as_tensor([int(data[i][1]) for i in range(len(data))])
        except (TypeError, RuntimeError, ValueError) as err:
            raise TypeError(f"{what}: cannot stack the Dataset's items into tensors "
                            f"({str(err).splitlines()[0]}); give it a transform that returns "
                            "tensors of one shape, e.g. torchvision.transforms.ToTensor()") from None
    else:
        raise TypeError(f"{what} must be a shipped data set's name {DATASETS}, an (x, y) pair of "
                        f"tensors or a torch.utils.data.Dataset, got {type(data).__name__}")
    x, y = torch.as_tensor(x).detach().cpu(), torch.as_tensor(y).detach().cpu()  # moved per step
    if x.dim() < 2 or y.dim() != 1 or len(x) != len(y) or len(y) < 2:
        raise ValueError(f"{what} needs inputs x [N, ...] and labels y [N] with the same N >= 2, "
                         f"got x {tuple(x.shape)} and y {tuple(y.shape)}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise ValueError(f"{what}: labels must be integer class indices, got dtype {y.dtype}")
    if int(y.min()) < 0:
        raise ValueError(f"{what}: labels must be class indices >= 0, found {int(y.min())}")
    return Dataset("custom", split, x.float().contiguous(), y.long().contiguous(),
                   num_classes=int(y.max()) + 1)


def _names(factory: Callable) -> tuple[str, str]:
    """``(QualName, module.QualName)`` of a factory (``functools.partial`` unwrapped): the name
    shown, and the one its cache key holds."""
    f = getattr(factory, "func", factory)
    qual = getattr(f, "__qualname__", type(f).__qualname__)
    return qual, f"{getattr(f, '__module__', '') or ''}.{qual}".lstrip(".")


def _identify(factory: Callable, kw: dict[str, Any], x: torch.Tensor, y: torch.Tensor,
              label: str, full: str) -> str:
    """Build ``factory(**kw)`` seeded with 0, check it (a module, logits ``[B, C]`` with
    ``C > max label``) and return the hash that keys its cache entries."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        try:
            net = factory(**kw)
        except TypeError as err:
            raise TypeError(f"model_factory {label} cannot be called with {sorted(kw)}: {err}") from None
    if not isinstance(net, nn.Module):
        raise TypeError(f"model_factory {label} returned a {type(net).__name__}, not an nn.Module: "
                        "pass a class or function that builds your network")
    probe = x[:_PROBE]
    try:
        with torch.no_grad():
            out = net.eval()(probe)
    except Exception as err:  # noqa: BLE001 - any failure here is the model's, say where
        raise ValueError(f"model {label} fails on inputs of shape {tuple(probe.shape)}: "
                         f"{type(err).__name__}: {str(err).splitlines()[0]}") from None
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or len(out) != len(probe):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"model {label} maps inputs {tuple(probe.shape)} to {shape}; "
                         "tk.landscape needs logits [B, num_classes]")
    classes, top = int(out.shape[1]), int(y.max())
    if top >= classes:
        raise ValueError(f"the labels of train_data run from {int(y.min())} to {top} but model "
                         f"{label} has {classes} outputs: build it with {top + 1} outputs")
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    logits = np.round(out.detach().double().cpu().numpy(), 4) + 0.0  # +0.0: no negative zeros
    return cache.config_hash("landscape-model", {"factory": full, "kw": kw, "state": state,
                                                 "logits": logits}, _VERSION)


# ----------------------------------------------------------------------------- units


def _train_minimum(factory: Callable[..., nn.Module], plan: MinimaPlan, i: int) -> dict[str, Any]:
    """Minimum ``i`` of ``plan`` (cached); the factory is registered first, because the
    registry of a Ray worker starts without it."""
    models.register(plan.arch, factory, overwrite=True)
    return plan.train(i)


def _paths_unit(ms: MinimaSet, plan: JoinPlan, seed: int, _: int, *, device: str,
                progress: bool, refresh: bool) -> Joined:
    """The join of the minima ``ms`` (``tk.join``'s cached result, paths kept): the function
    :func:`toolkit.executor.map_units` runs."""
    return joined(ms, plan, seed=seed, run=0, device=device, progress=progress, keep=True,
                  refresh=refresh)


# ----------------------------------------------------------------------------- the entry point


def landscape(model_factory: Callable[..., nn.Module], train_data: Any, *,
              n_minima: int | None = None, test_data: Any = None,
              recipe: str | Recipe = "converge", paths: PathConfig | Mapping | None = None,
              scale: str = "cpu", seed: int = 0, bootstrap: int | None = None,
              name: str | None = None, device: str = "auto", progress: bool = True,
              refresh: bool = False, executor: str | None = None,
              **model_kw: Any) -> Landscape:
    """Minima, paths, barcode and TO-score of your own network on your own data, cached.

    Args:
        model_factory: what builds your network: a class (``MyNet``) or a function
            (``lambda: MyNet(32)``); called once per minimum, with ``model_kw`` plus ``in_shape``
            (one input's shape) and ``num_classes`` when it accepts them. The network maps a
            batch ``[B, *in_shape]`` to logits ``[B, num_classes]``.
        train_data: a shipped data set's name (``"digits"``, ``"mnist"``, ``"fashion-mnist"``;
            ``tk.data.DATASETS``), an ``(x [N, ...], y [N])`` pair of tensors or arrays (integer
            labels), or a ``torch.utils.data.Dataset`` of ``(input, label)`` items.
        n_minima: minima to train (at least 2); ``None`` takes the scale's default.
        test_data: like ``train_data`` (not a name), for test accuracies; for a name, its test
            split is used; otherwise test metrics are NaN.
        recipe: a ``tk.recipes.RECIPES`` name or a ``tk.recipes.Recipe``; the scale reduces it
            as ``tk.scales.get(scale, recipe).describe()`` says (the ``cpu`` reduction is looked
            up by the recipe's name: ``RECIPES["converge"].replace(grad_tol=1e-3)`` keeps the
            name and its reduction, at most 5,000 training samples; a new name gets the generic
            one of 5 epochs).
        paths: ``None`` (the scale's settings, :func:`path_config`), a ``tk.PathConfig``, or a
            dict of changes to the scale's settings.
        scale: ``"smoke"`` (seconds, not minima), ``"cpu"`` or ``"paper"``.
        seed: minimum ``i`` starts from ``child_seed(seed, "minimum", i)``; the paths use
            ``child_seed(seed, "path_run", 0)`` and the bootstrap ``child_seed(seed, "bootstrap",
            0)`` (:func:`toolkit.join.join`), so the individual calls reproduce the result exactly.
        bootstrap: resamples of data chunks for the maxima's error bars (``None``: the scale's).
        name: the model's name in outputs and cache keys (default: the factory's qualified name).
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda:1"``...
        progress: progress bars; refresh: retrain and recompute instead of loading.
        executor: ``"serial"`` or ``"ray"`` (default ``$TOOLKIT_EXECUTOR`` or serial; see
            :mod:`toolkit.executor`): with Ray every minimum is a task of its own (on a GPU when
            the cluster has them), then the paths are one more; the result is the serial one.
        model_kw: keywords for ``model_factory`` (e.g. ``width=64``).

    Caching. Python code cannot be hashed reliably, so the factory is keyed by its qualified
    name (or ``name``), the keywords it is called with, the names, shapes and values of the
    parameters and buffers of a build seeded with 0, and its logits (rounded to 4 decimals) on
    the first 8 training inputs. A change of the factory's code that alters none of these --
    e.g. a dropout rate, which is off in that check -- is not seen: pass ``refresh=True`` or a
    new ``name``. The minima are then cached by ``tk.minima`` (one entry per minimum) and the
    paths with their evaluation as one entry keyed by the minima's weights.

    Returns:
        A :class:`Landscape`: ``minima`` (a ``MinimaSet``: losses, accuracies, gradient norms,
        epochs, ``converged``), ``paths`` (status per path: converged, pruned or budget = upper
        bound), ``evaluation`` (certified maxima with bootstrap errors), ``barcode``,
        ``to_score``, ``summary()``, ``plot()``, ``compare(other)``, ``verdict()``.

    Raises one-line errors for a factory that does not build an ``nn.Module``, labels that do not
    fit its outputs, fewer than 2 minima, or data it cannot read.
    """
    if isinstance(model_factory, nn.Module):
        raise TypeError(f"model_factory is a built network ({type(model_factory).__name__}); pass "
                        f"what builds it -- the class {type(model_factory).__name__} or a lambda "
                        "-- so that every minimum starts from its own initialisation")
    if not callable(model_factory):
        raise TypeError(f"model_factory must be a class or function building an nn.Module, got "
                        f"{type(model_factory).__name__}")
    scales.check(scale)
    resolve_device(device)  # an unusable device or executor fails now, not after training
    resolve_executor(executor)
    seed = as_int(seed, "seed")
    base = get_recipe(recipe)
    sc = scales.get(scale, base)
    n = as_int(n_minima, "n_minima", allow_none=True)
    n = (sc.n_minima or 10) if n is None else n
    if n < 2:
        raise ValueError(f"a barcode needs at least 2 minima (a bar ends where the basin of one "
                         f"minimum meets a lower one's), got n_minima={n}")

    if isinstance(train_data, str):
        if test_data is not None:
            raise ValueError(f"train_data={train_data!r} is a shipped data set: its test split is "
                             "the test set, leave test_data out")
        train_ds, dataset = load_for(train_data, "train", scale), train_data
    else:
        train_ds = _as_dataset(train_data, "train_data", "train")
        test_ds = None if test_data is None else _as_dataset(test_data, "test_data", "test")
        if test_ds is not None and test_ds.shape != train_ds.shape:
            raise ValueError(f"test_data inputs have shape {test_ds.shape} but train_data's "
                             f"have {train_ds.shape}")
        dataset = (train_ds, test_ds)

    n_train = len(train_ds) if sc.n_train is None else min(len(train_ds), sc.n_train)
    path = path_config(scale, batch_size=min(128, n_train), paths=paths)  # checked before training
    boot = scales.settings("landscape", scale)["bootstrap"] if bootstrap is None else \
        as_int(bootstrap, "bootstrap")
    qual, full = _names(model_factory)
    label = name or qual
    kw = dict(model_kw)
    if models.accepts(model_factory, "in_shape"):
        kw.setdefault("in_shape", tuple(train_ds.x.shape[1:]))
    if models.accepts(model_factory, "num_classes"):
        kw.setdefault("num_classes", int(train_ds.num_classes))
    digest = _identify(model_factory, kw, train_ds.x, train_ds.y, label,
                       full if name is None else name)
    arch = f"{label}@{digest[:12]}"
    models.register(arch, model_factory, overwrite=True)

    plan = plan_minima(arch, dataset, base, n, sc, seed=seed, device=device, progress=progress,
                       refresh=refresh, **kw)
    runs = map_units(partial(_train_minimum, model_factory, plan), range(n), executor=executor,
                     device=device, desc=plan.describe(), progress=progress)
    ms = plan.assemble(runs.values, runs.seconds, runs.executor)
    if not ms.converged.all():  # one warning for all of them
        bad = np.flatnonzero(~ms.converged).tolist()
        warnings.warn(f"{len(bad)} of {n} minima of {label} did not converge (minima {bad}, "
                      f"recipe {base.name!r}, scale {scale!r}): bars starting at them are upper "
                      "bounds, not the landscape's at convergence; res.summary() lists them",
                      stacklevel=2)
    cfg = LandscapeConfig(arch=arch, model=label, model_kw=kw, n_minima=n, recipe=sc.apply(base),
                          scale=scale, seed=seed, plan=JoinPlan(path=path, bootstrap=boot))
    j = map_units(partial(_paths_unit, ms, cfg.plan, seed, device=device, progress=progress,
                          refresh=refresh), [0], executor=executor, device=device,
                  desc="landscape paths", progress=False).values[0]
    return Landscape(config=cfg, minima=ms, join=j)
