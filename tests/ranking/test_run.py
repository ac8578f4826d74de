"""``segeval.rank``: several metrics, what the output records, frames, files in every format, reading reports."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

import segeval
from segeval.errors import OptionError, ReportError
from segeval.ranking.writers import render_ranking, to_csv, to_markdown
from segeval.report.writers import to_csv as report_csv
from segeval.report.writers import to_json as report_json
from tests.ranking._data import matrix_reports, submission
from tests.ranking.test_schemes import WINNERS

NAMES = ["T", "R", "M", "D"]


def winners() -> dict[str, segeval.Report]:
    return matrix_reports(dict(zip(NAMES, WINNERS.tolist())))


@pytest.mark.parametrize(
    ("scheme", "order"),
    [
        pytest.param("aggregate-then-rank", ["M", "T", "R", "D"], id="aggregate-then-rank"),
        pytest.param("rank-then-aggregate", ["R", "T", "M", "D"], id="rank-then-aggregate"),
        pytest.param("test-then-rank", ["T", "M", "R", "D"], id="test-then-rank"),
    ],
)
def test_each_scheme_gives_its_winner_through_the_api(scheme: str, order: list[str]) -> None:
    ranking = segeval.rank(winners(), scheme=scheme, bootstrap=0)
    frame = ranking.to_frame()
    assert frame["submission"].tolist() == order  # R and M tie under test-then-rank: by mean rank, then name
    assert frame.attrs["settings"]["scheme"] == scheme


def test_several_metrics_rank_by_the_mean_of_their_ranks() -> None:
    """dice ranks a 1, b 2, c 3; hd95 (lower is better) ranks c 1, b 2, a 3; nsd: b 1, a 2, c 2 (a tie).
    Mean ranks a 2, b 5/3, c 2: b first, a and c tie at 2 (minimum rank)."""
    def sub(dice: float, hd95: float, nsd: float) -> segeval.Report:
        return submission({c: {"dice": dice, "hd95": hd95, "nsd": nsd} for c in ("c1", "c2")})

    subs = {"a": sub(0.9, 9.0, 0.8), "b": sub(0.8, 5.0, 0.9), "c": sub(0.7, 1.0, 0.8)}
    ranking = segeval.rank(subs, metrics=["dice", "hd95", "nsd"], scheme="aggregate-then-rank", bootstrap=0)
    assert ranking.metric_ranks.tolist() == [[1, 2, 3], [3, 2, 1], [2, 1, 2]]
    np.testing.assert_allclose(ranking.mean_rank, [2.0, 5 / 3, 2.0])
    assert ranking.ranks.tolist() == [2, 1, 2]
    assert ranking.scores[1].tolist() == [9.0, 5.0, 1.0]  # hd95 means, in mm, not negated
    frame = ranking.to_frame()
    assert list(frame.columns) == ["rank", "submission", "mean_rank", "dice mean", "dice rank", "hd95 mean",
                                   "hd95 rank", "nsd mean", "nsd rank", "n_missing"]
    assert ranking.settings["directions"] == {"dice": "higher", "hd95": "lower", "nsd": "higher"}


def test_the_output_records_how_the_ranking_was_made() -> None:
    ranking = segeval.rank(winners(), metrics="dice", scheme="test-then-rank", alpha=0.01, p_adjust="none",
                           bootstrap=50, seed=3)
    d = ranking.to_dict()
    json.dumps(d, allow_nan=False)  # strict JSON
    s = d["settings"]
    assert {k: s[k] for k in ("scheme", "aggregate", "ties", "missing", "alpha", "p_adjust", "bootstrap",
                              "seed")} == {"scheme": "test-then-rank", "aggregate": None, "ties": "min",
                                           "missing": "worst", "alpha": 0.01, "p_adjust": "none",
                                           "bootstrap": 50, "seed": 3}
    assert s["directions"] == {"dice": "higher"} and s["worst_values"] == {"dice": 0.0}
    assert d["n_cases"] == 30 and len(d["cases"]) == 30
    first = d["submissions"][0]
    assert first["name"] == "T" and first["rank"] == 1 and sum(first["bootstrap"]["rank_frequencies"]) == 50
    assert set(d["kendall_tau"]) == {"mean", "median", "q25", "q75", "n_nan"}
    again = segeval.rank(winners(), **{k: s[k] for k in ("metrics", "scheme", "alpha", "p_adjust", "bootstrap",
                                                         "seed")})
    assert again.to_dict() == d  # the settings recorded make the same ranking


def test_csv_repeats_the_settings_on_every_row() -> None:
    ranking = segeval.rank(winners(), bootstrap=20, seed=2)
    rows = list(csv.DictReader(io.StringIO(to_csv(ranking))))
    assert [r["submission"] for r in rows] == ["R", "T", "M", "D"]
    assert rows[0]["rank"] == "1" and rows[0]["dice mean rank"] == "1.6"
    assert all(r["metrics"] == "dice" and r["scheme"] == "rank-then-aggregate" and r["ties"] == "min" and r["seed"] == "2"
               and r["bootstrap"] == "20" and r["directions"] == "dice: higher" and r["worst_values"] == "dice: 0"
               for r in rows)
    assert {"median_rank", "rank_low", "rank_high", "n_missing"} <= set(rows[0])


def test_markdown_has_the_table_settings_and_notes() -> None:
    subs = winners()
    subs["late"] = submission({"c0": 0.9})  # one case only: the others are its worst value
    md = to_markdown(segeval.rank(subs, bootstrap=10))
    lines = md.splitlines()
    assert lines[0] == "| rank | submission | dice mean rank | median_rank | rank_low | rank_high | n_missing |"
    assert "- scheme: rank-then-aggregate" in lines and "- ties: min" in lines
    assert any(line.startswith("- note: missing, failed or NaN cases take") and "late 29" in line for line in lines)
    assert any(line.startswith("- Kendall's tau") for line in lines)
    assert render_ranking(segeval.rank(winners(), bootstrap=0), "json").startswith("{")


@pytest.mark.parametrize("writer", [report_json, report_csv], ids=["json", "csv"])
def test_reports_are_read_from_files(tmp_path: Path, writer: object) -> None:
    paths = []
    for name, report in winners().items():
        path = tmp_path / f"{name}.{writer.__name__[3:]}"  # type: ignore[attr-defined]
        path.write_text(writer(report))  # type: ignore[operator]
        paths.append(path)
    ranking = segeval.rank(paths, bootstrap=0)
    assert ranking.names == [p.name for p in paths]
    assert ranking.ranks.tolist() == [2, 1, 3, 4]
    named = segeval.rank({n: p for n, p in zip(NAMES, paths)}, bootstrap=0)
    assert named.names == NAMES


def test_bad_options_and_reports_are_one_line() -> None:
    for kwargs, message in [({"scheme": "borda"}, "--scheme: expected one of"),
                            ({"aggregate": "max"}, "--aggregate"), ({"alpha": 1.5}, "--alpha"),
                            ({"p_adjust": "bonferroni"}, "--p-adjust"), ({"bootstrap": -1}, "--bootstrap")]:
        with pytest.raises(OptionError, match=message):
            segeval.rank(winners(), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ReportError, match="no such report file"):
        segeval.rank(["missing.json", "other.json"])
    with pytest.raises(OptionError, match="two submissions are named 'r.json'"):
        segeval.rank([Path("a/r.json"), Path("b/r.json")])


def test_jupyter_shows_the_scheme_and_the_table() -> None:
    page = segeval.rank(winners(), bootstrap=0)._repr_html_()
    assert page.startswith("<p><b>segeval ranking</b>: 4 submissions, 30 cases, rank-then-aggregate")
    assert "<table" in page and "<td>R</td>" in page
