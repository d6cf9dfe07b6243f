"""Notebook parameters as they really arrive, normalised once, with one clear error otherwise.

A notebook's ``parameters`` cell holds literals (``depths = [2, 3, 4, 6, 8]``), but a reader
overriding them from the command line sends text: ``papermill -p depths "[2, 4]"`` injects the
*string* ``"[2, 4]"``, ``-p datasets mnist`` the string ``"mnist"`` and ``-p depths 4`` the
number ``4``. Every ``*_config`` builder in :mod:`toolkit.experiments` passes its parameters
through these helpers, so all of those forms mean what the reader meant, and anything else stops
with one line naming the parameter, the value and the accepted forms::

    depths = as_list(depths, "depths", int)                    # [2, 4], "[2, 4]", "2,4", 4
    datasets = as_list(datasets, "datasets", str, choices=DATASETS)
    seed = as_int(seed, "seed")

:func:`parse_cli_value` reads one ``-p NAME VALUE`` of ``python -m toolkit.book execute``:
``True``/``False``/``None``, numbers and ``[...]`` lists become Python values, anything else stays
text (papermill's own ``-p`` does the same except for lists; its ``-y`` takes YAML).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["as_choice", "as_int", "as_list", "parse_cli_value"]

_KIND = {int: "integers", float: "numbers", str: "names"}
_EXAMPLE = {int: "[2, 4]", float: "[0.1, 0.2]", str: '["mnist", "fashion-mnist"]'}


def _hint(name: str, item: type) -> str:
    ex = _EXAMPLE.get(item, "[...]")
    return f"from the command line pass -p {name} '{ex}' (or papermill -y '{name}: {ex}')"


def _convert(value: Any, item: type) -> Any:
    """``value`` as an ``item`` (int, float or str); ``ValueError`` when it is not one."""
    if isinstance(value, str):
        text = value.strip().strip("'\"").strip()
        if not text:
            raise ValueError("empty")
        if item is str:
            return text
        if item is int:
            return int(text)
        return item(text)
    if isinstance(value, bool):  # True is an int in Python, never a depth or a seed
        raise ValueError("a boolean")
    if item is int:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError("not whole")
        return int(value)
    if item is float:
        return float(value)
    if item is str:
        raise ValueError("not text")
    return item(value)


def _items(value: Any) -> list[Any]:
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in "[(":
            try:
                parsed = ast.literal_eval(text)
            except (ValueError, SyntaxError):  # e.g. [mnist, fashion-mnist] without quotes
                parsed = text[1:-1] if text[-1:] in "])" else text[1:]
                return [p for p in parsed.split(",") if p.strip()]
            return list(parsed) if isinstance(parsed, (list, tuple)) else [parsed]
        return [p for p in text.split(",") if p.strip()]
    if isinstance(value, (int, float)):
        return [value]
    if hasattr(value, "tolist") and not isinstance(value, (list, tuple)):  # numpy / torch
        out = value.tolist()
        return out if isinstance(out, list) else [out]
    if isinstance(value, Iterable) and not isinstance(value, (bytes, dict)):
        return list(value)
    raise TypeError


def as_list(value: Any, name: str, item: type = str, *, choices: Sequence[Any] | None = None,
            min_len: int = 1) -> tuple:
    """``value`` as a tuple of ``item`` (``int``, ``float`` or ``str``).

    Accepts a list or tuple, one scalar (``4``, ``"mnist"``), a list written as text
    (``"[2, 4]"``, ``"(2, 4)"``, ``"[mnist, fashion-mnist]"``) or comma-separated text
    (``"2,4"``). Raises ``ValueError`` (one line, naming ``name`` and the accepted forms) for
    anything else, for fewer than ``min_len`` items, or for items outside ``choices``.
    """
    what = _KIND.get(item, item.__name__)
    try:
        items = _items(value)
        out = tuple(_convert(v, item) for v in items)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a list of {what}, e.g. {_EXAMPLE.get(item, '[...]')}; "
                         f"got {value!r}: {_hint(name, item)}") from None
    if len(out) < min_len:
        raise ValueError(f"{name} needs at least {min_len} value(s), got {value!r}: "
                         f"{_hint(name, item)}")
    if choices is not None:
        bad = [v for v in out if v not in choices]
        if bad:
            raise ValueError(f"{name}: unknown value(s) {', '.join(map(repr, bad))}; choose from "
                             f"{', '.join(map(repr, choices))}")
    return out


def as_int(value: Any, name: str, *, minimum: int | None = None, allow_none: bool = False) -> int | None:
    """``value`` as an ``int`` (``3``, ``3.0``, ``"3"``); ``None`` passes when ``allow_none``.
    Raises ``ValueError`` (one line) otherwise or when below ``minimum``."""
    if value is None or (isinstance(value, str) and value.strip() in ("None", "none", "null")):
        if allow_none:
            return None
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    try:
        out = _convert(value, int)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number{' or None' if allow_none else ''}, got "
                         f"{value!r}") from None
    if minimum is not None and out < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return out


def as_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """``value`` (text, surrounding quotes and spaces ignored) if it is one of ``choices``, else a
    one-line ``ValueError`` listing them."""
    text = value.strip().strip("'\"").strip() if isinstance(value, str) else value
    if text not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return text


def parse_cli_value(text: str) -> Any:
    """One command-line parameter value as a Python value: ``"True"``/``"False"`` -> bool,
    ``"None"`` -> None, numbers -> int/float, ``"[2, 4]"``-style lists and quoted strings ->
    their literal; anything else (``mnist``, ``cuda:1``) stays text."""
    special = {"True": True, "False": False, "None": None}
    if text in special:
        return special[text]
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    return value if isinstance(value, (int, float, str, list, tuple, dict)) else text
