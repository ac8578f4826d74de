"""The HTML report (``segeval report``): time and size of the page, and the worst cases' overlays.

Usage::

    python benchmarks/bench_report.py             # 1,000 cases x 5 labels; overlays of 512 x 512 x 256
    python benchmarks/bench_report.py --quick     # 200 cases; overlays of 256 x 256 x 128

The report is synthetic: CaseResult records built directly (no volumes) for
every case, with the default metrics plus hd95 and nsd, a few NaN (empty
labels) and infinite distances. The page without overlays is timed as a
whole (statistics, box plots, heat map, Jinja2). Then the 5 worst cases get
volumes: one deterministic uint8 pair from ``benchmarks/_synth.py``, written
once as .nii.gz and copied to each case's own files, so the overlay row
reads, compares and draws 5 cases from disk (the page cache is warm). Each
row is the best of ``--repeat`` calls after one warm-up call.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import segeval
from segeval.io import write_volume
from segeval.records import CaseResult
from segeval.report.html import html_report
from segeval.summary import Report

try:  # run as a script: benchmarks/ is on sys.path
    from _synth import organ_pair
except ImportError:  # imported as benchmarks.bench_report
    from benchmarks._synth import organ_pair  # type: ignore[no-redef]

MiB = 1 << 20
TARGET_PAGE_S = 10.0  # the page of 1,000 cases x 5 labels, without overlays
TARGET_PAGE_MB = 5.0  # its size
TARGET_OVERLAYS_S = 5.0  # the 5 worst cases' overlays, on top of the page
METRICS = ["dice", "iou", "tversky", "precision", "recall", "specificity", "volume_similarity", "hd95", "nsd"]
LABELS = ["liver", "spleen", "left kidney", "right kidney", "pancreas"]


def synthetic_report(n_cases: int, seed: int = 0) -> Report:
    """``n_cases`` cases x 5 labels of plausible numbers; about 1 % NaN and 0.5 % infinite distances."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n_cases):
        records = []
        for j, name in enumerate(LABELS):
            dice = float(np.clip(rng.beta(8 - j, 1.5), 0, 1))
            rec: dict[str, Any] = {"label": j + 1, "name": name, "dice": dice, "iou": dice / (2 - dice)}
            for m in ("tversky", "precision", "recall", "volume_similarity"):
                rec[m] = float(np.clip(dice + rng.normal(0, 0.03), 0, 1))
            rec["specificity"] = float(1 - rng.uniform(0, 1e-3))
            rec["hd95"] = float(rng.gamma(2, 3 * (1.2 - dice) + 0.5))
            rec["nsd"] = float(np.clip(dice + rng.normal(0.02, 0.03), 0, 1))
            roll = rng.uniform()
            if roll < 0.01:
                rec.update({m: float("nan") for m in METRICS})
            elif roll < 0.015:
                rec["hd95"] = float("inf")
            rec.update(tp=1000, fp=10, fn=10, tn=100_000)
            records.append(rec)
        cases.append(CaseResult(f"case_{i:04d}", labels=records))
    return Report(settings={"metrics": METRICS}, cases=cases)


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    out = fn()  # warm-up: imports, fonts, the template
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def with_volumes(report: Report, folder: Path, shape: tuple[int, int, int], n: int) -> Report:
    """The report, its ``n`` worst cases by macro dice pointing at volume files in ``folder``."""
    pred, gt = organ_pair(shape, 5)
    write_volume(folder / "pred.nii.gz", pred)
    write_volume(folder / "gt.nii.gz", gt)
    ranked = sorted(report.cases, key=lambda c: segeval.summary.macro(c.labels, "dice"))[:n]
    for case in ranked:
        for kind in ("pred", "gt"):
            shutil.copyfile(folder / f"{kind}.nii.gz", folder / f"{case.case}_{kind}.nii.gz")
        case.pred, case.gt = f"{case.case}_pred.nii.gz", f"{case.case}_gt.nii.gz"
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="200 cases, 256 x 256 x 128 volumes")
    ap.add_argument("--cases", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3, help="timed calls per row (best is kept)")
    args = ap.parse_args(argv)
    n_cases = args.cases or (200 if args.quick else 1000)
    shape = (256, 256, 128) if args.quick else (512, 512, 256)
    print(f"segeval {segeval.__version__}; numpy {np.__version__}; {platform.machine()}, {os.cpu_count()} CPUs; "
          f"{n_cases} cases x {len(LABELS)} labels x {len(METRICS)} metrics; volumes {shape} uint8; "
          f"best of {args.repeat}", flush=True)
    report = synthetic_report(n_cases)
    page_s, page = best(lambda: html_report(report, overlays=False), args.repeat)
    page_mb = len(page.encode("utf-8")) / 1e6
    rows = [("page, no overlays", f"{page_s:.2f} s", f"{page_mb:.2f} MB")]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        report = with_volumes(report, Path(tmp), shape, 5)
        print(f"volumes written in {time.perf_counter() - t0:.1f} s", flush=True)
        full_s, full = best(lambda: html_report(report, overlays=True, worst=5, base_dirs=tmp), args.repeat)
    if "no overlay:" in full:
        print("error: an overlay was not drawn", file=sys.stderr)
        return 1
    overlay_s = full_s - page_s
    rows.append(("page + 5 overlays", f"{full_s:.2f} s", f"{len(full.encode('utf-8')) / 1e6:.2f} MB"))
    rows.append(("overlays alone", f"{overlay_s:.2f} s", ""))
    print()
    print("| work | seconds | size |\n| --- | ---: | ---: |")
    for r in rows:
        print(f"| {' | '.join(r)} |")
    print()
    scale = "" if n_cases == 1000 and shape == (512, 512, 256) else " (targets are defined at 1,000 cases, 512^3/2)"
    checks = [(f"page <= {TARGET_PAGE_S:g} s", page_s <= TARGET_PAGE_S, f"{page_s:.2f} s"),
              (f"page <= {TARGET_PAGE_MB:g} MB", page_mb <= TARGET_PAGE_MB, f"{page_mb:.2f} MB"),
              (f"5 overlays <= {TARGET_OVERLAYS_S:g} s more", overlay_s <= TARGET_OVERLAYS_S, f"{overlay_s:.2f} s")]
    for name, ok, detail in checks:
        print(f"- [{'x' if ok else ' '}] {'MET ' if ok else 'MISSED'} {name}: {detail}{scale}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
