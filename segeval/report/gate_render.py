"""Renderings of a :class:`segeval.gate.GateResult`: rich table, Markdown, JSON, JUnit XML.

Built here, printed or written only by the CLI. The Markdown table is what
``segeval gate`` appends to ``$GITHUB_STEP_SUMMARY``; the JUnit XML has one
test case per check, so CI dashboards (GitHub, GitLab, Jenkins) list them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

from segeval.gate import CheckResult, GateResult, plural
from segeval.metrics.registry import METRICS
from segeval.records import jsonable
from segeval.report.numbers import fmt_bar, fmt_p, fmt_reason, metric_decimals

# Failing cases shown per check in the table and Markdown (all of them in JSON and JUnit).
MAX_LISTED = 10


def _num(v: float | None, metric: str = "", *, signed: bool = False) -> str:
    if v is None:
        return ""
    spec = METRICS.get(metric)
    return fmt_reason(v, signed=signed, decimals=metric_decimals(spec.unit if spec is not None else ""))


def _bar(c: CheckResult) -> str:
    b = fmt_bar(c.bar)
    if c.check.kind == "min":
        return f">= {b}"
    if c.check.kind == "max":
        return f"<= {b}"
    better = c.check.metric not in METRICS or METRICS[c.check.metric].higher_is_better
    return f"change >= -{b}" if better else f"change <= +{b}"


def _ci(c: CheckResult) -> str:
    if c.ci_low is None or c.ci_high is None:
        return ""
    if math.isnan(c.ci_low) or math.isnan(c.ci_high):
        return "n/a"
    m = c.check.metric
    return f"[{_num(c.ci_low, m, signed=True)}, {_num(c.ci_high, m, signed=True)}]"


def _value(c: CheckResult) -> str:
    text = _num(c.value, c.check.metric)
    if c.baseline_value is not None:
        text += f" (was {_num(c.baseline_value, c.check.metric)})"
    return text


def _has_drop(result: GateResult) -> bool:
    return any(c.check.kind == "max_drop" for c in result.checks)


def _listed(c: CheckResult, limit: int | None = MAX_LISTED) -> str:
    items = list(zip(c.failing_cases, c.failing_values))
    shown = items if limit is None else items[:limit]
    signed = c.check.kind == "max_drop"
    text = ", ".join(
        f"{k} (failed)" if math.isnan(v) else f"{k} ({_num(v, c.check.metric, signed=signed)})" for k, v in shown
    )
    if len(items) > len(shown):
        text += f", ... and {len(items) - len(shown)} more"
    return text


def result_text(c: CheckResult) -> str:
    """``PASS``, ``FAIL``, or ``PASS (not significant, p=0.41)`` for a drop past the bar that chance explains."""
    if c.not_significant:
        return f"PASS (not significant, p={fmt_p(c.p_value)})"
    return "PASS" if c.passed else "FAIL"


def verdict(result: GateResult) -> str:
    """The headline: ``passed``, ``passed, 3 cases not scored (exit 3)`` or ``FAILED``."""
    if not result.passed:
        return "FAILED"
    if result.failed_cases:
        return f"passed, {plural(len(result.failed_cases), 'case')} not scored (exit 3)"
    return "passed"


def footer_lines(result: GateResult) -> list[str]:
    """Plain-text lines under the table: failures with their reasons and cases, unmatched cases, verdict."""
    lines = []
    for c in result.checks:
        if not c.passed:
            lines.append(f"FAIL {c.title}: {c.reason}")
            if c.failing_cases:
                head = "cases that dropped most" if c.check.kind == "max_drop" else "failing cases"
                lines.append(f"  {head}: {_listed(c)}")
    if result.failed_cases:
        shown = "; ".join(f"{k}: {e}" for k, e in result.failed_cases[:MAX_LISTED])
        more = f"; ... and {len(result.failed_cases) - MAX_LISTED} more" if len(result.failed_cases) > MAX_LISTED else ""
        lines.append(f"{len(result.failed_cases)} of {plural(result.n_cases, 'case')} failed to score: {shown}{more}")
    if result.baseline is not None and (result.only_in_report or result.only_in_baseline):
        lines.append(_unmatched(result))
    total = len(result.checks)
    if result.passed:
        lines.append(f"gate {verdict(result)}: {total} of {total} checks on {result.report}")
    else:
        lines.append(f"gate FAILED: {result.n_failed} of {total} checks on {result.report}")
    return lines


def _unmatched(result: GateResult, limit: int = MAX_LISTED) -> str:
    def names(ids: Sequence[str]) -> str:
        text = ", ".join(ids[:limit])
        return text + (f", ... and {len(ids) - limit} more" if len(ids) > limit else "")

    parts = []
    if result.only_in_report:
        parts.append(f"{len(result.only_in_report)} only in {result.report} ({names(result.only_in_report)})")
    if result.only_in_baseline:
        parts.append(f"{len(result.only_in_baseline)} only in baseline {result.baseline} "
                     f"({names(result.only_in_baseline)})")
    return "unmatched cases, not compared: " + "; ".join(parts)


def gate_table(result: GateResult, width: int | None = None) -> Any:
    """A rich renderable: the table of checks, then failures, unmatched cases and the verdict.

    ``width`` is the terminal's: a table wider than that is folded into blocks
    that repeat Metric, Label and Statistic, never cut; None (a file or a
    pipe): one table, as wide as its content.
    """
    from rich.console import Group
    from rich.text import Text

    from segeval.report.fitting import Column, fitted_tables

    drop = _has_drop(result)
    heads = [("Metric", "left", True), ("Label", "left", True), ("Statistic", "left", True), ("Value", "right", False),
             ("Bar", "left", False), ("n", "right", False), ("NaN", "right", False), ("Result", "left", False)]
    if drop:
        heads += [("Change", "right", False), ("95% CI", "left", False), ("p", "right", False)]
    columns = [Column(name, [], justify=justify, key=key, fold=name == "Label")  # type: ignore[arg-type]
               for name, justify, key in heads]
    for c in result.checks:
        row: list[Any] = [
            c.check.metric, c.label_text, c.stat, _value(c), _bar(c), str(c.n), str(c.n_nan),
            Text(result_text(c), style="bold green" if c.passed else "bold red"),
        ]
        if drop:
            row += [_num(c.change, c.check.metric, signed=True) if c.change is not None else "", _ci(c),
                    fmt_p(c.p_value)]
        for column, cell in zip(columns, row):
            column.cells.append(cell)
    title = f"segeval gate: {result.report} ({plural(result.n_cases, 'case')})"
    tables = fitted_tables(columns, width=width, title=title)

    def style(line: str) -> str:
        if line.startswith("gate passed,"):
            return "bold yellow"
        if line.startswith("gate passed"):
            return "bold green"
        return "bold red" if line.startswith(("gate FAILED", "FAIL")) else ""

    lines = [Text(line, style=style(line)) for line in footer_lines(result)]
    return Group(*tables, Text(""), *lines)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def gate_markdown(result: GateResult) -> str:
    """GitHub-flavoured Markdown: a verdict heading, the table of checks, failures and notes."""
    total = len(result.checks)
    if not result.passed:
        head = f"### segeval gate: ❌ failed ({result.n_failed} of {total} checks)"
    elif result.failed_cases:  # the step fails with exit 3: the heading must not say all is well
        head = f"### segeval gate: ⚠️ {verdict(result)}, {total} of {total} checks"
    else:
        head = f"### segeval gate: ✅ passed ({total} of {total} checks)"
    out = [head, "", f"Report `{result.report}`: {result.n_cases} cases"
           + (f", {len(result.failed_cases)} failed to score" if result.failed_cases else "")
           + (f"; baseline `{result.baseline}`" if result.baseline else ""), ""]
    drop = _has_drop(result)
    header = ["metric", "label", "statistic", "value", "bar", "n", "NaN", "result"]
    if drop:
        header += ["change", "95% CI", "p"]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "|".join(" --- " for _ in header) + "|")
    for c in result.checks:
        row = [c.check.metric, c.label_text, c.stat, _value(c), _bar(c), str(c.n), str(c.n_nan),
               ("✅ pass (not significant, p=" + fmt_p(c.p_value) + ")" if c.not_significant else "✅ pass")
               if c.passed else "❌ **fail**"]
        if drop:
            row += [_num(c.change, c.check.metric, signed=True) if c.change is not None else "", _ci(c),
                    fmt_p(c.p_value)]
        out.append("| " + " | ".join(_md_escape(x) for x in row) + " |")
    notes = []
    for c in result.checks:
        if not c.passed:
            notes.append(f"- **{_md_escape(c.title)}**: {_md_escape(c.reason)}")
            if c.failing_cases:
                notes.append(f"  - cases: {_md_escape(_listed(c))}")
    if result.failed_cases:
        shown = "; ".join(f"`{k}`: {e}" for k, e in result.failed_cases[:MAX_LISTED])
        notes.append(f"- {plural(len(result.failed_cases), 'case')} failed to score: {_md_escape(shown)}")
    if result.baseline is not None and (result.only_in_report or result.only_in_baseline):
        notes.append(f"- {_md_escape(_unmatched(result))}")
    if notes:
        out += ["", *notes]
    return "\n".join(out) + "\n"


def gate_json(result: GateResult) -> str:
    """Strict JSON (NaN -> null, inf -> "inf") of :meth:`GateResult.to_dict`."""
    return json.dumps(jsonable(result.to_dict()), indent=2, allow_nan=False) + "\n"


_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: str) -> str:
    """Text XML 1.0 can hold (control characters in error messages would make the file unreadable)."""
    return _XML_BAD.sub("?", text)


def junit_xml(result: GateResult) -> str:
    """JUnit XML: one ``<testcase>`` per check (a ``<failure>`` when it failed).

    Cases the report records as failed to score add one more test case with
    an ``<error>``, so they show on the dashboard too.
    """
    import xml.etree.ElementTree as ET

    n_checks = len(result.checks)
    errors = 1 if result.failed_cases else 0
    attrs = {"tests": str(n_checks + errors), "failures": str(result.n_failed), "errors": str(errors),
             "skipped": "0", "time": "0"}
    root = ET.Element("testsuites", {"name": "segeval gate", **{k: v for k, v in attrs.items() if k != "skipped"}})
    suite = ET.SubElement(root, "testsuite", {"name": _x(f"segeval gate {result.report}"), **attrs})
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", {"name": "report", "value": _x(result.report)})
    ET.SubElement(props, "property", {"name": "n_cases", "value": str(result.n_cases)})
    if result.baseline is not None:
        ET.SubElement(props, "property", {"name": "baseline", "value": _x(result.baseline)})
    for c in result.checks:
        case = ET.SubElement(suite, "testcase", {"classname": "segeval.gate", "name": _x(c.title), "time": "0"})
        if not c.passed:
            fail = ET.SubElement(case, "failure", {"message": _x(c.reason), "type": "GateFailure"})
            detail = [c.reason]
            if c.failing_cases:
                detail.append(f"cases: {_listed(c, limit=None)}")
            fail.text = _x("\n".join(detail))
        out = ET.SubElement(case, "system-out")
        out.text = _x(f"{c.title}: {c.reason}")
    if result.failed_cases:
        case = ET.SubElement(suite, "testcase", {"classname": "segeval.gate",
                                                 "name": "every case was scored", "time": "0"})
        msg = f"{len(result.failed_cases)} of {plural(result.n_cases, 'case')} failed to score"
        err = ET.SubElement(case, "error", {"message": msg, "type": "FailedCases"})
        err.text = _x("\n".join(f"{k}: {e}" for k, e in result.failed_cases))
    if result.baseline is not None and (result.only_in_report or result.only_in_baseline):
        ET.SubElement(suite, "system-out").text = _x(_unmatched(
            result, limit=len(result.only_in_report) + len(result.only_in_baseline) + 1))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
