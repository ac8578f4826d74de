"""nnU-Net v2's ``summary.json`` layout, so that tooling built on nnU-Net's evaluation reads segeval's results.

nnU-Net v2 (``nnunetv2/evaluation/evaluate_predictions.py``) writes::

    {"foreground_mean": {"Dice": ..., "IoU": ..., "FP": ..., ...},
     "mean": {"1": {"Dice": ..., ...}, "(1, 2, 3)": {...}},
     "metric_per_case": [{"metrics": {"1": {"Dice": ..., "IoU": ..., "FP": ..., "TP": ...,
                                            "FN": ..., "TN": ..., "n_pred": ..., "n_ref": ...}},
                          "prediction_file": "...", "reference_file": "..."}]}

with labels keyed ``str(label)`` and regions ``str(tuple(members))``, keys
sorted, indented by 4, NaN written as Python's ``json`` writes it (``NaN``;
nnU-Net's ``load_summary_json`` and any Python ``json.load`` read it back).
Dice and IoU follow nnU-Net, not segeval's ``--empty``/``--smooth``: NaN when
the class is absent from both volumes, else 2TP/(2TP+FP+FN) and TP/(TP+FP+FN).

One deliberate difference: nnU-Net's ``foreground_mean`` is ``np.mean`` over
the per-class means, so one class that is NaN in every case (absent from
every reference and prediction) makes it NaN; here such classes are left out
(a NaN-aware mean), as nnU-Net already does for the per-class means.
Failed cases (``error`` set) have no entry: nnU-Net has no way to record them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from segeval.errors import ReportError
from segeval.io import case_id
from segeval.records import CaseResult
from segeval.settings import ScoreSettings
from segeval.summary import Report

__all__ = ["NNUNET_METRICS", "cases_from_nnunet", "nnunet_key", "nnunet_summary", "report_nnunet_summary",
           "to_nnunet_json"]

#: Metric keys of every class entry, in nnU-Net's order.
NNUNET_METRICS: tuple[str, ...] = ("Dice", "IoU", "FP", "TP", "FN", "TN", "n_pred", "n_ref")


def nnunet_key(record: dict[str, Any]) -> str:
    """nnU-Net's key of a segeval label record: ``"3"`` for a label, ``"(1, 2, 3)"`` for a region.

    Examples
    --------
    >>> nnunet_key({"label": 3}), nnunet_key({"label": "WT", "members": [1, 2, 3]})
    ('3', '(1, 2, 3)')
    """
    if isinstance(record["label"], str):
        return str(tuple(int(m) for m in record.get("members") or ()))
    return str(int(record["label"]))


def _class_metrics(tp: int, fp: int, fn: int, tn: int) -> dict[str, Any]:
    denom = tp + fp + fn
    nan = float("nan")
    return {
        "Dice": 2 * tp / (2 * tp + fp + fn) if denom else nan,
        "IoU": tp / denom if denom else nan,
        "FP": fp, "TP": tp, "FN": fn, "TN": tn,
        "n_pred": fp + tp, "n_ref": fn + tp,
    }


def _nanmean(values: Iterable[float]) -> float:
    # np.nanmean, as nnU-Net computes it (same summation, same last bits), minus
    # its "Mean of empty slice" warning when every value is NaN.
    arr = np.asarray(list(values), dtype=np.float64)
    if arr.size == 0 or np.isnan(arr).all():
        return float("nan")
    return float(np.nanmean(arr))


def _sort_key(key: str) -> tuple[int, Any]:
    return (0, int(key)) if key.lstrip("-").isdigit() else (1, key)


def nnunet_summary(
    cases: Sequence[CaseResult], *, extra_labels: Iterable[int] = ()
) -> dict[str, Any]:
    """The nnU-Net v2 ``summary.json`` dict of a batch's cases.

    Parameters
    ----------
    cases : sequence of CaseResult
        Scored cases; failed ones are left out.
    extra_labels : iterable of int
        Labels to report even where no case has them (nnU-Net evaluates every
        foreground label of ``dataset.json``); they come out NaN.

    Returns
    -------
    dict
        ``metric_per_case``, ``mean`` and ``foreground_mean``. Every case has
        every class seen in any case: a class absent from a case (from both
        of its volumes) has TP = FP = FN = 0, TN = all voxels counted, and NaN
        Dice/IoU, as nnU-Net computes it.
    """
    ok = [c for c in cases if c.error is None]
    keys: dict[str, None] = {str(int(k)): None for k in extra_labels}
    for c in ok:
        for r in c.labels:
            keys.setdefault(nnunet_key(r), None)
    ordered = sorted(keys, key=_sort_key)
    per_case: list[dict[str, Any]] = []
    for c in ok:
        found = {nnunet_key(r): r for r in c.labels}
        if c.labels:
            r0 = c.labels[0]
            total = int(r0["tp"]) + int(r0["fp"]) + int(r0["fn"]) + int(r0["tn"])
        else:
            total = math.prod(int(s) for s in c.shape)
        metrics: dict[str, dict[str, Any]] = {}
        for k in ordered:
            if k in found:
                r = found[k]
                metrics[k] = _class_metrics(int(r["tp"]), int(r["fp"]), int(r["fn"]), int(r["tn"]))
            else:
                metrics[k] = _class_metrics(0, 0, 0, total)
        per_case.append({"metrics": metrics, "prediction_file": c.pred, "reference_file": c.gt})
    mean = {
        k: {m: _nanmean(pc["metrics"][k][m] for pc in per_case) for m in NNUNET_METRICS}
        for k in ordered
    }
    foreground = [k for k in ordered if k != "0"]
    foreground_mean = {m: _nanmean(mean[k][m] for k in foreground) for m in NNUNET_METRICS}
    return {"metric_per_case": per_case, "mean": mean, "foreground_mean": foreground_mean}


def to_nnunet_json(summary: dict[str, Any]) -> str:
    """The text nnU-Net's ``save_json`` writes: sorted keys, indent 4, NaN as ``NaN``, no final newline."""
    return json.dumps(summary, sort_keys=True, indent=4)


def report_nnunet_summary(report: Report) -> dict[str, Any]:
    """:func:`nnunet_summary` of a batch's report, with every foreground label its label map declares.

    nnU-Net evaluates every foreground label of ``dataset.json``, present or
    not; without ``--labels``, the named labels of the run play that part.
    """
    settings = ScoreSettings.from_dict(report.settings)
    spec = settings.spec
    extra: list[int] = []
    if spec.labels is None:
        floor = 0 if spec.include_background else 1
        extra = sorted(k for k in spec.names if k >= floor and k != spec.ignore_label)
    return nnunet_summary(report.cases, extra_labels=extra)


#: nnU-Net's per-class keys and segeval's names for them (n_pred and n_ref are voxel counts
#: that segeval keeps as tp + fp and tp + fn).
_FROM_NNUNET = {"Dice": "dice", "IoU": "iou", "TP": "tp", "FP": "fp", "FN": "fn", "TN": "tn"}


def cases_from_nnunet(source: str, summary: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The cases of nnU-Net's ``summary.json`` as segeval case records, and settings naming their metrics.

    ``metric_per_case`` is enough for Dice, IoU and the counts: each entry
    becomes a case whose id is its ``reference_file``'s case id, with one
    record per class key (``"1"`` a label, ``"(1, 2)"`` a region, kept as
    that text). Used by :func:`segeval.report.reading.read_report`, so that
    ``segeval gate fold_0/validation/summary.json --min dice=0.8`` works.

    Raises
    ------
    ReportError
        ``metric_per_case`` is not a list of nnU-Net's entries.

    Examples
    --------
    >>> cases, settings = cases_from_nnunet("summary.json", {"metric_per_case": [
    ...     {"metrics": {"1": {"Dice": 0.9, "IoU": 0.8, "TP": 9, "FP": 1, "FN": 1, "TN": 89}},
    ...      "prediction_file": "pred/case_7.nii.gz", "reference_file": "gt/case_7.nii.gz"}]})
    >>> cases[0]["case"], cases[0]["labels"][0]["dice"], settings["metrics"]
    ('case_7', 0.9, ['dice', 'iou', 'tp', 'fp', 'fn', 'tn'])
    """
    entries = summary.get("metric_per_case")
    if not isinstance(entries, list):
        raise ReportError(f"{source}: nnU-Net's summary.json with no metric_per_case list")
    cases: list[dict[str, Any]] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("metrics"), dict):
            raise ReportError(f"{source}: metric_per_case entry #{i + 1} has no \"metrics\" table")
        ref = entry.get("reference_file") or entry.get("prediction_file")
        if not isinstance(ref, str) or not ref:
            raise ReportError(f"{source}: metric_per_case entry #{i + 1} names no reference_file")
        labels = []
        for key, values in sorted(entry["metrics"].items(), key=lambda kv: _sort_key(str(kv[0]))):
            if not isinstance(values, dict):
                raise ReportError(f"{source}: case {case_id(ref)}, class {key}: expected a table of metrics")
            record: dict[str, Any] = {"label": int(key) if str(key).lstrip("-").isdigit() else str(key)}
            record.update({ours: values[theirs] for theirs, ours in _FROM_NNUNET.items() if theirs in values})
            labels.append(record)
        cases.append({"case": case_id(ref), "pred": entry.get("prediction_file"), "gt": ref, "labels": labels})
    return cases, {"metrics": list(_FROM_NNUNET.values()), "source_format": "nnunet_summary"}
