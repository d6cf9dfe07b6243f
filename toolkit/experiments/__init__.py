"""Experiments: one function per paper figure, each a cached compute call returning a result
object that the figure's notebook only plots and prints, and whose ``verdict()`` gives the
notebook's closing ``run.finish(**res.verdict())``. Scale settings live in
:data:`toolkit.scales.EXPERIMENTS`.

Two rules every experiment module keeps (see ``fc_depth`` for both):

- Parameters: a ``*_config`` builder receives the notebook's parameters as a reader overrides
  them, i.e. possibly as text (``papermill -p depths "[2, 4]"`` sends the string ``"[2, 4]"``,
  ``-p datasets mnist`` the string ``"mnist"``, ``-p depths 4`` the number ``4``). Normalise every
  list-valued argument with ``toolkit.params.as_list(value, "name", int | str, choices=...)``
  and scalars with ``as_int`` / ``as_choice``: all those forms then work, and anything else stops
  with one line naming the parameter.
- Verdicts: pass ``scale=`` (the scale the result was computed at) and ``compared=`` (how many
  comparisons the status rests on) to ``toolkit.report.verdict``; ``compared=0`` makes the run an
  illustration instead of letting ``all([])`` report "reproduced".
"""

from __future__ import annotations

from toolkit.experiments.fc_depth import (
    FCDepthConfig,
    FCDepthResult,
    FCDepthUnit,
    fc_depth,
    fc_depth_config,
    fc_minima,
    fc_paths,
)
from toolkit.experiments.intro import ToyConfig, ToyResult, toy_barcodes, toy_config
from toolkit.experiments.lenet_triangles import (
    IndexOneResult,
    LenetTriangleConfig,
    LenetTriangleResult,
    lenet_triangle,
    lenet_triangle_config,
)
from toolkit.experiments.lp_sgd_mds import (
    LPSGDMDSConfig,
    LPSGDMDSResult,
    lp_sgd_mds,
    lp_sgd_mds_config,
)
from toolkit.experiments.lp_bezout import LPBezoutConfig, LPBezoutResult, lp_bezout, lp_bezout_config
from toolkit.experiments.lp_bgd_branches import (
    LPBGDConfig,
    LPBGDResult,
    lp_bgd_branches,
    lp_bgd_branches_config,
)
from toolkit.experiments.lp_overparam import (
    LPOverparamConfig,
    LPOverparamResult,
    lp_overparam,
    lp_overparam_config,
)
from toolkit.experiments.lp_perturb_retrain import (
    LPRetrainConfig,
    lp_perturb_retrain,
    lp_perturb_retrain_config,
)
from toolkit.experiments.lp_retrain_result import LPRetrainResult, RetrainRun
from toolkit.experiments.lp_poly import LPPolyConfig, LPPolyResult, lp_poly, lp_poly_config
from toolkit.experiments.path_characteristics import PathCharacteristics, path_characteristics
from toolkit.experiments.triangles import (
    ToyTriangleConfig,
    ToyTriangleResult,
    toy_triangles,
    toy_triangles_config,
)

__all__ = [
    "FCDepthConfig", "FCDepthResult", "FCDepthUnit", "fc_depth", "fc_depth_config", "fc_minima",
    "fc_paths",
    "ToyConfig", "ToyResult", "toy_barcodes", "toy_config",
    "IndexOneResult", "LenetTriangleConfig", "LenetTriangleResult",
    "lenet_triangle", "lenet_triangle_config",
    "LPSGDMDSConfig", "LPSGDMDSResult", "lp_sgd_mds", "lp_sgd_mds_config",
    "LPBezoutConfig", "LPBezoutResult", "lp_bezout", "lp_bezout_config",
    "LPBGDConfig", "LPBGDResult", "lp_bgd_branches", "lp_bgd_branches_config",
    "LPOverparamConfig", "LPOverparamResult", "lp_overparam", "lp_overparam_config",
    "LPRetrainConfig", "LPRetrainResult", "RetrainRun", "lp_perturb_retrain",
    "lp_perturb_retrain_config",
    "LPPolyConfig", "LPPolyResult", "lp_poly", "lp_poly_config",
    "PathCharacteristics", "path_characteristics",
    "ToyTriangleConfig", "ToyTriangleResult", "toy_triangles", "toy_triangles_config",
]
