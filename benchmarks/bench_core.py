"""Overlap-metric core: segeval against its own fallback, the peers and the memory-bandwidth floor.

Usage::

    python benchmarks/bench_core.py            # 512 x 512 x 256, K = 5 and 118 (about 1-2 min)
    python benchmarks/bench_core.py --quick    # 256 x 256 x 128, a few seconds
    python benchmarks/bench_core.py --repeat 7 --no-peers

Inputs are deterministic uint8 pairs from ``benchmarks/_synth.py`` (organ-like
blobs, ~25 % foreground, a prediction with one-voxel boundary errors, islands,
a confused region and a missed class). K counts background.

Every row is timed in this run: the best of several calls after one warm-up
call, so numba's import, compile or cache load is excluded (the process's first
call is its own row, and the compile time of a cold cache is measured in a
subprocess). segeval and the bandwidth floor are timed in alternation, so both
see the same machine. "x segeval" is seconds / segeval's seconds: above 1 is
slower than segeval. Slow peers (naive loop, MedPy) at K = 118 are timed on a
subset of labels and scaled to all labels; the row says so.

Extra memory of segeval's computation, beyond the two inputs: tracemalloc's
peak (the kernels allocate nothing inside compiled code; their per-thread
histograms are NumPy arrays, also shown on their own), and the growth of the
process's peak RSS (Linux ``/proc/self/clear_refs``, after ``malloc_trim``),
which sees every allocation. The targets are defined at 512 x 512 x 256: with
``--quick`` the arrays fit in cache and the floor is unrealistically fast.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

import segeval
from segeval.metrics import _hist_jit, _numba
from segeval.metrics.confusion import joint_counts
from segeval.metrics.overlap import overlap_from_counts

try:  # run as a script: benchmarks/ is on sys.path
    from _synth import describe, organ_pair
except ImportError:  # imported as benchmarks.bench_core
    from benchmarks._synth import describe, organ_pair  # type: ignore[no-redef]

MiB = 1 << 20

# Targets, all as ratios measured in the same run.
TARGET_SITK = 5.0  # K=118: segeval at least this many times faster than SimpleITK's filter
TARGET_NAIVE = 100.0  # K=118: ... than the naive per-label loop
TARGET_FLOOR = 5.0  # both K: at most this many times the bandwidth floor
TARGET_MEM_MIB = 64.0  # both K: extra memory beyond the two inputs


def best_of(fn: Callable[[], Any], repeat: int, warmup: bool = True) -> tuple[float, Any]:
    """Best wall time of ``repeat`` calls (after one untimed warm-up call), and the last result."""
    out = fn() if warmup else None
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def best_interleaved(fns: list[Callable[[], Any]], repeat: int) -> list[float]:
    """Best wall time of each function, called in turn ``repeat`` times (after a warm-up each).

    Interleaving gives every function the same share of whatever else the machine
    is doing, so the ratios between them are steadier than separate best-ofs.
    """
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


def segeval_core(pred: np.ndarray, gt: np.ndarray) -> dict[str, np.ndarray]:
    """What ``score_case`` does on arrays: confusion matrix, class counts, all overlap metrics."""
    joint = joint_counts(pred, gt)
    labels = [int(v) for v in joint.values if v != 0]
    counts = joint.class_counts([(v,) for v in labels])
    metrics: dict[str, np.ndarray] = overlap_from_counts(
        counts["tp"], counts["fp"], counts["fn"], counts["tn"]
    )
    metrics["labels"] = np.array(labels)
    metrics["tp"] = counts["tp"]
    return metrics


def numpy_fallback() -> Any:
    """Context manager: every segeval kernel on its pure-NumPy version."""
    return _numba.forced(False)


def naive_loop(pred: np.ndarray, gt: np.ndarray, labels: list[int]) -> np.ndarray:
    """Per label: two masks, their AND, three counts (what most scripts do)."""
    out = np.zeros((len(labels), 3), dtype=np.int64)
    for i, v in enumerate(labels):
        p = pred == v
        g = gt == v
        out[i] = np.count_nonzero(p & g), np.count_nonzero(p), np.count_nonzero(g)
    return out


def whole_bincount(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """One whole-volume bincount of 16-bit combined keys (for reference)."""
    key = gt.reshape(-1).astype(np.uint16)
    key <<= 8
    key |= pred.reshape(-1)
    return np.bincount(key, minlength=1 << 16)


def _vm(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _malloc_trim() -> None:
    """Give freed heap memory back to the OS (glibc), so that reuse cannot hide a peak."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def rss_growth(fn: Callable[[], Any]) -> float | None:
    """Peak RSS during ``fn()`` minus RSS before it, in MiB (Linux; None elsewhere)."""
    _malloc_trim()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
    except OSError:
        return None
    before = _vm("VmRSS")
    fn()
    peak = _vm("VmHWM")
    if before is None or peak is None:
        return None
    return (peak - before) / MiB


def traced_peak(fn: Callable[[], Any]) -> float:
    """tracemalloc's peak of allocations made during ``fn()``, in MiB."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return (peak - base) / MiB


def per_thread_hist_bytes(n: int) -> tuple[int, str]:
    """Bytes of the per-thread histograms of the 8-bit path (n_parts x 256 x 256 x int64)."""
    if not _numba.HAVE_NUMBA:
        return 0, "no numba"
    parts = _hist_jit.parts(n, 256 * 256)
    return parts * 256 * 256 * 8, f"{parts} threads x 256 x 256 x int64"


def cold_compile_seconds() -> float | None:
    """First joint_counts call on uint8 arrays in a fresh process with an empty numba cache."""
    if not _numba.HAVE_NUMBA:
        return None
    import subprocess
    import tempfile

    code = (
        "import time, numpy as np\n"
        "from segeval.metrics import _numba\n"
        "from segeval.metrics.confusion import joint_counts\n"
        "a = np.zeros((64, 64, 64), np.uint8)\n"
        "_numba.use_jit = lambda n=None: True\n"
        "t = time.perf_counter(); joint_counts(a, a); print(time.perf_counter() - t)\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=tmp)
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
        )
    try:
        return float(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def kernel_stats() -> str:
    """Which compiled kernels were compiled or loaded from numba's cache in this process."""
    compiled = _hist_jit.KERNELS.compiled() if _numba.HAVE_NUMBA else None
    if compiled is None:
        return "numba not used"
    parts = []
    for name, obj in vars(compiled).items():
        stats = getattr(obj, "stats", None)
        if stats is not None and hasattr(stats, "cache_hits"):
            hits = sum(stats.cache_hits.values())
            misses = sum(stats.cache_misses.values())
            if hits or misses:
                parts.append(f"{name}: {hits} cache loads, {misses} compiles")
    return "; ".join(parts) or "no compiled kernels used"


def one_thread(fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` run with numba limited to one thread (what the kernels split by)."""

    def run() -> Any:
        _numba.set_thread_budget(1)
        try:
            return fn()
        finally:
            _numba.set_thread_budget(None)

    return run


def _subset_note(timed: int, total: int) -> str:
    return "all labels" if timed == total else f"{timed} labels timed, x {total / timed:.2f}"


def run_case(
    pred: np.ndarray, gt: np.ndarray, k: int, args: argparse.Namespace, first_case: bool
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    rep = args.repeat

    def add(work: str, seconds: float | None, note: str = "") -> None:
        rows.append({"k": k, "work": work, "seconds": seconds, "note": note})

    # segeval: the first call in this process (numba cache load, or compile), then
    # steady state, interleaved with the bandwidth floor so both see the same machine.
    t0 = time.perf_counter()
    ref = segeval_core(pred, gt)
    first = time.perf_counter() - t0
    # A cold process counts with NumPy until numba would have paid for itself
    # (see segeval.metrics._numba.use_jit); the rows below measure the steady state, on numba.
    steady = _numba.forced(True)
    steady.__enter__()
    out = np.empty_like(pred)
    t_core, t_jc, t_floor = best_interleaved(
        [
            lambda: segeval_core(pred, gt),
            lambda: joint_counts(pred, gt),
            lambda: np.add(pred, gt, out=out),
        ],
        rep * 3,
    )
    add("segeval: joint_counts + class_counts + overlap_from_counts", t_core, "all labels")
    add("  of which joint_counts (the one pass)", t_jc)
    t_one, _ = best_of(one_thread(lambda: joint_counts(pred, gt)), rep)
    add("  joint_counts on one thread", t_one, "as the floor")
    t_score, _ = best_of(lambda: segeval.score(pred, gt), rep)
    add("segeval.score(pred, gt) end to end (arrays)", t_score, "report object included")
    if first_case:
        add("segeval first call in this process", first,
            "cold process: the NumPy run-counting path (numba starts only once it pays)")
    labels = [int(v) for v in ref["labels"]]
    n_lab = len(labels)

    with numpy_fallback():
        t_np, fb = best_of(lambda: segeval_core(pred, gt), max(1, rep // 2))
    assert np.array_equal(fb["tp"], ref["tp"]), "NumPy fallback disagrees with the numba kernel"
    add("segeval pure-NumPy fallback (as SEGEVAL_NO_NUMBA=1)", t_np)

    # Naive per-label loop; a subset at large K, scaled.
    sub = labels if n_lab <= 8 else labels[:: max(1, n_lab // args.subset)][: args.subset]
    t_nv, nv = best_of(lambda: naive_loop(pred, gt, sub), 1 if len(sub) > 8 else 2, warmup=False)
    idx = [labels.index(v) for v in sub]
    assert np.array_equal(nv[:, 0], ref["tp"][idx]), "naive loop disagrees with segeval"
    note = _subset_note(len(sub), n_lab)
    t_naive = t_nv * n_lab / len(sub)
    add("naive per-label NumPy loop (==, ==, &, 3 counts)", t_naive, note)

    t_sitk = None
    if not args.no_peers:
        try:
            import SimpleITK as sitk
        except ImportError:
            add("SimpleITK LabelOverlapMeasuresImageFilter", None, "not installed")
        else:
            t_conv, (ip, ig) = best_of(
                lambda: (sitk.GetImageFromArray(pred), sitk.GetImageFromArray(gt)), 1, warmup=False
            )

            def sitk_all() -> np.ndarray:
                f = sitk.LabelOverlapMeasuresImageFilter()  # type: ignore[no-untyped-call]
                f.Execute(ig, ip)  # type: ignore[no-untyped-call]  # (reference = gt, test = pred)
                dice = [f.GetDiceCoefficient(v) for v in labels]  # type: ignore[no-untyped-call]
                return np.array(dice)

            t_sitk, d_sitk = best_of(sitk_all, max(1, rep // 2))
            ok = np.allclose(d_sitk, ref["dice"], equal_nan=True)
            po = sitk.ProcessObject
            n_thr = po.GetGlobalDefaultNumberOfThreads()  # type: ignore[no-untyped-call]
            add(
                "SimpleITK LabelOverlapMeasuresImageFilter",
                t_sitk,
                f"all labels, {n_thr} threads; GetImageFromArray x2 ({t_conv:.3f} s) not included; "
                "Dice " + ("matches" if ok else "DIFFERS"),
            )
        try:
            from medpy.metric.binary import dc
        except ImportError:
            add("MedPy medpy.metric.binary.dc per label", None, "not installed")
        else:
            msub = labels if n_lab <= 8 else labels[:: max(1, n_lab // args.medpy_subset)]
            msub = msub[: args.medpy_subset] if n_lab > 8 else msub
            t_mp, _ = best_of(lambda: [dc(pred == v, gt == v) for v in msub], 1, warmup=False)
            note = _subset_note(len(msub), n_lab)
            add("MedPy medpy.metric.binary.dc per label", t_mp * n_lab / len(msub),
                note + "; masks included")

    t_bc, _ = best_of(lambda: whole_bincount(pred, gt), max(1, rep // 2))
    add("whole-volume np.bincount of 16-bit combined keys", t_bc, "reference")
    add("bandwidth floor: np.add(pred, gt, out=preallocated)", t_floor,
        "reads both once; one thread")

    # Memory beyond the two inputs. The kernels allocate nothing inside compiled
    # code (the per-thread histograms are NumPy arrays made by the dispatcher), so
    # tracemalloc sees all of it; peak RSS growth is the cross-check.
    mem_tm = traced_peak(lambda: segeval_core(pred, gt))
    hist_bytes, how = per_thread_hist_bytes(pred.size)
    mem_rss = rss_growth(lambda: segeval_core(pred, gt))
    add("extra memory: tracemalloc peak (MiB)", None, f"{mem_tm:.2f}")
    add("  of which per-thread histograms (MiB)", None, f"{hist_bytes / MiB:.2f} ({how})")
    add("extra memory: peak RSS growth (MiB)", None, "n/a" if mem_rss is None else f"{mem_rss:.2f}")
    mem = max(mem_tm, mem_rss or 0.0)

    checks: list[tuple[str, bool, str]] = []
    floor_ratio = t_core / t_floor
    checks.append((f"K={k}: within {TARGET_FLOOR:g}x of the bandwidth floor",
                   floor_ratio <= TARGET_FLOOR, f"{floor_ratio:.2f}x"))
    if k >= 100:
        if t_sitk is not None:
            r = t_sitk / t_core
            checks.append((f"K={k}: >= {TARGET_SITK:g}x faster than SimpleITK",
                           r >= TARGET_SITK, f"{r:.1f}x"))
        r = t_naive / t_core
        checks.append((f"K={k}: >= {TARGET_NAIVE:g}x faster than the naive loop",
                       r >= TARGET_NAIVE, f"{r:.0f}x"))
    checks.append((f"K={k}: extra memory <= {TARGET_MEM_MIB:g} MiB", mem <= TARGET_MEM_MIB,
                   f"{mem:.1f} MiB (larger of tracemalloc peak and RSS growth)"))
    for row in rows:
        sec = row["seconds"]
        timed = sec is not None and not row["work"].startswith("segeval first")
        row["ratio"] = sec / t_core if timed else None
    rows.append({"k": k, "checks": checks})
    steady.__exit__(None, None, None)
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    lines = ["| K | work | seconds | x segeval | note |", "| --- | --- | ---: | ---: | --- |"]
    for r in rows:
        if "checks" in r:
            continue
        sec = "" if r["seconds"] is None else f"{r['seconds']:.4f}"
        ratio = "" if r.get("ratio") is None else f"{r['ratio']:.2f}"
        lines.append(f"| {r['k']} | {r['work']} | {sec} | {ratio} | {r['note']} |")
    lines.append("")
    for r in rows:
        for name, ok, detail in r.get("checks", []):
            lines.append(f"- [{'x' if ok else ' '}] {'MET ' if ok else 'MISSED'} {name}: {detail}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="256 x 256 x 128 instead of 512 x 512 x 256")
    ap.add_argument("--shape", type=lambda s: tuple(int(v) for v in s.split("x")), default=None,
                    help="e.g. 512x512x256")
    ap.add_argument("--k", type=int, nargs="+", default=[5, 118], help="classes incl. background")
    ap.add_argument("--repeat", type=int, default=5, help="timed calls per row (best is kept)")
    ap.add_argument("--subset", type=int, default=12,
                    help="labels timed for the naive loop at large K")
    ap.add_argument("--medpy-subset", type=int, default=4, help="labels timed for MedPy at large K")
    ap.add_argument("--no-peers", action="store_true", help="skip SimpleITK and MedPy")
    ap.add_argument("--no-compile", action="store_true", help="skip the cold-cache compile timing")
    args = ap.parse_args(argv)
    shape = args.shape or ((256, 256, 128) if args.quick else (512, 512, 256))

    print(
        f"segeval {segeval.__version__}; numpy {np.__version__}; {platform.machine()}, "
        f"{os.cpu_count()} CPUs; shape {shape} uint8; best of {args.repeat} "
        f"({3 * args.repeat} for segeval and the floor)",
        flush=True,
    )
    all_rows: list[dict[str, Any]] = []
    cold = None if args.no_compile else cold_compile_seconds()
    for i, k in enumerate(args.k):
        t0 = time.perf_counter()
        pred, gt = organ_pair(shape, k)
        dt = time.perf_counter() - t0
        print(f"K={k}: generated in {dt:.2f} s; {describe(pred, gt)}", flush=True)
        all_rows += run_case(pred, gt, k, args, first_case=i == 0)
        del pred, gt
    numba = _numba.numba_module() if _numba.HAVE_NUMBA else None
    if numba is not None:
        print(f"numba {numba.__version__}, {_numba.cores()} threads; {kernel_stats()}")
    if cold is not None:
        print(f"numba compile (first uint8 joint_counts, fresh process, empty cache): {cold:.2f} s")
    print()
    print(render(all_rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
