"""The notebook API: reports read back, frames long and wide, labelled metric values, logits."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import segeval
from segeval.errors import OptionError, ReportError
from segeval.report.writers import to_csv, to_json, to_jsonl

GT = np.array([[1, 1, 0, 3], [2, 2, 0, 3]])
PRED = np.array([[1, 0, 0, 3], [2, 2, 2, 0]])


@pytest.fixture
def report() -> segeval.Report:
    return segeval.score(PRED, GT, labels={"liver": 1, "spleen": 2, "kidney": 3}, metrics="dice,iou")


@pytest.mark.parametrize("writer", [to_json, to_jsonl, to_csv], ids=["json", "jsonl", "csv"])
def test_read_report_gives_back_the_report(tmp_path: Path, report: segeval.Report, writer) -> None:
    suffix = {"to_json": ".json", "to_jsonl": ".jsonl", "to_csv": ".csv"}[writer.__name__]
    path = tmp_path / f"r{suffix}"
    path.write_text(writer(report))
    back = segeval.read_report(path)
    assert isinstance(back, segeval.Report)
    pd.testing.assert_frame_equal(back.to_frame()[["case", "label", "name", "dice", "iou"]],
                                  report.to_frame()[["case", "label", "name", "dice", "iou"]])


def test_read_report_refuses_an_incomplete_report_unless_asked(tmp_path: Path, report: segeval.Report) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(to_jsonl(report).rsplit("\n", 2)[0] + "\n")  # the summary line cut off
    with pytest.raises(ReportError, match="incomplete .*allow_partial=True"):
        segeval.read_report(path)
    assert len(segeval.read_report(path, allow_partial=True).cases) == 1


def test_to_frame_has_a_case_column_even_for_one_case(report: segeval.Report) -> None:
    frame = report.to_frame()
    assert list(frame.columns[:3]) == ["case", "label", "name"] and set(frame["case"]) == {"case"}


def test_wide_frame_is_the_case_by_label_pivot(tmp_path: Path) -> None:
    gt2 = GT.copy()
    gt2[0, 3] = 0
    kw = {"labels": {"liver": 1, "spleen": 2, "kidney": 3}, "metrics": "dice"}
    first, second = segeval.score(PRED, GT, **kw), segeval.score(PRED, gt2, **kw)
    second.cases[0].case = "second"
    two = segeval.Report(settings=first.settings, cases=[*first.cases, *second.cases])
    wide = two.to_frame(wide=True)
    assert list(wide.index) == ["case", "second"]
    assert list(wide.columns) == [("dice", "liver"), ("dice", "spleen"), ("dice", "kidney")]
    long = two.to_frame()
    for _, row in long.iterrows():
        assert wide.loc[row["case"], ("dice", row["name"])] == pytest.approx(row["dice"])


def test_summary_frame_matches_the_summary(report: segeval.Report) -> None:
    frame = report.summary_frame()
    s = report.summary()
    liver = frame[(frame["label"] == 1) & (frame["metric"] == "dice")].iloc[0]
    assert liver["name"] == "liver" and liver["mean"] == pytest.approx(s["per_label"][0]["dice"]["mean"])
    macro = frame[(frame["label"] == "macro") & (frame["metric"] == "iou")].iloc[0]
    assert macro["mean"] == pytest.approx(s["macro"]["iou"])
    assert frame["label"].iloc[-1] == "generalized_dice"


def test_repr_html_is_the_summary_table(report: segeval.Report) -> None:
    html = report._repr_html_()
    assert html.startswith("<p><b>segeval report</b>: 1 case</p><table")
    assert "liver" in html and "generalized_dice" in html


def test_dice_can_return_a_labelled_series() -> None:
    values = segeval.dice(PRED, GT)
    series = segeval.dice(PRED, GT, return_labels=True)
    assert isinstance(series, pd.Series) and series.name == "dice" and series.index.name == "label"
    assert list(series.index) == [1, 2, 3]  # ascending, as the bare array is ordered
    np.testing.assert_allclose(series.to_numpy(), values)
    chosen = segeval.iou(PRED, GT, labels=[3, 1], return_labels=True)
    assert list(chosen.index) == [3, 1] and chosen[1] == pytest.approx(0.5)


def test_return_labels_is_for_label_maps() -> None:
    with pytest.raises(OptionError, match="return_labels applies to label maps"):
        segeval.dice(np.ones((2, 3)), np.ones((2, 3)), axis=0, return_labels=True)


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize(("layout", "axis", "class_axis"), [
    pytest.param("channels-last", (1, 2), 3, id="batch-x-y-class"),
    pytest.param("channels-first", (2, 3), 1, id="batch-class-x-y"),
])
def test_softmax_logits_equal_the_probabilities_they_stand_for(rng: np.random.Generator, layout: str,
                                                              axis: tuple[int, int], class_axis: int) -> None:
    shape = (2, 5, 4, 3) if layout == "channels-last" else (2, 3, 5, 4)
    logits = rng.normal(0, 3, shape)
    onehot = np.moveaxis(np.eye(3)[rng.integers(0, 3, (2, 5, 4))], 3, class_axis)
    probs = _softmax(logits, class_axis)
    for metric in (segeval.dice, segeval.iou, segeval.tversky):
        np.testing.assert_allclose(metric(logits, onehot, axis=axis, from_logits="softmax"),
                                   metric(probs, onehot, axis=axis), rtol=1e-12)


def test_sigmoid_logits_and_true_mean_the_same(rng: np.random.Generator) -> None:
    logits = rng.normal(0, 3, (2, 6, 2))
    gt = (rng.random((2, 6, 2)) > 0.5).astype(float)
    probs = 1 / (1 + np.exp(-logits))
    expected = segeval.dice(probs, gt, axis=1)
    np.testing.assert_allclose(segeval.dice(logits, gt, axis=1, from_logits="sigmoid"), expected, rtol=1e-12)
    np.testing.assert_allclose(segeval.dice(logits, gt, axis=1, from_logits=True), expected, rtol=1e-12)


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"axis": 1, "from_logits": "tanh"}, "expected 'sigmoid', 'softmax' or False"),
    ({"axis": (0, 1, 2), "from_logits": "softmax"}, "needs a class axis"),
    ({"from_logits": "softmax"}, "from_logits applies to soft inputs"),
])
def test_bad_logit_options(kwargs: dict, says: str) -> None:
    with pytest.raises(OptionError, match=says):
        segeval.dice(np.zeros((2, 3, 2)), np.zeros((2, 3, 2)), **kwargs)


def test_nan_logits_are_refused() -> None:
    from segeval.errors import InputError

    logits = np.array([[0.0, math.nan]])
    with pytest.raises(InputError, match="NaN or infinite"):
        segeval.dice(logits, np.ones((1, 2)), axis=1, from_logits="softmax")


def test_label_names_may_be_a_dataset_json_path(tmp_path: Path) -> None:
    (tmp_path / "dataset.json").write_text('{"labels": {"background": 0, "liver": 1, "spleen": 2, "kidney": 3}}')
    r = segeval.score(PRED, GT, label_names=tmp_path / "dataset.json")
    assert list(r.to_frame()["name"]) == ["liver", "spleen", "kidney"]
