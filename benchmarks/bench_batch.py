"""Benchmark ``segeval batch``: a folder of cases, end to end, against per-case peer loops.

Data (generated once into ``benchmarks/_data/``, which git ignores): 100 cases of
256 x 256 x 128 uint8 ``.nii.gz`` with 5 classes (background, three organs and a
small lesion), from ``_synth.organ_pair`` (a prediction with realistic errors),
plus 1,000 small cases (48 x 48 x 24) for the memory run.

Every run is a fresh process, timed from start to exit (interpreter start-up,
imports and numba's kernel loading included; bytecode cached, as after ``pip
install``, see ``_bytecode.py``), best of ``--repeats``:

* the floor: a Python process that only reads both files of every case
  (``segeval.io.read_volume``, the fastest reader segeval has), and the same
  work split over two processes running at once (what two processes can gain
  on this machine at all, without any of segeval's batch machinery);
* ``segeval batch PRED GT -o results.csv --jobs 1`` and ``--jobs 2`` (the
  overlap metrics, the default);
* ``segeval batch`` on a single case, to show the fixed start-up cost;
* MedPy: a per-case loop reading with ``medpy.io.load`` and calling ``dc``,
  ``jc``, ``precision``, ``recall``, ``specificity`` per label;
* seg-metrics: ``write_metrics`` per case with the overlap metrics (``dice``,
  ``jaccard``, ``precision``, ``recall``, ``fpr``, ``fnr``, ``vs``), on the first
  ``--peer-cases`` cases and extrapolated, since it walks the voxels in Python
  (about a minute per label of a 128 x 128 x 64 case here); when it does not
  finish within ``--peer-timeout`` seconds the table gives that lower bound.

Peers are run with the Python that has them: this one, or ``--peers-python``
(default ``$SEGEVAL_PEERS_PYTHON`` or ``/work/peers-venv/bin/python``); a peer
found in neither is reported as not installed.

Memory: the whole process tree of ``segeval batch`` over the 1,000 small cases
(``--jobs 2``) is sampled every 20 ms; the peak of the summed PSS (shared pages
counted once) and of the summed RSS are reported.

``--scheduler``: the Dask path instead. A loopback cluster (``dask scheduler``
and ``--workers`` one-thread ``dask worker`` processes on 127.0.0.1) scores
``--cases`` cases (default 200 of 128 x 128 x 64) with ``segeval batch
--scheduler``, against the local pool with as many processes (``--jobs``
``--workers``); each also on one case, so that the slope between one case and
all of them gives the per-case time without the start-up, and the table gives
the cluster's per-case overhead as a ratio to the local pool's (target <= 1.2).
The workers are warmed by one untimed run first, as a long-lived cluster is;
the cluster's CPU is in other processes, so its "others' CPU s" holds it.

Run::

    python benchmarks/bench_batch.py             # the full benchmark (a few minutes)
    python benchmarks/bench_batch.py --quick     # 20 small cases, a smoke run
    python benchmarks/bench_batch.py --scheduler # the Dask cluster against the local pool
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
SPACING_MM = (0.8, 0.8, 2.0)
SEGEVAL = [sys.executable, "-c", "from segeval.cli import app; app()"]


# --------------------------------------------------------------------------- data


def _write_case(args: tuple[Path, int, tuple[int, int, int]]) -> None:
    folder, seed, shape = args
    sys.path.insert(0, str(HERE))
    from _synth import organ_pair

    from segeval.io import write_volume

    pred, gt = organ_pair(shape, 5, seed)
    write_volume(folder / "pred" / f"case_{seed:04d}.nii.gz", pred, spacing_mm=SPACING_MM)
    write_volume(folder / "gt" / f"case_{seed:04d}.nii.gz", gt, spacing_mm=SPACING_MM)


def dataset(n: int, shape: tuple[int, int, int]) -> Path:
    """``n`` cases of ``shape`` under benchmarks/_data (made once, reused)."""
    folder = DATA / f"batch_{n}x{'x'.join(map(str, shape))}"
    done = folder / ".complete"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "pred").mkdir(parents=True)
    (folder / "gt").mkdir(parents=True)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(_write_case, [(folder, seed, shape) for seed in range(n)], chunksize=8))
    done.write_text("")
    print(f"# generated {n} cases of {shape} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return folder


# --------------------------------------------------------------------------- runs

FLOOR = """
import sys
from segeval.batching import pair_cases
from segeval.io import read_volume
part, parts = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) > 4 else (0, 1)
for t in pair_cases(sys.argv[1], sys.argv[2]).matched[part::parts]:
    read_volume(t.pred)
    read_volume(t.gt)
"""

# Runs the commands given as JSON at once and waits for all; fails if one fails.
TOGETHER = """
import json, subprocess, sys
procs = [subprocess.Popen(cmd) for cmd in json.loads(sys.argv[1])]
sys.exit(max(p.wait() for p in procs))
"""

MEDPY = """
import sys
from pathlib import Path
from medpy.io import load
from medpy.metric import binary as mb
n = int(sys.argv[3])
for name in sorted(p.name for p in Path(sys.argv[2]).iterdir())[:n]:
    pred, _ = load(str(Path(sys.argv[1]) / name))
    gt, _ = load(str(Path(sys.argv[2]) / name))
    for label in (1, 2, 3, 4):
        p, g = pred == label, gt == label
        for metric in (mb.dc, mb.jc, mb.precision, mb.recall, mb.specificity):
            metric(p, g)
"""

SEG_METRICS = """
import sys, warnings
warnings.simplefilter("ignore")
from pathlib import Path
from seg_metrics import seg_metrics as sg
n = int(sys.argv[3])
for name in sorted(p.name for p in Path(sys.argv[2]).iterdir())[:n]:
    sg.write_metrics(labels=[1, 2, 3, 4], gdth_path=str(Path(sys.argv[2]) / name),
                     pred_path=str(Path(sys.argv[1]) / name),
                     metrics=["dice", "jaccard", "precision", "recall", "fpr", "fnr", "vs"], TPTNFPFN=True)
"""


@dataclass
class Timing:
    """One run: wall time, CPU time of its whole process tree, and CPU other processes took meanwhile."""

    wall: float
    cpu: float
    others: float


def _machine_busy() -> float:
    """CPU-seconds the whole machine has spent busy since boot (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


# Seconds to wait before each run for the machine to go quiet (--quiet-wait).
SETTINGS = {"quiet_wait_s": 15.0}


def wait_for_quiet(max_wait_s: float) -> None:
    """Wait (at most ``max_wait_s``) until other processes leave the machine nearly idle for a second.

    Timings on a shared machine measure the neighbours as much as the code;
    the table's "others' CPU s" column says how far this succeeded.
    """
    deadline = time.monotonic() + max_wait_s
    cores = os.cpu_count() or 1
    while time.monotonic() < deadline:
        busy0, t0 = _machine_busy(), time.monotonic()
        time.sleep(1.0)
        if (_machine_busy() - busy0) / ((time.monotonic() - t0) * cores) < 0.1:
            return


def timed(cmd: list[str], cwd: Path, repeats: int = 1, timeout: float | None = None) -> Timing:
    """The fastest of ``repeats`` runs of ``cmd`` (each must exit 0)."""
    best = Timing(float("inf"), 0.0, 0.0)
    for _ in range(repeats):
        wait_for_quiet(SETTINGS["quiet_wait_s"])
        r0, busy0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), _machine_busy(), time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False, timeout=timeout)
        wall = time.perf_counter() - t0
        r1, busy1 = resource.getrusage(resource.RUSAGE_CHILDREN), _machine_busy()
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:4])}... exited {proc.returncode}: {proc.stderr[-2000:]}")
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        if wall < best.wall:
            best = Timing(wall, cpu, max(0.0, busy1 - busy0 - cpu))
    return best


def importable(module: str, python: str) -> bool:
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True, check=False).returncode == 0


def peer_python(module: str, peers_python: str) -> str | None:
    for python in (sys.executable, peers_python):
        if python and os.path.exists(python) and importable(module, python):
            return python
    return None


def _group_memory(pgid: int) -> tuple[int, int]:
    """Summed PSS and RSS (bytes) of the live processes in process group ``pgid``."""
    pss = rss = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid or fields[0] == "Z":
                continue
            for line in (entry / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
                elif line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            continue
    return pss, rss


def peak_memory(cmd: list[str], cwd: Path) -> tuple[float, int, int]:
    """Wall time and peak summed PSS / RSS of ``cmd``'s whole process tree."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    peak_pss = peak_rss = 0
    try:
        while proc.poll() is None:
            pss, rss = _group_memory(proc.pid)
            peak_pss, peak_rss = max(peak_pss, pss), max(peak_rss, rss)
            time.sleep(0.02)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"memory run exited {proc.returncode}: {err[-2000:]}")
    return wall, peak_pss, peak_rss


@contextlib.contextmanager
def loopback_cluster(root: Path, workers: int, env: dict[str, str] | None = None) -> Iterator[str]:
    """A Dask scheduler and ``workers`` one-thread workers on 127.0.0.1 (``env`` added to theirs); yields the
    scheduler file."""
    root.mkdir(parents=True, exist_ok=True)
    sched_file = root / "scheduler.json"
    sched_file.unlink(missing_ok=True)
    dask = [sys.executable, "-m", "dask"]
    log = (root / "cluster.log").open("ab")
    procs = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(sched_file)], stdout=log, stderr=log, cwd=root,
                              start_new_session=True)]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        procs += [subprocess.Popen([*dask, "worker", "--scheduler-file", str(sched_file), "--nworkers", "1",
                                    "--nthreads", "1", "--no-dashboard", "--local-directory", str(root / f"w{i}")],
                                   stdout=log, stderr=log, cwd=root, start_new_session=True,
                                   env={**os.environ, **(env or {})})
                  for i in range(workers)]
        import distributed

        with distributed.Client(scheduler_file=str(sched_file), timeout=60, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=60)
        yield str(sched_file)
    finally:
        for proc in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


def scheduler_benchmark(args: argparse.Namespace) -> None:
    """``segeval batch --scheduler`` on a loopback cluster against ``--jobs`` as many processes."""
    shape = tuple(int(s) for s in args.shape.split(","))
    n, workers = args.cases, args.workers
    data = dataset(n, shape)  # type: ignore[arg-type]
    single = DATA / f"batch_1x{'x'.join(map(str, shape))}"
    if not (single / ".complete").exists():
        for sub in ("pred", "gt"):
            (single / sub).mkdir(parents=True, exist_ok=True)
            shutil.copy(data / sub / "case_0000.nii.gz", single / sub)
        (single / ".complete").write_text("")
    work = DATA / "runs"
    work.mkdir(parents=True, exist_ok=True)

    def batch(folder: Path, out: str, *how: str) -> list[str]:
        return [*SEGEVAL, "batch", str(folder / "pred"), str(folder / "gt"), "-o", str(work / out), "-q", *how]

    load = os.getloadavg()
    local = ("--jobs", str(workers))
    inf = Timing(float("inf"), 0.0, 0.0)
    pool_n = pool_1 = inf
    clusters: dict[str, tuple[Timing, Timing]] = {}
    # Dask's defaults, then workers without their sampling profiler (a thread that walks the task's stack
    # every 10 ms: about 5 ms of a worker's CPU per case here).
    for name, env in (("default workers", {}),
                      ("profiler off", {"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"})):
        cluster_n = cluster_1 = inf
        with loopback_cluster(DATA / "cluster", workers, env) as sched_file:
            on_cluster = ("--scheduler-file", sched_file)
            timed(batch(data, "cluster.csv", *on_cluster), work)  # warm the workers (imports, numba's kernels)
            for _ in range(args.repeats):  # interleaved, so that a busy spell favours neither
                pool_n = min(pool_n, timed(batch(data, "local.csv", *local), work), key=lambda t: t.wall)
                cluster_n = min(cluster_n, timed(batch(data, "cluster.csv", *on_cluster), work),
                                key=lambda t: t.wall)
                pool_1 = min(pool_1, timed(batch(single, "local1.csv", *local), work), key=lambda t: t.wall)
                cluster_1 = min(cluster_1, timed(batch(single, "cluster1.csv", *on_cluster), work),
                                key=lambda t: t.wall)
        clusters[name] = (cluster_n, cluster_1)
    same = (work / "local.csv").read_bytes() == (work / "cluster.csv").read_bytes()
    slope_pool = (pool_n.wall - pool_1.wall) / (n - 1)
    slopes = {name: (c_n.wall - c_1.wall) / (n - 1) for name, (c_n, c_1) in clusters.items()}
    print(f"\n### `segeval batch --scheduler`: {n} cases of {shape[0]}x{shape[1]}x{shape[2]} uint8 .nii.gz, "
          f"{workers} one-thread workers on a loopback Dask cluster vs `--jobs {workers}`\n")
    print(f"Machine: {os.cpu_count()} cores, load average {load[0]:.2f} at the start; Python "
          f"{sys.version.split()[0]}; fastest of {args.repeats} runs, each a fresh `segeval batch` process. "
          "Per case: the slope between one case and all of them (start-up and connecting excluded). "
          "CPU s: the command's own process tree (the pool's workers are in it; the cluster's are not, "
          "they are in others' CPU s).\n")
    print("| run | cases | wall s | per case ms (slope) | CPU s | others' CPU s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    rows: list[tuple[str, Timing, int, float | None]] = [
        (f"`--jobs {workers}` (local pool)", pool_n, n, slope_pool),
        (f"`--jobs {workers}`, one case (start-up)", pool_1, 1, None)]
    for name, (c_n, c_1) in clusters.items():
        rows += [(f"`--scheduler`, {workers} Dask workers, {name}", c_n, n, slopes[name]),
                 (f"`--scheduler`, {name}, one case (start-up, connect)", c_1, 1, None)]
    for label, t, cases, slope in rows:
        per = "-" if slope is None else f"{1000 * slope:.1f}"
        print(f"| {label} | {cases} | {t.wall:.2f} | {per} | {t.cpu:.2f} | {t.others:.2f} |")
    print()
    for name, slope in slopes.items():
        ratio = slope / slope_pool
        print(f"- {'PASS' if ratio <= 1.2 else 'MISS'}: {name}: per-case time on the cluster is {ratio:.2f}x the "
              f"local pool's ({1000 * slope:.1f} ms vs {1000 * slope_pool:.1f} ms; overhead "
              f"{100 * (ratio - 1):+.0f}%, target <= +20%)")
    print(f"- {'PASS' if same else 'MISS'}: the cluster's results.csv is byte for byte the local pool's")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--shape", default="256,256,128")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs for segeval and the floor")
    parser.add_argument("--peer-cases", type=int, default=1, help="cases the seg-metrics loop runs (extrapolated)")
    parser.add_argument("--peer-timeout", type=float, default=45.0,
                        help="seconds the seg-metrics loop may take; beyond, a lower bound is reported")
    parser.add_argument("--medpy-cases", type=int, default=0, help="cases the MedPy loop runs (0: all)")
    parser.add_argument("--memory-cases", type=int, default=1000)
    parser.add_argument("--peers-python", default=os.environ.get("SEGEVAL_PEERS_PYTHON", "/work/peers-venv/bin/python"))
    parser.add_argument("--quiet-wait", type=float, default=SETTINGS["quiet_wait_s"],
                        help="seconds to wait, before each run, for other processes to go quiet")
    parser.add_argument("--quick", action="store_true", help="20 cases of 128x128x64, 200 memory cases")
    parser.add_argument("--scheduler", action="store_true",
                        help="benchmark `batch --scheduler` on a loopback Dask cluster against the local pool "
                        "(default 200 cases of 128x128x64)")
    parser.add_argument("--workers", type=int, default=2, help="with --scheduler: Dask workers (and --jobs)")
    args = parser.parse_args()
    SETTINGS["quiet_wait_s"] = args.quiet_wait
    if args.scheduler:
        defaults = parser.parse_args([])
        if args.cases == defaults.cases:
            args.cases = 200
        if args.shape == defaults.shape:
            args.shape = "128,128,64"
        sys.path.insert(0, str(HERE))
        from _bytecode import keep_bytecode

        keep_bytecode(DATA)
        scheduler_benchmark(args)
        return
    sys.path.insert(0, str(HERE))
    from _bytecode import keep_bytecode

    keep_bytecode(DATA)  # every timed process runs as installed, bytecode cached
    if args.quick:
        args.cases, args.shape, args.memory_cases, args.repeats = 20, "128,128,64", 200, 1
    shape = tuple(int(s) for s in args.shape.split(","))
    assert len(shape) == 3
    n = args.cases

    data = dataset(n, shape)  # type: ignore[arg-type]
    single = DATA / f"batch_1x{'x'.join(map(str, shape))}"
    if not (single / ".complete").exists():
        for sub in ("pred", "gt"):
            (single / sub).mkdir(parents=True, exist_ok=True)
            shutil.copy(data / sub / "case_0000.nii.gz", single / sub)
        (single / ".complete").write_text("")
    memory = dataset(args.memory_cases, (48, 48, 24))
    work = DATA / "runs"
    work.mkdir(parents=True, exist_ok=True)
    pred, gt = str(data / "pred"), str(data / "gt")

    def segeval(folder: Path, jobs: int) -> list[str]:
        return [*SEGEVAL, "batch", str(folder / "pred"), str(folder / "gt"), "-o", str(work / "out.csv"),
                "-q", "--jobs", str(jobs)]

    load = os.getloadavg()
    rows: list[tuple[str, Timing | None, int, str]] = []
    nan = Timing(float("inf"), 0.0, 0.0)
    floor = jobs1 = jobs2 = nan
    # Interleaved, so that a busy spell on the machine does not favour one of them.
    for _ in range(args.repeats):
        floor = min(floor, timed([sys.executable, "-c", FLOOR, pred, gt], work), key=lambda t: t.wall)
        jobs1 = min(jobs1, timed(segeval(data, 1), work), key=lambda t: t.wall)
        jobs2 = min(jobs2, timed(segeval(data, 2), work), key=lambda t: t.wall)
    # The machine's own ceiling for two processes: the read-only floor split over two
    # processes at once, no segeval batch machinery involved.
    halves = json.dumps([[sys.executable, "-c", FLOOR, pred, gt, str(i), "2"] for i in range(2)])
    floor_2 = timed([sys.executable, "-c", TOGETHER, halves], work, args.repeats)
    floor1 = timed([sys.executable, "-c", FLOOR, str(single / "pred"), str(single / "gt")], work, args.repeats)
    start1 = timed(segeval(single, 1), work, args.repeats)
    start2 = timed(segeval(single, 2), work, args.repeats)
    rows.append(("read only (the floor): both files of every case", floor, n, ""))
    rows.append(("`segeval batch --jobs 1`", jobs1, n, ""))
    rows.append(("`segeval batch --jobs 2`", jobs2, n, ""))
    rows.append(("read only, two processes at once, half the cases each", floor_2, n,
                 "the most two processes gain on this machine"))
    rows.append(("read only, one case (start-up)", floor1, 1, ""))
    rows.append(("`segeval batch --jobs 1`, one case (start-up)", start1, 1, ""))
    rows.append(("`segeval batch --jobs 2`, one case (start-up)", start2, 1, ""))

    medpy: Timing | None = None
    python = peer_python("medpy", args.peers_python)
    name = "MedPy: dc, jc, precision, recall, specificity per label, per-case loop"
    if python is None:
        rows.append((name, None, n, "not installed"))
    else:
        k = args.medpy_cases or n
        t = timed([python, "-c", MEDPY, pred, gt, str(k)], work)
        medpy = Timing(t.wall * n / k, t.cpu * n / k, t.others * n / k)
        rows.append((name, medpy, n, "" if k == n else f"extrapolated from {k} cases"))
    python = peer_python("seg_metrics", args.peers_python)
    name = "seg-metrics: overlap metrics per label, per-case loop"
    if python is None:
        rows.append((name, None, n, "not installed"))
    else:
        k = min(args.peer_cases, n)
        try:
            t = timed([python, "-c", SEG_METRICS, pred, gt, str(k)], work, timeout=args.peer_timeout)
        except subprocess.TimeoutExpired:
            # It walks the voxels in Python; a lower bound is all there is time for.
            rows.append((name, Timing(n * args.peer_timeout / k, float("nan"), float("nan")), n,
                         f"lower bound: {k} case(s) not done after {args.peer_timeout:.0f} s, extrapolated"))
        else:
            rows.append((name, Timing(t.wall * n / k, t.cpu * n / k, t.others * n / k), n,
                         f"extrapolated from {k} case(s)"))

    mem_wall, pss, rss = peak_memory(segeval(memory, 2), work)

    print(f"\n### `segeval batch`: {n} cases of {shape[0]}x{shape[1]}x{shape[2]} uint8 .nii.gz, 5 classes\n")
    print(f"Machine: {os.cpu_count()} cores, load average {load[0]:.2f} at the start; Python "
          f"{sys.version.split()[0]}; fastest of {args.repeats} runs for segeval and the floor. Every row is "
          "a fresh process, start-up included, started once the machine was idle for a second (waiting "
          f"at most {args.quiet_wait:.0f} s). CPU s: the run's whole process tree; others' CPU s: what "
          "other processes on the machine used during the run (the machine has "
          f"{os.cpu_count()} x wall CPU-seconds to give).\n")
    print("| run | wall s | per case ms | CPU s | others' CPU s | vs `--jobs 1` | note |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for label, t, cases, note in rows:
        if t is None:
            print(f"| {label} | - | - | - | - | - | {note} |")
            continue
        cpu = "-" if math.isnan(t.cpu) else f"{t.cpu:.2f}"
        others = "-" if math.isnan(t.others) else f"{t.others:.2f}"
        print(f"| {label} | {t.wall:.2f} | {1000 * t.wall / cases:.0f} | {cpu} | {others} | "
              f"{jobs1.wall / t.wall:.2f}x | {note} |")
    print()
    checks = [
        (f"`--jobs 2` vs `--jobs 1`: {jobs1.wall / jobs2.wall:.2f}x faster (target >= 1.7x)",
         jobs1.wall / jobs2.wall >= 1.7),
        ((f"(context) the read-only floor in two processes at once is {floor.wall / floor_2.wall:.2f}x faster "
          "than in one: the ceiling for `--jobs 2` on this machine"), True),
        (f"`--jobs 1` vs the read-only floor: {jobs1.wall / floor.wall:.2f}x the floor's time (target <= 1.3x)",
         jobs1.wall / floor.wall <= 1.3),
    ]
    if medpy is not None:
        checks.append(((f"MedPy loop vs segeval: {medpy.wall / jobs1.wall:.1f}x slower than `--jobs 1`, "
                       f"{medpy.wall / jobs2.wall:.1f}x slower than `--jobs 2` (target >= 10x)"),
                       max(medpy.wall / jobs1.wall, medpy.wall / jobs2.wall) >= 10))
    memory_text = (f"peak memory, {args.memory_cases} cases of 48x48x24, `--jobs 2`, whole process tree: "
                   f"{pss / 2**20:.0f} MiB PSS ({rss / 2**20:.0f} MiB summed RSS), {mem_wall:.1f} s "
                   "(target < 500 MB)")
    checks.append((memory_text, pss < 500e6))
    for text, ok in checks:
        print(f"- {'INFO' if text.startswith('(context)') else 'PASS' if ok else 'MISS'}: {text.removeprefix('(context) ')}")
    if n > 1:
        each = [(a.wall - b.wall) / (n - 1) for a, b in ((floor, floor1), (jobs1, start1), (jobs2, start2))]
        print(f"\nPer case once started (the slope between one case and {n}): read only "
              f"{1000 * each[0]:.1f} ms, `--jobs 1` {1000 * each[1]:.1f} ms ({each[1] / each[0]:.2f}x the "
              f"floor), `--jobs 2` {1000 * each[2]:.1f} ms ({each[1] / each[2]:.2f}x faster than `--jobs 1`).")

if __name__ == "__main__":
    main()
