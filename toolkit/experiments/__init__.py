"""Experiments: one function per paper figure, each a cached compute call returning a result
object that the figure's notebook only plots and prints."""

from __future__ import annotations

from toolkit.experiments.fc_depth import (
    FCDepthConfig,
    FCDepthResult,
    FCDepthUnit,
    fc_depth,
    fc_depth_config,
    fc_paths,
)
from toolkit.experiments.intro import ToyConfig, ToyResult, toy_barcodes, toy_config
from toolkit.experiments.path_characteristics import PathCharacteristics, path_characteristics
from toolkit.experiments.lp_sgd_mds import (
    LPSGDMDSConfig,
    LPSGDMDSResult,
    lp_sgd_mds,
    lp_sgd_mds_config,
)

__all__ = ["FCDepthConfig", "FCDepthResult", "FCDepthUnit", "ToyConfig", "ToyResult", "fc_depth",
           "fc_depth_config", "fc_paths", "PathCharacteristics", "path_characteristics", "toy_barcodes", "toy_config"]
__all__ += ["LPSGDMDSConfig", "LPSGDMDSResult", "lp_sgd_mds", "lp_sgd_mds_config"]
from toolkit.experiments.lenet_triangles import (
    LenetTriangleConfig,
    LenetTriangleResult,
    lenet_triangle,
    lenet_triangle_config,
)
from toolkit.experiments.triangles import (
    ToyTriangleConfig,
    ToyTriangleResult,
    toy_triangles,
    toy_triangles_config,
)

__all__ += ["LenetTriangleConfig", "LenetTriangleResult", "ToyTriangleConfig", "ToyTriangleResult",
            "lenet_triangle", "lenet_triangle_config", "toy_triangles", "toy_triangles_config"]
