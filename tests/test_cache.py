"""Content-addressed cache: keys, atomic writes, safe loads, recomputation of bad entries."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from toolkit import cache


@dataclass(frozen=True)
class Cfg:
    n: int = 3
    name: str = "a"


def test_key_depends_on_config_name_and_version():
    k = cache.config_hash("x", Cfg())
    assert k == cache.config_hash("x", Cfg(n=3, name="a"))
    assert len({k, cache.config_hash("x", Cfg(n=4)), cache.config_hash("y", Cfg()),
                cache.config_hash("x", Cfg(), version="2")}) == 4


def test_key_is_independent_of_dict_order_and_hashes_arrays_by_content():
    assert cache.config_hash("x", {"a": 1, "b": 2}) == cache.config_hash("x", {"b": 2, "a": 1})
    a = np.arange(4.0)
    assert cache.config_hash("x", {"w": a}) == cache.config_hash("x", {"w": torch.arange(4.0, dtype=torch.float64)})
    assert cache.config_hash("x", {"w": a}) != cache.config_hash("x", {"w": a + 1})
    with pytest.raises(TypeError, match="cannot hash"):
        cache.config_hash("x", {"f": object()})


def test_cached_computes_once_and_reloads():
    calls = []

    def compute():
        calls.append(1)
        return {"w": torch.arange(3.0), "loss": 0.5, "tag": "ok"}

    a = cache.cached("t", Cfg(), compute)
    b = cache.cached("t", Cfg(), compute)
    assert len(calls) == 1 and torch.equal(a["w"], b["w"]) and b["loss"] == 0.5
    cache.cached("t", Cfg(n=5), compute)
    assert len(calls) == 2
    cache.cached("t", Cfg(), compute, refresh=True)
    assert len(calls) == 3


def test_corrupt_entry_is_recomputed_not_trusted():
    path = cache.cache_path("t", Cfg())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a torch file")
    assert cache.cached("t", Cfg(), lambda: {"v": 1})["v"] == 1
    assert cache.safe_load(path)["v"] == 1


def test_unsafe_objects_cannot_be_loaded(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"f": Cfg()}, path)  # a custom class: refused by weights_only loading
    with pytest.raises(Exception):
        cache.safe_load(path)


class Box:
    def __init__(self, v):
        self.v = v

    def to_state(self):
        return {"v": self.v}

    @classmethod
    def from_state(cls, s):
        return cls(s["v"])


def test_codec_roundtrip():
    out = cache.cached("box", {"k": 1}, lambda: Box(torch.ones(2)), codec=Box)
    again = cache.cached("box", {"k": 1}, lambda: Box(torch.zeros(2)), codec=Box)
    assert isinstance(again, Box) and torch.equal(out.v, again.v)
