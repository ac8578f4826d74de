"""Gate checks: what a bar is (:class:`Check`), parsed from ``METRIC[:LABEL]=VALUE``.

``min``/``max``
    A statistic over cases (mean, median, min, max or a percentile ``pNN``) of
    one metric for one label, or of the macro value (per case, the mean over
    that case's labels, NaN excluded), must be at least / at most a bar. With
    ``per_case`` every case must meet the bar instead.
``max_drop``
    Regression against a baseline report: the mean paired change must not be
    a drop larger than D (for metrics where lower is better, an increase is the drop).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from segeval.errors import OptionError, UnknownMetricError
from segeval.metrics.registry import METRICS
from segeval.report.numbers import fmt_bar

__all__ = ["CASE_METRICS", "KINDS", "STATS", "Check", "LabelKey", "higher_is_better", "metrics_needed", "parse_check",
           "parse_stat"]

LabelKey = Union[int, str]  # noqa: UP007 - a runtime alias must work on Python 3.10

KINDS: tuple[str, ...] = ("min", "max", "max_drop")
STATS: tuple[str, ...] = ("mean", "median", "min", "max", "pNN")
#: Case-level metrics (one value per case, not per label).
CASE_METRICS: tuple[str, ...] = tuple(m for m, s in METRICS.items() if s.kind == "case")

FLAGS = {"min": "--min", "max": "--max", "max_drop": "--max-drop"}
_PCT = re.compile(r"p(\d+(?:\.\d*)?)")
_INT = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class Check:
    """One bar the report must meet.

    Attributes
    ----------
    kind : {"min", "max", "max_drop"}
        At least ``value``; at most ``value``; no drop larger than ``value``
        against a baseline.
    metric : str
        A registry metric (``dice``, ``hd95``...) or ``generalized_dice``.
    label : int, str or None
        Label number, label or region name, or None for the macro value.
    value : float
        The bar (for ``max_drop``, the largest allowed drop, >= 0, in the
        metric's unit).
    stat : str or None
        ``mean``, ``median``, ``min``, ``max`` or ``pNN``; None: :func:`judge`'s.
    per_case : bool or None
        Every case must meet the bar (``min``/``max`` only); None: :func:`judge`'s.
    baseline : path, Report, dict or None
        Baseline report of a ``max_drop`` check; None: :func:`judge`'s.
    significant : bool or None
        ``max_drop`` fails only when the drop is also significant; None: :func:`judge`'s.
    source : str
        Where the check was written (``--min``, ``segeval.toml [gate] min``), for messages.
    """

    kind: str
    metric: str
    label: LabelKey | None
    value: float
    stat: str | None = None
    per_case: bool | None = None
    baseline: Any = None
    significant: bool | None = None
    source: str = field(default="", compare=False)

    @property
    def target(self) -> str:
        """``metric`` or ``metric:label`` as written."""
        return self.metric if self.label is None else f"{self.metric}:{self.label}"

    def __str__(self) -> str:
        return f"{self.source or FLAGS[self.kind]} {self.target}={fmt_bar(self.value)}"


def parse_check(text: str, *, kind: str = "min", option: str | None = None) -> Check:
    """Parse ``METRIC[:LABEL]=VALUE`` into a :class:`Check`.

    Parameters
    ----------
    text : str
        E.g. ``dice=0.85`` (macro), ``dice:liver=0.9``, ``hd95:2=5``.
    kind : {"min", "max", "max_drop"}
        What the value bounds.
    option : str, optional
        Where the text came from, for messages (default the flag of ``kind``).

    Raises
    ------
    OptionError, UnknownMetricError
        Naming the option and the text.

    Examples
    --------
    >>> parse_check("dice:liver=0.9").label, parse_check("hd95:2=5", kind="max").label
    ('liver', 2)
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    where = option or FLAGS[kind]
    raw = str(text).strip()
    lhs, sep, rhs = raw.rpartition("=")
    lhs, rhs = lhs.strip(), rhs.strip()
    if not sep or not lhs or not rhs:
        raise OptionError(f"{where} {raw}: expected METRIC[:LABEL]=VALUE, e.g. dice=0.85 or dice:liver=0.9")
    metric, colon, label_text = lhs.partition(":")
    metric, label_text = metric.strip().lower(), label_text.strip()
    _check_metric_name(metric, f"{where} {raw}")
    if colon and not label_text:
        raise OptionError(f"{where} {raw}: empty label after ':'; give a label number or name, or drop ':'")
    label: LabelKey | None = None
    if label_text:
        label = int(label_text) if _INT.fullmatch(label_text) else label_text
    if metric in CASE_METRICS and label is not None:
        raise OptionError(f"{where} {raw}: {metric} is one value per case; give it without a label")
    try:
        value = float(rhs)
    except ValueError:
        raise OptionError(f"{where} {raw}: {rhs!r} is not a number, e.g. {lhs}=0.85") from None
    if not math.isfinite(value):
        raise OptionError(f"{where} {raw}: the bar must be a finite number")
    spec = METRICS.get(metric)
    if spec is not None and spec.unit == "" and not -1.0 <= value <= 1.0:
        # Ratios lie in [0, 1]; a bar of 90 is a percentage meant as 0.90.
        hint = f"; did you mean {value / 100:.2f}?" if 1.0 < abs(value) <= 100.0 else ""
        raise OptionError(f"{where} {raw}: {metric} lies between 0 and 1, so {rhs} is outside its range{hint}")
    if kind == "max_drop":
        if value < 0:
            raise OptionError(f"{where} {raw}: the allowed drop must be >= 0")
        if higher_is_better(metric) is None:
            raise OptionError(f"{where} {raw}: {metric} has no better direction, so it cannot drop; "
                              "use --min/--max on it")
    return Check(kind=kind, metric=metric, label=label, value=value, source=where)


def parse_stat(text: str, option: str = "--stat") -> str:
    """Validate a statistic name: mean, median, min, max or pNN (0 <= NN <= 100)."""
    s = str(text).strip().lower()
    if s in ("mean", "median", "min", "max"):
        return s
    m = _PCT.fullmatch(s)
    if m and 0.0 <= float(m.group(1)) <= 100.0:
        return s
    raise OptionError(f"{option}: expected mean, median, min, max or pNN such as p5 or p95; got {text!r}")


def _check_metric_name(metric: str, where: str) -> None:
    if metric in METRICS:
        return
    known = list(METRICS)
    close = difflib.get_close_matches(metric, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise UnknownMetricError(f"{where}: unknown metric {metric!r}{hint} Known: {', '.join(known)}")


def higher_is_better(metric: str) -> bool | None:
    """The registry's direction of ``metric`` (None for counts and volumes)."""
    return METRICS[metric].higher_is_better


def metrics_needed(checks: Sequence[Check]) -> tuple[str, ...]:
    """The metrics ``checks`` name that a report holds only when asked for (``--metrics``), in
    registry order: counts, volumes and per-case values are always there.

    Examples
    --------
    >>> metrics_needed([parse_check("nsd:liver=0.8"), parse_check("hd95=5", kind="max"), parse_check("tp=1")])
    ('hd95', 'nsd')
    """
    named = {c.metric for c in checks}
    return tuple(m for m, spec in METRICS.items() if m in named and spec.kind in ("overlap", "surface"))
