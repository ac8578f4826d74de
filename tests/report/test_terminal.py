"""segeval.report.terminal and segeval.report.fitting: tables that never cut a number; the batch summary."""

from __future__ import annotations

import io
import math
import re

import pytest
from rich.console import Console
from rich.text import Text

from segeval.errors import OptionError
from segeval.records import CaseResult
from segeval.report.fitting import Column, fitted_tables
from segeval.report.overview import dice_with_failed_as_zero, distance_stats, parse_by, worst_by
from segeval.report.terminal import stat_cell, summary_tables
from segeval.report.writers import render, render_summary
from segeval.settings import ScoreSettings
from segeval.summary import Report


def _render(renderables: list[object], width: int) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None)
    for r in renderables:
        console.print(r)
    return buf.getvalue()


def _record(label: int, dice: float, hd95: float = 1.0) -> dict[str, object]:
    return {"label": label, "name": f"organ_{label}", "dice": dice, "hd95": hd95, "tp": 1, "fp": 0, "fn": 0,
            "tn": 1, "vol_pred_ml": 1.0, "vol_gt_ml": 1.0}


def _report(cases: list[CaseResult], metrics: str = "dice,hd95") -> Report:
    settings = ScoreSettings(metrics=tuple(metrics.split(","))).to_dict()
    return Report(settings=settings, cases=cases)


@pytest.mark.parametrize("width", [30, 60, 80, 200], ids=lambda w: f"w{w}")
def test_folded_tables_keep_every_cell_and_column(width: int) -> None:
    numbers = [f"{1234.5678 * (i + 1):.4f}" for i in range(12)]
    cols = [Column("Label", ["1"], key=True), Column("Name", ["a_rather_long_class_name"], justify="left",
                                                    key=True, fold=True)]
    cols += [Column(f"M{i}", [n]) for i, n in enumerate(numbers)]
    text = _render(fitted_tables(cols, width=width, title="t"), width)
    for i, n in enumerate(numbers):
        assert n in text and f"M{i}" in text, (n, text)
    assert "…" not in text
    if width >= 60:
        assert all(len(line) <= width for line in text.splitlines())
    whole = _render(fitted_tables(cols, width=None, title="t"), 100_000)
    wide = max(len(line) for line in whole.splitlines())
    if 60 <= width < wide:
        assert text.count("Label") >= 2  # folded: the key columns repeat in each block
    elif width >= wide:
        assert text == whole  # it fits: one table, as wide as its content


def test_unbounded_width_is_one_table_as_wide_as_its_content() -> None:
    cols = [Column("Label", ["1"], key=True)] + [Column(f"M{i}", ["0.123456"]) for i in range(30)]
    text = _render(fitted_tables(cols, width=None), 100_000)
    assert text.count("Label") == 1 and max(len(line) for line in text.splitlines()) == 5 + 30 * (8 + 2)


def test_only_the_score_is_coloured_not_its_spread() -> None:
    cell = stat_cell("dice", 0.3, 0.2)
    assert cell.plain == "0.300 ± 0.200"
    styled = {cell.plain[s.start:s.end]: str(s.style) for s in cell.spans}
    assert styled == {"0.300": "red"}


def test_distance_mean_is_finite_with_the_infinities_counted() -> None:
    assert distance_stats([1.0, 3.0, math.inf, math.nan]) == {"mean": 2.0, "std": 1.0, "n": 2, "n_inf": 1}
    cases = [CaseResult("a", labels=[_record(1, 0.9, 1.0)]), CaseResult("b", labels=[_record(1, 0.8, math.inf)])]
    text = _render(summary_tables(_report(cases), explicit_metrics=True), 200)
    assert "1.00 (1 inf)" in text and "--inf-distance" in text


def test_past_20_labels_the_10_best_and_10_worst_and_a_count() -> None:
    labels = [_record(k, k / 100) for k in range(1, 31)]
    text = _render(summary_tables(_report([CaseResult("a", labels=labels)]), explicit_metrics=True), 200)
    shown = [int(m) for m in re.findall(r"^\s*(\d+)\s+organ_", text, flags=re.MULTILINE)]
    assert shown == [*range(30, 20, -1), *range(10, 0, -1)]
    assert "10 more labels" in text and "10 best and 10 worst of 30 labels" in text


def test_failed_cases_are_said_with_the_dice_they_would_give_as_zero() -> None:
    cases = [CaseResult("a", labels=[_record(1, 0.8), _record(2, 0.6)]), CaseResult("b", error="unreadable")]
    report = _report(cases)
    assert dice_with_failed_as_zero(report, report.summary()) == pytest.approx(0.35)
    text = _render(summary_tables(report, explicit_metrics=True), 200)
    assert "1 case failed or had no prediction" in text and "would be 0.350" in text
    assert "failed_as_zero,,dice,0.35" in render_summary(report, "csv")


def test_worst_by_a_distance_of_one_label_ranks_the_highest_first() -> None:
    cases = [CaseResult(c, labels=[_record(1, 0.9, h), _record(2, 0.5, 1.0)])
             for c, h in (("a", 2.0), ("b", math.inf), ("c", 5.0))]
    report = _report(cases)
    ranked = worst_by(report, parse_by("hd95:organ_1", report.metrics), 2)
    assert [(c.case, v) for c, v, _ in ranked] == [("b", math.inf), ("c", 5.0)]
    assert "worst,b,hd95:organ_1,inf" in render_summary(report, "csv", by="hd95:organ_1", worst=2)
    with pytest.raises(OptionError, match="--by nsd"):
        parse_by("nsd", report.metrics)


def test_summary_files_have_macro_and_micro_rows() -> None:
    report = _report([CaseResult("a", labels=[_record(1, 0.8), _record(2, 0.6)])])
    csv_rows = render_summary(report, "csv").splitlines()
    assert any(r.startswith("macro,,dice,0.7") for r in csv_rows) and any(r.startswith("micro,,dice,") for r in csv_rows)
    md = render_summary(report, "md")
    assert "| **macro** |" in md and "| **micro** |" in md and "dice mean ± std" in md


def test_tsv_has_one_row_per_case_and_label() -> None:
    cases = [CaseResult("a", labels=[_record(1, 0.8), _record(2, 0.6)]), CaseResult("b", error="bad\tfile")]
    lines = render(_report(cases), "tsv").splitlines()
    assert lines[0].split("\t")[:4] == ["case", "label", "name", "dice"]
    assert [line.split("\t")[0] for line in lines[1:]] == ["a", "a", "b"]
    assert lines[-1].split("\t")[-1] == "bad file"
    single = render(_report(cases[:1]), "tsv").splitlines()
    assert single[0].startswith("label\tname\tdice") and len(single) == 3


def test_a_name_folds_but_a_number_never_does() -> None:
    cols = [Column("Label", ["1"], key=True), Column("Name", ["x" * 40], justify="left", key=True, fold=True),
            Column("HD95", [Text("123456.78")]), Column("NSD@1mm", ["0.999"])]
    text = _render(fitted_tables(cols, width=30), 30)
    assert "123456.78" in text and "0.999" in text and all(len(line) <= 30 for line in text.splitlines())
