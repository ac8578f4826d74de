"""End-to-end ``segeval score`` on a 512x512x256 .nii.gz pair with 118 labels.

Prints one table, measured in the same run (best of ``--repeat``):

* the floor: a fresh Python that reads both files with nibabel and nothing else;
* ``segeval score`` end to end (a fresh process, as a user runs it);
* the same work scripted with MedPy (nibabel load + per-label ``dc``/``jc``),
  timed on a subset of labels and extrapolated to all, when MedPy is installed;
* seg-metrics, when installed;
* ``.nii.gz`` read time with each gzip decoder available;
* start-up: ``segeval --version`` and ``segeval --help`` against ``python -c pass``.

Usage: python benchmarks/bench_score.py [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
DATA = HERE / "_data"
PY = sys.executable
SEGEVAL = str(Path(sys.executable).parent / "segeval")


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def make_pair(quick: bool) -> tuple[Path, Path, int]:
    from _synth import organ_pair

    from segeval.io import write_volume

    shape = (256, 256, 128) if quick else (512, 512, 256)
    tag = "x".join(map(str, shape))
    pred_p = DATA / f"score_pred_{tag}_k118.nii.gz"
    gt_p = DATA / f"score_gt_{tag}_k118.nii.gz"
    if not (pred_p.exists() and gt_p.exists()):
        DATA.mkdir(parents=True, exist_ok=True)
        pred, gt = organ_pair(shape=shape, k=118, seed=0)
        write_volume(pred_p, pred, spacing_mm=(0.8, 0.8, 1.5))
        write_volume(gt_p, gt, spacing_mm=(0.8, 0.8, 1.5))
    labels = int(np.asarray(__import__("nibabel").load(gt_p).dataobj).max())
    return pred_p, gt_p, labels


FLOOR = "import nibabel as nib, numpy as np, sys; [np.asarray(nib.load(p).dataobj) for p in sys.argv[1:]]"

MEDPY = """
import sys, time, nibabel as nib, numpy as np
from medpy.metric.binary import dc, jc
p = np.asarray(nib.load(sys.argv[1]).dataobj); g = np.asarray(nib.load(sys.argv[2]).dataobj)
labels = [int(v) for v in np.union1d(np.unique(p), np.unique(g)) if v > 0]
sub = labels[: int(sys.argv[3])]
t = time.perf_counter()
for l in sub:
    dc(p == l, g == l); jc(p == l, g == l)
per_label = (time.perf_counter() - t) / len(sub)
print(per_label * len(labels))
"""


def decoders(path: Path, repeat: int) -> list[tuple[str, float]]:
    """Decompression of one .nii.gz with every decoder that imports."""
    raw = path.read_bytes()
    out = []
    candidates = [("gzip (stdlib)", "gzip"), ("isal.igzip", "isal.igzip"), ("zlib_ng.gzip_ng", "zlib_ng.gzip_ng")]
    for label, mod in candidates:
        try:
            m = importlib.import_module(mod)
        except ImportError:
            continue
        out.append((label, best(lambda m=m: m.decompress(raw), repeat)))
    if importlib.util.find_spec("indexed_gzip"):
        import indexed_gzip

        def igz() -> None:
            with indexed_gzip.IndexedGzipFile(str(path)) as f:
                f.read()

        out.append(("indexed_gzip", best(igz, repeat)))
    from segeval.io import read_volume

    out.append(("segeval read_volume (chosen decoder + nibabel)", best(lambda: read_volume(path), repeat)))
    import nibabel as nib

    out.append(("nibabel load + dataobj", best(lambda: np.asarray(nib.load(path).dataobj), repeat)))
    try:
        import SimpleITK as sitk

        out.append(("SimpleITK ReadImage", best(lambda: sitk.ReadImage(str(path)), repeat)))
    except ImportError:
        pass
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="256x256x128 instead of 512x512x256")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--medpy-labels", type=int, default=6, help="labels timed for the MedPy extrapolation")
    args = ap.parse_args()
    from _bytecode import keep_bytecode

    keep_bytecode(DATA)  # every timed process runs as installed, bytecode cached
    pred, gt, k = make_pair(args.quick)
    r = args.repeat
    print(f"# bench_score: {pred.name} vs {gt.name} ({k} labels), best of {r}\n")
    run([SEGEVAL, "score", str(pred), str(gt), "--format", "csv"])  # warm numba's and the bytecode cache

    rows: list[tuple[str, float, str]] = []
    floor = best(lambda: run([PY, "-c", FLOOR, str(pred), str(gt)]), r)
    rows.append(("floor: python + nibabel reads both files", floor, ""))
    seg = best(lambda: run([SEGEVAL, "score", str(pred), str(gt), "--format", "csv"]), r)
    rows.append(("segeval score (end to end, new process)", seg, f"{seg / floor:.2f}x floor (target <= 1.5x)"))
    seg_dist = None
    if importlib.util.find_spec("medpy"):
        out = subprocess.run([PY, "-c", MEDPY, str(pred), str(gt), str(args.medpy_labels)],
                             capture_output=True, text=True, check=True)
        medpy = float(out.stdout.strip()) + floor
        rows.append((f"MedPy dc+jc per label (extrapolated from {args.medpy_labels} labels) + read", medpy,
                     f"segeval {medpy / seg:.0f}x faster (target >= 20x)"))
    else:
        rows.append(("MedPy", float("nan"), "not installed"))
    if importlib.util.find_spec("seg_metrics"):
        rows.append(("seg-metrics", float("nan"), "installed but not scripted here"))
    else:
        rows.append(("seg-metrics", float("nan"), "not installed"))
    del seg_dist

    print("| work | seconds | ratio |")
    print("| --- | ---: | --- |")
    for name, sec, note in rows:
        print(f"| {name} | {sec:.3f} | {note} |")

    print("\n## .nii.gz read, one file, by gzip decoder\n")
    print("| decoder | seconds |")
    print("| --- | ---: |")
    for name, sec in decoders(gt, r):
        print(f"| {name} | {sec:.3f} |")

    print("\n## start-up (new process, best of 5)\n")
    print("| command | seconds |")
    print("| --- | ---: |")
    base = best(lambda: run([PY, "-c", "pass"]), 5)
    for name, cmd in (("python -c pass", None), ("segeval --version", [SEGEVAL, "--version"]),
                      ("segeval --help", [SEGEVAL, "--help"])):
        sec = base if cmd is None else best(lambda cmd=cmd: run(cmd), 5)
        print(f"| {name} | {sec:.3f} |")
    code = ("import sys; from segeval.cli import app\ntry:\n app(['--help'])\nexcept SystemExit:\n pass\n"
            "print([m for m in ('pandas','SimpleITK','scipy','numba') if m in sys.modules], file=sys.stderr)")
    heavy = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=False).stderr.strip()
    print(f"\nmodules imported by `segeval --help` among pandas/SimpleITK/scipy/numba: {heavy}")


if __name__ == "__main__":
    main()
