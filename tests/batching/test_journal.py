"""segeval.batching.journal: streaming results to a journal, and resuming from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from segeval.batching import ResultStream, journal_path, load_finished
from segeval.errors import ReportError
from segeval.records import CaseResult
from segeval.report.writers import to_json
from segeval.settings import ScoreSettings
from segeval.summary import Report
from tests.batching._data import _scored


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "md"])
def test_stream_then_finish_writes_the_report_and_removes_the_journal(tmp_path: Path, fmt: str) -> None:
    results, settings = _scored(tmp_path)
    out = tmp_path / f"results.{fmt}"
    stream = ResultStream(out, fmt, settings.to_dict())
    for r in reversed(results):
        stream.add(r)
    lines = journal_path(out).read_text().splitlines()
    assert json.loads(lines[0])["settings"] == json.loads(json.dumps(settings.to_dict()))
    assert [json.loads(line)["case"] for line in lines[1:]] == [r.case for r in reversed(results)]
    if fmt == "csv":  # rows appended as cases finish
        assert out.read_text().count("\n") == 1 + sum(len(r.labels) for r in results)
    if fmt == "jsonl":  # the output itself grows a line per case, as the journal does
        streamed = out.read_text().splitlines()
        assert json.loads(streamed[0])["settings"] == json.loads(lines[0])["settings"]
        assert streamed[1:] == lines[1:]
    report = Report(settings=settings.to_dict(), cases=results)
    stream.finish(report)
    assert not journal_path(out).exists()
    from segeval.report.writers import render

    assert out.read_text() == render(report, fmt)


def test_resume_reads_the_journal_and_ignores_a_torn_last_line(tmp_path: Path) -> None:
    results, settings = _scored(tmp_path)
    out = tmp_path / "results.json"
    stream = ResultStream(out, "json", settings.to_dict())
    for r in results[:3]:
        stream.add(r)
    stream.close()
    with journal_path(out).open("a") as fh:
        fh.write(json.dumps(results[3].to_dict())[:40])  # killed mid-write
    kept = load_finished(out, settings.to_dict(), fmt="json")
    assert [c.case for c in kept] == [r.case for r in results[:3]]
    assert to_json(Report(settings.to_dict(), kept)) == to_json(Report(settings.to_dict(), results[:3]))


def test_resume_keeps_successes_only_and_the_last_record_of_a_case(tmp_path: Path) -> None:
    results, settings = _scored(tmp_path)
    out = tmp_path / "results.csv"
    stream = ResultStream(out, "csv", settings.to_dict())
    stream.add(CaseResult(case=results[0].case, error="ReadError: flaky disk"))
    stream.add(CaseResult(case=results[1].case, error="ReadError: flaky disk"))
    stream.add(results[1])
    stream.close()
    kept = load_finished(out, settings.to_dict(), fmt="csv")
    assert [c.case for c in kept] == [results[1].case]


def test_resume_refuses_other_settings(tmp_path: Path) -> None:
    results, settings = _scored(tmp_path)
    out = tmp_path / "results.json"
    with ResultStream(out, "json", settings.to_dict()) as stream:
        stream.add(results[0])
    other = ScoreSettings(alpha=0.5)
    with pytest.raises(ReportError, match=r"other settings \(alpha 0.3 there, 0.5 now\)"):
        load_finished(out, other.to_dict(), fmt="json")


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_resume_reads_a_finished_report(tmp_path: Path, fmt: str) -> None:
    results, settings = _scored(tmp_path)
    out = tmp_path / f"results.{fmt}"
    stream = ResultStream(out, fmt, settings.to_dict())
    report = Report(settings=settings.to_dict(), cases=results)
    stream.finish(report)
    kept = sorted(load_finished(out, settings.to_dict(), fmt=fmt), key=lambda c: c.case)
    again = Report(settings=settings.to_dict(), cases=kept)
    assert to_json(again) == to_json(report)


def test_an_interrupted_csv_run_resumes_from_its_journal(tmp_path: Path) -> None:
    results, settings = _scored(tmp_path)
    out = tmp_path / "results.csv"
    stream = ResultStream(out, "csv", settings.to_dict())
    for r in results[:2]:
        stream.add(r)
    stream.close()
    kept = sorted(load_finished(out, settings.to_dict(), fmt="csv"), key=lambda c: c.case)
    assert to_json(Report(settings=settings.to_dict(), cases=kept)) == to_json(
        Report(settings=settings.to_dict(), cases=results[:2]))
    with pytest.raises(ReportError, match=r"other settings \(alpha 0.3 there, 0.9 now\)"):
        load_finished(out, ScoreSettings(alpha=0.9).to_dict(), fmt="csv")


def test_resume_of_a_finished_jsonl_refuses_other_settings_and_other_files(tmp_path: Path) -> None:
    results, settings = _scored(tmp_path)
    out = tmp_path / "results.jsonl"
    ResultStream(out, "jsonl", settings.to_dict()).finish(Report(settings=settings.to_dict(), cases=results))
    with pytest.raises(ReportError, match=r"other settings \(alpha 0.3 there, 0.5 now\)"):
        load_finished(out, ScoreSettings(alpha=0.5).to_dict(), fmt="jsonl")
    out.write_text('{"case": "a"}\n')
    with pytest.raises(ReportError, match="is not a segeval JSON Lines report"):
        load_finished(out, settings.to_dict(), fmt="jsonl")


def test_resume_of_a_finished_csv_is_refused_it_records_no_settings(tmp_path: Path) -> None:
    # Resumed with another --alpha, a finished CSV would keep its old numbers under new settings.
    results, settings = _scored(tmp_path)
    out = tmp_path / "results.csv"
    ResultStream(out, "csv", settings.to_dict()).finish(Report(settings=settings.to_dict(), cases=results))
    with pytest.raises(ReportError, match="is a finished CSV, which records no settings"):
        load_finished(out, ScoreSettings(alpha=0.9).to_dict(), fmt="csv")


def test_resume_with_nothing_written_yet(tmp_path: Path) -> None:
    assert load_finished(tmp_path / "results.csv", ScoreSettings().to_dict(), fmt="csv") == []
