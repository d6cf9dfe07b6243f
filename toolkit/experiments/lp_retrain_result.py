"""Results of :mod:`toolkit.experiments.lp_perturb_retrain` (Liao & Poggio Fig. 5, App. B.4, E):
one retraining run, and the whole experiment with its measurements and verdict."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch

from toolkit.embed import cosine_distances
from toolkit.experiments.lp_common import LPData
from toolkit.report import verdict

__all__ = ["LPRetrainResult", "RetrainRun"]


@dataclass
class RetrainRun:
    """One perturbation of a probed model and its retraining. Per kept epoch ``[K]``
    (``epoch``, 0 = just perturbed): training/test loss and error; ``layers[name]`` ``[K, ...]``
    the weights of layers 2/4/6; ``start``/``final`` ``[D]`` all weights at the ends; ``pred``
    ``[n_test]`` the final model's test predictions."""

    base: str
    run: int
    epoch: np.ndarray
    train_loss: np.ndarray
    train_err: np.ndarray
    test_loss: np.ndarray
    test_err: np.ndarray
    layers: dict[str, torch.Tensor]
    start: torch.Tensor
    final: torch.Tensor
    pred: np.ndarray
    compute_s: float


@dataclass
class LPRetrainResult:
    """``bases``: the probed models' names; ``runs``: every :class:`RetrainRun`, ordered by
    (base, run); ``base_*_err``: the probed models' own errors; ``ref_*``: the reference model.
    ``mds[(base, layer)]`` ``[runs K, 2]`` MDS of all runs of a base together (rows: run 1's
    epochs, then run 2's, ...), ``mds_one`` ``[K, 2]`` of run 1 alone; ``explained*`` ``[2]``.
    ``lines[key]`` ``[bases, 2, M]`` (``key``: ``train_err``, ``test_err``, ``train_loss``,
    ``test_loss``) on the straight line from perturbation 1 to 2, before (index 0) and after (1)
    retraining, at positions ``line_t`` ``[M]``."""

    config: dict
    data: LPData
    bases: tuple[str, ...]
    n_params: int
    base_train_err: dict[str, float]
    base_test_err: dict[str, float]
    ref_train_err: float
    ref_test_err: float
    runs: list[RetrainRun]
    y_test: np.ndarray
    ref_pred: np.ndarray
    mds: dict[tuple[str, str], np.ndarray]
    explained: dict[tuple[str, str], np.ndarray]
    mds_one: dict[tuple[str, str], np.ndarray]
    explained_one: dict[tuple[str, str], np.ndarray]
    line_t: np.ndarray
    lines: dict[str, np.ndarray]
    compute_s: float

    @property
    def data_label(self) -> str:
        return self.data.label

    def of(self, base: str) -> list[RetrainRun]:
        """The runs of one probed model, in run order."""
        return [r for r in self.runs if r.base == base]

    def curves(self, base: str, key: str) -> tuple[np.ndarray, np.ndarray]:
        """``(epoch [K], values [runs, K])`` of ``key`` (e.g. ``"test_err"``) for one model."""
        rs = self.of(base)
        return rs[0].epoch, np.stack([getattr(r, key) for r in rs])

    def groups(self, base: str) -> tuple[np.ndarray, np.ndarray]:
        """``(run [runs K], epoch [runs K])`` labels of the rows of ``mds[(base, layer)]``."""
        rs = self.of(base)
        return (np.concatenate([np.full(len(r.epoch), r.run) for r in rs]),
                np.concatenate([r.epoch for r in rs]))

    def embedding(self, base: str, layer: str, one: bool = False) -> dict:
        """Keyword arguments of :func:`toolkit.plots.plot_embedded_trajectories` for the MDS of
        ``layer`` over all runs of ``base`` (``one``: run 1 alone), epochs annotated."""
        run, epoch = self.groups(base)
        if one:
            m = run == run.min()
            run, epoch = run[m], epoch[m]
        coords = (self.mds_one if one else self.mds)[(base, layer)]
        return dict(coords=coords, stage=np.zeros_like(run), traj=run, label="run",
                    annotate=epoch, explained=(self.explained_one if one else self.explained)[
                        (base, layer)])

    def similarity_labels(self) -> list[str]:
        """``["1", ..., "runs", "ref"]``: the rows/columns of :meth:`similarity`."""
        return [str(i + 1) for i in range(self.config["runs"])] + ["ref"]

    def similarity(self, base: str) -> tuple[np.ndarray, np.ndarray]:
        """The paper's two ``[runs+1, runs+1]`` matrices between the final models of one base
        (rows/columns 1..runs) and the reference model (last): ``P(column right | row right)``
        and ``P(column wrong | row wrong)``, on the test images."""
        preds = [r.pred for r in self.of(base)] + [self.ref_pred]
        right = np.stack([p == self.y_test for p in preds]).astype(np.float64)  # [m, n]
        wrong = 1.0 - right
        both_right, both_wrong = right @ right.T, wrong @ wrong.T
        return (both_right / np.maximum(right.sum(1, keepdims=True), 1),
                both_wrong / np.maximum(wrong.sum(1, keepdims=True), 1))

    def disagreement(self, base: str) -> tuple[float, float]:
        """Mean fraction of test images on which two retrained models of ``base`` predict
        different classes (over run pairs), and the same between a retrained model and the
        reference (over runs)."""
        preds = [r.pred for r in self.of(base)]
        among = np.mean([np.mean(a != b) for a, b in itertools.combinations(preds, 2)])
        ref = np.mean([np.mean(p != self.ref_pred) for p in preds])
        return float(among), float(ref)

    def weight_spread(self, base: str, layer: str = "layer 2") -> float:
        """Mean ``1 − cos`` between the final ``layer`` weights of two retrained runs."""
        w = torch.stack([r.layers[layer][-1].reshape(-1) for r in self.of(base)])
        d = cosine_distances(w).numpy()
        return float(d[np.triu_indices(len(d), 1)].mean())

    def barrier(self, base: str, after: bool = True, key: str = "train_err") -> float:
        """Largest ``key`` on the straight line between perturbation 1 and 2 minus the larger of
        its two ends (0: no barrier), after (or before) retraining."""
        prof = self.lines[key][self.bases.index(base), int(after)]
        return float(prof.max() - max(prof[0], prof[-1]))

    def line_profiles(self, base: str, key: str = "train_err") -> dict[str, tuple]:
        """``{"before retraining": (t, values), "after retraining": (t, values)}``."""
        i = self.bases.index(base)
        return {"before retraining": (self.line_t, self.lines[key][i, 0]),
                "after retraining": (self.line_t, self.lines[key][i, 1])}

    def summary(self) -> str:
        lines = [f"{'model':<16} {'own err':>15} {'retrained: train err':>20} {'test err':>15} "
                 f"{'disagree':>8} {'vs ref':>7} {'1-cos L2':>9} {'barrier':>8}",
                 f"{'':<16} {'train / test':>15} {'(max over runs)':>20} {'mean ± sd':>15} "
                 f"{'(runs)':>8} {'':>7} {'(runs)':>9} {'after':>8}"]
        for b in self.bases:
            _, tr = self.curves(b, "train_err")
            _, te = self.curves(b, "test_err")
            among, ref = self.disagreement(b)
            own = b.replace(" (App. E)", "")
            lines.append(
                f"{b:<16} {self.base_train_err[own]:6.3f} / {self.base_test_err[own]:6.3f} "
                f"{tr[:, -1].max():20.3f} {te[:, -1].mean():7.3f} ± {te[:, -1].std():5.3f} "
                f"{among:8.3f} {ref:7.3f} {self.weight_spread(b):9.2e} {self.barrier(b):+8.3f}")
        lines.append(f"reference model (another initialisation): train err {self.ref_train_err:.3f}, "
                     f"test err {self.ref_test_err:.3f}")
        return "\n".join(lines)

    def verdict(self, err_tol: float = 0.02) -> dict:
        """Fig. 5's verdict, four checks. (1) flat: every retrained perturbation of ``Mfinal``
        ends no more than ``err_tol`` above ``Mfinal``'s own training error. (2) branching: the
        retrained models of ``M5`` disagree with each other on more test images than those of
        ``Mfinal``, by more than twice the binomial standard error of the difference. (3)
        different but similar: the retrained models of ``Mfinal`` disagree with each other (> 0)
        but less than with the reference model. (4) no wall: the training error on the straight
        line between retrained perturbations 1 and 2 of ``Mfinal`` rises at most ``err_tol``
        above its ends. All four: reproduced; two or three: partly."""
        cfg = self.config
        n = len(self.y_test)
        _, tr = self.curves("Mfinal", "train_err")
        flat_gap = float((tr[:, -1] - self.base_train_err["Mfinal"]).max())
        d5, _ = self.disagreement("M5")
        dfin, dref = self.disagreement("Mfinal")
        se = math.sqrt(d5 * (1 - d5) / n + dfin * (1 - dfin) / n)
        wall = self.barrier("Mfinal")
        _, tr5 = self.curves("M5", "train_err")
        unconv = float(tr5[:, -1].max())
        checks = [flat_gap <= err_tol, d5 - dfin > 2 * se, 0 < dfin < dref, wall <= err_tol]
        status = ("reproduced" if all(checks) else
                  "partly reproduced" if sum(checks) >= 2 else "not reproduced")
        return verdict(
            status=status, stand_in=self.data.stand_in, dataset=self.data.verdict_label,
            runs=f"1 base trajectory + 1 reference; {len(self.bases)} probed models x "
                 f"{cfg['runs']} perturbations, retrained {cfg['retrain_epochs']} GD epochs "
                 f"({cfg['small_retrain_epochs']} for App. E)",
            finding=(f"Mfinal's retrained perturbations end at most {flat_gap:+.3f} above its "
                     f"training error (tolerance {err_tol}); test disagreement among retrained models: M5 "
                     f"{d5:.3f} vs Mfinal {dfin:.3f} (2 SE = {2 * se:.3f})"
                     + (f" (M5's retrained copies still at up to {unconv:.3f} training error: "
                        "part of their disagreement is unfinished training)" if unconv > err_tol
                        else "")
                     + f"; Mfinal's vs the "
                     f"reference {dref:.3f}; straight-line barrier after retraining {wall:+.3f}"),
            paper="Mfinal sits in a flat region (perturbations retrain to zero error, into "
                  "different but similar models); earlier models branch into more different ones",
            ours=f"training-error gap {flat_gap:+.3f}; disagreement M5 {d5:.3f} > Mfinal "
                 f"{dfin:.3f} < reference {dref:.3f}; barrier {wall:+.3f}",
            numbers={"flat_gap": flat_gap, "disagree_M5": d5, "disagree_Mfinal": dfin,
                     "disagree_ref": dref, "disagree_M30": self.disagreement("M30")[0],
                     "barrier_Mfinal": wall, "barrier_M30": self.barrier("M30"),
                     "M5_retrained_train_err_max": unconv,
                     "checks": [bool(c) for c in checks], "compute_s": self.compute_s},
            compute_s=self.compute_s, scale=cfg["scale"], compared=len(checks))
