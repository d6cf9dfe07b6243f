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
    with pytest.warns(UserWarning, match="cannot be read"):
        assert cache.cached("t", Cfg(), lambda: {"v": 1})["v"] == 1
    assert cache.cached("t", Cfg(), lambda: pytest.fail("recomputed"))["v"] == 1


def test_unsafe_objects_cannot_be_loaded(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"f": Cfg()}, path)  # a custom class: refused by weights_only loading
    with pytest.raises(Exception):
        cache.safe_load(path)


@dataclass(frozen=True)
class Inner:
    w: torch.Tensor
    arr: np.ndarray


@dataclass
class Outer:
    inner: Inner
    saddles: dict
    pair: tuple
    flags: np.ndarray
    names: list
    cfg: Cfg


def test_generic_codec_roundtrips_nested_dataclasses_exactly():
    from toolkit.topology import minima_barcode

    bc = minima_barcode([0.0, 1.0, 0.5], {(0, 1): 2.0, (1, 2): 1.5})
    obj = Outer(inner=Inner(w=torch.arange(3.0), arr=np.array([0.1, np.inf])),
                saddles={(0, 1): 2.0, (1, 2): 1.5}, pair=(1, (2, 3)), flags=np.array([True, False]),
                names=["a", None, 3], cfg=Cfg(n=7))
    out = cache.cached("outer", {"k": 1}, lambda: obj)
    again = cache.cached("outer", {"k": 1}, lambda: pytest.fail("recomputed"))
    for o in (out, again):
        assert isinstance(o, Outer) and isinstance(o.inner, Inner) and isinstance(o.cfg, Cfg)
        assert torch.equal(o.inner.w, obj.inner.w) and np.array_equal(o.inner.arr, obj.inner.arr)
        assert o.saddles == obj.saddles and o.pair == (1, (2, 3)) and o.names == ["a", None, 3]
        assert o.flags.dtype == bool and o.flags.tolist() == [True, False] and o.cfg == Cfg(n=7)
    assert cache.decode(cache.encode(bc)) == bc  # barcodes too, field by field
    with pytest.raises(TypeError, match="cannot store"):
        cache.encode(object())


def test_entry_of_another_config_is_recomputed_not_served():
    cache.cached("t", Cfg(n=1), lambda: {"v": 1})
    # a file copied under the hash of another configuration
    cache.cache_path("t", Cfg(n=2)).write_bytes(cache.cache_path("t", Cfg(n=1)).read_bytes())
    with pytest.warns(UserWarning, match="another configuration"):
        assert cache.cached("t", Cfg(n=2), lambda: {"v": 2})["v"] == 2
    assert cache.cached("t", Cfg(n=2), lambda: pytest.fail("recomputed"))["v"] == 2


def test_foreign_object_in_a_cache_file_is_recomputed():
    path = cache.cache_path("t", Cfg())
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"something": "else"}, path)
    with pytest.warns(UserWarning, match="not a cache entry"):
        assert cache.cached("t", Cfg(), lambda: {"v": 3})["v"] == 3
