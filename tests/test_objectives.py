"""Objectives: the vmapped loss/evaluation must equal a second implementation (one module copy per
point, ``torch.optim.swa_utils.update_bn`` for BatchNorm statistics)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.optim.swa_utils import update_bn

import toolkit as tk
from toolkit.objectives import FunctionObjective, ModuleObjective, flatten_params, unflatten_params

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def _mlp(bn: bool) -> nn.Module:
    torch.manual_seed(0)
    layers = [nn.Linear(6, 8)] + ([nn.BatchNorm1d(8)] if bn else []) + [nn.ReLU(), nn.Linear(8, 3)]
    return nn.Sequential(*layers)


def _cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(3 * 4 * 4, 3))


def _data(shape: tuple[int, ...], n: int = 90) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, *shape, generator=g)
    y = torch.randint(0, 3, (n,), generator=g)
    return x, y


def _copy_at(model: nn.Module, flat: torch.Tensor) -> nn.Module:
    m = copy.deepcopy(model)
    torch.nn.utils.vector_to_parameters(flat, m.parameters())
    return m


def _reference_eval(model: nn.Module, flat: torch.Tensor, x, y, chunk: int) -> tuple[float, float]:
    """One module copy, BN statistics by torch's update_bn over the same chunks, then eval."""
    m = _copy_at(model, flat)
    if any(isinstance(mod, nn.modules.batchnorm._BatchNorm) for mod in m.modules()):
        update_bn([(xb,) for xb in x.split(chunk)], m)
    m.eval()
    with torch.no_grad():
        out = m(x)
    return float(nn.functional.cross_entropy(out, y)), float((out.argmax(-1) == y).float().mean())


def test_flatten_roundtrip_matches_parameters_to_vector():
    model = _cnn()
    flat = flatten_params(model)
    assert torch.equal(flat, torch.nn.utils.parameters_to_vector(model.parameters()))
    parts = unflatten_params(model, flat)
    assert list(parts) == [n for n, _ in model.named_parameters()]
    for (_, p), v in zip(model.named_parameters(), parts.values()):
        assert torch.equal(p, v)
    batched = unflatten_params(model, flat.expand(4, -1))
    assert next(iter(batched.values())).shape[0] == 4
    with pytest.raises(ValueError, match="entries"):
        unflatten_params(model, flat[:-1])


@pytest.mark.parametrize("bn", [False, True])
def test_loss_and_grad_equal_per_point_copies(bn):
    model = _mlp(bn)
    x, y = _data((6,))
    obj = ModuleObjective(model, x, y)
    theta = flatten_params(model) + 0.3 * torch.randn(3, obj.dim, generator=torch.Generator().manual_seed(2))
    theta.requires_grad_(True)
    batch = (x[:32], y[:32])
    loss = obj.loss(theta, batch)
    (grad,) = torch.autograd.grad(loss.sum(), theta)
    for b in range(3):
        m = _copy_at(model, theta[b].detach()).train()  # BN: batch statistics, like training
        ref = nn.functional.cross_entropy(m(batch[0]), batch[1])
        ref_grad = torch.autograd.grad(ref, list(m.parameters()))
        assert torch.allclose(loss[b], ref, atol=1e-6)
        assert torch.allclose(grad[b], torch.cat([g.reshape(-1) for g in ref_grad]), atol=1e-6)


@pytest.mark.parametrize("factory,shape", [(lambda: _mlp(False), (6,)), (lambda: _mlp(True), (6,)),
                                           (_cnn, (1, 6, 6))])
def test_evaluate_equals_update_bn_reference(factory, shape):
    model = factory()
    x, y = _data(shape)
    obj = ModuleObjective(model, x, y, eval_chunk=40, point_chunk=2)  # uneven chunks on purpose
    theta = flatten_params(model) + 0.3 * torch.randn(3, obj.dim, generator=torch.Generator().manual_seed(3))
    ev = obj.evaluate(theta, return_chunks=True)
    for b in range(3):
        loss, acc = _reference_eval(model, theta[b], x, y, 40)
        assert ev["loss"][b].item() == pytest.approx(loss, abs=1e-5)
        assert ev["acc"][b].item() == pytest.approx(acc, abs=1e-6)
    assert ev["chunk_loss"].shape == (3, 3) and ev["chunk_count"].tolist() == [40.0, 40.0, 10.0]
    assert torch.allclose(ev["chunk_loss"].sum(0) / 90, ev["loss"])


def test_objective_leaves_model_untouched():
    model = _mlp(True)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = _data((6,))
    obj = ModuleObjective(model, x, y)
    theta = flatten_params(model)[None].repeat(2, 1)
    obj.loss(theta, (x[:16], y[:16]))
    obj.evaluate(theta)
    assert model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_batches_cover_epoch_and_depend_on_generator():
    x, y = _data((6,), n=100)
    obj = ModuleObjective(_mlp(False), x, y)
    assert obj.steps_per_epoch(32) == 3  # drop_last
    b1 = [yb for _, yb in obj.batches(32, torch.Generator().manual_seed(0))]
    b2 = [yb for _, yb in obj.batches(32, torch.Generator().manual_seed(0))]
    b3 = [yb for _, yb in obj.batches(32, torch.Generator().manual_seed(1))]
    assert len(b1) == 3 and all(len(b) == 32 for b in b1)
    assert all(torch.equal(a, b) for a, b in zip(b1, b2))
    assert not all(torch.equal(a, b) for a, b in zip(b1, b3))


def test_function_objective():
    obj = tk.FunctionObjective(lambda p: (p**2).sum(-1), dim=3, steps_per_epoch=7)
    theta = torch.arange(6.0).view(2, 3)
    assert obj.loss(theta, None).tolist() == [5.0, 50.0]
    assert list(obj.batches(10, torch.Generator())) == [None] * 7
    ev = obj.evaluate(theta, return_chunks=True)
    assert ev["loss"].tolist() == [5.0, 50.0] and "acc" not in ev
    with pytest.raises(ValueError):
        FunctionObjective(lambda p: p.sum(-1), dim=0)


def test_loop_batching_equals_vmap_with_batchnorm():
    """The per-point loop (``batching="loop"``, the CPU default for convolutional nets) gives the
    same losses, gradients and BatchNorm-recalibrated evaluations as the vectorised map."""
    model = tk.models.build_seeded("cnn", 0, layers=2, channels=4, bn=True, in_shape=(1, 12, 12))
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(64, 1, 12, 12, generator=g), torch.randint(0, 10, (64,), generator=g)
    base = tk.flatten_params(model)
    theta = base + 0.1 * torch.randn(5, base.numel(), generator=g)
    a = tk.ModuleObjective(model, x, y, batching="vmap", eval_chunk=16)
    b = tk.ModuleObjective(model, x, y, batching="loop", eval_chunk=16)
    assert tk.ModuleObjective(model, x, y)._has_conv
    t1, t2 = theta.clone().requires_grad_(), theta.clone().requires_grad_()
    la, lb = a.loss(t1, (x[:32], y[:32])), b.loss(t2, (x[:32], y[:32]))
    assert torch.allclose(la, lb, atol=1e-5)
    ga, gb = (torch.autograd.grad(v.sum(), t)[0] for v, t in ((la, t1), (lb, t2)))
    assert torch.allclose(ga, gb, atol=1e-5)
    ea, eb = a.evaluate(theta, return_chunks=True), b.evaluate(theta, return_chunks=True)
    assert all(torch.allclose(ea[k], eb[k], atol=1e-4) for k in ea)
    with pytest.raises(ValueError, match="batching"):
        tk.ModuleObjective(model, x, y, batching="fast")
