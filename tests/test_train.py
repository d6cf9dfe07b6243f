"""The training loop: schedules, determinism, resume, full-batch GD, convergence warning."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import toolkit as tk
from toolkit import _loop
from toolkit import recipes as R
from toolkit import train as T


def _blobs(n=96, d=4, k=3, seed=0, sep=3.0):
    """Well-separated Gaussian blobs as images [n, 1, 1, d] with labels [n]."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    centres = sep * torch.randn(k, d, generator=g)
    x = centres[y] + 0.3 * torch.randn(n, d, generator=g)
    return x.view(n, 1, 1, d), y


def _net(seed=0, d=4, k=3):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(d, 16), nn.ReLU(), nn.Linear(16, k))


def test_constant_and_cyclic_schedule_values():
    r = R.Recipe(lr=1.0, schedule="cyclic", schedule_args={"cycles": 2, "floor": 0.1})
    # two triangles: floor at 0, 0.5, 1; peak at 0.25 and 0.75; halfway up at 0.125
    for p, want in [(0.0, 0.1), (0.25, 1.0), (0.5, 0.1), (0.75, 1.0), (1.0, 0.1), (0.125, 0.55)]:
        assert r.lr_at(p, 0) == pytest.approx(want)
    r2 = r.replace(schedule_args={"cycles": 2, "floor": 0.0, "decay": 0.5})
    assert r2.lr_at(0.75, 0) == pytest.approx(0.5)  # triangular2: second peak halved
    assert R.Recipe(lr=0.3).lr_at(0.7, 3) == 0.3


def test_anneal_matches_authors_knots():
    r = R.RECIPES["resnet_type2"]
    assert r.lr_at(0.0, 0) == pytest.approx(5e-2)
    assert r.lr_at(0.1, 0) == pytest.approx(5e-2)
    assert r.lr_at(0.3, 0) == pytest.approx(5e-2 + (1e-4 - 5e-2) * 0.5)
    assert r.lr_at(0.5, 0) == pytest.approx(1e-4) and r.lr_at(0.9, 0) == pytest.approx(1e-4)


def test_garipov_schedule():
    r = R.RECIPES["wrn_garipov"]  # 200 epochs, lr 0.03
    assert r.lr_at(0, 100) == pytest.approx(0.03)              # t = 0.5
    assert r.lr_at(0, 140) == pytest.approx(0.03 * (1 - 0.99 * 0.5))  # t = 0.7
    assert r.lr_at(0, 180) == pytest.approx(0.0003) and r.lr_at(0, 199) == pytest.approx(0.0003)


def test_recipe_validation_names_the_bad_value():
    with pytest.raises(ValueError, match="'rmsprop'"):
        R.Recipe(optimizer="rmsprop")
    with pytest.raises(ValueError, match="'weird'"):
        R.Recipe(schedule="weird")
    with pytest.raises(ValueError, match="unknown recipe 'nope'"):
        R.get_recipe("nope")
    assert "(ours)" in R.RECIPES["lenet"].describe()


def test_presets_cannot_be_edited_through_a_copy():
    r = R.RECIPES["fc_cyclic"]
    r2 = r.replace(epochs=3)
    r2.schedule_args["cycles"] = 99
    assert r.schedule_args["cycles"] == 2


@pytest.mark.parametrize("name", ["fc_cyclic", "lenet", "lp_sgd"])
def test_training_is_deterministic_bit_for_bit(name):
    x, y = _blobs()
    recipe = R.RECIPES[name].replace(epochs=3, batch_size=16)
    a = T.train(_net(), (x, y), recipe, seed=5, device="cpu", progress=False, warn=False)
    b = T.train(_net(), (x, y), recipe, seed=5, device="cpu", progress=False, warn=False)
    c = T.train(_net(), (x, y), recipe, seed=6, device="cpu", progress=False, warn=False)
    assert all(torch.equal(a.state[k], b.state[k]) for k in a.state)
    assert not all(torch.equal(a.state[k], c.state[k]) for k in a.state)  # seed changes batches


def test_resume_after_interruption_is_bit_identical(tmp_path, monkeypatch):
    x, y = _blobs()
    recipe = R.RECIPES["fc_cyclic"].replace(epochs=4, batch_size=16)
    full = T.train(_net(), (x, y), recipe, seed=1, device="cpu", progress=False, warn=False)

    def crash(epoch):
        if epoch == 1:
            raise KeyboardInterrupt

    ckpt = tmp_path / "run.pt"
    monkeypatch.setattr(_loop, "_epoch_done", crash)
    with pytest.raises(KeyboardInterrupt):
        T.train(_net(), (x, y), recipe, seed=1, device="cpu", progress=False, checkpoint=ckpt)
    assert ckpt.exists()
    monkeypatch.setattr(_loop, "_epoch_done", lambda epoch: None)
    # a fresh (differently initialised) model: everything must come from the checkpoint
    resumed = T.train(_net(seed=123), (x, y), recipe, seed=1, device="cpu", progress=False,
                      checkpoint=ckpt, warn=False)
    assert all(torch.equal(full.state[k], resumed.state[k]) for k in full.state)
    assert resumed.history["loss"] == full.history["loss"]


def test_full_batch_gd_is_one_exact_gradient_step_per_epoch():
    x, y = _blobs(n=50)
    recipe = R.Recipe(optimizer="sgd", lr=0.1, epochs=1, batch_size=None, chunk=7)
    net = _net()
    ref = _net()
    loss = nn.functional.cross_entropy(ref(x), y)
    grads = torch.autograd.grad(loss, list(ref.parameters()))
    expected = [p.detach() - 0.1 * g for p, g in zip(ref.parameters(), grads, strict=True)]
    T.train(net, (x, y), recipe, seed=0, device="cpu", progress=False, warn=False)
    for p, e in zip(net.parameters(), expected, strict=True):
        assert torch.allclose(p.detach(), e, atol=1e-6)


def test_convergence_check_reports_and_warns():
    x, y = _blobs()
    easy = R.Recipe(optimizer="adam", lr=0.02, epochs=60, batch_size=32, loss_tol=0.05, grad_tol=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a converged run must not warn
        res = T.train(_net(), (x, y), easy, seed=0, device="cpu", progress=False)
    assert res.converged and res.train_acc == 1.0 and res.train_loss < 0.05
    assert res.grad_norm == pytest.approx(T.full_grad_norm(_load(res), x, y), rel=1e-5)
    short = easy.replace(epochs=1, lr=1e-4)
    with pytest.warns(UserWarning, match="did not converge"):
        res = T.train(_net(), (x, y), short, seed=0, device="cpu", progress=False)
    assert not res.converged


def _load(res):
    net = _net()
    net.load_state_dict(res.state)
    return net.eval()


def test_divergence_raises_with_advice():
    x, y = _blobs()
    bad = R.Recipe(optimizer="sgd", lr=1e12, epochs=2, batch_size=16)
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        T.train(_net(), (x, y), bad, seed=0, device="cpu", progress=False)


def test_flip_crop_is_a_shifted_possibly_flipped_copy():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    out = T._flip_crop(x, torch.Generator().manual_seed(0), pad=2)
    assert out.shape == x.shape
    padded = nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):
        candidates = [padded[i, :, r:r + 8, c:c + 8] for r in range(5) for c in range(5)]
        candidates += [nn.functional.pad(x[i].flip(2), (2, 2, 2, 2))[:, r:r + 8, c:c + 8]
                       for r in range(5) for c in range(5)]
        assert any(torch.equal(out[i], c) for c in candidates)


def test_evaluate_matches_direct_computation():
    x, y = _blobs(n=33)
    net = _net().eval()
    loss, acc = T.evaluate(net, x, y, chunk=10)
    with torch.no_grad():
        out = net(x)
    assert loss == pytest.approx(nn.functional.cross_entropy(out, y).item(), rel=1e-6)
    assert acc == pytest.approx((out.argmax(1) == y).float().mean().item())


def test_scales_describe_what_they_change():
    cpu = tk.scales.get("cpu", "lenet")
    text = cpu.describe("lenet")
    assert "(paper: 50)" in text and "10,000" in text
    assert cpu.apply("lenet").epochs == cpu.epochs < 50
    custom = tk.scales.Scale("cpu", recipe_overrides={"lr": 2e-3})
    assert "recipe.lr" in custom.describe("lenet") and custom.apply("lenet").lr == 2e-3
    assert tk.scales.get("paper", "lenet").apply("lenet") == R.RECIPES["lenet"]
    assert tk.scales.get("smoke").epochs == 1 and tk.scales.get("smoke").n_minima == 2
    with pytest.raises(ValueError, match="'huge'"):
        tk.scales.get("huge")


def test_recompute_bn_gives_the_training_set_statistics():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2 * 9, 2))
    x = torch.randn(40, 1, 3, 3) * 3 + 1
    T.recompute_bn(net.eval(), x, chunk=40)
    with torch.no_grad():
        h = net[0](x)
    assert torch.allclose(net[1].running_mean, h.mean(dim=(0, 2, 3)), atol=1e-5)
    assert torch.allclose(net[1].running_var, h.var(dim=(0, 2, 3), unbiased=True), atol=1e-4)
    assert not net.training  # mode restored


def test_recording_snapshots_along_the_trajectory(tmp_path, monkeypatch):
    x, y = _blobs()
    recipe = R.RECIPES["lp_sgd"].replace(epochs=3, batch_size=32)  # 3 steps per epoch
    plain = T.train(_net(), (x, y), recipe, seed=1, device="cpu", progress=False, warn=False)
    assert plain.snapshots is None and plain.snapshot_steps == []
    init = tk.flatten_params(_net())
    by_epoch = T.train(_net(), (x, y), recipe, seed=1, device="cpu", progress=False, warn=False,
                       record_every="epoch")
    assert by_epoch.snapshot_steps == [0, 3, 6, 9]
    assert by_epoch.snapshots.shape == (4, init.numel())
    assert torch.equal(by_epoch.snapshots[0], init)  # the starting point
    model = _net()
    model.load_state_dict(by_epoch.state)
    assert torch.equal(by_epoch.snapshots[-1], tk.flatten_params(model))  # the final point
    # recording does not change the trajectory
    assert all(torch.equal(plain.state[k], by_epoch.state[k]) for k in plain.state)
    by_step = T.train(_net(), (x, y), recipe, seed=1, device="cpu", progress=False, warn=False,
                      record_every=2)
    assert by_step.snapshot_steps == [0, 2, 4, 6, 8]
    torch.testing.assert_close(by_step.snapshots[3], by_epoch.snapshots[2], rtol=0, atol=0)
    # full-batch GD: one step per epoch
    gd = T.train(_net(), (x, y), R.RECIPES["lp_gd"].replace(epochs=4), seed=1, device="cpu",
                 progress=False, warn=False, record_every="epoch")
    assert gd.snapshot_steps == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="record_every"):
        T.train(_net(), (x, y), recipe, seed=1, device="cpu", progress=False, record_every=0)

    # resumed from a checkpoint after a crash in epoch 2: the same snapshots
    ckpt = tmp_path / "run.pt"

    def crash(epoch):
        if epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(_loop, "_epoch_done", crash)
    with pytest.raises(KeyboardInterrupt):
        T.train(_net(), (x, y), recipe, seed=1, device="cpu", progress=False, warn=False,
                record_every="epoch", checkpoint=ckpt)
    monkeypatch.setattr(_loop, "_epoch_done", lambda epoch: None)
    resumed = T.train(_net(), (x, y), recipe, seed=1, device="cpu", progress=False, warn=False,
                      record_every="epoch", checkpoint=ckpt)
    assert resumed.snapshot_steps == by_epoch.snapshot_steps
    assert torch.equal(resumed.snapshots, by_epoch.snapshots)
