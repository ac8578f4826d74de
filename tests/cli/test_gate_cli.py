"""``segeval gate`` on the command line: exit codes, one-line errors, outputs, config, step summary."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from segeval.cli import app
from segeval.records import CaseResult
from segeval.report.writers import to_csv, to_json
from segeval.summary import Report

runner = CliRunner()
NAMES = {1: "liver", 2: "spleen"}


def _report(liver: list[float], *, failed: tuple[str, ...] = (), spleen: float = 0.8) -> Report:
    cases = []
    for i, d in enumerate(liver):
        labels = []
        for label, v in ((1, d), (2, spleen)):
            labels.append({"label": label, "name": NAMES[label], "dice": v, "hd95": 10 * (1 - v),
                           "tp": 1, "fp": 0, "fn": 0, "tn": 1, "vol_pred_ml": 1.0, "vol_gt_ml": 1.0})
        cases.append(CaseResult(case=f"case_{i:03d}", labels=labels))
    cases += [CaseResult(case=c, error="missing prediction") for c in failed]
    return Report(settings={"metrics": ["dice", "hd95"]}, cases=cases)


@pytest.fixture
def reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """new.json / new.csv (liver 0.85 mean), old.json (liver 0.90 everywhere) in a clean working folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    rng = np.random.default_rng(0)
    new_vals = [float(v) for v in 0.85 + rng.normal(0, 0.01, 30)]
    new = _report(new_vals)
    paths = {"new": tmp_path / "new.json", "csv": tmp_path / "new.csv", "old": tmp_path / "old.json",
             "same": tmp_path / "same.json", "failed": tmp_path / "failed.json"}
    paths["new"].write_text(to_json(new))
    paths["csv"].write_text(to_csv(new))
    paths["old"].write_text(to_json(_report([0.9] * 30)))
    paths["same"].write_text(to_json(_report([0.9] * 30)))
    paths["failed"].write_text(to_json(_report([0.9] * 5, failed=("case_x",))))
    return paths


def gate(*args: Any, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, ["gate", *[str(a) for a in args]], env=env)


def one_error_line(result: Any, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("segeval"), lines[0]
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


# --------------------------------------------------------------------------- exit codes


@pytest.mark.parametrize("which", ["new", "csv"])
def test_pass_exits_0(reports: dict[str, Path], which: str) -> None:
    r = gate(reports[which], "--min", "dice:liver=0.8", "--min", "dice=0.8", "--max", "hd95:spleen=2.5")
    assert r.exit_code == 0, r.output
    assert "gate passed: 3 of 3 checks" in r.stdout
    assert "PASS" in r.stdout and "FAIL" not in r.stdout


@pytest.mark.parametrize("which", ["new", "csv"])
def test_fail_exits_1(reports: dict[str, Path], which: str) -> None:
    r = gate(reports[which], "--min", "dice:liver=0.8", "--min", "dice:1=0.9")
    assert r.exit_code == 1, r.output
    assert "gate FAILED: 1 of 2 checks" in r.stdout
    assert "FAIL dice:1 mean >= 0.9" in r.stdout


def test_max_fails(reports: dict[str, Path]) -> None:
    assert gate(reports["new"], "--max", "hd95:liver=1").exit_code == 1
    assert gate(reports["new"], "--max", "hd95:liver=2").exit_code == 0


@pytest.mark.parametrize(("stat", "code"), [("mean", 0), ("median", 0), ("min", 1), ("max", 0), ("p5", 1)])
def test_stat(reports: dict[str, Path], stat: str, code: int) -> None:
    # liver Dice ~ 0.85 +- 0.01: the mean, median and max clear 0.845, the worst case and p5 do not
    assert gate(reports["new"], "--min", "dice:liver=0.845", "--stat", stat).exit_code == code


def test_per_case_lists_failing_cases(reports: dict[str, Path]) -> None:
    r = gate(reports["new"], "--min", "dice:liver=0.85", "--per-case")
    assert r.exit_code == 1
    assert "failing cases: case_" in r.stdout and "every case >= 0.85" in r.stdout


def test_failed_cases_exit_3_when_checks_pass(reports: dict[str, Path]) -> None:
    r = gate(reports["failed"], "--min", "dice=0.5")
    assert r.exit_code == 3, r.output
    assert "1 of 6 cases failed to score: case_x: missing prediction" in r.stdout
    assert gate(reports["failed"], "--min", "dice=0.5", "--per-case").exit_code == 1


def test_quiet_prints_nothing(reports: dict[str, Path]) -> None:
    r = gate(reports["new"], "--min", "dice=0.5", "-q")
    assert r.exit_code == 0 and r.output == ""


# --------------------------------------------------------------------------- bad input: exit 2, one line


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        pytest.param(["missing.json", "--min", "dice=0.5"], ["missing.json", "no such report file"], id="missing"),
        pytest.param(["{new}", "--min", "dcie=0.5"], ["--min dcie=0.5", "unknown metric", "did you mean 'dice'"],
                     id="unknown-metric"),
        pytest.param(["{new}", "--min", "dice:kidney=0.5"], ["label 'kidney' is not in", "1 (liver)"],
                     id="unknown-label"),
        pytest.param(["{new}", "--min", "dice:9=0.5"], ["label 9 is not in"], id="unknown-label-number"),
        pytest.param(["{new}", "--min", "nsd=0.5"], ["has no nsd values"], id="metric-not-in-report"),
        pytest.param(["{new}", "--min", "dice=high"], ["--min dice=high", "not a number"], id="bad-value"),
        pytest.param(["{new}", "--min", "dice"], ["expected METRIC[:LABEL]=VALUE"], id="no-equals"),
        pytest.param(["{new}"], ["no checks given"], id="no-checks"),
        pytest.param(["{new}", "--min", "dice=0.5", "--stat", "avg"], ["--stat", "avg"], id="bad-stat"),
        pytest.param(["{new}", "--max-drop", "dice=0.1"], ["--max-drop needs --baseline"], id="drop-no-baseline"),
        pytest.param(["{new}", "--baseline", "{old}"], ["a baseline needs at least one --max-drop"],
                     id="baseline-no-drop"),
        pytest.param(["{new}", "--baseline", "nope.json", "--max-drop", "dice=0.1"], ["nope.json"],
                     id="baseline-missing"),
        pytest.param(["{new}", "--min", "dice=0.5", "--format", "xml"], ["--format"], id="bad-format"),
        pytest.param(["{new}", "--min", "dice=0.5", "--config", "nope.toml"], ["nope.toml", "no such file"],
                     id="config-missing"),
        pytest.param(["{new}", "--min", "dice=0.5", "--junit", "no/such/dir/j.xml"], ["--junit", "does not exist"],
                     id="junit-folder-missing"),
        pytest.param(["{new}", "--min", "dice=0.5", "--bogus"], ["--bogus"], id="unknown-option"),
    ],
)
def test_bad_input_exits_2_with_one_line(reports: dict[str, Path], args: list[str], needles: list[str]) -> None:
    filled = [a.format(new=reports["new"], old=reports["old"]) for a in args]
    one_error_line(gate(*filled), *needles)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        pytest.param("", "is empty", id="empty"),
        pytest.param('{"cases": [{"case": "a", "labels": [', "not valid JSON", id="garbled"),
        pytest.param('{"hello": 1}', "not a segeval report", id="not-a-report"),
    ],
)
def test_bad_report_exits_2(tmp_path: Path, content: str, needle: str) -> None:
    p = tmp_path / "bad.json"
    p.write_text(content)
    one_error_line(gate(p, "--min", "dice=0.5", "--no-config"), str(p), needle)


def test_debug_shows_the_traceback(reports: dict[str, Path]) -> None:
    r = gate("missing.json", "--min", "dice=0.5", "--debug")
    assert r.exit_code != 0 and r.exception is not None


# --------------------------------------------------------------------------- baseline


def test_baseline_drop_fails(reports: dict[str, Path]) -> None:
    r = gate(reports["new"], "--baseline", reports["old"], "--max-drop", "dice:liver=0.01")
    assert r.exit_code == 1, r.output
    for word in ("Change", "95% CI", "mean change", "dropped by 0.05"):
        assert word in r.stdout


def test_baseline_significant_only(reports: dict[str, Path], tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    noise = rng.normal(0, 0.05, 30)
    noise -= noise.mean() + 0.004
    (tmp_path / "noisy.json").write_text(to_json(_report([float(v) for v in 0.9 + noise])))
    args = [tmp_path / "noisy.json", "--baseline", reports["old"], "--max-drop", "dice:liver=0.001"]
    assert gate(*args).exit_code == 1
    assert gate(*args, "--significant").exit_code == 0
    # a real drop stays a failure with --significant
    assert gate(reports["new"], "--baseline", reports["old"], "--max-drop", "dice:1=0.01",
                "--significant").exit_code == 1


def test_baseline_unmatched_cases_are_listed(reports: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "short.json").write_text(to_json(_report([0.9] * 28)))
    r = gate(tmp_path / "short.json", "--baseline", reports["same"], "--max-drop", "dice=0.01")
    assert r.exit_code == 0, r.output
    assert "2 only in baseline" in r.stdout and "case_028, case_029" in r.stdout


def test_distance_regression_direction(reports: dict[str, Path]) -> None:
    # new liver hd95 ~1.5 mm against 1.0 mm: an increase of 0.5 mm
    assert gate(reports["new"], "--baseline", reports["old"], "--max-drop", "hd95:liver=0.2").exit_code == 1
    assert gate(reports["new"], "--baseline", reports["old"], "--max-drop", "hd95:liver=1").exit_code == 0
    assert gate(reports["old"], "--baseline", reports["new"], "--max-drop", "hd95:liver=0.2").exit_code == 0


# --------------------------------------------------------------------------- outputs


def test_format_json(reports: dict[str, Path]) -> None:
    r = gate(reports["new"], "--min", "dice:liver=0.9", "--min", "dice=0.5", "--format", "json")
    assert r.exit_code == 1
    d = json.loads(r.stdout)
    assert d["passed"] is False and [c["passed"] for c in d["checks"]] == [False, True]
    assert d["checks"][0]["label"] == 1 and d["checks"][0]["label_text"] == "1 (liver)"


def test_format_md(reports: dict[str, Path]) -> None:
    r = gate(reports["new"], "--min", "dice=0.5", "-f", "md")
    assert r.exit_code == 0
    assert r.stdout.startswith("### segeval gate: ✅ passed (1 of 1 checks)")
    assert "| dice | macro | mean |" in r.stdout


def test_junit_file_parses(reports: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "gate.xml"
    r = gate(reports["new"], "--min", "dice:liver=0.9", "--max", "hd95=5", "--baseline", reports["old"],
             "--max-drop", "dice=0.5", "--junit", out)
    assert r.exit_code == 1
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "3" and root.get("failures") == "1"
    cases = root.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == [
        "dice:liver mean >= 0.9", "hd95 mean <= 5", "dice drop <= 0.5 vs baseline"]
    assert [c.find("failure") is not None for c in cases] == [True, False, False]
    failure = cases[0].find("failure")
    assert failure is not None and "< 0.9" in (failure.get("message") or "")


def test_step_summary_is_appended(reports: dict[str, Path], tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("# earlier step\n")
    r = gate(reports["new"], "--min", "dice:liver=0.9", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert r.exit_code == 1
    text = summary.read_text()
    assert text.startswith("# earlier step\n")
    assert "### segeval gate: ❌ failed (1 of 1 checks)" in text
    assert "| dice | 1 (liver) | mean |" in text
    gate(reports["new"], "--min", "dice=0.5", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert summary.read_text().count("### segeval gate") == 2


def test_step_summary_unwritable_is_a_warning(reports: dict[str, Path], tmp_path: Path) -> None:
    r = gate(reports["new"], "--min", "dice=0.5", env={"GITHUB_STEP_SUMMARY": str(tmp_path / "no" / "s.md")})
    assert r.exit_code == 0
    assert "segeval: warning: GITHUB_STEP_SUMMARY" in r.stderr


def test_no_step_summary_without_the_variable(reports: dict[str, Path], tmp_path: Path) -> None:
    gate(reports["new"], "--min", "dice=0.5", env={"GITHUB_STEP_SUMMARY": ""})
    assert not list(tmp_path.glob("*.md"))


# --------------------------------------------------------------------------- configuration


def test_config_found_in_working_directory(reports: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "segeval.toml").write_text('[gate]\nmin = ["dice:liver=0.9"]\n')
    r = gate(reports["new"])
    assert r.exit_code == 1, r.output
    assert "gate checks from" in r.stderr and "segeval.toml" in r.stderr
    # a command-line bar replaces the file's bar for the same metric and label
    assert gate(reports["new"], "--min", "dice:liver=0.8").exit_code == 0
    one_error_line(gate(reports["new"], "--no-config"), "no checks given")


def test_pyproject_config(reports: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "model"\n\n[tool.segeval.gate]\nmin = { "dice:liver" = 0.8 }\nmax = ["hd95=3"]\n'
        'stat = "median"\nbaseline = "old.json"\nmax-drop = ["dice=0.1"]\n')
    r = gate(reports["new"], "-f", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert [c["title"] for c in d["checks"]] == [
        "dice:liver median >= 0.8", "hd95 median <= 3", "dice drop <= 0.1 vs baseline"]


def test_explicit_config(reports: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "bars.toml").write_text('[gate]\nmin = ["dice=0.99"]\n')
    assert gate(reports["new"], "--config", tmp_path / "ci" / "bars.toml").exit_code == 1


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        pytest.param("[gate\n", ["not valid TOML"], id="invalid-toml"),
        pytest.param('[gate]\nminimum = ["dice=0.5"]\n', ["unknown key 'minimum'", "Known keys"], id="unknown-key"),
        pytest.param('[gate]\nmin = ["dice=lots"]\n', ["[gate] min dice=lots", "not a number"], id="bad-value"),
        pytest.param('[gate]\nper_case = "no"\n', ["per_case: expected true or false"], id="bad-bool"),
        pytest.param('[checks]\nmin = ["dice=0.5"]\n', ["no [gate] table", "'checks'"], id="no-gate-table"),
    ],
)
def test_bad_config_exits_2(reports: dict[str, Path], tmp_path: Path, text: str, needles: list[str]) -> None:
    (tmp_path / "segeval.toml").write_text(text)
    one_error_line(gate(reports["new"], "--min", "dice=0.5"), "segeval.toml", *needles)


def test_config_and_no_config_conflict(reports: dict[str, Path]) -> None:
    one_error_line(gate(reports["new"], "--config", "x.toml", "--no-config"), "--no-config")


# --------------------------------------------------------------------------- help, and the inline gate of score


def test_help_has_an_example() -> None:
    r = runner.invoke(app, ["gate", "--help"])
    assert r.exit_code == 0
    for word in ("--min", "--max", "--stat", "--per-case", "--baseline", "--max-drop", "--significant",
                 "--config", "--junit", "--format", "Example: segeval gate"):
        assert word in r.output


@pytest.fixture
def volumes(tmp_path: Path) -> tuple[Path, Path]:
    gt = np.zeros((10, 10, 10), np.uint8)
    gt[2:6, 2:6, 2:6] = 1
    gt[6:9, 6:9, 6:9] = 2
    pred = gt.copy()
    pred[2:4, 2:6, 2:6] = 0  # liver Dice 2/3, spleen 1
    np.save(tmp_path / "pred.npy", pred)
    np.save(tmp_path / "gt.npy", gt)
    return tmp_path / "pred.npy", tmp_path / "gt.npy"


@pytest.mark.parametrize(
    ("bars", "code"),
    [
        pytest.param(["--fail-under", "dice:liver=0.6", "--fail-under", "dice:2=1"], 0, id="pass"),
        pytest.param(["--fail-under", "dice:liver=0.7"], 1, id="fail"),
    ],
)
def test_score_fail_under_uses_the_gate(volumes: tuple[Path, Path], bars: list[str], code: int) -> None:
    pred, gt = volumes
    r = runner.invoke(app, ["score", str(pred), str(gt), "--spacing", "1,1,1", "--labels", "liver=1,spleen=2",
                            "-q", *bars])
    assert r.exit_code == code, r.output


def test_score_fail_under_bad_label(volumes: tuple[Path, Path]) -> None:
    pred, gt = volumes
    r = runner.invoke(app, ["score", str(pred), str(gt), "--spacing", "1,1,1", "--fail-under", "dice:kidney=0.5"])
    one_error_line(r, "--fail-under dice:kidney=0.5", "label 'kidney'")


def test_score_config(volumes: tuple[Path, Path], tmp_path: Path) -> None:
    pred, gt = volumes
    (tmp_path / "bars.toml").write_text('[gate]\nmin = ["dice:1=0.9"]\n')
    r = runner.invoke(app, ["score", str(pred), str(gt), "--spacing", "1,1,1", "-q",
                            "--config", str(tmp_path / "bars.toml")])
    assert r.exit_code == 1, r.output


# --------------------------------------------------------------------------- the documentation stays true

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "docs" / "gate.md", ROOT / "examples" / "ci" / "README.md"]
CI_FILES = [ROOT / "examples" / "ci" / "github-actions.yml", ROOT / "examples" / "ci" / "gitlab-ci.yml"]


def _toml_blocks(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [block.split("```", 1)[0] for block in text.split("```toml\n")[1:]]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_documented_config_is_valid(doc: Path, tmp_path: Path) -> None:
    from segeval.gate import read_config

    blocks = _toml_blocks(doc)
    assert blocks, f"{doc} has no toml block"
    for block in blocks:
        (tmp_path / "segeval.toml").write_text(block)
        cfg = read_config(tmp_path / "segeval.toml")
        assert cfg.checks


def _gate_lines(path: Path) -> list[str]:
    import re

    return [m.group(0) for m in re.finditer(r"segeval gate [^\n`\\]*", path.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("doc", [*CI_FILES, *DOCS], ids=lambda p: p.name)
def test_documented_gate_commands_run(doc: Path, reports: dict[str, Path], tmp_path: Path) -> None:
    import shlex

    (tmp_path / "results.json").write_text(reports["new"].read_text())
    (tmp_path / "segeval.toml").write_text('[gate]\nmin = ["dice=0.5"]\n')
    lines = [line for line in _gate_lines(doc) if line.split()[2:3] and line.split()[2].endswith(".json")]
    assert lines, f"{doc} shows no 'segeval gate results.json' command"
    for line in lines:
        args = [a for a in shlex.split(line)[2:] if a != "$"]
        if "--baseline" in args:
            args[args.index("--baseline") + 1] = str(reports["old"])
        r = runner.invoke(app, ["gate", *args])
        assert r.exit_code in (0, 1), (line, r.output)
        if "--junit" in args:
            ET.parse(tmp_path / args[args.index("--junit") + 1])


@pytest.mark.parametrize("doc", CI_FILES, ids=lambda p: p.name)
def test_ci_examples_run_batch_then_gate_and_keep_the_junit(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    assert text.index("segeval batch") < text.index("segeval gate")
    assert "--junit segeval-gate.xml" in text
    assert text.count("segeval-gate.xml") >= 3  # written, uploaded, reported


# --------------------------------------------------------------------------- the gate explains itself


def test_quiet_still_prints_one_line_per_failing_check(reports: dict[str, Path]) -> None:
    r = gate(reports["new"], "--min", "dice:liver=0.95", "--min", "dice:spleen=0.5", "--max", "hd95=0.1", "-q",
             "--no-config")
    assert r.exit_code == 1 and r.stderr == ""
    out = r.stdout.splitlines()
    assert len(out) == 2, out
    assert re.fullmatch(r"FAIL dice:liver mean >= 0\.95: mean 0\.8\d{3} < 0\.95 over 30 cases", out[0])
    assert re.fullmatch(r"FAIL hd95 mean <= 0\.1: mean 1\.\d{4} > 0\.1 over 30 cases", out[1])
    assert gate(reports["new"], "--min", "dice=0.5", "-q", "--no-config").stdout == ""


def test_a_drop_that_passed_only_as_not_significant_says_so(reports: dict[str, Path], tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    noise = rng.normal(0, 0.05, 30)
    noise -= noise.mean() + 0.004
    (tmp_path / "noisy.json").write_text(to_json(_report([float(v) for v in 0.9 + noise])))
    args = [tmp_path / "noisy.json", "--baseline", reports["old"], "--max-drop", "dice:liver=0.001", "--significant",
            "--no-config"]
    r = gate(*args)
    assert r.exit_code == 0, r.output
    row = next(line for line in r.stdout.splitlines() if line.startswith("dice"))
    assert "PASS (not significant, p=" in row
    p = float(row.split("p=")[1].split(")")[0])
    assert 0.05 < p < 1
    md = gate(*args, "--format", "md").stdout
    assert f"✅ pass (not significant, p={row.split('p=')[1].split(')')[0]})" in md
    data = json.loads(gate(*args, "--format", "json").stdout)
    assert data["checks"][0]["not_significant"] is True


def test_a_distance_that_grew_worsened_it_did_not_drop(reports: dict[str, Path]) -> None:
    r = gate(reports["new"], "--baseline", reports["old"], "--max-drop", "hd95:liver=0.1", "--no-config")
    assert r.exit_code == 1
    assert re.search(r"worsened by 0\.\d{4} mm > 0\.1 mm", r.stdout) and "dropped by" not in r.stdout


def test_exit_3_is_headlined_as_such(reports: dict[str, Path], tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    r = gate(reports["failed"], "--min", "dice=0.5", "--no-config", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert r.exit_code == 3
    assert f"gate passed, 1 case not scored (exit 3): 1 of 1 checks on {reports['failed']}" in r.stdout
    head = summary.read_text().splitlines()[0]
    assert head == "### segeval gate: ⚠️ passed, 1 case not scored (exit 3), 1 of 1 checks"
    assert "✅ passed" not in summary.read_text()


def test_the_failed_case_hint_is_said_once(reports: dict[str, Path]) -> None:
    r = gate(reports["failed"], "--min", "dice=0.95", "--min", "dice:spleen=0.9", "--no-config")
    assert r.exit_code == 1
    assert r.stdout.count("failed to score") == 1
    assert "1 of 6 cases failed to score: case_x: missing prediction" in r.stdout


@pytest.mark.parametrize(("option", "bar", "says"), [
    ("--min", "dice=90", "dice lies between 0 and 1, so 90 is outside its range; did you mean 0.90?"),
    ("--max", "nsd:liver=85", "nsd lies between 0 and 1, so 85 is outside its range; did you mean 0.85?"),
    ("--min", "dice=1000", "dice lies between 0 and 1, so 1000 is outside its range"),
])
def test_a_bar_outside_the_metrics_range_suggests_the_fraction(reports: dict[str, Path], option: str, bar: str,
                                                               says: str) -> None:
    one_error_line(gate(reports["new"], option, bar, "--no-config"), says)


def test_a_baseline_with_no_case_in_common_is_exit_2(reports: dict[str, Path], tmp_path: Path) -> None:
    other = _report([0.9] * 3)
    for c in other.cases:
        c.case = "other_" + c.case
    (tmp_path / "other.json").write_text(to_json(other))
    one_error_line(gate(reports["new"], "--baseline", tmp_path / "other.json", "--max-drop", "dice=0.01",
                        "--no-config"), "have no case id in common")


def test_gate_reads_nnunets_summary_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fold's validation/summary.json can be gated directly: the same Dice as segeval's own report."""
    from tests.batching._data import make_clean

    monkeypatch.chdir(tmp_path)
    make_clean(tmp_path, 4)
    r = runner.invoke(app, ["batch", "pred", "gt", "-o", "r.json", "--nnunet-summary", "summary.json", "-q"])
    assert r.exit_code == 0, r.output
    ours = json.loads(gate("r.json", "--min", "dice:1=0.1", "-f", "json", "--no-config").stdout)
    theirs = json.loads(gate("summary.json", "--min", "dice:1=0.1", "-f", "json", "--no-config").stdout)
    assert theirs["checks"][0]["value"] == pytest.approx(ours["checks"][0]["value"], abs=1e-12)
    assert theirs["checks"][0]["n"] == ours["checks"][0]["n"] == 4
    r = gate("summary.json", "--min", "iou=0.1", "--max", "fp:1=100000", "--no-config")
    assert r.exit_code == 0, r.output
    one_error_line(gate("summary.json", "--max", "hd95=5", "--no-config"), "has no hd95 values")
