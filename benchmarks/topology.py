"""Benchmark: ``minima_barcode`` on 1,000 minima with all 499,500 paths (issue 4: under 1 s).

Run ``python benchmarks/topology.py``; prints the median wall time of ``repeats`` calls, split
into input validation and the union-find, and the GUDHI cross-check's time for scale.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from toolkit.topology import minima_barcode, minima_barcode_gudhi
from toolkit.topology._minima import _graph


def _inputs(n: int, seed: int) -> tuple[np.ndarray, dict[tuple[int, int], float]]:
    rng = np.random.default_rng(seed)
    losses = rng.random(n)
    i, j = np.triu_indices(n, 1)
    s = np.maximum(losses[i], losses[j]) + rng.exponential(size=i.size)
    return losses, dict(zip(zip(i.tolist(), j.tolist()), s.tolist()))


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minima", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    losses, saddles = _inputs(args.minima, args.seed)
    total = _median_time(lambda: minima_barcode(losses, saddles), args.repeats)
    check = _median_time(lambda: _graph(losses, saddles, 0.0), args.repeats)
    t0 = time.perf_counter()
    same = minima_barcode_gudhi(losses, saddles) == minima_barcode(losses, saddles)
    gudhi_s = time.perf_counter() - t0
    print(f"minima_barcode: {args.minima} minima, {len(saddles)} paths: {total:.3f} s "
          f"(median of {args.repeats}; validation {check:.3f} s) -> "
          f"{'under' if total < 1.0 else 'OVER'} the 1 s budget ({total / 1.0:.2f} of it)")
    print(f"GUDHI cross-check: {gudhi_s:.3f} s, identical barcode: {same}")


if __name__ == "__main__":
    main()
