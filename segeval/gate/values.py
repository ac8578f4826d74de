"""A report reduced to what the gate's checks read: values per case, label and metric.

:func:`report_values` reads any report through the one reader
(:func:`segeval.report.reading.read_report`) and keeps, per scored case,
each label's metric values and the case-level ones; :func:`complete` refuses
an incomplete report (a batch's journal, a run still writing) unless told.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from segeval.errors import ReportError
from segeval.gate.checks import CASE_METRICS, LabelKey
from segeval.metrics.registry import METRICS
from segeval.report.reading import ReadReport, label_key, read_report
from segeval.summary import macro

__all__ = ["ReportValues", "complete", "report_values"]


@dataclass
class ReportValues:
    """A report reduced to what the gate needs.

    Attributes
    ----------
    source : str
        File name (or "the report"), for messages.
    cases : list of str
        Ids of the scored cases, in report order.
    values : dict
        case -> label -> metric -> float (NaN where the report has none).
    case_values : dict
        case -> case-level metric (``generalized_dice``) -> float.
    labels : list
        Label keys (int labels, str regions) in order of first appearance.
    names : dict
        Label key -> name (or None).
    metrics : set of str
        Metrics the report holds.
    failed : dict
        case -> error, for cases that could not be scored, in report order.
    notes : list of str
        Things worth a warning (a truncated last line, duplicated cases).
    kind : str
        How the report was written (:attr:`segeval.report.reading.ReadReport.kind`).
    """

    source: str
    cases: list[str] = field(default_factory=list)
    values: dict[str, dict[LabelKey, dict[str, float]]] = field(default_factory=dict)
    case_values: dict[str, dict[str, float]] = field(default_factory=dict)
    labels: list[LabelKey] = field(default_factory=list)
    names: dict[LabelKey, str | None] = field(default_factory=dict)
    metrics: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    kind: str = "json"
    partial: str | None = None

    @property
    def n_cases(self) -> int:
        """Scored plus failed cases."""
        return len(self.cases) + len(self.failed)

    def label_text(self, key: LabelKey | None) -> str:
        """``1 (liver)``, ``WT`` or ``macro``."""
        if key is None:
            return "macro"
        name = self.names.get(key)
        return f"{key} ({name})" if name and str(name) != str(key) else str(key)

    def per_case(self, metric: str, label: LabelKey | None) -> list[tuple[str, float]]:
        """(case, value) for every scored case; the macro value (mean over labels, NaN excluded) for None."""
        out = []
        for cid in self.cases:
            if metric in CASE_METRICS:
                v = self.case_values.get(cid, {}).get(metric, math.nan)
            elif label is None:
                v = macro(self.values[cid].values(), metric)
            else:
                v = self.values[cid].get(label, {}).get(metric, math.nan)
            out.append((cid, v))
        return out

def report_values(report: Any) -> ReportValues:
    """A report (a path, :class:`~segeval.summary.Report`, dict or :class:`ReadReport`) reduced for the gate.

    Raises
    ------
    ReportError
        The report cannot be read (see :func:`segeval.report.reading.read_report`).
    """
    if isinstance(report, ReportValues):
        return report
    read: ReadReport = read_report(report)
    out = ReportValues(source=read.source, notes=list(read.notes), kind=read.kind, partial=read.partial)
    for c in read.cases:
        if c.error:
            out.failed[c.case] = c.error
            continue
        out.cases.append(c.case)
        out.values[c.case] = {}
        for r in c.labels:
            key = r["label"]
            name = r.get("name")
            name = str(name) if name not in (None, "") else None
            if key not in out.names:
                out.labels.append(key)
                out.names[key] = name
            elif out.names[key] is None and name:
                out.names[key] = name
            vals = {m: float(v) for m, v in r.items() if m in METRICS}
            out.values[c.case][key] = vals
            out.metrics.update(vals)
        out.case_values[c.case] = {"generalized_dice": float(c.generalized_dice)}
    settings = read.settings or {}
    out.metrics.update(m for m in settings.get("metrics") or [] if m in METRICS)
    label_names = settings.get("label_names")
    if isinstance(label_names, dict):  # names the records left out
        for k, name in label_names.items():
            key = label_key(k)
            if key in out.names and out.names[key] is None and name:
                out.names[key] = str(name)
    return out


def complete(data: ReportValues, allow_partial: bool) -> ReportValues:
    """The report, unless it is incomplete and ``allow_partial`` is not set (then ReportError)."""
    if data.partial is not None and not allow_partial:
        raise ReportError(f"{data.source}: the report is incomplete ({data.partial}); finish the run "
                          "(the same batch command with --resume), or give --allow-partial to judge what is there")
    if data.partial is not None:
        data.notes.append(f"{data.source}: judged although incomplete ({data.partial})")
    return data
