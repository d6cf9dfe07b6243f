"""Liao & Poggio result objects: the measurements and verdicts on hand-made numbers (exact
answers), and the exact algebra of the Bezout illustration."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import toolkit as tk
from toolkit.experiments.lp_bgd_branches import AVERAGE, BRANCH, TRUNK, LPBGDResult
from toolkit.experiments.lp_common import LPData
from toolkit.experiments.lp_overparam import LPOverparamResult
from toolkit.experiments.lp_poly import LPPolyResult, PolyRun
from toolkit.experiments.lp_retrain_result import LPRetrainResult, RetrainRun

DATA = LPData("fashion-mnist", 100, 4, "cifar10", "absent")


def _retrain_result(preds: dict[str, list[np.ndarray]], ref: np.ndarray, y: np.ndarray,
                    final_err: float = 0.0) -> LPRetrainResult:
    runs = []
    for base, ps in preds.items():
        for r, p in enumerate(ps):
            w = torch.randn(2, 3, generator=torch.Generator().manual_seed(r)) + 3
            runs.append(RetrainRun(base=base, run=r, epoch=np.array([0, 1]),
                                   train_loss=np.zeros(2), train_err=np.array([0.5, final_err]),
                                   test_loss=np.zeros(2), test_err=np.zeros(2),
                                   layers={"layer 2": w}, start=torch.zeros(3),
                                   final=torch.zeros(3), pred=p, compute_s=0.0))
    bases = tuple(preds)
    flat = np.zeros((len(bases), 2, 3))
    return LPRetrainResult(
        config={"scale": "cpu", "runs": len(next(iter(preds.values()))), "retrain_epochs": 1,
                "small_retrain_epochs": 1}, data=DATA, bases=bases, n_params=3,
        base_train_err={b: 0.0 for b in bases}, base_test_err={b: 0.0 for b in bases},
        ref_train_err=0.0, ref_test_err=0.0, runs=runs, y_test=y, ref_pred=ref, mds={},
        explained={}, mds_one={}, explained_one={}, line_t=np.linspace(0, 1, 3),
        lines={"train_err": flat, "test_err": flat}, compute_s=1.0)


def test_similarity_matrices_and_disagreement_by_hand():
    y = np.array([0, 1, 2, 3])
    a, b = np.array([0, 1, 2, 0]), np.array([0, 1, 0, 0])  # right: a {0,1,2}, b {0,1}
    ref = np.array([1, 1, 2, 3])                            # right: {1,2,3}
    res = _retrain_result({"M5": [a, b], "M30": [a, a], "Mfinal": [a, a]}, ref, y)
    right, wrong = res.similarity("M5")
    np.testing.assert_allclose(right, [[1, 2 / 3, 2 / 3], [1, 1, 1 / 2], [2 / 3, 1 / 3, 1]])
    # wrong: a {3}, b {2,3}, ref {0}
    np.testing.assert_allclose(wrong, [[1, 1, 0], [1 / 2, 1, 0], [0, 0, 1]])
    assert res.disagreement("M5") == pytest.approx((0.25, (0.5 + 0.75) / 2))
    assert res.similarity_labels() == ["1", "2", "ref"]
    v = res.verdict()
    # flat (0 error), M5 0.25 vs Mfinal 0 (2 SE = 2 sqrt(.25 .75 / 4) = 0.43: not significant),
    # Mfinal's copies identical (disagreement 0: not "different"), no barrier -> 2 of 4
    assert v["numbers"]["checks"] == [True, False, False, True]
    assert v["status"] == "partly reproduced" and v["stand_in"]


def test_bgd_excess_and_stuck_by_hand():
    cfg = {"scale": "cpu", "noises": (0.25,), "branch_epochs": (0, 2), "epochs": 4}
    kind = np.array([TRUNK] * 3 + [BRANCH, AVERAGE] * 3 + [BRANCH, AVERAGE] * 2)
    branch = np.array([-1] * 3 + [0] * 6 + [1] * 4)
    noise = np.where(branch < 0, -1, 0)
    epoch = np.array([0, 2, 4, 0, 0, 2, 2, 4, 4, 2, 2, 4, 4])
    err = np.array([.9, .3, .0, .9, .9, .4, .5, .1, .4, .3, .3, .0, .0])
    history = {(-1, -1): np.array([2.0, 1.5, 1.0, 0.5]),
               (0, 0): np.array([2.0, 1.0, 0.9, 0.9]),   # flat at the end, final error 0.1
               (0, 1): np.array([0.5, 0.4])}
    res = LPBGDResult(config=cfg, data=DATA, n_params=1, kind=kind, noise_idx=noise, branch=branch,
                      epoch=epoch, loss=err, err=err, history=history, mds={}, explained={},
                      compute_s=0.0)
    assert res.excess(0, 0) == pytest.approx(0.4 - 0.05)
    assert res.excess(0, 1) == pytest.approx(0.0)
    assert res.stuck(err_tol=0.05, flat_tol=0.01) == ["branch at epoch 0 (0.25 S)"]
    assert res.stuck(err_tol=0.2, flat_tol=0.01) == []
    v = res.verdict(err_tol=0.05, wall=0.05)  # stuck, near 0.0 <= wall, far 0.35 > wall
    assert v["numbers"]["n_stuck"] == 1 and v["status"] == "partly reproduced"
    ep, values = res.curve(AVERAGE, 0, 0)
    np.testing.assert_array_equal(ep, [0, 2, 4])
    np.testing.assert_allclose(values, [.9, .5, .4])
    assert len(res.points(0)["kind"]) == len(kind)


def test_overparam_rises_count_only_significant_steps_between_overparametrised_widths():
    data = LPData("fashion-mnist", 1000, 10000, None, None, subsets=(100, 1000))
    res = LPOverparamResult(
        config={"scale": "cpu", "steps": 1}, data=data, n_trains=np.array([100, 1000]), widths=np.array([1, 2, 3]),
        n_params=np.array([500, 2000, 8000]), train_err=np.zeros((2, 3)),
        test_err=np.array([[0.30, 0.20, 0.25], [0.50, 0.30, 0.31]]), test_loss=np.zeros((2, 3)),
        compute_s=0.0)
    # n=100: 0.20 -> 0.25 is ~8 SE (10,000 images); n=1000: 0.30 -> 0.31 is ~1.5 SE (a tie)
    assert res.increases() == [(100, 2, 3, pytest.approx(0.05))]
    v = res.verdict()
    assert v["status"] == "partly reproduced" and not v["stand_in"] and res.n_steps_tested() == 3
    small = LPOverparamResult(**{**res.__dict__, "n_params": np.array([50, 60, 70])})
    assert small.n_steps_tested() == 0 and small.verdict()["status"] == "illustration"


def test_poly_gap_is_a_tie_within_two_standard_errors():
    def run(a, r, err):
        e = np.array([0.9, err])
        return PolyRun(a, r, e, e, e, e, False, 0.0)

    runs = {"relu": [run("relu", 0, 0.20), run("relu", 1, 0.22)],
            "poly": [run("poly", 0, 0.23), run("poly", 1, 0.25)]}
    res = LPPolyResult(config={"scale": "cpu", "runs": 2, "epochs": 1}, data=DATA, n_params=1, poly_coef=[0, 1],
                       runs=runs, compute_s=0.0)
    gap, se = res.gap("test_err")
    assert gap == pytest.approx(0.03)
    assert se > 0.1  # 4 test images: the binomial error dominates
    assert res.verdict()["status"] == "reproduced"


def test_bezout_square_system_counts_exactly(one_thread):
    res = tk.experiments.lp_bezout(tk.experiments.lp_bezout_config("smoke"))
    assert res.degrees.tolist() == [[6, 6]] and res.bezout.tolist() == [36]
    assert res.paper_count == 16
    assert res.n_complex.tolist() == [8] and res.n_real.tolist() == [4]
    assert np.all(res.zero_eigs == res.shape_k - res.shape_n) and len(res.loss) == 2
    assert np.all(res.loss < 1e-20)
    v = res.verdict()  # exact checks hold; a drawing of the basin model is only illustrated
    assert v["status"] == "illustration" and not v["stand_in"]
