"""``segeval batch`` through the CLI: pairing report, --missing, exit codes, outputs, interruption and --resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from segeval.batching import journal_path
from segeval.cli import app
from tests.batching._data import make_clean, make_scenario

runner = CliRunner()


def run(*args: Any) -> Any:
    return runner.invoke(app, ["batch", *[str(a) for a in args]])


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture
def scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.chdir(tmp_path)
    return make_scenario(tmp_path)


def test_pairing_report_comes_first_and_failed_cases_exit_3(scenario: dict[str, Any]) -> None:
    r = run(scenario["pred"], scenario["gt"], "-o", "out.json", "--jobs", "1")
    assert r.exit_code == 3, r.output
    err = lines(r.stderr)
    assert err[0] == "segeval: 6 cases paired by case id"
    assert err[1] == ("segeval: warning: 2 GT cases have no prediction (recorded as failed, --missing error): "
                      "case_06, case_07")
    assert err[2] == "segeval: warning: 1 prediction has no GT case (not scored): case_99.nii.gz"
    assert "segeval: 4 of 8 cases failed:" in err
    assert any(e.startswith("  case_03: ") and "corrupt gzip stream" in e for e in err)
    assert any(e.startswith("  case_04: ") and "spacing differs" in e for e in err)
    assert "Traceback" not in r.output and "Scoring" not in r.stderr  # no progress bar off a terminal
    data = json.loads(Path("out.json").read_text())
    errors = {c["case"]: c["error"] for c in data["cases"]}
    assert [c["case"] for c in data["cases"]] == [f"case_{i:02d}" for i in range(8)]
    assert errors["case_00"] is None and errors["case_03"].startswith(str(scenario["pred"] / "case_03.nii.gz"))
    assert errors["case_06"].startswith("no prediction for this case")
    assert data["summary"]["n_failed"] == 4
    assert not journal_path(Path("out.json")).exists()


@pytest.mark.parametrize(
    ("missing", "n_cases", "n_failed", "warning"),
    [
        pytest.param("error", 8, 4, "recorded as failed", id="error"),
        pytest.param("zero", 8, 2, "scored as empty predictions", id="zero"),
        pytest.param("skip", 6, 2, "left out", id="skip"),
    ],
)
def test_missing_modes(scenario: dict[str, Any], missing: str, n_cases: int, n_failed: int, warning: str) -> None:
    r = run(scenario["pred"], scenario["gt"], "--missing", missing, "-o", "out.csv", "-j", "1")
    assert r.exit_code == 3, r.output  # the corrupt file and the mismatch fail in every mode
    assert f"({warning}, --missing {missing}): case_06, case_07" in r.stderr
    rows = lines(Path("out.csv").read_text())[1:]
    cases = {row.split(",")[0] for row in rows}
    failed = {row.split(",")[0] for row in rows if row.split(",")[-1]}
    assert len(cases) == n_cases and len(failed) == n_failed
    if missing == "zero":
        case_06 = [row.split(",") for row in rows if row.startswith("case_06,")]
        # Dice of an empty prediction, and NaN for the label only other cases have (absent from both)
        assert [row[3] for row in case_06] == ["0", "0", ""]


def test_skip_with_only_good_cases_exits_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pred_dir, gt_dir = make_clean(tmp_path, 3)
    (pred_dir / "case_001.nii.gz").unlink()
    r = run(pred_dir, gt_dir, "--missing", "skip", "-q", "-j", "1")
    assert r.exit_code == 0, r.output
    assert r.stdout == "" and r.stderr == ""


def test_jobs_2_output_equals_jobs_1_byte_for_byte(scenario: dict[str, Any]) -> None:
    for jobs in ("1", "2"):
        for ext in ("csv", "json", "jsonl"):
            r = run(scenario["pred"], scenario["gt"], "--missing", "zero", "--metrics", "dice,hd95,nsd",
                    "-o", f"j{jobs}.{ext}", "--nnunet-summary", f"nn{jobs}.json", "--summary", f"s{jobs}.csv",
                    "-j", jobs, "-q")
            assert r.exit_code == 3, r.output
    for name in ("j{}.csv", "j{}.json", "j{}.jsonl", "nn{}.json", "s{}.csv"):
        assert Path(name.format(1)).read_bytes() == Path(name.format(2)).read_bytes(), name


def test_jsonl_output_holds_the_json_reports_values_a_line_each(scenario: dict[str, Any]) -> None:
    for ext in ("json", "jsonl"):
        r = run(scenario["pred"], scenario["gt"], "-o", f"out.{ext}", "-j", "1", "-q")
        assert r.exit_code == 3, r.output
    whole = json.loads(Path("out.json").read_text())
    records = [json.loads(line) for line in Path("out.jsonl").read_text().splitlines()]
    assert records[0] == {"segeval_version": whole["segeval_version"], "report_format": 1,
                          "settings": whole["settings"]}
    assert records[1:-1] == whole["cases"]
    assert records[-1] == {"summary": whole["summary"]}
    # gate reads either, with the same verdict
    verdicts = [runner.invoke(app, ["gate", f"out.{ext}", "--fail-under", "dice=0.5"]) for ext in ("json", "jsonl")]
    assert verdicts[0].exit_code == verdicts[1].exit_code
    assert verdicts[0].stdout == verdicts[1].stdout.replace("out.jsonl", "out.json")


def test_table_summary_and_worst_cases_on_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pred_dir, gt_dir = make_clean(tmp_path, 7)
    (gt_dir / "dataset.json").write_text('{"labels": {"background": 0, "liver": 1, "spleen": 2, "tumour": 3}}')
    r = run(pred_dir, gt_dir, "-j", "1")
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "Summary over 7 cases" in out and "Worst cases by macro Dice" in out
    for word in ("liver", "spleen", "Dice", "±", "macro", "micro", "Generalized Dice"):
        assert word in out, word
    worst = out.split("Worst cases by macro Dice")[1]
    assert len([line for line in worst.splitlines() if line.startswith("case_")]) == 5
    assert f"scoring the 3 labels of {gt_dir / 'dataset.json'}" in r.stderr


@pytest.mark.parametrize("ext", ["csv", "json", "md"])
def test_summary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ext: str) -> None:
    monkeypatch.chdir(tmp_path)
    pred_dir, gt_dir = make_clean(tmp_path, 3)
    r = run(pred_dir, gt_dir, "--summary", f"summary.{ext}", "-q", "-j", "1")
    assert r.exit_code == 0, r.output
    text = Path(f"summary.{ext}").read_text()
    assert {"csv": "label,name,metric,mean,std,median,min,max,n,n_nan",
            "json": '"per_label"', "md": "| label | name | dice mean ± std |"}[ext] in text


def test_nnunet_summary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pred_dir, gt_dir = make_clean(tmp_path, 3)
    (gt_dir.parent / "dataset.json").write_text('{"labels": {"background": 0, "a": 1, "b": 2, "c": 3, "d": 4}}')
    r = run(pred_dir, gt_dir, "--nnunet-summary", "summary.json", "-q", "-j", "1")
    assert r.exit_code == 0, r.output
    data = json.loads(Path("summary.json").read_text())
    assert list(data) == ["foreground_mean", "mean", "metric_per_case"]
    assert list(data["mean"]) == ["1", "2", "3", "4"]  # label 4 from dataset.json, in no case
    assert data["metric_per_case"][0]["reference_file"] == str(gt_dir / "case_000.nii.gz")
    assert data["foreground_mean"]["Dice"] == data["foreground_mean"]["Dice"]  # not NaN


def test_pairs_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    make_clean(tmp_path, 2)
    Path("pairs.csv").write_text("case,pred,gt\nx,pred/case_000.nii.gz,gt/case_000.nii.gz\n"
                                 "y,pred/case_001.nii.gz,gt/case_001.nii.gz\n")
    r = run("--pairs", "pairs.csv", "-o", "out.json", "-q")
    assert r.exit_code == 0, r.output
    assert [c["case"] for c in json.loads(Path("out.json").read_text())["cases"]] == ["x", "y"]


def test_gate_outranks_failed_cases(scenario: dict[str, Any]) -> None:
    failing = run(scenario["pred"], scenario["gt"], "-q", "-j", "1", "--fail-under", "dice=0.999")
    assert failing.exit_code == 1, failing.output
    passing = run(scenario["pred"], scenario["gt"], "-q", "-j", "1", "--fail-under", "dice=0.1")
    assert passing.exit_code == 3, passing.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--missing", "maybe"], "--missing: expected error, zero or skip", id="missing"),
        pytest.param(["--resume"], "--resume needs -o FILE", id="resume-without-o"),
        pytest.param(["--summary", "s.txt"], "--summary s.txt: give a .csv, .json or .md file name", id="summary"),
        pytest.param(["--jobs", "0"], "--jobs: must be at least 1", id="jobs"),
        pytest.param(["-o", "nowhere/out.csv"], "-o nowhere/out.csv: folder nowhere does not exist", id="output"),
        pytest.param(["--pairs", "p.csv"], "--pairs replaces PRED_DIR and GT_DIR", id="pairs-and-dirs"),
    ],
)
def test_bad_options_exit_2_with_one_line(scenario: dict[str, Any], args: list[str], message: str) -> None:
    r = run(scenario["pred"], scenario["gt"], *args)
    assert r.exit_code == 2, r.output
    assert len(lines(r.stderr)) == 1 and message in r.stderr and "Traceback" not in r.stderr


def test_bad_folders_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pred_dir, gt_dir = make_clean(tmp_path, 2)
    r = run(pred_dir, tmp_path / "nope")
    assert r.exit_code == 2 and "no such folder" in r.stderr
    other = tmp_path / "other"
    other.mkdir()
    for f in pred_dir.iterdir():
        f.rename(other / f.name.replace("case", "scan"))
    r = run(other, gt_dir)
    assert r.exit_code == 2 and "has the case id of a GT file" in r.stderr and len(lines(r.stderr)) == 1


def test_resume_refuses_other_settings(scenario: dict[str, Any]) -> None:
    assert run(scenario["pred"], scenario["gt"], "-o", "out.json", "-q", "-j", "1").exit_code == 3
    r = run(scenario["pred"], scenario["gt"], "-o", "out.json", "--resume", "--alpha", "0.5", "-q", "-j", "1")
    assert r.exit_code == 2
    assert "other settings (alpha 0.3 there, 0.5 now)" in r.stderr


def test_resume_of_a_finished_run_retries_only_failed_cases(scenario: dict[str, Any]) -> None:
    assert run(scenario["pred"], scenario["gt"], "-o", "out.jsonl", "-j", "1", "-q").exit_code == 3
    first = Path("out.jsonl").read_bytes()
    r = run(scenario["pred"], scenario["gt"], "-o", "out.jsonl", "--resume", "-j", "1")
    assert "segeval: resuming: 4 cases already scored in out.jsonl; 4 to score" in r.stderr
    assert r.exit_code == 3 and Path("out.jsonl").read_bytes() == first


@pytest.mark.parametrize(("option", "value"), [("--missing", "zero"), ("--resample-pred", None), ("--alpha", "0.9")])
def test_resume_checks_every_option_that_changes_a_number_or_the_cases(scenario: dict[str, Any], option: str,
                                                                       value: str | None) -> None:
    assert run(scenario["pred"], scenario["gt"], "-o", "out.json", "-j", "1", "-q").exit_code == 3
    extra = [option] if value is None else [option, value]
    r = run(scenario["pred"], scenario["gt"], "-o", "out.json", "--resume", "-j", "1", *extra)
    assert r.exit_code == 2 and "was scored with other settings" in r.stderr
    assert option.lstrip("-").replace("-", "_") in r.stderr


# ----------------------------------------------------------------------------- interruption (real processes)

SEGEVAL = [sys.executable, "-m", "segeval"]  # the console script's entry point, signal handlers included
N_CASES = 12


@pytest.fixture
def many(tmp_path: Path) -> dict[str, Any]:
    pred_dir, gt_dir = make_clean(tmp_path, N_CASES)
    return {"root": tmp_path, "pred": pred_dir, "gt": gt_dir}


def _segeval(root: Path, *args: str, delay: float | None = None) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env.pop("SEGEVAL_TEST_CASE_DELAY", None)
    if delay is not None:
        env["SEGEVAL_TEST_CASE_DELAY"] = str(delay)
    return subprocess.Popen([*SEGEVAL, "batch", *args], cwd=root, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _finished(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = _segeval(root, *args)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _wait_for_cases(journal: Path, n: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if journal.exists() and journal.read_text().count("\n") >= n + 1 and proc.poll() is None:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the batch did not get going")


def _complete_cases(journal: Path) -> int:
    """Cases the journal holds whole (a signal may land mid-line: that case is scored again)."""
    n = 0
    for line in journal.read_text().splitlines()[1:]:
        try:
            json.loads(line)
        except ValueError:
            continue
        n += 1
    return n


def _alive_in_group(pgid: int) -> list[int]:
    """Processes of the group that are still running (zombies waiting for a reaper count as gone)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(entry.name))
    return alive


def _reference(many: dict[str, Any], output: str) -> bytes:
    """The uninterrupted run's output (in this process: --jobs 1 writes the same bytes as --jobs 2)."""
    r = runner.invoke(app, ["batch", str(many["pred"]), str(many["gt"]), "-o", str(many["root"] / output),
                            "-q", "--jobs", "1"])
    assert r.exit_code == 0, r.output
    return (many["root"] / output).read_bytes()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process-group checks use /proc")
@pytest.mark.parametrize(("jobs", "signum", "group"), [
    pytest.param("1", signal.SIGINT, True, id="ctrl-c-jobs-1"),
    pytest.param("2", signal.SIGINT, True, id="ctrl-c-jobs-2"),  # what Ctrl-C in a terminal does: the group
    pytest.param("2", signal.SIGTERM, False, id="sigterm-jobs-2"),  # what a CI runner sends on cancel
    pytest.param("1", signal.SIGHUP, False, id="sighup-jobs-1"),  # the terminal closed
])
def test_ctrl_c_stops_cleanly_and_resume_completes_the_report(many: dict[str, Any], jobs: str, signum: int,
                                                              group: bool) -> None:
    root = many["root"]
    args = [str(many["pred"]), str(many["gt"]), "--jobs", jobs, "-o", "out.json"]
    reference = _reference(many, "reference.json")

    proc = _segeval(root, *args, "-q", delay=0.3)
    journal = journal_path(root / "out.json")
    _wait_for_cases(journal, 3, proc)
    if group:
        os.killpg(proc.pid, signum)
    else:
        os.kill(proc.pid, signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err and len(lines(err)) == 1, err
    assert err.startswith("segeval: interrupted after ") and "--resume" in err
    kept = _complete_cases(journal)
    assert 3 <= kept < N_CASES and not (root / "out.json").exists()
    journal_text = journal.read_text()

    resumed = _finished(root, *args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming: {kept} cases already scored in out.json; {N_CASES - kept} to score" in resumed.stderr, \
        (err, journal_text, resumed.stderr)
    assert (root / "out.json").read_bytes() == reference
    assert not journal.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process-group checks use /proc")
def test_sigkill_loses_nothing_leaves_no_workers_and_resume_completes(many: dict[str, Any]) -> None:
    root = many["root"]
    args = [str(many["pred"]), str(many["gt"]), "--jobs", "2", "-q", "-o", "out.csv"]
    reference = _reference(many, "reference.csv")

    proc = _segeval(root, *args, delay=0.3)
    journal = journal_path(root / "out.csv")
    _wait_for_cases(journal, 2, proc)
    os.kill(proc.pid, signal.SIGKILL)  # the main process only: its workers must not linger
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 15
    while _alive_in_group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _alive_in_group(proc.pid) == []
    kept = journal.read_text().count("\n") - 1
    assert 2 <= kept < N_CASES
    streamed = lines((root / "out.csv").read_text())  # the CSV already holds the finished cases' rows
    assert len({row.split(",")[0] for row in streamed[1:]}) >= kept - 1  # killed between the two writes?

    resumed = _finished(root, *args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert (root / "out.csv").read_bytes() == reference
    assert not journal.exists()


def test_batch_tsv_worst_by_and_verbose(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pred_dir, gt_dir = make_clean(tmp_path, 3)
    r = run(pred_dir, gt_dir, "-j", "1", "-f", "tsv")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("case\tlabel\tname\tdice") and all(len(x.split("\t")) == len(lines[0].split("\t"))
                                                                    for x in lines)
    r = run(pred_dir, gt_dir, "-j", "1", "--worst", "2", "--by", "recall:1", "--verbose", "--summary", "s.md")
    assert r.exit_code == 0, r.output
    assert "Worst cases by Recall of 1" in r.stdout and "Dice median" in r.stdout
    assert len([x for x in r.stdout.split("Worst cases")[1].splitlines() if x.startswith("case_")]) == 2
    assert "### worst cases by Recall of 1" in Path("s.md").read_text()
    r = run(pred_dir, gt_dir, "-j", "1", "--by", "hd95")
    assert r.exit_code == 2 and "--by hd95" in r.stderr
