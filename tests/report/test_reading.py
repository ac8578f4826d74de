"""segeval.report.reading: reading reports (JSON, JSON Lines, CSV, gzip) and one-line errors for bad ones."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import segeval
from segeval.errors import ReportError
from segeval.gate import judge, parse_check, report_values
from segeval.report.writers import to_csv, to_json
from segeval.summary import Report
from tests.gate._data import INF, NAN, dice_report, make_report, one


def _formats(tmp_path: Path, rep: Report) -> dict[str, Any]:
    (tmp_path / "r.json").write_text(to_json(rep))
    (tmp_path / "r.csv").write_text(to_csv(rep))
    d = rep.to_dict()
    lines = [json.dumps({"segeval_version": d["segeval_version"], "settings": d["settings"]})]
    lines += [json.dumps(c) for c in d["cases"]]
    lines.append(json.dumps({"summary": d["summary"]}))  # a finished batch's last line
    (tmp_path / "r.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "r.json.gz").write_bytes(gzip.compress(to_json(rep).encode()))
    return {"report": rep, "dict": d, "json": tmp_path / "r.json", "csv": str(tmp_path / "r.csv"),
            "jsonl": tmp_path / "r.jsonl", "gz": tmp_path / "r.json.gz"}


@pytest.mark.parametrize("fmt", ["report", "dict", "json", "csv", "jsonl", "gz"])
def test_every_format_gives_the_same_answer(tmp_path: Path, fmt: str) -> None:
    rep = make_report({
        "a": {1: {"dice": 0.9, "hd95": 1.0}, 2: {"dice": NAN, "hd95": NAN}},
        "b": {1: {"dice": 0.0, "hd95": INF}, 2: {"dice": 0.7, "hd95": 3.0}},
        "c": "missing prediction",
    })
    src = _formats(tmp_path, rep)[fmt]
    res = judge(src, [parse_check("dice:liver=0.4"), parse_check("dice=0.5"),
                      parse_check("hd95:spleen=3", kind="max"), parse_check("hd95:1=5", kind="max")])
    assert [c.passed for c in res.checks] == [True, True, True, False]
    assert res.checks[0].value == pytest.approx(0.45)
    assert res.checks[1].value == pytest.approx((0.9 + 0.35) / 2)
    assert res.checks[2].n_nan == 1
    assert res.checks[3].value == INF
    assert res.failed_cases == [("c", "missing prediction")]
    assert res.checks[0].label_text == "1 (liver)"


def test_real_scored_report_round_trips(tmp_path: Path) -> None:
    gt = np.zeros((12, 12, 12), np.uint8)
    gt[2:6, 2:6, 2:6] = 1
    gt[7:11, 7:11, 7:11] = 2
    pred = gt.copy()
    pred[2:3] = 0
    rep = segeval.score(pred, gt, labels={"liver": 1, "spleen": 2}, metrics=["dice", "hd95"], spacing_mm=(1, 1, 1))
    (tmp_path / "s.json").write_text(to_json(rep))
    (tmp_path / "s.csv").write_text(to_csv(rep))
    for src in (rep, tmp_path / "s.json", tmp_path / "s.csv"):
        res = judge(src, [parse_check("dice:liver=0.85"), parse_check("dice:spleen=1"),
                          parse_check("hd95:2=0", kind="max")])
        assert [c.passed for c in res.checks] == [True, True, True]
        assert res.checks[0].value == pytest.approx(0.75 * 2 / 1.75)


def test_jsonl_named_file_holding_one_json_document(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    p.write_text(to_json(dice_report([0.9, 0.7])))
    assert one(judge(p, [parse_check("dice=0.8")])).value == pytest.approx(0.8)


def test_batch_journal_is_readable(tmp_path: Path) -> None:
    p = tmp_path / "results.json.partial.jsonl"
    rep = dice_report([0.9, 0.7])
    lines = [json.dumps({"segeval_journal": 1, "segeval_version": "0", "settings": rep.settings})]
    lines += [json.dumps(c.to_dict(), allow_nan=True) for c in rep.cases]
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReportError, match=r"the report is incomplete \(it is the journal of a batch"):
        judge(p, [parse_check("dice:liver=0.8")])
    assert one(judge(p, [parse_check("dice:liver=0.8")], allow_partial=True)).n == 2


def test_jsonl_truncated_last_line_is_a_note(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    p.write_text('{"segeval_version": "0", "settings": {}}\n'
                 '{"case": "a", "error": null, "labels": [{"label": 1, "dice": 0.9}]}\n'
                 '{"case": "b", "error": null, "labels": [{"lab')
    data = report_values(p)
    assert data.cases == ["a"] and "line 3 is incomplete" in data.notes[0]


def test_jsonl_duplicate_case_last_wins(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    p.write_text('{"case": "a", "error": "crashed", "labels": []}\n'
                 '{"case": "a", "error": null, "labels": [{"label": 1, "dice": 0.9}]}\n')
    data = report_values(p)
    assert data.cases == ["a"] and data.failed == {} and "more than once" in data.notes[0]


def test_json_named_file_holding_json_lines(tmp_path: Path) -> None:
    p = tmp_path / "r.json"
    p.write_text('{"case": "a", "labels": [{"label": 1, "dice": 0.9}]}\n'
                 '{"case": "b", "labels": [{"label": 1, "dice": 0.7}]}\n')
    assert one(judge(p, [parse_check("dice=0.8")])).value == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        pytest.param("missing.json", None, "no such report file", id="missing"),
        pytest.param("empty.json", "", "is empty", id="empty"),
        pytest.param("blank.csv", "\n  \n", "is empty", id="blank"),
        pytest.param("bad.json", '{"cases": [', "not valid JSON", id="garbled-json"),
        pytest.param("other.json", '{"foo": 1}', "not a segeval report", id="json-not-report"),
        pytest.param("nnunet.json", '{"metric_per_case": []}', "has no cases", id="nnunet-summary-empty"),
        pytest.param("nnunet2.json", '{"metric_per_case": [{"metrics": 1}]}', "has no \"metrics\" table",
                     id="nnunet-summary-bad-entry"),
        pytest.param("nocases.json", '{"cases": []}', "no cases", id="no-cases"),
        pytest.param("noid.json", '{"cases": [{"labels": []}]}', "no \"case\" id", id="case-without-id"),
        pytest.param("badval.json", '{"cases": [{"case": "a", "labels": [{"label": 1, "dice": "high"}]}]}',
                     "case a, label 1, dice: 'high' is not a number", id="bad-json-number"),
        pytest.param("bad.jsonl", '{"case": "a"}\nnot json\n{"case": "b"}\n', "line 2 is not valid JSON",
                     id="garbled-jsonl"),
        pytest.param("x.csv", "foo,bar\n1,2\n", "no \"case\" column", id="csv-not-report"),
        pytest.param("summary.csv", "label,name,metric,mean,std\n1,liver,dice,0.9,0.1\n", "summary table",
                     id="csv-summary"),
        pytest.param("nolabel.csv", "case,dice\na,0.9\n", "no \"label\" column", id="csv-no-label"),
        pytest.param("header.csv", "case,label,name,dice\n", "no cases", id="csv-header-only"),
        pytest.param("num.csv", "case,label,name,dice\na,1,liver,abc\n", "line 2, column dice: 'abc'",
                     id="csv-bad-number"),
        pytest.param("ragged.csv", "case,label,name,dice\na,1\nb,1,liver,0.9\n", "line 2 has 2 fields",
                     id="csv-ragged"),
        pytest.param("bin.json", b"\xff\xfe\x00\x01garbage", "not UTF-8", id="binary"),
        pytest.param("bad.json.gz", b"\x1f\x8b\x08\x00garbage", "gzip", id="corrupt-gzip"),
    ],
)
def test_bad_reports_are_one_line_errors_naming_the_file(
    tmp_path: Path, name: str, content: str | bytes | None, match: str
) -> None:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    elif content is not None:
        p.write_text(content)
    with pytest.raises(ReportError, match=match) as info:
        report_values(p)
    msg = str(info.value)
    assert msg.startswith(str(p)) and "\n" not in msg


def test_report_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="is a folder"):
        report_values(tmp_path)


def test_csv_truncated_last_line_is_a_note(tmp_path: Path) -> None:
    p = tmp_path / "r.csv"
    p.write_text("case,label,name,dice,error\na,1,liver,0.9,\nb,1,li")
    data = report_values(p)
    assert data.cases == ["a"] and data.notes
