"""Plotting helpers: every function returns a matplotlib ``Figure`` with labelled axes and
reads only result objects (no computation beyond layout)."""

from __future__ import annotations

# --- barcodes, diagrams, disconnectivity graphs (toolkit.plots.barcodes) ---
# --- landscapes and paths in 2D (toolkit.plots.landscape) ---
from toolkit.plots.landscape import plot_landscape
# --- training and path diagnostics (toolkit.plots.diagnostics) ---
