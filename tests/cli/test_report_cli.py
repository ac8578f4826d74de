"""``segeval report REPORT... -o report.html`` through the CLI: outputs, names, exit codes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from segeval.cli import app
from tests.batching._data import make_clean

pytest.importorskip("matplotlib")
pytest.importorskip("jinja2")

runner = CliRunner()


def run(*args: Any) -> Any:
    return runner.invoke(app, ["report", *[str(a) for a in args]])


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A batch of three clean cases scored into results/out.json (volume paths relative to tmp_path)."""
    monkeypatch.chdir(tmp_path)
    make_clean(tmp_path, 3)
    (tmp_path / "results").mkdir()
    r = runner.invoke(app, ["batch", "pred", "gt", "-o", "results/out.json", "--jobs", "1", "-q"])
    assert r.exit_code == 0, r.output
    return tmp_path / "results" / "out.json"


def test_report_writes_one_offline_page(results: Path) -> None:
    r = run(results, "-o", "page.html", "--worst", "2")
    assert r.exit_code == 0, r.output
    assert r.stderr.strip() == "segeval: wrote page.html (1 report, 3 cases)"
    page = Path("page.html").read_text(encoding="utf-8")
    assert not re.search(r"https?://", page)
    assert all(f"case_{i:03d}" in page for i in range(3))
    assert page.count('<div class="case">') == 2 and page.count("<img alt=") == 6


def test_named_reports_are_compared(results: Path) -> None:
    r = run(f"old={results}", f"new={results}", "-o", "page.html", "--no-overlays", "-q")
    assert r.exit_code == 0, r.output
    assert r.stderr == ""
    page = Path("page.html").read_text(encoding="utf-8")
    assert "new against old" in page and "<img alt=" not in page
    assert "3 cases scored in both." in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["missing.json", "-o", "page.html"], "missing.json", id="missing-report"),
        pytest.param(["{results}", "-o", "page.html", "--metric", "hd95"], "--metric: 'hd95'", id="metric-not-held"),
        pytest.param(["{results}", "-o", "nowhere/page.html"], "-o nowhere/page.html", id="unwritable-output"),
        pytest.param(["{results}", "-o", "page.html", "--worst", "-1"], "--worst", id="negative-worst"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(results: Path, args: list[str], message: str) -> None:
    r = run(*[a.format(results=results) for a in args])
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("segeval: error: ") and message in r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.output
    assert not Path("page.html").exists()


def test_report_is_in_the_help(results: Path) -> None:
    r = runner.invoke(app, ["report", "--help"])
    assert r.exit_code == 0 and r.stdout.startswith("Usage: segeval report [OPTIONS] REPORT...")
    assert "--no-overlays" in r.stdout and "Example: segeval report" in r.stdout


def test_batch_html_writes_the_page_at_the_end_of_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    make_clean(tmp_path, 3)
    r = runner.invoke(app, ["batch", "pred", "gt", "--jobs", "1", "--html", "run.html", "--worst", "2", "-f", "csv"])
    assert r.exit_code == 0, r.output
    assert "segeval: wrote run.html (HTML report of 3 cases)" in r.stderr
    page = Path("run.html").read_text(encoding="utf-8")
    assert not re.search(r"https?://", page)
    assert all(f"case_{i:03d}" in page for i in range(3))
    assert page.count('<div class="case">') == 2 and page.count("<img alt=") == 6  # overlays, from pred/ and gt/


def test_batch_html_refuses_an_unwritable_page_before_scoring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    make_clean(tmp_path, 2)
    r = runner.invoke(app, ["batch", "pred", "gt", "--jobs", "1", "--html", "nowhere/run.html", "-o", "out.csv"])
    assert r.exit_code == 2 and "--html nowhere/run.html" in r.stderr
    assert not Path("out.csv").exists()  # nothing scored
