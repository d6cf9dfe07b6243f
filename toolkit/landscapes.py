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

__all__ = ["GaussianWells", "SixHumpCamel", "LANDSCAPES", "landscape", "find_minima"]


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


LANDSCAPES = {"gaussian_wells": GaussianWells, "six_hump_camel": SixHumpCamel}


def landscape(name: str) -> GaussianWells | SixHumpCamel:
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
