"""Path optimisation (Alg. 1/3/4) and its evaluation: laws (fixed endpoints, orthogonal steps,
ordered points), exact answers (2D saddles known in closed form, with the default configuration
and its variants), certified maxima, convergence and pruning, endpoint reproduction with and
without BatchNorm, resume, robustness."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from torch import nn
from torch.optim.swa_utils import update_bn

import toolkit as tk
from toolkit.paths import PathConfig, PathSet, std_over_runs
from toolkit.paths._engine import Layout, PathState, path_step, tangents
from toolkit.paths._geometry import choose_insertions, resample
from toolkit.paths._track import Tracker

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


# ---------------------------------------------------------------------------- 2D functions


def double_well(xy: torch.Tensor) -> torch.Tensor:
    """Minima (±1, 0) at 0; the saddle (0, 0) at exactly 1 on the straight segment."""
    x, y = xy[..., 0], xy[..., 1]
    return (x**2 - 1) ** 2 + y**2


def valley(xy: torch.Tensor) -> torch.Tensor:
    """Minima at (±1, 0) (value 0) in a curved valley ``y = x² − 1``; its saddle is (0, −1) with
    value exactly 1, while the straight segment between the minima peaks at 3."""
    x, y = xy[..., 0], xy[..., 1]
    return (x**2 - 1) ** 2 + 2 * (y - (x**2 - 1)) ** 2


def three_wells(xy: torch.Tensor) -> torch.Tensor:
    """``h(x) + 2(y − (x² − 1))²`` with ``h(x) = x²(x² − 4)²/9 − exp(−4x²)/2``: minima at
    x = −2, 0, 2 on the curved valley floor; the minimax route between the outer two runs down the
    valley through the middle minimum, far from the straight segment (which peaks near 16)."""
    x, y = xy[..., 0], xy[..., 1]
    h = x**2 * (x**2 - 4) ** 2 / 9 - 0.5 * torch.exp(-4 * x**2)
    return h + 2 * (y - (x**2 - 1)) ** 2


def _three_wells_saddle() -> float:
    xs = torch.linspace(0.0, 2.0, 200001, dtype=torch.float64)
    return three_wells(torch.stack([xs, xs**2 - 1], -1)).max().item()  # ≈ 1.0511


MINIMA = torch.tensor([[-1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
OUTER = torch.tensor([[-2.0, 3.0], [2.0, 3.0]], dtype=torch.float64)
EXACT = {  # name: (function, minima, exact saddle value)
    "double_well": (double_well, MINIMA, 1.0),
    "curved_valley": (valley, MINIMA, 1.0),
    "three_minima": (three_wells, OUTER, _three_wells_saddle()),
}
VARIANTS = {"default": {}, "momentum 0": {"momentum": 0.0}, "momentum 0.9": {"momentum": 0.9},
            "lr x 2": {"lr": 2 * PathConfig().lr}}


def _range(f, mins: torch.Tensor, exact: float) -> float:
    straight = f(mins[0] + torch.linspace(0, 1, 101, dtype=mins.dtype)[:, None] * (mins[1] - mins[0]))
    return max(float(straight.max()), exact) - float(f(mins).min())


# ---------------------------------------------------------------------------- exact saddles


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("name", list(EXACT))
def test_exact_saddle_with_default_configuration_and_variants(name, variant):
    """The engine's defaults (and momentum 0 / 0.9, a doubled learning rate) find the exact saddle
    value within 0.05% of the function's range, and say the maximum converged."""
    f, mins, exact = EXACT[name]
    obj = tk.FunctionObjective(f, dim=2)
    cfg = dataclasses.replace(PathConfig(), **VARIANTS[variant])
    ps = tk.optimize_paths(obj, mins, config=cfg, progress=False)
    ev = tk.evaluate_paths(obj, ps, bootstrap=0)
    assert ps.status == ["converged"] and ev.certified.all()
    assert abs(ev.max_loss.item() - exact) <= 5e-4 * _range(f, mins, exact)
    path = ps.path(0)
    assert torch.equal(path[0], mins[0]) and torch.equal(path[-1], mins[1])


def test_straight_segment_overestimates_and_upper_bounds_are_flagged():
    obj = tk.FunctionObjective(valley, dim=2)
    straight = tk.evaluate_paths(obj, PathSet.from_paths([torch.stack([MINIMA[0], MINIMA[1]])], [[0, 1]]))
    assert straight.max_loss.item() == pytest.approx(3.0, abs=1e-6)
    assert straight.upper_bounds() == [(0, 1)]  # nothing says a given polyline converged
    short = tk.optimize_paths(obj, MINIMA, config=PathConfig(epochs=3), progress=False)
    assert short.status == ["budget"] and "upper bounds" in short.summary()
    assert tk.evaluate_paths(obj, short).upper_bounds() == [(0, 1)]


def test_three_minima_saddles_feed_the_barcode():
    """The intro chapter's flow: ``FunctionObjective`` -> ``optimize_paths`` -> ``evaluate_paths``
    -> ``saddles()`` -> ``tk.minima_barcode``, against the saddle value known from the 1D profile."""
    saddle = _three_wells_saddle()
    mins = torch.tensor([[-2.0, 3.0], [0.0, -1.0], [2.0, 3.0]], dtype=torch.float64)
    obj = tk.FunctionObjective(three_wells, dim=2)
    ps = tk.optimize_paths(obj, mins, progress=False)
    s = tk.evaluate_paths(obj, ps).saddles()
    assert set(s) == {(0, 1), (0, 2), (1, 2)} and all(v == pytest.approx(saddle, abs=2e-3) for v in s.values())
    bc = tk.minima_barcode(three_wells(mins).tolist(), s)
    finite = sorted(d for d in bc.deaths.tolist() if d != float("inf"))
    assert finite == pytest.approx([saddle, saddle], abs=2e-3)


# ---------------------------------------------------------------------------- geometry


def test_fold_inducing_start_is_repaired():
    """A start whose points are out of order (two swapped, one thrown back) is reordered by the
    first resampling: the points then advance monotonically along the path, and the
    optimisation still finds the saddle."""
    s = torch.linspace(0, 1, 11, dtype=torch.float64)
    start = MINIMA[0] + s[:, None] * (MINIMA[1] - MINIMA[0])
    start[[4, 5]] = start[[5, 4]]
    start[7] = start[2] + torch.tensor([0.0, 0.05], dtype=torch.float64)
    obj = tk.FunctionObjective(valley, dim=2)
    st = PathState.straight(MINIMA, torch.tensor([[0, 1]]), 11, "sgd")
    st.X = start[1:-1].clone()
    assert resample(st) > 0
    x = st.path(0)[:, 0]
    assert (x[1:] > x[:-1]).all()
    ps = tk.optimize_paths(obj, MINIMA, config=PathConfig(n_points=11), init=start[None], progress=False)
    assert ps.status == ["converged"]
    assert tk.evaluate_paths(obj, ps).max_loss.item() == pytest.approx(1.0, abs=1e-3)


def test_points_stay_ordered_and_evenly_spaced():
    obj = tk.FunctionObjective(valley, dim=2)
    ps = tk.optimize_paths(obj, MINIMA, config=PathConfig(lr=0.1, reparam_every=1), progress=False)
    q = ps.path(0)
    seg = (q[1:] - q[:-1]).norm(dim=1)
    turns = ((q[1:-1] - q[:-2]) * (q[2:] - q[1:-1])).sum(1)
    assert (turns > 0).all()  # no point reverses the path's direction
    assert seg.max() / seg.min() < 1.5


@pytest.mark.parametrize("optimizer,momentum", [("sgd", 0.0), ("sgd", 0.9), ("adam", 0.0)])
def test_step_is_orthogonal_to_tangent(optimizer, momentum):
    """Every step (after momentum / Adam scaling) moves a point orthogonally to its tangent."""
    obj = tk.FunctionObjective(lambda p: (p**2 * torch.arange(1.0, 5.0)).sum(-1) + p[..., 0] * p[..., 1], dim=4)
    minima = torch.tensor([[1.0, 2.0, -1.0, 0.5], [-2.0, 0.0, 1.0, 1.5]])
    st = PathState.straight(minima, torch.tensor([[0, 1]]), 6, optimizer)
    st.X += 0.3 * torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    lay = Layout(st)
    for _ in range(3):  # momentum buffers from earlier tangents must be projected too
        before = st.X.clone()
        tau = tangents(before, lay)
        path_step(st, lay, obj, None, lr=0.01, optimizer=optimizer, momentum=momentum,
                  weight_decay=0.0, betas=(0.9, 0.999), eps=1e-8)
        move = st.X - before
        cos = (move * tau).sum(1) / (move.norm(dim=1) * tau.norm(dim=1))
        assert move.norm(dim=1).min() > 0
        assert cos.abs().max() < 1e-5


def test_tangents_use_the_ends_at_path_boundaries():
    minima = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    st = PathState.straight(minima, torch.tensor([[0, 1], [0, 2], [1, 2]]), 4, "sgd")
    d = tangents(st.X, Layout(st))
    want = torch.cat([(st.path(p)[2:] - st.path(p)[:-2]) for p in range(3)])
    assert torch.allclose(d, want)


# ---------------------------------------------------------------------------- certified maxima


def test_certified_maximum_of_a_kinked_path_matches_a_dense_evaluation():
    """A coarse, kinked polyline across the curved valley: the certified maximum equals the
    maximum of a 10,000-point evaluation of the same polyline (the fixed-grid reading with
    ``between=3`` and no refinement misses it by percents)."""
    pts = torch.tensor([[-1.0, 0.0], [-0.6244, -0.5715], [-0.4634, -0.3879], [1.0, 0.0]],
                       dtype=torch.float64)
    ps = PathSet.from_paths([pts], [[0, 1]])
    obj = tk.FunctionObjective(valley, dim=2)
    t = torch.linspace(0, 1, 10_000, dtype=torch.float64)
    dense = valley(ps.points_at(0, t)).max().item()
    ev = tk.evaluate_paths(obj, ps, bootstrap=0)
    coarse = tk.evaluate_paths(obj, ps, bootstrap=0, max_rounds=0).max_loss.item()
    assert ev.certified.all() and ev.resolution.item() <= 2e-3
    assert ev.max_loss.item() == pytest.approx(dense, rel=1e-5)
    assert dense - coarse > 0.05 * dense  # what the fixed grid alone misses (7%)


def test_points_at_reproduces_nodes_and_ends():
    obj_pts = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0]], dtype=torch.float64)
    ps = PathSet.from_paths([obj_pts], [[0, 1]])
    t = ps.node_t(0)
    assert t.tolist() == pytest.approx([0.0, 1 / 3, 1.0])
    assert torch.allclose(ps.points_at(0, t), obj_pts)
    assert torch.equal(ps.points_at(0, torch.tensor([0.0, 1.0]))[1], obj_pts[-1])


# ---------------------------------------------------------------------------- convergence, pruning


def test_convergence_is_recorded_and_converged_paths_stop():
    obj = tk.FunctionObjective(valley, dim=2)
    mins = torch.tensor([[-1.0, 0.0], [1.0, 0.0], [0.0, -1.0]], dtype=torch.float64)
    ps = tk.optimize_paths(obj, mins, config=PathConfig(epochs=200), progress=False)
    assert ps.status == ["converged"] * 3
    assert (ps.stopped_epoch >= PathConfig().min_epochs).all() and (ps.stopped_epoch < 200).all()
    assert ps.steps < 200 * 10  # the run ended when every path had stopped
    h = ps.max_history
    assert h.shape == (len(ps.track_epochs), 3) and torch.isnan(h[-1]).all() or len(ps.track_epochs) == int(ps.stopped_epoch.max())
    assert ps.converged.all()


def test_a_path_that_passes_the_test_at_its_last_epoch_converged():
    """The last measurement is tested like every other: a budget that ends exactly when the test
    first passes gives "converged" (not "budget"), one epoch less gives "budget"."""
    obj = tk.FunctionObjective(valley, dim=2)
    cfg = PathConfig(epochs=200, lr_schedule="constant")
    first = int(tk.optimize_paths(obj, MINIMA, config=cfg, progress=False).stopped_epoch[0])
    assert cfg.min_epochs <= first < 200
    exact = tk.optimize_paths(obj, MINIMA, config=dataclasses.replace(cfg, epochs=first), progress=False)
    assert exact.status == ["converged"] and int(exact.stopped_epoch[0]) == first
    short = tk.optimize_paths(obj, MINIMA, config=dataclasses.replace(cfg, epochs=first - 1),
                              progress=False)
    assert short.status == ["budget"]


def test_cycle_epochs_restart_the_schedule(monkeypatch):
    """``cycle_epochs`` restarts the schedule every cycle (warm restarts); without it one schedule
    spans the budget. Checked on the progress the schedule is asked for at every step."""
    import toolkit.paths._optimize as opt

    asked = []
    monkeypatch.setattr(opt, "multiplier", lambda name, p: asked.append(round(p, 6)) or 1.0)
    obj = tk.FunctionObjective(valley, dim=2)
    cfg = PathConfig(epochs=4, steps_per_epoch=5, cycle_epochs=2, stop_converged=False,
                     insert_criterion=None)
    tk.optimize_paths(obj, MINIMA, config=cfg, progress=False)
    assert asked == [k / 10 for k in range(10)] * 2
    asked.clear()
    tk.optimize_paths(obj, MINIMA, config=dataclasses.replace(cfg, cycle_epochs=None), progress=False)
    assert asked == [k / 20 for k in range(20)]
    with pytest.raises(ValueError, match="cycle_epochs"):
        tk.optimize_paths(obj, MINIMA, config=dataclasses.replace(cfg, cycle_epochs=0), progress=False)


def _sine_valley(xy: torch.Tensor) -> torch.Tensor:
    """Zero on the curve ``y = sin x``: any points on it are joined without a barrier."""
    return 2 * (xy[..., 1] - torch.sin(xy[..., 0])) ** 2


def test_pruning_stops_pairs_that_cannot_change_the_barcode():
    xs = torch.tensor([0.0, 1.5, 3.0, 4.5], dtype=torch.float64)
    mins = torch.stack([xs, torch.sin(xs)], 1)
    obj = tk.FunctionObjective(_sine_valley, dim=2)
    cfg = PathConfig(n_points=11, epochs=150, conv_atol=1e-3)
    full = tk.optimize_paths(obj, mins, config=cfg, progress=False)
    pruned = tk.optimize_paths(obj, mins, config=dataclasses.replace(cfg, prune=True), progress=False)
    assert "pruned" in pruned.status and "pruned" not in full.status
    assert pruned.point_steps < full.point_steps
    losses = _sine_valley(mins).tolist()
    bc_full = tk.minima_barcode(losses, tk.evaluate_paths(obj, full).saddles())
    bc_pruned = tk.minima_barcode(losses, tk.evaluate_paths(obj, pruned).saddles())
    assert bc_pruned.deaths.tolist() == pytest.approx(bc_full.deaths.tolist(), abs=2e-3)


def test_pruning_rule_uses_only_converged_paths_at_or_below_the_pair_level():
    cfg = PathConfig(conv_atol=0.0)
    pairs = torch.tensor([[0, 1], [1, 2], [0, 2]])
    tr = Tracker(None, cfg, pairs, n_minima=3)
    tr.end_loss = torch.tensor([[0.0, 1.0], [1.0, 0.5], [0.0, 0.5]], dtype=torch.float64)
    assert tr._joined_below(2, {0: 1.0, 1: 1.0}) is False  # joined at 1.0 > max(L0, L2) = 0.5
    tr.end_loss[2] = torch.tensor([0.0, 1.0])
    assert tr._joined_below(2, {0: 1.0, 1: 1.0}) is True
    assert tr._joined_below(2, {0: 1.0}) is False  # 1-2 has not converged


# ---------------------------------------------------------------------------- neural networks


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
        assert torch.equal(ps.points[p, len(path):], minima[j].expand(ps.points.shape[1] - len(path), -1))


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
        assert ev.t[p][0] == 0 and ev.t[p][-1] == 1 and len(ev.t[p]) >= 2 * (ps.n_points[p] - 1) + 1
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
                     optimizer=optimizer, reparam_every=3, min_epochs=2, conv_window=2)
    full = tk.optimize_paths(tk.ModuleObjective(model, x, y), minima, config=cfg, progress=False, seed=3)
    ck = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        tk.optimize_paths(_Interrupting(model, x, y, after=13), minima, config=cfg, checkpoint=ck,
                          progress=False, seed=3)
    assert ck.exists()
    resumed = tk.optimize_paths(tk.ModuleObjective(model, x, y), minima, config=cfg, checkpoint=ck,
                                resume=True, progress=False, seed=3)
    assert torch.equal(full.points, resumed.points) and full.status == resumed.status
    assert full.insertions == resumed.insertions and full.steps == resumed.steps
    assert torch.equal(full.max_history.nan_to_num(), resumed.max_history.nan_to_num())
    for k in ("grad_normal", "loss"):
        assert all(torch.equal(a.nan_to_num(), b.nan_to_num())
                   for a, b in zip(full.diagnostics[k], resumed.diagnostics[k]))
    other = tk.optimize_paths(tk.ModuleObjective(model, x, y), minima, config=cfg, progress=False, seed=4)
    assert not torch.equal(full.points, other.points)  # the seed matters, so equality above means something
    with pytest.raises(ValueError, match="another configuration"):
        tk.optimize_paths(tk.ModuleObjective(model, x, y), minima, config=PathConfig(epochs=7),
                          checkpoint=ck, resume=True, progress=False, seed=3)


def test_nonfinite_raises_naming_path_and_point():
    def f(xy):
        x, y = xy[..., 0], xy[..., 1]
        return (x**2 - 1) ** 2 + y**2 + torch.where(x.abs() < 0.2, torch.log(y - 10), 0.0)

    obj = tk.FunctionObjective(f, dim=2)
    with pytest.raises(FloatingPointError, match=r"path 0 \(minima 0-1\), point 2 of 5"):
        tk.optimize_paths(obj, MINIMA, config=PathConfig(epochs=2, n_points=5), progress=False)


def _cliff(xy):
    """A bowl in y with a cliff (NaN) below y = -0.1: a large step from y = 0.35 falls off it."""
    x, y = xy[..., 0], xy[..., 1]
    return (x**2 - 1) ** 2 + y**2 + torch.where(y < -0.1, torch.nan, 0.0)


def test_nonfinite_backoff_lowers_lr_and_finishes():
    obj = tk.FunctionObjective(_cliff, dim=2)
    cfg = PathConfig(epochs=5, n_points=5, lr=20.0, momentum=0.0, weight_decay=0.0, max_step=1.0,
                     lr_schedule="constant", insert_criterion=None, check_every=3)
    start = torch.tensor([[-1.0, 0.35], [1.0, 0.35]], dtype=torch.float64)
    with pytest.raises(FloatingPointError, match="on_nonfinite='backoff'"):
        tk.optimize_paths(obj, start, config=cfg, progress=False)
    ps = tk.optimize_paths(obj, start, config=dataclasses.replace(cfg, on_nonfinite="backoff"),
                           progress=False)
    assert any("lr scale" in e for e in ps.events)
    assert torch.isfinite(ps.points).all() and ps.steps == 50
    with pytest.raises(FloatingPointError, match="lower PathConfig.lr itself") as err:
        tk.optimize_paths(obj, start, config=dataclasses.replace(cfg, on_nonfinite="backoff",
                                                                 min_lr_scale=0.9), progress=False)
    assert "use on_nonfinite" not in str(err.value)  # no advice to do what was already done


# ---------------------------------------------------------------------------- insertion (Alg. 4)


def _state_with(points: torch.Tensor) -> PathState:
    st = PathState.straight(points[[0, -1]], torch.tensor([[0, 1]]), len(points), "sgd")
    st.X = points[1:-1].clone()
    return st


def test_distance_criterion_counts_long_segments_and_respects_caps():
    st = _state_with(torch.tensor([[0.0, 0], [1, 0], [2, 0], [6, 0], [7, 0], [8, 0]]))
    h0 = torch.tensor([8.0 / 5])
    assert choose_insertions(st, "distance", h0=h0, distance_ratio=1.5, loss_tol=0.0, max_insert=4,
                             max_points=64) == {0: 1}  # the 4-long segment; spacing 1.6 at start
    assert choose_insertions(st, "distance", h0=h0, distance_ratio=1.5, loss_tol=0.0, max_insert=4,
                             max_points=6) == {}
    even = _state_with(torch.stack([torch.arange(6.0), torch.zeros(6)], 1))
    assert choose_insertions(even, "distance", h0=torch.tensor([1.0]), distance_ratio=1.5,
                             loss_tol=0.0, max_insert=4, max_points=64) == {}


def test_loss_criterion_counts_peaks_between_points():
    st = _state_with(torch.stack([torch.arange(5.0), torch.zeros(5)], 1))
    node = {0: torch.tensor([0.0, 1.0, 1.2, 1.0, 0.0])}
    mid = {0: torch.tensor([0.5, 1.1, 3.0, 0.5])}  # a peak between points 2 and 3
    kw = dict(h0=torch.tensor([1.0]), distance_ratio=1.5, max_insert=4, max_points=64, seg_loss=mid,
              node_loss=node)
    assert choose_insertions(st, "loss", loss_tol=0.05, **kw) == {0: 1}  # 1.8 > 0.05 × range 3
    assert choose_insertions(st, "loss", loss_tol=0.7, **kw) == {}  # 1.8 < 0.7 × 3


def test_insertion_adds_points_at_epoch_boundaries():
    obj = tk.FunctionObjective(three_wells, dim=2)
    cfg = PathConfig(n_points=6, insert_every=2, insert_criterion="loss", epochs=40, min_epochs=30)
    ps = tk.optimize_paths(obj, OUTER, config=cfg, progress=False)
    assert ps.insertions and int(ps.n_points[0]) > 6
    assert all(e % 2 == 0 and e < cfg.epochs for e, _, _ in ps.insertions)
    assert tk.evaluate_paths(obj, ps).max_loss.item() == pytest.approx(_three_wells_saddle(), abs=5e-3)


# ---------------------------------------------------------------------------- results


def test_diagnostics_recorded_per_epoch_and_point():
    obj = tk.FunctionObjective(valley, dim=2)
    cfg = PathConfig(n_points=11, insert_criterion=None, epochs=30, stop_converged=False)
    ps = tk.optimize_paths(obj, MINIMA, config=cfg, progress=False)
    d = ps.diagnostics
    assert d["epoch"] == list(range(30))
    gn = torch.stack(d["grad_normal"])  # [epochs, P, K]
    assert gn.shape == (30, 1, 11)
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
    assert again.config == ps.config and again.status == ps.status
    ev = tk.cache.cached("test-eval", {"cfg": cfg}, lambda: tk.evaluate_paths(obj, ps))
    ev2 = tk.cache.cached("test-eval", {"cfg": cfg}, lambda: pytest.fail("recomputed"))
    assert ev2.saddles() == ev.saddles() and torch.equal(ev2.max_loss_std, ev.max_loss_std)
    assert all(torch.equal(a, b) for a, b in zip(ev.loss, ev2.loss))


def test_std_over_runs():
    obj = tk.FunctionObjective(valley, dim=2)
    evs = [tk.evaluate_paths(obj, tk.optimize_paths(obj, MINIMA, config=PathConfig(epochs=e),
                                                    progress=False)) for e in (1, 2)]
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
    for bad in ({"lr": 0.0}, {"epochs": 0}):
        with pytest.raises(ValueError, match="straight segments"):
            tk.optimize_paths(obj, MINIMA, config=PathConfig(**bad), progress=False)
    with pytest.raises(ValueError, match="init must be"):
        tk.optimize_paths(obj, MINIMA, init=torch.zeros(1, 5, 2), progress=False)
    ps = tk.optimize_paths(obj, MINIMA, config=PathConfig(epochs=1), progress=False)
    with pytest.raises(ValueError, match="3 parameters per point|2 parameters per point"):
        tk.evaluate_paths(tk.FunctionObjective(lambda p: p.sum(-1), dim=3), ps)


@pytest.mark.parametrize("n_points", [3, 4, 7])
def test_in_place_respacing_equals_the_general_resampling(n_points, monkeypatch):
    """The fast path (each point slides along one of its segments, no gather) gives the same
    points as the general interpolation whenever it applies."""
    import toolkit.paths._geometry as engine

    g = torch.Generator().manual_seed(n_points)
    mins = torch.randn(4, 5, generator=g, dtype=torch.float64)
    st = PathState.straight(mins, torch.tensor([[0, 1], [1, 2], [0, 3], [2, 3]]), n_points, "sgd")
    st.X += 0.02 * torch.randn(st.X.shape, generator=g, dtype=torch.float64)
    fast, general = st.clone(), st.clone()
    assert engine._respace(fast, Layout(fast))
    monkeypatch.setattr(engine, "_respace", lambda st, lay: False)
    resample(general)
    assert torch.allclose(fast.X, general.X, atol=1e-12)
