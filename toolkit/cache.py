"""Content-addressed cache for compute results, and the serialisation every result shares.

A compute call's result is stored under ``data/cache/<name>/<sha256>.pt`` where the hash covers
the call's name, its full configuration and a code version string (bump it when the code that
produces the result changes meaning). An entry also stores the configuration itself; loading
compares it with the caller's, so a file copied or moved under the wrong hash is recomputed, not
served. Writes are atomic (temp file + ``os.replace``); loads use ``torch.load(...,
weights_only=True)``, so only tensors, numbers, strings and plain containers are ever unpickled.

Results are written by one generic codec (:func:`encode` / :func:`decode`): dataclasses (frozen
or not, nested), tensors, numpy arrays, tuples and dicts with non-string keys (e.g.
``{(i, j): saddle}``) round-trip exactly, with no per-class ``to_state``/``from_state``.
Dataclasses are rebuilt by calling the class with the stored fields, so their ``__post_init__``
validation runs again on load; only classes of modules already imported are resolved.

Run checkpoints (:func:`save_checkpoint` / :func:`load_checkpoint`) carry a fingerprint of the
run that wrote them; another run refuses them.

``TOOLKIT_CACHE_DIR`` overrides the root (tests point it at a temporary folder).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parent.parent

#: layout of a stored cache entry; entries of other formats are recomputed
_FORMAT = 2


def cache_root() -> Path:
    """The cache folder: ``$TOOLKIT_CACHE_DIR`` or ``<repo>/data/cache``."""
    return Path(os.environ.get("TOOLKIT_CACHE_DIR", REPO_ROOT / "data" / "cache"))


# ----------------------------------------------------------------------------- keys


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"__dataclass__": type(obj).__name__, **_jsonable(dataclasses.asdict(obj))}
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
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


def _canonical(name: str, config: Any, version: str) -> str:
    return json.dumps({"name": name, "config": _jsonable(config), "version": version},
                      sort_keys=True, separators=(",", ":"))


def config_hash(name: str, config: Any, version: str = "1") -> str:
    """sha256 of ``(name, config, version)`` in canonical JSON; configs may hold dataclasses,
    dicts, lists, numbers, strings, paths and arrays (hashed by content)."""
    return hashlib.sha256(_canonical(name, config, version).encode()).hexdigest()


def cache_path(name: str, config: Any, version: str = "1", suffix: str = ".pt") -> Path:
    """Where the result of ``name(config)`` at ``version`` lives."""
    return cache_root() / name / f"{config_hash(name, config, version)}{suffix}"


# ----------------------------------------------------------------------------- files


def _atomic(path: str | os.PathLike, write: Callable[[Any], None], mode: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file in the same folder, then ``os.replace`` it."""
    _atomic(path, lambda fh: torch.save(obj, fh), "wb")


def atomic_write_text(text: str, path: str | os.PathLike) -> None:
    """Write a text file atomically."""
    _atomic(path, lambda fh: fh.write(text), "w")


def safe_load(path: str | os.PathLike) -> Any:
    """``torch.load(path, weights_only=True, map_location="cpu")``."""
    return torch.load(path, map_location="cpu", weights_only=True)


# ----------------------------------------------------------------------------- codec

_TAGS = ("__ndarray__", "__tuple__", "__items__", "__dataclass__")


def encode(obj: Any) -> Any:
    """``obj`` as plain containers of tensors, numbers and strings (loadable with
    ``weights_only=True``); :func:`decode` inverts it exactly. Tensors move to the CPU."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise TypeError("cannot store a numpy array of Python objects; use a list")
        return {"__ndarray__": torch.from_numpy(np.ascontiguousarray(obj).copy())}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, tuple):
        return {"__tuple__": [encode(v) for v in obj]}
    if isinstance(obj, list):
        return [encode(v) for v in obj]
    if isinstance(obj, Mapping):
        keys = list(obj.keys())
        if all(isinstance(k, str) and k not in _TAGS for k in keys):
            return {k: encode(v) for k, v in obj.items()}
        return {"__items__": [[encode(k), encode(v)] for k, v in obj.items()]}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        cls = type(obj)
        fields = {f.name: encode(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
        return {"__dataclass__": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
    raise TypeError(f"cannot store a {type(obj).__name__} in the cache ({obj!r:.80}); store "
                    "tensors, arrays, numbers, strings, containers or dataclasses of them")


def _resolve(name: str) -> type:
    module, _, qualname = name.partition(":")
    mod = sys.modules.get(module)
    obj: Any = mod
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if mod is None or not (isinstance(obj, type) and dataclasses.is_dataclass(obj)):
        raise TypeError(f"stored class {name} is not an imported dataclass")
    return obj


def decode(state: Any) -> Any:
    """Inverse of :func:`encode`."""
    if isinstance(state, list):
        return [decode(v) for v in state]
    if not isinstance(state, dict):
        return state
    if "__ndarray__" in state:
        return state["__ndarray__"].numpy()
    if "__tuple__" in state:
        return tuple(decode(v) for v in state["__tuple__"])
    if "__items__" in state:
        return {_hashable(decode(k)): decode(v) for k, v in state["__items__"]}
    if "__dataclass__" in state:
        cls = _resolve(state["__dataclass__"])
        return cls(**{k: decode(v) for k, v in state["fields"].items()})
    return {k: decode(v) for k, v in state.items()}


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, (list, tuple)) else key


# ----------------------------------------------------------------------------- cached calls


def cached(name: str, config: Any, compute: Callable[[], T], *, version: str = "1",
           refresh: bool = False) -> T:
    """Return ``compute()``, stored under ``cache_path(name, config, version)``.

    The first call computes and saves; later calls with an equal config and version load. An
    entry that cannot be read (truncated, foreign, of an older format) or that was written for
    another configuration is recomputed with a warning, never trusted. ``refresh=True``
    recomputes and overwrites.
    """
    canonical = _canonical(name, config, version)
    path = cache_root() / name / f"{hashlib.sha256(canonical.encode()).hexdigest()}.pt"
    if path.exists() and not refresh:
        problem, result = _load_entry(path, canonical)
        if problem is None:
            return result
        warnings.warn(f"cache entry {path} {problem}; recomputing it", stacklevel=2)
    result = compute()
    atomic_save({"format": _FORMAT, "config": canonical, "result": encode(result)}, path)
    return result


def _load_entry(path: Path, canonical: str) -> tuple[str | None, Any]:
    try:
        state = safe_load(path)
    except Exception as err:  # noqa: BLE001 - any unreadable file is recomputed
        return f"cannot be read ({type(err).__name__})", None
    if not isinstance(state, dict) or state.get("format") != _FORMAT or "result" not in state:
        return "is not a cache entry of this toolkit version", None
    if state.get("config") != canonical:
        return "was written for another configuration (copied or moved under the wrong name?)", None
    try:
        return None, decode(state["result"])
    except Exception as err:  # noqa: BLE001 - e.g. a stored dataclass's own validation failing
        return f"cannot be decoded ({type(err).__name__}: {err})", None


# ----------------------------------------------------------------------------- checkpoints


def fingerprint(kind: str, **parts: Any) -> str:
    """Hash identifying a run; a checkpoint is only resumed by a run with the same one."""
    return config_hash(f"{kind}-checkpoint", parts, version="1")


def save_checkpoint(path: str | os.PathLike, fp: str, state: dict) -> None:
    """Write ``state`` (plain containers, e.g. from :func:`encode`; tensors moved to the CPU) with
    the run's fingerprint, atomically."""
    atomic_save({"fingerprint": fp, "state": to_cpu(state)}, path)


def load_checkpoint(path: str | os.PathLike, fp: str) -> dict | None:
    """The state saved at ``path`` by the run with fingerprint ``fp``; ``None`` when there is no
    file or it cannot be read (with a warning: the run starts over). A checkpoint written by
    another run (another configuration, data, start or seed) raises ``ValueError``."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        saved = safe_load(path)
        ok = isinstance(saved, dict) and "fingerprint" in saved and "state" in saved
    except Exception as err:  # noqa: BLE001 - a torn checkpoint is ignored, not trusted
        ok, saved = False, err
    if not ok:
        warnings.warn(f"ignoring unreadable checkpoint {path} ({saved!r:.60}); starting over",
                      stacklevel=3)
        return None
    if saved["fingerprint"] != fp:
        raise ValueError(f"checkpoint {path} was written by a run with another configuration, "
                         "start, data or seed; delete it or pass resume=False")
    return saved["state"]


def to_cpu(obj: Any) -> Any:
    """Tensors (nested in dicts, lists, tuples and dataclasses) moved to the CPU."""
    return to_device(obj, torch.device("cpu"))


def to_device(obj: Any, device: torch.device | str) -> Any:
    """Tensors (nested in dicts, lists, tuples and dataclasses) moved to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to(device)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return type(obj)(**{f.name: to_device(getattr(obj, f.name), device)
                            for f in dataclasses.fields(obj) if f.init})
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj
