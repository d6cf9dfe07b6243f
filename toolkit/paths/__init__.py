"""Batched optimisation of paths between minima (paper §1.2, §3.1, Alg. 1, 3, 4; App. C, E).

``optimize_paths`` moves every interior point of every path by the component of the minibatch
gradient orthogonal to the path (tangent from its two neighbours), plus the paper's L2 term; all
``P × K`` interior points are evaluated on the same minibatch in one vectorised call per step.
``evaluate_paths`` then measures full-training-set loss along a dense resampling of every path
(optimised points and the straight pieces between them) and gives the saddle estimates a barcode
needs::

    obj = tk.FunctionObjective(f, dim=2)
    ps = tk.optimize_paths(obj, minima, config=tk.PathConfig(epochs=100, lr=0.01))
    ev = tk.evaluate_paths(obj, ps)
    bc = tk.minima_barcode(min_losses, ev.saddles())

Private modules: ``_engine`` (the path state, one step, Alg. 4 insertion), ``_optimize`` (the
configuration and the run), ``_eval`` (dense evaluation), ``_random_points`` (the trainer behind
:mod:`toolkit.curves` and :mod:`toolkit.simplices`), ``_pairs`` (validation).
"""

from __future__ import annotations

from toolkit.paths._eval import PathEvaluation, evaluate_paths, std_over_runs
from toolkit.paths._optimize import PathConfig, PathSet, optimize_paths
from toolkit.paths._pairs import all_pairs

#: Revision of what the engine computes for a given configuration. Every cached result built on
#: optimised paths adds it to its cache version, so a change that alters results (a new status
#: rule, a different step) recomputes them: bump it with such a change.
#: 2: the last measurement is tested for convergence like the others.
ENGINE_VERSION = "2"

__all__ = ["ENGINE_VERSION", "PathConfig", "PathEvaluation", "PathSet", "all_pairs", "evaluate_paths",
           "optimize_paths", "std_over_runs"]
