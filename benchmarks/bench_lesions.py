"""Lesion-wise scoring speed: segeval against the official BraTS 2023 code and panoptica, same volumes, same numbers.

Usage::

    python benchmarks/bench_lesions.py --brats2023 /path/to/BraTS-2023-Metrics
    python benchmarks/bench_lesions.py --quick        # the BraTS-sized case only

Cases (``tests/lesions/cases.py``'s metastasis-like generator, seeded):

* BraTS-sized: 240 x 240 x 155, labels 1/2/3 scored as WT, TC, ET, about 20 WT lesions (35 drawn, some merge);
* large: 512 x 512 x 256 with about 100 WT lesions (130 drawn), WT only.

Each tool reads the same two ``.nii.gz`` files: segeval through
``segeval.score(..., lesions=...)`` (reading, the overlap metrics and the
lesion-wise numbers), the official code through its
``get_LesionWiseResults`` (which also computes its legacy full-volume
numbers), panoptica through ``Panoptica_Evaluator.evaluate`` on the arrays
nibabel reads from the files (the read timed too). One timed call each,
after a warm-up call of segeval on the BraTS-sized case (numba and the
surfel tables compiled once per process). A peer runs only when it is
importable (panoptica) or its checkout is given (``--brats2023``); the
"same" column counts lesion-wise numbers that agree with segeval's.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from compare_lesions import run_brats2023, run_panoptica

import segeval
from segeval.io import write_volume
from tests.lesions.cases import BRATS_REGIONS, metastasis_case


def _segeval(pred: Path, gt: Path, classes: dict[str, tuple[int, ...]], protocol: str) -> dict[str, dict[str, float]]:
    report = segeval.score(pred, gt, labels="none", regions=classes, lesions=protocol)
    return {str(r["label"]): r for r in report.cases[0].labels}


def _same(ours: dict[str, dict[str, float]], theirs: dict[str, dict[str, float]]) -> tuple[int, int]:
    agree = total = 0
    for cls, values in theirs.items():
        for key, want in values.items():
            got = float(ours[cls][key])
            total += 1
            if (math.isnan(got) and math.isnan(want)) or got == want or (
                    math.isfinite(got) and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)):
                agree += 1
    return agree, total


def _brats2023_wt(src: Path, pred: Path, gt: Path) -> dict[str, dict[str, float]]:
    """The official per-region function for WT alone (``get_LesionWiseScores``; the whole
    ``get_LesionWiseResults`` also scores TC and ET), aggregated as ``get_LesionWiseResults`` does."""
    import numpy as np
    from compare_lesions import _use

    _use(src)
    import metrics  # type: ignore[import-not-found]

    _, fn, fp, gt_tp, pairs, *_ = metrics.get_LesionWiseScores(str(pred), str(gt), "WT", 3)
    kept = [p for p in pairs if p[2] > 50]
    small_found = sum(1 for p in pairs if p[2] <= 50 and len(p[0]) > 0)
    small_missed = sum(1 for p in pairs if p[2] <= 50 and len(p[0]) == 0)
    n = len(kept) + len(fp)
    hd = [374.0 if np.isinf(p[4]) else p[4] for p in kept]
    sys.path.remove(str(src))
    return {"WT": {"lesion_dice": sum(p[3] for p in kept) / n if n else 1.0,
                   "lesion_hd95": (sum(hd) + 374.0 * len(fp)) / n if n else 0.0,
                   "lesion_tp": float(len(gt_tp) - small_found), "lesion_fp": float(len(fp)),
                   "lesion_fn": float(len(fn) - small_missed)}}


def _panoptica_files(pred: Path, gt: Path, classes: dict[str, tuple[int, ...]]) -> dict[str, dict[str, float]]:
    """panoptica on the two files, read as its users read them (nibabel, the stored integer labels)."""
    import nibabel as nib
    import numpy as np

    return run_panoptica(np.asanyarray(nib.load(pred).dataobj), np.asanyarray(nib.load(gt).dataobj), classes)


def _timed(fn: Any, *args: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def bench_case(name: str, shape: tuple[int, int, int], n: int, classes: dict[str, tuple[int, ...]],
               brats2023: Path | None, tmp: Path) -> list[tuple[str, str, float, str]]:
    pred, gt = metastasis_case(7, shape=shape, n=n)
    stem = "x".join(map(str, shape))
    pf, gf = tmp / f"{stem}_pred.nii.gz", tmp / f"{stem}_gt.nii.gz"
    write_volume(pf, pred)
    write_volume(gf, gt)
    rows = []
    t_seg, ours = _timed(_segeval, pf, gf, classes, "brats2023")
    wt = ours["WT"]
    rows.append((name, "segeval brats2023", t_seg, f"{int(wt['lesion_tp'] + wt['lesion_fn'])} WT lesions"))
    if brats2023 is not None:
        if list(classes) == ["WT"]:
            t, theirs = _timed(_brats2023_wt, brats2023, pf, gf)
        else:
            t, theirs = _timed(run_brats2023, brats2023, pf, gf, "BraTS-GLI")
        theirs = {k: v for k, v in theirs.items() if k in classes}
        a, b = _same(ours, theirs)
        rows.append((name, "BraTS-2023-Metrics", t, f"{t / t_seg:.1f}x segeval; same {a}/{b}"))
    t_pan, ours_p = _timed(_segeval, pf, gf, classes, "panoptica")
    rows.append((name, "segeval panoptica", t_pan, ""))
    try:
        import panoptica  # noqa: F401
    except ImportError:
        return rows
    t, theirs = _timed(_panoptica_files, pf, gf, classes)
    a, b = _same(ours_p, theirs)
    rows.append((name, "panoptica", t, f"{t / t_pan:.1f}x segeval; same {a}/{b}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brats2023", type=Path, help="checkout of rachitsaluja/BraTS-2023-Metrics")
    parser.add_argument("--quick", action="store_true", help="the BraTS-sized case only")
    parser.add_argument("--brats2023-large", action="store_true",
                        help="run the official code on the large case too (about an hour: a whole-volume "
                        "dilation, multiplication and unique per lesion)")
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        warm, _ = metastasis_case(1, shape=(48, 48, 32), n=4)
        write_volume(tmp / "w.nii.gz", warm)
        _segeval(tmp / "w.nii.gz", tmp / "w.nii.gz", dict(BRATS_REGIONS), "brats2023")
        _segeval(tmp / "w.nii.gz", tmp / "w.nii.gz", dict(BRATS_REGIONS), "panoptica")
        rows = bench_case("240x240x155, WT/TC/ET", (240, 240, 155), 35, dict(BRATS_REGIONS), args.brats2023, tmp)
        if not args.quick:
            rows += bench_case("512x512x256, WT", (512, 512, 256), 130, {"WT": (1, 2, 3)},
                               args.brats2023 if args.brats2023_large else None, tmp)
    print("| case | tool | seconds | note |")
    print("| --- | --- | ---: | --- |")
    for case, tool, t, note in rows:
        print(f"| {case} | {tool} | {t:.2f} | {note} |")


if __name__ == "__main__":
    main()
