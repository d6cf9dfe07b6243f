"""The minima store: smoke-scale training on shipped MNIST, cache hits, resume, determinism,
the flat-vector contract with the path engine, BatchNorm buffers and stand-in reporting."""

from __future__ import annotations

import importlib

import pytest
import torch
from conftest import quiet, synthetic_images
from torch.nn.utils import parameters_to_vector

import toolkit as tk
from toolkit import _loop

# the module (tk.minima, the attribute, is the function of the same name)
minima_mod = importlib.import_module("toolkit.minima")

# a smaller smoke scale for the tests that do not need real data
TINY = tk.scales.Scale("smoke", n_train=64, n_test=32, epochs=2, n_minima=2)


def test_smoke_minima_on_mnist_and_cache_hit(monkeypatch):
    with pytest.warns(UserWarning, match="did not converge"):  # smoke points are not minima
        ms = tk.minima("fc", "mnist", "fc_cyclic", 2, scale="smoke", progress=False)
    assert len(ms) == 2 and ms.flat.shape == (2, 26_506) and ms.scale == "smoke"
    assert ms.dataset == "mnist" and ms.stand_in_note is None
    assert ms.config["n_train"] == 256 and ms.config["recipe"]["epochs"] == 1
    assert not torch.equal(ms.flat[0], ms.flat[1])  # distinct seeds, distinct minima
    for key in ("train_loss", "train_acc", "test_loss", "test_acc", "grad_norm", "wall_time", "converged"):
        assert getattr(ms, key).shape == (2,)
    assert (ms.train_acc > 0.1).all()  # learned something in one epoch
    assert "2 minima of fc" in ms.summary(file=open("/dev/null", "w"))  # noqa: SIM115

    # second call: every minimum comes from the cache, nothing is trained
    def boom(*a, **kw):
        raise AssertionError("trained although cached")

    monkeypatch.setattr(minima_mod, "train", boom)
    again = quiet(tk.minima, "fc", "mnist", "fc_cyclic", 2, scale="smoke", progress=False)
    assert torch.equal(again.flat, ms.flat)


def test_flat_is_parameters_to_vector_of_each_state():
    ds = synthetic_images()
    ms = quiet(tk.minima, "cnn", ds, "lenet", 2, scale=TINY, progress=False, layers=1, channels=4, bn=True)
    assert ms.buffers is not None and "net.features.1.running_mean" in ms.buffers
    assert ms.buffers["net.features.1.running_mean"].shape == (2, 4)
    for i in range(2):
        m = ms.module(i)
        assert torch.equal(parameters_to_vector(m.parameters()), ms.flat[i])
        fresh = tk.models.with_input_norm(
            tk.models.build("cnn", layers=1, channels=4, bn=True, in_shape=(3, 8, 8), num_classes=4),
            [0.0] * 3, [1.0] * 3)
        fresh.load_state_dict(ms.load_state(i))
        fresh.eval()
        assert torch.equal(fresh(ds[0].x[:5]), m(ds[0].x[:5]))
    # the template is a CPU module whose parameter order defines flat's layout
    assert next(ms.model.parameters()).device.type == "cpu"
    assert sum(p.numel() for p in ms.model.parameters()) == ms.flat.shape[1]


def test_deterministic_bit_for_bit_on_cpu():
    ds = synthetic_images()
    a = quiet(tk.minima, "fc", ds, "fc_cyclic", 2, scale=TINY, progress=False, device="cpu")
    b = quiet(tk.minima, "fc", ds, "fc_cyclic", 2, scale=TINY, progress=False, device="cpu",
               refresh=True)
    assert torch.equal(a.flat, b.flat)
    assert list(a.train_loss) == list(b.train_loss)


def test_extending_n_reuses_cached_minima_and_seed_shifts():
    ds = synthetic_images()
    two = quiet(tk.minima, "fc", ds, "lenet", 2, scale=TINY, progress=False, hidden_layers=1, width=8)
    three = quiet(tk.minima, "fc", ds, "lenet", 3, scale=TINY, progress=False, hidden_layers=1, width=8)
    assert torch.equal(three.flat[:2], two.flat) and three.seeds == [0, 1, 2]
    other = quiet(tk.minima, "fc", ds, "lenet", 1, scale=TINY, progress=False, seed=7,
                   hidden_layers=1, width=8)
    assert other.seeds == [7] and not torch.equal(other.flat[0], two.flat[0])


def test_resume_after_interruption(monkeypatch, tmp_path):
    ds = synthetic_images()
    scale = TINY.replace(epochs=3)
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(tmp_path / "reference"))
    uninterrupted = quiet(tk.minima, "fc", ds, "fc_cyclic", 2, scale=scale, progress=False, width=8)
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(tmp_path / "interrupted"))
    epochs_run = []

    def crash(epoch):
        epochs_run.append(epoch)
        if len(epochs_run) == 5:  # minimum 0 done (3 epochs); crash after minimum 1's 2nd epoch
            raise KeyboardInterrupt

    monkeypatch.setattr(_loop, "_epoch_done", crash)
    with pytest.raises(KeyboardInterrupt):
        quiet(tk.minima, "fc", ds, "fc_cyclic", 2, scale=scale, progress=False, width=8)
    assert epochs_run == [0, 1, 2, 0, 1]
    epochs_run.clear()
    monkeypatch.setattr(_loop, "_epoch_done", epochs_run.append)
    resumed = quiet(tk.minima, "fc", ds, "fc_cyclic", 2, scale=scale, progress=False, width=8)
    assert epochs_run == [2]  # minimum 0 from the cache, minimum 1 from its epoch-2 checkpoint
    assert torch.equal(resumed.flat, uninterrupted.flat)
    assert list(resumed.train_loss) == list(uninterrupted.train_loss)
    assert not list((tk.cache.cache_root() / "minima-ckpt").glob("*.pt"))  # checkpoints removed


def test_arch_kw_and_scale_are_in_the_config():
    ds = synthetic_images()
    ms = quiet(tk.minima, "lp_dcnn", ds, "lp_sgd", 1, scale=TINY, progress=False,
                activation="poly", width=4)
    assert ms.config["arch_kw"]["activation"] == "poly"
    assert ms.config["arch_kw"]["in_shape"] == (3, 8, 8) and ms.config["arch_kw"]["num_classes"] == 4
    assert "epochs" in ms.config["scale"]
    assert ms.buffers is not None  # BatchNorm statistics without affine parameters
    with pytest.raises(ValueError, match="number of minima"):
        tk.minima("fc", ds, "lenet", 0, scale=TINY)


def test_stand_in_is_reported():
    if (tk.data.raw_root() / "cifar10").exists():
        pytest.skip("CIFAR-10 is present; no stand-in to report")
    ms = quiet(tk.minima, "lp_dcnn", "cifar10", "lp_sgd", 1, scale=TINY, progress=False, width=4)
    assert ms.dataset != "cifar10" and ms.config["stand_in_for"] == "cifar10"
    assert ms.stand_in_note and "cifar" in ms.stand_in_note.lower()
    assert "STAND-IN" in ms.summary(file=open("/dev/null", "w"))  # noqa: SIM115


@pytest.mark.parametrize(("arch", "kw"), [("fc", {"width": 8}), ("cnn", {"channels": 4, "bn": True})])
def test_path_engine_contract(arch, kw):
    """``tk.ModuleObjective(ms.model, x, y)`` evaluated at ``ms.flat`` gives the stored losses."""
    if not hasattr(tk, "ModuleObjective"):
        pytest.skip("path engine not present")
    ds = synthetic_images()
    ms = quiet(tk.minima, arch, ds, "lenet", 2, scale=TINY, progress=False, **kw)
    obj = tk.ModuleObjective(ms.model, ms.train_data.x, ms.train_data.y)
    ev = obj.evaluate(ms.flat)
    assert torch.allclose(ev["loss"].double(), torch.as_tensor(ms.train_loss), rtol=1e-5)
    assert torch.allclose(ev["acc"].double(), torch.as_tensor(ms.train_acc))
