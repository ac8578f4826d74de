"""From reports to values: labels and macro, the missing rules, worst values, infinite distances, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from segeval.errors import OptionError
from segeval.ranking.table import parse_metric, value_table
from tests.ranking._data import submission


def two_labels(dice1: float, dice2: float, hd1: float, hd2: float) -> list[dict[str, object]]:
    return [{"label": 1, "name": "liver", "dice": dice1, "hd95": hd1},
            {"label": 2, "name": "spleen", "dice": dice2, "hd95": hd2}]


SUBS = {
    "a": submission({"c1": two_labels(0.9, 0.7, 2.0, 4.0), "c2": two_labels(0.8, math.nan, 3.0, math.nan),
                     "c3": two_labels(0.6, 0.4, 5.0, math.inf)}),
    "b": submission({"c1": two_labels(0.5, 0.5, 6.0, 8.0), "c2": None,
                     "c3": two_labels(0.7, 0.9, 1.0, 2.0)}),
}


@pytest.mark.parametrize(
    ("text", "key", "label", "direction"),
    [
        pytest.param("dice", "dice", None, "higher", id="macro"),
        pytest.param("hd95:2", "hd95:2", 2, "lower", id="label-number"),
        pytest.param("NSD:liver", "nsd:liver", "liver", "higher", id="label-name"),
        pytest.param("generalized_dice", "generalized_dice", None, "higher", id="case-value"),
    ],
)
def test_parse_metric(text: str, key: str, label: object, direction: str) -> None:
    choice = parse_metric(text)
    assert (choice.key, choice.label, choice.direction) == (key, label, direction)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("dcie", "did you mean 'dice'", id="typo"),
        pytest.param("tp", "not a quality measure", id="count"),
        pytest.param("vol_gt_ml", "not a quality measure", id="volume"),
        pytest.param("dice:", "no label after ':'", id="empty-label"),
        pytest.param("all", "one metric per --metric", id="all"),
        pytest.param("dice,iou", "one metric per --metric", id="list"),
        pytest.param("generalized_dice:1", "give no label", id="case-value-label"),
    ],
)
def test_parse_metric_errors(text: str, message: str) -> None:
    with pytest.raises(OptionError, match=message) as info:
        parse_metric(text)
    assert str(info.value).startswith(f"--metric {text}:") and "\n" not in str(info.value)


def test_macro_label_and_the_worst_rule() -> None:
    table = value_table(SUBS, [parse_metric("dice"), parse_metric("dice:spleen"), parse_metric("hd95:1")])
    assert table.cases == ["c1", "c2", "c3"]
    # macro: c1 (0.9 + 0.7) / 2; c2 only liver (spleen NaN); b misses c2: worst 0.
    np.testing.assert_allclose(table.values[0], [[0.8, 0.8, 0.5], [0.5, 0.0, 0.8]])
    # spleen alone: a's NaN on c2 is missing too (0), b's absent c2 as well.
    np.testing.assert_allclose(table.values[1], [[0.7, 0.0, 0.4], [0.5, 0.0, 0.9]])
    # hd95 of liver: the worst distance is the largest finite liver hd95 seen, 6.0.
    assert table.worst == {"dice": 0.0, "dice:spleen": 0.0, "hd95:1": 6.0}
    np.testing.assert_allclose(table.values[2], [[2.0, 3.0, 5.0], [6.0, 6.0, 1.0]])
    assert table.missing.tolist() == [[0, 1], [1, 1], [0, 1]]
    assert any("worst value" in n for n in table.notes)


def test_infinite_distances_take_the_worst_distance_before_the_macro() -> None:
    table = value_table(SUBS, [parse_metric("hd95")])
    # Largest finite per-label hd95 seen: 8.0. a on c3: liver 5, spleen inf -> 8: (5 + 8) / 2.
    assert table.worst == {"hd95": 8.0}
    np.testing.assert_allclose(table.values[0], [[3.0, 3.0, 6.5], [7.0, 8.0, 1.5]])
    assert table.n_inf.tolist() == [[1, 0]]
    assert any("1 infinite distance" in n for n in table.notes)
    given = value_table(SUBS, [parse_metric("hd95")], worst_distance=100.0)
    np.testing.assert_allclose(given.values[0], [[3.0, 3.0, 52.5], [7.0, 100.0, 1.5]])


def test_skip_keeps_only_the_cases_every_submission_has() -> None:
    table = value_table(SUBS, [parse_metric("dice")], missing="skip")
    assert table.cases == ["c1", "c3"] and table.dropped == ["c2"]
    np.testing.assert_allclose(table.values[0], [[0.8, 0.5], [0.5, 0.8]])
    assert table.missing.tolist() == [[0, 1]]


def test_failed_cases_are_missing() -> None:
    subs = {"a": submission({"c1": 0.9, "c2": 0.8}), "b": submission({"c1": 0.7, "c2": 0.6}, failed=["c2"])}
    worst = value_table(subs, [parse_metric("dice")])
    np.testing.assert_allclose(worst.values[0], [[0.9, 0.8], [0.7, 0.0]])
    skip = value_table(subs, [parse_metric("dice")], missing="skip")
    assert skip.cases == ["c1"]


def test_a_case_nobody_scored_is_left_out() -> None:
    subs = {"a": submission({"c1": 0.9, "c2": math.nan}), "b": submission({"c1": 0.7}, failed=["c2"])}
    table = value_table(subs, [parse_metric("dice")])
    assert table.cases == ["c1"] and table.dropped == ["c2"]
    assert any("scored by no submission" in n for n in table.notes)


@pytest.mark.parametrize(
    ("subs", "kwargs", "message"),
    [
        pytest.param({"a": submission([0.5])}, {}, "two submissions' reports or more", id="one-submission"),
        pytest.param(SUBS, {"metrics": ["nsd"]}, "submission a holds no nsd values", id="metric-not-held"),
        pytest.param(SUBS, {"metrics": ["dice:7"]}, "no label 7; its labels are liver, spleen", id="no-label"),
        pytest.param(SUBS, {"metrics": ["dice", "dice"]}, "dice is given twice", id="twice"),
        pytest.param(SUBS, {"missing": "zero"}, "--missing: expected one of worst, skip", id="rule"),
        pytest.param(SUBS, {"worst_distance": -1.0}, "--worst-distance", id="negative-distance"),
        pytest.param({"a": submission({"c1": 0.5}), "b": submission({"c2": 0.5})}, {"missing": "skip"},
                     "no case is held by every submission", id="nothing-in-common"),
    ],
)
def test_errors_are_one_line_naming_the_option(subs: dict[str, object], kwargs: dict[str, object],
                                               message: str) -> None:
    metrics = [parse_metric(m) for m in kwargs.pop("metrics", ["dice"])]  # type: ignore[attr-defined]
    with pytest.raises(OptionError, match=message) as info:
        value_table(subs, metrics, **kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)
