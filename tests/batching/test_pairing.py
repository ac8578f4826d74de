"""segeval.batching.pairing: which files make a case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from segeval.batching import PRED_SUFFIXES, find_dataset_json, pair_cases, read_pairs_csv
from segeval.errors import InputError, OptionError
from segeval.io import write_volume
from tests.batching._data import SHAPE, SPACING, case_pair, make_clean


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


# --- pairing beyond nnU-Net names: --pred-suffix, --recursive, --case-regex, auto-detection ---------------------


def _put(root: Path, *names: str) -> None:
    """A tiny volume at each ``root/name`` (sub-folders made as needed)."""
    for i, name in enumerate(names):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_volume(path, case_pair(i)[1], spacing_mm=SPACING)


def _folders(tmp_path: Path, preds: tuple[str, ...], gts: tuple[str, ...] = ("case_000.nii.gz", "case_001.nii.gz"),
             ) -> tuple[Path, Path]:
    _put(tmp_path / "pred", *preds)
    _put(tmp_path / "gt", *gts)
    return tmp_path / "pred", tmp_path / "gt"


def _pairs_of(pairing: Any, root: Path) -> list[tuple[str, str]]:
    return [(t.case, Path(t.pred).relative_to(root).as_posix()) for t in pairing.matched]


def test_plain_rule_has_no_rule_text(tmp_path: Path) -> None:
    pred_dir, gt_dir = make_clean(tmp_path, 2)
    assert pair_cases(pred_dir, gt_dir).rule == ""


@pytest.mark.parametrize(
    ("given", "name"),
    [
        pytest.param("_seg", "case_000_seg.nii.gz", id="seg"),
        pytest.param("_seg.nii.gz", "case_000_seg.nii.gz", id="volume-suffix-typed"),
        pytest.param("_seg", "case_000_0000_seg.nrrd", id="channel-tag-before-suffix"),
        pytest.param("-label", "case_000-label.nii.gz", id="any-suffix"),
    ],
)
def test_pred_suffix_is_removed_from_prediction_ids(tmp_path: Path, given: str, name: str) -> None:
    pred_dir, gt_dir = _folders(tmp_path, (name,))
    pairing = pair_cases(pred_dir, gt_dir, pred_suffix=given)
    assert _pairs_of(pairing, pred_dir) == [("case_000", name)]
    assert [t.case for t in pairing.missing_pred] == ["case_001"]
    assert pairing.rule.startswith("--pred-suffix ")


def test_pred_suffix_two_files_one_id_names_both(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path, ("case_000.nii.gz", "case_000_seg.nii.gz"))
    with pytest.raises(InputError, match=r"2 files have case id 'case_000' \(case_000.nii.gz, case_000_seg.nii.gz\)"):
        pair_cases(pred_dir, gt_dir, pred_suffix="_seg")


@pytest.mark.parametrize(
    ("suffix", "message"),
    [
        pytest.param("", "--pred-suffix '': give the end of the prediction's name", id="empty"),
        pytest.param(".nii.gz", "--pred-suffix '.nii.gz': give the end", id="only-volume-suffix"),
        pytest.param("_mask", "--pred-suffix '_mask': no prediction file name in .* ends with it", id="ends-none"),
    ],
)
def test_pred_suffix_errors(tmp_path: Path, suffix: str, message: str) -> None:
    pred_dir, gt_dir = _folders(tmp_path, ("case_000_seg.nii.gz",))
    with pytest.raises(OptionError, match=message):
        pair_cases(pred_dir, gt_dir, pred_suffix=suffix)


@pytest.mark.parametrize("suffix", [pytest.param(s, id=s) for s in PRED_SUFFIXES])
def test_auto_detects_a_known_prediction_suffix(tmp_path: Path, suffix: str) -> None:
    pred_dir, gt_dir = _folders(tmp_path, (f"case_000{suffix}.nii.gz", f"case_001{suffix}.nrrd"))
    pairing = pair_cases(pred_dir, gt_dir)
    assert _pairs_of(pairing, pred_dir) == [("case_000", f"case_000{suffix}.nii.gz"),
                                             ("case_001", f"case_001{suffix}.nrrd")]
    assert pairing.rule == f"predictions' suffix {suffix} removed"


def test_auto_detection_never_changes_a_plain_pairing(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path, ("case_000.nii.gz", "case_001_seg.nii.gz"))
    pairing = pair_cases(pred_dir, gt_dir)
    assert _pairs_of(pairing, pred_dir) == [("case_000", "case_000.nii.gz")]
    assert [t.case for t in pairing.missing_pred] == ["case_001"]
    assert [Path(p).name for p in pairing.extra_pred] == ["case_001_seg.nii.gz"]
    assert pairing.rule == ""


def test_auto_detection_picks_the_suffix_that_pairs_most(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path, ("case_000_seg_pred.nii.gz", "case_001_pred.nii.gz"))
    pairing = pair_cases(pred_dir, gt_dir)
    assert pairing.rule == "predictions' suffix _pred removed"
    assert [t.case for t in pairing.matched] == ["case_001"]


def test_auto_detection_skips_a_suffix_that_gives_two_files_one_id(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path, ("case_001_seg.nii.gz", "other.nii.gz", "other_seg.nii.gz"),
                                gts=("case_001.nii.gz",))
    pairing = pair_cases(pred_dir, gt_dir)
    assert not pairing.matched and pairing.rule == ""


@pytest.mark.parametrize(
    ("preds", "expected"),
    [
        pytest.param(("case_000/case_000_trans.nii.gz", "case_001/case_001_trans.nii.gz"),
                     [("case_000", "case_000/case_000_trans.nii.gz"), ("case_001", "case_001/case_001_trans.nii.gz")],
                     id="trans"),
        pytest.param(("case_000/case_000_seg.nii.gz", "case_001/case_001.nrrd"),
                     [("case_000", "case_000/case_000_seg.nii.gz"), ("case_001", "case_001/case_001.nrrd")],
                     id="seg-and-no-postfix"),
        pytest.param(("case_000_0000/case_000_0000_mask.nii.gz", "notes/other.nii.gz"),
                     [("case_000", "case_000_0000/case_000_0000_mask.nii.gz")], id="channel-tag-any-postfix"),
    ],
)
def test_auto_detects_monai_one_folder_per_case(tmp_path: Path, preds: tuple[str, ...],
                                                expected: list[tuple[str, str]]) -> None:
    pred_dir, gt_dir = _folders(tmp_path, preds)
    pairing = pair_cases(pred_dir, gt_dir)
    assert _pairs_of(pairing, pred_dir) == expected
    assert pairing.rule == "MONAI layout: one folder per case"
    assert not pairing.extra_pred  # notes/other.nii.gz is not laid out as MONAI writes


def test_monai_layout_keeps_top_level_predictions_in_the_report(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path, ("case_000/case_000_trans.nii.gz", "stray.nii.gz"))
    pairing = pair_cases(pred_dir, gt_dir)
    assert pairing.rule == "MONAI layout: one folder per case"
    assert [Path(p).name for p in pairing.extra_pred] == ["stray.nii.gz"]


def test_recursive_takes_sub_folders_and_skips_dot_folders(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path, ("fold0/case_000.nii.gz", "fold1/deep/case_001.nii.gz",
                                           ".ipynb_checkpoints/case_001.nii.gz"),
                                gts=("a/case_000.nii.gz", "case_001.nii.gz"))
    assert not pair_cases(pred_dir, gt_dir).matched  # sub-folders only with recursive (and not MONAI-named)
    pairing = pair_cases(pred_dir, gt_dir, recursive=True)
    assert _pairs_of(pairing, pred_dir) == [("case_000", "fold0/case_000.nii.gz"),
                                             ("case_001", "fold1/deep/case_001.nii.gz")]
    assert pairing.matched[0].gt == str(gt_dir / "a" / "case_000.nii.gz")
    assert pairing.rule == "sub-folders included"


def test_recursive_with_a_suffix_auto_detected(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path, ("case_000/case_000_seg.nii.gz", "case_001/case_001_seg.nii.gz"))
    pairing = pair_cases(pred_dir, gt_dir, recursive=True)
    assert [t.case for t in pairing.matched] == ["case_000", "case_001"]
    assert pairing.rule == "sub-folders included; predictions' suffix _seg removed"


def test_recursive_two_files_one_id_names_both(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path, ("x/case_000.nii.gz", "y/case_000.nii.gz"))
    with pytest.raises(InputError, match=r"prediction folder .*pred: 2 files have case id 'case_000' "
                                         r"\(x/case_000.nii.gz, y/case_000.nii.gz\)"):
        pair_cases(pred_dir, gt_dir, recursive=True)


@pytest.mark.parametrize(
    ("regex", "rule"),
    [
        pytest.param(r"^pred-(\d+)", None, id="one-group"),
        pytest.param(r"(?P<run>v\d)_(?P<case>case_\d+)", r"--case-regex '(?P<run>v\d)_(?P<case>case_\d+)'",
                     id="named-case-group"),
    ],
)
def test_case_regex_gives_the_case_id(tmp_path: Path, regex: str, rule: str | None) -> None:
    if rule is None:
        pred_dir, gt_dir = _folders(tmp_path, ("pred-000.nii.gz", "pred-001.nii.gz"), gts=("000.nii.gz", "001.nrrd"))
        assert pair_cases(pred_dir, gt_dir, case_regex=regex).rule == (
            r"--case-regex '^pred-(\d+)'")
    else:
        pred_dir, gt_dir = _folders(tmp_path, ("v1_case_000_x.nii.gz", "v1_case_001_x.nii.gz"),
                                    gts=("v0_case_000.nii.gz", "v0_case_001.nii.gz"))
        pairing = pair_cases(pred_dir, gt_dir, case_regex=regex)
        assert pairing.rule == rule
        assert _pairs_of(pairing, pred_dir) == [("case_000", "v1_case_000_x.nii.gz"),
                                                 ("case_001", "v1_case_001_x.nii.gz")]


@pytest.mark.parametrize(
    ("regex", "message"),
    [
        pytest.param("(case", r"--case-regex '\(case': not a Python regex \(missing \), unterminated subpattern",
                     id="invalid"),
        pytest.param(r"case_\d+", r"--case-regex 'case_\\d\+': has no group; put the case id in one group",
                     id="no-group"),
        pytest.param(r"(case)_(\d+)", r"has 2 groups; .* name it \(\?P<case>...\)", id="two-groups"),
        pytest.param(r"(patient\d+)", r"--case-regex '\(patient\\d\+\)': matches no file name in .*pred or .*gt",
                     id="matches-nothing"),
    ],
)
def test_case_regex_errors(tmp_path: Path, regex: str, message: str) -> None:
    pred_dir, gt_dir = make_clean(tmp_path, 1)
    with pytest.raises(OptionError, match=message):
        pair_cases(pred_dir, gt_dir, case_regex=regex)


def test_case_regex_and_pred_suffix_exclude_each_other(tmp_path: Path) -> None:
    pred_dir, gt_dir = make_clean(tmp_path, 1)
    with pytest.raises(OptionError, match="--pred-suffix with --case-regex"):
        pair_cases(pred_dir, gt_dir, case_regex="(case_\\d+)", pred_suffix="_seg")
