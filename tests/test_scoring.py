"""segeval.score and the report model: label selection, names, regions, background,
absent labels, the DataFrame and strict-JSON shapes, and option checks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import segeval
from segeval import CaseResult, LabelVolume, Report, ScoreSettings
from segeval.errors import (
    GeometryMismatchError,
    InputError,
    OptionError,
    SegevalError,
    UnknownMetricError,
)
from segeval.labels import LabelSpec
from segeval.metrics.overlap import OVERLAP_METRICS
from segeval.metrics.registry import COUNT_COLUMNS
from segeval.records import jsonable
from segeval.scoring import score_case

COLUMNS = ["label", "name", *OVERLAP_METRICS, "tp", "fp", "fn", "tn", "vol_pred_ml", "vol_gt_ml"]


@pytest.fixture
def pair() -> tuple[np.ndarray, np.ndarray]:
    """4 x 4 x 2 volumes: label 1 over-segmented, label 2 shifted, label 3 only in pred."""
    gt = np.zeros((4, 4, 2), np.uint8)
    gt[:2, :2] = 1
    gt[2:, 2:, 0] = 2
    pred = np.zeros((4, 4, 2), np.uint8)
    pred[:2, :3] = 1
    pred[2:, 2:, 1] = 2
    pred[3, 0, 0] = 3
    return pred, gt


def labels_of(report: Report) -> list[object]:
    return [r["label"] for r in report.cases[0].labels]


def test_default_scores_every_foreground_label_present(pair: tuple) -> None:
    pred, gt = pair
    report = segeval.score(pred, gt)
    assert labels_of(report) == [1, 2, 3]
    one, two, three = report.cases[0].labels
    assert (one["tp"], one["fp"], one["fn"]) == (8, 4, 0)
    assert one["dice"] == pytest.approx(16 / 20)
    assert (two["tp"], two["fp"], two["fn"], two["dice"]) == (0, 4, 4, 0.0)
    assert (three["tp"], three["fp"], three["fn"], three["dice"]) == (0, 1, 0, 0.0)
    assert all(r["tp"] + r["fp"] + r["fn"] + r["tn"] == 32 for r in report.cases[0].labels)
    assert report.cases[0].case == "case" and report.cases[0].shape == [4, 4, 2]


def test_labels_as_a_list_keep_their_order_and_take_names(pair: tuple) -> None:
    pred, gt = pair
    report = segeval.score(pred, gt, labels=[2, 1], label_names={1: "liver", 2: "spleen"})
    assert labels_of(report) == [2, 1]
    assert [r["name"] for r in report.cases[0].labels] == ["spleen", "liver"]


def test_labels_as_a_mapping_give_names(pair: tuple) -> None:
    pred, gt = pair
    report = segeval.score(pred, gt, labels={"liver": 1, "kidney": 3})
    assert labels_of(report) == [1, 3]
    assert [r["name"] for r in report.cases[0].labels] == ["liver", "kidney"]
    assert report.settings["labels"] == [1, 3]
    assert report.settings["label_names"] == {"1": "liver", "3": "kidney"}


def test_regions_come_after_the_labels(pair: tuple) -> None:
    pred, gt = pair
    report = segeval.score(pred, gt, labels=[1], regions={"fg": [1, 2, 3], "two_three": [2, 3]})
    assert labels_of(report) == [1, "fg", "two_three"]
    fg = report.cases[0].labels[1]
    assert fg["name"] == "fg" and fg["members"] == [1, 2, 3]
    fg_mask_dice = segeval.dice(pred > 0, gt > 0)[0]
    assert fg["dice"] == pytest.approx(fg_mask_dice)
    assert report.settings["regions"] == {"fg": [1, 2, 3], "two_three": [2, 3]}
    # The case's generalized Dice is over plain labels only.
    assert report.cases[0].generalized_dice == pytest.approx(float(segeval.generalized_dice(pred, gt, labels=[1])))


def test_include_background(pair: tuple) -> None:
    pred, gt = pair
    report = segeval.score(pred, gt, include_background=True)
    assert labels_of(report) == [0, 1, 2, 3]
    bg = report.cases[0].labels[0]
    want = segeval.dice(pred, gt, labels=[0])[0]
    assert bg["dice"] == pytest.approx(want)
    assert labels_of(segeval.score(pred, gt, labels=[2], include_background=True)) == [0, 2]


@pytest.mark.parametrize("empty, value", [pytest.param("nan", math.nan, id="nan"),
                                          pytest.param("one", 1.0, id="one"),
                                          pytest.param("zero", 0.0, id="zero")])
def test_label_asked_for_and_absent_from_both_is_reported(pair: tuple, empty: str, value: float) -> None:
    pred, gt = pair
    report = segeval.score(pred, gt, labels=[1, 7], empty=empty)
    assert labels_of(report) == [1, 7]
    seven = report.cases[0].labels[1]
    assert (seven["tp"], seven["fp"], seven["fn"], seven["tn"]) == (0, 0, 0, 32)
    assert (seven["vol_pred_ml"], seven["vol_gt_ml"]) == (0.0, 0.0)
    for m in ("dice", "iou", "tversky", "precision", "recall", "volume_similarity"):
        np.testing.assert_equal(seven[m], value, err_msg=m)
    frame = report.to_frame()
    assert list(frame["label"]) == [1, 7]


def test_ignore_label_and_spacing(pair: tuple) -> None:
    pred, gt = pair
    gt = gt.copy()
    gt[3, 0, 0] = 99  # under pred's label 3
    report = segeval.score(pred, gt, ignore_label=99, spacing_mm=(2.0, 2.0, 2.0))
    assert labels_of(report) == [1, 2]  # 3 was only predicted on ignored voxels
    one = report.cases[0].labels[0]
    assert one["tn"] == 31 - 12
    assert one["vol_pred_ml"] == pytest.approx(12 * 0.008)
    assert one["vol_gt_ml"] == pytest.approx(8 * 0.008)
    assert report.settings["ignore_label"] == 99 and report.settings["spacing_mm"] == [2.0, 2.0, 2.0]
    assert report.cases[0].spacing == [2.0, 2.0, 2.0] and report.cases[0].notes == []


def test_arrays_without_spacing_get_a_note(pair: tuple) -> None:
    pred, gt = pair
    case = segeval.score(pred, gt).cases[0]
    assert case.spacing == [1.0, 1.0, 1.0]
    assert any("spacing" in n for n in case.notes)


def test_metrics_subset_and_columns(pair: tuple) -> None:
    pred, gt = pair
    report = segeval.score(pred, gt, metrics="iou,dice")
    assert report.metrics == ["dice", "iou"]  # registry order
    rec = report.cases[0].labels[0]
    assert "tversky" not in rec and {"tp", "fp", "fn", "tn", "vol_pred_ml", "vol_gt_ml"} <= set(rec)
    assert list(report.to_frame().columns) == ["case", "label", "name", "dice", "iou", *COUNT_COLUMNS]


def test_to_frame(pair: tuple) -> None:
    pred, gt = pair
    report = segeval.score(pred, gt, labels={"liver": 1, "spleen": 2})
    frame = report.to_frame()
    assert list(frame.columns) == ["case", *COLUMNS]  # a case column even for one case
    assert len(frame) == 2
    assert list(frame["name"]) == ["liver", "spleen"]
    for (_, row), rec in zip(frame.iterrows(), report.cases[0].labels):
        for col in COLUMNS[2:]:
            assert row[col] == pytest.approx(rec[col])
    two = Report(settings=report.settings, cases=[report.cases[0], CaseResult(case="b", labels=[])])
    assert list(two.to_frame().columns) == ["case", *COLUMNS]


def test_scored_report_round_trips(pair: tuple) -> None:
    pred, gt = pair
    report = segeval.score(pred, gt, labels=[1, 7], regions={"fg": [1, 2, 3]})
    d = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    back = CaseResult.from_dict(d["cases"][0])
    assert jsonable(back.to_dict()) == jsonable(report.cases[0].to_dict())
    assert d["settings"]["alpha"] == 0.3 and d["settings"]["beta"] == 0.7
    assert d["settings"]["empty"] == "nan" and d["settings"]["smooth"] == 0.0
    assert d["summary"]["n_cases"] == 1


def test_score_case_on_label_volumes(pair: tuple) -> None:
    pred, gt = pair
    result = score_case(
        LabelVolume(pred, (1.0, 2.0, 5.0)), LabelVolume(gt, (1.0, 2.0, 5.0)),
        ScoreSettings(spec=LabelSpec(labels=(1,)), metrics=("dice",)), case="abc",
    )
    assert result.case == "abc" and result.spacing == [1.0, 2.0, 5.0]
    assert result.labels[0]["vol_gt_ml"] == pytest.approx(8 * 0.01)


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        pytest.param({"alpha": -0.3}, OptionError, "alpha", id="negative-alpha"),
        pytest.param({"beta": math.nan}, OptionError, "beta", id="nan-beta"),
        pytest.param({"smooth": -1.0}, OptionError, "smooth", id="negative-smooth"),
        pytest.param({"empty": "maybe"}, OptionError, "empty", id="empty-maybe"),
        pytest.param({"tolerance_mm": -1.0}, OptionError, "tolerance", id="negative-tolerance"),
        pytest.param({"percentile": 0.0}, OptionError, "percentile", id="percentile-0"),
        pytest.param({"percentile": 101.0}, OptionError, "percentile", id="percentile-101"),
        pytest.param({"spacing_mm": (1.0, 0.0, 1.0)}, OptionError, "spacing", id="zero-spacing"),
        pytest.param({"spacing_mm": (1.0, 1.0)}, OptionError, "spacing", id="spacing-wrong-length"),
        pytest.param({"inf_distance": "far"}, OptionError, "inf-distance", id="bad-inf-distance"),
        pytest.param({"metrics": "dice,foo"}, UnknownMetricError, "foo", id="unknown-metric"),
    ],
)
def test_bad_options(pair: tuple, kwargs: dict, error: type, match: str) -> None:
    pred, gt = pair
    with pytest.raises(error, match=match) as info:
        segeval.score(pred, gt, **kwargs)
    assert isinstance(info.value, SegevalError) and "\n" not in str(info.value)


def test_score_settings_validate_on_construction() -> None:
    with pytest.raises(OptionError, match="alpha"):
        ScoreSettings(alpha=-1.0)
    with pytest.raises(OptionError, match="smooth"):
        ScoreSettings(smooth=math.inf)


@pytest.mark.parametrize(
    "pred, gt, error",
    [
        pytest.param(np.zeros((3, 4), np.uint8), np.zeros((4, 3), np.uint8), GeometryMismatchError,
                     id="shapes-differ"),
        pytest.param(np.full((2, 2), 0.5), np.zeros((2, 2)), InputError, id="fractional"),
        pytest.param(np.zeros((2, 2), complex), np.zeros((2, 2)), InputError, id="complex"),
        pytest.param(np.arange(3), np.arange(3), InputError, id="1-d"),
    ],
)
def test_bad_arrays(pred: np.ndarray, gt: np.ndarray, error: type) -> None:
    with pytest.raises(error) as info:
        segeval.score(pred, gt)
    assert "\n" not in str(info.value)
