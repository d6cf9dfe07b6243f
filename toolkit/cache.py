"""Content-addressed cache for compute results.

A compute call's result is stored under ``data/cache/<name>/<sha256>.pt`` where the hash covers
the call's name, its full configuration and a code version string (bump it when the code that
produces the result changes meaning). Writes are atomic (temp file + ``os.replace``); loads use
``torch.load(..., weights_only=True)``, so only tensors, numbers, strings and plain containers
can be stored. Objects with ``to_state()``/``from_state()`` can be cached through ``codec=``.

``TOOLKIT_CACHE_DIR`` overrides the root (tests point it at a temporary folder).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import torch

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parent.parent


class Codec(Protocol):
    def to_state(self) -> dict: ...

    @classmethod
    def from_state(cls, state: dict) -> Any: ...


def cache_root() -> Path:
    """The cache folder: ``$TOOLKIT_CACHE_DIR`` or ``<repo>/data/cache``."""
    return Path(os.environ.get("TOOLKIT_CACHE_DIR", REPO_ROOT / "data" / "cache"))


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"__dataclass__": type(obj).__name__, **_jsonable(dataclasses.asdict(obj))}
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if isinstance(obj, (torch.Tensor, np.ndarray)):
        arr = np.ascontiguousarray(obj.detach().cpu().numpy() if isinstance(obj, torch.Tensor) else obj)
        return {"__array__": hashlib.sha256(arr.tobytes()).hexdigest(), "shape": list(arr.shape),
                "dtype": str(arr.dtype)}
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot hash config value of type {type(obj).__name__}: {obj!r}")


def config_hash(name: str, config: Any, version: str = "1") -> str:
    """sha256 of ``(name, config, version)`` in canonical JSON; configs may hold dataclasses,
    dicts, lists, numbers, strings, paths and arrays (hashed by content)."""
    payload = json.dumps({"name": name, "config": _jsonable(config), "version": version},
                         sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def cache_path(name: str, config: Any, version: str = "1", suffix: str = ".pt") -> Path:
    """Where the result of ``name(config)`` at ``version`` lives."""
    return cache_root() / name / f"{config_hash(name, config, version)}{suffix}"


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file in the same folder, then ``os.replace`` it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def safe_load(path: str | os.PathLike) -> Any:
    """``torch.load(path, weights_only=True, map_location="cpu")``."""
    return torch.load(path, map_location="cpu", weights_only=True)


def atomic_write_text(text: str, path: str | os.PathLike) -> None:
    """Write a text file atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def cached(name: str, config: Any, compute: Callable[[], T], *, version: str = "1",
           codec: type | None = None, refresh: bool = False) -> T:
    """Return ``compute()``, stored under ``cache_path(name, config, version)``.

    The first call computes and saves; later calls with an equal config and version load.
    ``codec`` is a class with ``to_state()``/``from_state()`` for results that are not plain
    containers of tensors. ``refresh=True`` recomputes and overwrites. A cache file that cannot
    be read (truncated, foreign) is recomputed, never trusted.
    """
    path = cache_path(name, config, version)
    if path.exists() and not refresh:
        try:
            state = safe_load(path)
        except Exception:  # corrupt or incompatible entry: recompute
            state = None
        if state is not None:
            return codec.from_state(state) if codec is not None else state
    result = compute()
    atomic_save(result.to_state() if codec is not None else result, path)
    return result
