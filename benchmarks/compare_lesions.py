"""Development run: segeval's lesion-wise numbers against the official BraTS code and panoptica.

Scores the cases of ``tests/lesions/cases.py`` (the issue's hand vectors and
seeded metastasis-like cases) with

* rachitsaluja/BraTS-2023-Metrics ``metrics.py`` (challenges GLI, MEN, MET),
* rachitsaluja/BraTS-2024-Metrics ``metrics_GLI.py`` (every region it reports: WT, TC, NETC, SNFH, ET, RC),
* panoptica (MaxBipartiteMatching on DSC at 1e-6, as BraTS 2025 configures it),

prints how many numbers agree with segeval, per peer and region, and with
``--write`` stores the peers' numbers in ``tests/golden/lesions/reference.json``
(what the tests compare segeval with), replacing only the entries of the peers
it ran. The peers are read from checkouts given on the command line (never
installed into segeval's environment)::

    python benchmarks/compare_lesions.py --brats2023 /tmp/brats2023 --brats2024 /tmp/brats2024 --write
    python benchmarks/compare_lesions.py --brats2024 /tmp/brats2024 --no-panoptica --write   # BraTS 2024 only

Run it in an environment with segeval, panoptica, cc3d, nibabel, pandas and medpy
(BraTS 2024's code: its ``requirements.txt``, numpy 1.26 and scipy 1.10, needs no shim).
The cases of ``relabel_vectors`` (labels 1-4) are scored by BraTS 2024's code only.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from segeval.io import write_volume
from segeval.lesions import lesion_metrics
from tests.lesions.cases import (
    BRATS2024_REGIONS,
    BRATS_REGIONS,
    METASTASIS_SEEDS,
    hand_vectors,
    metastasis_case,
    relabel_vectors,
)

GOLDEN = ROOT / "tests" / "golden" / "lesions" / "reference.json"
#: segeval protocol -> BraTS 2023 challenge name.
BRATS2023 = {"brats2023": "BraTS-GLI", "brats2023-men": "BraTS-MEN", "brats2023-met": "BraTS-MET"}
KEYS_BRATS = {"LesionWise_Score_Dice": "lesion_dice", "LesionWise_Score_HD95": "lesion_hd95",
              "Num_TP": "lesion_tp", "Num_FP": "lesion_fp", "Num_FN": "lesion_fn"}
KEYS_PANOPTICA = {"sq_dsc": "lesion_dice", "sq_hd95": "lesion_hd95", "tp": "lesion_tp", "fp": "lesion_fp",
                  "fn": "lesion_fn", "rq": "lesion_f1", "sq": "sq", "pq": "pq", "rec": "lesion_recall",
                  "prec": "lesion_precision"}


def cases() -> dict[str, tuple[np.ndarray, np.ndarray, dict[str, tuple[int, ...]]]]:
    """name -> (pred, gt, classes): hand vectors score label 1 as WT; metastasis cases BraTS's regions
    (BraTS 2024's code is compared on all its regions: :func:`classes_of`)."""
    out = {name: (p, g, {"WT": (1, 2, 3)}) for name, (p, g) in hand_vectors().items()}
    for seed in METASTASIS_SEEDS:
        p, g = metastasis_case(seed)
        out[f"metastasis_{seed}"] = (p, g, dict(BRATS_REGIONS))
    for name, (p, g) in relabel_vectors().items():
        out[name] = (p, g, {})
    return out


def classes_of(proto: str, classes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """The regions a peer is compared on: BraTS 2024's code on every region it reports, the others on ``classes``."""
    return dict(BRATS2024_REGIONS) if proto == "brats2024" else classes


def _pandas_append() -> None:
    """BraTS 2023's code calls ``DataFrame.append``, gone since pandas 2: give it back, for that code only."""
    import pandas as pd

    if not hasattr(pd.DataFrame, "append"):
        pd.DataFrame.append = lambda self, other: pd.concat([self, other])  # type: ignore[attr-defined]
    if getattr(pd.DataFrame.replace, "_numeric_only", False):
        return
    original = pd.DataFrame.replace

    def replace(self: Any, to_replace: Any = None, value: Any = None, **kw: Any) -> Any:
        # pandas 1.x replaced inf in the numeric columns and passed over the column of
        # component-id arrays, which pandas 2 refuses to compare: do what 1.x did.
        if not (isinstance(to_replace, float) and math.isinf(to_replace)):
            return original(self, to_replace, value, **kw)
        out = self if kw.get("inplace") else self.copy()
        for col in out.columns:
            if out[col].dtype.kind == "f":
                out[col] = out[col].replace(to_replace, value)
        return None if kw.get("inplace") else out

    replace._numeric_only = True  # type: ignore[attr-defined]
    pd.DataFrame.replace = replace


def _use(src: Path) -> None:
    """Put a checkout first on the path, with its own bundled ``surface_distance``."""
    if not hasattr(np, "Inf"):
        np.Inf = np.inf  # type: ignore[attr-defined]  # their code predates NumPy 2
    sys.path.insert(0, str(src))
    for mod in [m for m in sys.modules if m == "surface_distance" or m.startswith("surface_distance.")]:
        del sys.modules[mod]


def run_brats2023(src: Path, pred: Path, gt: Path, challenge: str) -> dict[str, dict[str, float]]:
    _use(src)
    _pandas_append()
    import metrics  # type: ignore[import-not-found]

    with contextlib.redirect_stdout(io.StringIO()):
        df = metrics.get_LesionWiseResults(str(pred), str(gt), challenge)
    sys.path.remove(str(src))
    return {row["Labels"]: {v: float(row[k]) for k, v in KEYS_BRATS.items()} for _, row in df.iterrows()}


def run_brats2024(src: Path, pred: Path, gt: Path, work: Path) -> dict[str, dict[str, float]]:
    _use(src)
    import metrics_GLI  # type: ignore[import-not-found]

    old = os.getcwd()
    os.chdir(work)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            df, _ = metrics_GLI.get_LesionWiseResults(str(pred), str(gt), "BraTS-GLI")
    finally:
        os.chdir(old)
        sys.path.remove(str(src))
    return {row["Labels"]: {v: float(row[k]) for k, v in KEYS_BRATS.items()} for _, row in df.iterrows()}


def run_panoptica(pred: np.ndarray, gt: np.ndarray, classes: dict[str, tuple[int, ...]]) -> dict[str, dict[str, float]]:
    from panoptica import (
        ConnectedComponentsInstanceApproximator,
        InputType,
        MaxBipartiteMatching,
        Metric,
        Panoptica_Evaluator,
    )
    from panoptica.utils.edge_case_handling import (
        EdgeCaseHandler,
        EdgeCaseResult,
        MetricZeroTPEdgeCaseHandling,
    )
    from panoptica.utils.label_group import LabelMergeGroup
    from panoptica.utils.segmentation_class import SegmentationClassGroups

    def zero_tp(default: Any) -> Any:
        return MetricZeroTPEdgeCaseHandling(no_instances_result=EdgeCaseResult.NAN, default_result=default)

    # BraTS 2025's zero-TP rules: Dice and IoU 0, HD95 inf; NaN when there is no instance at all.
    edges = EdgeCaseHandler(listmetric_zeroTP_handling={
        Metric.DSC: zero_tp(EdgeCaseResult.ZERO), Metric.IOU: zero_tp(EdgeCaseResult.ZERO),
        Metric.HD95: zero_tp(EdgeCaseResult.INF)})

    ev = Panoptica_Evaluator(
        expected_input=InputType.SEMANTIC, instance_approximator=ConnectedComponentsInstanceApproximator(),
        instance_matcher=MaxBipartiteMatching(matching_metric=Metric.DSC, matching_threshold=1e-6),
        segmentation_class_groups=SegmentationClassGroups(
            {k.lower(): LabelMergeGroup(list(v)) for k, v in classes.items()}),
        instance_metrics=[Metric.DSC, Metric.IOU, Metric.HD95], edge_case_handler=edges,
    )
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        res = ev.evaluate(pred, gt, verbose=False)
    out = {}
    for k in classes:
        d = res[k.lower()].to_dict()
        out[k] = {v: float(d[key]) if d.get(key) is not None else math.nan for key, v in KEYS_PANOPTICA.items()}
    return out


def reference(brats2023: Path | None, brats2024: Path | None, brats2024_cases: str = ".*",
              panoptica: bool = True) -> dict[str, Any]:
    """Every case scored by the peers given (BraTS 2024's code, slow on many lesions, on the cases matching a
    regex); the cases of ``relabel_vectors`` (no classes of their own) by BraTS 2024's code only."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (pred, gt, classes) in cases().items():
            pf, gf = Path(tmp) / f"{name}_pred.nii.gz", Path(tmp) / f"{name}_gt.nii.gz"
            write_volume(pf, pred)
            write_volume(gf, gt)
            entry: dict[str, Any] = {}
            if brats2023 is not None and classes:
                for proto, challenge in BRATS2023.items():
                    entry[proto] = {k: v for k, v in run_brats2023(brats2023, pf, gf, challenge).items()
                                    if k in classes}
            if brats2024 is not None and re.fullmatch(brats2024_cases, name):
                work = Path(tmp) / f"work_{name}"
                work.mkdir()
                wanted = classes_of("brats2024", classes)
                entry["brats2024"] = {k: v for k, v in run_brats2024(brats2024, pf, gf, work).items()
                                      if k in wanted}
            if panoptica and classes:
                entry["panoptica"] = run_panoptica(pred, gt, classes)
            if entry:
                out[name] = entry
                print(f"scored {name}", file=sys.stderr)
    return out


def merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``old`` with the peers' entries of ``new`` put in (the peers not run again keep their numbers)."""
    out = {name: dict(entry) for name, entry in old.items()}
    for name, entry in new.items():
        out.setdefault(name, {}).update(entry)
    return out


def ours(name: str, proto: str) -> dict[str, dict[str, float]]:
    pred, gt, classes = cases()[name]
    return lesion_metrics(pred, gt, protocol=proto, classes=classes_of(proto, classes))


def _same(a: float, b: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def compare(ref: dict[str, Any]) -> tuple[dict[tuple[str, str], list[int]], list[str]]:
    """({(peer, region): [agreeing numbers, numbers]}, disagreements) of segeval against ``ref``."""
    counts: dict[tuple[str, str], list[int]] = {}
    bad = []
    for name, entry in ref.items():
        for proto, by_class in entry.items():
            mine = ours(name, proto)
            for cls, values in by_class.items():
                tally = counts.setdefault((proto, cls), [0, 0])
                for key, want in values.items():
                    got = mine[cls][key]
                    want = math.nan if want is None else want
                    tally[1] += 1
                    if proto == "panoptica" and key == "lesion_hd95" and math.isinf(got) and math.isnan(want):
                        want = got  # panoptica reports no HD95 (None) without a matched pair; segeval inf
                    if _same(got, want):
                        tally[0] += 1
                    else:
                        bad.append(f"{name} {proto} {cls} {key}: segeval {got!r}, reference {want!r}")
    return counts, bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brats2023", type=Path, help="checkout of BraTS-2023-Metrics")
    parser.add_argument("--brats2024", type=Path, help="checkout of BraTS-2024-Metrics")
    parser.add_argument("--brats2024-cases", default=".*", metavar="REGEX",
                        help="cases BraTS 2024's code scores (it takes minutes per metastasis case)")
    parser.add_argument("--no-panoptica", action="store_true", help="leave panoptica out (its entries are kept)")
    parser.add_argument("--write", action="store_true",
                        help=f"store the peers' numbers in {GOLDEN} (the peers not run keep theirs)")
    parser.add_argument("--compare-only", action="store_true", help=f"run no peer: compare segeval with {GOLDEN}")
    args = parser.parse_args()
    if args.compare_only:
        ref = json.loads(GOLDEN.read_text(encoding="utf-8"))
    else:
        ref = reference(args.brats2023, args.brats2024, args.brats2024_cases, panoptica=not args.no_panoptica)
    if args.write and not args.compare_only:  # first: a failure while comparing must not lose a long reference run
        old = json.loads(GOLDEN.read_text(encoding="utf-8")) if GOLDEN.exists() else {}
        GOLDEN.write_text(json.dumps(merged(old, ref), indent=1, sort_keys=True, allow_nan=True) + "\n",
                          encoding="utf-8")
        print(f"wrote {GOLDEN}")
    counts, bad = compare(ref)
    agree, total = sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values())
    print(f"segeval agrees with the reference code on {agree} of {total} numbers (to 1e-9)")
    for (proto, cls), (a, n) in sorted(counts.items()):
        print(f"  {proto:14s} {cls:5s} {a}/{n}")
    for line in bad:
        print("  " + line)


if __name__ == "__main__":
    main()
