"""Run independent, cached units of work serially or as Ray tasks: :func:`map_units`.

An experiment's long units (one minimum, one (data set, depth) unit, one group of paths, one
curve) are independent and content-addressed: ``fn(item)`` computes one unit through
:func:`toolkit.cache.cached`, so a unit already in the cache returns at once and a unit computed
elsewhere (another worker, another driver) is simply loaded. :func:`map_units` runs such a
function over its items and returns the values in order with each unit's wall time:

- ``"serial"`` (the default, needs no Ray): one after the other in this process;
- ``"auto"``: ``"ray"`` when Ray is installed and this machine has CPU cores the driver's torch
  threads leave idle (the book's kernels run one thread on a 2-core machine: two units at
  once), else ``"serial"``; results are the same either way (see threads below);
- ``"ray"``: one Ray task per item (``pip install -e '.[ray]'``). The driver connects to the
  runtime already started (``ray.init`` in the caller) or starts one with ``ray.init()``, which
  joins the cluster named by ``$RAY_ADDRESS`` or starts a local one (and stops it again when the
  units are done, so keep a runtime of your own up with ``ray.init()`` to reuse it across calls).
  Each task stores its unit in the driver's cache folder (:func:`toolkit.cache.cache_root`, sent
  to the task as ``TOOLKIT_CACHE_DIR``: on a cluster a shared folder mounted at the same path on
  every node); a task whose worker dies is retried by Ray (``max_retries``) and recomputes only
  what is not cached yet (a minimum resumes from its per-epoch checkpoint). Cache writes are
  atomic, so tasks and drivers computing the same unit at once write the same bytes, last one
  wins.

The choice: ``executor=`` argument > ``$TOOLKIT_EXECUTOR`` > ``"serial"``. Inside a task the
executor is ``"serial"`` (no nested tasks: a blocked task would hold its GPU).

Resources and threads: a task on a GPU reserves ``$TOOLKIT_RAY_GPUS`` GPUs (default 1; a
fraction such as 0.25 packs small nets four to a GPU) and one CPU; a CPU task reserves as many
CPUs as the driver's torch intra-op threads (``torch.get_num_threads()``). Every task runs torch
with as many threads as CPUs it reserved, so on the CPU a unit computed by Ray is bit-identical
to the serial run at the driver's thread count. ``device="auto"`` asks for GPUs when the Ray
cluster has any (Ray then assigns each task its own, and ``"auto"`` resolves to it in the task).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import torch

from toolkit import cache
from toolkit._env import environment
from toolkit._progress import progress_bar

__all__ = ["EXECUTORS", "UnitRuns", "map_units", "resolve_executor"]

T = TypeVar("T")

EXECUTORS = ("serial", "ray", "auto")
#: the switch notebooks and scripts inherit, e.g. ``TOOLKIT_EXECUTOR=ray papermill ...``
EXECUTOR_ENV = "TOOLKIT_EXECUTOR"
#: GPUs a GPU task reserves (fractions share a GPU)
GPUS_ENV = "TOOLKIT_RAY_GPUS"
_INSTALL = "pip install -e '.[ray]'"


def resolve_executor(executor: str | None = None) -> str:
    """``executor`` if given, else ``$TOOLKIT_EXECUTOR``, else ``"serial"``; checked, and
    ``"auto"`` resolved to ``"ray"`` or ``"serial"`` (see the module docstring)."""
    name = executor if executor is not None else os.environ.get(EXECUTOR_ENV) or "serial"
    name = str(name).strip().lower()
    if name not in EXECUTORS:
        raise ValueError(f"executor must be one of {list(EXECUTORS)} (argument or ${EXECUTOR_ENV}), "
                         f"got {name!r}")
    if name == "auto":
        spare = (os.cpu_count() or 1) > torch.get_num_threads()
        return "ray" if spare and importlib.util.find_spec("ray") is not None else "serial"
    return name


@dataclass
class UnitRuns(Generic[T]):
    """What :func:`map_units` returns: ``values[k] = fn(items[k])``, ``seconds[k]`` the wall time
    of that call where it ran (computing it, or loading it from the cache), and the executor."""

    values: list[T]
    seconds: list[float]
    executor: str


def map_units(fn: Callable[[Any], T], items: Sequence[Any], *, executor: str | None = None,
              device: str | torch.device = "auto", desc: str = "units", progress: bool = True,
              resources: dict[str, float] | None = None, max_retries: int = 3) -> UnitRuns[T]:
    """``[fn(item) for item in items]``, serially or as one Ray task per item (see the module
    docstring), with one progress bar over the units.

    ``fn`` must be picklable for Ray (a module-level function or a ``functools.partial`` of one;
    closures of toolkit code pickle too) and should compute one cached unit. ``device`` is the
    device ``fn`` computes on (it decides the resources a task reserves); ``resources``
    (``{"num_cpus": c, "num_gpus": g}``) overrides that choice. ``max_retries``: how often Ray
    reruns a task whose worker died (an exception raised by ``fn`` is not retried: it would
    repeat). An exception of a unit stops the run and cancels the units not finished.
    """
    items = list(items)
    name = resolve_executor(executor)
    if name == "serial":
        values, seconds = [], []
        for item in progress_bar(items, desc=desc, enabled=progress):
            t0 = time.perf_counter()
            values.append(fn(item))
            seconds.append(time.perf_counter() - t0)
        return UnitRuns(values, seconds, name)
    return _map_ray(fn, items, device=device, desc=desc, progress=progress, resources=resources,
                    max_retries=max_retries)


# ----------------------------------------------------------------------------- Ray


def _ray() -> tuple[Any, bool]:
    """Ray, connected; and whether this call started the runtime (the caller then stops it, so a
    notebook kernel never exits with a live runtime: Ray prints stack traces when one is killed)."""
    # Ray's import and start-up notes (progress-widget hints, its token-authentication notice)
    # would land on every notebook page that uses it: quiet them; errors still show.
    disabled = logging.root.manager.disable
    logging.disable(logging.INFO)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import ray
    except ImportError as err:
        raise ImportError(f"executor='ray' needs Ray, an optional extra: {_INSTALL}") from err
    finally:
        logging.disable(disabled)
    if ray.is_initialized():
        return ray, False
    # $RAY_ADDRESS names a running cluster; without it a local runtime starts. The workers' and
    # the raylet's own logs stay in Ray's log folder (a raylet repeats a disk-space notice every
    # 10 s, which would flood a notebook page); what a unit finds is in the unit it returns.
    ray.init(include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    return ray, True


def _resources(ray: Any, device: str, resources: dict[str, float] | None) -> dict[str, float]:
    if resources is not None:
        return {"num_cpus": 1, **resources}
    dev = str(device)
    gpu = dev.startswith("cuda") or (dev == "auto" and ray.cluster_resources().get("GPU", 0) > 0)
    if gpu:
        return {"num_cpus": 1, "num_gpus": float(os.environ.get(GPUS_ENV, "1"))}
    threads = torch.get_num_threads()
    largest = max((n["Resources"].get("CPU", 0) for n in ray.nodes() if n.get("Alive")), default=1)
    if threads > largest:  # a task no node can hold would wait forever
        warnings.warn(f"the driver runs torch with {threads} threads but the largest Ray node has "
                      f"{largest:g} CPUs: tasks use {int(largest)} threads, so their results may "
                      "differ in the last bits from a serial run", stacklevel=3)
        threads = max(int(largest), 1)
    return {"num_cpus": threads, "num_gpus": 0}


def _run_unit(fn: Callable[[Any], T], item: Any, env: dict[str, str], threads: int) -> tuple[T, float]:
    """One task: the driver's cache folder and settings, ``threads`` torch threads, ``fn(item)``;
    tensors come back on the CPU (the driver may have no GPU)."""
    torch.set_num_threads(threads)
    with environment(env):
        t0 = time.perf_counter()
        value = fn(item)
        return cache.to_cpu(value), time.perf_counter() - t0


def _map_ray(fn: Callable[[Any], T], items: list[Any], *, device: str | torch.device, desc: str,
             progress: bool, resources: dict[str, float] | None, max_retries: int) -> UnitRuns[T]:
    ray, started = _ray()
    try:
        return _run_tasks(ray, fn, items, device=device, desc=desc, progress=progress,
                          resources=resources, max_retries=max_retries)
    finally:
        if started:
            ray.shutdown()


def _run_tasks(ray: Any, fn: Callable[[Any], T], items: list[Any], *, device: str | torch.device,
               desc: str, progress: bool, resources: dict[str, float] | None,
               max_retries: int) -> UnitRuns[T]:
    res = _resources(ray, str(device), resources)
    threads = max(int(res["num_cpus"]), 1)
    env = {"TOOLKIT_CACHE_DIR": str(cache.cache_root().resolve()), EXECUTOR_ENV: "serial",
           "TQDM_DISABLE": "1"}  # one bar, the driver's
    if "TOOLKIT_DATA_DIR" in os.environ:
        env["TOOLKIT_DATA_DIR"] = os.environ["TOOLKIT_DATA_DIR"]
    task = ray.remote(_run_unit).options(max_retries=max_retries, retry_exceptions=False, **res)
    fn_ref = ray.put(fn)  # shared by every task (its data travels once)
    refs = [task.remote(fn_ref, item, env, threads) for item in items]
    index = {ref: k for k, ref in enumerate(refs)}
    values: list[Any] = [None] * len(items)
    seconds = [0.0] * len(items)
    pending = list(refs)
    bar = progress_bar(total=len(items), desc=f"{desc} (ray)", enabled=progress)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                values[index[ref]], seconds[index[ref]] = ray.get(ref)
                bar.update(1)
    except BaseException:
        for ref in pending:  # finished units stay cached; a rerun resumes from there
            ray.cancel(ref)
        raise
    finally:
        bar.close()
    return UnitRuns(values, seconds, "ray")
