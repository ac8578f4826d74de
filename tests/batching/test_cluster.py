"""Cases on a real Dask cluster (scheduler and workers as processes on 127.0.0.1): the local pool's results.

Every cluster test compares against a local ``jobs=1`` run of the same cases:
the report's cases, and the output file byte for byte. The faults are real:
a worker killed with SIGKILL mid-run, the scheduler killed mid-run (then
``resume`` on a new cluster), a worker that runs another segeval (a copy of
the package with another version, first on its PYTHONPATH), and a case that
takes more memory than its worker may use (the nanny kills the worker; Dask
says ``KilledWorker``).
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from segeval._version import __version__
from segeval.batching import pair_cases, run_batch
from segeval.batching.cluster import (
    KILLED_WORKER,
    SCHEDULER_ENV,
    ClusterOptions,
    cluster_options,
    parse_resources,
    run_on_cluster,
    score_on_worker,
)
from segeval.batching.run import BatchInterrupted, run_resumable
from segeval.errors import MissingDependencyError, OptionError
from segeval.records import CaseResult, CaseTask, jsonable
from segeval.scoring import TEST_DELAY_ENV
from segeval.settings import ScoreSettings, build_settings
from tests.batching._cluster import LoopbackCluster, distributed, loopback_cluster
from tests.batching._data import SPACING, make_clean, make_scenario

SLOW = {TEST_DELAY_ENV: "0.25"}  # each case takes at least this long on the workers, so a fault lands mid-run


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackCluster]:
    """Two workers; the second declares a GPU resource (a counter: no GPU is used)."""
    with loopback_cluster(tmp_path_factory.mktemp("cluster"), workers=0) as c:
        c.start_worker()
        c.start_worker(args=["--resources", "GPU=1"])
        c.wait_for_workers(2)
        yield c


def _records(cases: Iterable[CaseResult]) -> list[str]:
    """Each case as strict JSON (NaN is null: NaN != NaN would make equal cases differ), by case id."""
    return [json.dumps(jsonable(c.to_dict())) for c in sorted(cases, key=lambda c: c.case)]


def _local(tasks: list[CaseTask], settings: ScoreSettings, out: Path) -> list[str]:
    report = run_resumable(tasks, settings, output=out, fmt=out.suffix[1:], jobs=1)
    return _records(report.cases)


def test_cluster_run_equals_a_local_jobs_1_run_with_corrupt_and_missing_cases(
        cluster: LoopbackCluster, tmp_path: Path) -> None:
    sc = make_scenario(tmp_path / "data")
    tasks = pair_cases(sc["pred"], sc["gt"]).tasks("error")
    settings = build_settings(metrics="dice,iou,hd95,nsd")
    said: list[str] = []
    for ext in ("json", "csv"):
        report = run_resumable(tasks, settings, output=tmp_path / f"cluster.{ext}", fmt=ext, say=said.append,
                               cluster=ClusterOptions(address=cluster.address))
        local = _local(tasks, settings, tmp_path / f"local.{ext}")
        assert _records(report.cases) == local
        assert (tmp_path / f"cluster.{ext}").read_bytes() == (tmp_path / f"local.{ext}").read_bytes()
    errors = {c.case: c.error for c in report.cases}
    assert [c for c, e in errors.items() if e is None] == ["case_00", "case_01", "case_02", "case_05"]
    assert "corrupt gzip stream" in str(errors["case_03"]) and "spacing differs" in str(errors["case_04"])
    assert str(errors["case_06"]).startswith("no prediction for this case")
    assert said[0] == f"scoring on the Dask cluster at {cluster.address}: 2 workers, 2 threads"


def test_missing_zero_and_skip_as_the_local_pool(cluster: LoopbackCluster, tmp_path: Path) -> None:
    sc = make_scenario(tmp_path / "data")
    for missing in ("zero", "skip"):
        tasks = pair_cases(sc["pred"], sc["gt"]).tasks(missing)
        got = run_resumable(tasks, ScoreSettings(), missing=missing, cluster=ClusterOptions(address=cluster.address))
        want = run_resumable(tasks, ScoreSettings(), missing=missing, jobs=1)
        assert _records(got.cases) == _records(want.cases)
        assert len(got.cases) == {"zero": 8, "skip": 6}[missing]


def test_keys_are_case_ids_each_case_once_resources_and_the_bound_in_flight(
        cluster: LoopbackCluster, tmp_path: Path) -> None:
    pred, gt = make_clean(tmp_path / "data", 9)
    tasks = pair_cases(pred, gt).tasks()
    with distributed.Client(cluster.address, set_as_default=False) as client:
        options = ClusterOptions(client=client, resources=(("GPU", 1.0),), in_flight=3)
        most_in_flight = 0
        with distributed.get_task_stream(client) as stream:
            run = run_on_cluster(tasks, ScoreSettings(), cluster=options)
            results = []
            for result in run:
                most_in_flight = max(most_in_flight, len(run._source._pending) + 1)  # type: ignore[attr-defined]
                results.append(result)
        records = stream.data
        gpu_worker = next(addr for addr, info in client.scheduler_info()["workers"].items()
                          if info["resources"].get("GPU"))
        assert client.status == "running"  # a client given is left open
    assert sorted(r.case for r in results) == [t.case for t in tasks] and all(r.error is None for r in results)
    keys = [r["key"] for r in records]
    # One task per case (pure=False: a key of its own, named after the case id and this run).
    assert sorted(re.sub(r"-[0-9a-f]{32}$", "", k) for k in keys) == [t.case for t in tasks]
    assert len({k.rsplit("-", 1)[1] for k in keys}) == 1
    assert {r["worker"] for r in records} == {gpu_worker}  # only the worker with GPU=1 ran them
    assert most_in_flight <= 3


def test_resources_no_worker_has_are_said_and_closing_cancels_the_run(cluster: LoopbackCluster,
                                                                      tmp_path: Path) -> None:
    pred, gt = make_clean(tmp_path / "data", 2)
    said: list[str] = []
    options = ClusterOptions(address=cluster.address, resources=(("GPU", 1.0), ("TPU", 2.0)))
    with run_on_cluster(pair_cases(pred, gt).tasks(), ScoreSettings(), cluster=options, say=said.append):
        pass  # the cases wait for a worker with a TPU; leaving cancels them and closes the client
    assert said[1] == ("no worker of the cluster has the resources TPU=2 (--resources): the cases wait until a "
                       "worker started with them joins")


def test_progress_counts_every_case_as_it_completes(cluster: LoopbackCluster, tmp_path: Path) -> None:
    pred, gt = make_clean(tmp_path / "data", 5)
    seen: list[str] = []
    totals: list[int] = []

    @contextmanager
    def progress(total: int) -> Iterator[Callable[[CaseResult], None]]:
        totals.append(total)
        yield lambda result: seen.append(result.case)

    run_resumable(pair_cases(pred, gt).tasks(), ScoreSettings(), progress=progress,
                  cluster=ClusterOptions(address=cluster.address))
    assert totals == [5] and sorted(seen) == [f"case_{i:03d}" for i in range(5)]


def test_a_worker_killed_mid_run_still_scores_every_case_once(tmp_path: Path) -> None:
    pred, gt = make_clean(tmp_path / "data", 14)
    tasks = pair_cases(pred, gt).tasks()
    with loopback_cluster(tmp_path / "cluster", workers=2, worker_env=SLOW) as c:
        results = []
        for result in run_on_cluster(tasks, ScoreSettings(), cluster=ClusterOptions(address=c.address)):
            results.append(result)
            if len(results) == 3:
                c.kill(c.workers[0])  # SIGKILL to the nanny and its worker: the cases it held go elsewhere
        assert c.workers[0].poll() is not None and c.workers[1].poll() is None
    assert Counter(r.case for r in results) == Counter(t.case for t in tasks)  # every case exactly once
    assert _records(results) == _records(run_batch(tasks, ScoreSettings(), jobs=1))


def test_a_lost_scheduler_stops_like_ctrl_c_and_resume_on_a_new_cluster_completes_identically(
        cluster: LoopbackCluster, tmp_path: Path) -> None:
    pred, gt = make_clean(tmp_path / "data", 12)
    tasks = pair_cases(pred, gt).tasks()
    out = tmp_path / "results.json"
    with loopback_cluster(tmp_path / "first", workers=2, worker_env=SLOW) as first:

        @contextmanager
        def stop_after_3(total: int) -> Iterator[Callable[[CaseResult], None]]:
            done: list[str] = []

            def advance(result: CaseResult) -> None:
                done.append(result.case)
                if len(done) == 3:
                    first.stop_scheduler()

            yield advance

        with pytest.raises(BatchInterrupted) as info:
            run_resumable(tasks, ScoreSettings(), output=out, fmt="json", progress=stop_after_3,
                          cluster=ClusterOptions(address=first.address))
    exc = info.value
    assert exc.signum == 2 and exc.cause is not None and exc.kept_in is not None
    assert str(exc).startswith(f"lost the connection to the Dask scheduler (--scheduler {first.address}): "
                               "stopped after ")
    assert exc.kept_in.name == "results.json.partial.jsonl" and 3 <= exc.scored < 12
    assert f"the {exc.scored} finished cases are in {exc.kept_in}; run the same command with --resume" in str(exc)
    said: list[str] = []
    # The new cluster: the module's (its own scheduler and workers), named by its scheduler file this time.
    report = run_resumable(tasks, ScoreSettings(), output=out, fmt="json", resume=True, say=said.append,
                           cluster=ClusterOptions(scheduler_file=str(cluster.scheduler_file)))
    assert said[0] == f"resuming: {exc.scored} cases already scored in {out}; {12 - exc.scored} to score"
    local = _local(tasks, ScoreSettings(), tmp_path / "local.json")
    assert _records(report.cases) == local
    assert out.read_bytes() == (tmp_path / "local.json").read_bytes()
    assert not exc.kept_in.exists()


def _segeval_of_another_version(site: Path, version: str) -> Path:
    """A copy of this segeval package whose version is ``version`` (what an outdated worker has installed)."""
    import segeval

    copy = site / "segeval"
    shutil.copytree(Path(segeval.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "_version.py").write_text(f'__version__ = "{version}"\n')
    return site


def test_a_worker_with_another_segeval_version_is_refused(tmp_path: Path) -> None:
    site = _segeval_of_another_version(tmp_path / "site", "0.0.1+outdated")
    pred, gt = make_clean(tmp_path / "data", 2)
    with loopback_cluster(tmp_path / "cluster", workers=1, worker_env={"PYTHONPATH": str(site)}) as c, \
            pytest.raises(OptionError) as info:
        run_on_cluster(pair_cases(pred, gt).tasks(), ScoreSettings(), cluster=ClusterOptions(address=c.address))
    assert re.fullmatch(rf"--scheduler {c.address}: the Dask worker tcp://127\.0\.0\.1:\d+ runs segeval "
                        rf"0\.0\.1\+outdated, this is segeval {re.escape(__version__)}; install "
                        rf"segeval=={re.escape(__version__)} on every worker", str(info.value))


def test_a_worker_that_joins_later_with_another_version_fails_its_cases() -> None:
    task = CaseTask("a", "pred.nii.gz", "gt.nii.gz")
    result = score_on_worker(task, ScoreSettings(), False, False, "cpu", "9.9.9")
    assert result.error == (f"the Dask worker that took this case runs segeval {__version__}, the client "
                            "segeval 9.9.9; install segeval==9.9.9 on every worker")
    assert result.labels == [] and result.pred == "pred.nii.gz"


def _huge_nifti(path: Path, shape: tuple[int, int, int] = (1024, 1024, 512)) -> None:
    """A uint8 NIfTI of ``shape`` (a cube of 1 in a corner), compressed in half a second (zlib-ng, in pieces)."""
    import nibabel as nib
    from zlib_ng import zlib_ng

    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.uint8)
    header.set_sform(np.diag([*SPACING, 1.0]), code=1)
    header.set_qform(np.diag([*SPACING, 1.0]), code=1)
    header["vox_offset"] = 352
    data = np.zeros(shape, np.uint8, order="F")
    data[:8, :8, :8] = 1
    flat = data.ravel(order="F")
    gz = zlib_ng.compressobj(6, zlib_ng.DEFLATED, 31)
    parts = [gz.compress(header.binaryblock + bytes(4))]
    step = 64 << 20
    parts += [gz.compress(flat[i:i + step]) for i in range(0, flat.size, step)]
    path.write_bytes(b"".join([*parts, gz.flush()]))


def test_a_case_that_keeps_killing_workers_is_a_failed_case(tmp_path: Path) -> None:
    pred_dir, gt_dir = make_clean(tmp_path / "data", 2)
    _huge_nifti(pred_dir / "case_huge.nii.gz")  # 512 MiB a volume; the worker may use 350 MB
    shutil.copy(pred_dir / "case_huge.nii.gz", gt_dir / "case_huge.nii.gz")
    tasks = pair_cases(pred_dir, gt_dir).tasks()
    with loopback_cluster(tmp_path / "cluster", workers=1, worker_args=["--memory-limit", "350MB"],
                          scheduler_env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}) as c:
        # One case in flight, so that only the huge one is on the worker when it dies.
        report = run_resumable(tasks, ScoreSettings(), cluster=ClusterOptions(address=c.address, in_flight=1))
    errors = {r.case: r.error for r in report.cases}
    assert errors["case_000"] is None and errors["case_001"] is None
    assert errors["case_huge"] == KILLED_WORKER.format(detail="Dask's KilledWorker after 1 worker died running it")
    assert report.cases[-1].labels == []  # never a score


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("GPU=1", (("GPU", 1.0),), id="one"),
    pytest.param(" GPU=1 , MEMORY=8e9", (("GPU", 1.0), ("MEMORY", 8e9)), id="two"),
    pytest.param(None, (), id="none"),
])
def test_parse_resources(text: str | None, expected: tuple[tuple[str, float], ...]) -> None:
    assert parse_resources(text) == expected


@pytest.mark.parametrize("text", ["GPU", "GPU=", "=1", "GPU=0", "GPU=-1", "GPU=inf", "GPU=x"])
def test_parse_resources_refuses(text: str) -> None:
    with pytest.raises(OptionError, match=r"^--resources: expected NAME=AMOUNT"):
        parse_resources(text)


def test_cluster_options_where_the_scheduler_comes_from(tmp_path: Path) -> None:
    env = {SCHEDULER_ENV: "tcp://10.0.0.5:8786"}
    assert cluster_options(environ={}) is None
    assert cluster_options("tcp://h:1", environ=env) == ClusterOptions(address="tcp://h:1")
    from_env = cluster_options(environ=env, retries=3, resources="GPU=1")
    assert from_env == ClusterOptions(address="tcp://10.0.0.5:8786", option=SCHEDULER_ENV, retries=3,
                                      resources=(("GPU", 1.0),))
    assert from_env is not None and from_env.where == f"{SCHEDULER_ENV} tcp://10.0.0.5:8786"
    by_file = cluster_options(scheduler_file=tmp_path / "s.json", environ=env)
    assert by_file is not None and by_file.where == f"--scheduler-file {tmp_path / 's.json'}"
    with pytest.raises(OptionError, match="^--scheduler and --scheduler-file both name the scheduler"):
        cluster_options("tcp://h:1", tmp_path / "s.json")
    with pytest.raises(OptionError, match=r"^--retries: must be 0 or more \(got -1\)"):
        cluster_options("tcp://h:1", retries=-1)


def test_no_scheduler_at_the_address_or_no_scheduler_file_is_one_line(tmp_path: Path) -> None:
    import dask

    pred, gt = make_clean(tmp_path / "data", 1)
    tasks = pair_cases(pred, gt).tasks()
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}), \
            pytest.raises(OptionError, match=r"^--scheduler tcp://127\.0\.0\.1:9: cannot connect to the Dask "
                                             r"scheduler \(.*\); is it running, and is the address right\?$"):
        run_on_cluster(tasks, ScoreSettings(), cluster=ClusterOptions(address="tcp://127.0.0.1:9"))
    with pytest.raises(OptionError, match=r"^--scheduler-file .*nowhere\.json: no such file"):
        run_on_cluster(tasks, ScoreSettings(), cluster=ClusterOptions(scheduler_file=str(tmp_path / "nowhere.json")))


def test_nothing_to_score_needs_no_scheduler() -> None:
    tasks = [CaseTask("a", None, "gt.nii.gz")]
    results = list(run_on_cluster(tasks, ScoreSettings(), cluster=ClusterOptions(address="tcp://127.0.0.1:9")))
    assert [r.error is not None and r.error.startswith("no prediction") for r in results] == [True]


def test_without_distributed_the_message_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'segeval\[dask\]'"):
        cluster_options("tcp://127.0.0.1:9")


def test_the_python_api_runs_on_the_cluster_by_address_or_client(cluster: LoopbackCluster, tmp_path: Path) -> None:
    import segeval

    sc = make_scenario(tmp_path / "data")
    want = segeval.batch(sc["pred"], sc["gt"], jobs=1, missing="zero")
    by_address = segeval.batch(sc["pred"], sc["gt"], scheduler=cluster.address, missing="zero", retries=0)
    assert _records(by_address.cases) == _records(want.cases)
    with distributed.Client(cluster.address, timeout="20s") as client:
        by_client = segeval.batch(sc["pred"], sc["gt"], scheduler=client, missing="zero")
        assert client.status == "running"  # a client given is left open
    assert _records(by_client.cases) == _records(want.cases)
    with pytest.raises(OptionError, match="retries and resources are for runs on a Dask cluster"):
        segeval.batch(sc["pred"], sc["gt"], retries=3)  # retries without a cluster
