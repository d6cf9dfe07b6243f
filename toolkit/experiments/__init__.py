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

Scaling out (issue 18; see ``fc_depth`` and :mod:`toolkit.executor`): run the loop over an
experiment's independent units (minima, models, groups of paths, curves) through
``toolkit.executor.map_units(fn, items, executor=executor, device=device, desc=...)``, so that
``executor="ray"`` (or ``$TOOLKIT_EXECUTOR=ray``) runs one Ray task per unit and serial stays the
default:

- ``fn(item)`` computes *one* unit through ``tk.cache.cached(...)`` (a unit already cached returns
  at once, a retried task recomputes only what is missing) and is picklable: a module-level
  function or a ``functools.partial`` of one, taking the config and the unit's key;
- the compute function takes ``executor: str | None = None`` and passes it on, and the result
  records ``runs.seconds`` per unit (``unit_s``) and ``runs.executor``;
- minima: ``tk.minima(..., executor=executor)`` runs one task per minimum; to train several
  minima sets at once, build a ``tk.plan_minima(...)`` per set and give every ``(set, i)`` to one
  ``map_units`` call with ``plan.train`` before the units that use them (``fc_depth`` does).
"""

from __future__ import annotations

from toolkit.experiments.cnn_batchnorm import (
    CNNBatchNormConfig,
    CNNBatchNormResult,
    cnn_batchnorm,
    cnn_batchnorm_config,
)
from toolkit.experiments.cnn_units import CNNUnit, CNNUnitConfig, cnn_units
from toolkit.experiments.cnn_width_depth import (
    CNNWidthDepthConfig,
    CNNWidthDepthResult,
    cnn_width_depth,
    cnn_width_depth_config,
)
from toolkit.experiments.fc_depth import (
    FCDepthConfig,
    FCDepthResult,
    FCDepthUnit,
    fc_depth,
    fc_depth_config,
    fc_minima,
    fc_paths,
)
from toolkit.experiments.insertion import (
    InsertionConfig,
    InsertionResult,
    insertion,
    insertion_config,
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
from toolkit.experiments.resnet_types import (
    ResNetTypesConfig,
    ResNetTypesResult,
    ResNetTypesUnit,
    resnet_types,
    resnet_types_config,
)
from toolkit.experiments.wrn_curves import (
    WRNCurvesConfig,
    WRNCurvesResult,
    wrn_curves,
    wrn_curves_config,
)
from toolkit.experiments.path_characteristics import PathCharacteristics, path_characteristics
from toolkit.experiments.to_theorem import (
    FunctionTO,
    TOTheoremConfig,
    TOTheoremResult,
    to_theorem,
    to_theorem_config,
)
from toolkit.experiments.triangles import (
    ToyTriangleConfig,
    ToyTriangleResult,
    toy_triangles,
    toy_triangles_config,
)

__all__ = [
    "CNNBatchNormConfig", "CNNBatchNormResult", "cnn_batchnorm", "cnn_batchnorm_config",
    "CNNUnit", "CNNUnitConfig", "cnn_units",
    "CNNWidthDepthConfig", "CNNWidthDepthResult", "cnn_width_depth", "cnn_width_depth_config",
    "FCDepthConfig", "FCDepthResult", "FCDepthUnit", "fc_depth", "fc_depth_config", "fc_minima",
    "fc_paths",
    "InsertionConfig", "InsertionResult", "insertion", "insertion_config",
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
    "ResNetTypesConfig", "ResNetTypesResult", "ResNetTypesUnit", "resnet_types",
    "resnet_types_config",
    "WRNCurvesConfig", "WRNCurvesResult", "wrn_curves", "wrn_curves_config",
    "FunctionTO", "TOTheoremConfig", "TOTheoremResult", "to_theorem", "to_theorem_config",
    "ToyTriangleConfig", "ToyTriangleResult", "toy_triangles", "toy_triangles_config",
]
