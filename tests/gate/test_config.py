"""segeval.gate.config: segeval.toml and [tool.segeval.gate], and command-line checks over them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from segeval.errors import ConfigError, OptionError
from segeval.gate import Check, checks_from_options, find_config, judge, read_config
from segeval.report.writers import to_json
from tests.gate._data import dice_report

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
