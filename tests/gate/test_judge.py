"""segeval.gate.judge: min / max / per-case checks, NaN and failed cases, regression against a baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest

from segeval.errors import OptionError, ReportError
from segeval.gate import Check, judge, parse_check
from tests.gate._data import INF, NAN, dice_report, make_report, one

# --------------------------------------------------------------------------- min / max checks


LIVER = [0.9, 0.8, 0.95, 0.85]  # mean 0.875, median 0.875, min 0.8, max 0.95, p25 0.8375


@pytest.mark.parametrize(
    ("check", "stat", "passed", "value"),
    [
        pytest.param("dice:liver=0.87", "mean", True, 0.875, id="min-mean-pass"),
        pytest.param("dice:liver=0.88", "mean", False, 0.875, id="min-mean-fail"),
        pytest.param("dice:1=0.875", "mean", True, 0.875, id="min-equal-bar-passes"),
        pytest.param("dice:liver=0.8", "min", True, 0.8, id="min-min-pass"),
        pytest.param("dice:liver=0.81", "min", False, 0.8, id="min-min-fail"),
        pytest.param("dice:liver=0.875", "median", True, 0.875, id="median"),
        pytest.param("dice:liver=0.84", "p25", False, 0.8375, id="p25-fail"),
        pytest.param("dice:liver=0.83", "p25", True, 0.8375, id="p25-pass"),
    ],
)
def test_min_checks(check: str, stat: str, passed: bool, value: float) -> None:
    r = one(judge(dice_report(LIVER), [parse_check(check)], stat=stat))
    assert r.passed is passed
    assert r.value == pytest.approx(value)
    assert (r.n, r.n_nan, r.stat, r.label) == (4, 0, stat, 1)
    assert r.label_text == "1 (liver)"


@pytest.mark.parametrize(
    ("check", "stat", "passed"),
    [
        pytest.param("hd95:liver=1.3", "mean", True, id="max-mean-pass"),  # mean hd95 1.25
        pytest.param("hd95:liver=1.2", "mean", False, id="max-mean-fail"),
        pytest.param("hd95:liver=2.0", "max", True, id="max-max-pass"),  # worst 2.0
        pytest.param("hd95:liver=1.9", "max", False, id="max-max-fail"),
    ],
)
def test_max_checks(check: str, stat: str, passed: bool) -> None:
    assert one(judge(dice_report(LIVER), [parse_check(check, kind="max")], stat=stat)).passed is passed


def test_check_stat_overrides_judge_default() -> None:
    c = Check("min", "dice", 1, 0.8, stat="min")
    r = one(judge(dice_report(LIVER), [c], stat="mean"))
    assert r.stat == "min" and r.passed


def test_label_by_number_and_name_agree() -> None:
    rep = dice_report(LIVER, [0.7, 0.6, 0.5, 0.4])
    by_name = one(judge(rep, [parse_check("dice:spleen=0.5")]))
    by_number = one(judge(rep, [parse_check("dice:2=0.5")]))
    upper = one(judge(rep, [parse_check("dice:SPLEEN=0.5")]))
    assert by_name.value == by_number.value == upper.value == pytest.approx(0.55)
    assert by_name.label == by_number.label == 2


def test_region_label() -> None:
    rep = make_report({"a": {"WT": {"dice": 0.9}, 1: {"dice": 0.5}}, "b": {"WT": {"dice": 0.7}, 1: {"dice": 0.5}}})
    r = one(judge(rep, [parse_check("dice:wt=0.8")]))
    assert r.passed and r.value == pytest.approx(0.8) and r.label == "WT"


def test_macro_is_mean_over_labels_per_case_then_over_cases() -> None:
    # case a: labels 0.9 and NaN -> 0.9; case b: 0.5 and 0.7 -> 0.6; mean over cases 0.75
    # (the mean of per-label means would be (0.7 + 0.7) / 2 = 0.7)
    rep = dice_report([0.9, 0.5], [NAN, 0.7])
    r = one(judge(rep, [parse_check("dice=0.75")]))
    assert r.value == pytest.approx(0.75) and r.passed and r.label is None and r.label_text == "macro"
    assert (r.n, r.n_nan) == (2, 0)


def test_label_names_from_settings_when_records_have_none() -> None:
    d = {"settings": {"label_names": {"1": "liver"}},
         "cases": [{"case": "a", "labels": [{"label": 1, "name": None, "dice": 0.9}]}]}
    assert one(judge(d, [parse_check("dice:liver=0.5")])).label_text == "1 (liver)"


def test_generalized_dice_case_metric() -> None:
    rep = dice_report([0.9, 0.8])
    for c, g in zip(rep.cases, (0.7, 0.9)):
        c.generalized_dice = g
    assert one(judge(rep, [parse_check("generalized_dice=0.8")])).value == pytest.approx(0.8)


# --------------------------------------------------------------------------- per case


def test_per_case_pass() -> None:
    r = one(judge(dice_report(LIVER), [parse_check("dice:liver=0.8")], per_case=True))
    assert r.passed and r.stat == "per case" and r.value == 0.8 and r.failing_cases == []


def test_per_case_lists_failing_cases_worst_first() -> None:
    rep = dice_report([0.9, 0.7, 0.95, 0.6, 0.85])
    r = one(judge(rep, [parse_check("dice:liver=0.8")], per_case=True))
    assert not r.passed
    assert r.failing_cases == ["case_003", "case_001"]
    assert r.failing_values == [0.6, 0.7]
    assert r.value == 0.6
    assert "2 of 5 cases < 0.8" in r.reason


def test_per_case_max_lists_largest_first() -> None:
    rep = dice_report([0.9, 0.7, 0.95, 0.6])  # hd95 1, 3, 0.5, 4
    r = one(judge(rep, [Check("max", "hd95", "liver", 2.5, per_case=True)]))
    assert r.failing_cases == ["case_003", "case_001"] and r.value == pytest.approx(4.0)


# --------------------------------------------------------------------------- NaN and failed cases


def test_nan_values_are_counted_and_excluded() -> None:
    rep = dice_report([0.9, NAN, 0.8, NAN])
    r = one(judge(rep, [parse_check("dice:liver=0.85")]))
    assert (r.n, r.n_nan) == (2, 2) and r.value == pytest.approx(0.85) and r.passed
    assert "2 NaN excluded" in r.reason


def test_label_absent_from_some_cases_counts_as_nan() -> None:
    rep = make_report({"a": {1: {"dice": 0.9}, 2: {"dice": 0.8}}, "b": {1: {"dice": 0.7}}})
    r = one(judge(rep, [parse_check("dice:spleen=0.5")]))
    assert (r.n, r.n_nan) == (1, 1)


@pytest.mark.parametrize("per_case", [False, True])
def test_all_nan_label_fails_with_reason(per_case: bool) -> None:
    rep = dice_report([0.9, 0.8], [NAN, NAN])
    r = one(judge(rep, [parse_check("dice:spleen=0.1")], per_case=per_case))
    assert not r.passed
    assert "no valid value" in r.reason and (r.n, r.n_nan) == (0, 2)
    assert math.isnan(r.value)


def test_per_case_nan_cases_are_not_failures() -> None:
    r = one(judge(dice_report([0.9, NAN, 0.95]), [parse_check("dice:1=0.8")], per_case=True))
    assert r.passed and r.n_nan == 1 and "1 NaN not judged" in r.reason


def test_failed_cases_are_listed_and_counted() -> None:
    rep = make_report({"a": {1: {"dice": 0.9}}, "b": "missing prediction", "c": {1: {"dice": 0.8}}})
    res = judge(rep, [parse_check("dice:1=0.8")])
    assert res.failed_cases == [("b", "missing prediction")] and res.n_cases == 3
    r = one(res)
    assert r.passed and r.n == 2
    assert "failed to score" not in r.reason  # said once, under the table, not in every check
    per = one(judge(rep, [parse_check("dice:1=0.8")], per_case=True))
    assert not per.passed and per.failing_cases == ["b"] and math.isnan(per.failing_values[0])


def test_all_cases_failed_fails_every_check() -> None:
    rep = make_report({"a": "crashed", "b": "crashed"})
    res = judge(rep, [parse_check("dice:1=0.8"), parse_check("hd95=5", kind="max")])
    assert not res.passed and all("no case was scored" in c.reason for c in res.checks)


def test_infinite_distance_fails_a_mean_max_check() -> None:
    rep = make_report({"a": {1: {"dice": 0.0, "hd95": INF}}, "b": {1: {"dice": 0.9, "hd95": 2.0}}})
    assert one(judge(rep, [parse_check("hd95:1=5", kind="max")])).value == INF
    assert one(judge(rep, [parse_check("hd95:1=5", kind="max")], stat="min")).passed


# --------------------------------------------------------------------------- errors naming what is wrong


def test_unknown_label_is_an_error_listing_labels() -> None:
    with pytest.raises(OptionError, match=r"label 'kidney' is not in the report \(labels: 1 \(liver\), 2 \(spleen\)\)"):
        judge(dice_report(LIVER, LIVER), [parse_check("dice:kidney=0.5")])
    with pytest.raises(OptionError, match="label 7 is not in"):
        judge(dice_report(LIVER), [parse_check("dice:7=0.5")])


def test_metric_not_in_report_is_an_error() -> None:
    rep = make_report({"a": {1: {"dice": 0.9}}}, metrics=("dice",))
    with pytest.raises(OptionError, match=r"has no nsd values \(it has .*dice.*\); score with --metrics"):
        judge(rep, [parse_check("nsd=0.5")])


def test_ambiguous_label_name_is_an_error() -> None:
    rep = make_report({"a": {1: {"dice": 0.9}, 2: {"dice": 0.8}}})
    rep.cases[0].labels[1]["name"] = "liver"
    with pytest.raises(OptionError, match="ambiguous"):
        judge(rep, [parse_check("dice:liver=0.5")])


def test_checks_must_be_check_objects() -> None:
    with pytest.raises(TypeError):
        judge(dice_report(LIVER), ["dice=0.5"])  # type: ignore[list-item]


# --------------------------------------------------------------------------- regression against a baseline


def test_constant_drop_over_30_cases_is_significant() -> None:
    rng = np.random.default_rng(3)
    old = list(rng.uniform(0.7, 0.95, 30))
    new = [v - 0.05 for v in old]
    r = one(judge(dice_report(new), [parse_check("dice:liver=0.01", kind="max_drop")], baseline=dice_report(old)))
    assert not r.passed and r.significant
    assert r.change == pytest.approx(-0.05)
    assert r.ci_low == pytest.approx(-0.05) and r.ci_high == pytest.approx(-0.05)
    assert r.p_value < 1e-5
    assert r.n == 30 and r.stat == "mean change"
    assert r.baseline_value == pytest.approx(float(np.mean(old)))
    assert r.value == pytest.approx(float(np.mean(new)))
    assert len(r.failing_cases) == 30


def test_noise_around_zero_is_not_significant() -> None:
    rng = np.random.default_rng(7)
    old = rng.uniform(0.7, 0.9, 30)
    diffs = rng.normal(0.0, 0.03, 30)
    diffs -= diffs.mean() + 0.005  # a mean drop of 0.005, well inside the noise
    new = old + diffs
    check = parse_check("dice:liver=0.001", kind="max_drop")
    plain = one(judge(dice_report(list(new)), [check], baseline=dice_report(list(old))))
    sig = one(judge(dice_report(list(new)), [check], baseline=dice_report(list(old)), significant=True))
    assert plain.change == pytest.approx(-0.005)
    assert not plain.passed  # 0.005 > 0.001 ...
    assert sig.passed and not sig.significant  # ... but not significantly
    assert "not significantly" in sig.reason
    assert plain.p_value > 0.05
    assert plain.ci_low < 0 < plain.ci_high
    from scipy.stats import wilcoxon

    assert plain.p_value == pytest.approx(wilcoxon(new - old, method="exact").pvalue)


def test_significant_drop_still_fails_with_significant_flag() -> None:
    old = [0.9] * 30
    new = [0.8] * 30
    r = one(judge(dice_report(new), [parse_check("dice=0.01", kind="max_drop")],
                  baseline=dice_report(old), significant=True))
    assert not r.passed and r.significant


def test_drop_within_allowance_passes() -> None:
    old = [0.9] * 10
    new = [0.895] * 10
    r = one(judge(dice_report(new), [parse_check("dice:1=0.01", kind="max_drop")], baseline=dice_report(old)))
    assert r.passed and r.change == pytest.approx(-0.005)


def test_improvement_passes() -> None:
    r = one(judge(dice_report([0.95] * 5), [parse_check("dice=0", kind="max_drop")], baseline=dice_report([0.9] * 5)))
    assert r.passed and r.change == pytest.approx(0.05) and not r.significant


def test_distance_increase_is_the_regression() -> None:
    # hd95 = 10 * (1 - dice): dice 0.9 -> 0.8 makes hd95 1 -> 2 mm
    worse = one(judge(dice_report([0.8] * 10), [parse_check("hd95:1=0.5", kind="max_drop")],
                      baseline=dice_report([0.9] * 10)))
    assert not worse.passed and worse.change == pytest.approx(1.0)
    better = one(judge(dice_report([0.9] * 10), [parse_check("hd95:1=0.5", kind="max_drop")],
                       baseline=dice_report([0.8] * 10)))
    assert better.passed and better.change == pytest.approx(-1.0)


def test_no_change_gives_p_one() -> None:
    r = one(judge(dice_report(LIVER), [parse_check("dice=0", kind="max_drop")], baseline=dice_report(LIVER)))
    assert r.passed and r.p_value == 1.0 and r.change == 0.0


def test_baseline_unmatched_cases_are_reported() -> None:
    new = make_report({"a": {1: {"dice": 0.9}}, "b": {1: {"dice": 0.8}}, "new_only": {1: {"dice": 0.1}}})
    old = make_report({"a": {1: {"dice": 0.9}}, "b": {1: {"dice": 0.8}}, "old_only": {1: {"dice": 0.99}},
                       "old_failed": "crashed"})
    res = judge(new, [parse_check("dice=0.0", kind="max_drop")], baseline=old)
    assert res.only_in_report == ["new_only"]
    assert res.only_in_baseline == ["old_only", "old_failed"]
    r = one(res)
    assert r.n == 2 and r.change == 0.0 and r.passed


def test_baseline_nan_pairs_are_excluded_and_counted() -> None:
    new = dice_report([0.9, NAN, 0.8])
    old = dice_report([0.9, 0.9, NAN])
    r = one(judge(new, [parse_check("dice:1=0.01", kind="max_drop")], baseline=old))
    assert (r.n, r.n_nan) == (1, 2)


def test_baseline_without_common_cases_is_an_error() -> None:
    """Nothing to compare is bad input (exit 2), not a quality failure (exit 1)."""
    with pytest.raises(ReportError, match="have no case id in common, so nothing can be compared"):
        judge(dice_report([0.9], prefix="x"), [parse_check("dice=0.1", kind="max_drop")],
              baseline=dice_report([0.9], prefix="y"))


def test_baseline_label_missing_is_an_error() -> None:
    with pytest.raises(OptionError, match="spleen"):
        judge(dice_report(LIVER, LIVER), [parse_check("dice:spleen=0.1", kind="max_drop")],
              baseline=dice_report(LIVER))


def test_max_drop_needs_a_baseline() -> None:
    with pytest.raises(OptionError, match="baseline"):
        judge(dice_report(LIVER), [parse_check("dice=0.1", kind="max_drop")])
