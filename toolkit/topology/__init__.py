"""Barcodes of loss landscapes: minima barcodes, higher barcodes, TO-scores, grid references.

* ``minima_barcode(min_losses, saddles)``: the paper's formula (1) from sampled minima and
  optimised paths, by union-find with the elder rule (``minima_barcode_gudhi`` is the GUDHI
  cross-check; the tie-breaking convention is in ``toolkit.topology._minima``).
* ``simplex_barcode(vertex_losses, edges, triangles)``: index-0 and index-1 (and higher) barcodes
  of the filtered complex of optimised simplices (Alg. 2, App. I).
* ``grid_barcode(values)``: exact sublevel-set barcodes of a function sampled on a grid, the
  reference that estimates are compared with (``compare_barcodes``).
* ``to_score(barcode)``: the TO-score, bottleneck distance to the ideal barcode.
"""

from __future__ import annotations

from toolkit.topology._barcode import Barcode
from toolkit.topology._complexes import grid_barcode, simplex_barcode
from toolkit.topology._minima import minima_barcode, minima_barcode_gudhi
from toolkit.topology._scores import BarcodeComparison, compare_barcodes, to_score

__all__ = [
    "Barcode",
    "BarcodeComparison",
    "compare_barcodes",
    "grid_barcode",
    "minima_barcode",
    "minima_barcode_gudhi",
    "simplex_barcode",
    "to_score",
]
