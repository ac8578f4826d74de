"""segeval.gate: checks, reading reports, statistics, regression tests, configuration, renderings."""

from __future__ import annotations

import gzip
import io
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import segeval
from segeval.errors import ConfigError, OptionError, ReportError, UnknownMetricError
from segeval.gate import (
    Check,
    GateResult,
    bootstrap_ci,
    checks_from_options,
    find_config,
    judge,
    parse_check,
    parse_stat,
    read_config,
    report_values,
    statistic,
    wilcoxon_p,
)
from segeval.records import CaseResult
from segeval.report.gate_render import gate_json, gate_markdown, gate_table, junit_xml
from segeval.report.writers import to_csv, to_json
from segeval.summary import Report

NAN = float("nan")
INF = float("inf")
NAMES = {1: "liver", 2: "spleen"}


def _record(label: Any, values: dict[str, float]) -> dict[str, Any]:
    return {"label": label, "name": NAMES.get(label) if isinstance(label, int) else None, **values,
            "tp": 1, "fp": 0, "fn": 0, "tn": 1, "vol_pred_ml": 1.0, "vol_gt_ml": 1.0}


def make_report(
    cases: dict[str, dict[Any, dict[str, float]] | str], metrics: tuple[str, ...] = ("dice", "hd95")
) -> Report:
    """Report from {case: {label: {metric: value}}}; a string value is a failed case's error."""
    out = []
    for cid, labels in cases.items():
        if isinstance(labels, str):
            out.append(CaseResult(case=cid, error=labels))
        else:
            out.append(CaseResult(case=cid, labels=[_record(k, v) for k, v in labels.items()]))
    return Report(settings={"metrics": list(metrics)}, cases=out)


def dice_report(liver: list[float], spleen: list[float] | None = None, prefix: str = "case") -> Report:
    """One case per value: liver (label 1) and optionally spleen (label 2) Dice; hd95 = 10 * (1 - dice)."""
    cases: dict[str, Any] = {}
    for i, d in enumerate(liver):
        labels = {1: {"dice": d, "hd95": 10 * (1 - d) if not math.isnan(d) else NAN}}
        if spleen is not None:
            s = spleen[i]
            labels[2] = {"dice": s, "hd95": 10 * (1 - s) if not math.isnan(s) else NAN}
        cases[f"{prefix}_{i:03d}"] = labels
    return make_report(cases)


def one(result: GateResult) -> Any:
    assert len(result.checks) == 1
    return result.checks[0]


# --------------------------------------------------------------------------- parsing checks


@pytest.mark.parametrize(
    ("text", "kind", "metric", "label", "value"),
    [
        pytest.param("dice=0.85", "min", "dice", None, 0.85, id="macro"),
        pytest.param("dice:1=0.9", "min", "dice", 1, 0.9, id="label-number"),
        pytest.param("Dice:liver = 0.9", "min", "dice", "liver", 0.9, id="label-name-spaces-case"),
        pytest.param("hd95:WT=5", "max", "hd95", "WT", 5.0, id="region"),
        pytest.param("dice=0.01", "max_drop", "dice", None, 0.01, id="drop"),
        pytest.param("generalized_dice=0.8", "min", "generalized_dice", None, 0.8, id="case-metric"),
    ],
)
def test_parse_check(text: str, kind: str, metric: str, label: Any, value: float) -> None:
    c = parse_check(text, kind=kind)
    assert (c.kind, c.metric, c.label, c.value) == (kind, metric, label, value)


@pytest.mark.parametrize(
    ("text", "kind", "match"),
    [
        pytest.param("dice", "min", "expected METRIC", id="no-equals"),
        pytest.param("=0.8", "min", "expected METRIC", id="no-metric"),
        pytest.param("dice=", "min", "expected METRIC", id="no-value"),
        pytest.param("dice=high", "min", "not a number", id="bad-value"),
        pytest.param("dice=nan", "min", "finite", id="nan-bar"),
        pytest.param("dice:=0.8", "min", "empty label", id="empty-label"),
        pytest.param("generalized_dice:1=0.8", "min", "without a label", id="case-metric-label"),
        pytest.param("dice=-0.1", "max_drop", ">= 0", id="negative-drop"),
        pytest.param("tp=3", "max_drop", "no better direction", id="drop-on-count"),
    ],
)
def test_parse_check_errors(text: str, kind: str, match: str) -> None:
    with pytest.raises(OptionError, match=match) as info:
        parse_check(text, kind=kind)
    assert "\n" not in str(info.value)


def test_parse_check_unknown_metric_suggests() -> None:
    with pytest.raises(UnknownMetricError, match="did you mean 'dice'"):
        parse_check("dcie:liver=0.8")


def test_parse_check_names_its_option() -> None:
    with pytest.raises(OptionError, match=r"^--fail-under dice=x:"):
        parse_check("dice=x", option="--fail-under")


@pytest.mark.parametrize("text", ["mean", "median", "min", "max", "p5", "p95", "p2.5", "P50", "p0", "p100"])
def test_parse_stat_ok(text: str) -> None:
    assert parse_stat(text) == text.lower()


@pytest.mark.parametrize("text", ["avg", "p101", "p", "pxx", "95", ""])
def test_parse_stat_errors(text: str) -> None:
    with pytest.raises(OptionError, match="--stat"):
        parse_stat(text)


# --------------------------------------------------------------------------- statistics


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=40),
    st.sampled_from(["mean", "median", "min", "max", "p5", "p25", "p95", "p2.5"]),
)
def test_statistic_matches_numpy(values: list[float], stat: str) -> None:
    arr = np.asarray(values)
    expected = {"mean": np.mean, "median": np.median, "min": np.min, "max": np.max}.get(stat)
    want = expected(arr) if expected else np.percentile(arr, float(stat[1:]))
    assert statistic(values, stat) == pytest.approx(float(want), rel=1e-9, abs=1e-6)


def test_statistic_nan_and_inf() -> None:
    assert statistic([1.0, NAN, 3.0], "mean") == 2.0
    assert math.isnan(statistic([NAN, NAN], "median"))
    assert statistic([1.0, INF], "mean") == INF
    assert statistic([INF, INF, 1.0], "p95") == INF  # no inf - inf = NaN in the interpolation
    assert statistic([1.0, 2.0, INF], "median") == 2.0


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
    assert r.passed and r.n == 2 and "1 case failed to score" in r.reason
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


def test_baseline_without_common_cases_fails() -> None:
    r = one(judge(dice_report([0.9], prefix="x"), [parse_check("dice=0.1", kind="max_drop")],
                  baseline=dice_report([0.9], prefix="y")))
    assert not r.passed and "no case id in common" in r.reason


def test_baseline_label_missing_is_an_error() -> None:
    with pytest.raises(OptionError, match="spleen"):
        judge(dice_report(LIVER, LIVER), [parse_check("dice:spleen=0.1", kind="max_drop")],
              baseline=dice_report(LIVER))


def test_max_drop_needs_a_baseline() -> None:
    with pytest.raises(OptionError, match="baseline"):
        judge(dice_report(LIVER), [parse_check("dice=0.1", kind="max_drop")])


def test_bootstrap_is_deterministic_and_brackets_the_mean() -> None:
    d = list(np.random.default_rng(0).normal(0.01, 0.02, 40))
    a, b = bootstrap_ci(d, seed=0), bootstrap_ci(d, seed=0)
    assert a == b
    assert a[0] < float(np.mean(d)) < a[1]
    assert bootstrap_ci(d, seed=1) != a
    assert bootstrap_ci([0.2]) == (0.2, 0.2)
    assert all(math.isnan(x) for x in bootstrap_ci([1.0, INF]))


def test_wilcoxon_edge_cases() -> None:
    assert wilcoxon_p([0.0] * 5) == 1.0
    assert wilcoxon_p([]) == 1.0
    assert 0.0 < wilcoxon_p([0.1, 0.0, 0.0]) <= 1.0
    # ten positive differences, no ties: exact two-sided p = 2 / 2**10
    assert wilcoxon_p([0.01 * k for k in range(1, 11)]) == pytest.approx(2 / 1024)
    assert wilcoxon_p([-0.01 * k for k in range(1, 11)]) == pytest.approx(2 / 1024)


# --------------------------------------------------------------------------- reading reports


def _formats(tmp_path: Path, rep: Report) -> dict[str, Any]:
    (tmp_path / "r.json").write_text(to_json(rep))
    (tmp_path / "r.csv").write_text(to_csv(rep))
    d = rep.to_dict()
    lines = [json.dumps({"segeval_version": d["segeval_version"], "settings": d["settings"]})]
    lines += [json.dumps(c) for c in d["cases"]]
    (tmp_path / "r.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "r.json.gz").write_bytes(gzip.compress(to_json(rep).encode()))
    return {"report": rep, "dict": d, "json": tmp_path / "r.json", "csv": str(tmp_path / "r.csv"),
            "jsonl": tmp_path / "r.jsonl", "gz": tmp_path / "r.json.gz"}


@pytest.mark.parametrize("fmt", ["report", "dict", "json", "csv", "jsonl", "gz"])
def test_every_format_gives_the_same_answer(tmp_path: Path, fmt: str) -> None:
    rep = make_report({
        "a": {1: {"dice": 0.9, "hd95": 1.0}, 2: {"dice": NAN, "hd95": NAN}},
        "b": {1: {"dice": 0.0, "hd95": INF}, 2: {"dice": 0.7, "hd95": 3.0}},
        "c": "missing prediction",
    })
    src = _formats(tmp_path, rep)[fmt]
    res = judge(src, [parse_check("dice:liver=0.4"), parse_check("dice=0.5"),
                      parse_check("hd95:spleen=3", kind="max"), parse_check("hd95:1=5", kind="max")])
    assert [c.passed for c in res.checks] == [True, True, True, False]
    assert res.checks[0].value == pytest.approx(0.45)
    assert res.checks[1].value == pytest.approx((0.9 + 0.35) / 2)
    assert res.checks[2].n_nan == 1
    assert res.checks[3].value == INF
    assert res.failed_cases == [("c", "missing prediction")]
    assert res.checks[0].label_text == "1 (liver)"


def test_real_scored_report_round_trips(tmp_path: Path) -> None:
    gt = np.zeros((12, 12, 12), np.uint8)
    gt[2:6, 2:6, 2:6] = 1
    gt[7:11, 7:11, 7:11] = 2
    pred = gt.copy()
    pred[2:3] = 0
    rep = segeval.score(pred, gt, labels={"liver": 1, "spleen": 2}, metrics=["dice", "hd95"], spacing_mm=(1, 1, 1))
    (tmp_path / "s.json").write_text(to_json(rep))
    (tmp_path / "s.csv").write_text(to_csv(rep))
    for src in (rep, tmp_path / "s.json", tmp_path / "s.csv"):
        res = judge(src, [parse_check("dice:liver=0.85"), parse_check("dice:spleen=1"),
                          parse_check("hd95:2=0", kind="max")])
        assert [c.passed for c in res.checks] == [True, True, True]
        assert res.checks[0].value == pytest.approx(0.75 * 2 / 1.75)


def test_jsonl_named_file_holding_one_json_document(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    p.write_text(to_json(dice_report([0.9, 0.7])))
    assert one(judge(p, [parse_check("dice=0.8")])).value == pytest.approx(0.8)


def test_batch_journal_is_readable(tmp_path: Path) -> None:
    p = tmp_path / "results.json.partial.jsonl"
    rep = dice_report([0.9, 0.7])
    lines = [json.dumps({"segeval_journal": 1, "segeval_version": "0", "settings": rep.settings})]
    lines += [json.dumps(c.to_dict(), allow_nan=True) for c in rep.cases]
    p.write_text("\n".join(lines) + "\n")
    assert one(judge(p, [parse_check("dice:liver=0.8")])).n == 2


def test_jsonl_truncated_last_line_is_a_note(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    p.write_text('{"segeval_version": "0", "settings": {}}\n'
                 '{"case": "a", "error": null, "labels": [{"label": 1, "dice": 0.9}]}\n'
                 '{"case": "b", "error": null, "labels": [{"lab')
    data = report_values(p)
    assert data.cases == ["a"] and "line 3 is incomplete" in data.notes[0]


def test_jsonl_duplicate_case_last_wins(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    p.write_text('{"case": "a", "error": "crashed", "labels": []}\n'
                 '{"case": "a", "error": null, "labels": [{"label": 1, "dice": 0.9}]}\n')
    data = report_values(p)
    assert data.cases == ["a"] and data.failed == {} and "more than once" in data.notes[0]


def test_json_named_file_holding_json_lines(tmp_path: Path) -> None:
    p = tmp_path / "r.json"
    p.write_text('{"case": "a", "labels": [{"label": 1, "dice": 0.9}]}\n'
                 '{"case": "b", "labels": [{"label": 1, "dice": 0.7}]}\n')
    assert one(judge(p, [parse_check("dice=0.8")])).value == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        pytest.param("missing.json", None, "no such report file", id="missing"),
        pytest.param("empty.json", "", "is empty", id="empty"),
        pytest.param("blank.csv", "\n  \n", "is empty", id="blank"),
        pytest.param("bad.json", '{"cases": [', "not valid JSON", id="garbled-json"),
        pytest.param("other.json", '{"foo": 1}', "not a segeval report", id="json-not-report"),
        pytest.param("nnunet.json", '{"metric_per_case": []}', "nnU-Net", id="nnunet-summary"),
        pytest.param("nocases.json", '{"cases": []}', "no cases", id="no-cases"),
        pytest.param("noid.json", '{"cases": [{"labels": []}]}', "no \"case\" id", id="case-without-id"),
        pytest.param("badval.json", '{"cases": [{"case": "a", "labels": [{"label": 1, "dice": "high"}]}]}',
                     "case a, label 1, dice: 'high' is not a number", id="bad-json-number"),
        pytest.param("bad.jsonl", '{"case": "a"}\nnot json\n{"case": "b"}\n', "line 2 is not valid JSON",
                     id="garbled-jsonl"),
        pytest.param("x.csv", "foo,bar\n1,2\n", "no \"case\" column", id="csv-not-report"),
        pytest.param("summary.csv", "label,name,metric,mean,std\n1,liver,dice,0.9,0.1\n", "summary table",
                     id="csv-summary"),
        pytest.param("nolabel.csv", "case,dice\na,0.9\n", "no \"label\" column", id="csv-no-label"),
        pytest.param("header.csv", "case,label,name,dice\n", "no cases", id="csv-header-only"),
        pytest.param("num.csv", "case,label,name,dice\na,1,liver,abc\n", "line 2, column dice: 'abc'",
                     id="csv-bad-number"),
        pytest.param("ragged.csv", "case,label,name,dice\na,1\nb,1,liver,0.9\n", "line 2 has 2 fields",
                     id="csv-ragged"),
        pytest.param("bin.json", b"\xff\xfe\x00\x01garbage", "not UTF-8", id="binary"),
        pytest.param("bad.json.gz", b"\x1f\x8b\x08\x00garbage", "gzip", id="corrupt-gzip"),
    ],
)
def test_bad_reports_are_one_line_errors_naming_the_file(
    tmp_path: Path, name: str, content: str | bytes | None, match: str
) -> None:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    elif content is not None:
        p.write_text(content)
    with pytest.raises(ReportError, match=match) as info:
        report_values(p)
    msg = str(info.value)
    assert msg.startswith(str(p)) and "\n" not in msg


def test_report_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="is a folder"):
        report_values(tmp_path)


def test_csv_truncated_last_line_is_a_note(tmp_path: Path) -> None:
    p = tmp_path / "r.csv"
    p.write_text("case,label,name,dice,error\na,1,liver,0.9,\nb,1,li")
    data = report_values(p)
    assert data.cases == ["a"] and data.notes


# --------------------------------------------------------------------------- configuration


GOOD_TOML = """
[gate]
min = ["dice=0.85", "dice:liver=0.9"]
max = { "hd95:liver" = 5.0 }
stat = "median"
per-case = false
baseline = "baseline/results.json"
max_drop = ["dice=0.01"]
significant = true
"""


def test_read_segeval_toml(tmp_path: Path) -> None:
    p = tmp_path / "segeval.toml"
    p.write_text(GOOD_TOML)
    cfg = read_config(p)
    assert [(c.kind, c.metric, c.label, c.value) for c in cfg.checks] == [
        ("min", "dice", None, 0.85), ("min", "dice", "liver", 0.9), ("max", "hd95", "liver", 5.0),
        ("max_drop", "dice", None, 0.01),
    ]
    assert (cfg.stat, cfg.per_case, cfg.significant) == ("median", False, True)
    assert cfg.baseline == tmp_path / "baseline" / "results.json"
    assert cfg.section == "[gate]"


def test_read_pyproject(tmp_path: Path) -> None:
    p = tmp_path / "pyproject.toml"
    p.write_text('[project]\nname = "x"\n\n[tool.segeval.gate]\nmin = { "dice:1" = 0.8 }\n')
    cfg = read_config(p)
    assert cfg.checks == [Check("min", "dice", 1, 0.8)] and cfg.section == "[tool.segeval.gate]"


def test_find_config(tmp_path: Path) -> None:
    assert find_config(tmp_path) is None
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_config(tmp_path) is None  # no [tool.segeval.gate]: not a gate config
    (tmp_path / "pyproject.toml").write_text('[tool.segeval.gate]\nmin = ["dice=0.5"]\n')
    assert find_config(tmp_path) == tmp_path / "pyproject.toml"
    (tmp_path / "segeval.toml").write_text('[gate]\nmin = ["dice=0.6"]\n')
    assert find_config(tmp_path) == tmp_path / "segeval.toml"


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        pytest.param("segeval.toml", "[gate\nmin = 1", "not valid TOML", id="invalid-toml"),
        pytest.param("segeval.toml", '[gate]\nmni = ["dice=0.8"]\n', "unknown key 'mni'; did you mean 'min'",
                     id="unknown-key"),
        pytest.param("segeval.toml", "[gate]\nmin = 0.8\n", r"\[gate\] min: expected a list", id="min-not-list"),
        pytest.param("segeval.toml", "[gate]\nmin = [0.8]\n", "expected strings", id="min-list-of-numbers"),
        pytest.param("segeval.toml", '[gate]\nmin = { dice = "high" }\n', "'dice' must be a number",
                     id="table-value-not-number"),
        pytest.param("segeval.toml", '[gate]\nmin = ["dice=abc"]\n', r"\[gate\] min dice=abc: 'abc' is not a number",
                     id="bad-check-value"),
        pytest.param("segeval.toml", '[gate]\nmin = ["dcie=0.8"]\n', "unknown metric 'dcie'", id="bad-metric"),
        pytest.param("segeval.toml", '[gate]\nmax_drop = ["dice=-1"]\n', ">= 0", id="negative-drop"),
        pytest.param("segeval.toml", '[gate]\nstat = "average"\n', r"\[gate\] stat: expected mean", id="bad-stat"),
        pytest.param("segeval.toml", "[gate]\nstat = 5\n", "expected a string", id="stat-not-string"),
        pytest.param("segeval.toml", '[gate]\nper_case = "yes"\n', "per_case: expected true or false",
                     id="per-case-not-bool"),
        pytest.param("segeval.toml", "[gate]\nsignificant = 1\n", "significant: expected true or false",
                     id="significant-not-bool"),
        pytest.param("segeval.toml", "[gate]\nbaseline = 3\n", "baseline: expected the path", id="baseline-not-str"),
        pytest.param("segeval.toml", 'min = ["dice=0.8"]\n', r"no \[gate\] table \(found 'min'\)", id="no-gate-table"),
        pytest.param("segeval.toml", "gate = 3\n", "must be a table", id="gate-not-table"),
        pytest.param("segeval.toml", '[gate]\nmax_drop = ["dice=0.1"]\nmax-drop = ["iou=0.1"]\n', "given twice",
                     id="dash-and-underscore"),
        pytest.param("pyproject.toml", '[project]\nname = "x"\n', r"no \[tool.segeval.gate\] table",
                     id="pyproject-without-table"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, name: str, text: str, match: str) -> None:
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        read_config(p)
    msg = str(info.value)
    assert str(p) in msg and "\n" not in msg


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--config .*: no such file"):
        read_config(tmp_path / "nope.toml")


def test_checks_from_options_merges_cli_over_config(tmp_path: Path) -> None:
    p = tmp_path / "segeval.toml"
    p.write_text(GOOD_TOML)
    checks = checks_from_options(minimums=["dice=0.7"], maximums=["hd95:2=9"], stat="mean", config=p)
    by = {(c.kind, c.metric, c.label): c for c in checks}
    assert by[("min", "dice", None)].value == 0.7  # replaced
    assert by[("min", "dice", "liver")].value == 0.9  # kept
    assert by[("max", "hd95", 2)].value == 9.0  # added
    assert all(c.stat == "mean" for c in checks if c.kind != "max_drop")  # --stat overrides the file's median
    drop = by[("max_drop", "dice", None)]
    assert drop.baseline == tmp_path / "baseline" / "results.json" and drop.significant is True
    assert by[("min", "dice", "liver")].per_case is False


def test_checks_from_options_discovers_only_when_asked(tmp_path: Path) -> None:
    (tmp_path / "segeval.toml").write_text('[gate]\nmin = ["dice=0.8"]\n')
    assert checks_from_options(cwd=tmp_path) == []
    assert [c.value for c in checks_from_options(cwd=tmp_path, discover=True)] == [0.8]


def test_checks_from_options_score_style() -> None:
    checks = checks_from_options(minimums=["dice:liver=0.9"], config=None)
    assert checks == [Check("min", "dice", "liver", 0.9)] and checks[0].stat is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"max_drops": ["dice=0.1"]}, "--max-drop needs --baseline", id="drop-without-baseline"),
        pytest.param({"baseline": "old.json", "minimums": ["dice=0.1"]}, "--baseline: a baseline needs",
                     id="baseline-without-drop"),
        pytest.param({"significant": True, "minimums": ["dice=0.1"]}, "--significant applies",
                     id="significant-without-drop"),
        pytest.param({"stat": "avg"}, "--stat", id="bad-stat"),
        pytest.param({"minimums": ["dice"]}, "--fail-under dice: expected", id="fail-under-named"),
    ],
)
def test_checks_from_options_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(OptionError, match=match):
        checks_from_options(**kwargs)


def test_config_baseline_used_by_judge(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "old.json").write_text(to_json(dice_report([0.9] * 5)))
    (tmp_path / "segeval.toml").write_text('[gate]\nbaseline = "base/old.json"\nmax_drop = ["dice=0.01"]\n')
    checks = checks_from_options(config=tmp_path / "segeval.toml")
    res = judge(dice_report([0.8] * 5), checks)
    assert not res.passed and res.baseline == str(tmp_path / "base" / "old.json")


# --------------------------------------------------------------------------- renderings


@pytest.fixture
def mixed_result() -> GateResult:
    new = dice_report([0.8] * 12 + [0.5], [0.7] * 13)
    new.cases.append(CaseResult(case="case_broken", error="missing prediction"))
    old = dice_report([0.9] * 12 + [0.9, 0.9], [0.7] * 14)
    checks = [parse_check("dice=0.7"), parse_check("dice:liver=0.85"),
              parse_check("hd95:spleen=4", kind="max"), parse_check("dice:liver=0.01", kind="max_drop")]
    return judge(new, checks, baseline=old)


def test_gate_table_renders(mixed_result: GateResult) -> None:
    from rich.console import Console

    buf = io.StringIO()
    Console(file=buf, width=200, color_system=None).print(gate_table(mixed_result))
    text = buf.getvalue()
    for word in ("Metric", "Label", "Statistic", "Value", "Bar", "Result", "Change", "95% CI", "1 (liver)",
                 "macro", "PASS", "FAIL", "mean change", "case_broken: missing prediction",
                 "only in baseline", "gate FAILED: 2 of 4 checks"):
        assert word in text, word


def test_markdown(mixed_result: GateResult) -> None:
    md = gate_markdown(mixed_result)
    assert md.startswith("### segeval gate: ❌ failed (2 of 4 checks)")
    assert "| metric | label | statistic | value | bar | n | NaN | result | change | 95% CI | p |" in md
    assert md.count("❌ **fail**") == 2
    assert "case_broken" in md and "only in baseline" in md


def test_json_is_strict(mixed_result: GateResult) -> None:
    d = json.loads(gate_json(mixed_result))
    assert d["passed"] is False and d["n_failed_checks"] == 2 and len(d["checks"]) == 4
    assert d["failed_cases"] == [{"case": "case_broken", "error": "missing prediction"}]
    assert d["only_in_baseline"] == ["case_013"]
    drop = d["checks"][3]
    assert drop["kind"] == "max_drop" and drop["p_value"] is not None and drop["ci_low"] < drop["ci_high"]
    assert d["checks"][0]["change"] is None


def test_json_nan_is_null() -> None:
    res = judge(dice_report([0.9], [NAN]), [parse_check("dice:spleen=0.5")])
    d = json.loads(gate_json(res))
    assert d["checks"][0]["value"] is None


def test_junit_xml(mixed_result: GateResult) -> None:
    root = ET.fromstring(junit_xml(mixed_result))
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == 5  # 4 checks + the failed-case entry
    assert suite.get("tests") == "5" and suite.get("failures") == "2" and suite.get("errors") == "1"
    names = [c.get("name") for c in cases]
    assert names[:4] == ["dice mean >= 0.7", "dice:liver mean >= 0.85", "hd95:spleen mean <= 4",
                         "dice:liver drop <= 0.01 vs baseline"]
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["dice:liver mean >= 0.85", "dice:liver drop <= 0.01 vs baseline"]
    assert cases[4].find("error") is not None
    assert "case_broken" in (cases[4].find("error").text or "")  # type: ignore[union-attr]
    assert all(c.get("classname") == "segeval.gate" for c in cases)


def test_junit_all_pass_and_odd_characters() -> None:
    rep = make_report({"a<&>\x01": {1: {"dice": 0.9}}})
    res = judge(rep, [parse_check("dice:1=0.5")], per_case=True)
    root = ET.fromstring(junit_xml(res))
    assert root.get("failures") == "0" and root.get("errors") == "0"
    assert root.find("testsuite/testcase/failure") is None
