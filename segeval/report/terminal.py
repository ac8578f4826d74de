"""Rich renderables for the terminal (built here, printed only by the CLI).

Colour means something: Dice-like scores under 0.5 are red, under 0.8
yellow; infinite distances red; NaN (class absent from both) dim. Only score
cells are coloured, never a spread or a count.

Every table is measured from its content and laid out by
:func:`segeval.report.fitting.fitted_tables`: whole when it fits the
terminal (or stdout is not one, ``width=None``), else folded into blocks
that repeat Label and Name. No number is ever cut and no column dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from segeval.metrics.registry import METRICS
from segeval.records import CaseResult
from segeval.report.fitting import Column, fitted_tables
from segeval.report.numbers import fmt_number
from segeval.summary import Report, macro

__all__ = ["DEFAULT_TABLE_METRICS", "cell", "header", "info_header", "info_table", "report_tables",
           "short_name", "table_metrics"]

# Shown by default; every metric is in CSV/JSON/Markdown.
DEFAULT_TABLE_METRICS = ("dice", "iou", "precision", "recall")


def table_metrics(metrics: Sequence[str], explicit: bool) -> list[str]:
    """Columns for the table: what was asked for, or a compact default."""
    if explicit:
        return list(metrics)
    return [m for m in metrics if m in DEFAULT_TABLE_METRICS or METRICS[m].kind in ("surface", "lesion")]


def cell(metric: str, value: Any) -> Text:
    """A coloured cell for one metric value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Text("—", style="dim")
    v = float(value)
    spec = METRICS.get(metric)
    if math.isinf(v):
        return Text(fmt_number(v), style="bold red")
    if spec is not None and spec.unit == "" and spec.higher_is_better:
        style = "red" if v < 0.5 else ("yellow" if v < 0.8 else "green")
        return Text(fmt_number(v, 3), style=style)
    if spec is not None and spec.unit == "lesions" and v.is_integer():
        return Text(str(int(v)))  # a count of one case (a mean over cases keeps its decimals)
    return Text(fmt_number(v, 2))


def short_name(metric: str) -> str:
    """A metric's column header (the registry's short name)."""
    spec = METRICS.get(metric)
    return spec.short if spec is not None else metric


def header(metric: str, settings: dict[str, Any]) -> str:
    """A metric's abbreviated header for this run: ``HD95`` (``HD99`` at --percentile 99), ``NSD@1mm``."""
    if metric == "nsd":
        return f"NSD@{fmt_number(float(settings.get('tolerance_mm', 1.0)), 6, significant=True)}mm"
    percentile = float(settings.get("percentile", 95.0))
    if metric in ("hd95", "hd95_pooled") and percentile != 95.0:
        p = fmt_number(percentile, 6, significant=True)
        return f"HD{p}" + ("p" if metric == "hd95_pooled" else "")
    return short_name(metric)


def units_caption(metrics: Sequence[str], *, volumes: bool = False) -> str | None:
    """The line under a table saying the units: distances in mm (and volumes in ml)."""
    parts = []
    distances = [m for m in metrics if METRICS[m].unit == "mm"]
    if distances:
        parts.append(f"{', '.join(short_name(m) for m in distances)} in mm")
    if volumes:
        parts.append("volumes in ml")
    return "; ".join(parts) or None


def _ml(v: float) -> str:
    return fmt_number(v, 0 if v >= 100 else (1 if v >= 1 else 3))


def case_table(case: CaseResult, metrics: Sequence[str], *, settings: dict[str, Any] | None = None,
               width: int | None = None, title: str | None = None) -> list[Any]:
    """One row per scored class, plus a macro row, fitted to ``width`` (None: as wide as it needs)."""
    settings = settings or {}
    rows = list(case.labels)
    cols = [
        Column("Label", [*(str(r["label"]) for r in rows), Text("macro", style="bold")], key=True),
        Column("Name", [*(r.get("name") or "" for r in rows), ""], justify="left", key=True, fold=True),
    ]
    for m in metrics:
        cols.append(Column(header(m, settings), [*(cell(m, r.get(m)) for r in rows), cell(m, macro(rows, m))]))
    cols.append(Column("GT ml", [*(_ml(r["vol_gt_ml"]) for r in rows), ""]))
    cols.append(Column("Pred ml", [*(_ml(r["vol_pred_ml"]) for r in rows), ""]))
    return fitted_tables(cols, width=width, title=title if title is not None else case.case,
                         caption=units_caption(metrics, volumes=True), sections=[len(rows)])


def report_tables(report: Report, *, explicit_metrics: bool = False, width: int | None = None) -> list[Any]:
    """Renderables for every case of a report (errors as one red line each).

    ``width`` is the terminal's; None when stdout is a file or a pipe (every table whole).
    """
    metrics = table_metrics(report.metrics, explicit_metrics)
    out: list[Any] = []
    for case in report.cases:
        if case.error is not None:
            out.append(Text(f"{case.case}: {case.error}", style="red"))
        else:
            out.extend(case_table(case, metrics, settings=report.settings, width=width))
    return out


def info_table(desc: dict[str, Any]) -> Table:
    """The label census of one volume (from :func:`segeval.info.describe`)."""
    table = Table(title=str(desc.get("path", "")), title_justify="left", show_edge=False, box=None,
                  header_style="bold")
    named = "label_map" in desc
    table.add_column("Label", justify="right")
    if named:
        table.add_column("Name")
    table.add_column("Voxels", justify="right")
    table.add_column("ml", justify="right")
    for row in desc.get("census") or []:
        name: list[Any] = []
        if named:
            name = [row.get("name") or "" if row.get("declared", True) else Text("not in the label map", style="red")]
        table.add_row(str(row["label"]), *name, f"{row['voxels']:,}", fmt_number(row["ml"], 2))
    return table


def info_header(desc: dict[str, Any]) -> Text:
    """The header lines of one volume in ``segeval info``: path, shape, dtype, spacing, orientation, origin."""
    head = (
        f"{desc.get('path')}\n  shape {tuple(desc.get('shape', ()))}  dtype {desc.get('dtype')}  "
        f"spacing {tuple(round(float(s), 4) for s in desc.get('spacing_mm', ()))} mm  "
        f"orientation {''.join(c or '?' for c in desc.get('axcodes') or ()) or '?'}  "
        f"origin {tuple(round(float(o), 2) for o in desc.get('origin') or ())}"
    )
    return Text(head, style="bold")


def _is_distance(metric: str) -> bool:
    return METRICS[metric].unit == "mm" if metric in METRICS else False


def _is_count(metric: str) -> bool:
    """A detection count (lesion TP/FP/FN): summed over cases in a summary, not averaged."""
    return metric in METRICS and METRICS[metric].unit == "lesions"


def _digits(metric: str) -> int:
    return 2 if _is_distance(metric) else 3


def stat_cell(metric: str, mean: Any, std: Any = None, n_inf: int = 0) -> Text:
    """``mean ± std``: only the mean coloured (as a score), ``(k inf)`` after a distance's finite mean."""
    score = cell(metric, mean)
    text = Text()
    text.append(score.plain, style=score.style)  # a span: the spread after it stays plain
    if std is not None and not (isinstance(std, float) and math.isnan(std)) and score.plain != "—":
        text.append(f" ± {fmt_number(float(std), _digits(metric))}")
    if n_inf:
        text.append(f" ({n_inf} inf)", style="red")
    return text


def _label_stats(report: Report, summary: dict[str, Any], metrics: Sequence[str]) -> dict[Any, dict[str, Any]]:
    """Per label key and metric: the summary's stats, a distance's mean and std over its finite values."""
    from segeval.report.overview import distance_stats, label_values

    values = label_values(report)
    out: dict[Any, dict[str, Any]] = {}
    for entry in summary["per_label"]:
        per: dict[str, Any] = {}
        for m in metrics:
            s = dict(entry[m])
            s["n_inf"] = 0
            if _is_distance(m):
                d = distance_stats(values.get(entry["label"], {}).get(m, []))
                s.update(mean=d["mean"], std=d["std"], n_inf=d["n_inf"])
            per[m] = s
        out[entry["label"]] = per
    return out


def summary_tables(
    report: Report,
    *,
    explicit_metrics: bool,
    width: int | None = None,
    verbose: bool = False,
    worst: int = 5,
    by: str | None = None,
) -> list[Any]:
    """A batch's summary: one row per label, a ``mean ± std`` column per metric, macro and micro rows.

    Parameters
    ----------
    report : Report
        The batch's report.
    explicit_metrics : bool
        ``--metrics`` was given: every metric is a column (else the compact default).
    width : int or None
        The terminal's width; None when stdout is a file or a pipe.
    verbose : bool
        Also the median, min and n of each metric.
    worst : int
        Cases in the worst-cases block (0: none).
    by : str or None
        ``--by METRIC[:LABEL]``: what ranks them; default the macro Dice.

    Notes
    -----
    Past 20 labels, the 10 best and the 10 worst by the first metric's mean
    are shown, with a row counting the rest. A distance's mean is over its
    finite values, with the number of infinite ones beside it and a line on
    ``--inf-distance``. When cases failed, a line says what the mean Dice
    would be with them counted as 0 for every label.
    """
    from segeval.report.overview import best_and_worst, dice_with_failed_as_zero, parse_by, worst_by

    summary = report.summary()
    metrics = table_metrics(report.metrics, explicit_metrics)
    stats = _label_stats(report, summary, metrics)
    for entry in summary.get("lesions", []):  # detection counts: their totals over cases
        for m in metrics:
            if _is_count(m):
                stats[entry["label"]][m]["total"] = entry.get(m, "")
    shown, hidden = best_and_worst(summary["per_label"], metrics[0]) if metrics else (summary["per_label"], 0)
    n_ok = summary["n_cases"] - summary["n_failed"]
    title = f"Summary over {n_ok} case{'s' if n_ok != 1 else ''}"
    if summary["n_failed"]:
        title += f" ({summary['n_failed']} failed)"
    if hidden:
        title += (f": the 10 best and 10 worst of {len(summary['per_label'])} labels by mean "
                  f"{short_name(metrics[0])}")
    rows: list[tuple[Text | str, Text | str, dict[str, Any] | None]] = []
    for i, e in enumerate(shown):
        if hidden and i == len(shown) // 2:
            rows.append(("…", Text(f"{hidden} more labels", style="dim"), None))
        rows.append((str(e["label"]), e.get("name") or "", stats[e["label"]]))
    cols = [Column("Label", [r[0] for r in rows], key=True), Column("Name", [r[1] for r in rows], justify="left",
                                                                     key=True, fold=True)]
    for m in metrics:
        h = header(m, report.settings)
        blank = Text("")
        if _is_count(m):
            cols.append(Column(h, [Text(str(s[m].get("total", ""))) if s else blank for *_, s in rows]))
        else:
            cols.append(Column(h, [stat_cell(m, s[m]["mean"], s[m]["std"], s[m]["n_inf"]) if s else blank
                                   for *_, s in rows]))
        if verbose:
            cols.append(Column(f"{h} median", [cell(m, s[m]["median"]) if s else blank for *_, s in rows]))
            cols.append(Column(f"{h} min", [cell(m, s[m]["min"]) if s else blank for *_, s in rows]))
            cols.append(Column(f"{h} n", [str(s[m]["n"]) if s else "" for *_, s in rows]))
    # macro and micro rows
    cols[0].cells += [Text("macro", style="bold"), Text("micro", style="bold")]
    cols[1].cells += ["", ""]
    for col in cols[2:]:
        col.cells += ["", ""]
    i = 2
    for m in metrics:
        n_inf = sum(s[m]["n_inf"] for s in stats.values())
        mac = (_finite_macro(stats, m) if _is_distance(m) else summary["macro"][m])
        cols[i].cells[-2] = (Text(str(sum(int(s[m].get("total") or 0) for s in stats.values())), style="bold")
                             if _is_count(m) else stat_cell(m, mac, None, n_inf))
        cols[i].cells[-1] = cell(m, summary["micro"][m]) if m in summary["micro"] else Text("")
        i += 4 if verbose else 1
    caption = units_caption(metrics)
    caption = "mean ± std over cases" + (f"; {caption}" if caption else "")
    counted = [header(m, report.settings) for m in metrics if _is_count(m)]
    if counted:
        caption += f"; {', '.join(counted)}: lesions summed over cases (macro: over labels)"
    out: list[Any] = fitted_tables(cols, width=width, title=title, caption=caption, sections=[len(rows)])
    out += _summary_lines(report, summary, metrics, stats)
    failed_zero = dice_with_failed_as_zero(report, summary)
    if failed_zero is not None:
        k = summary["n_failed"]
        out.append(Text(f"{k} case{'s' if k != 1 else ''} failed or had no prediction (left out of the means); "
                        f"counted as 0 for every label, the mean Dice would be {fmt_number(failed_zero, 3)}",
                        style="yellow"))
    spec = parse_by(by, report.metrics)
    ranked = worst_by(report, spec, worst) if worst > 0 and spec.metric in report.metrics else []
    if ranked:
        h = spec.title()
        case_col = Column("Case", [c.case for c, _, _ in ranked], justify="left", key=True)
        value_col = Column(h[0].upper() + h[1:], [cell(spec.metric, v) for _, v, _ in ranked])
        low: list[Column] = [case_col, value_col]
        if spec.label is None:
            low.append(Column("Worst class", [
                "" if r is None else f"{r['label']}" + (f" {r['name']}" if r.get("name") else "")
                + f": {fmt_number(float(r[spec.metric]), _digits(spec.metric))}" for _, _, r in ranked],
                justify="left", fold=True))
        out += fitted_tables(low, width=width, title=f"Worst cases by {h}")
    return out


def _finite_macro(stats: dict[Any, dict[str, Any]], metric: str) -> float:
    return macro(({metric: s[metric]["mean"]} for s in stats.values()), metric)


def _summary_lines(report: Report, summary: dict[str, Any], metrics: Sequence[str],
                   stats: dict[Any, dict[str, Any]]) -> list[Any]:
    gd = summary["generalized_dice"]
    num = {k: fmt_number(gd[k], 3, nan="NaN") for k in ("mean", "std", "median", "min", "max")}
    nan = f", {gd['n_nan']} NaN" if gd["n_nan"] else ""
    out: list[Any] = [Text(f"Generalized Dice: mean {num['mean']} ± {num['std']}, median {num['median']}, "
                           f"range {num['min']}–{num['max']}, {gd['n']} cases{nan}")]
    infs = {m: sum(s[m]["n_inf"] for s in stats.values()) for m in metrics if _is_distance(m)}
    if any(infs.values()):
        which = ", ".join(f"{short_name(m)} {k}" for m, k in infs.items() if k)
        out.append(Text(f"Infinite distances (a class empty in the prediction or the GT): {which}; the means are "
                        "over the finite values. --inf-distance diagonal|MM scores them as a distance.",
                        style="dim"))
    return out
