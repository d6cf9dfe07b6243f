"""Every random stream of the toolkit, derived from a user's ``seed`` in one place.

Nothing in the toolkit seeds or draws from torch's global generator: each stream is a
``torch.Generator`` (or an integer seed for one) derived here from the user's seed and the
stream's name and indices, so that

- a run resumed at any step regenerates exactly the minibatches and random points it missed
  (:func:`epoch_generator` depends only on ``(seed, epoch, stream)``);
- ``n=20`` minima extend the ``n=10`` minima of the same seed (minimum ``i`` has seed ``seed + i``);
- two computations that must not share randomness (two path optimisations of the same pair,
  two trajectories of a stage) get different streams.

:func:`child_seed` names the derived seeds. The first streams below keep the formulas the
toolkit has always used (so cached and published numbers stay reproducible); any other stream
name is hashed with its indices.

==================  =================================  ==========================================
stream              seed                               used for
==================  =================================  ==========================================
``"minimum"``       ``seed + i``                       initialisation and batches of minimum ``i``
``"path_run"``      ``seed + 1000 r``                  ``r``-th independent path optimisation
``"bootstrap"``     ``seed + r``                       data bootstrap of path optimisation ``r``
``"subset"``        ``seed + 1``                       a training subset drawn for optimisation
``"trajectory"``    ``1000 seed + 100 stage + j``      L&P staged SGD, trajectory ``j``
``"perturbation"``  ``seed + 12345``                   L&P perturbations of a start point
other names         sha256 of ``(seed, name, *idx)``   new streams
==================  =================================  ==========================================
"""

from __future__ import annotations

import hashlib

import torch

__all__ = ["child_seed", "epoch_generator", "generator"]

_MOD = 2**63 - 1

_LEGACY = {
    "minimum": lambda s, i: s + i,
    "path_run": lambda s, r: s + 1000 * r,
    "bootstrap": lambda s, r: s + r,
    "subset": lambda s: s + 1,
    "trajectory": lambda s, stage, j: 1000 * s + 100 * stage + j,
    "perturbation": lambda s: s + 12345,
}


def child_seed(seed: int, stream: str, *index: int) -> int:
    """The seed of stream ``stream`` (with integer ``index``) derived from ``seed``; see the
    module's table."""
    seed, index = int(seed), tuple(int(i) for i in index)
    if stream in _LEGACY:
        return _LEGACY[stream](seed, *index)
    digest = hashlib.sha256(repr((seed, stream, index)).encode()).digest()
    return int.from_bytes(digest[:8], "little") % _MOD


def generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed``."""
    return torch.Generator().manual_seed(int(seed) % _MOD)


def epoch_generator(seed: int, epoch: int, stream: int | None = None) -> torch.Generator:
    """The generator of one epoch of an optimisation seeded by ``seed``.

    ``stream=None`` is the training loop's stream (minibatch order and augmentation,
    ``seed · 1,000,003 + epoch``); the path, curve and triangle optimisers use
    ``8 (seed · 1,000,003 + epoch) + stream`` with stream 0 for minibatches, 1 for the batches
    of the loss criterion of point insertion and 2 for random points on curves and triangles.
    """
    base = int(seed) * 1_000_003 + int(epoch)
    return generator(base if stream is None else base * 8 + int(stream))
