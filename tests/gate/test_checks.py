"""segeval.gate.checks: parsing bars (METRIC[:LABEL]=VALUE) and statistics names."""

from __future__ import annotations

from typing import Any

import pytest

from segeval.errors import OptionError, UnknownMetricError
from segeval.gate import parse_check, parse_stat


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
