"""Hand-made submissions: Reports built from per-case values, no volumes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from segeval.records import CaseResult
from segeval.summary import Report

Value = float | None
COUNTS = ("tp", "fp", "fn", "tn", "vol_pred_ml", "vol_gt_ml")


def submission(values: Mapping[str, Any] | Sequence[Value], *, metric: str = "dice",
               failed: Sequence[str] = ()) -> Report:
    """A report of one label per case: ``{case: value}`` (None: the case is absent), a list (cases c0, c1...),
    or ``{case: {metric: value, ...}}`` / ``{case: [{label record}, ...]}`` for several metrics or labels.
    Cases named in ``failed`` are recorded as failed."""
    items = values.items() if isinstance(values, Mapping) else ((f"c{i}", v) for i, v in enumerate(values))
    cases = []
    metrics: set[str] = set()
    for case, v in items:
        if v is None:
            continue
        if case in failed:
            cases.append(CaseResult(case=case, error="could not read the prediction"))
            continue
        if isinstance(v, list):
            records = [dict(r) for r in v]
        elif isinstance(v, dict):
            records = [{"label": 1, **v}]
        else:
            records = [{"label": 1, metric: float(v)}]
        for r in records:
            r.update({k: r.get(k, 1) for k in COUNTS})  # what a score/batch record always holds
        metrics.update(k for r in records for k in r if k not in ("label", "name", *COUNTS))
        cases.append(CaseResult(case=case, labels=records))
    for case in failed:
        if not any(c.case == case for c in cases):
            cases.append(CaseResult(case=case, error="could not read the prediction"))
    return Report(settings={"metrics": sorted(metrics) or [metric]}, cases=cases)


def matrix_reports(rows: Mapping[str, Sequence[float]], *, metric: str = "dice") -> dict[str, Report]:
    """One submission per row of values over cases c0, c1, ..."""
    return {name: submission(list(vals), metric=metric) for name, vals in rows.items()}
