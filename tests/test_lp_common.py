"""Pieces shared by the Liao & Poggio experiments: perturbation, scoring with training-set
BatchNorm statistics, per-group MDS, and the single-thread context."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import toolkit as tk
from toolkit.data import Dataset
from toolkit.experiments.lp_common import (
    LPData,
    Scorer,
    grouped_mds,
    lp_model,
    perturb_layers,
    predict,
    set_params,
    single_thread,
)


def _data(n: int, seed: int) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    return Dataset("toy", "train", torch.rand(n, 3, 32, 32, generator=g),
                   torch.randint(0, 10, (n,), generator=g), 10)


@pytest.fixture(scope="module")
def toy(one_thread):
    train, test = _data(40, 0), _data(30, 1)
    return train, test, lp_model(0, train.x, width=4)


def test_perturb_layers_scales_noise_by_each_tensor(toy):
    _, _, model = toy
    flat = tk.flatten_params(model)
    assert torch.equal(perturb_layers(flat, model, 0.0, tk.seeds.generator(0)), flat)
    out = perturb_layers(flat, model, 0.5, tk.seeds.generator(0))
    again = perturb_layers(flat, model, 0.5, tk.seeds.generator(0))
    assert torch.equal(out, again) and not torch.equal(out, flat)  # seeded, and it moved
    i = 0
    for p in model.parameters():  # noise std / tensor std ~ 0.5 for the big tensors
        n = p.numel()
        if n >= 500:
            ratio = float((out[i:i + n] - flat[i:i + n]).std() / flat[i:i + n].std())
            assert ratio == pytest.approx(0.5, rel=0.15)
        i += n
    m = perturb_layers(flat, model, 0.5, tk.seeds.generator(0), relative_to="mean_abs")
    assert not torch.equal(m, out)
    with pytest.raises(ValueError, match="relative_to"):
        perturb_layers(flat, model, 0.5, tk.seeds.generator(0), relative_to="max")


def test_perturb_layers_leaves_the_input_alone(toy):
    _, _, model = toy
    flat = tk.flatten_params(model)
    before = flat.clone()
    perturb_layers(flat, model, 1.0, tk.seeds.generator(1))
    assert torch.equal(flat, before)


@pytest.mark.parametrize("bn_chunk", [500, 16])  # one chunk; chunks of 16, 16, 8
def test_scorer_uses_training_batchnorm_statistics_for_the_test_set(toy, bn_chunk, monkeypatch):
    monkeypatch.setattr("toolkit.experiments.lp_common.BN_CHUNK", bn_chunk)
    train, test, model = toy
    flat = tk.flatten_params(model)
    thetas = torch.stack([flat, perturb_layers(flat, model, 0.3, tk.seeds.generator(2))])
    ev = Scorer(model, train, test, torch.device("cpu"))(thetas)
    for k, th in enumerate(thetas):  # second implementation: one model, update_bn, evaluate
        set_params(model, th)
        tk.train.recompute_bn(model, train.x, chunk=min(bn_chunk, len(train)))
        model.eval()
        tl, ta = tk.train.evaluate(model, train.x, train.y)
        sl, sa = tk.train.evaluate(model, test.x, test.y)
        assert ev["train_loss"][k] == pytest.approx(tl, rel=1e-4)
        assert ev["train_err"][k] == pytest.approx(1 - ta, abs=1e-6)
        assert ev["test_loss"][k] == pytest.approx(sl, rel=1e-4)
        assert ev["test_err"][k] == pytest.approx(1 - sa, abs=1e-6)
        pred = predict(model, th, train, test, torch.device("cpu"))
        assert np.mean(pred != test.y.numpy()) == pytest.approx(ev["test_err"][k], abs=1e-6)


def test_module_objective_bn_x_defaults_to_x(toy):
    train, _, model = toy
    flat = tk.flatten_params(model)[None]
    a = tk.ModuleObjective(model, train.x, train.y, eval_chunk=40).evaluate(flat)["loss"]
    b = tk.ModuleObjective(model, train.x, train.y, eval_chunk=40, bn_x=train.x).evaluate(flat)
    assert torch.allclose(a, b["loss"])


def test_grouped_mds_is_the_mds_of_each_group_alone():
    w = torch.randn(9, 4, 3, generator=torch.Generator().manual_seed(0)) + 2.0
    groups = np.array([0, 0, 0, 1, 1, 1, 1, 2, 0])
    coords, explained = grouped_mds(w, groups)
    for g in (0, 1):
        idx = np.flatnonzero(groups == g)
        d = tk.embed.cosine_distances(w[idx].reshape(len(idx), -1)).numpy()
        ref = tk.embed.classical_mds(d)
        np.testing.assert_allclose(coords[idx], ref.coords, atol=1e-12)
        np.testing.assert_allclose(explained[g], ref.explained, atol=1e-12)
    np.testing.assert_array_equal(coords[groups == 2], 0.0)  # one point: no embedding
    np.testing.assert_array_equal(explained[2], 0.0)


def test_grouped_mds_with_the_angle_recovers_points_on_a_great_circle():
    # unit vectors at angles 0, 0.1, 0.3, 0.6 on a circle: the angle is an exact 1D distance
    t = np.array([0.0, 0.1, 0.3, 0.6])
    w = torch.tensor(np.c_[np.cos(t), np.sin(t), np.zeros(4)])
    coords, explained = grouped_mds(w, np.zeros(4, dtype=int), metric="angle")
    x = coords[:, 0] * np.sign(coords[-1, 0] - coords[0, 0])
    np.testing.assert_allclose(x - x[0], t, atol=1e-6)
    assert explained[0, 0] == pytest.approx(1.0, abs=1e-6)
    c_cos, _ = grouped_mds(w, np.zeros(4, dtype=int))  # 1 - cos ~ t^2/2: spacing distorted
    fit = np.polyval(np.polyfit(t, c_cos[:, 0], 1), t)
    assert np.abs(fit - c_cos[:, 0]).max() > 1e-3 * np.ptp(c_cos[:, 0])
    with pytest.raises(ValueError, match="metric"):
        grouped_mds(w, np.zeros(4, dtype=int), metric="euclid")


def test_single_thread_restores_the_thread_count():
    n = torch.get_num_threads()
    with single_thread("cpu"):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == n
    with pytest.raises(RuntimeError), single_thread("cpu"):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == n


def test_lp_data_label_names_the_stand_in():
    real = LPData("cifar10", 100, 50, None, None)
    assert real.label == "cifar10 (100 training / 50 test images)" and not real.stand_in
    si = LPData("fashion-mnist", 100, 0, "cifar10", "files absent", subsets=(10, 100))
    assert "STAND-IN for cifar10" in si.label and "subsets of 10, 100" in si.label
    assert si.verdict_label.endswith("files absent") and si.stand_in
