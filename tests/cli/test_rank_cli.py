"""``segeval rank REPORT...`` through the CLI: names, the table, files in every format, the HTML, exit codes."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from segeval.cli import app
from segeval.report.writers import to_json
from tests.ranking._data import matrix_reports
from tests.ranking.test_schemes import WINNERS

runner = CliRunner()
NAMES = ["T", "R", "M", "D"]


def run(*args: Any, **kwargs: Any) -> Any:
    return runner.invoke(app, ["rank", *[str(a) for a in args]], **kwargs)


@pytest.fixture
def teams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """teams/<name>/results.json for the four submissions whose winner depends on the scheme."""
    monkeypatch.chdir(tmp_path)
    paths = []
    for name, report in matrix_reports(dict(zip(NAMES, WINNERS.tolist()))).items():
        folder = tmp_path / "teams" / name
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(to_json(report))
        paths.append(Path("teams") / name / "results.json")
    return paths


@pytest.mark.parametrize(
    ("scheme", "winner"),
    [("rank-then-aggregate", "R"), ("aggregate-then-rank", "M"), ("test-then-rank", "T")],
)
def test_the_table_names_the_winner_and_the_settings(teams: list[Path], scheme: str, winner: str) -> None:
    r = run(*teams, "--scheme", scheme, "--bootstrap", "50")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split()[:2] == ["Rank", "Submission"]
    assert lines[1].split()[:2] == ["1", winner]  # named by their folders: every file is results.json
    caption = lines[-1]
    assert caption.startswith(scheme) and "ties min" in caption and "bootstrap 50, seed 0" in caption
    assert "directions dice: higher" in caption and "Kendall's tau median" in caption
    assert r.stderr == ""


def test_outputs_in_every_format_record_the_settings(teams: list[Path]) -> None:
    named = [f"{n}={p}" for n, p in zip("abcd", teams)]
    r = run(*named, "-o", "ranking.csv", "--html", "ranking.html", "--bootstrap", "30", "--seed", "4")
    assert r.exit_code == 0, r.output
    assert r.stderr.splitlines() == ["segeval: wrote ranking.csv (4 submissions, 30 cases)",
                                     "segeval: wrote ranking.html (4 submissions, 30 cases)"]
    rows = list(csv.DictReader(io.StringIO(Path("ranking.csv").read_text())))
    assert [row["submission"] for row in rows] == ["b", "a", "c", "d"]
    assert rows[0]["seed"] == "4" and rows[0]["bootstrap"] == "30" and rows[0]["missing"] == "worst"
    assert "Rank" in r.stdout  # the table is still shown with -o
    r = run(*named, "-o", "ranking.json", "--scheme", "test-then-rank", "--p-adjust", "none", "-q")
    assert r.exit_code == 0 and r.stderr == "" and r.stdout == ""
    d = json.loads(Path("ranking.json").read_text())
    assert d["settings"]["p_adjust"] == "none" and d["submissions"][0]["name"] == "a"
    r = run(*named, "-f", "md", "--bootstrap", "0")
    assert r.exit_code == 0 and r.stdout.startswith("| rank | submission |")
    assert "- bootstrap: 0" in r.stdout


def test_the_html_page_is_offline_and_has_the_plots(teams: list[Path]) -> None:
    pytest.importorskip("matplotlib")
    pytest.importorskip("jinja2")
    r = run(*teams, "--metric", "dice", "--html", "page.html", "--bootstrap", "40", "-q")
    assert r.exit_code == 0, r.output
    page = Path("page.html").read_text(encoding="utf-8")
    assert not re.search(r"https?://", page)
    assert page.count("<svg") == 3  # blob plot, Kendall's tau, dice per case
    assert "R: rank 1 in" in page and "<title>c29: 0.55</title>" in page  # hover: a blob, a case point
    assert "<th class=\"l\">scheme</th><td class=\"l\">rank-then-aggregate</td>" in page


def test_several_metrics_and_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name, report in matrix_reports({"a": [0.9, 0.8], "b": [0.7, 0.95]}).items():
        Path(f"{name}.json").write_text(to_json(report))
    r = run("a.json", "b.json", "--metric", "dice:1", "--metric", "iou", "-f", "csv", "--bootstrap", "0")
    assert r.exit_code == 2
    assert r.stderr.strip() == ("segeval: error: --metric iou: submission a.json holds no iou values; "
                                "it has dice (score it with --metrics iou)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["{0}"], "give two submissions' reports or more to rank; got 1", id="one-report"),
        pytest.param(["{0}", "missing.json"], "missing.json: no such report file", id="missing-report"),
        pytest.param(["{0}", "{1}", "--scheme", "borda"], "--scheme: expected one of", id="scheme"),
        pytest.param(["{0}", "{1}", "--metric", "dcie"], "--metric dcie: unknown metric 'dcie'; did you mean",
                     id="metric-typo"),
        pytest.param(["{0}", "{1}", "-o", "ranking.txt"], "-o ranking.txt: cannot tell the format", id="format"),
        pytest.param(["{0}", "{1}", "-o", "nowhere/r.csv"], "-o nowhere/r.csv: folder nowhere does not exist",
                     id="unwritable"),
        pytest.param(["{0}", "{1}", "--html", "nowhere/r.html"], "--html nowhere/r.html", id="unwritable-html"),
        pytest.param(["{0}", "{1}", "--alpha", "2"], "--alpha: expected a level between 0 and 1", id="alpha"),
        pytest.param(["{0}", "{1}", "-f", "table", "-o", "r.csv"], "--format table cannot be written",
                     id="table-to-file"),
    ],
)
def test_errors_are_one_line_and_exit_2(teams: list[Path], args: list[str], message: str) -> None:
    r = run(*[a.format(*teams) for a in args])
    assert r.exit_code == 2, r.output
    assert r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
    assert not Path("ranking.txt").exists()


def test_missing_cases_are_said_and_counted(teams: list[Path]) -> None:
    late = json.loads(teams[0].read_text())
    late["cases"] = late["cases"][:20]
    Path("late.json").write_text(json.dumps(late))
    r = run(*teams[1:], "late.json", "--bootstrap", "0")
    assert r.exit_code == 0, r.output
    assert "segeval: warning: missing, failed or NaN cases take the metric's worst value (--missing worst): " \
           "late.json 10" in r.stderr
    assert "Missing" in r.stdout.splitlines()[0]
    r = run(*teams[1:], "late.json", "--missing", "skip", "--bootstrap", "0", "-f", "json")
    d = json.loads(r.stdout)
    assert d["n_cases"] == 20 and len(d["dropped_cases"]) == 10


@pytest.mark.parametrize("width", [40, 60, 100, None])
def test_the_table_folds_to_the_terminal_and_never_cuts_a_number(width: int | None) -> None:
    from rich.console import Console

    import segeval
    from segeval.cli.rank import ranking_tables

    subs = matrix_reports(dict(zip(["a_long_submission_name", "b", "c", "d"], WINNERS.tolist())))
    ranking = segeval.rank(subs, bootstrap=20)
    buf = io.StringIO()
    console = Console(file=buf, width=width or 1000, color_system=None)
    for renderable in ranking_tables(ranking, width=width):
        console.print(renderable)
    text = buf.getvalue()
    caption = text.index("rank-then-aggregate (mean); ties min")
    table = text[:caption]
    assert all(len(line) <= (width or 1000) for line in table.splitlines()), text
    for value in ("1.60", "1.80", "2.60", "4.00", "1.0 – 2.0", "3.0 – 3.0"):
        assert value in table
    assert "worst dice 0;" in " ".join(text[caption:].split())
    if width is None or width >= 60:
        assert "a_long_submission_name" in table and len(table.split("\n\n")) == (1 if width != 60 else 2)


@pytest.mark.parametrize("width", [60, 100])
def test_table_golden(width: int, update_golden: bool) -> None:
    """The test-then-rank ranking of the four hand-made submissions (50 samples) as the terminal shows it."""
    from rich.console import Console

    import segeval
    from segeval.cli.rank import ranking_tables
    from tests.cli.conftest import check_golden

    subs = matrix_reports(dict(zip(NAMES, WINNERS.tolist())))
    ranking = segeval.rank(subs, metrics=["dice"], scheme="test-then-rank", bootstrap=50, seed=1)
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None)
    for renderable in ranking_tables(ranking, width=width):
        console.print(renderable)
    check_golden(f"rank_table_{width}.txt", buf.getvalue(), update_golden)


@pytest.mark.parametrize("fmt", ["csv", "md"])
def test_file_golden(fmt: str, update_golden: bool) -> None:
    import segeval
    from segeval.ranking.writers import render_ranking
    from tests.cli.conftest import check_golden

    subs = matrix_reports(dict(zip(NAMES, WINNERS.tolist())))
    ranking = segeval.rank(subs, bootstrap=50, seed=1)
    check_golden(f"rank.{fmt}", render_ranking(ranking, fmt), update_golden)


def test_distances_rank_lower_first_with_the_worst_distance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.ranking._data import submission

    monkeypatch.chdir(tmp_path)
    subs = {"a": submission({"c1": {"hd95": 2.0}, "c2": {"hd95": float("inf")}, "c3": {"hd95": 1.0}}),
            "b": submission({"c1": {"hd95": 3.0}, "c2": {"hd95": 4.0}})}
    for name, report in subs.items():
        Path(f"{name}.json").write_text(to_json(report))
    r = run("a.json", "b.json", "--metric", "hd95", "--scheme", "aggregate-then-rank", "--aggregate", "median",
            "--worst-distance", "50", "--bootstrap", "0", "-f", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    # a: 2, 50 (inf), 1 -> median 2; b: 3, 4, 50 (missing c3) -> median 4
    assert [(s["name"], s["metrics"]["hd95"]["score"], s["rank"]) for s in d["submissions"]] == \
        [("a.json", 2.0, 1), ("b.json", 4.0, 2)]
    assert d["settings"]["worst_distance"] == 50.0 and d["settings"]["worst_values"] == {"hd95": 50.0}
    assert d["settings"]["aggregate"] == "median" and d["settings"]["directions"] == {"hd95": "lower"}
    assert "1 infinite distance (an empty mask) counts as the worst distance" in r.stderr
