"""Device selection: ``device="auto"`` means CUDA when present, else CPU.

Every compute call resolves its ``device`` argument here, before any work, so a mistyped or
unavailable device stops with one line naming the value and what this machine accepts, instead
of a library error deep inside a run.
"""

from __future__ import annotations

import torch


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def accepted_devices() -> list[str]:
    """The device strings this machine accepts: ``"auto"``, ``"cpu"``, then ``"cuda"`` and
    ``"cuda:0"``... ``"cuda:N-1"`` when CUDA is available, and ``"mps"`` when it is."""
    out = ["auto", "cpu"]
    if torch.cuda.is_available():
        out += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        out.append("mps")
    return out


def _bad(device: object, why: str) -> ValueError:
    forms = ", ".join(repr(f) for f in accepted_devices())
    return ValueError(f"device={device!r} {why}; use one of {forms}")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Return a ``torch.device`` for ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.

    ``"auto"`` picks the first CUDA device when ``torch.cuda.is_available()``, else the CPU.
    Anything this machine cannot run on (an unknown name, CUDA without CUDA, ``cuda:N`` beyond
    the device count, MPS without MPS) raises a one-line ``ValueError`` listing the accepted
    forms (:func:`accepted_devices`).
    """
    if isinstance(device, str) and device.strip().lower() == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str):
        try:
            dev = torch.device(device.strip().lower())
        except (RuntimeError, ValueError, TypeError):
            raise _bad(device, "is not a device name") from None
    else:
        raise _bad(device, "is not a device name")
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise _bad(device, "requested but CUDA is not available on this machine")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise _bad(device, f"does not exist: this machine has {count} CUDA device(s)")
        return dev
    if dev.type == "mps":
        if not _mps_available():
            raise _bad(device, "requested but MPS is not available on this machine")
        return dev
    raise _bad(device, f"is a {dev.type!r} device, which the toolkit does not run on")
