"""Benchmark: segeval's surface metrics against MedPy, DeepMind surface-distance and MONAI.

Synthetic, deterministic 512 x 512 x 256 uint8 label volumes at 0.8 x 0.8 x 1.5 mm:

* K=5: background and four large organ-like blobs (liver, spleen, two kidneys);
* K=118: background and 117 blobs whose sizes span three orders of magnitude.

The prediction is the ground truth's blobs regenerated with perturbed
parameters (shifted 1-2 voxels, dilated or eroded, a different boundary
ripple) plus a few false-positive islands per class.

segeval computes hd, hd95, assd and nsd for every class in one call (and once
more with ``weights="area"``, DeepMind's surface elements, whose hd95 the
DeepMind column compares too). Each peer
computes what it computes per class, on the same arrays:

* MedPy: ``hd95`` and ``assd`` per label (each runs two whole-volume EDTs), on a
  few labels, extrapolated to all (the table says so);
* DeepMind ``surface-distance``: ``compute_surface_distances`` once per label,
  then hd, hd95, average distance and surface Dice from it;
* MONAI ``compute_hausdorff_distance(percentile=95)`` per label (HD95 only), on
  the label's own mask as a one-channel tensor (a 118-class one-hot of this
  size needs ~8 GB per volume).

Peers that are not importable here are looked for in a separate virtual
environment (``--peers-python``, default ``/work/peers-venv/bin/python`` or
``$SEGEVAL_PEERS_PYTHON``), so torch and MONAI stay out of segeval's own.

Run::

    python benchmarks/bench_surface.py            # full size, both K
    python benchmarks/bench_surface.py --quick    # 256 x 256 x 128, for a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SPACING_MM = (0.8, 0.8, 1.5)
FULL_SHAPE = (512, 512, 256)
QUICK_SHAPE = (256, 256, 128)


# ---------------------------------------------------------------------------
# Synthetic data
# ---------------------------------------------------------------------------


def _blob(
    vol: np.ndarray,
    label: int,
    centre_mm: np.ndarray,
    radii_mm: np.ndarray,
    ripple: tuple[np.ndarray, np.ndarray, float],
    level: float,
) -> None:
    """Paint an ellipsoid with a smooth rippled boundary, inside its bounding box only."""
    sp = np.asarray(SPACING_MM)
    reach = radii_mm * 1.3 * max(level, 1.0)
    lo = np.maximum(np.floor((centre_mm - reach) / sp).astype(int), 0)
    hi = np.minimum(np.ceil((centre_mm + reach) / sp).astype(int) + 1, vol.shape)
    if np.any(hi <= lo):
        return
    axes = [
        ((np.arange(lo[a], hi[a]) * sp[a] - centre_mm[a]) / radii_mm[a]).astype(np.float32)
        for a in range(3)
    ]
    x, y, z = np.meshgrid(*axes, indexing="ij", sparse=True)
    r2 = x * x + y * y + z * z
    freqs, phases, amp = ripple
    wobble = np.zeros(r2.shape, np.float32)
    for f, ph in zip(freqs, phases):
        wobble += np.sin(f[0] * x + f[1] * y + f[2] * z + ph)
    inside = r2 < (level * (1.0 + amp * wobble / len(freqs))) ** 2
    box = vol[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    box[inside] = label


def make_pair(
    n_classes: int, shape: tuple[int, int, int], seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic (pred, gt) uint8 pair with labels 1..n_classes-1."""
    rng = np.random.default_rng(seed)
    sp = np.asarray(SPACING_MM)
    extent = np.asarray(shape) * sp
    gt = np.zeros(shape, np.uint8)
    pred = np.zeros(shape, np.uint8)
    scale = extent / (np.asarray(FULL_SHAPE) * sp)  # --quick shrinks the anatomy too
    specs = []
    if n_classes == 5:
        # liver, spleen, left and right kidney: radii (mm) and centres (fraction of extent)
        organs = [
            ((85, 70, 75), (0.38, 0.45, 0.55)),
            ((45, 35, 55), (0.70, 0.55, 0.55)),
            ((28, 25, 50), (0.62, 0.70, 0.40)),
            ((28, 25, 50), (0.36, 0.72, 0.40)),
        ]
        for label, (organ_mm, frac) in enumerate(organs, start=1):
            specs.append((label, np.asarray(frac) * extent, np.asarray(organ_mm, float) * scale))
    else:
        sizes = np.exp(rng.uniform(np.log(4.0), np.log(60.0), n_classes - 1))
        for label, r in enumerate(sorted(sizes, reverse=True), start=1):
            aspect = rng.uniform(0.6, 1.4, 3)
            centre = rng.uniform(0.15, 0.85, 3) * extent
            specs.append((label, centre, r * aspect * scale))
    for label, centre, radii in specs:
        freqs = [rng.normal(0, 4, 3) for _ in range(4)]
        phases = rng.uniform(0, 2 * np.pi, 4)
        _blob(gt, label, centre, radii, (np.asarray(freqs), phases, 0.08), 1.0)
        shift = rng.integers(-2, 3, 3) * sp
        p_phases = phases + rng.normal(0, 0.6, 4)
        p_level = rng.uniform(0.94, 1.06)
        _blob(pred, label, centre + shift, radii, (np.asarray(freqs), p_phases, 0.1), p_level)
        for _ in range(int(rng.integers(0, 3))):  # false-positive islands
            island = rng.uniform(0.05, 0.95, 3) * extent
            _blob(
                pred,
                label,
                island,
                np.full(3, rng.uniform(2.0, 6.0)),
                (np.zeros((1, 3)), np.zeros(1), 0.0),
                1.0,
            )
    return pred, gt


# ---------------------------------------------------------------------------
# Timed runs (each returns seconds and a few numbers for a sanity check)
# ---------------------------------------------------------------------------


def run_segeval(pred: np.ndarray, gt: np.ndarray, repeats: int) -> dict[str, Any]:
    from segeval.metrics.surface import surface_metrics

    kw: dict[str, Any] = {
        "spacing_mm": SPACING_MM,
        "metrics": ("hd", "hd95", "assd", "nsd"),
        "tolerance_mm": 1.0,
    }
    t0 = time.perf_counter()
    first = surface_metrics(pred, gt, **kw)
    cold = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        surface_metrics(pred, gt, **kw)
        times.append(time.perf_counter() - t0)
    # Untimed: the metric MedPy's hd95 matches, for the agreement column.
    pooled = surface_metrics(pred, gt, spacing_mm=SPACING_MM, metrics=("hd95_pooled",))
    # --surface-weights area (DeepMind's surface elements), timed once.
    t0 = time.perf_counter()
    area = surface_metrics(pred, gt, weights="area", **kw)
    area_seconds = time.perf_counter() - t0
    labels = _labels(gt, pred)
    return {
        "area_seconds": area_seconds,
        "hd95_area": dict(zip(labels, area["hd95"].tolist())),
        "seconds": min(times),
        "cold": cold,
        "hd95": dict(zip(labels, first["hd95"].tolist())),
        "hd95_pooled": dict(zip(labels, pooled["hd95_pooled"].tolist())),
        "assd": dict(zip(labels, first["assd"].tolist())),
    }


def _labels(gt: np.ndarray, pred: np.ndarray) -> list[int]:
    present = np.union1d(np.unique(gt), np.unique(pred))
    return [int(v) for v in present if v > 0]


def _subset(labels: list[int], n: int) -> list[int]:
    if n >= len(labels):
        return labels
    idx = np.linspace(0, len(labels) - 1, n).round().astype(int)  # large to small blobs
    return [labels[i] for i in idx]


def run_medpy(pred: np.ndarray, gt: np.ndarray, n_labels: int) -> dict[str, Any]:
    from medpy.metric.binary import assd, hd95

    labels = _labels(gt, pred)
    subset = _subset(labels, n_labels)
    hd95s, assds = {}, {}
    t0 = time.perf_counter()
    for c in subset:
        p, g = pred == c, gt == c
        hd95s[c] = float(hd95(p, g, voxelspacing=SPACING_MM))
        assds[c] = float(assd(p, g, voxelspacing=SPACING_MM))
    measured = time.perf_counter() - t0
    return {
        "seconds": measured * len(labels) / len(subset),
        "measured": measured,
        "n_timed": len(subset),
        "n_labels": len(labels),
        "hd95_pooled": hd95s,
        "assd": assds,
    }


def run_deepmind(pred: np.ndarray, gt: np.ndarray) -> dict[str, Any]:
    import surface_distance as sd

    labels = _labels(gt, pred)
    hd95s = {}
    t0 = time.perf_counter()
    for c in labels:
        dists = sd.compute_surface_distances(gt == c, pred == c, SPACING_MM)  # GT first
        sd.compute_robust_hausdorff(dists, 100)
        hd95s[c] = float(sd.compute_robust_hausdorff(dists, 95))
        sd.compute_average_surface_distance(dists)
        sd.compute_surface_dice_at_tolerance(dists, 1.0)
    return {"seconds": time.perf_counter() - t0, "hd95": hd95s}


def run_monai(pred: np.ndarray, gt: np.ndarray) -> dict[str, Any]:
    import torch
    from monai.metrics import compute_hausdorff_distance

    torch.set_num_threads(os.cpu_count() or 1)
    labels = _labels(gt, pred)
    hd95s = {}
    t0 = time.perf_counter()
    for c in labels:
        p = torch.from_numpy(pred == c)[None, None]
        g = torch.from_numpy(gt == c)[None, None]
        hd95s[c] = float(
            compute_hausdorff_distance(
                p, g, include_background=True, percentile=95, spacing=list(SPACING_MM)
            )[0, 0]
        )
    return {"seconds": time.perf_counter() - t0, "hd95": hd95s}


PEERS: dict[str, Callable[..., dict[str, Any]]] = {
    "medpy": run_medpy,
    "deepmind": run_deepmind,
    "monai": run_monai,
}
PEER_MODULES = {"medpy": "medpy", "deepmind": "surface_distance", "monai": "monai"}


def _importable(module: str, python: str | None) -> bool:
    cmd = [python or sys.executable, "-c", f"import {module}"]
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


def run_peer(name: str, data: Path, python: str, medpy_labels: int) -> dict[str, Any]:
    """Run one peer in ``python`` (this or the peers' interpreter) on the saved arrays."""
    cmd = [
        python,
        __file__,
        "--worker",
        name,
        "--data",
        str(data),
        "--medpy-labels",
        str(medpy_labels),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def _fmt(seconds: float) -> str:
    return f"{seconds:.2f}" if seconds < 100 else f"{seconds:,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="256x256x128 instead of 512x512x256")
    ap.add_argument("--k", type=int, nargs="+", default=[5, 118], help="class counts (5, 118)")
    ap.add_argument("--repeats", type=int, default=3, help="segeval timed runs (best kept)")
    ap.add_argument("--medpy-labels", type=int, default=2, help="labels MedPy is timed on")
    ap.add_argument("--peers", nargs="*", default=list(PEERS), help="peers to run")
    default_peers_python = os.environ.get("SEGEVAL_PEERS_PYTHON", "/work/peers-venv/bin/python")
    ap.add_argument(
        "--peers-python",
        default=default_peers_python,
        help="interpreter with the peers not importable here",
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:  # inside a peer's interpreter
        arrays = np.load(args.data)
        fn = PEERS[args.worker]
        kw = {"n_labels": args.medpy_labels} if args.worker == "medpy" else {}
        print(json.dumps(fn(arrays["pred"], arrays["gt"], **kw)))
        return

    shape = QUICK_SHAPE if args.quick else FULL_SHAPE
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in args.k:
            t0 = time.perf_counter()
            pred, gt = make_pair(k, shape, seed=k)
            n_labels = len(_labels(gt, pred))
            print(
                f"K={k}: {n_labels} labels generated in {time.perf_counter() - t0:.1f} s",
                file=sys.stderr,
            )
            data = Path(tmp) / f"k{k}.npz"
            np.savez(data, pred=pred, gt=gt)
            ours = run_segeval(pred, gt, args.repeats)
            print(
                f"  segeval {ours['seconds']:.3f} s (first call {ours['cold']:.3f} s)",
                file=sys.stderr,
            )
            results: dict[str, dict[str, Any]] = {}
            for name in args.peers:
                module = PEER_MODULES[name]
                python = (
                    sys.executable
                    if _importable(module, None)
                    else (
                        args.peers_python
                        if os.path.exists(args.peers_python)
                        and _importable(module, args.peers_python)
                        else None
                    )
                )
                if python is None:
                    results[name] = {"error": f"{module} not importable (skipped)"}
                else:
                    results[name] = run_peer(name, data, python, args.medpy_labels)
                r = results[name]
                print(f"  {name}: {r.get('seconds', r.get('error'))}", file=sys.stderr)
            rows.append((k, n_labels, ours, results))

    _table(rows, shape)


# Which segeval number each peer's number should equal.
AGREEMENT = {
    "medpy": [("hd95_pooled", "hd95_pooled"), ("assd", "assd")],
    "monai": [("hd95", "hd95")],
    "deepmind": [("hd95", "hd95"), ("hd95", "hd95_area")],  # voxels: close, not equal; area: equal
}


def _agreement(ours: dict[str, Any], name: str, r: dict[str, Any]) -> str:
    """Largest |peer - segeval| over the labels the peer scored, per compared metric."""
    parts = []
    for theirs, mine in AGREEMENT[name]:
        if theirs not in r:
            continue
        diffs = [abs(v - ours[mine][int(c)]) for c, v in r[theirs].items()]
        finite = [d for d in diffs if np.isfinite(d)]
        if finite:
            parts.append(f"{theirs} vs {mine} {max(finite):.2g} mm")
    return "; ".join(parts)


def _table(
    rows: list[tuple[int, int, dict[str, Any], dict[str, dict[str, Any]]]], shape: tuple[int, ...]
) -> None:
    print(
        f"\nsurface metrics, {shape[0]}x{shape[1]}x{shape[2]} uint8, spacing "
        f"{'x'.join(str(s) for s in SPACING_MM)} mm, {os.cpu_count()} cores; seconds, "
        "best of repeats for segeval, one run for peers\n"
    )
    print("| K | tool | computes | seconds | segeval speed-up | max abs difference from segeval |")
    print("| --- | --- | --- | --- | --- | --- |")
    for k, n, ours, peers in rows:
        measured = [r["seconds"] for r in peers.values() if "seconds" in r]
        fastest = min(measured) if measured else None
        print(
            f"| {k} | segeval | hd, hd95, assd, nsd, all {n} labels | {ours['seconds']:.3f} "
            f"(first call {ours['cold']:.2f}) | 1 | |"
        )
        deepmind = peers.get("deepmind", {}).get("seconds")
        versus = f"{deepmind / ours['area_seconds']:,.0f}x DeepMind" if deepmind else ""
        print(f"| {k} | segeval --surface-weights area | the same, DeepMind's surface elements | "
              f"{ours['area_seconds']:.3f} (one run) | {versus} | |")
        for name, r in peers.items():
            what = {
                "medpy": "hd95 + assd per label",
                "deepmind": "hd, hd95, asd, nsd per label",
                "monai": "hd95 per label",
            }[name]
            if "error" in r:
                print(f"| {k} | {name} | {what} | {r['error']} | | |")
                continue
            note = ""
            if name == "medpy" and r["n_timed"] < r["n_labels"]:
                note = f" (timed {r['n_timed']} labels: {r['measured']:.1f} s; extrapolated)"
            tag = " (fastest peer)" if r["seconds"] == fastest else ""
            print(
                f"| {k} | {name}{tag} | {what} | {_fmt(r['seconds'])}{note} | "
                f"{r['seconds'] / ours['seconds']:,.0f}x | {_agreement(ours, name, r)} |"
            )


if __name__ == "__main__":
    main()
