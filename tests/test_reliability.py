"""Reliability (issue 14): nothing wrong is ever served as right.

Every probe of a demanding user lives here: damaged data and cache files, bad notebook
parameters, unknown devices, mislabelled data, verdicts without comparisons, one-off runs next to
the book, ``kill -9`` and resume, two runs sharing one cache. Each test says which behaviour it
keeps; the three "served wrong as right" cases come first. (The path engine's own cases -- lr or
epochs of 0, the back-off message, ``evaluate_paths`` misuse -- are tested with the engine.)
"""

from __future__ import annotations

import dataclasses
import glob
import inspect
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import quiet, synthetic_images

import toolkit as tk
from toolkit import book, cache, data, report


def _one_line(err: BaseException) -> str:
    msg = str(err)
    assert "\n" not in msg and "Traceback" not in msg, msg
    return msg


@pytest.fixture
def raw_copy(tmp_path, monkeypatch):
    """A private copy of the shipped MNIST files, so tests may damage them."""
    import shutil

    root = tmp_path / "raw"
    shutil.copytree(data.raw_root(), root, ignore=shutil.ignore_patterns("cifar*", "svhn", "fashion*"))
    monkeypatch.setenv("TOOLKIT_DATA_DIR", str(root))
    return root


def _forget_decoded() -> None:
    """Drop the in-process memo of decoded data sets (what a new process starts with)."""
    memo = getattr(data, "_DECODED", None)
    if memo is not None:
        memo.clear()
    old = getattr(data, "_load_idx_cached", None)  # the memo's name before issue 14
    if old is not None:
        old.cache_clear()


# ============================================================ served wrong as right (1-3)


@pytest.mark.parametrize("new_process", [False, True], ids=["same-process", "new-process"])
def test_rewritten_data_file_with_same_size_and_mtime_is_caught(raw_copy, new_process):
    """Case 1: a data file rewritten after its first verification, same size and same mtime, was
    accepted with its new contents (verdict and memo keyed by size + mtime). Now the bytes read
    are hashed at every load."""
    first = data.load("mnist", "test")  # verified, remembered
    path = raw_copy / "mnist" / "t10k-labels-idx1-ubyte.gz"
    st = path.stat()
    path.write_bytes(_same_size_gzip_with_another_label(path.read_bytes()))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    assert data.read_idx(path)[0] != int(first.y[0])  # a valid file that says something else
    if new_process:
        _forget_decoded()
    with pytest.raises(tk.DataError, match="checksum mismatch .*t10k-labels") as err:
        data.load("mnist", "test")
    _one_line(err.value)


def _same_size_gzip_with_another_label(blob: bytes) -> bytes:
    """A valid gzip of the IDX labels with the first label changed, padded (gzip's file-name
    field) to the original size."""
    import gzip
    import struct
    import zlib

    raw = bytearray(gzip.decompress(blob))
    raw[8] = (raw[8] + 1) % 10
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = c.compress(bytes(raw)) + c.flush()
    pad = len(blob) - 18 - len(body)
    assert pad >= 0, "the changed file compresses larger; pick another label"
    head = bytearray(blob[:10])
    if pad:
        head[3] |= 0x08  # FNAME: a zero-terminated name fills the difference
        head += b"x" * (pad - 1) + b"\0"
    return bytes(head) + body + struct.pack("<II", zlib.crc32(raw), len(raw))


def test_data_memo_is_keyed_by_content(raw_copy):
    """The decoded set is shared between loads only while the bytes are the verified ones."""
    a = data.load("mnist", "test")
    assert data.load("mnist", "test") is a  # decoded once
    (raw_copy / "mnist" / "t10k-images-idx3-ubyte.gz").write_bytes(b"")  # truncated
    with pytest.raises(tk.DataError, match="checksum mismatch") as err:
        data.load("mnist", "test")
    _one_line(err.value)


@dataclasses.dataclass(frozen=True)
class _Cfg:
    n: int = 1


def test_cache_entry_of_another_configuration_is_recomputed_with_a_warning():
    """Case 2: an entry copied or moved under another configuration's hash was served."""
    cache.cached("unit", _Cfg(1), lambda: {"v": 1})
    cache.cache_path("unit", _Cfg(2)).write_bytes(cache.cache_path("unit", _Cfg(1)).read_bytes())
    with pytest.warns(UserWarning, match="another configuration"):
        assert cache.cached("unit", _Cfg(2), lambda: {"v": 2})["v"] == 2
    assert cache.cached("unit", _Cfg(2), lambda: pytest.fail("recomputed again"))["v"] == 2


def test_minimum_of_another_configuration_is_not_served(one_thread):
    """The same rule protects the minima store (one cache entry per minimum)."""
    ds = synthetic_images(n=64, c=1, hw=4, signal=0.0)
    scale = tk.scales.Scale("smoke", n_train=64, n_test=32, epochs=1, n_minima=1)
    a = quiet(tk.minima, "fc", ds, "fc_cyclic", 1, scale=scale, progress=False, hidden_layers=1, width=4)
    b_path = next(p for p in (cache.cache_root() / "minima").glob("*.pt"))
    # move the entry under the hash of the minimum with seed 5
    kw = dict(scale=scale, progress=False, hidden_layers=1, width=4, seed=5)
    quiet(tk.minima, "fc", ds, "fc_cyclic", 1, **kw)
    other = [p for p in (cache.cache_root() / "minima").glob("*.pt") if p != b_path][0]
    other.write_bytes(b_path.read_bytes())
    with pytest.warns(UserWarning, match="another configuration"):
        c = tk.minima("fc", ds, "fc_cyclic", 1, **kw)
    assert not torch.equal(c.flat, a.flat)


@dataclasses.dataclass
class _Checked:
    n: int

    def __post_init__(self):
        assert self.n >= 0, "n must not be negative"


@pytest.mark.parametrize("payload", ["foreign dict", "list", "truncated", "bad class", "old format",
                                     "invalid fields"])
def test_unreadable_or_foreign_cache_file_is_recomputed_with_a_warning(payload):
    """A foreign object in a cache file raised a KeyError; now every unreadable entry is
    recomputed with a warning (and overwritten with a good one)."""
    path = cache.cache_path("unit", _Cfg())
    path.parent.mkdir(parents=True, exist_ok=True)
    canonical = cache._canonical("unit", _Cfg(), "1")
    if payload == "foreign dict":
        torch.save({"something": "else"}, path)
    elif payload == "list":
        torch.save([1, 2, 3], path)
    elif payload == "truncated":
        cache.cached("unit", _Cfg(), lambda: {"v": torch.arange(1000)})
        path.write_bytes(path.read_bytes()[:200])
    elif payload == "bad class":
        torch.save({"format": cache._FORMAT, "config": canonical,
                    "result": {"__dataclass__": "nowhere:Thing", "fields": {}}}, path)
    elif payload == "old format":
        torch.save({"format": 1, "config": canonical, "result": {"v": 0}}, path)
    else:  # a stored dataclass whose own validation rejects the stored fields
        torch.save({"format": cache._FORMAT, "config": canonical,
                    "result": {"__dataclass__": f"{__name__}:_Checked", "fields": {"n": -1}}}, path)
    with pytest.warns(UserWarning, match="recomputing"):
        assert cache.cached("unit", _Cfg(), lambda: {"v": 3})["v"] == 3
    assert cache.cached("unit", _Cfg(), lambda: pytest.fail("recomputed again"))["v"] == 3


def test_checkpoint_of_another_run_is_refused_and_a_torn_one_ignored(tmp_path):
    """Checkpoints, the other cache: another run's is refused, a torn one restarts the run."""
    path = tmp_path / "ckpt.pt"
    cache.save_checkpoint(path, cache.fingerprint("paths", seed=1), {"step": 3})
    with pytest.raises(ValueError, match="another configuration") as err:
        cache.load_checkpoint(path, cache.fingerprint("paths", seed=2))
    _one_line(err.value)
    path.write_bytes(path.read_bytes()[:50])
    with pytest.warns(UserWarning, match="starting over"):
        assert cache.load_checkpoint(path, cache.fingerprint("paths", seed=1)) is None


def _fc_result(scale: str, depths: tuple[int, ...], bars: dict[int, float], acc: float = 0.11):
    """A Fig. 2 result with one unit per depth on ``digits``: 2 minima joined by one path whose
    maximum gives a bar of length ``bars[depth]`` (conftest's synthetic units)."""
    from conftest import _synthetic_result

    return _synthetic_result(scale, {d: bars[d] for d in depths})


def test_fig02_with_a_single_depth_is_never_reproduced(tmp_path, monkeypatch):
    """Case 3: one depth made ``all()`` run over no comparison and report "reproduced" (with 11%
    train accuracy). Now it is an illustration that says the trend is not tested."""
    monkeypatch.setenv("TOOLKIT_RESULTS_DIR", str(tmp_path))
    res = _fc_result("cpu", (2,), {2: 0.5})
    v = res.verdict()
    assert v["status"] == "illustration" and "not tested" in v["finding"]
    assert tk.Run("fig02_fc_depth", "Fig. 2", "c", "cpu").finish(**v, quiet=True).status == "illustration"
    assert res.error_bars_verdict()["status"] == "illustration"
    # the control: two depths with shorter bars for the deeper net is the claim
    assert _fc_result("cpu", (2, 4), {2: 0.5, 4: 0.3}).verdict()["status"] == "reproduced"
    assert _fc_result("cpu", (2, 4), {2: 0.3, 4: 0.5}).verdict()["status"] == "not reproduced"


def test_smoke_and_stand_in_runs_are_never_reproduced(tmp_path, monkeypatch):
    """Smoke runs are illustrations; a claim checked on a stand-in is at best "on stand-in"."""
    monkeypatch.setenv("TOOLKIT_RESULTS_DIR", str(tmp_path))
    v = _fc_result("smoke", (2, 4), {2: 0.5, 4: 0.3}).verdict()
    assert v["status"] == "reproduced"  # what the numbers alone say...
    rec = tk.Run("fig02_fc_depth", "Fig. 2", "c", "smoke").finish(**v, quiet=True)
    assert rec.status == "illustration" and rec.measured_status == "reproduced"  # ...and the record
    rec = tk.Run("x", "Fig. 1", "c", "cpu").finish(**{**v, "scale": "cpu", "stand_in": True}, quiet=True)
    assert rec.status == "on stand-in"


def test_a_verdict_needs_its_comparisons_everywhere(tmp_path, monkeypatch):
    """The kind behind case 3: ``compared=0`` turns any status into an illustration, and a result
    computed at another scale than the run's is refused."""
    v = tk.verdict(status="reproduced", dataset="d", runs="1", finding="f", paper="p", ours="o",
                   compared=0)
    assert v["status"] == "illustration" and "not tested" in v["finding"]
    monkeypatch.setenv("TOOLKIT_RESULTS_DIR", str(tmp_path))
    cpu_result = _fc_result("cpu", (2, 4), {2: 0.5, 4: 0.3}).verdict()
    with pytest.raises(ValueError, match="scale 'cpu' but this run is at scale 'smoke'") as err:
        tk.Run("fig02_fc_depth", "Fig. 2", "c", "smoke").finish(**cpu_result)
    _one_line(err.value)
    # L&P Fig. 3 compares the trajectories of a stage: one trajectory is refused up front
    with pytest.raises(ValueError, match="trajectories must be at least 2"):
        tk.experiments.lp_sgd_mds_config("smoke", trajectories=1)


# ============================================================ poor behaviours -> one clear line


def _config_builders():
    return [getattr(tk.experiments, n) for n in tk.experiments.__all__ if n.endswith("_config")]


@pytest.mark.parametrize("builder", _config_builders(), ids=lambda b: b.__name__)
def test_every_config_builder_takes_parameters_as_the_command_line_sends_them(builder):
    """``-p depths "[2, 4]"`` and ``-p datasets mnist`` arrived as a string and a scalar (a
    string became a tuple of letters, a scalar a TypeError). Every builder now normalises its
    list-valued arguments (toolkit.params.as_list) and its seed."""
    base = builder("smoke")
    assert builder("smoke", seed="0") == base
    for name, p in inspect.signature(builder).parameters.items():
        if isinstance(p.default, (list, tuple)) and p.default:
            items = list(p.default)
            text = "[" + ", ".join(str(v) for v in items) + "]"
            assert builder("smoke", **{name: text}) == base, f"{name}={text!r}"
            assert builder("smoke", **{name: ",".join(map(str, items))}) == base
            one = builder("smoke", **{name: items[0]})
            assert one == builder("smoke", **{name: [items[0]]})
            with pytest.raises(ValueError, match=name) as err:
                builder("smoke", **{name: "[" + text})
            _one_line(err.value)


def test_list_parameters_forms_and_errors():
    cfg = tk.experiments.fc_depth_config("smoke", datasets="mnist", depths="[2, 4]", n_minima="3")
    assert cfg.datasets == ("mnist",) and cfg.depths == (2, 4) and cfg.n_minima == 3
    assert tk.params.as_list("[mnist, fashion-mnist]", "datasets") == ("mnist", "fashion-mnist")
    assert tk.params.as_list(4, "depths", int) == (4,)
    for bad, match in (({"datasets": "cifar"}, "unknown value"), ({"depths": "2;4"}, "-p depths"),
                       ({"datasets": []}, "at least 1"), ({"depths": [True]}, "integers")):
        with pytest.raises(ValueError, match=match) as err:
            tk.experiments.fc_depth_config("smoke", **bad)
        _one_line(err.value)


def test_book_execute_reads_parameter_values_as_literals(monkeypatch, tmp_path):
    """``python -m toolkit.book execute ... -p depths "[2, 4]" -p seed 1`` sent strings."""
    seen = {}
    monkeypatch.setattr(book, "execute", lambda src, dst, params: seen.update(params))
    book.main(["execute", "a.ipynb", str(tmp_path / "b.ipynb"), "-p", "depths", "[2, 4]", "-p", "seed",
               "1", "-p", "datasets", "mnist", "-p", "n_minima", "None", "-p", "device", "cuda:1"])
    assert seen == {"depths": [2, 4], "seed": 1, "datasets": "mnist", "n_minima": None,
                    "device": "cuda:1"}


def test_unknown_or_unavailable_device_is_one_line(monkeypatch):
    """An unknown device string surfaced torch's message; ``cuda:N`` beyond the count passed."""
    for bad in ("gpu", "cuda:x", 3):
        with pytest.raises(ValueError, match="use one of 'auto', 'cpu'") as err:
            tk.resolve_device(bad)
        _one_line(err.value)
    assert tk.resolve_device("cpu") == torch.device("cpu")
    assert tk.resolve_device(" CPU ") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    for bad in ("cuda:1", torch.device("cuda", 3)):
        with pytest.raises(ValueError, match="1 CUDA device.*'cuda:0'") as err:
            tk.resolve_device(bad)
        _one_line(err.value)
    assert tk.resolve_device("cuda:0") == torch.device("cuda:0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        tk.resolve_device("cuda")
    if not torch.backends.mps.is_available():
        with pytest.raises(ValueError, match="MPS is not available"):
            tk.resolve_device("mps")


@pytest.mark.parametrize("damage", ["corrupt", "incomplete"])
def test_corrupt_or_incomplete_cifar_is_an_error_not_a_silent_stand_in(tmp_path, monkeypatch, damage):
    """Corrupt CIFAR files were reported as absent and the stand-in used silently."""
    import shutil

    root = tmp_path / "raw"
    shutil.copytree(data.raw_root(), root, ignore=shutil.ignore_patterns("cifar*", "svhn", "mnist"))
    monkeypatch.setenv("TOOLKIT_DATA_DIR", str(root))
    folder = root / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names[: 6 if damage == "corrupt" else 3]:
        (folder / name).write_bytes(b"not a pickle")
    with pytest.raises(tk.DataError, match="corrupt" if damage == "corrupt" else "incomplete") as err:
        data.load_for("cifar10", "train", "cpu")
    _one_line(err.value)
    shutil.rmtree(root / "cifar10")  # all absent: the documented stand-in, named as such
    ds = data.load_for("cifar10", "test", "cpu")
    assert ds.stand_in_for == "cifar10" and "absent" in ds.note


def test_labels_out_of_range_are_one_line_at_construction():
    """Labels outside the model's outputs gave a vmap traceback at the first step."""
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    x = torch.zeros(5, 4)
    tk.ModuleObjective(model, x, torch.tensor([0, 1, 2, 2, 0]))  # fine
    for y in (torch.tensor([0, 1, 2, 3, 9]), torch.tensor([0, -1, 2, 2, 0])):
        with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)") as err:
            tk.ModuleObjective(model, x, y)
        _one_line(err.value)


def test_one_off_runs_do_not_overwrite_the_books_results(tmp_path, monkeypatch):
    """A reader's papermill run (the README's example) overwrote results/, so the book's table
    could describe a run that is not the chapter it links to. Now only the book's own execution
    of a chapter writes results/; other runs go to results/adhoc/ and say so."""
    monkeypatch.setattr(report, "REPO_ROOT", tmp_path)
    monkeypatch.delenv("TOOLKIT_RESULTS_DIR", raising=False)
    monkeypatch.delenv(report.BOOK_CHAPTER_ENV, raising=False)
    v = tk.verdict(status="reproduced", dataset="d", runs="1", finding="f", paper="p", ours="o")
    tk.Run("intro_barcodes", "Fig. 1", "c", "paper").finish(**v, quiet=True)
    assert (tmp_path / "results" / "adhoc" / "intro_barcodes.json").exists()
    assert not (tmp_path / "results" / "intro_barcodes.json").exists()
    assert report.load_records() == {}  # the table does not see it
    monkeypatch.setenv(report.BOOK_CHAPTER_ENV, "intro_barcodes")
    tk.Run("intro_barcodes", "Fig. 1", "c", "cpu").finish(**v, quiet=True)
    assert report.load_records()["intro_barcodes"].scale == "cpu"
    with pytest.raises(ValueError, match="chapter is 'intro_barcodes' but its Run is named 'fig02'"):
        tk.Run("fig02", "Fig. 2", "c", "cpu")
    (tmp_path / "results" / "intro_barcodes.json").write_text("{")  # a damaged record
    with pytest.raises(ValueError, match="cannot be read.*make book") as err:
        report.load_records()
    _one_line(err.value)


def test_book_execute_marks_only_the_books_chapters(monkeypatch, tmp_path):
    import papermill

    seen = []

    def fake(src, out, **kw):
        seen.append(os.environ.get(report.BOOK_CHAPTER_ENV))
        Path(out).write_bytes(Path(src).read_bytes())  # "executed": the source itself

    monkeypatch.setattr(papermill, "execute_notebook", fake)
    monkeypatch.delenv(report.BOOK_CHAPTER_ENV, raising=False)
    src = book.NOTEBOOKS / "intro_barcodes.ipynb"
    book.execute(src, tmp_path / "intro_barcodes.ipynb")
    chapter = book.BOOK / "executed" / "zz_reliability_probe.ipynb"
    existed = chapter.parent.exists()
    try:
        book.execute(src, chapter)
    finally:
        chapter.unlink(missing_ok=True)
        chapter.with_suffix(".failed.ipynb").unlink(missing_ok=True)
        if not existed:
            chapter.parent.rmdir()
    assert seen == [None, "zz_reliability_probe"]
    assert report.BOOK_CHAPTER_ENV not in os.environ


# ============================================================ behaviours that were already good

_JOBS = r'''
import hashlib, os, sys, time
import torch
torch.set_num_threads(1)
import toolkit as tk
from toolkit import _loop

def slow_epochs(seconds):
    _loop._epoch_done = lambda epoch: time.sleep(seconds)   # after each epoch's checkpoint

def paths(checkpoint=None):
    f = tk.landscapes.landscape("gaussian_wells")
    obj = tk.FunctionObjective(f, dim=2, steps_per_epoch=10)
    minima = torch.tensor([[-1.7, -1.2], [1.5, -1.4], [0.1, 1.6]])
    cfg = tk.PathConfig(n_points=9, epochs=8, lr=0.02, momentum=0.9, weight_decay=0.0,
                        insert_every=3, steps_per_epoch=10, checkpoint_every=10)
    return tk.optimize_paths(obj, minima, config=cfg, checkpoint=checkpoint,
                             resume=checkpoint is not None, progress=False, seed=3)

def data():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(96) % 4
    x = (0.5 + 0.2 * torch.randn(96, 1, 4, 4, generator=g) + 0.3 * (y.view(96, 1, 1, 1) / 4)).clamp(0, 1)
    ds = tk.data.Dataset(name="synthetic", split="train", x=x, y=y, num_classes=4)
    return ds, ds

def minima():
    scale = tk.scales.Scale("smoke", n_train=96, n_test=96, epochs=6, n_minima=1)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tk.minima("fc", data(), "fc_cyclic", 1, scale=scale, progress=False,
                         hidden_layers=1, width=8)

def digest(t):
    return hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest()
'''


def _jobs() -> dict:
    ns: dict = {}
    exec(_JOBS, ns)  # noqa: S102 - the same job code the subprocesses run
    return ns


def _spawn(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _JOBS + code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))


def _kill_after(proc: subprocess.Popen, pattern: str, timeout: float = 120.0) -> None:
    """SIGKILL ``proc`` as soon as a file matching ``pattern`` exists."""
    t0 = time.monotonic()
    while not glob.glob(pattern):
        if proc.poll() is not None:
            pytest.fail(f"the job ended before writing {pattern}: {proc.stderr.read()[-2000:]}")
        if time.monotonic() - t0 > timeout:
            proc.kill()
            pytest.fail(f"no checkpoint {pattern} after {timeout} s")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def test_kill9_then_resume_paths_equals_an_uninterrupted_run(tmp_path, one_thread):
    ckpt = tmp_path / "paths.pt"
    proc = _spawn(f"slow_epochs(5.0)\npaths({str(ckpt)!r})\n")
    _kill_after(proc, str(ckpt))
    assert cache.safe_load(ckpt)["state"]["step"] < 80  # killed mid-run
    jobs = _jobs()
    resumed = jobs["paths"](str(ckpt))
    whole = jobs["paths"]()
    assert torch.equal(resumed.points, whole.points) and torch.equal(resumed.n_points, whole.n_points)
    assert resumed.insertions == whole.insertions and resumed.steps == whole.steps


def test_kill9_then_resume_minima_equals_an_uninterrupted_run(tmp_path, one_thread, monkeypatch):
    proc = _spawn("slow_epochs(5.0)\nminima()\n")
    _kill_after(proc, str(cache.cache_root() / "minima-ckpt" / "*.pt"))
    assert not list((cache.cache_root() / "minima").glob("*.pt"))  # killed before it finished
    jobs = _jobs()
    resumed = jobs["minima"]()
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(tmp_path / "fresh"))
    whole = jobs["minima"]()
    assert torch.equal(resumed.flat, whole.flat)
    assert resumed.train_loss.tolist() == whole.train_loss.tolist()


def test_two_concurrent_runs_share_one_cache(one_thread, monkeypatch):
    code = "slow_epochs(0.3)\nprint(digest(minima().flat))\n"
    procs = [_spawn(code) for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    digests = {o[0].strip() for o in outs}
    assert len(digests) == 1
    import importlib

    monkeypatch.setattr(importlib.import_module("toolkit.minima"), "train",
                        lambda *a, **k: pytest.fail("trained although both runs stored it"))
    again = _jobs()["minima"]()
    assert _jobs()["digest"](again.flat) == digests.pop()
    assert not glob.glob(str(cache.cache_root() / "**" / ".*.tmp"), recursive=True)  # nothing torn


def test_deleted_or_truncated_data_is_one_line_with_the_fix(raw_copy):
    path = raw_copy / "mnist" / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(tk.DataError, match="git checkout") as err:
        data.load("mnist", "train")
    _one_line(err.value)
    path.unlink()
    with pytest.raises(tk.DataError, match="missing") as err:
        data.load("mnist", "train")
    _one_line(err.value)


# ------------------------------------------------------------ helpers


def test_records_are_plain_json(tmp_path, monkeypatch):
    """A run record holds plain JSON only (what the table reads)."""
    monkeypatch.setenv("TOOLKIT_RESULTS_DIR", str(tmp_path))
    v = tk.verdict(status="not reproduced", dataset="d", runs="1", finding="f", paper="p", ours="o",
                   numbers={"x": np.float32(1.5), "a": np.arange(2)})
    tk.Run("x", "Fig. 1", "c", "cpu").finish(**v, quiet=True)
    assert json.loads((tmp_path / "x.json").read_text())["numbers"] == {"x": 1.5, "a": [0, 1]}

