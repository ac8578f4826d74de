"""Rich renderables for the terminal (built here, printed only by the CLI).

Colour means something: Dice-like scores under 0.5 are red, under 0.8
yellow; infinite distances red; NaN (class absent from both) dim.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from segeval.metrics.registry import METRICS
from segeval.records import CaseResult
from segeval.report.numbers import fmt_number
from segeval.summary import Report, macro, worst_cases

# Shown by default (fits 80 columns); every metric is in CSV/JSON/Markdown.
DEFAULT_TABLE_METRICS = ("dice", "iou", "precision", "recall")


def table_metrics(metrics: Sequence[str], explicit: bool) -> list[str]:
    """Columns for the table: what was asked for, or a compact default."""
    if explicit:
        return list(metrics)
    return [m for m in metrics if m in DEFAULT_TABLE_METRICS or METRICS[m].kind == "surface"]


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
    return Text(fmt_number(v, 2))


def short_name(metric: str) -> str:
    """A metric's column header (the registry's short name)."""
    spec = METRICS.get(metric)
    return spec.short if spec is not None else metric


def _ml(v: float) -> str:
    return fmt_number(v, 0 if v >= 100 else (1 if v >= 1 else 3))


def case_table(case: CaseResult, metrics: Sequence[str], *, title: str | None = None) -> Table:
    """One row per scored class, plus a macro row."""
    table = Table(title=title if title is not None else case.case, title_justify="left",
                  header_style="bold", show_edge=False, pad_edge=False, box=None)
    table.add_column("Label", justify="right", no_wrap=True)
    table.add_column("Name", overflow="ellipsis", max_width=16, no_wrap=True)
    for m in metrics:
        unit = METRICS[m].unit
        table.add_column(short_name(m) + (f" {unit}" if unit == "mm" else ""), justify="right",
                         no_wrap=True, min_width=5)
    table.add_column("GT ml", justify="right", no_wrap=True)
    table.add_column("Pred ml", justify="right", no_wrap=True)
    for r in case.labels:
        table.add_row(
            str(r["label"]), r.get("name") or "",
            *[cell(m, r.get(m)) for m in metrics],
            _ml(r["vol_gt_ml"]), _ml(r["vol_pred_ml"]),
        )
    table.add_section()
    table.add_row(Text("macro", style="bold"), "", *[cell(m, macro(case.labels, m)) for m in metrics], "", "")
    return table


def report_tables(report: Report, *, explicit_metrics: bool = False) -> list[Any]:
    """Renderables for every case of a report (errors as one red line each)."""
    metrics = table_metrics(report.metrics, explicit_metrics)
    out: list[Any] = []
    for case in report.cases:
        if case.error is not None:
            out.append(Text(f"{case.case}: {case.error}", style="red"))
        else:
            out.append(case_table(case, metrics))
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
    header = (
        f"{desc.get('path')}\n  shape {tuple(desc.get('shape', ()))}  dtype {desc.get('dtype')}  "
        f"spacing {tuple(round(float(s), 4) for s in desc.get('spacing_mm', ()))} mm  "
        f"orientation {''.join(c or '?' for c in desc.get('axcodes') or ()) or '?'}  "
        f"origin {tuple(round(float(o), 2) for o in desc.get('origin') or ())}"
    )
    return Text(header, style="bold")


def summary_tables(report: Report, *, explicit_metrics: bool) -> list[Any]:
    """A batch's per-label statistics table, the generalized Dice line and the five worst cases by macro Dice."""
    summary = report.summary()
    metrics = table_metrics(report.metrics, explicit_metrics)
    n_ok = summary["n_cases"] - summary["n_failed"]
    title = f"Summary over {n_ok} case{'s' if n_ok != 1 else ''}"
    if summary["n_failed"]:
        title += f" ({summary['n_failed']} failed)"
    table = Table(title=title, title_justify="left", header_style="bold", show_edge=False,
                  pad_edge=False, box=None, collapse_padding=True)
    table.add_column("Label", justify="right", no_wrap=True)
    table.add_column("Name", overflow="ellipsis", max_width=14, no_wrap=True)
    table.add_column("Metric", no_wrap=True)
    for name in ("Mean", "Std", "Median", "Min", "Max", "N", "NaN"):
        table.add_column(name, justify="right", no_wrap=True)
    stats = ("mean", "std", "median", "min", "max")
    for entry in summary["per_label"]:
        for i, m in enumerate(metrics):
            s = entry[m]
            table.add_row(
                str(entry["label"]) if i == 0 else "", (entry.get("name") or "") if i == 0 else "",
                short_name(m), *[cell(m, s[k]) for k in stats], str(s["n"]), str(s["n_nan"]),
            )
    table.add_section()
    for m in metrics:
        table.add_row(Text("macro", style="bold"), "", short_name(m), cell(m, summary["macro"][m]), *[""] * 6)
    gd = summary["generalized_dice"]
    num = {k: cell("dice", gd[k]).plain for k in stats}
    nan = f", {gd['n_nan']} NaN" if gd["n_nan"] else ""
    gd_line = Text(f"Generalized Dice: mean {num['mean']} ± {num['std']}, median {num['median']}, "
                   f"range {num['min']}–{num['max']}, {gd['n']} cases{nan}")
    out: list[Any] = [table, gd_line]
    worst = worst_cases(report.cases, metric="dice", n=5) if "dice" in report.metrics else []
    if worst:
        low = Table(title="Worst cases by macro Dice", title_justify="left", header_style="bold",
                    show_edge=False, pad_edge=False, box=None, collapse_padding=True)
        low.add_column("Case", no_wrap=True)
        low.add_column("Macro Dice", justify="right", no_wrap=True)
        low.add_column("Lowest class", overflow="ellipsis", no_wrap=True)
        for case, value in worst:
            lowest = min((r for r in case.labels if not math.isnan(r["dice"])), key=lambda r: r["dice"])
            label = f"{lowest['label']}" + (f" {lowest['name']}" if lowest.get("name") else "")
            low.add_row(case.case, cell("dice", value), f"{label}: {fmt_number(lowest['dice'], 3)}")
        out.append(low)
    return out
