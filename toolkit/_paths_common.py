"""Private helpers shared by the path, curve and triangle optimisers: learning-rate schedules,
deterministic per-epoch random streams, checkpoint files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from toolkit.cache import atomic_save, config_hash, safe_load
from toolkit.schedules import multiplier

SCHEDULES = ("constant", "garipov", "cosine", "linear")


def lr_factor(schedule: str, frac: float) -> float:
    """Multiplier of the base learning rate at training progress ``frac`` in [0, 1] (one of
    :data:`SCHEDULES`, see :mod:`toolkit.schedules`)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"lr_schedule={schedule!r}; use one of {SCHEDULES}")
    return multiplier(schedule, frac)


def epoch_generator(seed: int, epoch: int, stream: int) -> torch.Generator:
    """A CPU generator that depends only on ``(seed, epoch, stream)``: a run resumed at any step
    regenerates the same minibatches and random points as an uninterrupted one."""
    g = torch.Generator()
    g.manual_seed(((int(seed) * 1_000_003 + int(epoch)) * 8 + int(stream)) % (2**63 - 1))
    return g


def epoch_batches(objective: Any, batch_size: int, seed: int, epoch: int, start: int) -> Iterator[Any]:
    """The minibatches of ``epoch`` from in-epoch step ``start`` on."""
    it = objective.batches(batch_size, epoch_generator(seed, epoch, 0))
    for i, b in enumerate(it):
        if i >= start:
            yield b


def fingerprint(kind: str, **parts: Any) -> str:
    """Hash identifying a run; a checkpoint is only resumed by a run with the same one."""
    return config_hash(f"{kind}-checkpoint", parts, version="1")


def load_checkpoint(path: str | os.PathLike, fp: str) -> dict | None:
    """The checkpoint at ``path`` if it exists, else ``None``; raises if it belongs to another run."""
    path = Path(path)
    if not path.exists():
        return None
    state = safe_load(path)
    if state.get("fingerprint") != fp:
        raise ValueError(f"checkpoint {path} was written by a run with another configuration, "
                         "minima, pairs or seed; delete it or pass resume=False")
    return state


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    atomic_save(state, path)


def to_cpu(obj: Any) -> Any:
    """Tensors (nested in dicts/lists) moved to the CPU, for checkpoints and result states."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


def to_device(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


def all_pairs(n: int) -> torch.Tensor:
    """All pairs ``i < j`` of ``n`` minima, ``LongTensor[n(n-1)/2, 2]``."""
    return torch.combinations(torch.arange(n), r=2) if n >= 2 else torch.zeros(0, 2, dtype=torch.long)
