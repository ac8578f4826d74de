"""The dataset decides what is scored, and every silent trap of a run is one clear line.

Label maps (nnU-Net's ``dataset.json``) decide the label set, its ignore label
and its regions; every case has a row for every label of the set; values
outside the map are named once and not scored; the folders given in nnU-Net's
order, an image given as a label map, a label asked for that cannot or does
not occur: each is said, and nothing is scored wrongly.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from segeval.batching import ResultStream, pair_cases, run_batch, run_resumable, run_settings
from segeval.cli import app
from segeval.io import write_volume
from segeval.settings import build_settings
from tests.report.nnunet_data import make_label_dataset, make_region_dataset


def run(*args: Any) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args])


def _cases(path: Path) -> dict[str, dict[Any, dict[str, Any]]]:
    data = json.loads(path.read_text())
    return {c["case"]: {r["label"]: r for r in c["labels"]} for c in data["cases"]}


def test_a_label_dataset_scores_its_labels_in_every_case_and_names_what_it_does_not_declare(tmp_path: Path) -> None:
    root = make_label_dataset(tmp_path / "ds")
    out = tmp_path / "out.json"
    r = run("batch", root / "predictions", root / "labelsTs", "-o", out, "-j", "1")
    assert r.exit_code == 0, r.output
    warnings = [line for line in r.stderr.splitlines() if "not scored" in line]
    expected = f"segeval: warning: values outside the label map {root / 'dataset.json'} are not scored: 8 in case_002"
    assert warnings == [expected]
    assert "scoring the 3 labels of" in r.stderr and "ignore label 4" in r.stderr
    cases = _cases(out)
    assert all(sorted(rows) == [1, 2, 3] for rows in cases.values())  # no 4 (ignored), no 8 (undeclared)
    assert all(rows[3]["dice"] is None and rows[3]["tp"] + rows[3]["fn"] + rows[3]["fp"] == 0
               for rows in cases.values())  # pancreas: declared, absent from every volume
    data = json.loads(out.read_text())
    assert data["settings"]["unscored_labels"] == [8] and data["settings"]["ignore_label"] == 4
    pancreas = next(e for e in data["summary"]["per_label"] if e["label"] == 3)
    assert pancreas["dice"]["n_nan"] == 5 and pancreas["dice"]["n"] == 0


def test_empty_one_applies_to_a_label_absent_from_both_volumes(tmp_path: Path) -> None:
    root = make_label_dataset(tmp_path / "ds")
    out = tmp_path / "out.json"
    assert run("batch", root / "predictions", root / "labelsTs", "-o", out, "-q", "-j", "1",
               "--empty", "one").exit_code == 0
    assert all(rows[3]["dice"] == 1.0 for rows in _cases(out).values())


def test_a_region_dataset_scores_only_its_regions(tmp_path: Path) -> None:
    root = make_region_dataset(tmp_path / "ds")
    out = tmp_path / "out.csv"
    assert run("batch", root / "predictions", root / "labelsTs", "-o", out, "-q", "-j", "1").exit_code == 0
    labels = {line.split(",")[1] for line in out.read_text().splitlines()[1:]}
    assert labels == {"whole tumor", "tumor core", "enhancing tumor"}


def _no_map_folders(tmp_path: Path) -> tuple[Path, Path]:
    """Four cases, no label map: label 5 only in case_3's ground truth, label 2 only in case_0's prediction."""
    pred_dir, gt_dir = tmp_path / "p", tmp_path / "g"
    pred_dir.mkdir()
    gt_dir.mkdir()
    for i in range(4):
        gt = np.zeros((10, 10, 6), np.uint8)
        gt[2:6, 2:6, 1:4] = 1
        if i == 3:
            gt[7:9, 7:9, 2:4] = 5
        pred = np.roll(gt, i % 2, axis=0)
        if i == 0:
            pred[0, 0, 0] = 2
        write_volume(pred_dir / f"case_{i}.nii.gz", pred)
        write_volume(gt_dir / f"case_{i}.nii.gz", gt)
    return pred_dir, gt_dir


def test_without_a_map_every_case_has_a_row_for_every_label_found_in_any_case(tmp_path: Path) -> None:
    pred_dir, gt_dir = _no_map_folders(tmp_path)
    out = tmp_path / "out.json"
    assert run("batch", pred_dir, gt_dir, "-o", out, "-q", "-j", "1", "--metrics", "dice,hd95").exit_code == 0
    cases = _cases(out)
    assert all(sorted(rows) == [1, 2, 5] for rows in cases.values())
    absent = cases["case_1"][5]
    assert absent["dice"] is None and absent["hd95"] is None and absent["tn"] == 600
    assert cases["case_0"][2]["dice"] == 0.0  # a false-positive class is 0, never NaN


def test_the_label_set_is_the_same_for_jobs_1_jobs_2_and_after_resume(tmp_path: Path) -> None:
    pred_dir, gt_dir = _no_map_folders(tmp_path)
    outs = {}
    for jobs in (1, 2):
        outs[jobs] = tmp_path / f"out{jobs}.json"
        assert run("batch", pred_dir, gt_dir, "-o", outs[jobs], "-q", "-j", jobs).exit_code == 0
    assert outs[1].read_text() == outs[2].read_text()
    # An interrupted run kept case_0 and case_1 only (which hold neither label 5 nor all of the set).
    settings = build_settings()
    tasks = pair_cases(pred_dir, gt_dir).tasks()
    resumed = tmp_path / "resumed.json"
    stream = ResultStream(resumed, "json", run_settings(settings))
    for result in run_batch(tasks[:2], settings, jobs=1):
        stream.add(result)
    stream.close()
    run_resumable(tasks, settings, output=resumed, fmt="json", resume=True, jobs=1)
    assert resumed.read_text() == outs[1].read_text()


def test_folders_in_nnunets_order_are_said(tmp_path: Path) -> None:
    root = make_label_dataset(tmp_path / "ds")
    (root / "predictions" / "plans.json").write_text("{}")
    labels = root / "labelsTs"
    r = run("batch", labels, root / "predictions", "-j", "1", "-f", "csv")
    assert r.exit_code == 0
    lines = [line for line in r.stderr.splitlines() if "swapped" in line]
    assert len(lines) == 2 and "holds nnU-Net's prediction files (plans.json)" in lines[0]
    assert "is named like ground truth (labelsTs)" in lines[1]


def test_an_image_given_as_labels_is_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ct = rng.integers(-1000, 1500, size=(16, 16, 8)).astype(np.int16)
    labels = np.zeros((16, 16, 8), np.uint8)
    write_volume(tmp_path / "ct_0000.nii.gz", ct)
    write_volume(tmp_path / "gt.nii.gz", labels)
    r = run("score", tmp_path / "ct_0000.nii.gz", tmp_path / "gt.nii.gz")
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1, r.output
    assert "ct_0000.nii.gz" in r.stderr and "looks like an image (intensities), not a label map" in r.stderr


def test_labels_asked_for_that_do_not_or_cannot_occur_are_said(tmp_path: Path) -> None:
    pred_dir, gt_dir = _no_map_folders(tmp_path)
    r = run("batch", pred_dir, gt_dir, "--labels", "1,7,-1", "-j", "1", "-f", "csv")
    assert r.exit_code == 0, r.output
    assert "segeval: warning: --labels 7, -1: in no volume of the 4 cases" in r.stderr
    assert "--labels -1: cannot occur in the prediction, a uint8 volume (values 0..255)" in r.stderr


def test_score_finds_the_dataset_json_above_the_gt_file(tmp_path: Path) -> None:
    root = make_label_dataset(tmp_path / "ds")
    r = run("score", root / "predictions" / "case_002.nii.gz", root / "labelsTs" / "case_002.nii.gz", "-f", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [row["label"] for row in data["cases"][0]["labels"]] == [1, 2, 3]
    assert data["settings"]["ignore_label"] == 4 and data["settings"]["unscored_labels"] == [8]
    assert "values outside the label map" in r.stderr


def test_info_names_labels_from_the_dataset_json(tmp_path: Path) -> None:
    root = make_label_dataset(tmp_path / "ds")
    r = run("info", root / "predictions" / "case_002.nii.gz", "-f", "json")
    census = {row["label"]: row for row in json.loads(r.stdout)[0]["census"]}
    assert census[1]["name"] == "liver" and census[8]["declared"] is False and census[0]["declared"]


def test_specificity_is_nan_without_negatives() -> None:
    import segeval

    full = np.ones((4, 4), np.uint8)
    rec = segeval.score(full, full, metrics="specificity,dice").cases[0].labels[0]
    assert math.isnan(rec["specificity"]) and rec["dice"] == 1.0


@pytest.mark.parametrize("flag", ["--pairs"])
def test_pairs_finds_the_dataset_json_beside_the_csv(tmp_path: Path, flag: str) -> None:
    root = make_region_dataset(tmp_path / "ds")
    csv = root / "pairs.csv"
    csv.write_text("case,pred,gt\n" + "".join(
        f"{p.name[:-7]},predictions/{p.name},labelsTs/{p.name}\n" for p in sorted((root / "labelsTs").iterdir())))
    out = tmp_path / "out.csv"
    assert run("batch", flag, csv, "-o", out, "-q", "-j", "1").exit_code == 0
    assert {line.split(",")[1] for line in out.read_text().splitlines()[1:]} == {
        "whole tumor", "tumor core", "enhancing tumor"}
