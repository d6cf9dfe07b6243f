"""Data sets as in-memory tensors, checksummed, with honest stand-ins.

``load(name, split)`` returns a :class:`Dataset` with ``x`` float32 ``[N, C, H, W]`` in ``[0, 1]``
and ``y`` int64 ``[N]``. MNIST and Fashion-MNIST ship in ``data/raw/`` (IDX, gzipped) and are
verified against ``data/raw/SHA256SUMS`` at every load: the bytes read are hashed (about 0.02 s
per file) and only those bytes are decoded, so any change of content is caught, whatever the
file's size and modification time. Decoding (about 1 s) is memoised in-process by the files'
content hashes. CIFAR-10, CIFAR-100 and SVHN are read from their standard distribution formats
when a user puts them in ``data/raw/<name>/``; absent or corrupt files raise :class:`DataError`,
one line naming the file, the folder and how to obtain it.

``load_for(name, split, scale)`` is what experiments call: at ``smoke``/``cpu`` scale a paper data
set whose files are *all* absent is replaced by a documented stand-in with the same input shape
(and ``stand_in_for``/``note`` set, so every output can say so); at ``paper`` scale it is an
error. Files that are present but corrupt, or an incomplete set of files, are always an error,
never a silent stand-in.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import struct
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from toolkit import seeds
from toolkit.cache import REPO_ROOT
from toolkit.scales import check

__all__ = ["Dataset", "DataError", "load", "load_for", "raw_root", "DATASETS", "STAND_INS"]


class DataError(FileNotFoundError):
    """A data file is absent, corrupt or malformed; the message says which and what to do."""


@dataclass(frozen=True)
class Dataset:
    """A labelled image data set held in memory.

    x: float32 ``[N, C, H, W]`` in ``[0, 1]``; y: int64 ``[N]``. ``stand_in_for`` names the paper
    data set this one replaces (``None`` when it is the real thing) and ``note`` says why.
    """

    name: str
    split: str
    x: torch.Tensor
    y: torch.Tensor
    num_classes: int
    stand_in_for: str | None = None
    note: str | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one input, ``(C, H, W)``."""
        return tuple(self.x.shape[1:])

    def subset(self, n: int | None, seed: int = 0) -> Dataset:
        """The first ``n`` samples of a seeded permutation (all when ``n`` is None or >= N)."""
        if n is None or n >= len(self):
            return self
        if n <= 0:
            raise ValueError(f"subset size must be positive, got {n}")
        idx = torch.randperm(len(self), generator=seeds.generator(seed))[:n]
        return replace(self, x=self.x[idx], y=self.y[idx])

    def describe(self) -> str:
        """One line: name, split, size, shape, and the stand-in note if any."""
        s = f"{self.name}/{self.split}: {len(self):,} samples of shape {self.shape}"
        return s + (f" [stand-in for {self.stand_in_for}: {self.note}]" if self.stand_in_for else "")


def raw_root() -> Path:
    """``$TOOLKIT_DATA_DIR`` or ``<repo>/data/raw``."""
    return Path(os.environ.get("TOOLKIT_DATA_DIR", REPO_ROOT / "data" / "raw"))


# ----------------------------------------------------------------------------- checksums
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _expected_sums(root: Path) -> dict[str, str]:
    sums = root / "SHA256SUMS"
    if not sums.exists():
        raise DataError(f"checksum list {sums} is missing; restore it with `git checkout -- data/raw`")
    out = {}
    for line in sums.read_text().splitlines():
        if line.strip():
            digest, rel = line.split(maxsplit=1)
            out[rel.strip().lstrip("*")] = digest
    return out


def _read_verified(path: Path, root: Path) -> tuple[bytes, str]:
    """The bytes of ``path`` and their sha256, checked against SHA256SUMS. Hashing the very bytes
    that are then decoded leaves no window for a change between check and use."""
    rel = path.relative_to(root).as_posix()
    expected = _expected_sums(root).get(rel)
    if expected is None:
        raise DataError(f"{path} has no entry in {root / 'SHA256SUMS'}")
    blob = path.read_bytes()
    actual = hashlib.sha256(blob).hexdigest()
    if actual != expected:
        raise DataError(f"checksum mismatch for {path}: expected sha256 {expected[:12]}…, got "
                        f"{actual[:12]}…; the file is corrupt: restore it with "
                        f"`git checkout -- {rel}` in {root}")
    return blob, actual


# ----------------------------------------------------------------------------- IDX (MNIST)
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path, blob: bytes | None = None) -> np.ndarray:
    """Read a (gzipped) IDX file into a numpy array (from ``blob``, its bytes, when given);
    malformed files raise DataError."""
    try:
        if blob is None:
            blob = path.read_bytes()
        data = gzip.decompress(blob) if path.suffix == ".gz" else blob
        zero, code, ndim = struct.unpack(">HBB", data[:4])
        if zero != 0 or code not in _IDX_DTYPES:
            raise ValueError(f"bad IDX magic {data[:4].hex()}")
        dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
        arr = np.frombuffer(data, dtype=_IDX_DTYPES[code], offset=4 + 4 * ndim)
        return arr.reshape(dims)
    except (OSError, EOFError, ValueError, struct.error, zlib.error) as err:
        raise DataError(f"cannot read IDX file {path} ({err}); restore it from data/raw") from None


_IDX_NAMES = {"mnist": ("MNIST", 10), "fashion-mnist": ("Fashion-MNIST", 10)}


def _idx_paths(folder: Path, split: str) -> list[Path]:
    prefix = "train" if split == "train" else "t10k"
    return [folder / f"{prefix}-{kind}-{tag}-ubyte.gz" for kind, tag in (("images", "idx3"), ("labels", "idx1"))]


#: decoded IDX sets by (name, split, content hashes of their files); at most _MEMO_SIZE kept
_DECODED: dict[tuple, Dataset] = {}
_MEMO_SIZE = 8


def _load_idx_set(name: str, split: str) -> Dataset:
    # Decoding 60,000 images takes ~1 s and experiments load the same set many times, so the
    # decoded set is memoised -- keyed by the content hashes of the bytes just verified, never by
    # size or modification time. The tensors are shared: callers must not modify them in place.
    root = raw_root()
    folder = root / name
    blobs, digests = [], []
    for path in _idx_paths(folder, split):
        if not path.exists():
            raise DataError(f"{_IDX_NAMES[name][0]} file {path.name} is missing: expected it in "
                            f"{folder}/ (it ships with the repository: `git checkout -- "
                            f"data/raw/{name}`)")
        blob, digest = _read_verified(path, root)
        blobs.append((path, blob))
        digests.append(digest)
    key = (name, split, tuple(digests))
    if key not in _DECODED:
        images, labels = (read_idx(path, blob) for path, blob in blobs)
        x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
        y = torch.from_numpy(labels.astype(np.int64))
        if len(_DECODED) >= _MEMO_SIZE:
            _DECODED.pop(next(iter(_DECODED)))
        _DECODED[key] = Dataset(name, split, x, y, num_classes=10)
    return _DECODED[key]


def _load_digits(split: str) -> Dataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy((d.images / 16.0).astype(np.float32)).unsqueeze(1)
    y = torch.from_numpy(d.target.astype(np.int64))
    # sklearn ships no split: a fixed seeded 80/20 one
    perm = torch.randperm(len(y), generator=seeds.generator(0))
    cut = int(0.8 * len(y))
    idx = perm[:cut] if split == "train" else perm[cut:]
    return Dataset("digits", split, x[idx], y[idx], num_classes=10)


# ----------------------------------------------------------------------------- CIFAR / SVHN
class _NumpyOnlyUnpickler(pickle.Unpickler):
    """CIFAR's python pickles hold dicts of bytes, lists and numpy arrays: allow nothing else."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")


_SOURCES = {
    "cifar10": ("CIFAR-10", "https://www.cs.toronto.edu/~kriz/cifar.html (cifar-10-python.tar.gz)"),
    "cifar100": ("CIFAR-100", "https://www.cs.toronto.edu/~kriz/cifar.html (cifar-100-python.tar.gz)"),
    "svhn": ("SVHN", "http://ufldl.stanford.edu/housenumbers/ (train_32x32.mat, test_32x32.mat)"),
}


def _missing(name: str, path: Path) -> DataError:
    title, source = _SOURCES[name]
    return DataError(f"{title} file {path.name} not found: expected it in {path.parent}/; "
                     f"download it from {source} and extract it into {raw_root() / name}/")


def _read_cifar_pickle(name: str, path: Path) -> dict:
    if not path.exists():
        raise _missing(name, path)
    try:
        with open(path, "rb") as fh:
            return _NumpyOnlyUnpickler(fh, encoding="bytes").load()
    except Exception as err:  # noqa: BLE001 - any failure means a corrupt file
        raise DataError(f"cannot read {path} ({type(err).__name__}: {err}); the file is corrupt: "
                        f"download it again from {_SOURCES[name][1]}") from None


def _cifar_arrays(name: str, files: list[Path], label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for path in files:
        d = _read_cifar_pickle(name, path)
        try:
            xs.append(np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(d[label_key], dtype=np.int64))
        except (KeyError, ValueError) as err:
            raise DataError(f"{path} is not in the {_SOURCES[name][0]} python format ({err})") from None
    return np.concatenate(xs), np.concatenate(ys)


def _load_cifar(name: str, split: str) -> Dataset:
    if name == "cifar10":
        folder = raw_root() / name / "cifar-10-batches-py"
        stems = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        x, y = _cifar_arrays(name, [folder / s for s in stems], b"labels")
        classes = 10
    else:
        folder = raw_root() / name / "cifar-100-python"
        x, y = _cifar_arrays(name, [folder / ("train" if split == "train" else "test")], b"fine_labels")
        classes = 100
    return Dataset(name, split, torch.from_numpy(x.astype(np.float32) / 255.0),
                   torch.from_numpy(y), num_classes=classes)


def _load_svhn(split: str) -> Dataset:
    from scipy.io import loadmat

    path = raw_root() / "svhn" / f"{split}_32x32.mat"
    if not path.exists():
        raise _missing("svhn", path)
    try:
        mat = loadmat(path)
        x = np.transpose(mat["X"], (3, 2, 0, 1))  # [32, 32, 3, N] -> [N, 3, 32, 32]
        y = mat["y"].astype(np.int64).reshape(-1)
    except Exception as err:  # noqa: BLE001
        raise DataError(f"cannot read {path} ({type(err).__name__}: {err}); download it again "
                        f"from {_SOURCES['svhn'][1]}") from None
    y[y == 10] = 0  # SVHN stores the digit 0 as label 10
    return Dataset("svhn", split, torch.from_numpy(x.astype(np.float32) / 255.0),
                   torch.from_numpy(y), num_classes=10)


# ----------------------------------------------------------------------------- public API
DATASETS = ("mnist", "fashion-mnist", "digits", "cifar10", "cifar100", "svhn")

#: paper data set -> (stand-in loaded from the shipped data, why it fits)
STAND_INS = {
    "cifar10": ("fashion-mnist", "Fashion-MNIST padded to 32x32 and repeated on 3 channels "
                "(10 classes of natural-ish images, same input shape as CIFAR-10)"),
    "cifar100": ("fashion-mnist", "Fashion-MNIST padded to 32x32x3; only 10 of the 100 output "
                 "classes are used"),
    "svhn": ("mnist", "MNIST digits padded to 32x32 and repeated on 3 channels (same task: "
             "digit recognition, same input shape as SVHN)"),
}


def load(name: str, split: str = "train") -> Dataset:
    """Load data set ``name`` (one of ``DATASETS``), ``split`` ``"train"`` or ``"test"``.

    Returns x float32 ``[N, C, H, W]`` in ``[0, 1]`` and y int64 ``[N]``. Raises
    :class:`DataError` when files are absent or corrupt, naming the file and the folder.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if name in _IDX_NAMES:
        return _load_idx_set(name, split)
    if name == "digits":
        return _load_digits(split)
    if name in ("cifar10", "cifar100"):
        return _load_cifar(name, split)
    if name == "svhn":
        return _load_svhn(split)
    raise ValueError(f"unknown data set {name!r}; choose one of {DATASETS}")


def _as_rgb32(ds: Dataset) -> Dataset:
    x = torch.nn.functional.pad(ds.x, (2, 2, 2, 2)).expand(-1, 3, -1, -1).contiguous()
    return replace(ds, x=x)


def _paper_files(name: str) -> list[Path]:
    """Every file of a paper data set (both splits), where the loaders expect it."""
    if name == "cifar10":
        folder = raw_root() / name / "cifar-10-batches-py"
        return [folder / f"data_batch_{i}" for i in range(1, 6)] + [folder / "test_batch"]
    if name == "cifar100":
        folder = raw_root() / name / "cifar-100-python"
        return [folder / "train", folder / "test"]
    return [raw_root() / "svhn" / f"{s}_32x32.mat" for s in ("train", "test")]


def load_for(name: str, split: str = "train", scale: str = "cpu") -> Dataset:
    """Load ``name`` for an experiment at ``scale``, falling back to a stand-in below paper scale.

    When every file of a paper data set (CIFAR-10/100, SVHN) is absent at ``smoke`` or ``cpu``
    scale, returns the stand-in of ``STAND_INS`` with ``stand_in_for`` and ``note`` set, and says
    so on stderr. At ``paper`` scale the :class:`DataError` propagates. Present files are always
    used: a corrupt file or an incomplete set raises :class:`DataError` (both splits must come
    from the same data set).
    """
    check(scale)
    if name not in STAND_INS:
        return load(name, split)
    files = _paper_files(name)
    present = [f for f in files if f.exists()]
    if present and len(present) < len(files):
        missing = ", ".join(f.name for f in files if not f.exists())
        raise DataError(f"{_SOURCES[name][0]} is incomplete in {files[0].parent}/: {missing} "
                        f"missing; add them (download from {_SOURCES[name][1]})"
                        + ("" if scale == "paper" else " or remove the folder to use the stand-in"))
    try:
        return load(name, split)
    except DataError:
        if scale == "paper" or present:  # present files that fail to load are corrupt: say so
            raise
        sub, why = STAND_INS[name]
        ds = _as_rgb32(load(sub, split))
        note = f"{_SOURCES[name][0]} files are absent from {raw_root() / name}/; using {why}"
        import sys

        print(f"[toolkit.data] STAND-IN: {sub} replaces {name} at scale={scale!r}", file=sys.stderr)
        return replace(ds, stand_in_for=name, note=note)


def to_bytes_idx(arr: np.ndarray) -> bytes:
    """Encode a uint8 array in IDX format (used by tests to write files in the real format)."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    return struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()

