"""segeval's ``--nnunet-summary`` against nnU-Net v2's own evaluation, number for number.

Builds the two datasets of ``tests/report/nnunet_data.py`` (a label dataset
with an ignore label, a stray label and a declared-but-absent label; a
BraTS-style region dataset), evaluates each with nnU-Net (in a separate
virtual environment that has ``nnunetv2``: ``--peers-python``, default
``/work/peers-venv/bin/python`` or ``$SEGEVAL_PEERS_PYTHON``) with its own
command, ``nnUNetv2_evaluate_folder``, runs ``segeval batch PRED GT
--nnunet-summary`` with no other flag, and compares every number of the two
``summary.json`` files.

Usage::

    python benchmarks/compare_nnunet.py            # print the comparison
    python benchmarks/compare_nnunet.py --update   # also write tests/golden/nnunet/<dataset>.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.report.nnunet_data import DATASETS, compare

GOLDEN = ROOT / "tests" / "golden" / "nnunet"

def _peers_python(given: str | None) -> str:
    return given or os.environ.get("SEGEVAL_PEERS_PYTHON", "/work/peers-venv/bin/python")


def run_nnunet(root: Path, out: Path, python: str) -> None:
    """``nnUNetv2_evaluate_folder GT PRED -djfile dataset.json -pfile plans.json`` (nnU-Net's own command).

    The plans only choose the label manager class; an empty plans file gives
    nnU-Net's default ``LabelManager``, as a dataset trained with default plans has.
    """
    plans = root.parent / f"{root.name}_plans.json"
    plans.write_text("{}")
    command = Path(python).parent / "nnUNetv2_evaluate_folder"
    subprocess.run([str(command), str(root / "labelsTs"), str(root / "predictions"), "-djfile",
                    str(root / "dataset.json"), "-pfile", str(plans), "-o", str(out), "-np", "1"],
                   check=True, capture_output=True, text=True)


def run_segeval(root: Path, out: Path) -> None:
    subprocess.run([sys.executable, "-c", "from segeval.cli import app; app()", "batch",
                    str(root / "predictions"), str(root / "labelsTs"), "--nnunet-summary", str(out),
                    "-q", "--jobs", "1"], check=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peers-python", help="a Python with nnunetv2 installed")
    ap.add_argument("--update", action="store_true", help="write nnU-Net's summaries to tests/golden/nnunet/")
    args = ap.parse_args()
    python = _peers_python(args.peers_python)
    print("| dataset | numbers compared | differ | documented differences |")
    print("| --- | ---: | ---: | --- |")
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in DATASETS.items():
            root = make(Path(tmp) / name)
            theirs_path, ours_path = root / "nnunet_summary.json", root / "segeval_summary.json"
            run_nnunet(root, theirs_path, python)
            run_segeval(root, ours_path)
            theirs = json.loads(theirs_path.read_text())
            ours = json.loads(ours_path.read_text())
            n, diffs, documented = compare(ours, theirs)
            failed |= bool(diffs)
            print(f"| {name} | {n} | {len(diffs)} | {'; '.join(documented) or 'none'} |")
            for d in diffs[:20]:
                print(f"    {d}")
            if args.update:
                GOLDEN.mkdir(parents=True, exist_ok=True)
                for c in theirs["metric_per_case"]:  # paths of this run's temporary folder
                    c["reference_file"] = Path(c["reference_file"]).name
                    c["prediction_file"] = Path(c["prediction_file"]).name
                (GOLDEN / f"{name}.json").write_text(json.dumps(theirs, sort_keys=True, indent=4) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
