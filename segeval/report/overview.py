"""What a batch summary says beyond :func:`segeval.summary.summarize`, for the table and the ``--summary`` files.

The finite mean of a distance and how many values were infinite
(:func:`distance_stats`), the worst cases by any metric, macro or for one
label (:func:`worst_by`), the mean Dice with failed cases counted as 0
(:func:`dice_with_failed_as_zero`), and the best and worst labels of a long
label list (:func:`best_and_worst`). Plain numbers; no rendering.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from segeval.errors import OptionError
from segeval.metrics.registry import METRICS
from segeval.records import CaseResult, ClassRecord
from segeval.summary import Report, macro, statistic

__all__ = ["LONG_LIST", "WorstBy", "best_and_worst", "dice_with_failed_as_zero", "distance_stats",
           "higher_is_better", "parse_by", "worst_by"]

#: Past this many labels a summary shows the :data:`SHOWN` best and worst only.
LONG_LIST = 20
SHOWN = 10


def higher_is_better(metric: str) -> bool:
    """True for scores (Dice, NSD), False for distances."""
    spec = METRICS.get(metric)
    return bool(spec.higher_is_better) if spec is not None and spec.higher_is_better is not None else True


def distance_stats(values: Sequence[float]) -> dict[str, float | int]:
    """``mean`` and ``std`` over the finite values, ``n_inf`` counting the infinite ones (NaN left out).

    Examples
    --------
    >>> distance_stats([1.0, 3.0, float("inf"), float("nan")])
    {'mean': 2.0, 'std': 1.0, 'n': 2, 'n_inf': 1}
    """
    finite = [float(v) for v in values if math.isfinite(v)]
    n_inf = sum(1 for v in values if math.isinf(v))
    mean = statistic(finite, "mean")
    std = math.sqrt(statistic([(v - mean) ** 2 for v in finite], "mean")) if finite else math.nan
    return {"mean": mean, "std": std, "n": len(finite), "n_inf": n_inf}


def label_values(report: Report) -> dict[Any, dict[str, list[float]]]:
    """Every scored case's value of every metric, per label key, in case order."""
    out: dict[Any, dict[str, list[float]]] = {}
    for case in report.cases:
        if case.error is not None:
            continue
        for r in case.labels:
            per = out.setdefault(r["label"], {m: [] for m in report.metrics})
            for m in report.metrics:
                per[m].append(float(r.get(m, math.nan)))
    return out


@dataclass(frozen=True)
class WorstBy:
    """What ``--by METRIC[:LABEL]`` ranks cases by: a metric's macro value, or its value for one label."""

    metric: str
    label: str | None = None

    def title(self) -> str:
        """``macro Dice`` or ``Dice of liver``."""
        short = METRICS[self.metric].short if self.metric in METRICS else self.metric
        return f"macro {short}" if self.label is None else f"{short} of {self.label}"

    def value(self, case: CaseResult) -> float:
        """The case's value (NaN when the label is absent or empty)."""
        if self.label is None:
            return macro(case.labels, self.metric)
        for r in case.labels:
            if self.label in (str(r["label"]), r.get("name")):
                return float(r.get(self.metric, math.nan))
        return math.nan


def parse_by(text: str | None, metrics: Sequence[str]) -> WorstBy:
    """``--by``: ``dice`` or ``hd95:liver`` (a label by number or name); default the macro Dice.

    Raises
    ------
    OptionError
        The metric is not one of the report's.
    """
    if text is None:
        return WorstBy("dice" if "dice" in metrics or not metrics else metrics[0])
    metric, _, label = text.strip().partition(":")
    metric = metric.strip().lower()
    if metric not in metrics:
        raise OptionError(f"--by {text}: {metric!r} is not scored in this run; choose from {', '.join(metrics)}")
    return WorstBy(metric, label.strip() or None)


def worst_by(report: Report, by: WorstBy, n: int) -> list[tuple[CaseResult, float, ClassRecord | None]]:
    """The ``n`` scored cases worst by ``by`` (lowest score, highest distance; ties by case id).

    Each comes with its worst label record for a macro ranking (None for one
    label). Cases whose value is NaN are not ranked.
    """
    better = higher_is_better(by.metric)
    ranked: list[tuple[float, str, CaseResult]] = []
    for case in report.cases:
        if case.error is None and by.metric in report.metrics:
            v = by.value(case)
            if not math.isnan(v):
                ranked.append((v if better else -v, case.case, case))
    ranked.sort(key=lambda t: (t[0], t[1]))
    out: list[tuple[CaseResult, float, ClassRecord | None]] = []
    for key, _, case in ranked[:max(n, 0)]:
        lowest = None
        if by.label is None:
            scored = [r for r in case.labels if not math.isnan(float(r.get(by.metric, math.nan)))]
            if scored:
                sign = 1.0 if better else -1.0
                lowest = min(scored, key=lambda r: sign * float(r[by.metric]))
        out.append((case, key if better else -key, lowest))
    return out


def dice_with_failed_as_zero(report: Report, summary: dict[str, Any]) -> float | None:
    """The macro Dice with every failed (or unpaired) case counted as 0 for each label; None when none failed.

    Each label's mean takes one 0 per failed case beside its scored values
    (NaN left out); the macro is their mean over labels.
    """
    failed = summary["n_failed"]
    if not failed or "dice" not in report.metrics:
        return None
    means = []
    for per in label_values(report).values():
        vals = [v for v in per["dice"] if not math.isnan(v)]
        means.append(statistic([*vals, *[0.0] * failed], "mean"))
    return statistic(means, "mean") if means else 0.0


def best_and_worst(per_label: list[dict[str, Any]], metric: str) -> tuple[list[dict[str, Any]], int]:
    """Past :data:`LONG_LIST` labels: the :data:`SHOWN` best and worst by ``metric``'s mean, best first,
    and how many are left out between them; otherwise every label, in order, and 0."""
    if len(per_label) <= LONG_LIST:
        return per_label, 0
    better = higher_is_better(metric)

    def key(e: dict[str, Any]) -> float:
        v = float(e[metric]["mean"])
        if math.isnan(v):
            return math.inf
        return -v if better else v

    ranked = sorted(per_label, key=key)
    return ranked[:SHOWN] + ranked[-SHOWN:], len(per_label) - 2 * SHOWN
