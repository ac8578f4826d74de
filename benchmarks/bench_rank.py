"""``segeval rank``: 50 submissions x 500 cases x 3 metrics with 1,000 bootstrap samples (target <= 10 s).

Usage::

    python benchmarks/bench_rank.py            # 50 x 500 x 3 metrics, 1,000 samples, every scheme
    python benchmarks/bench_rank.py --quick    # 20 x 200, 200 samples

The submissions are synthetic Reports built in memory (no volumes): each has
a skill, its cases a per-case difficulty, and two labels with dice, hd95 and
nsd; about 1 % of cases are missing from a submission and 0.5 % of hd95
values are infinite, so the missing rule has work to do. Each in-process row
is ``segeval.rank(...)`` on those Reports (missing rule, the scheme, the
bootstrap, Kendall's tau), the best of ``--repeat`` after a warm-up call
(imports; numba's compilation, cached on disk, for test-then-rank). The last
rows write the reports as JSON and time the command itself, ``segeval rank
DIR/*.json -o ranking.csv`` in a fresh process: reading 50 reports, Python's
and SciPy's imports included.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import segeval
from segeval.records import CaseResult
from segeval.report.writers import to_json
from segeval.summary import Report

TARGET_S = 10.0
METRICS = ["dice", "hd95", "nsd"]
SCHEMES = ["rank-then-aggregate", "aggregate-then-rank", "test-then-rank"]


def synthetic_reports(n_subs: int, n_cases: int, seed: int = 0) -> dict[str, Report]:
    """``n_subs`` submissions scored on the same ``n_cases`` cases (two labels each)."""
    rng = np.random.default_rng(seed)
    skill = rng.uniform(0.70, 0.90, n_subs)
    hardness = rng.normal(0.0, 0.08, (n_cases, 2))
    out = {}
    for s in range(n_subs):
        cases = []
        for c in range(n_cases):
            if rng.uniform() < 0.01:
                continue  # a missing case
            records = []
            for lab in range(2):
                dice = float(np.clip(skill[s] - hardness[c, lab] + rng.normal(0, 0.05), 0, 1))
                hd95 = float("inf") if rng.uniform() < 0.005 else float(rng.gamma(2.0, 4 * (1.05 - dice)))
                records.append({"label": lab + 1, "dice": dice, "hd95": hd95,
                                "nsd": float(np.clip(dice + rng.normal(0.03, 0.03), 0, 1)),
                                "tp": 100, "fp": 5, "fn": 5, "tn": 10_000})
            cases.append(CaseResult(f"case_{c:04d}", labels=records))
        out[f"team_{s:02d}"] = Report(settings={"metrics": METRICS}, cases=cases)
    return out


def best(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="20 submissions x 200 cases, 200 samples")
    ap.add_argument("--repeat", type=int, default=2, help="timed calls per row (best is kept)")
    args = ap.parse_args(argv)
    n_subs, n_cases, n_boot = (20, 200, 200) if args.quick else (50, 500, 1000)
    print(f"segeval {segeval.__version__}; numpy {np.__version__}; {platform.machine()}, {os.cpu_count()} CPUs "
          f"(load average {os.getloadavg()[0]:.1f}); {n_subs} submissions x {n_cases} cases x {len(METRICS)} "
          f"metrics; {n_boot} bootstrap samples; best of {args.repeat}", flush=True)
    reports = synthetic_reports(n_subs, n_cases)
    rows = []
    for scheme in SCHEMES:
        seconds = best(lambda scheme=scheme: segeval.rank(reports, metrics=METRICS, scheme=scheme,  # type: ignore[misc]
                                                          bootstrap=n_boot, seed=1), args.repeat)
        rows.append((f"segeval.rank, {scheme}", seconds))
        print(f"{scheme}: {seconds:.2f} s", flush=True)
    no_boot = best(lambda: segeval.rank(reports, metrics=METRICS, bootstrap=0), args.repeat)
    rows.append(("segeval.rank, rank-then-aggregate, no bootstrap", no_boot))
    with tempfile.TemporaryDirectory() as tmp:
        for name, report in reports.items():
            (Path(tmp) / f"{name}.json").write_text(to_json(report))
        files = sorted(str(p) for p in Path(tmp).glob("*.json"))
        rows.append(("read the reports (`segeval.read_report` each)",
                     best(lambda: [segeval.read_report(f) for f in files], args.repeat)))
        cmd = [sys.executable, "-m", "segeval", "rank", *files, *[a for m in METRICS for a in ("--metric", m)],
               "--bootstrap", str(n_boot), "-o", str(Path(tmp) / "ranking.csv"), "-q"]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        cli_s = time.perf_counter() - t0
        if done.returncode != 0:
            print(f"error: segeval rank exited {done.returncode}: {done.stderr.strip()}", file=sys.stderr)
            return 1
        rows.append(("`segeval rank *.json -o ranking.csv` (new process, reads the JSON)", cli_s))
    print(f"(load average at the end {os.getloadavg()[0]:.1f})")
    print()
    print("| work | seconds |\n| --- | ---: |")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} |")
    print()
    scale = "" if (n_subs, n_cases, n_boot) == (50, 500, 1000) else " (the target is defined at 50 x 500, 1,000)"
    for name, seconds in rows:
        if name.startswith("segeval.rank, ") and "no bootstrap" not in name or name.startswith("`"):
            ok = seconds <= TARGET_S
            print(f"- [{'x' if ok else ' '}] {'MET ' if ok else 'MISSED'} {name} <= {TARGET_S:g} s: "
                  f"{seconds:.2f} s{scale}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
