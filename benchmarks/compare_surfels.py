"""Development check: segeval's surface elements against DeepMind's surface-distance, number for number.

Random masks (smoothed noise, thresholded: blobs, holes, thin parts, masks
touching the array border), 2-D and 3-D, at equal and unequal spacings, plus
the empty cases. For every case DeepMind's ``compute_surface_distances(gt,
pred, spacing)`` and its aggregates run in the peers' virtual environment
(``--peers-python``, default ``/work/peers-venv/bin/python`` or
``$SEGEVAL_PEERS_PYTHON``, with ``surface-distance`` installed; its use of
``np.Inf``, gone in NumPy 2, is patched there), and segeval's
:func:`segeval.metrics.surfels.surfel_distances` and aggregates here.

A second table runs ``segeval.score(..., surface_weights="area")`` on the
bundled sample data (3 cases x 4 organs, NIfTI with their spacings) against
DeepMind on the same label masks: hd (robust Hausdorff at 100 %), hd95, masd
(the mean of DeepMind's two average distances) and nsd (surface Dice at
1 mm).

The first table counts, per quantity, the cases whose numbers agree to 1e-6
(relative and absolute; both infinite or both NaN count as agreeing), and
the largest difference; the "surfels" row compares the distance and area of
every surfel of both directions (ordered by distance to 1e-9, then area:
distances one ulp apart may order equal-distance surfels differently). The last lines give the
time each side spent.

Usage::

    python benchmarks/compare_surfels.py            # 200 cases
    python benchmarks/compare_surfels.py --cases 50
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
sys.path.insert(0, str(ROOT))

from segeval.metrics import surfels

QUANTITIES = ("asd_gt_to_pred", "asd_pred_to_gt", "hd100", "hd95", "overlap_gt", "overlap_pred", "surface_dice")

WORKER = r'''
import json, sys, time, warnings
import numpy as np
np.Inf = np.inf  # surface-distance still spells it the NumPy 1 way
import surface_distance as sd
warnings.filterwarnings("ignore")
data = np.load(sys.argv[1])
out = []
t = 0.0
for i in range(int(data["n"])):
    gt, pred, sp = data[f"gt{i}"], data[f"pred{i}"], tuple(float(s) for s in data[f"sp{i}"])
    t0 = time.perf_counter()
    d = sd.compute_surface_distances(gt, pred, sp)
    asd = sd.compute_average_surface_distance(d)
    hd100 = sd.compute_robust_hausdorff(d, 100)
    hd95 = sd.compute_robust_hausdorff(d, 95)
    ov = sd.compute_surface_overlap_at_tolerance(d, 1.0)
    dice = sd.compute_surface_dice_at_tolerance(d, 1.0)
    t += time.perf_counter() - t0
    arrays = {k: np.asarray(v, dtype=np.float64).tolist() for k, v in d.items()}
    out.append({"asd_gt_to_pred": asd[0], "asd_pred_to_gt": asd[1], "hd100": hd100, "hd95": hd95,
                "overlap_gt": ov[0], "overlap_pred": ov[1], "surface_dice": dice, "arrays": arrays})
print(json.dumps({"cases": [{k: (v if k == "arrays" else repr(float(v))) for k, v in c.items()} for c in out],
                  "seconds": t}))
'''


def _blob(rng: np.random.Generator, shape: tuple[int, ...], fill: float) -> np.ndarray:
    """A mask of smoothed noise above its ``fill`` quantile: blobs of varied shape."""
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=rng.uniform(1.0, 3.0))
    return np.asarray(noise > np.quantile(noise, 1 - fill))


def cases(n: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray, tuple[float, ...]]]:
    """``n`` (gt, pred, spacing) triples: random 2-D and 3-D masks, equal and unequal spacing, and the empty cases."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        ndim = 2 if i % 3 == 0 else 3
        shape = tuple(int(s) for s in rng.integers(12, 48 if ndim == 2 else 28, size=ndim))
        gt = _blob(rng, shape, rng.uniform(0.05, 0.4))
        pred = gt.copy() if i % 5 == 0 else _blob(rng, shape, rng.uniform(0.05, 0.4))
        if i % 5 == 0:  # a perturbed copy: shifted, grown or shrunk
            pred = np.roll(pred, int(rng.integers(-2, 3)), axis=int(rng.integers(ndim)))
            pred = ndimage.binary_dilation(pred) if rng.random() < 0.5 else ndimage.binary_erosion(pred)
        spacing = (1.0,) * ndim if i % 2 == 0 else tuple(float(s) for s in rng.uniform(0.3, 3.0, size=ndim).round(2))
        out.append((gt, pred, spacing))
    for ndim in (2, 3):
        one = np.zeros((10,) * ndim, bool)
        one[(3,) * ndim] = True
        empty = np.zeros_like(one)
        sp = (0.8, 2.5, 1.2)[:ndim]
        out += [(one, empty, sp), (empty, one, sp), (empty, empty, sp)]
    return out


def ours(gt: np.ndarray, pred: np.ndarray, spacing: tuple[float, ...]) -> dict[str, Any]:
    """segeval's numbers for one case, in DeepMind's order (pairs GT first)."""
    d = surfels.surfel_distances(pred, gt, spacing)
    asd_pred, asd_gt = surfels.average_distances(d)
    ov_pred, ov_gt = surfels.surface_overlap(d, 1.0)
    return {"asd_gt_to_pred": asd_gt, "asd_pred_to_gt": asd_pred, "hd100": surfels.robust_hausdorff(d, 100),
            "hd95": surfels.robust_hausdorff(d, 95), "overlap_gt": ov_gt, "overlap_pred": ov_pred,
            "surface_dice": surfels.surface_dice(d, 1.0),
            "arrays": {"distances_gt_to_pred": d.gt_to_pred, "distances_pred_to_gt": d.pred_to_gt,
                       "surfel_areas_gt": d.gt_areas, "surfel_areas_pred": d.pred_areas}}


def agree(a: float, b: float) -> bool:
    """Equal to 1e-6 (relative and absolute), or both inf of one sign, or both NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)


SAMPLE_WORKER = r'''
import json, sys
import numpy as np, nibabel as nib
np.Inf = np.inf
import surface_distance as sd
out = {}
for case in json.loads(sys.argv[1]):
    g_img = nib.load(f"{sys.argv[2]}/gt/{case}.nii.gz")
    gt = np.asarray(g_img.dataobj); pred = np.asarray(nib.load(f"{sys.argv[2]}/pred/{case}.nii.gz").dataobj)
    sp = tuple(float(z) for z in g_img.header.get_zooms()[:3])
    for c in sorted(set(np.unique(gt).tolist()) - {0}):
        d = sd.compute_surface_distances(gt == c, pred == c, sp)
        out[f"{case}:{c}"] = {"hd": float(sd.compute_robust_hausdorff(d, 100)),
                              "hd95": float(sd.compute_robust_hausdorff(d, 95)),
                              "masd": float(sum(sd.compute_average_surface_distance(d)) / 2),
                              "nsd": float(sd.compute_surface_dice_at_tolerance(d, 1.0))}
print(json.dumps(out))
'''


def sample_table(peers_python: str) -> None:
    """DeepMind against ``segeval.score(..., surface_weights="area")`` on the bundled sample data."""
    import segeval

    names = sorted(p.name.removesuffix(".nii.gz") for p in (SAMPLE / "gt").glob("*.nii.gz"))
    run = subprocess.run([peers_python, "-c", SAMPLE_WORKER, json.dumps(names), str(SAMPLE)],
                         capture_output=True, text=True, check=False)
    if run.returncode != 0:
        print(f"sample data: DeepMind's side failed:\n{run.stderr[-1000:]}")
        return
    peer = json.loads(run.stdout)
    rows: dict[str, list[tuple[float, float]]] = {m: [] for m in ("hd", "hd95", "masd", "nsd")}
    for name in names:
        report = segeval.score(SAMPLE / "pred" / f"{name}.nii.gz", SAMPLE / "gt" / f"{name}.nii.gz",
                               metrics="hd,hd95,masd,nsd", surface_weights="area")
        for record in report.cases[0].labels:
            theirs = peer.get(f"{name}:{record['label']}")
            for m in rows if theirs is not None else ():
                rows[m].append((float(theirs[m]), float(record[m])))
    print("\nsample data (segeval.score with surface_weights='area' vs DeepMind, per organ):\n")
    print("| metric | agree to 1e-6 | largest difference |")
    print("| --- | --- | --- |")
    for m, pairs in rows.items():
        worst = max((abs(a - b) for a, b in pairs if math.isfinite(a) and math.isfinite(b)), default=0.0)
        print(f"| {m} | {sum(agree(a, b) for a, b in pairs)}/{len(pairs)} | {worst:.2e} |")


def main() -> None:
    """Run both sides on the cases and print the agreement table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--peers-python", default=os.environ.get("SEGEVAL_PEERS_PYTHON", "/work/peers-venv/bin/python"))
    args = parser.parse_args()
    todo = cases(args.cases)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cases.npz"
        arrays: dict[str, Any] = {"n": len(todo)}
        for i, (gt, pred, sp) in enumerate(todo):
            arrays |= {f"gt{i}": gt, f"pred{i}": pred, f"sp{i}": np.asarray(sp)}
        np.savez(path, **arrays)
        run = subprocess.run([args.peers_python, "-c", WORKER, str(path)], capture_output=True, text=True, check=False)
    if run.returncode != 0:
        sys.exit(f"DeepMind's side failed under {args.peers_python}:\n{run.stderr[-2000:]}")
    peer = json.loads(run.stdout)
    t0 = time.perf_counter()
    mine = [ours(gt, pred, sp) for gt, pred, sp in todo]
    ours_s = time.perf_counter() - t0
    print(f"{len(todo)} cases ({sum(g.ndim == 2 for g, _, _ in todo)} 2-D, "
          f"{sum(len(set(sp)) > 1 for _, _, sp in todo)} with unequal spacing)\n")
    print("| quantity | agree to 1e-6 | largest difference |")
    print("| --- | --- | --- |")
    for q in QUANTITIES:
        ok, worst = 0, 0.0
        for a, b in zip(peer["cases"], mine, strict=True):
            pa, mb = float(a[q]), float(b[q])
            ok += agree(pa, mb)
            if math.isfinite(pa) and math.isfinite(mb):
                worst = max(worst, abs(pa - mb))
        print(f"| {q} | {ok}/{len(todo)} | {worst:.2e} |")
    ok_arrays, worst = 0, 0.0
    for a, b in zip(peer["cases"], mine, strict=True):
        same = True
        for direction, areas in (("gt_to_pred", "gt"), ("pred_to_gt", "pred")):
            t_d = np.asarray(a["arrays"][f"distances_{direction}"], dtype=np.float64)
            t_a = np.asarray(a["arrays"][f"surfel_areas_{areas}"], dtype=np.float64)
            m_d, m_a = b["arrays"][f"distances_{direction}"], b["arrays"][f"surfel_areas_{areas}"]
            if t_d.shape != m_d.shape:
                same = False
                continue
            # distances one ulp apart (a k-d tree's nearest corner vs the transform's) may swap
            # surfels of equal distance, so both sides are ordered by (distance to 1e-9, area)
            t_o, m_o = np.lexsort((t_a, t_d.round(9))), np.lexsort((m_a, m_d.round(9)))
            for t, m in ((t_d[t_o], m_d[m_o]), (t_a[t_o], m_a[m_o])):
                if not np.allclose(t, m, rtol=1e-6, atol=1e-6):
                    same = False
                elif t.size and np.isfinite(t).all():
                    worst = max(worst, float(np.max(np.abs(t - m))))
        ok_arrays += same
    print(f"| surfels (distance and area of each, both directions) | {ok_arrays}/{len(todo)} | {worst:.2e} |")
    print(f"\nDeepMind {peer['seconds']:.2f} s, segeval {ours_s:.2f} s for all cases")
    sample_table(args.peers_python)


if __name__ == "__main__":
    main()
