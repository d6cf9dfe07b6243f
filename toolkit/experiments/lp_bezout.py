"""Liao & Poggio §3 / App. A (Figs. 1, 6, 7): zero-loss solutions of tiny polynomial networks.

The paper's theory replaces ReLU by a polynomial ``p`` of degree ``l`` and reads the zeros of the
empirical error, ``f(x_i; w) = y_i`` for ``i = 1..N``, as a system of polynomial equations in the
weights ``w``. In the square case (as many weights as data points) Bezout's theorem bounds the
number of isolated solutions by the product of the equations' degrees; in the over-parametrised
case (``K`` weights > ``N`` points) the solutions form sets of dimension at least ``K − N``, so
every zero-loss minimum is degenerate: the Hessian of the square loss there has ``K − N`` zero
eigenvalues.

Two computations check this exactly on networks small enough to solve:

- square case: ``f(x) = p(w2 p(w1 x1 + x2) + x3)`` (two layers, two weights, the compositional
  form of the paper's Eq. 5) on ``N = 2`` random data points. A lex Gröbner basis (``sympy``)
  gives all complex solutions, their number exactly, and Sturm's theorem the number of real
  ones; Newton's method from many random real starts is the independent cross-check of the
  real count.
- over-parametrised case: ``f(x) = sum_j a_j p(<v_j, x>)`` with ``h`` hidden units (``K = 3h``
  weights) on ``N < K`` random points. Zeros are found by Levenberg-Marquardt; at each the
  Hessian of ``1/2 sum (f(x_i) − y_i)^2`` is computed by autograd and its near-zero eigenvalues
  counted.

``p`` is the degree-2 fit of ReLU of ``toolkit.models.lp`` rounded to ``1/5 + z/2 + z^2/5`` so
that the algebra stays in exact rationals.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from toolkit import scales, seeds
from toolkit.cache import cached
from toolkit.params import as_int
from toolkit.report import verdict
from toolkit.seeds import child_seed

__all__ = ["LPBezoutConfig", "LPBezoutResult", "lp_bezout", "lp_bezout_config"]

#: p(z) = 1/5 + z/2 + z^2/5, the degree-2 ReLU fit (0.1995 + 0.5 z + 0.1995 z^2) in rationals
POLY = (Fraction(1, 5), Fraction(1, 2), Fraction(1, 5))


@dataclass(frozen=True)
class LPBezoutConfig:
    """``draws``: random data sets of the square case; ``newton_starts``: random real starts of
    the Newton cross-check per draw; ``shapes``: ``(N, h)`` of the over-parametrised nets
    (``K = 3h`` weights); ``zeros``: zeros sought per shape."""

    scale: str
    seed: int
    draws: int
    newton_starts: int
    shapes: tuple[tuple[int, int], ...]
    zeros: int

    def __post_init__(self) -> None:
        for name, least in (("seed", None), ("draws", 1), ("newton_starts", 1), ("zeros", 1)):
            object.__setattr__(self, name, as_int(getattr(self, name), name, minimum=least))

    def describe(self) -> str:
        return (f"scale={self.scale!r}: square case (2 weights, 2 data points) on {self.draws} "
                f"random data sets, {self.newton_starts} Newton starts each; over-parametrised "
                f"nets (N data, K weights) = "
                f"{', '.join(f'({n}, {3 * h})' for n, h in self.shapes)}, {self.zeros} zeros each")


def lp_bezout_config(scale: str = "cpu", seed: int = 0, **changes) -> LPBezoutConfig:
    """The configuration at ``scale`` (``tk.scales.EXPERIMENTS["lp_bezout"]``)."""
    cfg = LPBezoutConfig(scale=scale, seed=seed, **scales.settings("lp_bezout", scale))
    return dataclasses.replace(cfg, **changes)


@dataclass
class LPBezoutResult:
    """Square case, per draw ``[draws]``: ``degrees`` ``[draws, 2]`` total degrees of the two
    equations, ``n_complex`` (distinct finite complex solutions, from the Gröbner basis),
    ``n_real`` (real ones, Sturm), ``n_newton`` (distinct real zeros Newton found), ``bezout``
    (product of the degrees). Over-parametrised case, per zero found ``[Z]``: ``shape_n``,
    ``shape_k``, ``loss`` at the zero, ``zero_eigs`` (Hessian eigenvalues below ``1e-10`` of the
    largest), ``rank_j`` (rank of the ``N x K`` Jacobian); ``spectrum[i]`` the sorted eigenvalues;
    ``best_loss`` ``[len(shapes)]`` the smallest loss reached per shape (above ``1e-20``: no zero
    found, e.g. an inconsistent system)."""

    config: dict
    degrees: np.ndarray
    n_complex: np.ndarray
    n_real: np.ndarray
    n_newton: np.ndarray
    bezout: np.ndarray
    paper_count: int
    shape_n: np.ndarray
    shape_k: np.ndarray
    loss: np.ndarray
    zero_eigs: np.ndarray
    rank_j: np.ndarray
    spectrum: list[np.ndarray]
    best_loss: np.ndarray
    compute_s: float

    def spectrum_labels(self) -> list[str]:
        """``"N=4, K=6"`` for every zero, in the order of :attr:`spectrum`."""
        return [f"N={n}, K={k}" for n, k in zip(self.shape_n.tolist(), self.shape_k.tolist())]

    def summary(self) -> str:
        lines = ["square case f(x) = p(w2 p(w1 x1 + x2) + x3), N = K = 2:",
                 f"{'draw':>4} {'degrees':>8} {'Bezout':>6} {'complex':>7} {'real':>4} "
                 f"{'Newton (real)':>13}"]
        for i in range(len(self.n_complex)):
            lines.append(f"{i + 1:>4} {str(tuple(self.degrees[i].tolist())):>8} {self.bezout[i]:>6} "
                         f"{self.n_complex[i]:>7} {self.n_real[i]:>4} {self.n_newton[i]:>13}")
        lines.append(f"the paper's count l^(N d) = {self.paper_count}; Smale-Shub's estimate of "
                     f"real zeros l^(N d / 2) = {math.isqrt(self.paper_count)}")
        lines.append("over-parametrised f(x) = sum_j a_j p(<v_j, x>):")
        lines.append(f"{'N':>3} {'K':>3} {'zeros':>5} {'K - N':>5} {'zero Hessian eigenvalues':>24} "
                     f"{'rank J':>6} {'smallest loss':>13}")
        for (n, h), best in zip(self.config["shapes"], self.best_loss):
            k = 3 * h
            m = (self.shape_n == n) & (self.shape_k == k)
            z = sorted(set(self.zero_eigs[m].tolist()))
            lines.append(f"{n:>3} {k:>3} {m.sum():>5} {k - n:>5} {str(z):>24} "
                         f"{str(sorted(set(self.rank_j[m].tolist()))):>6} {best:13.1e}")
        return "\n".join(lines)

    def verdict(self) -> dict:
        """Two exact checks: (1) in the square case every draw has at most Bezout's number of
        solutions and Newton's method finds exactly the real ones Sturm counts; (2) at every
        zero of an over-parametrised net the Hessian has exactly ``K − N`` zero eigenvalues
        (a flat set of dimension ``K − N``). The figures this page stands for are drawings of
        the basin model, which a computation on tiny networks can illustrate but not reproduce:
        both checks passing is an ``"illustration"``; a failing exact check contradicts the
        mathematics the paper relies on and reads ``"not reproduced"``."""
        square = bool(np.all(self.n_complex <= self.bezout) and np.all(self.n_newton == self.n_real))
        over = bool(len(self.loss) > 0 and np.all(self.zero_eigs == self.shape_k - self.shape_n))
        status = "illustration" if square and over else "not reproduced"
        cfg = self.config
        return verdict(
            status=status, dataset="synthetic: random data points in R^2 and R^3 with random "
                                   "targets (no data set involved)",
            runs=f"{cfg['draws']} square systems; {len(self.loss)} zeros of "
                 f"{len(cfg['shapes'])} over-parametrised nets",
            finding=(f"square case: {self.n_complex.tolist()} complex / {self.n_real.tolist()} "
                     f"real solutions (Newton: {self.n_newton.tolist()}) vs Bezout's bound "
                     f"{self.bezout.tolist()} and the paper's l^(Nd) = {self.paper_count}; "
                     f"over-parametrised: zero Hessian eigenvalues = K - N at "
                     f"{int(np.sum(self.zero_eigs == self.shape_k - self.shape_n))} of "
                     f"{len(self.loss)} zeros"),
            paper="Proposition 1: zeros of the empirical error are finitely many (Bezout) in the "
                  "square case, degenerate sets of dimension K - N when over-parametrised; the "
                  "basin model itself is drawn, not measured",
            ours=f"tiny polynomial nets: {int(self.n_complex.max())} <= {int(self.bezout.min())} "
                 f"solutions; flat directions = K - N at "
                 f"{int(np.sum(self.zero_eigs == self.shape_k - self.shape_n))}/{len(self.loss)} "
                 "zeros (an illustration of Proposition 1, not of the basin model)",
            numbers={"n_complex": self.n_complex.tolist(), "n_real": self.n_real.tolist(),
                     "bezout": self.bezout.tolist(), "n_newton": self.n_newton.tolist(),
                     "compute_s": self.compute_s},
            compute_s=self.compute_s, scale=cfg["scale"], compared=len(self.n_complex) + len(self.loss))


def _square_draw(seed: int, starts: int) -> tuple[tuple[int, int], int, int, int]:
    """(degrees, complex solutions, real solutions, real zeros found by Newton) of one draw."""
    import sympy as sp

    rng = np.random.default_rng(seed)
    data = rng.integers(-10, 11, size=(2, 3))
    targets = rng.integers(1, 11, size=2)
    w1, w2 = sp.symbols("w1 w2")
    R = sp.Rational
    poly = [R(c.numerator, c.denominator) for c in POLY]

    def p(z):
        return poly[0] + poly[1] * z + poly[2] * z ** 2

    eqs = [sp.expand(p(w2 * p(w1 * R(int(a), 10) + R(int(b), 10)) + R(int(c), 10)) - R(int(t), 10))
           for (a, b, c), t in zip(data, targets)]
    degrees = tuple(int(sp.Poly(e, w1, w2).total_degree()) for e in eqs)
    basis = sp.groebner(eqs, w1, w2, order="lex")
    if not basis.is_zero_dimensional:
        raise ArithmeticError(f"draw {seed}: the solution set is not finite; draw again")
    # number of solutions (with multiplicity) = number of standard monomials of the basis
    leads = [sp.Poly(g, w1, w2).monoms(order="lex")[0] for g in basis.exprs]
    bound = max(sum(degrees), 1) ** 2
    n_complex = sum(1 for i in range(bound) for j in range(bound)
                    if not any(i >= a and j >= b for a, b in leads))
    uni = sp.Poly(basis.exprs[-1], w2)
    n_real = int(uni.count_roots()) if uni.is_sqf and len(basis.exprs) == 2 and \
        sp.Poly(basis.exprs[0], w1, w2).degree(w1) == 1 else -1
    # Newton from random real starts: the independent count of real zeros
    f = sp.lambdify((w1, w2), sp.Matrix(eqs), "numpy")
    jac = sp.lambdify((w1, w2), sp.Matrix(eqs).jacobian([w1, w2]), "numpy")
    found: list[np.ndarray] = []
    # starts of every magnitude from 1e-2 to 1e3 (real zeros lie far apart: |w2| up to ~70 here)
    mags = 10.0 ** rng.uniform(-2, 3, size=(starts, 2)) * rng.choice([-1.0, 1.0], size=(starts, 2))
    for z in mags:
        for _ in range(100):
            r = np.asarray(f(*z), float).ravel()
            if np.abs(r).max() < 1e-13:
                break
            try:
                z = z - np.linalg.solve(np.asarray(jac(*z), float), r)
            except np.linalg.LinAlgError:
                break
            if not np.all(np.isfinite(z)) or np.abs(z).max() > 1e6:
                break
        r = np.asarray(f(*z), float).ravel()
        if np.all(np.isfinite(z)) and np.abs(r).max() < 1e-9 and \
                not any(np.abs(z - q).max() < 1e-6 * (1 + np.abs(q).max()) for q in found):
            found.append(z)
    return degrees, int(n_complex), n_real, len(found)


def _over(n: int, h: int, zeros: int, seed: int
          ) -> tuple[list[tuple[float, int, int, np.ndarray]], float]:
    """(loss, zero Hessian eigenvalues, Jacobian rank, spectrum) at up to ``zeros`` zeros found
    in at most ``8 zeros`` Levenberg-Marquardt runs, and the smallest loss any run reached."""
    gen = seeds.generator(seed)
    x = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    y = torch.rand(n, generator=gen, dtype=torch.float64) + 0.5
    c = [float(v) for v in POLY]

    def resid(w: torch.Tensor) -> torch.Tensor:
        v, a = w[:2 * h].view(h, 2), w[2 * h:]
        z = x @ v.T  # [n, h]
        return (c[0] + c[1] * z + c[2] * z * z) @ a - y

    def jac(w: torch.Tensor) -> torch.Tensor:  # [n, 3h], closed form (cheaper than autograd)
        v, a = w[:2 * h].view(h, 2), w[2 * h:]
        z = x @ v.T
        dv = (a * (c[1] + 2 * c[2] * z))[:, :, None] * x[:, None, :]  # [n, h, 2]
        return torch.cat([dv.reshape(n, 2 * h), c[0] + c[1] * z + c[2] * z * z], dim=1)

    out, best = [], math.inf
    eye = torch.eye(3 * h, dtype=torch.float64)
    for _ in range(8 * zeros):
        if len(out) == zeros:
            break
        w = torch.randn(3 * h, generator=gen, dtype=torch.float64)
        lam, r = 1e-2, resid(w)
        for _ in range(300):  # Levenberg-Marquardt
            if float(r @ r) < 1e-30:
                break
            J = jac(w)
            trial = w - torch.linalg.solve(J.T @ J + lam * eye, J.T @ r)
            rt = resid(trial)
            if rt @ rt < r @ r:
                w, r, lam = trial, rt, max(lam / 3, 1e-12)
            else:
                lam *= 4
        loss = float(0.5 * (r @ r))
        best = min(best, loss)
        if loss > 1e-20:
            continue
        # the exact Hessian of the square loss (autograd), not the Gauss-Newton J^T J
        H = torch.autograd.functional.hessian(lambda u: 0.5 * (resid(u) ** 2).sum(), w)
        eig = torch.linalg.eigvalsh(H).numpy()
        zero = int(np.sum(np.abs(eig) < 1e-10 * np.abs(eig).max()))  # float64 noise: ~1e-16
        out.append((loss, zero, int(torch.linalg.matrix_rank(jac(w))), np.sort(eig)))
    return out, best


def _compute(cfg: LPBezoutConfig) -> LPBezoutResult:
    t0 = time.perf_counter()
    sq = [_square_draw(child_seed(cfg.seed, "lp_bezout", i), cfg.newton_starts)
          for i in range(cfg.draws)]
    rows, best = [], []
    for n, h in cfg.shapes:
        found, b = _over(n, h, cfg.zeros, child_seed(cfg.seed, "lp_over", n, h))
        rows += [(n, 3 * h, *z) for z in found]
        best.append(b)
    degrees = np.array([d for d, *_ in sq], dtype=np.int64)
    return LPBezoutResult(
        config=dataclasses.asdict(cfg), degrees=degrees,
        n_complex=np.array([s[1] for s in sq]), n_real=np.array([s[2] for s in sq]),
        n_newton=np.array([s[3] for s in sq]), bezout=degrees.prod(1),
        paper_count=2 ** (2 * 2),  # l^(N d): l = 2, N = 2 data points, d = 2 layers
        shape_n=np.array([r[0] for r in rows]), shape_k=np.array([r[1] for r in rows]),
        loss=np.array([r[2] for r in rows]), zero_eigs=np.array([r[3] for r in rows]),
        rank_j=np.array([r[4] for r in rows]), spectrum=[r[5] for r in rows],
        best_loss=np.array(best),
        compute_s=time.perf_counter() - t0)


def lp_bezout(cfg: LPBezoutConfig, *, device: str = "auto", progress: bool = True
              ) -> LPBezoutResult:
    """Solve (or load from the cache) the tiny systems of ``cfg`` (CPU, float64 and exact
    rationals; ``device`` and ``progress`` are accepted for a uniform interface)."""
    return cached("lp_bezout", cfg, lambda: _compute(cfg), version="5")
