"""Plotting helpers: every function returns a matplotlib ``Figure`` with labelled axes and
reads only result objects (no computation beyond layout)."""

from __future__ import annotations

# --- barcodes, diagrams, disconnectivity graphs (toolkit.plots.barcodes) ---
from toolkit.plots.barcodes import plot_barcode, plot_diagram, plot_disconnectivity
# --- landscapes and paths in 2D (toolkit.plots.landscape) ---
from toolkit.plots.landscape import plot_landscape
# --- training and path diagnostics (toolkit.plots.diagnostics) ---
from toolkit.plots.diagnostics import (plot_gradient_norms, plot_gradient_trends,
                                       plot_path_convergence, plot_path_profiles, plot_profiles)
# --- bar ends per group: depth, width, minima type (toolkit.plots.bar_ends) ---
from toolkit.plots.bar_ends import plot_bar_ends
# --- loss levels of several networks against their size (toolkit.plots.levels) ---
from toolkit.plots.levels import plot_levels
# --- trajectories in an MDS embedding (toolkit.plots.embedding) ---
from toolkit.plots.embedding import (plot_branch_errors, plot_branches,
                                     plot_embedded_trajectories, plot_trajectory_losses)
# --- zeros of tiny polynomial networks (toolkit.plots.algebra) ---
from toolkit.plots.algebra import plot_hessian_spectra, plot_solution_counts
# --- curves of groups of runs, parameters vs error, similarity matrices (toolkit.plots.curves) ---
from toolkit.plots.curves import plot_error_vs_params, plot_run_curves, plot_similarity
# --- optimised triangles (toolkit.plots.simplices) ---
from toolkit.plots.simplices import plot_triangle_loss
