"""segeval.report.writers: the summary table, and writing output files atomically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from segeval.report.writers import render_summary
from segeval.summary import Report
from tests.batching._data import _scored


@pytest.mark.parametrize("fmt", ["csv", "json", "md"])
def test_render_summary(tmp_path: Path, fmt: str) -> None:
    results, settings = _scored(tmp_path)
    report = Report(settings=settings.to_dict(), cases=results)
    text = render_summary(report, fmt)
    summary = report.summary()
    dice1 = next(e for e in summary["per_label"] if e["label"] == 1)["dice"]
    if fmt == "csv":
        rows = [line.split(",") for line in text.splitlines()]
        assert rows[0] == ["label", "name", "metric", "mean", "std", "median", "min", "max", "n", "n_nan"]
        row = next(r for r in rows if r[0] == "1" and r[2] == "dice")
        assert float(row[3]) == dice1["mean"] and int(row[8]) == dice1["n"] == 4
        assert rows[-1][2] == "generalized_dice"
    elif fmt == "json":
        data = json.loads(text)
        assert data["summary"]["per_label"][0]["dice"]["mean"] == dice1["mean"]
        assert set(data["summary"]["per_label"][0]["dice"]) == {"mean", "std", "median", "min", "max", "n", "n_nan"}
    else:
        assert "| 1 |" in text and "Generalized Dice per case: mean" in text


def test_write_atomic_names_the_option_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    from segeval.errors import OutputError
    from segeval.report.writers import write_atomic

    with pytest.raises(OutputError, match=r"^--summary .*nowhere.s\.csv: folder .*nowhere does not exist$"):
        write_atomic(tmp_path / "nowhere" / "s.csv", "x", option="--summary")
    with pytest.raises(OutputError, match=r"^-o .*: is a directory; give a file name$"):
        write_atomic(tmp_path, "x")
    write_atomic(tmp_path / "s.csv", "a,b\n", option="--summary")
    assert [p.name for p in tmp_path.iterdir()] == ["s.csv"] and (tmp_path / "s.csv").read_text() == "a,b\n"
