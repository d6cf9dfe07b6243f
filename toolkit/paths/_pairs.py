"""Private: which pairs of minima an optimisation joins, validated against the objective."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def all_pairs(n: int) -> Tensor:
    """All pairs ``i < j`` of ``n`` minima, ``LongTensor[n(n-1)/2, 2]``."""
    return torch.combinations(torch.arange(n), r=2) if n >= 2 else torch.zeros(0, 2, dtype=torch.long)


def check_minima(objective: Any, minima: Tensor) -> None:
    """``minima`` must be finite ``Tensor[N, D]`` with the objective's ``D``."""
    if not isinstance(minima, Tensor) or minima.dim() != 2 or minima.shape[1] != objective.dim:
        shape = tuple(minima.shape) if isinstance(minima, Tensor) else type(minima).__name__
        raise ValueError(f"minima must be Tensor[N, D={objective.dim}] (one flat parameter vector "
                         f"per row, the objective's dimension), got {shape}")
    if not torch.isfinite(minima).all():
        raise ValueError("minima contain non-finite values")


def check_pairs(objective: Any, minima: Tensor, pairs: Tensor | list | None) -> Tensor:
    """Validated ``LongTensor[P, 2]`` of distinct minima indices (default: all pairs)."""
    check_minima(objective, minima)
    pairs = all_pairs(len(minima)) if pairs is None else torch.as_tensor(pairs, dtype=torch.long).reshape(-1, 2)
    if len(pairs) == 0:
        raise ValueError("no pairs of minima to connect (need at least 2 minima)")
    if pairs.min() < 0 or pairs.max() >= len(minima) or (pairs[:, 0] == pairs[:, 1]).any():
        raise ValueError(f"pairs must index distinct minima in [0, {len(minima)}), got {pairs.tolist()}")
    return pairs
