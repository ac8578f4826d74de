"""NumPy vs CuPy: confusion matrix + overlap, and hd/hd95/assd/nsd for every class.

512x512x256 uint8 pairs with K = 5 and K = 118 (``_synth.organ_pair``),
spacing 0.8 x 0.8 x 1.5 mm. Prints one table: CPU times (numba joint
histogram; KD-tree surface path) and, when CuPy sees a GPU, the GPU times:
compute alone (arrays already on the device, synchronized) and end to end
from host arrays (host->device transfer of the labels in their stored dtype
included, counted separately too).

Targets (H100/H200): confusion + overlap for K=118 <= 10 ms GPU compute and
<= 60 ms end to end; hd, hd95, assd and nsd for all 117 classes <= 1 s.

Usage: python benchmarks/bench_gpu.py [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _synth import organ_pair

from segeval.backends import gpu_available
from segeval.metrics.confusion import joint_counts
from segeval.metrics.overlap import overlap_from_counts
from segeval.metrics.surface import surface_metrics

SPACING = (0.8, 0.8, 1.5)
SURF = ("hd", "hd95", "assd", "nsd")


def overlap_all(pred: Any, gt: Any) -> dict[str, np.ndarray]:
    joint = joint_counts(pred, gt)
    classes = [(int(v),) for v in joint.values if v > 0]
    c = joint.class_counts(classes)
    return overlap_from_counts(c["tp"], c["fp"], c["fn"], c["tn"])


def best(fn: Callable[[], Any], repeat: int, sync: Callable[[], None] = lambda: None) -> float:
    fn()
    sync()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return min(times)


def _measure(pred: np.ndarray, gt: np.ndarray, k: int, repeat: int, gpu: bool) -> list[tuple[str, str, float, str]]:
    """One K's rows: CPU, and the GPU when there is one (a function, so no lambda outlives its loop)."""
    rows: list[tuple[str, str, float, str]] = []
    classes = [(int(v),) for v in range(1, k)]
    cpu_ov = best(lambda: overlap_all(pred, gt), repeat)
    rows.append((f"K={k}", "confusion + overlap, CPU (numba)", cpu_ov, ""))
    cpu_sd = best(lambda: surface_metrics(pred, gt, classes=classes, spacing_mm=SPACING, metrics=SURF), 1)
    rows.append((f"K={k}", "hd, hd95, assd, nsd, CPU (KD-tree)", cpu_sd, ""))
    if not gpu:
        return rows
    import cupy

    sync = cupy.cuda.Device().synchronize
    d_pred, d_gt = cupy.asarray(pred), cupy.asarray(gt)
    h2d = best(lambda: (cupy.asarray(pred), cupy.asarray(gt)), repeat, sync)
    gpu_ov = best(lambda: overlap_all(d_pred, d_gt), repeat, sync)
    e2e = best(lambda: overlap_all(cupy.asarray(pred), cupy.asarray(gt)), repeat, sync)
    rows.append((f"K={k}", "host->device transfer of both (uint8)", h2d, ""))
    target = " (target <= 10 ms)" if k == 118 else ""
    rows.append((f"K={k}", "confusion + overlap, GPU compute", gpu_ov, f"{cpu_ov / gpu_ov:.1f}x CPU{target}"))
    target = " (target <= 60 ms)" if k == 118 else ""
    rows.append((f"K={k}", "confusion + overlap, GPU end to end", e2e, f"{cpu_ov / e2e:.1f}x CPU{target}"))
    gpu_sd = best(lambda: surface_metrics(d_pred, d_gt, classes=classes, spacing_mm=SPACING, metrics=SURF,
                                          method="edt"), 1, sync)
    target = " (target <= 1 s)" if k == 118 else ""
    rows.append((f"K={k}", "hd, hd95, assd, nsd, GPU (EDT in boxes)", gpu_sd, f"{cpu_sd / gpu_sd:.1f}x CPU{target}"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="256x256x128")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    shape = (256, 256, 128) if args.quick else (512, 512, 256)
    ok, why = gpu_available()
    rows: list[tuple[str, str, float, str]] = []
    for k in (5, 118):
        pred, gt = organ_pair(shape=shape, k=k, seed=0)
        rows += _measure(pred, gt, k, args.repeat, ok)
    print(f"# bench_gpu: {shape}, spacing {SPACING} mm, best of {args.repeat}")
    if not ok:
        print(f"# GPU: not measured here ({why})")
    print("| K | work | seconds | note |")
    print("| --- | --- | ---: | --- |")
    for k, work, sec, note in rows:
        print(f"| {k} | {work} | {sec:.4f} | {note} |")


if __name__ == "__main__":
    main()
