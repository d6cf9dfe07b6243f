"""Benchmark of the path engine (issue 12). Prints, on the workload of the official
implementation's benchmark -- 45 paths x 17 interior points of the 784-32-32-10 FC net, one
150-image MNIST minibatch -- three numbers measured in one run:

1. step time / time of the vmapped forward+backward alone (goal <= 1.25 on CPU): how much the
   update (tangents, projections, momentum, clipping, diagnostics, resampling amortised) adds;
2. engine / per-point loop (one module copy per point, forward/backward point by point, the same
   projected update), for the FC net and a CNN-2-8 (goal >= 2x FC, >= 1.5x CNN on CPU; >= 10x GPU);
3. milliseconds per step.

Run ``python benchmarks/paths.py [--device auto] [--quick] [--threads N]`` on a quiet machine
(the load average is printed: other processes on the same cores make every number slower).
Times are medians of repeated steps.
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
from toolkit.models.fc import FC
from toolkit.paths._engine import Layout, PathState, path_step, tangents
from toolkit.paths._geometry import resample


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


def _setup(model: nn.Module, x: torch.Tensor, y: torch.Tensor, n_paths: int, n_points: int,
           batch_size: int, dev: torch.device, optimizer: str = "sgd"):
    obj = tk.ModuleObjective(model, x, y).to(dev)
    g = torch.Generator().manual_seed(0)
    base = tk.flatten_params(model)
    minima = (base + 0.05 * torch.randn(n_paths + 1, base.numel(), generator=g)).to(dev)
    pairs = torch.stack([torch.arange(n_paths), torch.arange(1, n_paths + 1)], 1).to(dev)
    st = PathState.straight(minima, pairs, n_points, optimizer)
    batch = (x[:batch_size].to(dev), y[:batch_size].to(dev))
    return obj, st, batch


# ---------------------------------------------------------------------------- 1. step / fwd+bwd


def bench_step_overhead(x, y, dev, repeats: int, optimizer: str, momentum: float) -> tuple[float, float]:
    obj, st, batch = _setup(FC(2, 32), x, y, 45, 19, 150, dev, optimizer)
    lay = Layout(st)

    def fwd_bwd() -> None:
        theta = st.X.detach().requires_grad_(True)
        torch.autograd.grad(obj.loss(theta, batch).sum(), theta)

    def step() -> None:
        path_step(st, lay, obj, batch, lr=1e-3, optimizer=optimizer, momentum=momentum,
                  weight_decay=5e-4, betas=(0.9, 0.999), eps=1e-8)

    t_fb = _median_time(fwd_bwd, dev, repeats)
    t_step = _median_time(step, dev, repeats)
    t_res = _median_time(lambda: resample(st), dev, max(3, repeats // 2))
    amortised = t_step + t_res / tk.PathConfig().reparam_every
    label = f"{optimizer}{f' momentum {momentum}' if optimizer == 'sgd' else ''}"
    print(f"  {label}: {lay.M} points x D={obj.dim:,}: forward+backward {t_fb * 1e3:.0f} ms, step "
          f"{t_step * 1e3:.0f} ms (+ resampling {t_res * 1e3:.0f} ms every "
          f"{tk.PathConfig().reparam_every} steps) -> {amortised / t_fb:.2f}")
    return amortised / t_fb, amortised


# ---------------------------------------------------------------------------- 2. engine vs loop


class _LoopBaseline:
    """One module copy per interior point; forward/backward point by point, then the same
    projected SGD update on the stacked vectors, written back into the copies."""

    def __init__(self, model: nn.Module, st: PathState, dev: torch.device):
        self.st, self.lay = st, Layout(st)
        self.models = []
        for row in st.X:
            m = copy.deepcopy(model).to(dev)
            torch.nn.utils.vector_to_parameters(row, m.parameters())
            self.models.append(m)

    def step(self, batch: tuple[torch.Tensor, torch.Tensor], lr: float) -> None:
        xb, yb = batch
        grads = []
        for m in self.models:
            m.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(m(xb), yb).backward()
            grads.append(torch.cat([p.grad.reshape(-1) for p in m.parameters()]))
        g = torch.stack(grads)
        X = self.st.X
        d = tangents(X, self.lay)
        c = (g * d).sum(1, keepdim=True) / (d * d).sum(1, keepdim=True)
        X.sub_(lr * (g - c * d))
        with torch.no_grad():
            for m, v in zip(self.models, X):
                torch.nn.utils.vector_to_parameters(v, m.parameters())


def bench_engine_vs_loop(name: str, model: nn.Module, x, y, n_paths: int, n_points: int,
                         batch_size: int, dev: torch.device, repeats: int) -> float:
    obj, st_e, batch = _setup(model, x, y, n_paths, n_points, batch_size, dev)
    _, st_l, _ = _setup(model, x, y, n_paths, n_points, batch_size, dev)
    lay = Layout(st_e)
    loop = _LoopBaseline(model, st_l, dev)

    def engine() -> None:
        path_step(st_e, lay, obj, batch, lr=1e-3, optimizer="sgd", momentum=0.0, weight_decay=0.0,
                  betas=(0.9, 0.999), eps=1e-8)

    t_e = _median_time(engine, dev, repeats)
    t_l = _median_time(lambda: loop.step(batch, 1e-3), dev, max(2, repeats // 2))
    print(f"  {name}: {lay.M} points x batch {batch_size}, D={obj.dim:,}: engine "
          f"{t_e * 1e3:.1f} ms/step, loop {t_l * 1e3:.1f} ms/step -> {t_l / t_e:.2f}x")
    return t_l / t_e


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--quick", action="store_true", help="fewer repeats (smoke run)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = tk.resolve_device(args.device)
    reps = 3 if args.quick else 9
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"device {dev} ({torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'CPU'}), "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {load:.1f}")
    mnist = tk.data.load("mnist", "train")
    x, y = mnist.x[:2048], mnist.y[:2048]

    print("1. step time / vmapped forward+backward (45 paths x 17 points, FC 784-32-32-10, batch 150)")
    r_sgd, t_sgd = bench_step_overhead(x, y, dev, reps, "sgd", 0.0)
    r_mom, t_mom = bench_step_overhead(x, y, dev, reps, "sgd", 0.9)
    r_adam, t_adam = bench_step_overhead(x, y, dev, reps, "adam", 0.0)
    print("2. engine vs per-point loop (one module copy per point)")
    gpu = dev.type == "cuda"
    fc = bench_engine_vs_loop("FC 784-32-32-10", FC(2, 32), x, y, 45 if gpu else 9, 19, 150, dev, reps)
    cnn_model = tk.models.build_seeded("cnn", 0, layers=2, channels=8, in_shape=(1, 28, 28))
    cnn = bench_engine_vs_loop("CNN-2-8 (MNIST)", cnn_model, x, y, 10 if gpu else 2, 9, 64, dev, reps)
    print("\nratios")
    print(f"  1. step / forward+backward: SGD {r_sgd:.2f}, SGD momentum 0.9 {r_mom:.2f}, "
          f"Adam {r_adam:.2f}   (goal <= 1.25 on CPU)")
    print(f"  2. engine / loop: FC {fc:.2f}x, CNN-2-8 {cnn:.2f}x   "
          f"(goal {'>= 10x' if gpu else '>= 2x FC, >= 1.5x CNN'})")
    print(f"  3. ms per step (45 x 17 FC points): SGD {t_sgd * 1e3:.0f}, momentum {t_mom * 1e3:.0f}, "
          f"Adam {t_adam * 1e3:.0f}")


if __name__ == "__main__":
    main()
