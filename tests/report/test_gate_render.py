"""segeval.report.gate_render: the gate's table, Markdown, JSON and JUnit XML."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

import pytest

from segeval.gate import GateResult, judge, parse_check
from segeval.records import CaseResult
from segeval.report.gate_render import gate_json, gate_markdown, gate_table, junit_xml
from tests.gate._data import NAN, dice_report, make_report


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
