"""Classical (strain / Torgerson) multidimensional scaling of weight snapshots (Liao & Poggio §3).

Liao & Poggio visualise training trajectories by MDS of ``1 − cosine similarity`` between the
flattened weights of one layer ("more robust to scaling of the weights, which is usually
normalized out by BNs"). Classical MDS double-centres the squared distances,
``B = −½ J D² J`` with ``J = I − 11ᵀ/n``, and takes the top eigenvectors of ``B`` scaled by the
square roots of their eigenvalues. When ``D`` is Euclidean (the distances of points in some
``R^k``) this recovers the points up to a rigid motion; ``1 − cos`` is not a metric, so ``B``
may have negative eigenvalues, and :attr:`MDSResult.explained` says how much of the (positive)
spectrum the kept axes carry.

    >>> res = classical_mds(cosine_distances(W), k=2)      # W: Tensor[n, D]
    >>> res.coords.shape                                    # (n, 2)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["MDSResult", "classical_mds", "cosine_distances", "layer_mds"]


@dataclass
class MDSResult:
    """Classical MDS of ``n`` points.

    ``coords`` ``[n, k]`` (float64); ``eigenvalues`` ``[n]``, all eigenvalues of the doubly
    centred matrix ``B`` in decreasing order (negative ones mean ``D`` is not Euclidean);
    ``explained`` ``[k]``, each kept eigenvalue as a fraction of the sum of the positive ones.
    """

    coords: np.ndarray
    eigenvalues: np.ndarray
    explained: np.ndarray

    @property
    def explained_total(self) -> float:
        """Fraction of the positive spectrum carried by the ``k`` kept axes."""
        return float(self.explained.sum())


def classical_mds(dist: np.ndarray | Tensor, k: int = 2) -> MDSResult:
    """Classical (strain) MDS of a distance matrix ``dist`` ``[n, n]`` (symmetric, zero diagonal,
    any units) into ``k`` dimensions. Axes whose eigenvalue is ≤ 0 get zero coordinates.
    Signs of the axes are fixed so that the largest-magnitude coordinate of each axis is positive
    (the eigen-solver's sign is arbitrary)."""
    d = np.asarray(dist.detach().cpu().numpy() if isinstance(dist, Tensor) else dist, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"dist must be a square [n, n] matrix, got shape {d.shape}")
    n = d.shape[0]
    if n < 2:
        raise ValueError(f"need at least 2 points for MDS, got {n}")
    if not 1 <= k <= n:
        raise ValueError(f"k must be in 1..n={n}, got k={k}")
    if not np.isfinite(d).all():
        raise ValueError("dist contains NaN or inf")
    scale = max(float(np.abs(d).max()), 1e-300)
    if np.abs(d - d.T).max() > 1e-8 * scale or np.abs(np.diag(d)).max() > 1e-8 * scale:
        raise ValueError("dist must be symmetric with a zero diagonal (a distance matrix); got "
                         f"max asymmetry {np.abs(d - d.T).max():.3g}, max |diagonal| "
                         f"{np.abs(np.diag(d)).max():.3g}")
    if (d < -1e-12 * scale).any():
        raise ValueError(f"dist has negative entries (min {d.min():.3g}); distances are >= 0")
    d2 = d ** 2
    # B = -1/2 J D^2 J without forming J: subtract row and column means, add the grand mean
    b = -0.5 * (d2 - d2.mean(0, keepdims=True) - d2.mean(1, keepdims=True) + d2.mean())
    b = 0.5 * (b + b.T)
    w, v = np.linalg.eigh(b)
    order = np.argsort(w)[::-1]
    w, v = w[order], v[:, order]
    lam = np.clip(w[:k], 0.0, None)
    coords = v[:, :k] * np.sqrt(lam)
    for j in range(k):
        i = int(np.argmax(np.abs(coords[:, j])))
        if coords[i, j] < 0:
            coords[:, j] = -coords[:, j]
    pos = w[w > 0].sum()
    explained = lam / pos if pos > 0 else np.zeros(k)
    return MDSResult(coords=coords, eigenvalues=w, explained=explained)


def cosine_distances(W: Tensor) -> Tensor:
    """``1 − cos(W_i, W_j)`` for the rows of ``W`` ``[n, D]``: a ``[n, n]`` float64 tensor with
    zero diagonal and entries in ``[0, 2]``. Raises ``ValueError`` for a zero row (its cosine
    is undefined)."""
    if not isinstance(W, Tensor):
        W = torch.as_tensor(W)
    if W.ndim != 2:
        raise ValueError(f"W must be [n, D] (one flattened weight vector per row), got shape {tuple(W.shape)}")
    W = W.detach().to(torch.float64)
    norms = W.norm(dim=1)
    if (norms == 0).any():
        bad = torch.nonzero(norms == 0).flatten().tolist()
        raise ValueError(f"rows {bad} of W are zero; the cosine distance is undefined for them")
    u = W / norms[:, None]
    dist = (1.0 - u @ u.T).clamp_(0.0, 2.0)
    dist.fill_diagonal_(0.0)
    return 0.5 * (dist + dist.T)


def layer_mds(snapshots: Mapping[str, Tensor] | Sequence[Mapping[str, Tensor]],
              layer_names: Sequence[str], k: int = 2) -> dict[str, MDSResult]:
    """Liao & Poggio's per-layer MDS: for each name in ``layer_names``, classical MDS of
    ``1 − cos`` between the flattened weights of that layer across the ``n`` snapshots.

    ``snapshots`` is either a mapping ``{name: Tensor[n, *shape]}`` (e.g.
    ``tk.unflatten_params(model, flat)`` for flat snapshots ``[n, D]``) or a sequence of ``n``
    state dicts ``{name: Tensor[*shape]}``. Returns ``{name: MDSResult}`` (coords ``[n, k]``).
    """
    if not layer_names:
        raise ValueError("layer_names is empty; name at least one parameter, e.g. 'features.0.weight'")
    out = {}
    for name in layer_names:
        if isinstance(snapshots, Mapping):
            if name not in snapshots:
                raise KeyError(f"layer {name!r} not in snapshots; available: {sorted(snapshots)}")
            w = snapshots[name]
            w = w.reshape(w.shape[0], -1)
        else:
            if len(snapshots) == 0:
                raise ValueError("snapshots is empty")
            missing = [i for i, s in enumerate(snapshots) if name not in s]
            if missing:
                raise KeyError(f"layer {name!r} missing from snapshots {missing[:5]}; available: "
                               f"{sorted(snapshots[missing[0]])}")
            w = torch.stack([s[name].reshape(-1) for s in snapshots])
        out[name] = classical_mds(cosine_distances(w), k=k)
    return out
