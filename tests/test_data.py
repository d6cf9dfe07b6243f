"""Data loaders: real shipped files, real on-disk formats written small, clear errors."""

from __future__ import annotations

import gzip
import pickle
import shutil

import numpy as np
import pytest
import torch

import toolkit as tk
from toolkit import data


def test_mnist_sanity_facts():
    ds = data.load("mnist", "train")
    assert ds.x.shape == (60000, 1, 28, 28) and ds.x.dtype == torch.float32
    assert ds.y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert int((ds.y == 0).sum()) == 5923
    assert 0.0 <= float(ds.x.min()) and float(ds.x.max()) == 1.0


def test_fashion_mnist_balanced():
    tr, te = data.load("fashion-mnist", "train"), data.load("fashion-mnist", "test")
    assert tr.y[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert torch.bincount(tr.y).tolist() == [6000] * 10
    assert torch.bincount(te.y).tolist() == [1000] * 10


def test_digits_split_is_disjoint_and_complete():
    tr, te = data.load("digits", "train"), data.load("digits", "test")
    assert len(tr) + len(te) == 1797 and tr.shape == (1, 8, 8)
    assert float(tr.x.max()) == 1.0


@pytest.fixture
def raw_copy(tmp_path, monkeypatch):
    """A private copy of data/raw so tests may delete or corrupt files."""
    root = tmp_path / "raw"
    shutil.copytree(data.raw_root(), root, ignore=shutil.ignore_patterns("cifar*", "svhn"))
    monkeypatch.setenv("TOOLKIT_DATA_DIR", str(root))
    return root


def test_missing_file_names_file_and_folder(raw_copy):
    (raw_copy / "mnist" / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(tk.DataError) as err:
        data.load("mnist", "train")
    msg = str(err.value)
    assert "train-labels-idx1-ubyte.gz" in msg and str(raw_copy / "mnist") in msg
    assert "\n" not in msg


def test_corrupt_file_is_caught_by_checksum(raw_copy):
    path = raw_copy / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    blob = bytearray(path.read_bytes())
    blob[100] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(tk.DataError, match="checksum mismatch .*t10k-labels-idx1-ubyte.gz"):
        data.load("fashion-mnist", "test")


def test_a_file_changed_after_a_good_load_is_caught(raw_copy):
    data.load("mnist", "test")  # verified
    path = raw_copy / "mnist" / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(b"\x00" * 20))  # the bytes are hashed at every load
    with pytest.raises(tk.DataError, match="checksum mismatch"):
        data.load("mnist", "test")


def test_idx_roundtrip(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    p = tmp_path / "a-idx3-ubyte.gz"
    p.write_bytes(gzip.compress(data.to_bytes_idx(arr)))
    np.testing.assert_array_equal(data.read_idx(p), arr)
    p.write_bytes(gzip.compress(b"\x01\x02\x03\x04garbage"))
    with pytest.raises(tk.DataError, match="bad IDX magic"):
        data.read_idx(p)


def _write_cifar(folder, name, n_per_file, n_classes, files, label_key, rng):
    folder.mkdir(parents=True)
    expected_x, expected_y = [], []
    for f in files:
        x = rng.integers(0, 256, size=(n_per_file, 3 * 32 * 32), dtype=np.uint8)
        y = rng.integers(0, n_classes, size=n_per_file).tolist()
        with open(folder / f, "wb") as fh:
            pickle.dump({b"data": x, label_key: y, b"batch_label": b"x"}, fh, protocol=2)
        expected_x.append(x.reshape(-1, 3, 32, 32))
        expected_y.extend(y)
    return np.concatenate(expected_x), np.array(expected_y)


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_loaders_read_the_python_format(tmp_path, monkeypatch, name):
    monkeypatch.setenv("TOOLKIT_DATA_DIR", str(tmp_path))
    rng = np.random.default_rng(0)
    if name == "cifar10":
        folder = tmp_path / "cifar10" / "cifar-10-batches-py"
        train = [f"data_batch_{i}" for i in range(1, 6)]
        x, y = _write_cifar(folder, name, 3, 10, train, b"labels", rng)
        _write_cifar(folder.parent / "t", name, 2, 10, ["x"], b"labels", rng)
        shutil.copy(folder.parent / "t" / "x", folder / "test_batch")
        n_classes = 10
    else:
        folder = tmp_path / "cifar100" / "cifar-100-python"
        x, y = _write_cifar(folder, name, 4, 100, ["train"], b"fine_labels", rng)
        n_classes = 100
    ds = data.load(name, "train")
    assert ds.x.shape == (len(y), 3, 32, 32) and ds.num_classes == n_classes
    np.testing.assert_allclose(ds.x.numpy() * 255.0, x, atol=1e-4)
    np.testing.assert_array_equal(ds.y.numpy(), y)


def test_cifar_pickle_with_foreign_objects_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_DATA_DIR", str(tmp_path))
    folder = tmp_path / "cifar100" / "cifar-100-python"
    folder.mkdir(parents=True)
    with open(folder / "train", "wb") as fh:
        pickle.dump({b"data": shutil.rmtree}, fh)  # a callable: must never be unpickled
    with pytest.raises(tk.DataError, match="refusing to load"):
        data.load("cifar100", "train")


def test_svhn_loader_reads_the_mat_format(tmp_path, monkeypatch):
    from scipy.io import savemat

    monkeypatch.setenv("TOOLKIT_DATA_DIR", str(tmp_path))
    (tmp_path / "svhn").mkdir()
    rng = np.random.default_rng(1)
    X = rng.integers(0, 256, size=(32, 32, 3, 5), dtype=np.uint8)
    y = np.array([[10], [1], [2], [10], [9]], dtype=np.uint8)
    savemat(tmp_path / "svhn" / "test_32x32.mat", {"X": X, "y": y})
    ds = data.load("svhn", "test")
    assert ds.y.tolist() == [0, 1, 2, 0, 9]
    np.testing.assert_allclose(ds.x[3].numpy() * 255, X[..., 3].transpose(2, 0, 1), atol=1e-4)


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "svhn"])
def test_absent_paper_data_error_and_stand_in(tmp_path, monkeypatch, name):
    root = tmp_path / "raw"
    shutil.copytree(data.raw_root(), root, ignore=shutil.ignore_patterns("cifar*", "svhn"))
    monkeypatch.setenv("TOOLKIT_DATA_DIR", str(root))
    with pytest.raises(tk.DataError) as err:
        data.load(name, "test")
    assert str(root / name) in str(err.value) and "download" in str(err.value)
    with pytest.raises(tk.DataError):
        data.load_for(name, "test", "paper")
    ds = data.load_for(name, "test", "smoke")
    assert ds.shape == (3, 32, 32) and ds.stand_in_for == name and "absent" in ds.note


def test_subset_is_seeded_and_validates():
    ds = data.load("digits", "train")
    a, b = ds.subset(100, seed=3), ds.subset(100, seed=3)
    assert torch.equal(a.y, b.y) and len(a) == 100
    with pytest.raises(ValueError, match="positive"):
        ds.subset(0)
    with pytest.raises(ValueError, match="unknown data set"):
        data.load("imagenet")
