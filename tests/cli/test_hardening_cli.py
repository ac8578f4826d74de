"""Failing machines and hostile options through the CLI: one line, the right exit code, nothing lost.

Issue 15, items 3 (a full disk mid-batch), 6 (non-finite distances), 10
(side files that are not UTF-8), 12 (labels past int64), 16 (non-integer
labels in the API), 18 (signals before the command starts) and the rule that
an unexpected exception exits 4, never 1.
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import segeval
from segeval.cli import app
from segeval.errors import LabelSpecError
from segeval.io import read_volume
from tests.batching._data import make_clean

runner = CliRunner()


def run(*args: Any) -> Any:
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def cases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    make_clean(tmp_path, 12)
    return tmp_path


def _pair(root: Path) -> tuple[Path, Path]:
    pred = min((root / "pred").iterdir())
    return pred, root / "gt" / pred.name


# --------------------------------------------------------------------------- item 3: a full disk


def _file_size_limit(limit: int) -> Any:
    def preexec() -> None:
        # Writes past `limit` bytes fail with EFBIG, as they would with ENOSPC on a full disk
        # (Python ignores SIGXFSZ, so the write returns the error instead of killing the process).
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


@pytest.mark.parametrize("output", ["out.csv", "out.json"])
def test_a_full_disk_mid_batch_says_what_was_kept_and_resume_completes(cases: Path, output: str) -> None:
    args = [sys.executable, "-m", "segeval", "batch", "pred", "gt", "-o", output, "--jobs", "1"]
    full = subprocess.run(args, cwd=cases, preexec_fn=_file_size_limit(6000), capture_output=True, text=True,
                          timeout=120, check=False)
    assert full.returncode == 2, full.stderr
    err = [line for line in full.stderr.splitlines() if line.startswith("segeval: error")]
    assert len(err) == 1 and "Traceback" not in full.stderr
    assert "(File too large); the run stopped: the " in err[0]
    assert err[0].endswith("make room and run the same command with --resume")
    kept = int(err[0].split("the run stopped: the ")[1].split()[0])
    assert 1 <= kept < 12

    resumed = subprocess.run([*args, "--resume", "-q"], cwd=cases, capture_output=True, text=True, timeout=120,
                             check=False)
    assert resumed.returncode == 0, resumed.stderr
    reference = run("batch", "pred", "gt", "-o", f"ref{Path(output).suffix}", "--jobs", "1", "-q")
    assert reference.exit_code == 0
    assert (cases / output).read_bytes() == (cases / f"ref{Path(output).suffix}").read_bytes()


def test_a_write_error_at_the_end_of_score_is_one_line(cases: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from segeval.report import writers

    def no_space(fd: int, path: str, *a: Any, **k: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writers.os, "replace", no_space)
    pred, gt = _pair(cases)
    r = run("score", pred, gt, "-o", "out.json")
    assert r.exit_code == 2 and r.stderr == "segeval: error: -o out.json: cannot write (No space left on device)\n"
    assert [p.name for p in cases.iterdir() if p.name.startswith(".")] == []  # its temporary file removed


# --------------------------------------------------------------------------- item 6: non-finite distances


@pytest.mark.parametrize(("option", "value", "says"), [
    ("--inf-distance", "nan", "--inf-distance: must be a finite number >= 0 mm, got 'nan'"),
    ("--inf-distance", "inf", "--inf-distance: must be a finite number >= 0 mm, got 'inf'"),
    ("--inf-distance", "-1", "--inf-distance: must be a finite number >= 0 mm, got '-1'"),
    ("--tolerance", "inf", "--tolerance (tolerance_mm): must be a finite number >= 0 mm, got inf"),
    ("--tolerance", "nan", "--tolerance (tolerance_mm): must be a finite number >= 0 mm, got nan"),
])
def test_non_finite_distances_are_refused(cases: Path, option: str, value: str, says: str) -> None:
    pred, gt = _pair(cases)
    for command in (["score", pred, gt], ["batch", "pred", "gt", "-o", "out.json"]):
        r = run(*command, option, value)
        assert r.exit_code == 2 and r.stderr == f"segeval: error: {says}\n", r.output


def test_a_missed_class_stays_infinite_for_the_gate(cases: Path) -> None:
    """Before: --inf-distance nan made the missed class's hd95 NaN, so `gate --max hd95` passed."""
    gt = cases / "gt" / "case_000.nii.gz"
    empty = cases / "empty.npy"
    import numpy as np

    vol = read_volume(gt)
    np.save(empty, np.zeros(vol.shape, vol.labels.dtype))
    r = run("score", empty, gt, "--spacing", ",".join(map(str, vol.spacing_mm)), "--metrics", "dice,hd95",
            "-o", "r.json", "-q")
    assert r.exit_code == 0, r.output
    assert run("gate", "r.json", "--max", "hd95=5", "--no-config").exit_code == 1


# --------------------------------------------------------------------------- item 10: side files not UTF-8


@pytest.mark.parametrize(("option", "name", "says"), [
    ("--label-names", "names.json", "--label-names names.json: not UTF-8 text"),
    ("--label-names", "dataset.json", "--label-names dataset.json: not UTF-8 text"),
    ("--pairs", "pairs.csv", "not UTF-8"),
])
def test_side_files_that_are_not_utf8_are_one_line(cases: Path, option: str, name: str, says: str) -> None:
    (cases / name).write_bytes(b'\xff\xfe{"labels": {"liver": 1}}\n')
    pred, gt = _pair(cases)
    command = ["batch", "-o", "out.json"] if option == "--pairs" else ["score", pred, gt]
    r = run(*command, option, name)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and says in r.stderr, r.output
    assert "UnicodeDecodeError" not in r.output


def test_a_dataset_json_found_beside_the_data_that_is_not_utf8_is_one_line(cases: Path) -> None:
    (cases / "dataset.json").write_bytes(b'{"labels": {"background": 0, "l\xe9sion": 1}}')
    r = run("batch", "pred", "gt", "-o", "out.json")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "not UTF-8" in r.stderr, r.output


# --------------------------------------------------------------------------- items 12 and 16: labels


@pytest.mark.parametrize(("option", "value"), [("--labels", str(2**63)), ("--labels", f"1,{-(2**63) - 1}"),
                                               ("--region", f"WT=1,{2**64}")])
def test_labels_past_int64_are_one_line(cases: Path, option: str, value: str) -> None:
    pred, gt = _pair(cases)
    r = run("score", pred, gt, option, value)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "does not fit a 64-bit label map" in r.stderr


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"labels": [1.5]}, "1.5 is not a whole number"),
    ({"labels": [True]}, "True is not a whole number"),
    ({"labels": [2**63]}, "does not fit a 64-bit label map"),
    ({"ignore_label": 1.9}, "1.9 is not a whole number"),
])
def test_the_api_refuses_labels_it_would_truncate(cases: Path, kwargs: dict[str, Any], says: str) -> None:
    pred, gt = _pair(cases)
    with pytest.raises(LabelSpecError, match=says):
        segeval.score(pred, gt, **kwargs)


def test_whole_float_labels_are_still_labels(cases: Path) -> None:
    pred, gt = _pair(cases)
    assert [r["label"] for r in segeval.score(pred, gt, labels=[1.0]).cases[0].labels] == [1]
    assert segeval.score(pred, gt, labels=[1], ignore_label=2.0).settings["ignore_label"] == 2


# --------------------------------------------------------------------------- item 18: signals at start


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="waits on /proc/PID/maps")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_while_the_command_starts_is_one_line(cases: Path, signum: int) -> None:
    """Before: Ctrl-C while the libraries were importing printed a KeyboardInterrupt traceback."""
    pred, gt = _pair(cases)
    proc = subprocess.Popen([sys.executable, "-m", "segeval", "score", str(pred), str(gt)], cwd=cases,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Once NumPy's extension is mapped, segeval's entry point has taken over the signals
    # (it does that before importing anything): the imports are under way.
    maps = Path(f"/proc/{proc.pid}/maps")
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if "_multiarray_umath" in maps.read_text():
                break
        except OSError:
            pass
        time.sleep(0.005)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the command finished before the signal came (a very fast machine)")
    assert proc.returncode == 128 + signum, err
    assert err == "segeval: interrupted\n"


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_a_closed_stdout_is_a_quiet_141_not_the_gate_failures_1(cases: Path, fmt: str) -> None:
    """Typer and rich exit 1 when the reader of stdout has gone (`segeval score ... | head`)."""
    pred, gt = _pair(cases)
    proc = subprocess.Popen([sys.executable, "-m", "segeval", "score", str(pred), str(gt), "--format", fmt],
                            cwd=cases, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 141 and err == ""


# --------------------------------------------------------------------------- exit 4: a bug is not a gate failure


@pytest.mark.parametrize("command", ["score", "batch", "gate"])
def test_an_unexpected_exception_exits_4_with_one_line(cases: Path, monkeypatch: pytest.MonkeyPatch,
                                                       command: str) -> None:
    import segeval.batching.run
    import segeval.gate
    import segeval.scoring

    def bug(*a: Any, **k: Any) -> Any:
        raise ZeroDivisionError("division by zero")

    # The CLI imports what it calls when it runs: patch where it imports from.
    target = {"score": (segeval.scoring, "score"), "batch": (segeval.batching.run, "run_resumable"),
              "gate": (segeval.gate, "judge")}[command]
    monkeypatch.setattr(*target, bug)
    pred, gt = _pair(cases)
    (cases / "r.json").write_text(json.dumps({"cases": []}))
    args = {"score": ["score", pred, gt], "batch": ["batch", "pred", "gt", "-o", "out.json", "-q"],
            "gate": ["gate", "r.json", "--min", "dice=0.5", "--no-config"]}[command]
    r = run(*args)
    assert r.exit_code == 4, r.output
    assert r.stderr == ("segeval: internal error: ZeroDivisionError: division by zero; run with --debug for the "
                        "traceback\n")
    r = run(*args, "--debug")
    assert r.exit_code == 4 and "Traceback" in r.stderr and r.stderr.endswith("for the traceback\n")


def test_the_exit_codes_are_documented() -> None:
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    for text in ("4", "internal error", "128"):
        assert text in readme.split("Exit codes")[1][:1500], text


# --------------------------------------------------------------------------- feedback for logs


def test_a_log_gets_a_progress_line_every_tenth_and_at_the_end() -> None:
    from segeval.cli._feedback import log_progress
    from segeval.records import CaseResult

    lines: list[str] = []
    now = [0.0]
    with log_progress(50, write=lines.append, clock=lambda: now[0]) as advance:
        for i in range(50):
            now[0] += 2.0
            advance(CaseResult(case=f"c{i}", error="boom" if i in (3, 4, 5) else None))
    assert len(lines) == 10
    assert lines[0] == "segeval: scored 5/50 (10%), 2 failed, 1m30s left"
    assert lines[-1] == "segeval: scored 50/50 (100%), 3 failed in 1m40s"


def test_a_slow_run_gets_a_line_every_30_s() -> None:
    from segeval.cli._feedback import log_progress
    from segeval.records import CaseResult

    lines: list[str] = []
    now = [0.0]
    with log_progress(1000, write=lines.append, clock=lambda: now[0]) as advance:
        for i in range(3):
            now[0] += 31.0
            advance(CaseResult(case=f"c{i}"))
    assert lines == ["segeval: scored 1/1000 (0%), 8h36m left", "segeval: scored 2/1000 (0%), 8h35m left",
                     "segeval: scored 3/1000 (0%), 8h35m left"]


def test_each_written_file_gets_a_line_and_no_output_is_said(cases: Path) -> None:
    r = run("batch", "pred", "gt", "-o", "out.csv", "--summary", "summary.md", "-j", "1")
    assert r.exit_code == 0, r.output
    assert "segeval: wrote out.csv (12 cases)" in r.stderr and "segeval: wrote summary.md (summary of 12 cases)" \
        in r.stderr
    assert "segeval: scored 12/12 (100%)" in r.stderr  # not a terminal: plain progress lines
    r = run("batch", "pred", "gt", "-j", "1")
    assert "per-case results were not saved (no -o)" in r.stderr
    pred, gt = _pair(cases)
    r = run("score", pred, gt, "-o", "one.json")
    assert r.stderr.endswith("segeval: wrote one.json (1 case)\n")
    assert "wrote" not in run("score", pred, gt, "-o", "two.json", "-q").stderr
