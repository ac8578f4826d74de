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
from segeval.report.schema import CaseResult, Report
from segeval.report.writers import report_macro

_SHORT = {
    "dice": "Dice", "iou": "IoU", "tversky": "Tversky", "precision": "Prec", "recall": "Recall",
    "specificity": "Spec", "volume_similarity": "VolSim", "hd": "HD", "hd95": "HD95",
    "hd95_pooled": "HD95p", "assd": "ASSD", "masd": "MASD", "nsd": "NSD",
}
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
        return Text("inf", style="bold red")
    if spec is not None and spec.unit == "mm":
        return Text(f"{v:.2f}")
    if spec is not None and spec.unit == "" and spec.higher_is_better:
        style = "red" if v < 0.5 else ("yellow" if v < 0.8 else "green")
        return Text(f"{v:.3f}", style=style)
    return Text(f"{v:.2f}")


def _ml(v: float) -> str:
    return f"{v:.0f}" if v >= 100 else (f"{v:.1f}" if v >= 1 else f"{v:.3f}")


def case_table(case: CaseResult, metrics: Sequence[str], *, title: str | None = None) -> Table:
    """One row per scored class, plus a macro row."""
    table = Table(title=title if title is not None else case.case, title_justify="left",
                  header_style="bold", show_edge=False, pad_edge=False, box=None)
    table.add_column("Label", justify="right", no_wrap=True)
    table.add_column("Name", overflow="ellipsis", max_width=16, no_wrap=True)
    for m in metrics:
        unit = METRICS[m].unit
        table.add_column(_SHORT.get(m, m) + (f" {unit}" if unit == "mm" else ""), justify="right",
                         no_wrap=True, min_width=5)
    table.add_column("GT ml", justify="right", no_wrap=True)
    table.add_column("Pred ml", justify="right", no_wrap=True)
    for r in case.labels:
        table.add_row(
            str(r["label"]), r.get("name") or "",
            *[cell(m, r.get(m)) for m in metrics],
            _ml(r["vol_gt_ml"]), _ml(r["vol_pred_ml"]),
        )
    macro = report_macro(case.labels, metrics)
    table.add_section()
    table.add_row(Text("macro", style="bold"), "", *[cell(m, macro[m]) for m in metrics], "", "")
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
    """Header fields and the label census of one volume (from :func:`segeval.info.describe`)."""
    table = Table(title=str(desc.get("path", "")), title_justify="left", show_edge=False, box=None,
                  header_style="bold")
    table.add_column("Label", justify="right")
    table.add_column("Voxels", justify="right")
    table.add_column("ml", justify="right")
    for row in desc.get("census") or []:
        table.add_row(str(row["label"]), f"{row['voxels']:,}", f"{row['ml']:.2f}")
    return table
