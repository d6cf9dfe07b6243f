"""Learning-rate schedules as multipliers of a base rate, shared by training and path/curve
optimisation: ``multiplier(name, progress, **args)`` with ``progress`` in [0, 1].

- ``constant``: 1.
- ``cyclic``: triangular cyclical LR (Smith 2015) between ``floor`` and 1; ``cycles`` full cycles
  (each rises then falls); ``decay`` scales each cycle's amplitude (0.5 is "triangular2").
- ``anneal``: piecewise linear through ``knots`` (fractions of training) with ``factors``,
  constant after the last knot (Barannikov et al. App. A).
- ``garipov``: 1 for the first half, linear to ``final`` (0.01) at 90%, then constant
  (Garipov et al. 2018; Barannikov et al. App. A/C).
- ``cosine``: half a cosine from 1 to 0. ``linear``: from 1 to 0.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["SCHEDULES", "check_schedule", "multiplier"]

SCHEDULES = ("constant", "cyclic", "anneal", "garipov", "cosine", "linear")


def check_schedule(name: str) -> str:
    """``name`` itself if it is one of :data:`SCHEDULES`, else a ``ValueError`` saying so."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {name!r}; use one of {SCHEDULES}")
    return name


def multiplier(name: str, progress: float, *, cycles: int = 1, floor: float = 0.1,
               decay: float = 1.0, knots=(0.0,), factors=(1.0,), final: float = 0.01) -> float:
    """The multiplier of the base learning rate at ``progress`` (fraction of training done)."""
    p = min(max(float(progress), 0.0), 1.0)
    if name == "constant":
        return 1.0
    if name == "cyclic":
        pos = p * cycles
        k = min(int(pos), cycles - 1)
        tri = 1.0 - abs(2.0 * (pos - k) - 1.0)
        return floor + (1.0 - floor) * tri * decay**k
    if name == "anneal":
        return float(np.interp(p, knots, factors))
    if name == "garipov":
        if p <= 0.5:
            return 1.0
        if p <= 0.9:
            return 1.0 - (1.0 - final) * (p - 0.5) / 0.4
        return final
    if name == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * p))
    if name == "linear":
        return 1.0 - p
    check_schedule(name)  # raises: every known name returned above
    raise AssertionError(f"schedule {name!r} has no formula")
