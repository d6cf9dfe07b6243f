"""Liao & Poggio Fig. 4 (App. Figs. 14-17): batch-gradient-descent branches and interpolations.

Protocol (paper §4.3, App. B.3): a DCNN is trained from scratch by batch gradient descent (the
"trunk"). At epochs ``branch_epochs`` (paper: 0, 10, 50, 200) a branch is created by adding to
every layer Gaussian noise of standard deviation ``noise`` × that layer's weight standard
deviation (paper: 0.25 S in Figs. 14-15, 1 S in Figs. 16-17), and trained on by the same batch
gradient descent. Trunk and branch are interpolated by averaging, epoch by epoch, and every model
-- trunk, branches, averages -- is evaluated on the whole training set. All of them are embedded
together by per-layer MDS of ``1 − cos`` (layer 2 in Fig. 14, layer 3 in Fig. 16).

The paper's reading: batch gradient descent "does not get stuck in any local minima"; averaging
a branch with the trunk gives an error close to (or below) theirs when the branch is near the
trunk, while a branch split very early, or by a large perturbation, ends up behind a "wall"
(raised error at the average). The paper does not say how long the trunk runs; ours: branches
run until the trunk's last epoch ``epochs``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import torch

from toolkit import scales, seeds
from toolkit._device import resolve_device
from toolkit._progress import progress_bar
from toolkit.cache import cached
from toolkit.embed import layer_mds
from toolkit.experiments.lp_common import (
    LAYERS,
    LPData,
    Scorer,
    lp_data,
    lp_model,
    perturb_layers,
    set_params,
    single_thread,
)
from toolkit.objectives import flatten_params, unflatten_params
from toolkit.params import as_int, as_list
from toolkit.recipes import RECIPES
from toolkit.report import verdict
from toolkit.seeds import child_seed
from toolkit.train import train

__all__ = ["LPBGDConfig", "LPBGDResult", "lp_bgd_branches", "lp_bgd_branches_config"]

#: point kinds in :class:`LPBGDResult`
TRUNK, BRANCH, AVERAGE = 0, 1, 2


@dataclass(frozen=True)
class LPBGDConfig:
    """Everything that determines the result (hashed for the cache). ``epochs``: the trunk's
    length (branches end there too); ``every``: evaluate and embed every ``every``-th epoch;
    ``noises``: one set of branches per perturbation size (× layer weight std)."""

    scale: str
    seed: int
    n_train: int | None
    width: int
    epochs: int
    branch_epochs: tuple[int, ...]
    noises: tuple[float, ...]
    lr: float
    every: int
    dataset: str = "cifar10"

    def __post_init__(self) -> None:
        object.__setattr__(self, "seed", as_int(self.seed, "seed"))
        object.__setattr__(self, "epochs", as_int(self.epochs, "epochs", minimum=1))
        object.__setattr__(self, "branch_epochs", as_list(self.branch_epochs, "branch_epochs", int))
        object.__setattr__(self, "noises", as_list(self.noises, "noises", float))
        if any(not 0 <= e < self.epochs for e in self.branch_epochs):
            raise ValueError(f"branch_epochs {self.branch_epochs} must lie in [0, epochs={self.epochs})")

    def describe(self) -> str:
        n = "all" if self.n_train is None else f"{self.n_train:,}"
        return (f"scale={self.scale!r}: lp_dcnn width {self.width} trained by batch gradient descent "
                f"(lr {self.lr}) for {self.epochs} epochs; branches at epochs "
                f"{', '.join(map(str, self.branch_epochs))} perturbed by "
                f"{' and '.join(f'{s} S' for s in self.noises)} (S: each layer's weight std), "
                f"trained to epoch {self.epochs}; trunk/branch averages and evaluations every "
                f"{self.every} epoch(s); {n} training images of {self.dataset}")


def lp_bgd_branches_config(scale: str = "cpu", seed: int = 0, **changes) -> LPBGDConfig:
    """The configuration at ``scale`` (``tk.scales.EXPERIMENTS["lp_bgd_branches"]``)."""
    cfg = LPBGDConfig(scale=scale, seed=seed, **scales.settings("lp_bgd_branches", scale))
    return dataclasses.replace(cfg, **changes)


@dataclass
class LPBGDResult:
    """Every evaluated model ``[N]``: ``kind`` (0 trunk, 1 branch, 2 trunk/branch average),
    ``noise_idx`` (index into ``config["noises"]``; -1 for the trunk), ``branch`` (index into
    ``config["branch_epochs"]``; -1 for the trunk), ``epoch`` (epochs since the trunk's start),
    ``loss``/``err`` on the whole training set. ``history[(noise_idx, branch)]`` ``[E - e_b]``:
    the full-batch training loss before every gradient step of that branch (``(-1, -1)``: the
    trunk, ``[E]``). ``mds[(noise_idx, layer)]`` ``[N_i, 2]``: MDS of
    the trunk and the branches and averages of that noise together, rows in the order of
    ``np.flatnonzero(self.select(noise_idx))``; ``explained`` likewise ``[2]``."""

    config: dict
    data: LPData
    n_params: int
    kind: np.ndarray
    noise_idx: np.ndarray
    branch: np.ndarray
    epoch: np.ndarray
    loss: np.ndarray
    err: np.ndarray
    history: dict[tuple[int, int], np.ndarray]
    mds: dict[tuple[int, str], np.ndarray]
    explained: dict[tuple[int, str], np.ndarray]
    compute_s: float

    @property
    def data_label(self) -> str:
        return self.data.label

    def select(self, noise_idx: int) -> np.ndarray:
        """``[N]`` bool: the trunk and the branches and averages of noise ``noise_idx``."""
        return (self.kind == TRUNK) | (self.noise_idx == noise_idx)

    def points(self, noise_idx: int) -> dict:
        """Keyword arguments of :func:`toolkit.plots.plot_branch_errors`: ``kind``, ``branch``,
        ``epoch``, ``err`` of the trunk and the branches and averages of noise ``noise_idx``."""
        m = self.select(noise_idx)
        return dict(kind=self.kind[m], branch=self.branch[m], epoch=self.epoch[m], err=self.err[m])

    def embedding(self, noise_idx: int, layer: str) -> dict:
        """Keyword arguments of :func:`toolkit.plots.plot_branches` for the MDS of ``layer``
        (``"layer 2"`` or ``"layer 3"``) with the branches of noise ``noise_idx``."""
        return dict(coords=self.mds[(noise_idx, layer)], explained=self.explained[(noise_idx, layer)],
                    **self.points(noise_idx))

    def curve(self, kind: int, noise_idx: int = -1, branch: int = -1, key: str = "err"
              ) -> tuple[np.ndarray, np.ndarray]:
        """``(epoch, values)`` of one trajectory (the trunk: ``kind=TRUNK``)."""
        m = (self.kind == kind) & (self.noise_idx == noise_idx) & (self.branch == branch)
        order = np.argsort(self.epoch[m], kind="stable")
        return self.epoch[m][order], getattr(self, key)[m][order]

    def final(self, kind: int, noise_idx: int = -1, branch: int = -1, key: str = "err") -> float:
        return float(self.curve(kind, noise_idx, branch, key)[1][-1])

    def excess(self, noise_idx: int, branch: int) -> float:
        """Training error of the trunk/branch average at the last epoch minus the mean of the
        trunk's and the branch's errors there: > 0 is a "wall" between them."""
        ends = 0.5 * (self.final(TRUNK) + self.final(BRANCH, noise_idx, branch))
        return self.final(AVERAGE, noise_idx, branch) - ends

    def stuck(self, err_tol: float, flat_tol: float) -> list[str]:
        """Trajectories that look stuck at a local minimum: final training error above
        ``err_tol`` while over the last quarter of its epochs the loss never went more than
        ``flat_tol`` (relative) below its value at the quarter's start (per-epoch
        :attr:`history`; the minimum, not the last value, so that gradient descent's
        oscillations do not count as stalling). Empty: none (within the epochs run)."""
        out = []
        cfg = self.config
        trajs = [("trunk", TRUNK, -1, -1)] + [
            (f"branch at epoch {e} ({s} S)", BRANCH, i, b)
            for i, s in enumerate(cfg["noises"]) for b, e in enumerate(cfg["branch_epochs"])]
        for name, k, i, b in trajs:
            loss = self.history[(i, b)]
            q = loss[len(loss) - max(2, len(loss) // 4):]
            drop = (q[0] - q.min()) / max(q[0], 1e-12)
            if self.final(k, i, b) > err_tol and drop < flat_tol:
                out.append(name)
        return out

    def summary(self) -> str:
        cfg = self.config
        lines = [f"trunk: training error {self.final(TRUNK):.3f} after {cfg['epochs']} epochs "
                 f"(loss {self.final(TRUNK, key='loss'):.4f})",
                 f"{'noise':>6} {'branch epoch':>12} {'branch err':>10} {'average err':>11} "
                 f"{'excess':>7}"]
        for i, s in enumerate(cfg["noises"]):
            for b, e in enumerate(cfg["branch_epochs"]):
                lines.append(f"{s:>4} S {e:>12} {self.final(BRANCH, i, b):10.3f} "
                             f"{self.final(AVERAGE, i, b):11.3f} {self.excess(i, b):+7.3f}")
        return "\n".join(lines)

    def verdict(self, err_tol: float = 0.05, flat_tol: float = 0.01, wall: float = 0.05) -> dict:
        """Fig. 4's verdict, three checks: (1) no trajectory is stuck (:meth:`stuck` with
        ``err_tol``, ``flat_tol``); (2) "nearby" trajectories interpolate: the latest branch of
        the smallest perturbation has an average no worse than ``wall`` above its ends
        (:meth:`excess`); (3) "distant" ones do not: the earliest branch of the largest
        perturbation has an excess above ``wall``. All three: reproduced; two: partly."""
        cfg = self.config
        stuck = self.stuck(err_tol, flat_tol)
        i_small, i_large = int(np.argmin(cfg["noises"])), int(np.argmax(cfg["noises"]))
        b_late, b_early = int(np.argmax(cfg["branch_epochs"])), int(np.argmin(cfg["branch_epochs"]))
        near, far = self.excess(i_small, b_late), self.excess(i_large, b_early)
        checks = [not stuck, near <= wall, far > wall]
        status = {3: "reproduced", 2: "partly reproduced"}.get(sum(checks), "not reproduced")
        not_zero = self.final(TRUNK) > err_tol
        return verdict(
            status=status, stand_in=self.data.stand_in, dataset=self.data.verdict_label,
            runs=f"1 trunk of {cfg['epochs']} GD epochs, {len(cfg['branch_epochs'])} branches x "
                 f"{len(cfg['noises'])} perturbation size(s)",
            finding=(f"stuck trajectories: {', '.join(stuck) or 'none'}; trunk training error "
                     f"{self.final(TRUNK):.3f}"
                     + (" (not yet zero: 'no local minimum' holds within the epochs run)"
                        if not_zero else "")
                     + f"; average excess of the latest branch ({cfg['noises'][i_small]} S) "
                     f"{near:+.3f}, of the epoch-{cfg['branch_epochs'][b_early]} branch "
                     f"({cfg['noises'][i_large]} S) {far:+.3f} (wall: > {wall})"),
            paper="BGD meets no local minimum; nearby trajectories interpolate with low error, "
                  "distant ones (early split, large perturbation) show walls",
            ours=f"{len(stuck)} stuck trajectories; average excess near {near:+.3f}, far {far:+.3f}",
            numbers={"n_stuck": len(stuck), "trunk_final_err": self.final(TRUNK),
                     "excess_near": near, "excess_far": far, "compute_s": self.compute_s},
            compute_s=self.compute_s, scale=cfg["scale"],
            compared=1 + len(cfg["noises"]) * len(cfg["branch_epochs"]) + 2)


def _gd(model, x, y, cfg: LPBGDConfig, start: torch.Tensor, epochs: int, device
        ) -> tuple[torch.Tensor, np.ndarray]:
    """``[epochs + 1, D]`` weights after each of ``epochs`` full-batch steps from ``start``, and
    the ``[epochs]`` full-batch losses before each step."""
    set_params(model, start)
    recipe = RECIPES["lp_gd"].replace(epochs=epochs, lr=cfg.lr, chunk=max(len(y), 1))
    res = train(model, (x, y), recipe, seed=cfg.seed, device=device, progress=False, warn=False,
                record_every="epoch")
    return res.snapshots, np.asarray(res.history["loss"])


def _compute(cfg: LPBGDConfig, dev: torch.device, progress: bool) -> LPBGDResult:
    t0 = time.perf_counter()
    ds, _, info = lp_data(cfg.dataset, cfg.scale, cfg.n_train)
    x, y = ds.x, ds.y
    model = lp_model(child_seed(cfg.seed, "minimum", 0), x, width=cfg.width,
                     num_classes=ds.num_classes)
    init = flatten_params(model).clone()
    trunk, trunk_loss = _gd(model, x, y, cfg, init, cfg.epochs, dev)  # [E+1, D], [E]
    history = {(-1, -1): trunk_loss}
    keep = np.arange(0, cfg.epochs + 1, cfg.every)
    if keep[-1] != cfg.epochs:
        keep = np.append(keep, cfg.epochs)
    pts, kind, nidx, br, ep = [trunk[keep]], [TRUNK] * len(keep), [-1] * len(keep), \
        [-1] * len(keep), list(keep)
    units = [(i, b) for i in range(len(cfg.noises)) for b in range(len(cfg.branch_epochs))]
    for i, b in progress_bar(units, desc="BGD branches", enabled=progress):
        e0 = cfg.branch_epochs[b]
        gen = seeds.generator(child_seed(cfg.seed, "lp_branch", i, b))
        start = perturb_layers(trunk[e0], model, cfg.noises[i], gen)
        branch, history[(i, b)] = _gd(model, x, y, cfg, start, cfg.epochs - e0, dev)  # e0..E
        k = keep[keep >= e0]
        pts += [branch[k - e0], 0.5 * (branch[k - e0] + trunk[k])]
        n = len(k)
        kind += [BRANCH] * n + [AVERAGE] * n
        nidx += [i] * 2 * n
        br += [b] * 2 * n
        ep += list(k) * 2
    model.to("cpu")
    theta = torch.cat(pts)
    ev = Scorer(model, ds, None, dev)(theta)
    kind_a, nidx_a = np.array(kind), np.array(nidx)
    layers = {n: v for n, v in unflatten_params(model, theta).items()
              if n in (LAYERS["layer 2"], LAYERS["layer 3"])}
    mds, explained = {}, {}
    for i in range(len(cfg.noises)):
        sel = torch.from_numpy((kind_a == TRUNK) | (nidx_a == i))
        for name in ("layer 2", "layer 3"):
            r = layer_mds({LAYERS[name]: layers[LAYERS[name]][sel]}, [LAYERS[name]])[LAYERS[name]]
            mds[(i, name)], explained[(i, name)] = r.coords, r.explained
    return LPBGDResult(config=dataclasses.asdict(cfg), data=info, n_params=int(theta.shape[1]),
                       kind=kind_a, noise_idx=nidx_a, branch=np.array(br), epoch=np.array(ep),
                       loss=ev["train_loss"], err=ev["train_err"], history=history, mds=mds,
                       explained=explained,
                       compute_s=time.perf_counter() - t0)


def lp_bgd_branches(cfg: LPBGDConfig, *, device: str = "auto", progress: bool = True
                    ) -> LPBGDResult:
    """Run (or load from the cache) the BGD trunk, its branches and their averages. Below paper
    scale CIFAR-10 may be replaced by a documented stand-in (``result.data`` says so)."""
    dev = resolve_device(device)
    with single_thread(dev):
        return cached("lp_bgd_branches", {"config": cfg, "recipe": RECIPES["lp_gd"]},
                      lambda: _compute(cfg, dev, progress), version="2")
