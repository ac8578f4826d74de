"""segeval.batch.pairing: which files make a case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from segeval.batch import find_dataset_json, pair_cases, read_pairs_csv
from segeval.errors import InputError
from segeval.io import write_volume
from tests.batch._data import SHAPE, SPACING, case_pair, make_clean


def test_pairing_reports_matched_missing_and_extra(scenario: dict[str, Any]) -> None:
    pairing = pair_cases(scenario["pred"], scenario["gt"])
    assert [t.case for t in pairing.matched] == ["case_00", "case_01", "case_02", "case_03", "case_04", "case_05"]
    assert [t.case for t in pairing.missing_pred] == ["case_06", "case_07"]
    assert all(t.pred is None for t in pairing.missing_pred)
    assert [Path(p).name for p in pairing.extra_pred] == ["case_99.nii.gz"]
    matched = {t.case: t for t in pairing.matched}
    assert matched["case_01"].gt.endswith("case_01.nrrd")  # across formats
    assert matched["case_02"].pred.endswith("case_02_0000.nii.gz")  # nnU-Net channel tag


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        pytest.param("error", 8, id="error"),
        pytest.param("zero", 8, id="zero"),
        pytest.param("skip", 6, id="skip"),
    ],
)
def test_pairing_tasks_by_missing_policy(scenario: dict[str, Any], missing: str, expected: int) -> None:
    tasks = pair_cases(scenario["pred"], scenario["gt"]).tasks(missing)
    assert len(tasks) == expected
    assert [t.case for t in tasks] == sorted(t.case for t in tasks)


def test_pairing_prefers_an_image_over_npz_probabilities(tmp_path: Path) -> None:
    pred_dir, gt_dir = make_clean(tmp_path, 2)
    np.savez(pred_dir / "case_000.npz", probabilities=np.zeros((2, *SHAPE), np.float32))
    pairing = pair_cases(pred_dir, gt_dir)
    assert [t.pred for t in pairing.matched] == [str(pred_dir / "case_000.nii.gz"), str(pred_dir / "case_001.nii.gz")]
    assert [Path(p).name for p in pairing.shadowed] == ["case_000.npz"]


def test_pairing_refuses_two_images_with_one_case_id(tmp_path: Path) -> None:
    pred_dir, gt_dir = make_clean(tmp_path, 1)
    write_volume(pred_dir / "case_000.nrrd", case_pair(0)[0], spacing_mm=SPACING)
    with pytest.raises(InputError, match=r"2 files have case id 'case_000' \(case_000.nii.gz, case_000.nrrd\)"):
        pair_cases(pred_dir, gt_dir)


def test_pairing_pattern_and_hidden_files(tmp_path: Path) -> None:
    pred_dir, gt_dir = make_clean(tmp_path, 3)
    (gt_dir / "._case_000.nii.gz").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (gt_dir / "dataset.json").write_text("{}")
    pairing = pair_cases(pred_dir, gt_dir, pattern="case_00[01].nii.gz")
    assert [t.case for t in pairing.matched] == ["case_000", "case_001"]
    assert not pairing.missing_pred and not pairing.extra_pred


def test_pairing_errors_name_the_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="GT folder .*nope: no such folder"):
        pair_cases(tmp_path, tmp_path / "nope")
    with pytest.raises(InputError, match="GT folder .*empty: no volume files"):
        pair_cases(tmp_path, tmp_path / "empty")


def test_read_pairs_csv(tmp_path: Path) -> None:
    pred_dir, gt_dir = make_clean(tmp_path, 3)
    sheet = tmp_path / "pairs.csv"
    sheet.write_text(
        "case,pred,gt\n"
        "a,pred/case_000.nii.gz,gt/case_000.nii.gz\n"
        ",pred/case_001.nii.gz,gt/case_001.nii.gz\n"
        "c,,gt/case_002.nii.gz\n"
        "d,pred/absent.nii.gz,gt/case_002.nii.gz\n"
    )
    pairing = read_pairs_csv(sheet)
    assert [(t.case, t.pred) for t in pairing.matched] == [
        ("a", str(pred_dir / "case_000.nii.gz")), ("case_001", str(pred_dir / "case_001.nii.gz"))]
    assert [t.case for t in pairing.missing_pred] == ["c", "d"]
    assert pairing.matched[0].gt == str(gt_dir / "case_000.nii.gz")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("name,file\nx,y\n", "needs a header with columns case,pred,gt", id="columns"),
        pytest.param("case,pred,gt\na,p.nii.gz,\n", "line 2: the gt cell is empty", id="empty-gt"),
        pytest.param("case,pred,gt\na,,g.nii.gz\na,,h.nii.gz\n", "line 3: case 'a' is already on line 2", id="twice"),
        pytest.param("case,pred,gt\n", "no cases listed", id="empty"),
    ],
)
def test_read_pairs_csv_errors(tmp_path: Path, text: str, message: str) -> None:
    sheet = tmp_path / "pairs.csv"
    sheet.write_text(text)
    with pytest.raises(InputError, match=message):
        read_pairs_csv(sheet)


def test_find_dataset_json_in_or_beside_the_gt_folder(tmp_path: Path) -> None:
    labels = tmp_path / "Dataset001" / "labelsTs"
    labels.mkdir(parents=True)
    assert find_dataset_json(labels) is None
    (tmp_path / "Dataset001" / "dataset.json").write_text("{}")
    assert find_dataset_json(labels) == tmp_path / "Dataset001" / "dataset.json"
    (labels / "dataset.json").write_text("{}")
    assert find_dataset_json(labels) == labels / "dataset.json"
