"""Two-dimensional test functions whose topology can be computed exactly on a grid.

They teach the method (the book's introduction) and test it: the barcode estimated from minima
and optimised paths must agree with the exact sublevel-set barcode of the same function sampled
on a fine grid. Every landscape is a differentiable torch function ``f(xy: Tensor[..., 2]) ->
Tensor[...]`` with a plotting/grid domain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Banana", "CurvedValley", "GaussianWells", "SaturatingBowl", "SixHumpCamel",
           "TiltedDoubleWell", "LANDSCAPES", "landscape", "find_minima"]


@dataclass(frozen=True)
class GaussianWells:
    """``f(p) = bowl·|p|² − Σ_i depth_i · exp(−|p − c_i|² / (2 width_i²))``.

    A quadratic bowl with Gaussian wells: one local minimum near each well centre when the wells
    are separated by a few widths, saddles between neighbouring wells, and no minimum on the
    domain's boundary (the bowl makes the boundary high). Defaults: five wells of distinct depths.
    """

    centers: tuple[tuple[float, float], ...] = ((-1.7, -1.2), (1.5, -1.4), (0.1, 1.6),
                                                (-1.9, 1.4), (1.9, 1.1))
    depths: tuple[float, ...] = (1.0, 0.85, 0.7, 0.55, 0.45)
    widths: tuple[float, ...] = (0.75, 0.7, 0.7, 0.6, 0.55)
    bowl: float = 0.06
    domain: tuple[float, float, float, float] = (-3.0, 3.0, -3.0, 3.0)

    def __post_init__(self) -> None:
        if not (len(self.centers) == len(self.depths) == len(self.widths)):
            raise ValueError(f"centers, depths and widths differ in length: {len(self.centers)}, "
                             f"{len(self.depths)}, {len(self.widths)}")
        if min(self.widths) <= 0:
            raise ValueError(f"widths must be positive, got {self.widths}")

    def __call__(self, xy: torch.Tensor) -> torch.Tensor:
        c = torch.as_tensor(self.centers, dtype=xy.dtype, device=xy.device)
        a = torch.as_tensor(self.depths, dtype=xy.dtype, device=xy.device)
        w = torch.as_tensor(self.widths, dtype=xy.dtype, device=xy.device)
        d2 = ((xy.unsqueeze(-2) - c) ** 2).sum(-1)  # [..., n_wells]
        return self.bowl * (xy**2).sum(-1) - (a * torch.exp(-d2 / (2 * w**2))).sum(-1)


@dataclass(frozen=True)
class SixHumpCamel:
    """The six-hump camel function ``(4 − 2.1x² + x⁴/3)x² + xy + (−4 + 4y²)y²`` on
    ``[−2, 2] × [−1.1, 1.1]``: six local minima (two global at −1.0316), a classic optimisation
    benchmark."""

    domain: tuple[float, float, float, float] = (-2.0, 2.0, -1.1, 1.1)

    def __call__(self, xy: torch.Tensor) -> torch.Tensor:
        x, y = xy[..., 0], xy[..., 1]
        return (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (-4 + 4 * y**2) * y**2


@dataclass(frozen=True)
class CurvedValley:
    """``a (y − c x²)² + h (x² − 1)² + t x``: a parabolic valley ``y = c x²`` holding two minima
    near ``(±1, c)`` (the tilt ``t`` makes the left one lower) and one saddle near the origin at
    height ~``h``. The straight segment between the minima leaves the valley (``f ≈ a c² + h``
    at its middle), and so does a straight piece between two points that both lie in it: the
    example of App. D, where point insertion brings a path back into the valley."""

    a: float = 8.0
    c: float = 2.0
    h: float = 1.0
    t: float = 0.2
    domain: tuple[float, float, float, float] = (-1.6, 1.6, -1.0, 5.2)

    def __call__(self, xy: torch.Tensor) -> torch.Tensor:
        x, y = xy[..., 0], xy[..., 1]
        return self.a * (y - self.c * x**2) ** 2 + self.h * (x**2 - 1) ** 2 + self.t * x


@dataclass(frozen=True)
class Banana:
    """Rosenbrock's banana ``(1 − x)² + b (y − x²)²``: one minimum at ``(1, 1)``, not convex
    (its Hessian is indefinite above the parabola ``y = x² + 1/(2b)``), yet convex up to
    reparametrisation: with ``u = φ(x, y) = (1 − x, √b (y − x²))`` it is ``|u|²``
    (:meth:`from_convex` is ``φ⁻¹``)."""

    b: float = 5.0
    domain: tuple[float, float, float, float] = (-1.5, 2.0, -1.0, 3.0)

    def __call__(self, xy: torch.Tensor) -> torch.Tensor:
        x, y = xy[..., 0], xy[..., 1]
        return (1 - x) ** 2 + self.b * (y - x**2) ** 2

    def from_convex(self, u: torch.Tensor) -> torch.Tensor:
        """``φ⁻¹``: the point ``(x, y)`` where ``f = |u|²``, ``u: Tensor[..., 2]``."""
        x = 1 - u[..., 0]
        return torch.stack([x, u[..., 1] / self.b**0.5 + x**2], -1)


@dataclass(frozen=True)
class SaturatingBowl:
    """``s / (1 + s)`` with ``s = |p − p0|²``: one minimum, concave in the radial direction
    beyond ``|p − p0| = 1/√3`` (not convex), yet ``|u|²`` after the reparametrisation
    ``u = (p − p0) / √(1 + s)`` (:meth:`from_convex` is its inverse, defined for ``|u| < 1``)."""

    center: tuple[float, float] = (0.3, -0.2)
    domain: tuple[float, float, float, float] = (-3.0, 3.0, -3.0, 3.0)

    def __call__(self, xy: torch.Tensor) -> torch.Tensor:
        s = ((xy - torch.as_tensor(self.center, dtype=xy.dtype, device=xy.device)) ** 2).sum(-1)
        return s / (1 + s)

    def from_convex(self, u: torch.Tensor) -> torch.Tensor:
        """``φ⁻¹``: ``p0 + u / √(1 − |u|²)``, for ``|u| < 1``."""
        c = torch.as_tensor(self.center, dtype=u.dtype, device=u.device)
        return c + u / torch.sqrt(1 - (u**2).sum(-1, keepdim=True))


@dataclass(frozen=True)
class TiltedDoubleWell:
    """``(x² − 1)² + t x + y²``: two basins, minima near ``(±1, 0)`` (the right one higher by
    ~``2t``) and a saddle near the origin at ~1: its barcode has one finite bar."""

    t: float = 0.3
    domain: tuple[float, float, float, float] = (-2.0, 2.0, -1.5, 1.5)

    def __call__(self, xy: torch.Tensor) -> torch.Tensor:
        x, y = xy[..., 0], xy[..., 1]
        return (x**2 - 1) ** 2 + self.t * x + y**2


LANDSCAPES = {"gaussian_wells": GaussianWells, "six_hump_camel": SixHumpCamel,
              "curved_valley": CurvedValley, "banana": Banana,
              "saturating_bowl": SaturatingBowl, "tilted_double_well": TiltedDoubleWell}


def landscape(name: str):
    """The landscape called ``name`` (a key of ``LANDSCAPES``) with its default parameters."""
    if name not in LANDSCAPES:
        raise ValueError(f"unknown landscape {name!r}; choose one of {sorted(LANDSCAPES)}")
    return LANDSCAPES[name]()


def grid_values(f, domain: tuple[float, float, float, float], n: int) -> np.ndarray:
    """``f`` on an ``n × n`` grid of the domain, float64 ``[n, n]`` indexed ``[iy, ix]``."""
    if n < 2:
        raise ValueError(f"grid size must be at least 2, got {n}")
    x0, x1, y0, y1 = domain
    xs = torch.linspace(x0, x1, n, dtype=torch.float64)
    ys = torch.linspace(y0, y1, n, dtype=torch.float64)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    with torch.no_grad():
        return f(torch.stack([xx, yy], -1)).numpy()


def find_minima(f, domain: tuple[float, float, float, float], *, starts_per_side: int = 12,
                steps: int = 3000, lr: float = 0.05, merge_tol: float = 1e-3,
                grad_tol: float = 1e-6) -> torch.Tensor:
    """Local minima of ``f`` by gradient descent from a grid of starting points.

    Runs ``steps`` of plain gradient descent from ``starts_per_side²`` points spread over
    ``domain`` (all at once, float64), keeps the end points whose gradient norm is below
    ``grad_tol`` and that stay inside the domain, and merges those closer than ``merge_tol``.
    Returns float64 ``[N, 2]`` sorted by function value (lowest first).
    """
    x0, x1, y0, y1 = domain
    gx = torch.linspace(x0, x1, starts_per_side + 2, dtype=torch.float64)[1:-1]
    gy = torch.linspace(y0, y1, starts_per_side + 2, dtype=torch.float64)[1:-1]
    p = torch.stack(torch.meshgrid(gx, gy, indexing="ij"), -1).reshape(-1, 2).requires_grad_(True)
    opt = torch.optim.SGD([p], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        f(p).sum().backward()
        opt.step()
    p = p.detach()
    g = torch.func.vmap(torch.func.grad(f))(p)
    inside = (p[:, 0] > x0) & (p[:, 0] < x1) & (p[:, 1] > y0) & (p[:, 1] < y1)
    good = p[(g.norm(dim=1) < grad_tol) & inside]
    kept: list[torch.Tensor] = []
    for q in good[torch.argsort(f(good))]:
        if all(float((q - k).norm()) > merge_tol for k in kept):
            kept.append(q)
    if not kept:
        raise ValueError(f"gradient descent found no minimum inside {domain} after {steps} steps; "
                         f"raise steps or lr")
    return torch.stack(kept)
