"""From submissions' reports to the value table a ranking is made of: metrics, cases, the missing rule.

Each report is one submission scored on the same cases. For every
``--metric METRIC[:LABEL]`` this gives a submissions x cases array:

* ``METRIC:LABEL`` is that label's (or region's) value, the label given by
  number or name; ``METRIC`` alone is the case's macro value (the mean over
  its labels, NaN excluded), ``generalized_dice`` the case's own value.
* A case is **missing** for a submission when its report lacks it, records
  it as failed, or holds NaN for it (a label absent from both masks under
  ``--empty nan``). ``missing="worst"`` gives it the metric's worst value:
  0 for overlap metrics (and NSD), and for distances ``worst_distance`` mm,
  by default the largest finite value seen for that metric in any
  submission. ``missing="skip"`` keeps only the cases every submission has.
* An infinite distance (one mask empty) is the worst distance too, per
  label before the macro mean, under both rules: a mean of ``inf`` ranks
  nothing. A case that no submission scored is left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from segeval.errors import OptionError, UnknownMetricError
from segeval.metrics.registry import METRICS, parse_metrics
from segeval.records import CaseResult
from segeval.report.reading import label_key
from segeval.summary import Report

__all__ = ["MISSING_RULES", "MetricChoice", "ValueTable", "parse_metric", "value_table"]

MISSING_RULES: tuple[str, ...] = ("worst", "skip")


@dataclass(frozen=True)
class MetricChoice:
    """One ``--metric METRIC[:LABEL]``.

    Attributes
    ----------
    metric : str
        A registry name (``dice``, ``hd95``).
    label : int, str or None
        A label number or a label/region name; None for the macro over labels.
    higher_is_better : bool
        The registry's direction.
    unit : str
        ``""`` or ``"mm"``.
    """

    metric: str
    label: int | str | None
    higher_is_better: bool
    unit: str

    @property
    def key(self) -> str:
        """``dice`` or ``dice:liver``: how the option, the columns and the output name it."""
        return self.metric if self.label is None else f"{self.metric}:{self.label}"

    @property
    def direction(self) -> str:
        """``"higher"`` or ``"lower"`` (is better)."""
        return "higher" if self.higher_is_better else "lower"

    @property
    def is_distance(self) -> bool:
        """A distance in mm, whose worst value is ``--worst-distance``; else an overlap score, worst 0."""
        return not self.higher_is_better


def parse_metric(text: str) -> MetricChoice:
    """``METRIC[:LABEL]`` -> :class:`MetricChoice` (the direction from the registry).

    Raises
    ------
    OptionError
        An unknown metric (with a "did you mean"), or one without a direction (a count or a volume).

    Examples
    --------
    >>> parse_metric("hd95:2").key, parse_metric("hd95:2").direction, parse_metric("Dice").label
    ('hd95:2', 'lower', None)
    """
    name, sep, label = text.strip().partition(":")
    name = name.strip().lower()
    if name == "generalized_dice":
        if sep:
            raise OptionError(f"--metric {text}: generalized_dice is one value per case; give no label")
        return MetricChoice(name, None, True, "")
    if name in METRICS and METRICS[name].higher_is_better is None:
        raise OptionError(f"--metric {text}: {name} is a {METRICS[name].kind}, not a quality measure; rank by "
                          "dice, iou, nsd, hd95 or another metric with a direction (segeval metrics)")
    if name in ("all", "surface") or "," in name:
        raise OptionError(f"--metric {text}: one metric per --metric; repeat the option for several")
    try:
        (resolved,) = parse_metrics(name)
    except UnknownMetricError as exc:  # names the choices, with a "did you mean"
        why = " ".join(str(exc).split()).removeprefix("--metrics: ")
        raise OptionError(f"--metric {text}: {why}") from None
    spec = METRICS[resolved]
    if sep and not label.strip():
        raise OptionError(f"--metric {text}: no label after ':'; give METRIC or METRIC:LABEL")
    assert spec.higher_is_better is not None
    return MetricChoice(resolved, label_key(label) if sep else None, spec.higher_is_better, spec.unit)


@dataclass
class ValueTable:
    """What a ranking is made of: per metric, a submissions x cases array with the missing rule applied.

    Attributes
    ----------
    names : list of str
        The submissions, in the order given.
    metrics : list of MetricChoice
    cases : list of str
        The cases ranked (after the missing rule), in first-seen order.
    values : ndarray, shape (M, S, C), float64
        In each metric's own units and direction; no NaN, no infinity.
    missing : ndarray, shape (M, S), int
        Cases filled with the worst value (``worst``) or missing (``skip``: the cases dropped for it).
    n_inf : ndarray, shape (M, S), int
        Infinite distances replaced by the worst distance.
    worst : dict of str to float
        The worst value each metric used (its key to the value).
    dropped : list of str
        Cases left out (``skip``: not held by every submission; either rule: scored by none).
    notes : list of str
        Sentences for the output: what the missing rule did.
    """

    names: list[str]
    metrics: list[MetricChoice]
    cases: list[str]
    values: np.ndarray
    missing: np.ndarray
    n_inf: np.ndarray
    worst: dict[str, float]
    dropped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def scores(self) -> np.ndarray:
        """``values`` oriented so that higher is better (distances negated), shape (M, S, C)."""
        sign = np.array([1.0 if m.higher_is_better else -1.0 for m in self.metrics])
        out: np.ndarray = self.values * sign[:, None, None]
        return out


def _label_values(case: CaseResult, choice: MetricChoice) -> list[float]:
    """The values of ``choice`` in one scored case: one per label (macro), or the one label's."""
    if choice.metric == "generalized_dice":
        return [float(case.generalized_dice)]
    metric, want = choice.metric, choice.label
    if want is None:
        return [float(r[metric]) for r in case.labels if r.get(metric) is not None]
    return [float(r[metric]) for r in case.labels if r.get(metric) is not None
            and (r["label"] == want or (isinstance(want, str) and r.get("name") == want))]


def _mean(values: list[float]) -> float:
    """The macro mean of a case's label values, NaN excluded (:func:`segeval.summary.macro`'s)."""
    valid = [x for x in values if not math.isnan(x)]
    if len(valid) < 8:  # NumPy sums fewer than 8 values in order, as this does, and faster
        return sum(valid) / len(valid) if valid else math.nan
    return float(np.mean(valid))


def _check_held(name: str, report: Report, choice: MetricChoice) -> None:
    """The report must hold the metric (and the label) somewhere, or the ranking would be all missing."""
    scored = [c for c in report.cases if c.error is None]
    if choice.metric == "generalized_dice":
        return
    held = {m for c in scored for r in c.labels for m in r}
    if choice.metric not in held:
        have = sorted({m for m in held if m in METRICS and METRICS[m].higher_is_better is not None})
        raise OptionError(f"--metric {choice.key}: submission {name} holds no {choice.metric} values; "
                          f"it has {', '.join(have) or 'no metric'} (score it with --metrics {choice.metric})")
    if choice.label is not None:
        want = choice.label
        labels = {r["label"] for c in scored for r in c.labels} | {r.get("name") for c in scored for r in c.labels}
        if want not in labels:
            shown = sorted({str(r.get("name") or r["label"]) for c in scored for r in c.labels})
            raise OptionError(f"--metric {choice.key}: submission {name} has no label {want!r}; "
                              f"its labels are {', '.join(shown) or 'none'}")


def value_table(reports: Mapping[str, Report], metrics: Sequence[MetricChoice], *, missing: str = "worst",
                worst_distance: float | None = None) -> ValueTable:
    """Per metric, the submissions x cases values that a ranking ranks (the module's rules).

    Parameters
    ----------
    reports : mapping of str to Report
        One report per submission, by name (at least two).
    metrics : sequence of MetricChoice
        At least one.
    missing : {"worst", "skip"}
        The missing rule.
    worst_distance : float, optional
        The worst value of a distance, in mm; default the largest finite value seen.

    Returns
    -------
    ValueTable

    Raises
    ------
    OptionError
        Fewer than two submissions, no metric, an unknown rule, a metric or
        label a submission does not hold, or no case left to rank.
    """
    names = list(reports)
    if len(names) < 2:
        raise OptionError(f"REPORT: give two submissions' reports or more to rank; got {len(names)}")
    if not metrics:
        raise OptionError("--metric: give at least one metric to rank by")
    if missing not in MISSING_RULES:
        raise OptionError(f"--missing: expected one of {', '.join(MISSING_RULES)}; got {missing!r}")
    if worst_distance is not None and (math.isnan(worst_distance) or worst_distance < 0):
        raise OptionError(f"--worst-distance: expected a distance in mm, 0 or more; got {worst_distance}")
    keys = [m.key for m in metrics]
    if len(set(keys)) != len(keys):
        raise OptionError(f"--metric: {', '.join(k for k in keys if keys.count(k) > 1)} is given twice")
    for name, report in reports.items():
        for choice in metrics:
            _check_held(name, report, choice)
    all_cases: dict[str, None] = {}
    for report in reports.values():
        all_cases.update((c.case, None) for c in report.cases)
    case_ids = list(all_cases)
    col = {c: i for i, c in enumerate(case_ids)}
    n_m, n_s, n_c = len(metrics), len(names), len(case_ids)
    # Per (metric, submission, case): the label values, or None when the case is absent or failed.
    cells: list[list[list[list[float] | None]]] = [[[None] * n_c for _ in names] for _ in metrics]
    for s, name in enumerate(names):
        for case in reports[name].cases:
            if case.error is None:
                for m, choice in enumerate(metrics):
                    cells[m][s][col[case.case]] = _label_values(case, choice)
    worst: dict[str, float] = {}
    values = np.full((n_m, n_s, n_c), np.nan)
    n_inf = np.zeros((n_m, n_s), dtype=np.int64)
    for m, choice in enumerate(metrics):
        if choice.is_distance:
            seen = max((x for row in cells[m] for v in row if v for x in v if math.isfinite(x)), default=math.nan)
            worst[choice.key] = worst_distance if worst_distance is not None else (0.0 if math.isnan(seen) else seen)
        else:
            worst[choice.key] = 0.0
        bad = worst[choice.key]
        for s in range(n_s):
            row = values[m, s]
            for c, v in enumerate(cells[m][s]):
                if not v:
                    continue
                if choice.is_distance and math.inf in v:
                    n_inf[m, s] += v.count(math.inf)
                    v = [bad if x == math.inf else x for x in v]
                row[c] = _mean(v)
    has = ~np.isnan(values)  # (M, S, C)
    scored_by_any = has.any(axis=(0, 1))
    keep = has.all(axis=(0, 1)) if missing == "skip" else scored_by_any
    dropped = [c for c, k in zip(case_ids, keep) if not k]
    notes: list[str] = []
    if not keep.any():
        why = "no case is held by every submission" if missing == "skip" and scored_by_any.any() else \
            "no submission scored any case"
        raise OptionError(f"REPORT: nothing to rank: {why} (--missing {missing})")
    if missing == "skip":
        lacking = (~has[:, :, scored_by_any]).sum(axis=2)
        filled = lacking
        if dropped:
            notes.append(f"{len(dropped)} case{'s' if len(dropped) != 1 else ''} left out (--missing skip): "
                         "not scored by every submission")
    else:
        filled = (~has[:, :, keep]).sum(axis=2)
        values = np.where(has, values, np.array([worst[m.key] for m in metrics])[:, None, None])
        if filled.any():
            per = {names[s]: int(filled[:, s].max()) for s in range(n_s) if filled[:, s].any()}
            notes.append("missing, failed or NaN cases take the metric's worst value (--missing worst): "
                         + ", ".join(f"{n} {k}" for n, k in per.items()))
        unscored = int((~scored_by_any).sum())
        if unscored:
            notes.append(f"{unscored} case{'s' if unscored != 1 else ''} scored by no submission left out")
    if n_inf.any():
        n = int(n_inf.sum())
        notes.append(f"{n} infinite distance{'s' if n != 1 else ''} (an empty mask) "
                     f"{'count' if n != 1 else 'counts'} as the worst distance")
    return ValueTable(names=names, metrics=list(metrics), cases=[c for c, k in zip(case_ids, keep) if k],
                      values=np.ascontiguousarray(values[:, :, keep]), missing=filled.astype(np.int64),
                      n_inf=n_inf, worst=worst, dropped=dropped, notes=notes)
