"""Judge a report against checks: :func:`judge` returns a :class:`GateResult`; it never prints or exits.

A CI job scores a model's predictions (``segeval score``/``batch``) and then
asks whether they are good enough. The report is read by the one reader,
:func:`segeval.report.reading.read_report`, and reduced to what the checks
need (:class:`ReportValues`). NaN values (a class absent from both volumes)
are excluded from statistics and counted; a check with no valid value fails
with that reason. Cases that failed to score (``error`` set) are listed and
counted, and fail ``per_case`` checks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segeval.errors import OptionError, ReportError
from segeval.gate.checks import CASE_METRICS, Check, LabelKey, higher_is_better, parse_stat
from segeval.gate.stats import SIGNIFICANCE, bootstrap_ci, wilcoxon_p
from segeval.gate.values import ReportValues, complete, report_values
from segeval.metrics.registry import METRICS
from segeval.report.numbers import fmt_bar, fmt_p, fmt_reason
from segeval.summary import statistic

__all__ = ["CheckResult", "GateResult", "judge", "mean_change", "plural"]

_REL_TOL = 1e-12


def plural(n: int, word: str) -> str:
    """``1 case``, ``2 cases``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@dataclass
class CheckResult:
    """The outcome of one :class:`Check`.

    Attributes
    ----------
    check : Check
        The check, as judged.
    stat : str
        The statistic judged: ``mean``, ``p5``..., ``per case`` (the worst case
        is ``value``) or ``mean change`` (``max_drop``).
    label : int, str or None
        The report's label key the check resolved to (None: macro).
    label_text : str
        ``1 (liver)``, ``WT`` or ``macro``.
    value : float
        The statistic (``max_drop``: the current report's mean over paired cases).
    bar : float
        The check's value.
    passed : bool
    reason : str
        One line saying why it passed or failed.
    n, n_nan : int
        Cases with a value / without one (NaN or label absent); pairs for ``max_drop``.
    failing_cases, failing_values : list
        Cases that miss the bar, worst first (``per_case``; for a failed
        ``max_drop``, the cases whose own drop exceeds the bar).
    change, ci_low, ci_high, p_value : float or None
        ``max_drop``: mean paired change (current - baseline, signed), its bootstrap
        95% interval and the two-sided paired Wilcoxon signed-rank p-value.
    baseline_value : float or None
        ``max_drop``: the baseline's mean over the paired cases.
    significant : bool or None
        ``max_drop``: the change is a drop with p < 0.05.
    exceeded : bool or None
        ``max_drop``: the drop is larger than the bar (with ``--significant``
        the check may still pass: :attr:`not_significant`).
    """

    check: Check
    stat: str
    label: LabelKey | None
    label_text: str
    value: float
    bar: float
    passed: bool
    reason: str
    n: int = 0
    n_nan: int = 0
    failing_cases: list[str] = field(default_factory=list)
    failing_values: list[float] = field(default_factory=list)
    change: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    baseline_value: float | None = None
    significant: bool | None = None
    exceeded: bool | None = None

    @property
    def not_significant(self) -> bool:
        """A ``max_drop`` that passed only because its drop, larger than the bar, was not significant."""
        return bool(self.passed and self.exceeded and self.check.kind == "max_drop")

    @property
    def title(self) -> str:
        """Stable one-line name, e.g. ``dice:liver mean >= 0.85`` (JUnit test names)."""
        c = self.check
        if c.kind == "max_drop":
            tail = " if significant" if c.significant else ""
            return f"{c.target} drop <= {fmt_bar(c.value)} vs baseline{tail}"
        op = ">=" if c.kind == "min" else "<="
        stat = "every case" if self.stat == "per case" else self.stat
        return f"{c.target} {stat} {op} {fmt_bar(c.value)}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (non-finite numbers still floats; see :func:`segeval.report.schema.jsonable`)."""
        c = self.check
        return {
            "title": self.title, "kind": c.kind, "metric": c.metric,
            "label": self.label, "label_text": self.label_text, "stat": self.stat,
            "value": self.value, "bar": self.bar, "passed": self.passed, "reason": self.reason,
            "n": self.n, "n_nan": self.n_nan,
            "failing_cases": [{"case": k, "value": v} for k, v in zip(self.failing_cases, self.failing_values)],
            "change": self.change, "ci_low": self.ci_low, "ci_high": self.ci_high,
            "p_value": self.p_value, "baseline_value": self.baseline_value,
            "significant": self.significant, "not_significant": self.not_significant,
        }


@dataclass
class GateResult:
    """Every check's outcome, and what the reports held.

    Attributes
    ----------
    checks : list of CheckResult
    report : str
        The judged report.
    n_cases : int
        Cases in the report, failed ones included.
    failed_cases : list of (case, error)
        Cases the report records as failed to score.
    baseline : str or None
    only_in_report, only_in_baseline : list of str
        Case ids that could not be paired with the baseline.
    notes : list of str
        Warnings about the inputs.
    """

    checks: list[CheckResult]
    report: str
    n_cases: int
    failed_cases: list[tuple[str, str]] = field(default_factory=list)
    baseline: str | None = None
    only_in_report: list[str] = field(default_factory=list)
    only_in_baseline: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return all(c.passed for c in self.checks)

    @property
    def n_failed(self) -> int:
        """Number of checks that failed."""
        return sum(not c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (pass through ``jsonable`` for strict JSON)."""
        return {
            "passed": self.passed, "report": self.report, "n_cases": self.n_cases,
            "n_checks": len(self.checks), "n_failed_checks": self.n_failed,
            "failed_cases": [{"case": k, "error": e} for k, e in self.failed_cases],
            "baseline": self.baseline,
            "only_in_report": list(self.only_in_report), "only_in_baseline": list(self.only_in_baseline),
            "checks": [c.to_dict() for c in self.checks],
            "notes": list(self.notes),
        }


def judge(
    report: Any,
    checks: Iterable[object],
    *,
    stat: str = "mean",
    per_case: bool = False,
    baseline: Any = None,
    significant: bool = False,
    seed: int = 0,
    allow_partial: bool = False,
) -> GateResult:
    """Judge a report against checks.

    Parameters
    ----------
    report : path, Report, dict, ReadReport or ReportValues
        JSON, JSON Lines or CSV written by ``score``/``batch``, or the objects.
    checks : iterable of Check
        See :func:`parse_check`, :func:`checks_from_options`.
    stat : str
        Statistic over cases for checks that do not set one: mean, median, min, max, pNN.
    per_case : bool
        Every case must meet the bar, for ``min``/``max`` checks that do not say.
    baseline : path, Report or dict, optional
        Earlier report for ``max_drop`` checks that do not name one.
    significant : bool
        ``max_drop`` fails only when the drop is significant (Wilcoxon p < 0.05),
        for checks that do not say.
    seed : int
        Seed of the bootstrap (the output is deterministic).
    allow_partial : bool
        Judge an incomplete report (a batch's journal, a run that has not
        finished) instead of refusing it.

    Returns
    -------
    GateResult
        ``.passed`` is True when every check passed.

    Raises
    ------
    ReportError
        A report cannot be read, or is incomplete (without ``allow_partial``).
    OptionError
        A check names a metric or label the report does not have, or a
        ``max_drop`` check has no baseline.

    Examples
    --------
    >>> from segeval.gate import parse_check
    >>> rep = {"cases": [{"case": "a", "labels": [{"label": 1, "name": "liver", "dice": 0.9}]},
    ...                  {"case": "b", "labels": [{"label": 1, "name": "liver", "dice": 0.8}]}]}
    >>> r = judge(rep, [parse_check("dice:liver=0.8")])
    >>> r.passed, round(r.checks[0].value, 2)
    (True, 0.85)
    """
    default_stat = parse_stat(stat, "stat")
    data = complete(report_values(report), allow_partial)
    results: list[CheckResult] = []
    baselines: dict[Any, ReportValues] = {}
    base_used: ReportValues | None = None
    for c in checks:
        if not isinstance(c, Check):
            raise TypeError(f"judge: checks must be Check objects (see parse_check); got {c!r}")
        if c.kind == "max_drop":
            b = c.baseline if c.baseline is not None else baseline
            if b is None:
                raise OptionError(f"{c}: needs a baseline report (--baseline OLD_REPORT)")
            bkey = str(b) if isinstance(b, (str, Path)) else id(b)
            if bkey not in baselines:
                baselines[bkey] = complete(report_values(b), allow_partial)
            base_used = base_used or baselines[bkey]
            sig = c.significant if c.significant is not None else significant
            results.append(_judge_drop(data, baselines[bkey], c, significant=sig, seed=seed))
        else:
            results.append(_judge_bar(
                data, c, stat=parse_stat(c.stat, "stat") if c.stat else default_stat,
                per_case=c.per_case if c.per_case is not None else per_case,
            ))
    out = GateResult(checks=results, report=data.source, n_cases=data.n_cases,
                     failed_cases=list(data.failed.items()), notes=list(data.notes))
    if base_used is not None:
        new_ids = set(data.cases) | set(data.failed)
        old_ids = set(base_used.cases) | set(base_used.failed)
        out.baseline = base_used.source
        out.only_in_report = [k for k in [*data.cases, *data.failed] if k not in old_ids]
        out.only_in_baseline = [k for k in [*base_used.cases, *base_used.failed] if k not in new_ids]
        out.notes.extend(n for b in baselines.values() for n in b.notes)
    return out


def _resolve(data: ReportValues, check: Check) -> LabelKey | None:
    """The report's label key for a check (None: macro); errors name what the report has."""
    case_metric_found = check.metric in CASE_METRICS and (
        data.kind != "csv" or any(not math.isnan(v.get(check.metric, math.nan)) for v in data.case_values.values())
    )
    if check.metric not in data.metrics and not case_metric_found:
        have = ", ".join(sorted(data.metrics)) or "none"
        hint = "" if check.metric in CASE_METRICS else f"; score with --metrics including {check.metric}"
        raise OptionError(f"{check}: {data.source} has no {check.metric} values (it has {have}){hint}")
    if check.label is None:
        return None
    labels = ", ".join(data.label_text(k) for k in data.labels) or "none"
    if isinstance(check.label, int):
        if check.label in data.names:
            return check.label
        raise OptionError(f"{check}: label {check.label} is not in {data.source} (labels: {labels})")
    text = str(check.label)
    hits = [k for k in data.labels if str(k) == text or data.names.get(k) == text]
    if not hits:
        low = text.casefold()
        hits = [k for k in data.labels
                if str(k).casefold() == low or (data.names.get(k) or "").casefold() == low]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise OptionError(f"{check}: label {text!r} is ambiguous in {data.source} "
                          f"({', '.join(data.label_text(k) for k in hits)}); give the number")
    raise OptionError(f"{check}: label {text!r} is not in {data.source} (labels: {labels})")


def _meets(value: float, bar: float, kind: str) -> bool:
    if math.isnan(value):
        return False
    if math.isclose(value, bar, rel_tol=_REL_TOL, abs_tol=_REL_TOL):
        return True  # a mean that lands on the bar up to rounding meets it
    return value >= bar if kind == "min" else value <= bar


def _judge_bar(data: ReportValues, check: Check, *, stat: str, per_case: bool) -> CheckResult:
    op, anti = (">=", "<") if check.kind == "min" else ("<=", ">")
    if not data.cases:
        return CheckResult(check, "per case" if per_case else stat, None, _macro_or(check), math.nan,
                           check.value, False, f"no case was scored ({len(data.failed)} failed)",
                           n_nan=0, failing_cases=list(data.failed),
                           failing_values=[math.nan] * len(data.failed))
    key = _resolve(data, check)
    pairs = data.per_case(check.metric, key)
    valid = [(cid, v) for cid, v in pairs if not math.isnan(v)]
    n, n_nan = len(valid), len(pairs) - len(valid)
    label_text = data.label_text(key)
    failed_note = f"; {plural(len(data.failed), 'case')} failed to score" if data.failed else ""
    if per_case:
        sign = 1.0 if check.kind == "min" else -1.0  # worst first: lowest for min, highest for max
        bad = sorted((p for p in valid if not _meets(p[1], check.value, check.kind)), key=lambda p: sign * p[1])
        failing = bad + [(cid, math.nan) for cid in data.failed]
        value = (min if check.kind == "min" else max)(v for _, v in valid) if valid else math.nan
        if n == 0:
            passed, reason = False, _no_value(check, label_text, n_nan) + failed_note
        elif not failing:
            passed, reason = True, f"all {n} cases {op} {fmt_bar(check.value)} (worst {fmt_reason(value)})"
        else:
            passed = False
            parts = []
            if bad:
                parts.append(f"{len(bad)} of {n} cases {anti} {fmt_bar(check.value)} (worst {fmt_reason(value)})")
            if data.failed:
                parts.append(f"{plural(len(data.failed), 'case')} failed to score")
            reason = "; ".join(parts)
        if n_nan and n:
            reason += f"; {n_nan} NaN not judged"
        return CheckResult(check, "per case", key, label_text, value, check.value, passed, reason, n, n_nan,
                           [c for c, _ in failing], [v for _, v in failing])
    value = statistic([v for _, v in valid], stat)
    if n == 0:
        passed, reason = False, _no_value(check, label_text, n_nan)
    else:
        passed = _meets(value, check.value, check.kind)
        reason = f"{stat} {fmt_reason(value)} {op if passed else anti} {fmt_bar(check.value)} over {n} cases"
        if n_nan:
            reason += f" ({n_nan} NaN excluded)"
    # Cases that failed to score are said once, under the table, not in every check's reason.
    return CheckResult(check, stat, key, label_text, value, check.value, passed, reason, n, n_nan)


def _macro_or(check: Check) -> str:
    return "macro" if check.label is None else str(check.label)


def _no_value(check: Check, label_text: str, n_nan: int) -> str:
    return f"no valid value: {check.metric} of {label_text} is NaN or absent in all {n_nan} scored cases"


def _judge_drop(new: ReportValues, old: ReportValues, check: Check, *, significant: bool, seed: int) -> CheckResult:
    better = higher_is_better(check.metric)
    sign = 1.0 if better else -1.0  # drop = -sign * change
    stat = "mean change"
    if not new.cases or not old.cases:
        which = new.source if not new.cases else old.source
        return CheckResult(check, stat, None, _macro_or(check), math.nan, check.value, False,
                           f"no case was scored in {which}")
    key_new = _resolve(new, check)
    key_old = _resolve(old, check)
    label_text = new.label_text(key_new)
    new_vals = dict(new.per_case(check.metric, key_new))
    old_vals = dict(old.per_case(check.metric, key_old))
    old_ids = set(old.cases) | set(old.failed)
    matched = [k for k in [*new.cases, *new.failed] if k in old_ids]
    pairs = [(k, new_vals[k], old_vals[k]) for k in matched
             if k in new_vals and k in old_vals and not math.isnan(new_vals[k]) and not math.isnan(old_vals[k])]
    n, n_nan = len(pairs), len(matched) - len(pairs)
    if not matched:
        raise ReportError(f"{new.source} and the baseline {old.source} have no case id in common, so nothing "
                          "can be compared; give the baseline report of the same cases")
    if n == 0:
        return CheckResult(check, stat, key_new, label_text, math.nan, check.value, False,
                           f"no valid value: no matched case has {check.metric} of {label_text} in both reports",
                           0, n_nan)
    diffs = [0.0 if a == b else a - b for _, a, b in pairs]
    change = mean_change(diffs)
    drop = -sign * change
    ci_low, ci_high = bootstrap_ci(diffs, seed=seed)
    p = wilcoxon_p(diffs)
    is_sig = drop > 0 and p < SIGNIFICANCE
    too_big = math.isnan(drop) or (
        drop > check.value and not math.isclose(drop, check.value, rel_tol=_REL_TOL, abs_tol=_REL_TOL))
    passed = not too_big or (significant and not is_sig and not math.isnan(drop))
    ci = f"95% CI {fmt_reason(ci_low, signed=True)} to {fmt_reason(ci_high, signed=True)}, p={fmt_p(p)}"
    if math.isnan(drop):
        went = [k for (k, a, b), d in zip(pairs, diffs) if d == math.inf]
        came = [k for (k, a, b), d in zip(pairs, diffs) if d == -math.inf]
        reason = (f"the mean change is undefined: {plural(len(went), 'case')} went to inf "
                  f"({', '.join(went[:5])}) and {plural(len(came), 'case')} came back from inf "
                  f"({', '.join(came[:5])})")
    elif not too_big:
        reason = f"change {fmt_reason(change, signed=True)} ({ci}); allowed drop {fmt_bar(check.value)}"
    elif passed:
        reason = (f"{_worse(check.metric, drop)} > {fmt_bar(check.value)}{_unit(check.metric)} but not "
                  f"significantly ({ci}; needs p < {SIGNIFICANCE})")
    else:
        reason = f"{_worse(check.metric, drop)} > {fmt_bar(check.value)}{_unit(check.metric)} ({ci})"
    reason += f" over {n} paired cases"
    if n_nan:
        reason += f" ({n_nan} without a value in both excluded)"
    failing: list[tuple[str, float]] = []
    if not passed:
        per = [(k, -sign * (0.0 if a == b else a - b)) for k, a, b in pairs]
        failing = sorted((p_ for p_ in per if p_[1] > check.value), key=lambda p_: -p_[1])
    return CheckResult(
        check, stat, key_new, label_text, statistic((a for _, a, _ in pairs), "mean"), check.value, passed,
        reason, n, n_nan, [k for k, _ in failing], [-sign * v for _, v in failing],
        change=change, ci_low=ci_low, ci_high=ci_high, p_value=p,
        baseline_value=statistic((b for _, _, b in pairs), "mean"), significant=is_sig, exceeded=too_big,
    )


def _unit(metric: str) -> str:
    spec = METRICS.get(metric)
    return f" {spec.unit}" if spec is not None and spec.unit else ""


def _worse(metric: str, drop: float) -> str:
    """``dropped by 0.02`` for a score, ``worsened by 2.42 mm`` for a distance (which grows)."""
    if higher_is_better(metric) is False:
        return f"worsened by {fmt_reason(drop)}{_unit(metric)}"
    return f"dropped by {fmt_reason(drop)}"


def mean_change(diffs: Sequence[float]) -> float:
    """The mean of paired changes, where a change may be infinite (a distance went to or came back from inf).

    All finite: their mean. Infinite changes of one sign: that infinity (one
    case whose distance went to inf outweighs any finite improvement). Both
    signs: NaN, undefined, and the check fails saying which cases went which
    way; a case infinite in both reports has change 0.

    Examples
    --------
    >>> mean_change([0.5, -1.5]), mean_change([1.0, float("inf")]), mean_change([float("inf"), -float("inf")])
    (-0.5, inf, nan)
    """
    up = any(d == math.inf for d in diffs)
    down = any(d == -math.inf for d in diffs)
    if up and down:
        return math.nan
    if up or down:
        return math.inf if up else -math.inf
    return math.fsum(diffs) / len(diffs) if diffs else math.nan
