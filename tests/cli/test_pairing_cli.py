"""``segeval batch`` pairing beyond nnU-Net names: --pred-suffix, --recursive, --case-regex, auto-detected layouts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from segeval.batching import PRED_SUFFIXES
from segeval.cli import app
from segeval.io import write_volume
from tests.batching._data import SPACING, case_pair

runner = CliRunner()


def run(*args: Any) -> Any:
    return runner.invoke(app, ["batch", *[str(a) for a in args], "-j", "1", "--format", "json"])


def lines(text: str) -> list[str]:
    """stderr's lines, less the progress lines a log gets (``segeval: scored 1/2 (50%) ...``)."""
    return [line for line in text.splitlines() if line.strip() and not line.startswith("segeval: scored ")]


def folders(root: Path, preds: tuple[str, ...], gts: tuple[str, ...] = ("case_000.nii.gz", "case_001.nii.gz"),
            ) -> tuple[Path, Path]:
    """pred/ and gt/ under ``root`` holding a tiny case at each name (GT i pairs with prediction i)."""
    for folder, names in (("pred", preds), ("gt", gts)):
        for i, name in enumerate(names):
            pred, gt = case_pair(i)
            path = root / folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            write_volume(path, pred if folder == "pred" else gt, spacing_mm=SPACING)
    return root / "pred", root / "gt"


def scored(r: Any, pred_dir: Path) -> dict[str, str]:
    """Case id -> prediction file (relative to PRED_DIR) of every case scored without error."""
    data = json.loads(r.stdout)
    return {c["case"]: Path(c["pred"]).relative_to(pred_dir).as_posix() for c in data["cases"] if c["error"] is None}


def test_plain_rule_line_is_unchanged(tmp_path: Path) -> None:
    pred_dir, gt_dir = folders(tmp_path, ("case_000.nii.gz", "case_001_0000.nii.gz"))
    r = run(pred_dir, gt_dir)
    assert r.exit_code == 0, r.output
    assert lines(r.stderr) == ["segeval: 2 cases paired by case id"]


def test_pred_suffix_option(tmp_path: Path) -> None:
    pred_dir, gt_dir = folders(tmp_path, ("case_000_mask.nii.gz", "case_001_mask.nii.gz"))
    r = run(pred_dir, gt_dir, "--pred-suffix", "_mask")
    assert r.exit_code == 0, r.output
    assert lines(r.stderr) == ["segeval: 2 cases paired by case id (--pred-suffix _mask)"]
    assert scored(r, pred_dir) == {"case_000": "case_000_mask.nii.gz", "case_001": "case_001_mask.nii.gz"}


def test_recursive_option(tmp_path: Path) -> None:
    pred_dir, gt_dir = folders(tmp_path, ("fold0/case_000.nii.gz", "fold1/case_001.nii.gz"),
                               gts=("case_000.nii.gz", "test/case_001.nii.gz"))
    r = run(pred_dir, gt_dir, "--recursive")
    assert r.exit_code == 0, r.output
    assert lines(r.stderr) == ["segeval: 2 cases paired by case id (sub-folders included)"]
    assert scored(r, pred_dir) == {"case_000": "fold0/case_000.nii.gz", "case_001": "fold1/case_001.nii.gz"}


def test_case_regex_option(tmp_path: Path) -> None:
    pred_dir, gt_dir = folders(tmp_path, ("pred-000.nii.gz", "pred-001.nii.gz"),
                               gts=("labels_000.nii.gz", "labels_001.nii.gz"))
    r = run(pred_dir, gt_dir, "--case-regex", r"(\d+)\.nii")
    assert r.exit_code == 0, r.output
    assert lines(r.stderr) == [r"segeval: 2 cases paired by case id (--case-regex '(\d+)\.nii')"]
    assert scored(r, pred_dir) == {"000": "pred-000.nii.gz", "001": "pred-001.nii.gz"}


@pytest.mark.parametrize("suffix", [pytest.param(s, id=s) for s in PRED_SUFFIXES])
def test_auto_detected_prediction_suffix(tmp_path: Path, suffix: str) -> None:
    pred_dir, gt_dir = folders(tmp_path, (f"case_000{suffix}.nii.gz", f"case_001{suffix}.nii.gz"))
    r = run(pred_dir, gt_dir)
    assert r.exit_code == 0, r.output
    assert lines(r.stderr) == [f"segeval: 2 cases paired by case id (predictions' suffix {suffix} removed)"]
    assert scored(r, pred_dir) == {"case_000": f"case_000{suffix}.nii.gz", "case_001": f"case_001{suffix}.nii.gz"}


def test_auto_detected_monai_layout(tmp_path: Path) -> None:
    pred_dir, gt_dir = folders(tmp_path, ("case_000/case_000_trans.nii.gz", "case_001/case_001_seg.nii.gz"))
    r = run(pred_dir, gt_dir)
    assert r.exit_code == 0, r.output
    assert lines(r.stderr) == ["segeval: 2 cases paired by case id (MONAI layout: one folder per case)"]
    assert scored(r, pred_dir) == {"case_000": "case_000/case_000_trans.nii.gz",
                                   "case_001": "case_001/case_001_seg.nii.gz"}


def test_auto_detection_leaves_a_working_pairing_alone(tmp_path: Path) -> None:
    pred_dir, gt_dir = folders(tmp_path, ("case_000.nii.gz", "case_001_seg.nii.gz"))
    r = run(pred_dir, gt_dir)
    assert r.exit_code == 3, r.output  # case_001 has no prediction by the plain rule: a failed case
    assert lines(r.stderr)[:3] == [
        "segeval: 1 case paired by case id",
        "segeval: warning: 1 GT case has no prediction (recorded as failed, --missing error): case_001",
        "segeval: warning: 1 prediction has no GT case (not scored): case_001_seg.nii.gz",
    ]


def one_error_line(r: Any) -> str:
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    err = lines(r.stderr)
    assert len(err) == 1, err
    return str(err[0])


def test_recursive_duplicate_case_ids_are_one_line(tmp_path: Path) -> None:
    pred_dir, gt_dir = folders(tmp_path, ("run1/case_000.nii.gz", "run2/case_000.nii.gz"))
    line = one_error_line(run(pred_dir, gt_dir, "--recursive"))
    assert line == (f"segeval: error: prediction folder {pred_dir}: 2 files have case id 'case_000' "
                    "(run1/case_000.nii.gz, run2/case_000.nii.gz); keep one, or choose which with --pattern")


@pytest.mark.parametrize(
    ("regex", "message"),
    [
        pytest.param("(case", "--case-regex '(case': not a Python regex (missing ), unterminated subpattern "
                     "at position 0)", id="invalid"),
        pytest.param(r"case_\d+", r"--case-regex 'case_\d+': has no group; put the case id in one group, e.g. "
                     r"'(case_\d+)', or name it (?P<case>...)", id="no-group"),
        pytest.param(r"(patient\d+)", r"--case-regex '(patient\d+)': matches no file name in", id="matches-nothing"),
    ],
)
def test_bad_case_regex_is_one_line(tmp_path: Path, regex: str, message: str) -> None:
    pred_dir, gt_dir = folders(tmp_path, ("case_000.nii.gz",))
    line = one_error_line(run(pred_dir, gt_dir, "--case-regex", regex))
    assert line.startswith(f"segeval: error: {message}"), line


def test_pred_suffix_that_ends_no_name_is_one_line(tmp_path: Path) -> None:
    pred_dir, gt_dir = folders(tmp_path, ("case_000_seg.nii.gz",))
    line = one_error_line(run(pred_dir, gt_dir, "--pred-suffix", "_pred"))
    assert line == (f"segeval: error: --pred-suffix '_pred': no prediction file name in {pred_dir} ends with it "
                    "(before the volume suffix); check the suffix, or add --recursive for sub-folders")


@pytest.mark.parametrize(
    "option",
    [pytest.param(["--pred-suffix", "_seg"], id="pred-suffix"), pytest.param(["--recursive"], id="recursive"),
     pytest.param(["--case-regex", "(x)"], id="case-regex")],
)
def test_pairing_options_refused_with_pairs(tmp_path: Path, option: list[str]) -> None:
    sheet = tmp_path / "pairs.csv"
    sheet.write_text("case,pred,gt\n")
    line = one_error_line(run("--pairs", sheet, *option))
    assert line == f"segeval: error: {option[0]} pairs files in PRED_DIR and GT_DIR; with --pairs, list the files there"
