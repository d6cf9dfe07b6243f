"""Benchmark of the path engine (issue 5). Prints three ratios measured in one run:

a. batched engine (one vmapped call for all points) vs a per-point loop with one module copy per
   point (what mode-connectivity code does), for an FC net and a small CNN;   goal >= 1.5x CPU, 10x GPU
b. achieved FLOP rate of a path step vs a bare batched matmul of the same shapes;  goal >= 50%
c. optimising all 45 paths between 10 minima vs training those 10 minima (Fig. 2's FC 784-32-32-10
   on MNIST, same number of epochs; minima by a plain per-model Adam loop);        goal <= 1x

Run ``python benchmarks/paths.py [--device auto] [--quick]``. Times are medians of repeated steps;
per-epoch times are extrapolated from timed steps (the shared CPU makes full epochs noisy).
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

import toolkit as tk
from toolkit.models.cnn import CNN
from toolkit.models.fc import FC
from toolkit.paths._engine import PathState, path_step, project_out, tangents


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _median_time(fn: Callable[[], None], dev: torch.device, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    _sync(dev)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(dev)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _minima_like(model: nn.Module, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base = tk.flatten_params(model)
    return base + 0.05 * torch.randn(n, base.numel(), generator=g)


# ---------------------------------------------------------------------------- a. batched vs loop


class _LoopBaseline:
    """One module copy per interior point; forward/backward point by point, then the same
    projected SGD update on the stacked vectors, written back into the copies."""

    def __init__(self, model: nn.Module, st: PathState, idx: torch.Tensor, dev: torch.device):
        self.st, self.idx = st, idx
        flat = st.pts.view(-1, st.pts.shape[2])
        self.models = []
        for k in idx.tolist():
            m = copy.deepcopy(model).to(dev)
            torch.nn.utils.vector_to_parameters(flat[k], m.parameters())
            self.models.append(m)

    def step(self, batch: tuple[torch.Tensor, torch.Tensor], lr: float) -> None:
        xb, yb = batch
        grads = []
        for m in self.models:
            m.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(m(xb), yb).backward()
            grads.append(torch.cat([p.grad.reshape(-1) for p in m.parameters()]))
        g = torch.stack(grads)
        flat = self.st.pts.view(-1, self.st.pts.shape[2])
        tau = tangents(flat, self.idx - 1, self.idx + 1)
        new = flat[self.idx] - lr * project_out(g, tau)[1]
        flat.index_copy_(0, self.idx, new)
        with torch.no_grad():
            for m, v in zip(self.models, new):
                torch.nn.utils.vector_to_parameters(v, m.parameters())


def bench_batched_vs_loop(name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor, n_paths: int,
                          n_points: int, batch_size: int, dev: torch.device, repeats: int) -> float:
    obj = tk.ModuleObjective(model, x, y).to(dev)
    minima = _minima_like(model, n_paths + 1, 0).to(dev)
    pairs = torch.stack([torch.arange(n_paths), torch.arange(1, n_paths + 1)], 1)
    batch = (x[:batch_size].to(dev), y[:batch_size].to(dev))
    st_b = PathState.straight(minima, pairs.to(dev), n_points, "sgd")
    idx = st_b.interior_index()
    st_l = PathState.straight(minima, pairs.to(dev), n_points, "sgd")
    loop = _LoopBaseline(model, st_l, idx, dev)

    def batched() -> None:
        path_step(st_b, obj, batch, idx, lr=1e-3, optimizer="sgd", momentum=0.0, weight_decay=0.0,
                  betas=(0.9, 0.999), eps=1e-8)

    t_b = _median_time(batched, dev, repeats)
    t_l = _median_time(lambda: loop.step(batch, 1e-3), dev, max(2, repeats // 2))
    print(f"  {name}: {len(idx)} points x batch {batch_size}, D={obj.dim:,}: "
          f"batched {t_b * 1e3:.1f} ms/step, loop {t_l * 1e3:.1f} ms/step -> {t_l / t_b:.2f}x")
    return t_l / t_b


# ---------------------------------------------------------------------------- b. FLOP rate


def _fc_flops(dims: list[int], batch: int, points: int) -> float:
    """Multiply-adds x 2 of forward, weight gradients and input gradients (none for the input)."""
    mm = [2 * batch * a * b for a, b in zip(dims[:-1], dims[1:])]
    return points * (2 * sum(mm) + sum(mm[1:]))


def bench_flop_rate(x: torch.Tensor, y: torch.Tensor, n_points_total: int, batch_size: int,
                    dev: torch.device, repeats: int) -> float:
    model = FC(2, 32)
    dims = [784, 32, 32, 10]
    obj = tk.ModuleObjective(model, x, y).to(dev)
    n_paths = max(1, n_points_total // 17)
    minima = _minima_like(model, n_paths + 1, 1).to(dev)
    pairs = torch.stack([torch.arange(n_paths), torch.arange(1, n_paths + 1)], 1)
    st = PathState.straight(minima, pairs.to(dev), 19, "sgd")
    idx = st.interior_index()
    M = len(idx)
    batch = (x[:batch_size].to(dev), y[:batch_size].to(dev))

    def step() -> None:
        path_step(st, obj, batch, idx, lr=1e-3, optimizer="sgd", momentum=0.9, weight_decay=5e-4,
                  betas=(0.9, 0.999), eps=1e-8)

    t_step = _median_time(step, dev, repeats)
    g = torch.Generator(device="cpu").manual_seed(0)
    X = [torch.randn(M, batch_size, a, generator=g).to(dev) for a in dims[:-1]]
    W = [torch.randn(M, a, b, generator=g).to(dev) for a, b in zip(dims[:-1], dims[1:])]
    G = [torch.randn(M, batch_size, b, generator=g).to(dev) for b in dims[1:]]

    def bare() -> None:
        for k in range(3):
            torch.bmm(X[k], W[k])
            torch.bmm(X[k].transpose(1, 2), G[k])
            if k:
                torch.bmm(G[k], W[k].transpose(1, 2))

    t_mm = _median_time(bare, dev, repeats)
    fl = _fc_flops(dims, batch_size, M)
    print(f"  FC 784-32-32-10, {M} points x batch {batch_size}: {fl / 1e9:.2f} GFLOP/step; path step "
          f"{t_step * 1e3:.1f} ms = {fl / t_step / 1e9:.1f} GFLOP/s; bare bmm {t_mm * 1e3:.1f} ms = "
          f"{fl / t_mm / 1e9:.1f} GFLOP/s -> {t_mm / t_step:.0%}")
    return t_mm / t_step


# ---------------------------------------------------------------------------- c. paths vs minima


def bench_paths_vs_minima(x: torch.Tensor, y: torch.Tensor, dev: torch.device, path_steps: int,
                          minima_steps: int) -> float:
    n_minima, batch_paths, batch_min = 10, 150, 128
    model = FC(2, 32)
    # minima: a plain per-model Adam loop, as one would train them
    xd, yd = x.to(dev), y.to(dev)
    gen = torch.Generator().manual_seed(0)

    def train_some(m: nn.Module, steps: int) -> float:
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        perm = torch.randperm(len(xd), generator=gen).to(dev)
        _sync(dev)
        t0 = time.perf_counter()
        for i in range(steps):
            j = perm[(i * batch_min) % (len(xd) - batch_min):][:batch_min]
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(m(xd[j]), yd[j]).backward()
            opt.step()
        _sync(dev)
        return (time.perf_counter() - t0) / steps

    m = copy.deepcopy(model).to(dev)
    train_some(m, 20)
    t_min_step = train_some(m, minima_steps)
    spe_min = len(x) // batch_min
    t_minima_epoch = n_minima * spe_min * t_min_step

    obj = tk.ModuleObjective(model, x, y).to(dev)
    minima = _minima_like(model, n_minima, 2).to(dev)
    pairs = tk.paths.all_pairs(n_minima) if hasattr(tk.paths, "all_pairs") else \
        torch.combinations(torch.arange(n_minima), r=2)
    st = PathState.straight(minima, pairs.to(dev), 19, "sgd")
    idx = st.interior_index()
    batches = obj.batches(batch_paths, torch.Generator().manual_seed(0))

    def step() -> None:
        path_step(st, obj, next(batches), idx, lr=1e-3, optimizer="sgd", momentum=0.9,
                  weight_decay=5e-4, betas=(0.9, 0.999), eps=1e-8)

    t_path_step = _median_time(step, dev, path_steps)
    spe_paths = obj.steps_per_epoch(batch_paths)
    t_paths_epoch = spe_paths * t_path_step
    print(f"  minima: 10 x {spe_min} Adam steps/epoch (batch {batch_min}) at {t_min_step * 1e3:.2f} ms "
          f"-> {t_minima_epoch:.1f} s/epoch")
    print(f"  paths: 45 x 17 = {len(idx)} points, {spe_paths} steps/epoch (batch {batch_paths}) at "
          f"{t_path_step * 1e3:.0f} ms -> {t_paths_epoch:.1f} s/epoch")
    print(f"  compute per epoch: paths do {len(idx) * spe_paths * batch_paths / (n_minima * spe_min * batch_min):.0f}x "
          "the minima's forward/backward passes")
    return t_paths_epoch / t_minima_epoch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--quick", action="store_true", help="fewer repeats (smoke run)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (default: torch's; 1 avoids OpenMP spin-waits "
                         "when other processes share the cores)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = tk.resolve_device(args.device)
    reps = 3 if args.quick else 10
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"device {dev} ({torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'CPU'}), "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {load:.1f}")
    mnist = tk.data.load("mnist", "train")
    x, y = mnist.x, mnist.y

    print("a. batched engine vs per-point loop (one module copy per point)")
    ra_fc = bench_batched_vs_loop("FC 784-32-32-10", FC(2, 32), x[:2048], y[:2048], 3, 19, 150, dev, reps)
    torch.manual_seed(0)
    cnn = CNN(layers=2, channels=8, in_shape=(1, 28, 28))
    ra_cnn = bench_batched_vs_loop("CNN-2-8 (MNIST)", cnn, x[:2048], y[:2048], 2, 9, 64, dev, reps)
    print("b. FLOP rate of a path step vs bare batched matmul of the same shapes")
    rb = bench_flop_rate(x[:2048], y[:2048], 51 if dev.type == "cpu" else 765, 150, dev, reps)
    print("c. 45 paths between 10 minima vs training the 10 minima (FC MNIST, same epochs)")
    rc = bench_paths_vs_minima(x, y, dev, path_steps=3 if args.quick else 5,
                               minima_steps=100 if args.quick else 400)
    print("\nratios")
    print(f"  a. batched / loop speed-up: FC {ra_fc:.2f}x, CNN {ra_cnn:.2f}x   "
          f"(goal >= {'10' if dev.type == 'cuda' else '1.5'}x)")
    print(f"  b. path-step FLOP rate / bare bmm rate: {rb:.0%}   (goal >= 50%)")
    print(f"  c. 45 paths / 10 minima, time per epoch: {rc:.1f}x   (goal <= 1x)")


if __name__ == "__main__":
    main()
