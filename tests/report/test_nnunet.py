"""segeval.report.nnunet: nnU-Net's summary.json, layout and numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from segeval.batching import CaseTask, run_batch
from segeval.cli import app
from segeval.io import write_volume
from segeval.records import CaseResult
from segeval.report.nnunet import nnunet_summary, to_nnunet_json
from segeval.settings import ScoreSettings
from tests.batching._data import SPACING, case_pair
from tests.cli.conftest import GOLDEN
from tests.report.nnunet_data import DATASETS, compare


def _nnunet_oracle(pairs: list[tuple[np.ndarray, np.ndarray, str, str]], keys: list[Any]) -> dict[str, Any]:
    """What nnU-Net v2's compute_metrics_on_folder computes, by its definitions, on arrays."""
    per_case = []
    for pred, ref, pred_file, ref_file in pairs:
        metrics = {}
        for k in keys:
            members = k if isinstance(k, tuple) else (k,)
            mr, mp = np.isin(ref, members), np.isin(pred, members)
            tp, fp = int(np.sum(mr & mp)), int(np.sum(~mr & mp))
            fn, tn = int(np.sum(mr & ~mp)), int(np.sum(~mr & ~mp))
            nan = tp + fp + fn == 0
            metrics[str(k)] = {
                "Dice": float("nan") if nan else 2 * tp / (2 * tp + fp + fn),
                "IoU": float("nan") if nan else tp / (tp + fp + fn),
                "FP": fp, "TP": tp, "FN": fn, "TN": tn, "n_pred": fp + tp, "n_ref": fn + tp,
            }
        per_case.append({"metrics": metrics, "prediction_file": pred_file, "reference_file": ref_file})
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = {str(k): {m: float(np.nanmean([c["metrics"][str(k)][m] for c in per_case]))
                             for m in per_case[0]["metrics"][str(keys[0])]} for k in keys}
    return {"metric_per_case": per_case, "mean": mean}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return bool(a == b) and type(a) is type(b)


def test_nnunet_summary_matches_nnunets_layout_and_numbers(tmp_path: Path) -> None:
    root = tmp_path
    arrays = []
    for i in range(3):
        pred, gt = case_pair(i)
        write_volume(root / f"p{i}.nii.gz", pred, spacing_mm=SPACING)
        write_volume(root / f"g{i}.nii.gz", gt, spacing_mm=SPACING)
        arrays.append((pred, gt, str(root / f"p{i}.nii.gz"), str(root / f"g{i}.nii.gz")))
    from segeval.labels import LabelSpec

    settings = ScoreSettings(spec=LabelSpec(regions=(("WT", (1, 2)),)))
    tasks = [CaseTask(f"c{i}", a[2], a[3]) for i, a in enumerate(arrays)]
    cases = sorted(run_batch(tasks, settings, jobs=1), key=lambda c: c.case)
    # label 5: in dataset.json but in no case; label 3: absent from case 0 and 2
    got = json.loads(to_nnunet_json(nnunet_summary(cases, extra_labels=[5])))
    expected = _nnunet_oracle(arrays, [1, 2, 3, 5, (1, 2)])
    assert set(got) == {"metric_per_case", "mean", "foreground_mean"}
    assert _same(got["metric_per_case"], expected["metric_per_case"])
    assert _same(got["mean"], expected["mean"])
    assert list(got["metric_per_case"][0]["metrics"]) == sorted(["1", "2", "3", "5", "(1, 2)"])
    assert math.isnan(got["mean"]["5"]["Dice"])
    # nnU-Net's np.mean would make this NaN because class 5 is NaN in every case
    fg = [got["mean"][k]["Dice"] for k in ("1", "2", "3", "(1, 2)")]
    assert got["foreground_mean"]["Dice"] == pytest.approx(sum(fg) / 4)
    assert got["foreground_mean"]["TP"] == pytest.approx(
        np.mean([got["mean"][k]["TP"] for k in ("1", "2", "3", "5", "(1, 2)")]))


def test_nnunet_json_text_is_what_nnunet_writes() -> None:
    case = CaseResult(case="a", pred="p.nii.gz", gt="g.nii.gz", shape=[2, 2, 1],
                      labels=[{"label": 1, "tp": 1, "fp": 0, "fn": 1, "tn": 2}])
    text = to_nnunet_json(nnunet_summary([case], extra_labels=[2]))
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, indent=4)  # nnU-Net's save_json
    assert text.startswith('{\n    "foreground_mean": {\n        "Dice": 0.6666666666666666,')
    assert '"Dice": NaN' in text  # as Python's json writes nnU-Net's NaN
    # keys parse back as nnU-Net's key_to_label_or_region does
    assert [int(k) for k in data["mean"]] == [1, 2]
    assert data["metric_per_case"][0]["metrics"]["2"]["TN"] == 4


def test_nnunet_summary_leaves_failed_cases_out() -> None:
    ok = CaseResult(case="a", pred="p", gt="g", labels=[{"label": 1, "tp": 1, "fp": 0, "fn": 0, "tn": 3}])
    bad = CaseResult(case="b", pred="q", gt="h", error="ReadError: corrupt")
    data = nnunet_summary([ok, bad])
    assert [c["reference_file"] for c in data["metric_per_case"]] == ["g"]


# --------------------------------------------------------------------------- against nnU-Net itself

@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_nnunet_summary_equals_nnunet_evaluation(tmp_path: Path, dataset: str) -> None:
    """``batch PRED GT --nnunet-summary`` with no other flag gives nnU-Net's own summary.json.

    The expected files are what nnU-Net v2's ``nnUNetv2_evaluate_folder`` wrote
    for these datasets (``python benchmarks/compare_nnunet.py --update``). The one
    documented difference: nnU-Net's foreground mean is NaN when a class is NaN
    in every case (pancreas, declared and absent everywhere); segeval leaves it out.
    """
    root = DATASETS[dataset](tmp_path / dataset)
    out = tmp_path / "summary.json"
    result = CliRunner().invoke(app, ["batch", str(root / "predictions"), str(root / "labelsTs"),
                                      "--nnunet-summary", str(out), "-q", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    theirs = json.loads((GOLDEN / "nnunet" / f"{dataset}.json").read_text())
    n, diffs, documented = compare(json.loads(out.read_text()), theirs)
    assert n == {"labels": 152, "regions": 128}[dataset]
    assert diffs == []
    expected = ["foreground_mean Dice", "foreground_mean IoU"] if dataset == "labels" else []
    assert [d.split(":")[0] for d in documented] == expected
