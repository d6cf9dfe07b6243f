"""toolkit.executor: the executor switch, serial units, and -- on a local Ray runtime of 2 CPUs,
one per module -- the smoke-scale Fig. 2 and a minima set computed as Ray tasks, bit-identical to
the serial run on the CPU (one torch thread in the driver, hence in every task), a worker killed
mid-training (retried by Ray, resumed from its checkpoint), cache hits, and two drivers writing
the same units into one cache at once."""

from __future__ import annotations

import dataclasses
import os
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import pytest
import torch

import toolkit as tk
from toolkit.executor import map_units, resolve_executor

# timings differ between any two runs; everything else must be equal bit for bit
TIMING = {"seconds", "minima_s", "paths_s", "wall_time", "unit_s", "executor"}
TINY = tk.scales.Scale("smoke", n_train=64, n_test=32, epochs=3, n_minima=2)


def assert_same(a, b, where="result"):
    """Exact equality of nested results (dataclasses, dicts, lists, arrays, tensors, modules'
    weights), timings aside."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} vs {type(b).__name__}"
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            if f.name not in TIMING:
                assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys differ"
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, (torch.Tensor, np.ndarray)):  # bit for bit (NaN included)
        a, b = (t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t for t in (a, b))
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: dtype or shape differs"
        assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), \
            f"{where}: values differ"
    elif isinstance(a, torch.nn.Module):
        assert_same(a.state_dict(), b.state_dict(), f"{where}.state_dict()")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _synthetic(n=96, k=4):
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % k
    x = (0.5 + 0.2 * torch.randn(n, 3, 8, 8, generator=g) + 0.3 * (y.view(n, 1, 1, 1) / k)).clamp(0, 1)
    ds = tk.data.Dataset(name="synthetic", split="train", x=x, y=y, num_classes=k)
    return ds, dataclasses.replace(ds, split="test")


def _quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # smoke minima do not converge, and say so
        return fn(*a, **kw)


def _square(x: int) -> int:
    return x * x


# ---------------------------------------------------------------------------- without Ray


def test_executor_choice_argument_then_environment_then_serial(monkeypatch):
    monkeypatch.delenv("TOOLKIT_EXECUTOR", raising=False)
    assert resolve_executor() == "serial"
    monkeypatch.setenv("TOOLKIT_EXECUTOR", "Ray")
    assert resolve_executor() == "ray" and resolve_executor("serial") == "serial"
    with pytest.raises(ValueError, match="executor must be one of"):
        resolve_executor("dask")


def test_auto_uses_ray_only_with_idle_cores_and_ray_installed(monkeypatch):
    import toolkit.executor as ex

    monkeypatch.setattr(ex.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(ex.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(ex.torch, "get_num_threads", lambda: 1)
    assert resolve_executor("auto") == "ray"
    monkeypatch.setattr(ex.torch, "get_num_threads", lambda: 2)  # every core busy already
    assert resolve_executor("auto") == "serial"
    monkeypatch.setattr(ex.torch, "get_num_threads", lambda: 1)
    monkeypatch.setattr(ex.importlib.util, "find_spec", lambda name: None)  # no Ray
    assert resolve_executor("auto") == "serial"


def test_serial_units_in_order_with_times(monkeypatch):
    monkeypatch.delenv("TOOLKIT_EXECUTOR", raising=False)
    runs = map_units(_square, [3, 1, 2], progress=False)
    assert runs.values == [9, 1, 4] and runs.executor == "serial"
    assert len(runs.seconds) == 3 and all(s >= 0 for s in runs.seconds)


def test_ray_missing_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ImportError, match=r"pip install -e '\.\[ray\]'"):
        map_units(_square, [1], executor="ray", progress=False)


# ---------------------------------------------------------------------------- on Ray


@pytest.fixture(scope="module")
def ray_runtime(tmp_path_factory):
    """One local runtime of 2 CPUs for the module. Its workers run a setup hook that makes the
    first training epoch finished after ``crash/armed`` exists kill its worker (``os._exit``,
    after the epoch's checkpoint), once; ``crash/epochs`` logs every finished epoch."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")
    crash = tmp_path_factory.mktemp("crash")

    def hook():
        from toolkit import _loop

        def epoch_done(epoch: int) -> None:
            with open(crash / "epochs", "a") as fh:
                fh.write(f"{epoch}\n")
            if (crash / "armed").exists():
                try:
                    os.close(os.open(crash / "crashed", os.O_CREAT | os.O_EXCL))
                except FileExistsError:
                    return
                os._exit(1)  # the worker dies mid-run, its checkpoint written

        _loop._epoch_done = epoch_done

    # workers cannot import this test module: send its functions by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING",
             object_store_memory=100 * 2**20, runtime_env={"worker_process_setup_hook": hook})
    yield crash
    ray.shutdown()


def test_fig2_smoke_on_ray_is_bit_identical_to_serial(ray_runtime, one_thread, monkeypatch,
                                                      tmp_path):
    cfg = tk.experiments.fc_depth_config("smoke")  # MNIST and Fashion-MNIST, five depths
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(tmp_path / "serial"))
    serial = _quiet(tk.experiments.fc_depth, cfg, progress=False)
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(tmp_path / "ray"))
    ray_res = _quiet(tk.experiments.fc_depth, cfg, progress=False, executor="ray")
    assert ray_res.executor == "ray" and set(ray_res.unit_s) == set(serial.units)
    assert_same(ray_res, serial)
    assert ray_res.verdict()["numbers"]["executor"] == "ray"
    # the tasks stored every minimum and join in the driver's cache: a serial rerun only loads
    monkeypatch.setattr(sys.modules["toolkit.join"], "join",
                        lambda *a, **k: pytest.fail("join recomputed although cached"))
    monkeypatch.setattr(sys.modules["toolkit.minima"], "train",
                        lambda *a, **k: pytest.fail("minimum retrained although cached"))
    again = _quiet(tk.experiments.fc_depth, cfg, progress=False, executor="serial")
    assert_same(again, serial)
    assert len(list((tmp_path / "ray" / "minima").glob("*.pt"))) == 10 * cfg.n_minima


def test_minima_on_ray_survive_a_killed_worker(ray_runtime, one_thread, monkeypatch, tmp_path):
    crash, data = ray_runtime, _synthetic()
    make = partial(_quiet, tk.minima, "fc", data, "fc_cyclic", 2, scale=TINY, progress=False,
                   device="cpu", width=8)
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(tmp_path / "serial"))
    serial = make()
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(tmp_path / "ray"))
    (crash / "epochs").unlink(missing_ok=True)
    (crash / "armed").touch()
    try:
        on_ray = make(executor="ray")
    finally:
        (crash / "armed").unlink()
    assert (crash / "crashed").exists(), "no worker was killed"
    # the killed minimum resumed from its checkpoint: every epoch ran once, 2 minima x 3 epochs
    assert len((crash / "epochs").read_text().split()) == 2 * TINY.epochs
    assert on_ray.executor == "ray" and on_ray.unit_s.shape == (2,)
    assert_same(on_ray, serial)
    assert not list((tmp_path / "ray").rglob("*.tmp"))
    assert not list((tmp_path / "ray" / "minima-ckpt").glob("*.pt"))  # checkpoints removed

    # a second run on Ray (chosen by the environment this time) finds both minima in the cache
    # and rewrites nothing
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "ray").rglob("*.pt")}
    monkeypatch.setenv("TOOLKIT_EXECUTOR", "ray")
    again = make()
    assert again.executor == "ray"
    assert_same(again, serial)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "ray").rglob("*.pt")} == stamps


def _whole_set(data, _driver: int) -> torch.Tensor:
    # 15 epochs: long enough for the three trainings of each minimum to overlap
    return _quiet(tk.minima, "fc", data, "fc_cyclic", 3, scale=TINY.replace(epochs=15),
                  progress=False, device="cpu", width=8, executor="serial").flat


def test_two_drivers_on_one_cache(ray_runtime, one_thread, monkeypatch, tmp_path):
    """Two processes (Ray tasks, one CPU each) train the same three minima into one cache at
    once, while this driver does too: all agree with a serial run, and the cache holds exactly
    three readable entries and no temporary files."""
    data = _synthetic()
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(tmp_path / "serial"))
    reference = _whole_set(data, 0)
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(tmp_path / "shared"))
    with ThreadPoolExecutor(1) as pool:
        racing = pool.submit(map_units, partial(_whole_set, data), [1, 2], executor="ray",
                             progress=False, resources={"num_cpus": 1})
        here = _whole_set(data, 0)
        there = racing.result().values
    for flat in [here, *there]:
        assert torch.equal(flat, reference)
    entries = list((tmp_path / "shared" / "minima").glob("*"))
    assert len(entries) == 3 and all(p.suffix == ".pt" for p in entries)
    assert torch.equal(_whole_set(data, 0), reference)  # every entry loads


class _ReadersNet(torch.nn.Module):
    """A reader's own network, defined here (Ray workers get it by value): [B, *in_shape] ->
    [B, num_classes]."""

    def __init__(self, in_shape, num_classes, width=6):
        super().__init__()
        self.fc1 = torch.nn.Linear(int(np.prod(in_shape)), width)
        self.fc2 = torch.nn.Linear(width, num_classes)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x.flatten(1))))


def test_landscape_on_ray_is_the_serial_one(ray_runtime, one_thread, monkeypatch, tmp_path):
    """tk.landscape with executor="ray": the factory reaches the workers (their model registry
    starts empty), minima and paths run as tasks, and the result is the serial one bit for bit."""
    data = _synthetic()[0]

    def make(executor):
        return _quiet(tk.landscape, _ReadersNet, (data.x, data.y), n_minima=3, scale="smoke",
                      progress=False, device="cpu", executor=executor)

    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(tmp_path / "serial"))
    serial = make("serial")
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(tmp_path / "ray"))
    on_ray = make("ray")
    assert on_ray.minima.executor == "ray" and on_ray.barcode == serial.barcode
    assert_same(on_ray.minima.flat, serial.minima.flat)
    assert_same(on_ray.evaluation, serial.evaluation)
    assert len(list((tmp_path / "ray" / "minima").glob("*.pt"))) == 3
    assert len(list((tmp_path / "ray" / "join").glob("*.pt"))) == 1
