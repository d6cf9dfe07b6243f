"""The book's rules for deciding (toolkit.decide): the one tie rule on hand-made levels, statuses
from established comparisons only, and the evidence rule that makes a verdict "undetermined"."""

from __future__ import annotations

import numpy as np
import pytest

import toolkit as tk
from toolkit.decide import MIN_CONVERGED, Level, compare, decide, power, status_of, zero_bar


def test_level_of_combines_spread_and_noise():
    lv = Level.of([1.0, 3.0], stds=[0.0, 0.0], converged=[True, True])
    assert lv.mean == 2.0 and lv.k == 2 and lv.converged is True
    assert np.isclose(lv.err, np.sqrt(2.0 / 2))  # sample variance 2, k = 2, no noise
    one = Level.of([5.0], stds=[0.3])
    assert np.isclose(one.err, 0.3) and one.converged is None
    assert "(upper bound)" in Level.of([1.0], converged=[False]).text()
    assert "(upper bound)" not in Level.of([1.0]).text()


@pytest.mark.parametrize("a, b, expected", [
    (Level(1.0, 0.1, 3, True), Level(2.0, 0.1, 3, True), "lower"),
    (Level(2.0, 0.1, 3, True), Level(1.0, 0.1, 3, True), "higher"),
    # the tie rule: |a - b| <= 2 * sqrt(0.3² + 0.4²) = 1.0
    (Level(1.0, 0.3, 3, True), Level(2.0, 0.4, 3, True), "tie"),
    (Level(1.0, 0.3, 3, True), Level(2.001, 0.4, 3, True), "lower"),
    (Level(1.0, 0.0, 1), Level(1.0, 0.0, 1), "tie"),
    # the higher side's maxima did not converge: better paths could lower it below the other
    (Level(1.0, 0.1, 3, True), Level(2.0, 0.1, 3, False), "lower (upper bound)"),
    (Level(2.0, 0.1, 3, False), Level(1.0, 0.1, 3, True), "higher (upper bound)"),
    # an unconverged *lower* side only gets lower: the ordering stands
    (Level(1.0, 0.1, 3, False), Level(2.0, 0.1, 3, True), "lower"),
    (Level(float("nan"), 0.0, 0, None), Level(1.0, 0.1, 3, True), "unresolved"),
])
def test_the_one_tie_rule_on_hand_made_levels(a, b, expected):
    assert compare(a, b) == expected


def test_power_is_the_smallest_resolved_difference():
    a, b = Level(1.0, 0.3, 3), Level(1.0, 0.4, 3)
    d = power(a, b)
    assert np.isclose(d, 1.0)
    assert compare(Level(1.0 + 0.999 * d, 0.3, 3), b) == "tie"
    assert compare(Level(1.0 + 1.001 * d, 0.3, 3), b) == "higher"


def test_zero_bar_within_two_error_bars_or_the_dip():
    assert zero_bar([0.1, 0.1, 0.1], [0.05, 0.04, 0.0], dip=0.0).tolist() == [True, False, False]
    assert zero_bar([0.1], [0.0], dip=0.2).tolist() == [True]


def test_status_from_established_comparisons_only():
    assert status_of(["lower", "lower"]) == "reproduced"
    assert status_of(["lower", "tie"]) == "partly reproduced"
    assert status_of(["lower", "higher"]) == "not reproduced"
    assert status_of(["tie", "tie"]) == "not reproduced"  # nothing resolved
    assert status_of([]) == "undetermined"
    # an upper bound is evidence in neither direction
    assert status_of(["lower (upper bound)", "tie"]) == "not reproduced"
    assert status_of(["lower (upper bound)", "lower"]) == "partly reproduced"
    assert status_of(["higher (upper bound)", "lower"]) == "partly reproduced"
    assert status_of(["lower (upper bound)"]) == "undetermined"
    assert status_of(["higher (upper bound)", "unresolved"]) == "undetermined"


@pytest.mark.parametrize("measured", ["reproduced", "not reproduced", "partly reproduced"])
def test_one_of_three_bar_ending_maxima_converged_is_undetermined_in_both_directions(measured):
    status, why = decide(measured, minima=(3, 3), maxima=(1, 3))
    assert status == "undetermined" and "1/3 bar-ending path maxima" in why
    assert decide(measured, minima=(3, 3), maxima=(3, 3)) == (measured, "")
    assert MIN_CONVERGED == 0.8 and decide(measured, maxima=(4, 5))[0] == measured


def test_unconverged_minima_and_a_coarse_tolerance_are_undetermined():
    assert decide("reproduced", minima=(2, 3))[0] == "undetermined"
    status, why = decide("not reproduced", tolerance=1e-3, effect=4e-4)
    assert status == "undetermined" and "tolerance" in why
    assert decide("not reproduced", tolerance=1e-4, effect=4e-4)[0] == "not reproduced"


def test_method_checks_and_illustrations():
    assert decide("reproduced", kind="method check") == ("method check", "")
    assert decide("not reproduced", kind="method check")[0] == "not reproduced"
    assert decide("reproduced", kind="method check", minima=(1, 2))[0] == "undetermined"
    assert decide("reproduced", kind="illustration")[0] == "illustration"
    with pytest.raises(ValueError, match="kind"):
        decide("reproduced", kind="guess")


def _finish(status: str, scale: str = "cpu", **kw):
    v = tk.report.verdict(status=status, dataset="d", runs="r", finding="f", paper="p", ours="o",
                          scale=scale, **kw)
    return tk.Run("t", "Fig. T", "claim", scale).finish(**v, quiet=True)


def test_a_stand_in_caps_a_negative_result_like_a_positive_one(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_RESULTS_DIR", str(tmp_path))
    for measured in ("reproduced", "partly reproduced", "not reproduced"):
        rec = _finish(measured, stand_in=True)
        assert rec.status == "on stand-in" and rec.measured_status == measured
    # undetermined stays undetermined: a stand-in cannot decide what the budget did not
    rec = _finish("not reproduced", stand_in=True, maxima=(0, 3))
    assert rec.status == "undetermined" and "0/3" in rec.reason


def test_an_upper_bound_comparison_changes_no_status(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_RESULTS_DIR", str(tmp_path))
    base = ["lower", "tie"]
    for extra in ("lower (upper bound)", "higher (upper bound)"):
        assert status_of(base + [extra]) == status_of(base)
    assert _finish(status_of(base + ["lower (upper bound)"])).status == "partly reproduced"


def test_statuses_are_in_the_front_page_legend():
    from toolkit.reproduction import STATUS_WORDS

    assert {"undetermined", "method check"} <= set(STATUS_WORDS)
    assert set(STATUS_WORDS) == set(tk.report.STATUSES)
