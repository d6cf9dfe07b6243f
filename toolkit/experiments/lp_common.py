"""Pieces shared by the Liao & Poggio experiments (Figs. 2-5, 14-37, 40 and App. E).

- :data:`LAYERS`: the DCNN's convolution weights by the paper's layer numbers (layer 1 is the
  input, so layer 2 is the first convolution and layer 6 the output layer).
- :func:`lp_data`: the training (and test) subsets, with :class:`LPData` saying which data set
  was used and whether it stands in for CIFAR-10.
- :func:`lp_model`: the seeded DCNN with its input normalisation.
- :func:`perturb_layers`: the paper's layer-wise Gaussian perturbation.
- :func:`grouped_mds`: a separate MDS of ``1 − cos`` for each group of snapshots (one stage,
  one run), the paper's zoomed-in panels.
- :func:`single_thread`: the experiments' compute runs on one CPU thread (see there).
- :func:`set_params`, :class:`Scorer` (training/test loss and error of many weight vectors) and
  :func:`predict` (a model's test-set predictions, for the similarity matrices).
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from toolkit import models
from toolkit.data import Dataset, load_for
from toolkit.embed import classical_mds, cosine_distances
from toolkit.objectives import ModuleObjective, unflatten_params
from toolkit.train import recompute_bn

__all__ = ["LAYERS", "LPData", "Scorer", "grouped_mds", "lp_data", "lp_model",
           "perturb_layers", "predict", "set_params", "single_thread"]

#: the model's conv weights, by the paper's layer numbers (layer 1 is the input)
LAYERS = {"layer 2": "net.features.0.weight", "layer 3": "net.features.3.weight",
          "layer 4": "net.features.6.weight", "layer 5": "net.features.9.weight",
          "layer 6": "net.features.12.weight"}


@dataclass(frozen=True)
class LPData:
    """Which data an experiment ran on: ``name`` (e.g. ``"fashion-mnist"``), the subset sizes
    (``subsets``: several training-set sizes, when the experiment varies it; ``n_train`` is then
    the largest), and ``stand_in_for``/``note`` when it replaces the paper's data set."""

    name: str
    n_train: int
    n_test: int
    stand_in_for: str | None
    note: str | None
    subsets: tuple[int, ...] = ()

    @property
    def label(self) -> str:
        """Short description for captions and tables, naming any stand-in."""
        train = (f"training subsets of {', '.join(f'{n:,}' for n in self.subsets)}" if self.subsets
                 else f"{self.n_train:,} training")
        sub = train + (f" / {self.n_test:,} test" if self.n_test else "") + " images"
        if self.stand_in_for:
            return f"{self.name} as a STAND-IN for {self.stand_in_for} ({sub})"
        return f"{self.name} ({sub})"

    @property
    def verdict_label(self) -> str:
        """:attr:`label` followed by the stand-in note (for ``verdict(dataset=...)``)."""
        return self.label + (f" — {self.note}" if self.stand_in_for else "")

    @property
    def stand_in(self) -> bool:
        return self.stand_in_for is not None


@contextlib.contextmanager
def single_thread(device: torch.device | str = "cpu"):
    """Run the block with one intra-op CPU thread (restored afterwards; no-op off the CPU).

    The DCNNs here are small (width 16 at cpu scale): a full-batch step on 500 images took 0.05 s
    on one thread and 0.2-0.4 s on two on the project's shared 2-core machine, where the second
    thread spin-waits for a core another process holds."""
    if torch.device(device).type != "cpu":
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


@functools.lru_cache(maxsize=4)  # loading pads the whole stand-in split (about 1 s each time)
def lp_data(dataset: str, scale: str, n_train: int | None, n_test: int | None = 0
            ) -> tuple[Dataset, Dataset | None, LPData]:
    """Training subset (``n_train`` images, ``None``: all), test subset (``n_test``; ``None``: all,
    0: no test set) of ``dataset`` at ``scale`` (a documented stand-in below paper scale when the
    files are absent), and their :class:`LPData`. Subsets are seeded permutations (seed 0), so
    every experiment of this family sees the same images. The datasets are shared between calls
    (cached in memory): do not modify their tensors."""
    train = load_for(dataset, "train", scale).subset(n_train, seed=0)
    test = None if n_test == 0 else load_for(dataset, "test", scale).subset(n_test, seed=0)
    info = LPData(name=train.name, n_train=len(train), n_test=0 if test is None else len(test),
                  stand_in_for=train.stand_in_for, note=train.note)
    return train, test, info


def lp_model(seed: int, x: Tensor, *, width: int, activation: str = "relu",
             num_classes: int = 10, poly_degree: int = 2) -> nn.Module:
    """The paper's DCNN (``tk.models.build("lp_dcnn")``) initialised from ``seed``, wrapped in an
    input normalisation by the per-channel mean/std of ``x`` ``[N, C, H, W]``."""
    net = models.build_seeded("lp_dcnn", seed, activation=activation, width=width,
                              in_shape=tuple(x.shape[1:]), num_classes=num_classes,
                              poly_degree=poly_degree)
    dims = [0, 2, 3]
    return models.with_input_norm(net, x.mean(dim=dims), x.std(dim=dims).clamp_min(1e-6))


def perturb_layers(flat: Tensor, model: nn.Module, noise: float, gen: torch.Generator, *,
                   relative_to: str = "std") -> Tensor:
    """``flat`` ``[D]`` plus layer-wise Gaussian noise: each parameter tensor ("each layer") gets
    ``N(0, (noise * s)^2)`` with ``s`` the standard deviation of that tensor's entries
    (``relative_to="std"``, the paper's 0.01 S / 0.1 S / 0.25 S / 1 S) or their mean absolute value
    (``"mean_abs"``, App. E's "0.01 * m, where m is the average magnitude of the weights").
    ``gen`` is a CPU generator; a one-entry tensor has no spread and is left unchanged under
    ``"std"``. Returns a new tensor."""
    if relative_to not in ("std", "mean_abs"):
        raise ValueError(f"relative_to must be 'std' or 'mean_abs', got {relative_to!r}")
    out, i = flat.detach().clone(), 0
    for p in model.parameters():
        n = p.numel()
        piece = out[i:i + n]
        if relative_to == "std":
            s = float(piece.std()) if n > 1 else 0.0
        else:
            s = float(piece.abs().mean())
        out[i:i + n] += noise * s * torch.randn(n, generator=gen).to(out)
        i += n
    return out


def grouped_mds(weights: Tensor, groups: np.ndarray, metric: str = "1-cos"
                ) -> tuple[np.ndarray, np.ndarray]:
    """A separate classical MDS for each group of snapshots of one layer.

    ``weights`` ``[N, ...]`` (one layer's weights per snapshot), ``groups`` ``[N]`` integer labels.
    ``metric``: ``"1-cos"`` (the paper's dissimilarity) or ``"angle"`` (``arccos`` of the cosine,
    a true metric on the sphere; ``1 − cos`` grows like half the squared angle, so classical MDS,
    which squares its input again, bends parallel paths into V shapes). Returns ``coords``
    ``[N, 2]`` (each point placed by the MDS of its own group; a group of one point sits at the
    origin) and ``explained`` ``[G, 2]``, per group in ``np.unique`` order, the fraction of the
    positive spectrum on each axis."""
    if metric not in ("1-cos", "angle"):
        raise ValueError(f"metric must be '1-cos' or 'angle', got {metric!r}")
    w = weights.reshape(len(weights), -1)
    groups = np.asarray(groups)
    coords = np.zeros((len(w), 2))
    labels = np.unique(groups)
    explained = np.zeros((len(labels), 2))
    dist = cosine_distances(w).numpy()
    if metric == "angle":
        dist = np.arccos(np.clip(1.0 - dist, -1.0, 1.0))
    for g, lab in enumerate(labels):
        idx = np.flatnonzero(groups == lab)
        if len(idx) < 2:
            continue
        res = classical_mds(dist[np.ix_(idx, idx)], k=2)
        coords[idx], explained[g] = res.coords, res.explained
    return coords, explained


@torch.no_grad()
def set_params(model: nn.Module, theta: Tensor) -> None:
    """Copy the flat vector ``theta`` ``[D]`` into ``model``'s parameters (a copy: training the
    model later never edits ``theta``)."""
    for p, v in zip(model.parameters(), unflatten_params(model, theta).values(), strict=True):
        p.copy_(v)


#: images per chunk when BatchNorm statistics are recomputed (Scorer, predict)
BN_CHUNK = 500


class Scorer:
    """Training (and test) cross-entropy and error of many weight vectors at once.

    ``Scorer(model, train, test, device)(theta)`` with ``theta`` ``[B, D]`` returns
    ``{"train_loss", "train_err"[, "test_loss", "test_err"]}``, each ``np.ndarray [B]``
    (float64). BatchNorm statistics of every point are recomputed over the training images for
    both sets (:class:`toolkit.ModuleObjective` with ``bn_x``), as for a deployed model: the
    average of the statistics of chunks of :data:`BN_CHUNK` images, as ``update_bn`` computes.
    """

    def __init__(self, model: nn.Module, train: Dataset, test: Dataset | None,
                 device: torch.device) -> None:
        chunk = min(max(len(train), 1), BN_CHUNK)
        # about 1,000 image-forwards per vmapped call: larger calls allocate tens of MB per
        # activation, and on CPU the page faults of those allocations cost more system time than
        # the convolutions (measured: 5.7 s of system time for 8 points x 500 images vs 0.05 s
        # for 2 x 500, same user time)
        point_chunk = max(1, 1000 // chunk)
        self.device = device
        self.train = ModuleObjective(model, train.x, train.y, eval_chunk=chunk,
                                     point_chunk=point_chunk).to(device)
        self.test = None if test is None else ModuleObjective(
            model, test.x, test.y, eval_chunk=chunk, point_chunk=point_chunk,
            bn_x=train.x).to(device)

    def __call__(self, theta: Tensor) -> dict[str, np.ndarray]:
        theta = theta.to(self.device)
        out = {}
        for name, obj in (("train", self.train), ("test", self.test)):
            if obj is None:
                continue
            ev = obj.evaluate(theta)
            out[f"{name}_loss"] = ev["loss"].double().cpu().numpy()
            out[f"{name}_err"] = 1.0 - ev["acc"].double().cpu().numpy()
        return out


@torch.no_grad()
def predict(model: nn.Module, theta: Tensor, train: Dataset, test: Dataset,
            device: torch.device) -> np.ndarray:
    """``[n_test]`` int64: the class the model with weights ``theta`` ``[D]`` predicts for every
    test image (BatchNorm statistics recomputed over the training images)."""
    set_params(model, theta)
    model.to(device)
    recompute_bn(model, train.x, chunk=BN_CHUNK)
    model.eval()
    out = torch.cat([model(xb.to(device)).argmax(1).cpu() for xb in test.x.split(1000)])
    model.to("cpu")
    return out.numpy()
