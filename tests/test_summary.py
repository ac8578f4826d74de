"""segeval.summary: statistics over cases (describe, per-label statistics, macro and micro averages),
worst cases, and the Report's strict-JSON dict."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import segeval
from segeval import CaseResult, Report
from segeval.records import jsonable
from segeval.summary import STATS, describe, summarize, worst_cases
from tests.test_records import _report_with_specials

nan = math.nan


@pytest.mark.parametrize(
    "values, expected",
    [
        pytest.param([1.0, 3.0, nan], {"mean": 2.0, "std": 1.0, "median": 2.0, "min": 1.0, "max": 3.0,
                                       "n": 2, "n_nan": 1}, id="nan-excluded-and-counted"),
        pytest.param([0.5], {"mean": 0.5, "std": 0.0, "median": 0.5, "min": 0.5, "max": 0.5, "n": 1, "n_nan": 0},
                     id="single"),
        pytest.param([0.0, 1.0, 0.25, 0.5], {"mean": 0.4375, "std": math.sqrt(0.546875 / 4), "median": 0.375,
                                             "min": 0.0, "max": 1.0, "n": 4, "n_nan": 0}, id="population-std"),
        pytest.param([nan, nan], {"mean": nan, "std": nan, "median": nan, "min": nan, "max": nan, "n": 0,
                                  "n_nan": 2}, id="all-nan"),
        pytest.param([], {"mean": nan, "std": nan, "median": nan, "min": nan, "max": nan, "n": 0, "n_nan": 0},
                     id="empty"),
        pytest.param([1.0, math.inf], {"mean": math.inf, "std": nan, "median": math.inf, "min": 1.0,
                                       "max": math.inf, "n": 2, "n_nan": 0}, id="inf-distance-no-warning"),
    ],
)
def test_describe(values: list, expected: dict) -> None:
    got = describe(values)
    assert list(got) == list(STATS)
    for key, want in expected.items():
        np.testing.assert_allclose(got[key], want, rtol=1e-12, err_msg=key)
    assert isinstance(got["n"], int) and isinstance(got["n_nan"], int)


def _rec(label: object, dice: float, tp: int, fp: int, fn: int, tn: int, **extra: object) -> dict:
    return {"label": label, "name": extra.pop("name", None), "dice": dice, "tp": tp, "fp": fp, "fn": fn,
            "tn": tn, **extra}


@pytest.fixture
def cases() -> list[CaseResult]:
    a = CaseResult(case="a", labels=[
        _rec(1, 0.8, 8, 4, 0, 20, name="liver"),
        _rec(2, 0.0, 0, 4, 4, 24),
        _rec("WT", 0.5, 8, 8, 4, 12, members=[1, 2]),
    ], generalized_dice=0.4)
    b = CaseResult(case="b", labels=[
        _rec(0, 0.9, 20, 2, 2, 8),
        _rec(1, nan, 0, 0, 0, 32, name="liver"),
        _rec(2, 1.0, 4, 0, 0, 28),
    ], generalized_dice=0.6)
    failed = CaseResult(case="c", error="cannot read c.nii.gz")
    return [a, b, failed]


def test_per_label_statistics(cases: list[CaseResult]) -> None:
    s = summarize(cases, ["dice"])
    assert (s["n_cases"], s["n_failed"]) == (3, 1)
    per = {e["label"]: e for e in s["per_label"]}
    assert [e["label"] for e in s["per_label"]] == [1, 2, "WT", 0]  # first-seen order
    assert per[1]["name"] == "liver"
    assert per[1]["dice"] == {"mean": 0.8, "std": 0.0, "median": 0.8, "min": 0.8, "max": 0.8, "n": 1, "n_nan": 1}
    assert per[2]["dice"]["mean"] == 0.5 and per[2]["dice"]["std"] == 0.5 and per[2]["dice"]["n"] == 2
    assert per["WT"]["dice"]["mean"] == 0.5
    assert s["generalized_dice"]["mean"] == pytest.approx(0.5) and s["generalized_dice"]["n"] == 2


def test_macro_is_the_mean_of_label_means_without_nan() -> None:
    a = CaseResult(case="a", labels=[_rec(1, 0.8, 8, 4, 0, 20), _rec(2, 0.2, 1, 4, 4, 24), _rec(3, nan, 0, 0, 0, 9)])
    b = CaseResult(case="b", labels=[_rec(1, 0.6, 8, 4, 0, 20), _rec(2, nan, 0, 0, 0, 9), _rec(3, nan, 0, 0, 0, 9)])
    s = summarize([a, b], ["dice"])
    # label means: 1 -> 0.7, 2 -> 0.2, 3 -> NaN (excluded)
    assert s["macro"]["dice"] == pytest.approx((0.7 + 0.2) / 2)
    everything_nan = summarize([CaseResult(case="x", labels=[_rec(1, nan, 0, 0, 0, 4)])], ["dice"])
    assert math.isnan(everything_nan["macro"]["dice"])


def test_micro_pools_counts_over_plain_labels_and_cases(cases: list[CaseResult]) -> None:
    s = summarize(cases, ["dice"])
    # Plain labels 1 and 2 of cases a and b (background 0, region WT and the failed case left out).
    tp, fp, fn, tn = 8 + 0 + 0 + 4, 4 + 4 + 0 + 0, 0 + 4 + 0 + 0, 20 + 24 + 32 + 28
    micro = s["micro"]
    assert micro["dice"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert micro["iou"] == pytest.approx(tp / (tp + fp + fn))
    assert micro["tversky"] == pytest.approx(tp / (tp + 0.3 * fp + 0.7 * fn))
    assert micro["precision"] == pytest.approx(tp / (tp + fp))
    assert micro["recall"] == pytest.approx(tp / (tp + fn))
    assert micro["specificity"] == pytest.approx(tn / (tn + fp))
    assert micro["volume_similarity"] == pytest.approx(1 - abs(fp - fn) / (2 * tp + fp + fn))
    # Tversky weights are those given (alpha on FP).
    s10 = summarize(cases, ["dice"], alpha=1.0, beta=0.0)
    assert s10["micro"]["tversky"] == pytest.approx(tp / (tp + fp))


def test_micro_with_no_counts_is_nan() -> None:
    s = summarize([CaseResult(case="a", labels=[_rec("WT", 0.5, 1, 1, 1, 1)])], ["dice"])
    assert math.isnan(s["micro"]["dice"])


def test_report_summary_uses_the_report_settings() -> None:
    gt = np.zeros((4, 6), np.uint8)
    gt[:2, :3] = 1
    gt[2:, 3:] = 2
    pred = np.zeros((4, 6), np.uint8)
    pred[:2, :2] = 1
    pred[2:, 2:] = 2
    report = segeval.score(pred, gt, alpha=0.9, beta=0.1)
    s = report.summary()
    recs = report.cases[0].labels
    tp = sum(r["tp"] for r in recs)
    fp = sum(r["fp"] for r in recs)
    fn = sum(r["fn"] for r in recs)
    assert s["micro"]["tversky"] == pytest.approx(tp / (tp + 0.9 * fp + 0.1 * fn))
    assert s["macro"]["dice"] == pytest.approx(np.mean([r["dice"] for r in recs]))
    assert s["generalized_dice"]["mean"] == pytest.approx(report.cases[0].generalized_dice)
    assert Report(settings=report.settings, cases=[]).summary()["n_cases"] == 0


def test_worst_cases_by_macro_dice() -> None:
    def case(name: str, *dice: float) -> CaseResult:
        return CaseResult(case=name, labels=[{"label": i + 1, "dice": d} for i, d in enumerate(dice)])

    cases = [case("a", 0.9, 0.7), case("b", 0.5), case("c", float("nan")), case("d", 0.8),
             CaseResult(case="e", error="failed"), case("f", 0.6, 1.0)]
    assert [(c.case, v) for c, v in worst_cases(cases, n=3)] == [("b", 0.5), ("a", 0.8), ("d", 0.8)]


def test_to_dict_is_strict_json_with_null_and_inf_strings() -> None:
    report = _report_with_specials()
    d = report.to_dict()
    text = json.dumps(d, allow_nan=False)  # raises on NaN/inf
    back = json.loads(text)
    rec = back["cases"][0]["labels"][0]
    assert rec["dice"] is None and rec["hd95"] == "inf" and rec["name"] is None
    assert back["cases"][0]["generalized_dice"] is None
    assert set(back) == {"segeval_version", "report_format", "settings", "cases", "summary"}
    assert back["segeval_version"] == segeval.__version__
    assert jsonable([math.nan, -math.inf, np.float32(2.5), np.int64(3)]) == [None, "-inf", 2.5, 3]
