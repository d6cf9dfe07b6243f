"""toolkit: topological data analysis of neural-network loss landscapes.

Used as ``import toolkit as tk`` in every notebook of the companion book. Public names are
re-exported here; modules and helpers starting with ``_`` are private.
"""

from __future__ import annotations

from toolkit import cache, executor, params, seeds
from toolkit._device import resolve_device
from toolkit.cache import cached
from toolkit.executor import map_units

__version__ = "0.1.0"

# --- data (toolkit.data) ---
from toolkit import data
from toolkit.data import DataError, Dataset
# --- topology (toolkit.topology) ---
from toolkit import topology
from toolkit.topology import (
    Barcode,
    BarcodeComparison,
    compare_barcodes,
    grid_barcode,
    minima_barcode,
    simplex_barcode,
    to_score,
)
# --- plots (toolkit.plots) ---
from toolkit import plots
# --- paths engine (toolkit.objectives, toolkit.paths, toolkit.curves, toolkit.simplices) ---
from toolkit import objectives, paths
from toolkit.objectives import FunctionObjective, ModuleObjective, flatten_params, unflatten_params
from toolkit.paths import PathConfig, PathEvaluation, PathSet, evaluate_paths, optimize_paths
from toolkit import curves, simplices
from toolkit.curves import CurveConfig, CurveSet, evaluate_curves, optimize_curves
from toolkit.simplices import TriangleConfig, TriangleSet, evaluate_triangles, optimize_triangles
# --- models, training, minima store (toolkit.models, toolkit.train, toolkit.minima) ---
from toolkit import models, recipes, scales, train
from toolkit.minima import MinimaPlan, MinimaSet, minima, plan_minima
from toolkit.recipes import RECIPES, Recipe
# --- minima joined by paths (toolkit.join), how verdicts are decided (toolkit.decide) ---
from toolkit import decide, join
from toolkit.decide import Level
from toolkit.join import JoinPlan, Joined, joined
# --- your own model in one call (toolkit.landscape), example models (toolkit.examples) ---
from toolkit import examples
from toolkit.landscape import Landscape, landscape
# --- experiments (toolkit.experiments) ---
from toolkit import report
from toolkit.report import Run, show, verdict
from toolkit import experiments
# --- embedding (toolkit.embed) ---
from toolkit import embed
