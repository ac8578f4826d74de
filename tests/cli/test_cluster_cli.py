"""``segeval batch --scheduler`` on a real Dask cluster (processes on 127.0.0.1): the files of a local run.

Every output file (``-o`` CSV and JSON, ``--summary``, ``--nnunet-summary``)
is compared byte for byte with a ``--jobs 1`` run of the same cases; a
scheduler killed mid-run stops the command with one line and exit 130, and
``--resume`` against another cluster completes the same files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from segeval.batching import journal_path
from segeval.batching.cluster import SCHEDULER_ENV
from segeval.cli import app
from segeval.scoring import TEST_DELAY_ENV
from tests.batching._cluster import LoopbackCluster, loopback_cluster
from tests.batching._data import make_clean, make_scenario

runner = CliRunner()
SEGEVAL = [sys.executable, "-c", "from segeval.cli import app; app()"]


def run(*args: Any, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, ["batch", *[str(a) for a in args]], env=env)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackCluster]:
    with loopback_cluster(tmp_path_factory.mktemp("cluster"), workers=2) as c:
        yield c


OUTPUTS = ("out.csv", "out.json", "summary.md", "summary.json", "nnunet.json")


def test_every_output_file_equals_a_local_jobs_1_run(cluster: LoopbackCluster, tmp_path: Path) -> None:
    sc = make_scenario(tmp_path / "data")
    results = {}
    for name, how in (("local", ["--jobs", "1"]), ("cluster", ["--scheduler", cluster.address])):
        folder = tmp_path / name
        folder.mkdir()
        for fmt, summary in (("csv", "md"), ("json", "json")):
            r = run(sc["pred"], sc["gt"], "--metrics", "dice,hd95", *how, "-o", folder / f"out.{fmt}",
                    "--summary", folder / f"summary.{summary}", "--nnunet-summary", folder / "nnunet.json")
            assert r.exit_code == 3, r.output  # the corrupt, mismatched and missing cases failed
            results[name, fmt] = r
    for name in OUTPUTS:
        assert (tmp_path / "cluster" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    err = lines(results["cluster", "csv"].stderr)
    assert err[0] == "segeval: 6 cases paired by case id"
    assert f"segeval: scoring on the Dask cluster at {cluster.address}: 2 workers, 2 threads" in err
    assert "segeval: 4 of 8 cases failed:" in err
    assert results["cluster", "csv"].stdout == results["local", "csv"].stdout  # the summary table


def test_relative_folders_give_the_local_runs_bytes(cluster: LoopbackCluster, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # The workers run in another folder: they get absolute paths, the report keeps the paths as given.
    monkeypatch.chdir(tmp_path)
    make_scenario(tmp_path / "data")
    local = run("data/pred", "data/gt", "--jobs", "1", "-o", "local.json", "-q")
    r = run("data/pred", "data/gt", "--scheduler", cluster.address, "-o", "cluster.json", "-q")
    assert local.exit_code == r.exit_code == 3, r.output
    text = Path("cluster.json").read_text()
    assert text == Path("local.json").read_text()
    assert '"pred": "data/pred/case_00.nii.gz"' in text and '"error": "data/pred/case_03.nii.gz: ' in text


@pytest.mark.parametrize("how", ["env", "file"])
def test_the_scheduler_from_the_environment_or_its_file(cluster: LoopbackCluster, tmp_path: Path, how: str) -> None:
    pred, gt = make_clean(tmp_path / "data", 3)
    local = run(pred, gt, "--jobs", "1", "-o", tmp_path / "local.json", "-q")
    if how == "env":
        r = run(pred, gt, "-o", tmp_path / "cluster.json", env={SCHEDULER_ENV: cluster.address})
        where = cluster.address
    else:
        r = run(pred, gt, "-o", tmp_path / "cluster.json", "--scheduler-file", cluster.scheduler_file)
        where = cluster.address
    assert local.exit_code == 0 and r.exit_code == 0, r.output
    assert f"segeval: scoring on the Dask cluster at {where}: 2 workers, 2 threads" in lines(r.stderr)
    assert (tmp_path / "cluster.json").read_bytes() == (tmp_path / "local.json").read_bytes()
    # An explicit --jobs runs locally even with the variable set.
    r = run(pred, gt, "--jobs", "1", "-o", tmp_path / "jobs.json", env={SCHEDULER_ENV: "tcp://127.0.0.1:9"})
    assert r.exit_code == 0 and "Dask" not in r.stderr, r.output


def test_a_lost_scheduler_is_one_line_exit_130_and_resume_on_another_cluster_completes(
        cluster: LoopbackCluster, tmp_path: Path) -> None:
    pred, gt = make_clean(tmp_path / "data", 12)
    out = tmp_path / "out.csv"
    local = run(pred, gt, "--jobs", "1", "-o", tmp_path / "local.csv", "-q")
    assert local.exit_code == 0, local.output
    with loopback_cluster(tmp_path / "first", workers=2, worker_env={TEST_DELAY_ENV: "0.3"}) as first:
        proc = subprocess.Popen([*SEGEVAL, "batch", str(pred), str(gt), "-o", str(out), "--scheduler",
                                 first.address], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            # Kill the scheduler once three cases are in the CSV.
            while time.monotonic() < deadline and proc.poll() is None:
                if len(_cases_in(out)) >= 3:
                    break
                time.sleep(0.05)
            first.stop_scheduler()
            _, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, stderr
    last = lines(stderr)[-1]
    assert last.startswith(f"segeval: lost the connection to the Dask scheduler (--scheduler {first.address}): "
                           "stopped after ")
    assert last.endswith(f"finished cases are in {out}; run the same command with --resume to score the rest")
    assert "Traceback" not in stderr and "distributed" not in stderr
    kept = len(_cases_in(out))
    assert 3 <= kept < 12 and f"stopped after {kept} of 12 cases; the {kept} finished cases" in last
    r = run(pred, gt, "-o", out, "--resume", "--scheduler", cluster.address)
    assert r.exit_code == 0, r.output
    assert f"segeval: resuming: {kept} cases already scored in {out}; {12 - kept} to score" in lines(r.stderr)
    assert out.read_bytes() == (tmp_path / "local.csv").read_bytes()
    assert not journal_path(out).exists()


def _cases_in(csv: Path) -> set[str]:
    """The case ids in a CSV report (a row per case and label; the header first)."""
    if not csv.exists():
        return set()
    return {line.split(",", 1)[0] for line in csv.read_text().splitlines()[1:] if line}


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(["--scheduler", "tcp://127.0.0.1:9", "--jobs", "2"],
                 "--jobs is for the local pool; with --scheduler or --scheduler-file the cluster's workers score "
                 "the cases", id="jobs"),
    pytest.param(["--retries", "2"], "--retries is for runs on a Dask cluster: give --scheduler or "
                 "--scheduler-file too", id="retries-alone"),
    pytest.param(["--resources", "GPU=1", "--jobs", "1"], "--resources is for runs on a Dask cluster: give "
                 "--scheduler or --scheduler-file too", id="resources-alone"),
    pytest.param(["--scheduler", "tcp://127.0.0.1:9", "--resources", "GPU"], "--resources: expected "
                 "NAME=AMOUNT[,NAME=AMOUNT] with amounts > 0, as the workers' --resources give them (e.g. GPU=1); "
                 "got 'GPU'", id="resources-bad"),
    pytest.param(["--scheduler", "tcp://127.0.0.1:9", "--retries", "-1"], "--retries: must be 0 or more (got -1)",
                 id="retries-negative"),
    pytest.param(["--scheduler", "tcp://127.0.0.1:9", "--device", "tpu"], "--device: expected cpu, gpu or auto; "
                 "got 'tpu'", id="device"),
    pytest.param(["--scheduler", "tcp://h:1", "--scheduler-file", "s.json"],
                 "--scheduler and --scheduler-file both name the scheduler; give one of them", id="both"),
])
def test_bad_cluster_options_exit_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    pred, gt = make_clean(tmp_path / "data", 1)
    r = run(pred, gt, *args)
    assert r.exit_code == 2 and lines(r.stderr) == [f"segeval: error: {message}"], r.output


def test_no_scheduler_at_the_address_exits_2(tmp_path: Path) -> None:
    pred, gt = make_clean(tmp_path / "data", 1)
    # Dask reads the variable when it is first imported: a fresh process.
    proc = subprocess.run([*SEGEVAL, "batch", str(pred), str(gt), "--scheduler", "tcp://127.0.0.1:9", "-q"],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"})
    assert proc.returncode == 2, proc.stderr
    [line] = lines(proc.stderr)
    assert line.startswith("segeval: error: --scheduler tcp://127.0.0.1:9: cannot connect to the Dask scheduler (")
    assert line.endswith("); is it running, and is the address right?")


def test_without_distributed_it_says_how_to_install(tmp_path: Path) -> None:
    pred, gt = make_clean(tmp_path / "data", 1)
    code = "import sys; sys.modules['distributed'] = None; from segeval.cli import app; app()"
    proc = subprocess.run([sys.executable, "-c", code, "batch", str(pred), str(gt), "--scheduler", "tcp://h:1"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    [line] = lines(proc.stderr)
    assert line.startswith("segeval: error: distributed is needed for running cases on a Dask cluster "
                           "(batch --scheduler) but is not installed")
    assert line.endswith("install it with: pip install 'segeval[dask]'")
