"""A report (settings and cases) and every statistic over its cases, each defined once.

* :func:`statistic` is the one definition of mean, median, min, max and
  percentiles over cases (NaN excluded); :func:`describe` gives them all.
* :func:`macro` is the one definition of a macro value: the mean over
  classes, NaN excluded. A case's macro Dice is the macro of its class
  records; a batch's macro Dice is the macro of the per-label means.
* :func:`summarize` is a report's summary block (per label, macro, micro,
  generalized Dice); :func:`worst_cases` ranks cases by their macro value.

:class:`Report` lives here, not with the plain records
(:mod:`segeval.records`), because its JSON shape holds this summary.
Plain NumPy, so that scoring a single case never pays for importing pandas.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from segeval._version import __version__
from segeval.lesions.outputs import pooled_detection
from segeval.metrics.overlap import OVERLAP_METRICS, overlap_from_counts
from segeval.metrics.registry import COUNT_COLUMNS
from segeval.records import REPORT_FORMAT, CaseResult, ClassRecord, jsonable
from segeval.settings import ScoreSettings

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["STATS", "Report", "describe", "macro", "statistic", "summarize", "worst_cases"]

#: The statistics :func:`describe` gives, in the order reports show them.
STATS: tuple[str, ...] = ("mean", "std", "median", "min", "max", "n", "n_nan")


def _percentile(vals: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile of sorted, NaN-free ``vals`` (NumPy's default rule).

    Written out so that infinite values give inf, not NumPy's NaN from inf - inf.
    """
    pos = q / 100.0 * (len(vals) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(vals) - 1)
    frac = pos - lo
    if frac == 0.0 or vals[lo] == vals[hi]:
        return vals[lo]
    return vals[lo] + (vals[hi] - vals[lo]) * frac


def statistic(values: Iterable[float], stat: str) -> float:
    """``mean``, ``median``, ``min``, ``max`` or ``pNN`` of the non-NaN values; NaN if there are none.

    The mean is NumPy's (pairwise summation); percentiles interpolate linearly,
    as NumPy does by default; inf is a value like any other.

    Examples
    --------
    >>> statistic([1.0, 2.0, 3.0, 4.0], "p25"), statistic([1.0, float("inf")], "mean")
    (1.75, inf)
    """
    raw = [float(v) for v in values if not math.isnan(v)]
    if not raw:
        return math.nan
    if stat == "mean":  # in the given order: the sum's rounding depends on it
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # inf + -inf: NaN is the honest answer
            return float(np.mean(raw))
    vals = sorted(raw)
    if stat == "min":
        return vals[0]
    if stat == "max":
        return vals[-1]
    if stat == "median":
        return _percentile(vals, 50.0)
    if stat.startswith("p"):
        return _percentile(vals, float(stat[1:]))
    raise ValueError(f"unknown statistic {stat!r}")


def describe(values: Sequence[float]) -> dict[str, float | int]:
    """mean, std (population), median, min, max over the non-NaN values; n counts them, n_nan the rest.

    Examples
    --------
    >>> describe([1.0, 3.0, float("nan")])["mean"], describe([1.0, 3.0, float("nan")])["n_nan"]
    (2.0, 1)
    """
    arr = np.asarray(values, dtype=np.float64)
    valid = arr[~np.isnan(arr)]
    out: dict[str, float | int] = {s: statistic(valid, s) for s in ("mean", "median", "min", "max")}
    with warnings.catch_warnings():
        # inf - inf inside std of infinite distances: NaN is the honest answer.
        warnings.simplefilter("ignore", RuntimeWarning)
        out["std"] = float(np.std(valid)) if valid.size else math.nan
    out["n"] = int(valid.size)
    out["n_nan"] = int(arr.size - valid.size)
    return {k: out[k] for k in STATS}


def macro(records: Iterable[ClassRecord], metric: str) -> float:
    """The macro value of ``metric``: its mean over the records (classes) that have it, NaN excluded.

    Examples
    --------
    >>> macro([{"dice": 0.5}, {"dice": 1.0}, {"dice": float("nan")}], "dice")
    0.75
    """
    return statistic((float(r[metric]) for r in records if metric in r), "mean")


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
        ``macro``: :func:`macro` of the per-label means;
        ``micro``: overlap metrics from TP/FP/FN/TN pooled over plain labels and cases;
        ``generalized_dice``: statistics of the per-case generalized Dice;
        ``n_cases``, ``n_failed``; with lesion metrics, ``lesions``: the detection
        counts pooled over cases per label (:func:`segeval.lesions.outputs.pooled_detection`).
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
    micro_vals = overlap_from_counts(
        pooled[0:1], pooled[1:2], pooled[2:3], pooled[3:4], alpha=alpha, beta=beta,
        metrics=OVERLAP_METRICS,
    )
    extra = {"lesions": pooled_detection(ok)} if "lesion_tp" in metrics else {}
    return {
        "n_cases": len(cases),
        "n_failed": len(cases) - len(ok),
        "per_label": per_label,
        "macro": {m: macro(({m: e[m]["mean"]} for e in per_label), m) for m in metrics},
        "micro": {m: float(v[0]) for m, v in micro_vals.items()},
        "generalized_dice": describe([c.generalized_dice for c in ok]),
        **extra,
    }


def worst_cases(cases: Iterable[CaseResult], *, metric: str = "dice", n: int = 5) -> list[tuple[CaseResult, float]]:
    """The ``n`` scored cases with the lowest :func:`macro` ``metric``, as (case, value).

    For a metric where lower is better (a distance), "worst" is still the
    lowest value; callers pass a higher-is-better metric. Ties go by case id;
    cases whose macro value is NaN (every class empty) are not ranked.
    """
    ranked = []
    for case in cases:
        if case.error is not None:
            continue
        value = macro(case.labels, metric)
        if not math.isnan(value):
            ranked.append((value, case.case, case))
    ranked.sort(key=lambda t: (t[0], t[1]))
    return [(case, value) for value, _, case in ranked[:n]]


@dataclass
class Report:
    """Settings plus one result per case: what ``score`` and ``batch`` produce.

    Attributes
    ----------
    settings : dict
        Every option that changes a number (:meth:`segeval.settings.ScoreSettings.to_dict`).
    cases : list of CaseResult
        In input order (a batch sorts them by case id).
    """

    settings: dict[str, Any]
    cases: list[CaseResult]

    @property
    def metrics(self) -> list[str]:
        """Metric columns, in registry order."""
        return list(self.settings.get("metrics", []))

    def summary(self) -> dict[str, Any]:
        """Per-label statistics over cases, macro and micro averages (:func:`summarize`)."""
        s = ScoreSettings.from_dict(self.settings)
        return summarize(self.cases, self.metrics, alpha=s.alpha, beta=s.beta)

    def to_dict(self) -> dict[str, Any]:
        """The report as DESIGN.md's JSON shape, NaN as null and inf as ``"inf"``."""
        out: dict[str, Any] = jsonable(
            {
                "segeval_version": __version__,
                "report_format": REPORT_FORMAT,
                "settings": self.settings,
                "cases": [c.to_dict() for c in self.cases],
                "summary": self.summary(),
            }
        )
        return out

    def rows(self) -> list[dict[str, Any]]:
        """Tidy rows: one per (case, label), columns case, label, name, metrics, counts."""
        cols = self.columns()
        out = []
        for c in self.cases:
            for r in c.labels:
                row = {"case": c.case, "label": r["label"], "name": r.get("name")}
                row.update({k: r.get(k, float("nan")) for k in cols})
                out.append(row)
        return out

    def columns(self) -> list[str]:
        """Metric and count columns of :meth:`rows`."""
        return [*self.metrics, *COUNT_COLUMNS]

    def to_frame(self, *, wide: bool = False) -> pd.DataFrame:
        """pandas DataFrame: one row per (case, label), a ``case`` column first even for one case.

        Parameters
        ----------
        wide : bool
            The case x label pivot instead: one row per case (index ``case``),
            columns ``(metric, label)`` with the label's name where it has one
            (``frame["dice"]["liver"]``). Counts are left out.

        Examples
        --------
        >>> import numpy as np, segeval
        >>> gt = np.array([[1, 1, 0], [2, 2, 0]]); pred = np.array([[1, 0, 0], [2, 2, 2]])
        >>> report = segeval.score(pred, gt, labels={"liver": 1, "spleen": 2}, metrics="dice")
        >>> report.to_frame(wide=True)["dice"].round(2).to_dict("index")
        {'case': {'liver': 0.67, 'spleen': 0.8}}
        """
        import pandas as pd

        frame = pd.DataFrame(self.rows(), columns=["case", "label", "name", *self.columns()])
        if not wide:
            return frame
        frame["label"] = [n if isinstance(n, str) and n else k for k, n in zip(frame["label"], frame["name"])]
        order = list(dict.fromkeys(frame["label"]))
        wide_frame = frame.pivot_table(index="case", columns="label", values=self.metrics, sort=False,
                                       dropna=False, aggfunc="first")
        wide_frame = wide_frame.reindex(columns=pd.MultiIndex.from_product([self.metrics, order]))
        wide_frame.columns.names = [None, None]
        return wide_frame.reindex(list(dict.fromkeys(frame["case"])))

    def summary_frame(self) -> pd.DataFrame:
        """The per-label summary as a DataFrame: one row per (label, metric), columns :data:`STATS`.

        The rows ``macro`` (mean over labels of each metric's mean) and
        ``generalized_dice`` (over cases) come last, as in ``batch --summary``.
        """
        import pandas as pd

        s = self.summary()
        rows = []
        for entry in s["per_label"]:
            for m in self.metrics:
                rows.append({"label": entry["label"], "name": entry.get("name"), "metric": m, **entry[m]})
        for m in self.metrics:
            rows.append({"label": "macro", "name": None, "metric": m, "mean": s["macro"][m]})
        rows.append({"label": "generalized_dice", "name": None, "metric": "generalized_dice",
                     **s["generalized_dice"]})
        frame = pd.DataFrame(rows, columns=["label", "name", "metric", *STATS])
        return frame.astype({"n": "Int64", "n_nan": "Int64"})

    def _repr_html_(self) -> str:
        """Jupyter's view of a report: the summary table, with the number of cases and failures."""
        import html

        s = self.summary()
        head = f"<p><b>segeval report</b>: {s['n_cases']} case{'s' if s['n_cases'] != 1 else ''}"
        if s["n_failed"]:
            head += f", {s['n_failed']} failed to score"
        head += "</p>"
        frame = self.summary_frame()
        table: str = frame.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}")
        return head + table if table else head + html.escape(repr(self))
