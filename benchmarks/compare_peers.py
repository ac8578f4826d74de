"""How far each peer tool's numbers are from segeval's, measured on the same volumes.

The README's "Matching another tool" quotes this script's table; run it again
before changing a claim there. Every peer runs as its users run it, with its
defaults, on the same files: the bundled sample data (three cases, four organs
each) and one edge case (a class the prediction misses, one it invents). Peers
run in a separate virtual environment (``--peers-python``, default
``/work/peers-venv/bin/python`` or ``$SEGEVAL_PEERS_PYTHON``) with
``medpy``, ``surface-distance`` (DeepMind), ``monai`` and ``seg-metrics``
installed; a peer that does not import there is left out.

For each (peer, its metric, the segeval metric that reproduces it) the table
gives the classes compared, how many agree (to 1e-6, or both infinite, or
both NaN), the largest difference, and how the peer treats one empty mask.

Usage::

    python benchmarks/compare_peers.py
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
TOLERANCE_MM = 1.0

# (peer, peer's metric, segeval's metric that reproduces it by its definition)
PAIRS = [
    ("medpy", "dc", "dice"), ("medpy", "jc", "iou"), ("medpy", "hd", "hd"), ("medpy", "hd95", "hd95_pooled"),
    ("medpy", "assd", "assd"),
    ("deepmind", "dice", "dice"), ("deepmind", "hd", "hd"), ("deepmind", "hd95", "hd95"),
    ("deepmind", "masd", "masd"), ("deepmind", "nsd", "nsd"),
    ("monai", "dice", "dice"), ("monai", "hd", "hd"), ("monai", "hd95", "hd95"), ("monai", "assd", "assd"),
    ("monai", "nsd", "nsd"),
    ("seg-metrics", "dice", "dice"), ("seg-metrics", "jaccard", "iou"), ("seg-metrics", "hd", "hd"),
    ("seg-metrics", "hd95", "hd95_pooled"), ("seg-metrics", "msd", "assd"),
]

WORKER = r'''
import json, math, sys, warnings
import numpy as np, nibabel as nib
warnings.filterwarnings("ignore")
peer, pred_path, gt_path, labels = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
tol = float(sys.argv[5])
img = nib.load(gt_path)
gt = np.asarray(img.dataobj); pred = np.asarray(nib.load(pred_path).dataobj)
sp = tuple(float(z) for z in img.header.get_zooms()[:3])
out = {}
def safe(fn):
    try:
        v = float(fn())
    except Exception as exc:
        return "error: " + type(exc).__name__
    return "nan" if math.isnan(v) else ("inf" if math.isinf(v) else v)
if peer == "medpy":
    from medpy.metric import binary as mb
    for c in labels:
        p, g = pred == c, gt == c
        out[c] = {"dc": safe(lambda: mb.dc(p, g)), "jc": safe(lambda: mb.jc(p, g)),
                  "hd": safe(lambda: mb.hd(p, g, voxelspacing=sp)), "hd95": safe(lambda: mb.hd95(p, g, voxelspacing=sp)),
                  "assd": safe(lambda: mb.assd(p, g, voxelspacing=sp))}
elif peer == "deepmind":
    import surface_distance as sd
    for c in labels:
        p, g = pred == c, gt == c
        try:
            d = sd.compute_surface_distances(g, p, sp)  # GT first, as DeepMind's API takes them
        except Exception as exc:  # surface-distance 0.1 uses np.Inf (gone in NumPy 2) for an empty mask
            out[c] = {m: "error: " + type(exc).__name__ for m in ("dice", "hd", "hd95", "masd", "nsd")}
            continue
        out[c] = {"dice": safe(lambda: sd.compute_dice_coefficient(g, p)),
                  "hd": safe(lambda: sd.compute_robust_hausdorff(d, 100)),
                  "hd95": safe(lambda: sd.compute_robust_hausdorff(d, 95)),
                  "masd": safe(lambda: sum(sd.compute_average_surface_distance(d)) / 2),
                  "nsd": safe(lambda: sd.compute_surface_dice_at_tolerance(d, tol))}
elif peer == "monai":
    import torch
    from monai.metrics import (compute_average_surface_distance, compute_dice, compute_hausdorff_distance,
                               compute_surface_dice)
    for c in labels:
        p = torch.from_numpy(pred == c)[None, None].float(); g = torch.from_numpy(gt == c)[None, None].float()
        kw = {"include_background": True, "spacing": list(sp)}
        out[c] = {"dice": safe(lambda: compute_dice(p, g, include_background=True)[0, 0]),
                  "hd": safe(lambda: compute_hausdorff_distance(p, g, **kw)[0, 0]),
                  "hd95": safe(lambda: compute_hausdorff_distance(p, g, percentile=95, **kw)[0, 0]),
                  "assd": safe(lambda: compute_average_surface_distance(p, g, symmetric=True, **kw)[0, 0]),
                  "nsd": safe(lambda: compute_surface_dice(p, g, [tol], **kw)[0, 0])}
elif peer == "seg-metrics":
    import seg_metrics.seg_metrics as sg
    rows = sg.write_metrics(labels=list(labels), gdth_path=gt_path, pred_path=pred_path,
                            metrics=["dice", "jaccard", "hd", "hd95", "msd"], verbose=False)
    row = rows[0] if isinstance(rows, list) else rows
    for i, c in enumerate(labels):
        out[c] = {m: safe(lambda m=m: row[m][i]) for m in ("dice", "jaccard", "hd", "hd95", "msd")}
print(json.dumps(out))
'''


def _cases(tmp: Path) -> list[tuple[str, Path, Path]]:
    from segeval.io import write_volume

    cases = [(p.name[:-7], p, SAMPLE / "gt" / p.name) for p in sorted((SAMPLE / "pred").glob("*.nii.gz"))]
    gt = np.zeros((40, 36, 20), np.uint8)
    gt[5:20, 6:22, 4:12] = 1
    gt[25:33, 10:18, 8:14] = 2  # missed by the prediction
    pred = np.roll(gt, 1, axis=1)
    pred[pred == 2] = 0
    pred[30:36, 26:32, 2:6] = 3  # invented by the prediction
    edge = tmp / "edge"
    edge.mkdir()
    cases.append(("edge", write_volume(edge / "pred.nii.gz", pred, spacing_mm=(0.9, 0.9, 2.0)),
                  write_volume(edge / "gt.nii.gz", gt, spacing_mm=(0.9, 0.9, 2.0))))
    return cases


def _segeval(pred: Path, gt: Path) -> dict[int, dict[str, float]]:
    import segeval

    report = segeval.score(pred, gt, metrics="dice,iou,hd,hd95,hd95_pooled,assd,masd,nsd",
                           tolerance_mm=TOLERANCE_MM)
    return {int(r["label"]): r for r in report.cases[0].labels}


def _value(v: Any) -> float | str:
    if isinstance(v, str) and v in ("nan", "inf"):
        return float(v)
    return v  # type: ignore[no-any-return]


def _agree(a: float, b: float | str) -> bool:
    if isinstance(b, str):
        return False
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peers-python", default=os.environ.get("SEGEVAL_PEERS_PYTHON", "/work/peers-venv/bin/python"))
    ap.add_argument("--peers", nargs="*", default=sorted({p for p, _, _ in PAIRS}), help="peers to run")
    args = ap.parse_args()
    code = ("import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in "
            "('medpy', 'surface-distance', 'monai', 'seg-metrics')}))")
    versions = subprocess.run([args.peers_python, "-c", code], capture_output=True, text=True, check=False)
    version = json.loads(versions.stdout) if versions.returncode == 0 else {}
    rows: dict[tuple[str, str, str], list[tuple[str, int, float, Any]]] = {p: [] for p in PAIRS}
    with tempfile.TemporaryDirectory() as tmp:
        for case, pred, gt in _cases(Path(tmp)):
            ours = _segeval(pred, gt)
            labels = sorted(ours)
            for peer in args.peers:
                done = subprocess.run([args.peers_python, "-c", WORKER, peer, str(pred), str(gt), json.dumps(labels),
                                       str(TOLERANCE_MM)], capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    print(f"# {peer}: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'failed'}")
                    continue
                theirs = {int(k): v for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}
                for key, vals in rows.items():
                    if key[0] != peer:
                        continue
                    for c in labels:
                        vals.append((case, c, float(ours[c][key[2]]), _value(theirs[c][key[1]])))
    print(f"# peers: {', '.join(f'{k} {v}' for k, v in version.items())}; tolerance {TOLERANCE_MM} mm; "
          "sample_data cases 001-003 and an edge case (a missed class, an invented one)\n")
    print("| peer | its metric | segeval | classes | both finite | of those, equal | largest difference | "
          "where one is not finite: peer / segeval |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | --- |")
    for (peer, theirs_name, ours_name), vals in rows.items():
        if not vals:
            continue
        finite = [(a, b) for _, _, a, b in vals if not isinstance(b, str) and math.isfinite(a) and math.isfinite(b)]
        agree = sum(_agree(a, b) for a, b in finite)
        largest = max((abs(a - b) for a, b in finite), default=0.0)
        other = sorted({f"{b} / {a:g}" for _, _, a, b in vals
                        if isinstance(b, str) or not (math.isfinite(a) and math.isfinite(b))})
        unit = "" if ours_name in ("dice", "iou", "nsd") else " mm"
        print(f"| {peer} | {theirs_name} | {ours_name} | {len(vals)} | {len(finite)} | {agree} | "
              f"{largest:.2g}{unit} | {'; '.join(other) or '-'} |")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
