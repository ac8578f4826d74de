"""``segeval report``: one self-contained HTML page from one or more reports.

:func:`html_report` gathers what the page shows (the run, per-label
statistics, box plots, a case x label heat map, the worst cases with slice
overlays and, given several reports, the paired change per case) and renders
it with Jinja2 (``templates/report.html.j2``). Figures come from
:mod:`segeval.report._plots`: SVG inline, PNG as base64 data URIs, so the page
names no external resource and reads offline and printed. matplotlib and
Jinja2 are imported only here, when a page is made (``segeval[report]``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from segeval._version import __version__
from segeval.errors import OptionError, SegevalError
from segeval.gate.stats import bootstrap_ci
from segeval.metrics.registry import METRICS
from segeval.records import CaseResult
from segeval.summary import Report, macro, statistic

__all__ = ["html_report", "num", "write_html_report"]

PathLike = str | os.PathLike[str]
#: Cases listed per label as the ones that changed most between two reports.
CHANGED_SHOWN = 5


@dataclass
class _Label:
    key: Any
    name: str
    values: dict[str, list[tuple[str, float]]] = field(default_factory=dict)


def _better(metric: str) -> bool | None:
    spec = METRICS.get(metric)
    return spec.higher_is_better if spec is not None else None


def _direction_words(higher: bool | None) -> str:
    return "" if higher is None else ("higher is better" if higher else "lower is better")


def _unit(metric: str) -> str:
    spec = METRICS.get(metric)
    return spec.unit if spec is not None else ""


def num(value: Any, digits: int = 4) -> str:
    """A number as the page shows it: ``0.9123``, ``inf``, ``n/a`` for NaN or None.

    Examples
    --------
    >>> num(0.912345), num(float("nan")), num(float("inf")), num(12)
    ('0.9123', 'n/a', 'inf', '12')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    v = float(value)
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if abs(v) >= 1e4 or (v != 0 and abs(v) < 1e-3):
        return f"{v:.{digits}g}"
    return f"{v:.{digits}f}".rstrip("0").rstrip(".")


def _labels(report: Report) -> list[_Label]:
    """Every scored label of the report, in first-seen order, with (case, value) per metric."""
    found: dict[Any, _Label] = {}
    for case in report.cases:
        if case.error is not None:
            continue
        for r in case.labels:
            key = r["label"]
            lab = found.get(key)
            if lab is None:
                name = r.get("name")
                lab = found[key] = _Label(key, str(name) if name else f"label {key}",
                                          {m: [] for m in report.metrics})
            for m in report.metrics:
                v = r.get(m)
                if v is not None:
                    lab.values[m].append((case.case, float(v)))
    return list(found.values())


def _stats(values: Sequence[tuple[str, float]]) -> dict[str, str]:
    """mean ± std, median, IQR, min over the finite values; n (non-NaN), n_nan, n_inf."""
    arr = np.array([v for _, v in values], dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    n_nan = int(np.isnan(arr).sum())
    out = {"n": str(int(arr.size - n_nan)), "n_nan": str(n_nan), "n_inf": str(int(np.isinf(arr).sum()))}
    if finite.size:
        out["mean_std"] = f"{num(float(finite.mean()))} ± {num(float(finite.std()))}"
        out["median"] = num(statistic(finite, "median"))
        out["iqr"] = f"{num(statistic(finite, 'p25'))} – {num(statistic(finite, 'p75'))}"
        out["min"] = num(float(finite.min()))
        out["max"] = num(float(finite.max()))
    else:
        out.update(mean_std="n/a", median="n/a", iqr="n/a", min="n/a", max="n/a")
    return out


def _order(labels: list[_Label], metric: str) -> list[_Label]:
    """Worst median first (lowest when higher is better, else highest); labels without values last."""
    sign = -1.0 if _better(metric) is False else 1.0

    def key(lab: _Label) -> tuple[int, float, str]:
        finite = [v for _, v in lab.values.get(metric, []) if math.isfinite(v)]
        if not finite:
            return (1, 0.0, lab.name)
        return (0, sign * statistic(finite, "median"), lab.name)

    return sorted(labels, key=key)


def _worst(cases: Sequence[CaseResult], metric: str, n: int) -> list[tuple[CaseResult, float]]:
    """The ``n`` scored cases whose macro ``metric`` is worst (ties by case id); NaN ones not ranked."""
    higher = _better(metric) is not False
    ranked = []
    for case in cases:
        if case.error is None:
            value = macro(case.labels, metric)
            if not math.isnan(value):
                ranked.append((value if higher else -value, case.case, case, value))
    ranked.sort(key=lambda t: (t[0], t[1]))
    return [(case, value) for _, _, case, value in ranked[:n]]


def _resolve(path: str | None, base: Path | None) -> Path | None:
    if path is None:
        return None
    p = Path(path)
    if p.is_absolute() or base is None:
        return p
    beside = base / p
    # Relative to the report's folder; else as given (a batch run from elsewhere records cwd-relative paths).
    return beside if beside.exists() or not p.exists() else p


def _overlay(case: CaseResult, base: Path | None, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The three overlay planes of a case, or a one-line note saying why there are none."""
    from segeval.io import read_volume
    from segeval.report import _plots

    pred_path, gt_path = _resolve(case.pred, base), _resolve(case.gt, base)
    if pred_path is None or gt_path is None:
        return {"note": "no overlay: the report does not name both volumes of this case"}
    try:
        pred = np.asarray(read_volume(pred_path).labels)
        gt = np.asarray(read_volume(gt_path).labels)
    except (SegevalError, OSError) as exc:
        return {"note": f"no overlay: {' '.join(str(exc).split())}"}
    if pred.shape != gt.shape or gt.ndim not in (2, 3):
        return {"note": f"no overlay: prediction {pred.shape} and ground truth {gt.shape} are not one 2-D/3-D grid"}
    ignore = settings.get("ignore_label")
    if ignore is not None:
        outside = gt == ignore
        pred, gt = np.where(outside, 0, pred), np.where(outside, 0, gt)
    labels = [int(r["label"]) for r in case.labels if isinstance(r["label"], (int, np.integer))]
    planes = _plots.overlay_png(pred, gt, labels=labels or None)
    return {"planes": [{"plane": plane, "index": index, "uri": uri} for plane, index, uri in planes]}


def _run(name: str, report: Report) -> dict[str, Any]:
    failed = [c for c in report.cases if c.error is not None]
    missing = [c.case for c in report.cases if c.pred is None and c.gt is not None]
    settings = [(k, _setting(v)) for k, v in report.settings.items()]
    return {"name": name, "settings": settings, "n_cases": len(report.cases),
            "n_scored": len(report.cases) - len(failed), "failed": [(c.case, c.error) for c in failed],
            "missing": missing}


def _setting(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(_setting(v) for v in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_setting(v)}" for k, v in value.items()) or "—"
    if isinstance(value, float):
        return num(value)
    return str(value)


def _section(name: str, report: Report, *, metric: str, worst: int, overlays: bool,
             base: Path | None) -> dict[str, Any]:
    """Everything the page shows about one report."""
    from segeval.report import _plots

    labels = _labels(report)
    metrics = [m for m in report.metrics if any(lab.values.get(m) for lab in labels)]
    per_metric = []
    for m in metrics:
        ordered = _order(labels, m)
        groups = [(lab.name, [(c, v) for c, v in lab.values[m] if math.isfinite(v)]) for lab in ordered]
        n_inf = sum(1 for lab in ordered for _, v in lab.values[m] if math.isinf(v))
        rows = [{"label": lab.name, **_stats(lab.values[m])} for lab in ordered]
        per_metric.append({"metric": m, "unit": _unit(m), "rows": rows, "n_inf": n_inf,
                           "svg": _plots.box_plot_svg(groups, metric=m, unit=_unit(m)),
                           "better": _direction_words(_better(m))})
    heat = None
    if metric in metrics and labels:
        ordered = _order(labels, metric)
        scored = [c for c in report.cases if c.error is None]
        index = {c.case: i for i, c in enumerate(scored)}
        values = np.full((len(scored), len(ordered)), np.nan)
        for j, lab in enumerate(ordered):
            for case_id, v in lab.values[metric]:
                values[index[case_id], j] = v
        heat = _plots.heatmap_svg([c.case for c in scored], [lab.name for lab in ordered], values,
                                  metric=metric, higher_is_better=_better(metric))
    worst_rows = []
    for case, value in _worst(report.cases, metric, worst):
        per_label = [(str(r.get("name") or r["label"]), num(r.get(metric))) for r in case.labels]
        entry: dict[str, Any] = {"case": case.case, "value": num(value), "labels": per_label}
        if overlays:
            entry.update(_overlay(case, base, report.settings))
        worst_rows.append(entry)
    return {"run": _run(name, report), "metrics": per_metric,
            "heat": heat, "worst": worst_rows, "cases": [c.case for c in report.cases]}


def _comparison(base_name: str, base: Report, name: str, other: Report, metric: str) -> dict[str, Any]:
    """Per label, the paired change ``other - base`` over the case ids both scored, with its interval."""
    before = {lab.key: lab for lab in _labels(base)}
    rows = []
    for lab in _labels(other):
        old = before.get(lab.key)
        if old is None:
            continue
        a = {c: v for c, v in old.values.get(metric, [])}
        pairs = [(c, a[c], v) for c, v in lab.values.get(metric, []) if c in a
                 and math.isfinite(a[c]) and math.isfinite(v)]
        diffs = [v - u for _, u, v in pairs]
        lo, hi = bootstrap_ci(diffs)
        higher = _better(metric) is not False
        better = sum(1 for d in diffs if (d > 0 if higher else d < 0))
        worse = sum(1 for d in diffs if (d < 0 if higher else d > 0))
        changed = sorted(pairs, key=lambda t: (-abs(t[2] - t[1]), t[0]))[:CHANGED_SHOWN]
        rows.append({"label": lab.name, "n": len(pairs), "mean": num(float(np.mean(diffs))) if diffs else "n/a",
                     "ci": f"{num(lo)} to {num(hi)}", "better": better, "worse": worse,
                     "direction": _direction(lo, hi, higher),
                     "changed": [(c, num(u), num(v), num(v - u)) for c, u, v in changed]})
    common = {c.case for c in base.cases if c.error is None} & {c.case for c in other.cases if c.error is None}
    return {"base": base_name, "name": name, "metric": metric, "rows": rows, "n_common": len(common)}


def _direction(lo: float, hi: float, higher: bool) -> str:
    """``good``/``bad`` when the interval excludes 0 (by the metric's direction), else empty."""
    if math.isnan(lo) or lo <= 0 <= hi:
        return ""
    return "good" if (lo > 0) == higher else "bad"


def _named(reports: Mapping[str, Report] | Sequence[Report] | Report) -> list[tuple[str, Report]]:
    if isinstance(reports, Report):
        return [("report", reports)]
    if isinstance(reports, Mapping):
        return [(str(k), v) for k, v in reports.items()]
    items = list(reports)
    return [("report" if len(items) == 1 else f"report {i + 1}", r) for i, r in enumerate(items)]


def _bases(base_dirs: Mapping[str, PathLike] | Sequence[PathLike | None] | PathLike | None,
           names: Sequence[str]) -> list[Path | None]:
    if base_dirs is None:
        return [None] * len(names)
    if isinstance(base_dirs, (str, os.PathLike)):
        return [Path(base_dirs)] * len(names)
    if isinstance(base_dirs, Mapping):
        return [Path(base_dirs[n]) if base_dirs.get(n) is not None else None for n in names]
    dirs = list(base_dirs)
    if len(dirs) != len(names):
        raise OptionError(f"base_dirs: {len(dirs)} folders for {len(names)} reports; give one per report")
    return [Path(d) if d is not None else None for d in dirs]


def html_report(
    reports: Mapping[str, Report] | Sequence[Report] | Report,
    *,
    metric: str = "dice",
    worst: int = 5,
    overlays: bool = True,
    base_dirs: Mapping[str, PathLike] | Sequence[PathLike | None] | PathLike | None = None,
) -> str:
    """The HTML page of one or more reports: self-contained, offline, printable.

    Parameters
    ----------
    reports : Report, sequence of Report, or mapping of name to Report
        Several reports compare models: the first is the baseline of the
        paired changes. A sequence names them ``report 1``, ``report 2``...
    metric : str
        The main metric: the heat map's and the one that ranks the worst
        cases (their macro value over labels) and the paired change.
    worst : int
        How many worst cases to show per report (0: none).
    overlays : bool
        Draw slice overlays of the worst cases from the volumes the report names.
    base_dirs : path, sequence or mapping of paths, optional
        The folder relative volume paths of each report start from (the
        report file's folder); default: the working directory.

    Returns
    -------
    str
        The page. It names no URL: figures are inline SVG and PNG data URIs.

    Raises
    ------
    OptionError
        No report, ``worst`` negative, or ``metric`` in none of the reports.
    MissingDependencyError
        matplotlib or Jinja2 is not installed (``pip install 'segeval[report]'``).
    """
    named = _named(reports)
    if not named:
        raise OptionError("REPORT: give at least one report")
    if worst < 0:
        raise OptionError(f"--worst: expected 0 or more cases; got {worst}")
    if not any(metric in r.metrics for _, r in named):
        held = sorted({m for _, r in named for m in r.metrics})
        raise OptionError(f"--metric: {metric!r} is in none of the reports; they hold {', '.join(held) or 'none'}")
    from segeval.report import _plots

    jinja2 = _plots.require("jinja2")
    _plots.require("matplotlib")
    bases = _bases(base_dirs, [n for n, _ in named])
    sections = [_section(n, r, metric=metric, worst=worst, overlays=overlays, base=b)
                for (n, r), b in zip(named, bases)]
    for i, s in enumerate(sections):
        s["anchor"] = f"report-{i + 1}"
    comparisons = [_comparison(named[0][0], named[0][1], n, r, metric) for n, r in named[1:]]
    template = resources.files("segeval.report").joinpath("templates/report.html.j2").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    page: str = env.from_string(template).render(
        title="segeval report: " + ", ".join(n for n, _ in named), version=__version__, sections=sections,
        comparisons=comparisons, metric=metric, overlays=overlays,
        colours={"fn": _plots.FN_COLOUR, "fp": _plots.FP_COLOUR, "gt": _plots.GT_CONTOUR,
                 "pred": _plots.PRED_CONTOUR})
    return page


def write_html_report(path: PathLike, reports: Mapping[str, Report] | Sequence[Report] | Report, *,
                      option: str = "-o", **options: Any) -> None:
    """Write :func:`html_report` of ``reports`` to ``path`` whole or not at all.

    Parameters
    ----------
    path : path
        The HTML file (``-o``).
    reports : Report, sequence or mapping of Report
        As for :func:`html_report`.
    option : str
        The option that named ``path``, for error messages.
    **options
        :func:`html_report`'s keyword options.

    Raises
    ------
    OutputError
        ``-o`` cannot be written.
    """
    from segeval.report.writers import write_atomic

    write_atomic(os.fspath(path), html_report(reports, **options), option=option)
