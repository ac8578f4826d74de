"""Statistics over cases: per label, macro (mean over classes) and micro (pooled counts).

Plain NumPy, so that scoring a single case never pays for importing pandas.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from segeval.metrics.overlap import OVERLAP_METRICS, overlap_from_counts
from segeval.report.schema import CaseResult

STATS: tuple[str, ...] = ("mean", "std", "median", "min", "max", "n", "n_nan")


def describe(values: Sequence[float]) -> dict[str, float | int]:
    """mean, std (population), median, min, max over the non-NaN values; n counts them, n_nan the rest.

    Examples
    --------
    >>> describe([1.0, 3.0, float("nan")])["mean"], describe([1.0, 3.0, float("nan")])["n_nan"]
    (2.0, 1)
    """
    arr = np.asarray(values, dtype=np.float64)
    valid = arr[~np.isnan(arr)]
    n_nan = int(arr.size - valid.size)
    if valid.size == 0:
        nan = float("nan")
        return {"mean": nan, "std": nan, "median": nan, "min": nan, "max": nan, "n": 0, "n_nan": n_nan}
    with warnings.catch_warnings():
        # inf - inf inside std of infinite distances: NaN is the honest answer.
        warnings.simplefilter("ignore", RuntimeWarning)
        std = float(np.std(valid))
        mean = float(np.mean(valid))
    return {
        "mean": mean,
        "std": std,
        "median": float(np.median(valid)),
        "min": float(valid.min()),
        "max": float(valid.max()),
        "n": int(valid.size),
        "n_nan": n_nan,
    }


def summarize(
    cases: Sequence[CaseResult], metrics: Sequence[str], *, alpha: float = 0.3, beta: float = 0.7
) -> dict[str, Any]:
    """Summary block of a report.

    Parameters
    ----------
    cases : sequence of CaseResult
        Failed cases (``error`` set) are counted, not scored.
    metrics : sequence of str
        Metric names to summarise.
    alpha, beta : float
        Tversky weights for the micro average.

    Returns
    -------
    dict
        ``per_label``: one entry per label/region with :data:`STATS` per metric;
        ``macro``: mean over labels of the per-label means (NaN excluded);
        ``micro``: overlap metrics from TP/FP/FN/TN pooled over plain labels and cases;
        ``generalized_dice``: statistics of the per-case generalized Dice;
        ``n_cases``, ``n_failed``.
    """
    ok = [c for c in cases if c.error is None]
    keys: list[Any] = []
    names: dict[Any, Any] = {}
    values: dict[Any, dict[str, list[float]]] = {}
    pooled = np.zeros(4, dtype=np.float64)
    for c in ok:
        for r in c.labels:
            key = r["label"]
            if key not in values:
                keys.append(key)
                values[key] = {m: [] for m in metrics}
            names.setdefault(key, r.get("name"))
            for m in metrics:
                values[key][m].append(float(r.get(m, float("nan"))))
            if not isinstance(key, str) and key != 0:
                pooled += [r["tp"], r["fp"], r["fn"], r["tn"]]
    per_label = []
    for key in keys:
        entry: dict[str, Any] = {"label": key, "name": names.get(key)}
        for m in metrics:
            entry[m] = describe(values[key][m])
        per_label.append(entry)
    macro: dict[str, float] = {}
    for m in metrics:
        means = [e[m]["mean"] for e in per_label if not math.isnan(e[m]["mean"])]
        macro[m] = float(np.mean(means)) if means else float("nan")
    micro_vals = overlap_from_counts(
        pooled[0:1], pooled[1:2], pooled[2:3], pooled[3:4], alpha=alpha, beta=beta,
        metrics=OVERLAP_METRICS,
    )
    micro = {m: float(v[0]) for m, v in micro_vals.items()}
    return {
        "n_cases": len(cases),
        "n_failed": len(cases) - len(ok),
        "per_label": per_label,
        "macro": macro,
        "micro": micro,
        "generalized_dice": describe([c.generalized_dice for c in ok]),
    }
