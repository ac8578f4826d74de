"""segeval.check.check_dataset: one problem per thing a batch would trip over, and the digest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from segeval.check import LOWEST_LABEL, MAX_LABEL_VALUES, PROBLEM_KINDS, check_dataset
from segeval.errors import InputError, LabelSpecError
from segeval.io import write_volume

SPACING = (0.8, 0.8, 2.0)
ORIGIN = (-10.0, 20.0, 5.0)


def _gt() -> np.ndarray:
    gt = np.zeros((16, 12, 8), np.uint8)
    gt[2:8, 2:8, 2:6] = 1
    gt[10:13, 6:9, 3:5] = 2
    return gt


def _write(path: Path, arr: np.ndarray, **geometry: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs = {"spacing_mm": SPACING, "origin": ORIGIN, **geometry}
    write_volume(path, arr, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def clean(tmp_path: Path) -> tuple[Path, Path]:
    """Three cases that pair and match, with a dataset.json beside labelsTs/."""
    pred, gt = tmp_path / "pred", tmp_path / "labelsTs"
    for case in ("case_a", "case_b", "case_c"):
        _write(gt / f"{case}.nii.gz", _gt())
        _write(pred / f"{case}.nii.gz", _gt())
    (tmp_path / "dataset.json").write_text('{"labels": {"background": 0, "liver": 1, "spleen": 2}}')
    return pred, gt


def _kinds(result: object) -> list[tuple[str, str]]:
    return [(p.kind, p.case) for p in result.problems]  # type: ignore[attr-defined]


def test_a_clean_dataset_has_no_problem_and_a_digest(clean: tuple[Path, Path]) -> None:
    result = check_dataset(*clean)
    assert result.ok and result.problems == []
    d = result.digest
    assert (d.paired, d.gt_without_pred, d.pred_without_gt) == (3, 0, 0)
    assert d.label_map is not None and d.label_map.endswith("dataset.json") and d.declared == [0, 1, 2]
    for census in (d.gt, d.pred):
        assert census.files == 3
        assert census.shapes == {(16, 12, 8): 3}
        assert census.spacings == {SPACING: 3}
        assert census.orientations == {"RAS": 3}
        assert census.dtypes == {"uint8": 3}
        assert census.labels == {0: 3, 1: 3, 2: 3}
    json.dumps(result.to_dict(), allow_nan=False)


def test_cases_that_do_not_pair(clean: tuple[Path, Path]) -> None:
    pred, gt = clean
    (pred / "case_b.nii.gz").unlink()
    _write(pred / "stray.nii.gz", _gt())
    result = check_dataset(pred, gt)
    assert _kinds(result) == [("no_prediction", "case_b"), ("no_gt", "stray")]
    assert result.problems[0].path == str(gt / "case_b.nii.gz")
    assert result.digest.pred.files == 2 and result.digest.gt.files == 3  # the stray prediction is not read


def test_pairs_as_batch_does_nnunet_channel_tag_and_npz_left_out(clean: tuple[Path, Path]) -> None:
    pred, gt = clean
    (pred / "case_a.nii.gz").rename(pred / "case_a_0000.nii.gz")
    np.savez(pred / "case_a.npz", probabilities=np.zeros((3, 8, 12, 16), np.float32))
    result = check_dataset(pred, gt)
    assert result.ok, result.problems
    assert result.digest.left_out == [str(pred / "case_a.npz")]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"spacing_mm": (1.0, 0.8, 2.0)}, "spacing", id="spacing"),
        pytest.param({"origin": (-9.6, 20.0, 5.0)}, "origin", id="origin-half-voxel"),
        pytest.param({"direction": (0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0)}, "direction", id="rotated"),
    ],
)
def test_geometry_mismatch_names_the_field(clean: tuple[Path, Path], change: dict[str, object], field: str) -> None:
    pred, gt = clean
    _write(pred / "case_b.nii.gz", _gt(), **change)
    result = check_dataset(pred, gt)
    assert _kinds(result) == [("geometry", "case_b")]
    assert f"{field} differs" in result.problems[0].message
    assert str(pred / "case_b.nii.gz") in result.problems[0].message


def test_shape_mismatch(clean: tuple[Path, Path]) -> None:
    pred, gt = clean
    _write(pred / "case_c.nii.gz", _gt()[:, :, :7])
    assert _kinds(check_dataset(pred, gt)) == [("geometry", "case_c")]


def test_an_lps_prediction_of_the_same_grid_is_not_a_problem(clean: tuple[Path, Path]) -> None:
    pred, gt = clean
    (pred / "case_a.nii.gz").unlink()
    lps_origin = (ORIGIN[0] + SPACING[0] * 15, ORIGIN[1] + SPACING[1] * 11, ORIGIN[2])
    _write(pred / "case_a.nrrd", _gt()[::-1, ::-1].copy(), origin=lps_origin,
           direction=(-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0))
    _write(pred / "case_b.nii.gz", _gt().transpose(1, 0, 2).copy(), spacing_mm=SPACING,
           direction=(0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0))
    result = check_dataset(pred, gt)
    assert result.ok, result.problems
    assert result.digest.reoriented == ["case_a", "case_b"]
    assert result.digest.pred.orientations == {"RAS": 1, "LPS": 1, "ARS": 1}
    assert result.digest.pred.shapes == {(16, 12, 8): 2, (12, 16, 8): 1}


@pytest.mark.parametrize(
    ("arr", "why"),
    [
        pytest.param(np.random.default_rng(0).normal(0, 1, (16, 12, 8)).astype(np.float32),
                     "float32 with non-integer values", id="float-image"),
        pytest.param(np.random.default_rng(0).random((16, 12, 8)).astype(np.float32),
                     "float32 with non-integer values", id="probabilities"),
        pytest.param(np.arange(16 * 12 * 8, dtype=np.int16).reshape(16, 12, 8),
                     f"1536 distinct values; a label map has at most {MAX_LABEL_VALUES}", id="many-values"),
        pytest.param(np.full((16, 12, 8), -1024, np.int16), "values down to -1024, like CT intensities", id="ct"),
        pytest.param((np.arange(16 * 12 * 8) % 300 - 1).reshape(16, 12, 8).astype(np.int16),
                     "values down to -1, like CT intensities", id="refused-by-scoring"),
    ],
)
def test_files_that_look_like_images(clean: tuple[Path, Path], arr: np.ndarray, why: str) -> None:
    pred, gt = clean
    _write(pred / "case_a.nii.gz", arr)
    result = check_dataset(pred, gt)
    assert _kinds(result) == [("not_labels", "case_a")]
    assert result.problems[0].message == (f"{pred / 'case_a.nii.gz'}: looks like an image or probabilities, "
                                          f"not a label map ({why})")
    assert result.digest.pred.labels == {0: 2, 1: 2, 2: 2}  # an image's values are not counted as labels


def test_what_is_still_a_label_map(clean: tuple[Path, Path]) -> None:
    """Whole-number floats, an ignore value of -1, and exactly MAX_LABEL_VALUES values are label maps."""
    pred, gt = clean
    _write(pred / "case_a.nii.gz", _gt().astype(np.float32))
    ignore = _gt().astype(np.int16)
    ignore[0, 0, 0] = LOWEST_LABEL
    _write(pred / "case_b.nii.gz", ignore)
    many = (np.arange(16 * 12 * 8) % MAX_LABEL_VALUES).reshape(16, 12, 8).astype(np.int32)
    _write(pred / "case_c.nii.gz", many)
    result = check_dataset(pred, gt, label_names=None)
    assert {p.kind for p in result.problems} == {"outside_label_map"}  # -1 and 3..999 are not declared


def test_values_outside_the_label_map(clean: tuple[Path, Path]) -> None:
    pred, gt = clean
    arr = _gt()
    arr[0, 0, 0] = 5
    arr[0, 0, 1] = 7
    _write(gt / "case_c.nii.gz", arr)
    _write(pred / "case_a.nii.gz", np.where(_gt() == 2, 3, _gt()).astype(np.uint8))
    result = check_dataset(pred, gt)
    assert _kinds(result) == [("outside_label_map", "case_a"), ("outside_label_map", "case_c")]
    assert result.problems[0].message.startswith(f"{pred / 'case_a.nii.gz'}: value 3 not in the label map ")
    assert "values 5, 7 not in the label map" in result.problems[1].message
    assert result.digest.gt.labels == {0: 3, 1: 3, 2: 3, 5: 1, 7: 1}
    assert result.digest.pred.labels == {0: 3, 1: 3, 2: 2, 3: 1}


def test_without_a_label_map_no_value_is_outside(clean: tuple[Path, Path]) -> None:
    pred, gt = clean
    (gt.parent / "dataset.json").unlink()
    _write(pred / "case_a.nii.gz", np.where(_gt() == 2, 3, _gt()).astype(np.uint8))
    result = check_dataset(pred, gt)
    assert result.ok and result.digest.label_map is None and result.digest.declared is None


def test_label_names_replace_the_dataset_json(clean: tuple[Path, Path], tmp_path: Path) -> None:
    pred, gt = clean
    names = tmp_path / "names.json"
    names.write_text('{"1": "liver"}')
    result = check_dataset(pred, gt, label_names=names)
    assert result.digest.declared == [0, 1]
    assert [p.kind for p in result.problems] == ["outside_label_map"] * 6  # label 2, pred and GT of 3 cases


def test_region_members_and_the_ignore_label_are_declared(clean: tuple[Path, Path]) -> None:
    pred, gt = clean
    (gt.parent / "dataset.json").write_text(
        '{"labels": {"background": 0, "whole": [1, 2], "core": [2], "ignore": 4}}')
    arr = _gt()
    arr[0, 0, 0] = 4
    _write(gt / "case_a.nii.gz", arr)
    result = check_dataset(pred, gt)
    assert result.ok and result.digest.declared == [0, 1, 2, 4]


def test_unreadable_files(clean: tuple[Path, Path]) -> None:
    pred, gt = clean
    (pred / "case_a.nii.gz").write_bytes(b"not a volume at all")
    (gt / "case_b.nii.gz").write_bytes(b"")
    result = check_dataset(pred, gt)
    assert _kinds(result) == [("unreadable", "case_a"), ("unreadable", "case_b")]
    assert all(p.message.startswith(p.path or "") for p in result.problems)
    assert result.digest.gt.files == 2 and result.digest.pred.files == 2


def test_problem_kinds_are_the_documented_ones(clean: tuple[Path, Path]) -> None:
    pred, gt = clean
    (pred / "case_a.nii.gz").unlink()
    _write(pred / "x.nii.gz", _gt())
    _write(pred / "case_b.nii.gz", _gt(), spacing_mm=(1.0, 1.0, 1.0))
    assert {p.kind for p in check_dataset(pred, gt).problems} <= set(PROBLEM_KINDS)


def test_bad_input_raises(tmp_path: Path, clean: tuple[Path, Path]) -> None:
    pred, gt = clean
    with pytest.raises(InputError, match="no such folder"):
        check_dataset(tmp_path / "nope", gt)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no volume files"):
        check_dataset(pred, tmp_path / "empty")
    (gt.parent / "dataset.json").write_text("{")
    with pytest.raises(LabelSpecError, match="not valid JSON"):
        check_dataset(pred, gt)


def test_progress_is_called_per_case(clean: tuple[Path, Path]) -> None:
    seen: list[str] = []
    check_dataset(*clean, progress=seen.append)
    assert seen == ["case_a", "case_b", "case_c"]
