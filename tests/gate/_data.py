"""Reports for the gate tests, built from {case: {label: {metric: value}}}."""

from __future__ import annotations

import math
from typing import Any

from segeval.gate import GateResult
from segeval.records import CaseResult
from segeval.summary import Report

NAN = float("nan")
INF = float("inf")
NAMES = {1: "liver", 2: "spleen"}


def _record(label: Any, values: dict[str, float]) -> dict[str, Any]:
    return {"label": label, "name": NAMES.get(label) if isinstance(label, int) else None, **values,
            "tp": 1, "fp": 0, "fn": 0, "tn": 1, "vol_pred_ml": 1.0, "vol_gt_ml": 1.0}


def make_report(
    cases: dict[str, dict[Any, dict[str, float]] | str], metrics: tuple[str, ...] = ("dice", "hd95")
) -> Report:
    """Report from {case: {label: {metric: value}}}; a string value is a failed case's error."""
    out = []
    for cid, labels in cases.items():
        if isinstance(labels, str):
            out.append(CaseResult(case=cid, error=labels))
        else:
            out.append(CaseResult(case=cid, labels=[_record(k, v) for k, v in labels.items()]))
    return Report(settings={"metrics": list(metrics)}, cases=out)


def dice_report(liver: list[float], spleen: list[float] | None = None, prefix: str = "case") -> Report:
    """One case per value: liver (label 1) and optionally spleen (label 2) Dice; hd95 = 10 * (1 - dice)."""
    cases: dict[str, Any] = {}
    for i, d in enumerate(liver):
        labels = {1: {"dice": d, "hd95": 10 * (1 - d) if not math.isnan(d) else NAN}}
        if spleen is not None:
            s = spleen[i]
            labels[2] = {"dice": s, "hd95": 10 * (1 - s) if not math.isnan(s) else NAN}
        cases[f"{prefix}_{i:03d}"] = labels
    return make_report(cases)


def one(result: GateResult) -> Any:
    assert len(result.checks) == 1
    return result.checks[0]
