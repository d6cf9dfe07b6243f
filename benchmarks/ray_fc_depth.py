"""Benchmark of the Ray executor (issue 18): the Fig. 2 experiment (``tk.experiments.fc_depth``)
computed serially and as Ray tasks, each from an empty cache, and checked to agree bit for bit.
Prints the wall time of each, the Ray runtime's start-up apart, and their ratio.

Run ``python benchmarks/ray_fc_depth.py [--scale smoke] [--cpus N] [--threads T] [--device cpu]``
on a quiet machine (the load average is printed). ``--cpus`` is the local runtime's CPU count
(default: all cores); with ``--threads T`` every unit uses ``T`` torch threads, serially and in
each task, so at most ``cpus / T`` tasks run at once. Set ``$RAY_ADDRESS`` to time a cluster
instead (``--cpus`` is then ignored); ``--device cuda`` gives every task a GPU (``$TOOLKIT_RAY_GPUS``
of one). The smoke scale of Fig. 2 is 10 units (2 data sets x 5 depths) of 2 minima each.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

import numpy as np
import torch

import toolkit as tk


def _timed(cfg, device: str, executor: str, cache: str) -> tuple[float, object]:
    os.environ["TOOLKIT_CACHE_DIR"] = cache
    t0 = time.perf_counter()
    res = tk.experiments.fc_depth(cfg, device=device, progress=False, executor=executor)
    return time.perf_counter() - t0, res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", default="smoke")
    ap.add_argument("--cpus", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")  # smoke minima do not converge, and say so
    import ray

    cfg = tk.experiments.fc_depth_config(args.scale)
    print(f"Fig. 2 at scale {args.scale!r}: {len(cfg.datasets) * len(cfg.depths)} units of "
          f"{cfg.n_minima} minima; {args.threads} torch thread(s) per unit; device {args.device}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        serial_s, serial = _timed(cfg, args.device, "serial", f"{tmp}/serial")
        t0 = time.perf_counter()
        ray.init(num_cpus=None if os.environ.get("RAY_ADDRESS") else args.cpus,
                 include_dashboard=False, logging_level="WARNING", log_to_driver=False)
        init_s = time.perf_counter() - t0
        ray_s, on_ray = _timed(cfg, args.device, "ray", f"{tmp}/ray")
        ray.shutdown()
    same = all(np.array_equal(a.saddles, b.saddles, equal_nan=True)
               and np.array_equal(on_ray.units[k].min_losses, u.min_losses)
               for k, u in serial.units.items() for a, b in zip(on_ray.units[k].joins, u.joins))
    same = same and all(np.array_equal(on_ray.units[k].min_losses, u.min_losses)
               for k, u in serial.units.items())
    where = os.environ.get("RAY_ADDRESS") or f"local runtime, {args.cpus or os.cpu_count()} CPUs"
    print(f"serial: {serial_s:.1f} s")
    print(f"ray ({where}): {ray_s:.1f} s, plus {init_s:.1f} s to start the runtime; serial / ray "
          f"= {serial_s / ray_s:.2f} ({serial_s / (ray_s + init_s):.2f} with the start-up)")
    print(f"minima losses and path maxima identical: {same}")


if __name__ == "__main__":
    main()
