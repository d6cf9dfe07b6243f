"""Path optimisation (Alg. 1/3/4): laws (fixed endpoints, orthogonal steps), exact answers (a 2D
function's saddle value), endpoint reproduction with and without BatchNorm, resume, robustness."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.optim.swa_utils import update_bn

import toolkit as tk
from toolkit.paths import PathConfig, std_over_runs
from toolkit.paths._engine import (
    PathState,
    apply_insertions,
    choose_insertions,
    path_step,
    project_out,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def valley(xy: torch.Tensor) -> torch.Tensor:
    """Minima at (±1, 0) (value 0) in a curved valley ``y = x² − 1``; its saddle is (0, −1) with
    value exactly 1, while the straight segment between the minima peaks at 3."""
    x, y = xy[..., 0], xy[..., 1]
    return (x**2 - 1) ** 2 + 2 * (y - (x**2 - 1)) ** 2


MINIMA = torch.tensor([[-1.0, 0.0], [1.0, 0.0]])
FAST = dict(epochs=60, lr=0.02, weight_decay=0.0, lr_schedule="cosine", n_points=11)


def _net(bn: bool) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 8), *([nn.BatchNorm1d(8)] if bn else []), nn.ReLU(),
                         nn.Linear(8, 3))


def _module_setup(bn: bool, n_minima: int = 3):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(120, 5, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long() + (x[:, 2] > 0.5).long()
    model = _net(bn)
    base = tk.flatten_params(model)
    minima = base + 0.5 * torch.randn(n_minima, base.numel(), generator=g)
    return model, x, y, minima


# ---------------------------------------------------------------------------- laws


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_endpoints_unchanged(optimizer):
    model, x, y, minima = _module_setup(bn=False)
    obj = tk.ModuleObjective(model, x, y)
    cfg = PathConfig(epochs=4, n_points=5, batch_size=40, lr=0.05, optimizer=optimizer,
                     insert_every=2, insert_distance_ratio=1.0)
    ps = tk.optimize_paths(obj, minima, config=cfg, progress=False)
    assert ps.insertions, "the test should exercise insertion"
    for p, (i, j) in enumerate(ps.pairs.tolist()):
        path = ps.path(p)
        assert torch.equal(path[0], minima[i]) and torch.equal(path[-1], minima[j])
        assert not torch.equal(path[1], minima[i] + (minima[j] - minima[i]) / (len(path) - 1))
        assert torch.equal(ps.points[p, len(path):], minima[j].expand(ps.points.shape[1] - len(path), -1))


def test_projection_removes_tangent_component():
    g = torch.Generator().manual_seed(0)
    v, tau = torch.randn(7, 50, generator=g), torch.randn(7, 50, generator=g)
    tau = tau / tau.norm(dim=1, keepdim=True)
    c, vn = project_out(v, tau)
    assert torch.allclose((vn * tau).sum(1), torch.zeros(7), atol=1e-5)
    assert torch.allclose(vn + c * tau, v, atol=1e-6)


@pytest.mark.parametrize("optimizer,momentum", [("sgd", 0.0), ("sgd", 0.9), ("adam", 0.0)])
def test_step_is_orthogonal_to_tangent(optimizer, momentum):
    """Every step (after momentum / Adam scaling) moves a point orthogonally to its tangent."""
    obj = tk.FunctionObjective(lambda p: (p**2 * torch.arange(1.0, 5.0)).sum(-1) + p[..., 0] * p[..., 1], dim=4)
    minima = torch.tensor([[1.0, 2.0, -1.0, 0.5], [-2.0, 0.0, 1.0, 1.5]])
    st = PathState.straight(minima, torch.tensor([[0, 1]]), 6, optimizer)
    st.pts[0, 1:-1] += 0.3 * torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    idx = st.interior_index()
    for _ in range(3):  # momentum buffers from earlier tangents must be projected too
        before = st.pts.clone()
        flat = before.view(-1, 4)
        tau = flat[idx + 1] - flat[idx - 1]
        path_step(st, obj, None, idx, lr=0.01, optimizer=optimizer, momentum=momentum,
                  weight_decay=0.0, betas=(0.9, 0.999), eps=1e-8)
        move = st.pts.view(-1, 4)[idx] - flat[idx]
        cos = (move * tau).sum(1) / (move.norm(dim=1) * tau.norm(dim=1))
        assert move.norm(dim=1).min() > 0
        assert cos.abs().max() < 1e-5


# ---------------------------------------------------------------------------- exact answers


@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.02), ("adam", 0.02)])
def test_path_maximum_converges_to_saddle_value(optimizer, lr):
    obj = tk.FunctionObjective(valley, dim=2)
    straight = tk.evaluate_paths(obj, tk.optimize_paths(obj, MINIMA, config=PathConfig(epochs=0),
                                                        progress=False))
    assert straight.max_loss.item() == pytest.approx(3.0, abs=1e-6)
    ps = tk.optimize_paths(obj, MINIMA, config=PathConfig(**{**FAST, "optimizer": optimizer, "lr": lr}),
                           progress=False)
    ev = tk.evaluate_paths(obj, ps, between=5)
    assert ev.max_loss.item() == pytest.approx(1.0, abs=2e-3)
    assert ev.argmax_t.item() == pytest.approx(0.5, abs=0.05)
    assert ev.saddles() == {(0, 1): ev.max_loss.item()}
    assert ev.max_loss_std.item() == 0.0  # exact function: no data to resample


def _three_wells(xy: torch.Tensor) -> torch.Tensor:
    """``h(x) + 2(y − (x² − 1))²`` with ``h(x) = x²(x² − 4)²/9 − exp(−4x²)/2``: minima at
    x = −2, 0, 2 on the curved valley floor, saddles at the valley points where ``h' = 0``."""
    x, y = xy[..., 0], xy[..., 1]
    h = x**2 * (x**2 - 4) ** 2 / 9 - 0.5 * torch.exp(-4 * x**2)
    return h + 2 * (y - (x**2 - 1)) ** 2


def test_three_minima_saddles_feed_the_barcode():
    """The intro chapter's flow: ``FunctionObjective`` -> ``optimize_paths`` -> ``evaluate_paths``
    -> ``saddles()`` -> ``tk.minima_barcode``, against the saddle value known from the 1D profile."""
    xs = torch.linspace(0.0, 2.0, 200001, dtype=torch.float64)
    saddle = _three_wells(torch.stack([xs, xs**2 - 1], -1)).max().item()  # ≈ 1.053
    mins = torch.tensor([[-2.0, 3.0], [0.0, -1.0], [2.0, 3.0]])
    obj = tk.FunctionObjective(_three_wells, dim=2)
    cfg = PathConfig(epochs=100, lr=0.005, weight_decay=0.0, lr_schedule="cosine", n_points=15)
    ps = tk.optimize_paths(obj, mins, config=cfg, progress=False)
    ev = tk.evaluate_paths(obj, ps, between=5)
    s = ev.saddles()
    assert set(s) == {(0, 1), (0, 2), (1, 2)}
    assert s[(0, 1)] == pytest.approx(saddle, abs=5e-3) and s[(1, 2)] == pytest.approx(saddle, abs=5e-3)
    assert s[(0, 2)] >= saddle - 5e-3  # must climb over a saddle too
    bc = tk.minima_barcode(_three_wells(mins).tolist(), s)
    finite = sorted(d for d in bc.deaths.tolist() if d != float("inf"))
    assert finite == pytest.approx([saddle, saddle], abs=5e-3)


# ---------------------------------------------------------------------------- endpoints (BN)


@pytest.mark.parametrize("bn", [False, True])
def test_evaluation_at_t0_t1_reproduces_minima(bn):
    model, x, y, minima = _module_setup(bn)
    obj = tk.ModuleObjective(model, x, y, eval_chunk=50)
    ps = tk.optimize_paths(obj, minima, config=PathConfig(epochs=2, n_points=5, batch_size=40),
                           progress=False)
    ev = tk.evaluate_paths(obj, ps, between=1, bootstrap=20)
    direct = obj.evaluate(minima)["loss"]
    for p, (i, j) in enumerate(ps.pairs.tolist()):
        assert ev.endpoint_loss[p].tolist() == pytest.approx([direct[i].item(), direct[j].item()], abs=1e-6)
        assert ev.t[p][0] == 0 and ev.t[p][-1] == 1 and len(ev.t[p]) == 2 * (ps.n_points[p] - 1) + 1
    # second implementation: a module copy per minimum with torch's update_bn
    for i in range(len(minima)):
        m = copy.deepcopy(model)
        torch.nn.utils.vector_to_parameters(minima[i], m.parameters())
        if bn:
            update_bn([(xb,) for xb in x.split(50)], m)
        m.eval()
        with torch.no_grad():
            ref = nn.functional.cross_entropy(m(x), y).item()
        assert ev.minima_losses()[i] == pytest.approx(ref, abs=1e-5)
    assert (ev.max_loss >= ev.endpoint_loss.max(dim=1).values).all()
    assert (ev.max_loss_std > 0).all() and len(ev.acc) == len(ps)


# ---------------------------------------------------------------------------- robustness


class _Interrupting(tk.ModuleObjective):
    """Raises after a number of loss calls, like a killed job."""

    def __init__(self, *a, after: int, **kw):
        super().__init__(*a, **kw)
        self.after = after

    def loss(self, theta, batch):
        self.after -= 1
        if self.after < 0:
            raise KeyboardInterrupt
        return super().loss(theta, batch)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_resume_equals_uninterrupted(tmp_path, optimizer):
    model, x, y, minima = _module_setup(bn=True)
    cfg = PathConfig(epochs=6, n_points=5, batch_size=30, lr=0.05, insert_every=2,
                     insert_criterion="loss", insert_loss_tol=0.0, checkpoint_every=5,
                     optimizer=optimizer)
    full = tk.optimize_paths(tk.ModuleObjective(model, x, y), minima, config=cfg, progress=False, seed=3)
    ck = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        tk.optimize_paths(_Interrupting(model, x, y, after=13), minima, config=cfg, checkpoint=ck,
                          progress=False, seed=3)
    assert ck.exists()
    resumed = tk.optimize_paths(tk.ModuleObjective(model, x, y), minima, config=cfg, checkpoint=ck,
                                resume=True, progress=False, seed=3)
    assert torch.equal(full.points, resumed.points)
    assert full.insertions == resumed.insertions and full.steps == resumed.steps == 24
    for k in ("grad_normal", "loss"):
        assert all(torch.equal(a.nan_to_num(), b.nan_to_num())
                   for a, b in zip(full.diagnostics[k], resumed.diagnostics[k]))
    other = tk.optimize_paths(tk.ModuleObjective(model, x, y), minima, config=cfg, progress=False, seed=4)
    assert not torch.equal(full.points, other.points)  # the seed matters, so equality above means something
    with pytest.raises(ValueError, match="another configuration"):
        tk.optimize_paths(tk.ModuleObjective(model, x, y), minima, config=PathConfig(epochs=7),
                          checkpoint=ck, resume=True, progress=False, seed=3)


def _blows_up(xy):
    x, y = xy[..., 0], xy[..., 1]
    return (x**2 - 1) ** 2 + 50 * y**4


def test_nonfinite_raises_naming_path_and_point():
    def f(xy):
        x, y = xy[..., 0], xy[..., 1]
        return (x**2 - 1) ** 2 + y**2 + torch.where(x.abs() < 0.2, torch.log(y - 10), 0.0)

    obj = tk.FunctionObjective(f, dim=2)
    with pytest.raises(FloatingPointError, match=r"path 0 \(minima 0-1\), point 2 of 5"):
        tk.optimize_paths(obj, MINIMA, config=PathConfig(epochs=2, n_points=5), progress=False)


def test_nonfinite_backoff_lowers_lr_and_finishes():
    obj = tk.FunctionObjective(_blows_up, dim=2)
    cfg = PathConfig(epochs=5, n_points=5, lr=20.0, momentum=0.0, weight_decay=0.0,
                     lr_schedule="constant", insert_criterion=None, check_every=3)
    with pytest.raises(FloatingPointError):
        tk.optimize_paths(obj, torch.tensor([[-1.0, 0.5], [1.0, -0.5]]), config=cfg, progress=False)
    ps = tk.optimize_paths(obj, torch.tensor([[-1.0, 0.5], [1.0, -0.5]]),
                           config=dataclasses_replace(cfg, on_nonfinite="backoff"), progress=False)
    assert ps.events and "lr scale" in ps.events[0]
    assert torch.isfinite(ps.points).all() and ps.steps == 50


def dataclasses_replace(cfg, **kw):
    import dataclasses

    return dataclasses.replace(cfg, **kw)


# ---------------------------------------------------------------------------- insertion (Alg. 4)


def _state_with(points: torch.Tensor) -> PathState:
    st = PathState.straight(points[[0, -1]], torch.tensor([[0, 1]]), len(points), "sgd")
    st.pts[0] = points
    return st


def test_distance_criterion_picks_long_segments_and_respects_caps():
    pts = torch.tensor([[0.0, 0], [1, 0], [2, 0], [6, 0], [7, 0], [8, 0]])
    st = _state_with(pts)
    segs = choose_insertions(st, "distance", distance_ratio=1.5, loss_tol=0.0, max_insert=4, max_points=64)
    assert segs == [[2]]  # the 4-long segment among 1-long ones
    assert apply_insertions(st, segs, epoch=25) == 1
    assert st.n == [7] and st.pts[0, 3].tolist() == [4.0, 0.0] and st.insertions == [[25, 0, 3]]
    assert choose_insertions(st, "distance", distance_ratio=1.5, loss_tol=0.0, max_insert=4,
                             max_points=7) == [[]]
    even = _state_with(torch.stack([torch.arange(6.0), torch.zeros(6)], 1))
    assert choose_insertions(even, "distance", distance_ratio=1.5, loss_tol=0.0, max_insert=4,
                             max_points=64) == [[]]


def test_loss_criterion_picks_peak_between_points():
    st = _state_with(torch.stack([torch.arange(5.0), torch.zeros(5)], 1))
    node = torch.tensor([[0.0, 1.0, 1.2, 1.0, 0.0]])
    mid = torch.tensor([[0.5, 1.1, 3.0, 0.5]])  # a peak between points 2 and 3
    segs = choose_insertions(st, "loss", distance_ratio=1.5, loss_tol=0.05, max_insert=4,
                             max_points=64, seg_loss=mid, node_loss=node)
    assert segs == [[2]]  # only segment 2 rises above both its ends (by 1.8 > 0.05 × range 3)
    assert choose_insertions(st, "loss", distance_ratio=1.5, loss_tol=0.7, max_insert=4, max_points=64,
                             seg_loss=mid, node_loss=node) == [[]]  # 1.8 < 0.7 × 3


def test_loss_insertion_fixes_coarse_path():
    """Six points across two wells: the straight pieces cut over the ridges and the path max
    overestimates the saddle; Alg. 4 with the loss criterion inserts points there and fixes it."""
    xs = torch.linspace(0.0, 2.0, 200001, dtype=torch.float64)
    saddle = _three_wells(torch.stack([xs, xs**2 - 1], -1)).max().item()
    obj = tk.FunctionObjective(_three_wells, dim=2)
    mins = torch.tensor([[-2.0, 3.0], [2.0, 3.0]])
    cfg = PathConfig(epochs=60, lr=0.005, weight_decay=0.0, lr_schedule="cosine", n_points=6,
                     insert_every=10, insert_criterion="loss")
    ps = tk.optimize_paths(obj, mins, config=cfg, progress=False)
    assert ps.insertions and int(ps.n_points[0]) > 6
    assert all(e % 10 == 0 and e < cfg.epochs for e, _, _ in ps.insertions)
    assert torch.equal(ps.path(0)[0], mins[0]) and torch.equal(ps.path(0)[-1], mins[1])
    none = tk.optimize_paths(obj, mins, config=dataclasses_replace(cfg, insert_criterion=None),
                             progress=False)
    assert int(none.n_points[0]) == 6 and not none.insertions
    coarse = tk.evaluate_paths(obj, none, between=9).max_loss.item()
    fine = tk.evaluate_paths(obj, ps, between=9).max_loss.item()
    assert coarse > saddle + 0.1
    assert fine == pytest.approx(saddle, abs=0.01)


# ---------------------------------------------------------------------------- results


def test_diagnostics_recorded_per_epoch_and_point():
    obj = tk.FunctionObjective(valley, dim=2)
    ps = tk.optimize_paths(obj, MINIMA, config=PathConfig(**FAST, insert_criterion=None), progress=False)
    d = ps.diagnostics
    assert d["epoch"] == list(range(FAST["epochs"]))
    gn = torch.stack(d["grad_normal"])  # [epochs, P, K]
    assert gn.shape == (FAST["epochs"], 1, FAST["n_points"])
    assert torch.isnan(gn[:, 0, 0]).all() and torch.isnan(gn[:, 0, -1]).all()
    assert (gn[-1, 0, 1:-1] < 0.05 * gn[0, 0, 1:-1]).all()  # App. E: orthogonal gradient vanishes
    assert torch.isfinite(torch.stack(d["grad_tangent"])[:, 0, 1:-1]).all()


def test_results_roundtrip_through_cache():
    model, x, y, minima = _module_setup(bn=True)
    obj = tk.ModuleObjective(model, x, y)
    cfg = PathConfig(epochs=2, n_points=4, batch_size=40, insert_every=1, insert_distance_ratio=1.0)
    ps = tk.cache.cached("test-paths", {"cfg": cfg}, lambda: tk.optimize_paths(obj, minima, config=cfg,
                                                                             progress=False))
    again = tk.cache.cached("test-paths", {"cfg": cfg}, lambda: pytest.fail("recomputed"))
    assert torch.equal(ps.points, again.points) and again.insertions == ps.insertions
    assert again.config == ps.config
    ev = tk.cache.cached("test-eval", {"cfg": cfg}, lambda: tk.evaluate_paths(obj, ps))
    ev2 = tk.cache.cached("test-eval", {"cfg": cfg}, lambda: pytest.fail("recomputed"))
    assert ev2.saddles() == ev.saddles() and torch.equal(ev2.max_loss_std, ev.max_loss_std)
    assert all(torch.equal(a, b) for a, b in zip(ev.loss, ev2.loss))


def test_std_over_runs():
    obj = tk.FunctionObjective(valley, dim=2)
    evs = [tk.evaluate_paths(obj, tk.optimize_paths(obj, MINIMA, config=PathConfig(**{**FAST, "epochs": e}),
                                                    progress=False)) for e in (3, 6)]
    assert std_over_runs(evs).item() == pytest.approx(abs(evs[0].max_loss - evs[1].max_loss).item() / 2**0.5)
    with pytest.raises(ValueError):
        std_over_runs(evs[:1])


def test_bad_inputs_are_reported():
    obj = tk.FunctionObjective(valley, dim=2)
    with pytest.raises(ValueError, match="Tensor\\[N, D=2\\]"):
        tk.optimize_paths(obj, torch.zeros(3, 4), progress=False)
    with pytest.raises(ValueError, match="pairs"):
        tk.optimize_paths(obj, MINIMA, pairs=[(0, 0)], progress=False)
    with pytest.raises(ValueError, match="insert_criterion"):
        tk.optimize_paths(obj, MINIMA, config=PathConfig(insert_criterion="middle"), progress=False)
