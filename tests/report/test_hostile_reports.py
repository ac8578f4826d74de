"""Reports that ``gate`` must not trust: infinite changes, incomplete runs, hostile text, gzip bombs.

Issue 15, items 2 (a gzipped report bomb), 4 (infinite changes in
``--max-drop``), 5 (partial reports), 11 (hostile text and the report format)
and 14 (the gate's config line only after a good report).
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from segeval.cli import app
from segeval.errors import ReportError
from segeval.gate import judge, mean_change, parse_check
from segeval.records import REPORT_FORMAT
from segeval.report.reading import read_report
from segeval.report.writers import jsonl_header, jsonl_line, to_csv, to_json, to_jsonl
from tests.gate._data import INF, dice_report, make_report, one
from tests.hostile import segeval_limited

runner = CliRunner()


def gate(*args: str | Path):
    return runner.invoke(app, ["gate", *map(str, args), "--no-config"])


def _hd95(values: list[float], prefix: str = "c") -> object:
    return make_report({f"{prefix}{i}": {1: {"dice": 0.9, "hd95": v}} for i, v in enumerate(values)})


# --------------------------------------------------------------------------- item 4: infinite changes


def test_mean_change_of_infinite_changes() -> None:
    assert mean_change([1.0, -3.0]) == -1.0
    assert mean_change([1.0, math.inf, -5.0]) == math.inf
    assert mean_change([-math.inf, 2.0]) == -math.inf
    assert math.isnan(mean_change([math.inf, -math.inf]))


def test_max_drop_with_distances_gone_to_and_back_from_inf_fails_saying_why(tmp_path: Path) -> None:
    """Before: ``-inf + inf`` in a sum crashed. Now: undefined, the check fails and names the cases."""
    old, new = _hd95([2.0, INF, 3.0]), _hd95([INF, 2.0, 3.0])
    res = one(judge(new, [parse_check("hd95=1", kind="max_drop")], baseline=old))
    assert not res.passed and math.isnan(res.change)
    assert res.reason.startswith("the mean change is undefined: 1 case went to inf (c0) and 1 case came back "
                                 "from inf (c1)")
    (tmp_path / "new.json").write_text(to_json(new))
    (tmp_path / "old.json").write_text(to_json(old))
    r = gate(tmp_path / "new.json", "--baseline", tmp_path / "old.json", "--max-drop", "hd95=1")
    assert r.exit_code == 1 and "undefined" in r.stdout and "Traceback" not in r.output


@pytest.mark.parametrize(("old", "new", "passed"), [
    ([2.0, 3.0], [INF, 3.0], False),  # a distance went to inf: an infinite increase
    ([INF, 3.0], [2.0, 3.0], True),  # came back from inf: an infinite improvement
    ([INF, 3.0], [INF, 3.0], True),  # inf in both: no change
])
def test_one_sided_infinite_changes(old: list[float], new: list[float], passed: bool) -> None:
    res = one(judge(_hd95(new), [parse_check("hd95=1", kind="max_drop")], baseline=_hd95(old)))
    assert res.passed is passed and not math.isnan(res.change)


def test_infinite_changes_are_documented_in_the_gate_docs() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "gate.md").read_text()
    assert "Infinite distances" in docs and "undefined" in docs


# --------------------------------------------------------------------------- item 5: partial reports


def _finished_jsonl(path: Path, report) -> Path:
    path.write_text(to_jsonl(report))
    return path


def test_a_cut_jsonl_is_refused_unless_allow_partial(tmp_path: Path) -> None:
    text = to_jsonl(dice_report([0.9, 0.8, 0.7]))
    lines = text.splitlines(keepends=True)
    p = tmp_path / "cut.jsonl"
    p.write_text("".join(lines[:-2]) + lines[-2][:20])  # the summary line missing, a case line cut short
    r = gate(p, "--min", "dice=0.5")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1
    assert "the report is incomplete" in r.stderr and "--allow-partial" in r.stderr
    r = gate(p, "--min", "dice=0.5", "--allow-partial")
    assert r.exit_code == 0, r.output


def test_a_jsonl_without_its_summary_line_is_incomplete(tmp_path: Path) -> None:
    rep = dice_report([0.9, 0.8])
    p = tmp_path / "r.jsonl"
    p.write_text(jsonl_header(rep.settings) + "".join(jsonl_line(c.to_dict()) for c in rep.cases))
    with pytest.raises(ReportError, match="it has no summary line, which a batch writes last"):
        judge(p, [parse_check("dice=0.5")])
    assert one(judge(_finished_jsonl(tmp_path / "whole.jsonl", rep), [parse_check("dice=0.5")])).passed


def test_a_report_with_its_journal_beside_it_is_incomplete(tmp_path: Path) -> None:
    rep = dice_report([0.9, 0.8])
    (tmp_path / "r.csv").write_text(to_csv(rep))
    (tmp_path / "r.csv.partial.jsonl").write_text(jsonl_header(rep.settings))
    r = gate(tmp_path / "r.csv", "--min", "dice=0.5")
    assert r.exit_code == 2 and "its journal" in r.stderr and "has not finished" in r.stderr


def test_the_journal_of_a_killed_batch_is_incomplete(tmp_path: Path) -> None:
    rep = dice_report([0.9])
    p = tmp_path / "out.json.partial.jsonl"
    p.write_text(json.dumps({"segeval_journal": 1, "segeval_version": "0", "settings": rep.settings}) + "\n"
                 + "".join(jsonl_line(c.to_dict()) for c in rep.cases))
    r = gate(p, "--min", "dice=0.5")
    assert r.exit_code == 2 and "journal of a batch that did not finish" in r.stderr


# --------------------------------------------------------------------------- item 11: hostile text


def _report_json(**top) -> str:
    obj = json.loads(to_json(dice_report([0.9, 0.8])))
    obj.update(top)
    return json.dumps(obj)


HOSTILE = [
    pytest.param("deep.json", "[" * 100_000 + "]" * 100_000, "nested too deeply", id="nested-json"),
    pytest.param("deep.jsonl", '{"a": ' * 50_000 + "1" + "}" * 50_000 + "\n", "nested too deeply",
                 id="nested-jsonl"),
    pytest.param("digits.json", '{"cases": [{"case": "a", "labels": [{"label": 1, "dice": ' + "9" * 5000
                 + "}]}]}", "digits", id="5000-digit-number"),
    pytest.param("field.csv", "case,label,dice\na,1," + "9" * (200 << 10) + "\n", "field larger than",
                 id="200-KiB-csv-field"),
    pytest.param("metrics.json", _report_json(settings={"metrics": "dice"}),
                 "settings.metrics must be a list of metric names", id="non-list-metrics"),
    pytest.param("names.json", _report_json(settings={"metrics": ["dice"], "label_names": [1, 2]}),
                 "settings.label_names must be an object", id="non-object-label-names"),
    pytest.param("newer.json", _report_json(report_format=REPORT_FORMAT + 1),
                 f"written in report format {REPORT_FORMAT + 1}, which this segeval", id="newer-format"),
    pytest.param("string.jsonl", '{"case": "a", "labels": [{"label": 1, "dice": "high"}]}\n', "dice",
                 id="string-for-a-number"),
    pytest.param("binary.json", "\udcff", "not UTF-8", id="not-utf-8"),
]


@pytest.mark.parametrize(("name", "text", "says"), HOSTILE)
def test_hostile_report_text_is_one_line_exit_2(tmp_path: Path, name: str, text: str, says: str) -> None:
    p = tmp_path / name
    p.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(ReportError, match=says):
        read_report(p)
    r = gate(p, "--min", "dice=0.5")
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith(f"segeval: error: {p}") and r.stderr.count("\n") == 1, r.stderr


def test_a_journal_with_a_string_where_a_number_belongs_is_refused_by_resume(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.batching._data import make_clean

    monkeypatch.chdir(tmp_path)
    make_clean(tmp_path, 2)
    r = runner.invoke(app, ["batch", "pred", "gt", "-o", "out.json", "--jobs", "1", "--quiet"])
    assert r.exit_code == 0
    settings = json.loads(Path("out.json").read_text())["settings"]
    case = {"case": "case_000", "error": None, "labels": [{"label": 1, "dice": "0.9x"}]}
    Path("out.json.partial.jsonl").write_text(
        json.dumps({"segeval_journal": 1, "segeval_version": "0", "settings": settings}) + "\n" + json.dumps(case)
        + "\n")
    Path("out.json").unlink()
    r = runner.invoke(app, ["batch", "pred", "gt", "-o", "out.json", "--jobs", "1", "--resume", "--quiet"])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "dice" in r.stderr, r.output


def test_a_gzipped_report_bomb_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    """1 GiB of spaces after a report, gzipped to 1 MB: refused past 64 MiB, never inflated whole."""
    body = to_json(dice_report([0.9, 0.8])).encode()
    member = gzip.compress(b" " * (16 << 20), compresslevel=9)
    (tmp_path / "bomb.json.gz").write_bytes(gzip.compress(body) + member * 64)
    ran = segeval_limited("gate", "bomb.json.gz", "--min", "dice=0.5", "--no-config", cwd=tmp_path)
    assert ran.returncode == 2, ran.stderr
    assert len(ran.err_lines) == 1 and ran.err_lines[0].startswith("segeval: error: bomb.json.gz")
    assert ran.peak_mib < 300, ran.peak_mib


def test_a_gzipped_report_is_read(tmp_path: Path) -> None:
    (tmp_path / "r.json.gz").write_bytes(gzip.compress(to_json(dice_report([0.9, 0.8])).encode()))
    assert one(judge(tmp_path / "r.json.gz", [parse_check("dice=0.5")])).passed


# --------------------------------------------------------------------------- items 11 and 14: config files


def test_nested_toml_config_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.json").write_text(to_json(dice_report([0.9])))
    (tmp_path / "segeval.toml").write_text("[gate]\nmin = " + "[" * 50_000 + "]" * 50_000 + "\n")
    r = runner.invoke(app, ["gate", "r.json"])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "segeval.toml" in r.stderr, r.output


def test_bad_report_with_a_config_prints_only_the_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: "gate checks from segeval.toml" came first, then the error: two lines."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "segeval.toml").write_text('[gate]\nmin = ["dice=0.5"]\n')
    (tmp_path / "bad.json").write_text("{")
    r = runner.invoke(app, ["gate", "bad.json"])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("segeval: error: bad.json")
    (tmp_path / "r.json").write_text(to_json(dice_report([0.9])))
    r = runner.invoke(app, ["gate", "r.json"])
    assert r.exit_code == 0 and r.stderr == f"segeval: gate checks from {tmp_path / 'segeval.toml'}\n"
