"""``segeval check PRED_DIR GT_DIR`` through the CLI: the report on stdout, exit 0 / 3 / 2, JSON, --quiet."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from segeval.cli import app
from segeval.io import write_volume

_ENV = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
SPACING = (0.8, 0.8, 2.0)
ORIGIN = (-10.0, 20.0, 5.0)


def run(*args: object):  # type: ignore[no-untyped-def]
    return CliRunner(env=_ENV).invoke(app, ["check", *(str(a) for a in args)])


def _gt() -> np.ndarray:
    gt = np.zeros((16, 12, 8), np.uint8)
    gt[2:8, 2:8, 2:6] = 1
    gt[10:13, 6:9, 3:5] = 2
    return gt


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pred/ and gt/ (with dataset.json): case_a fine, case_b an LPS NRRD of the same grid; cwd is tmp_path."""
    monkeypatch.chdir(tmp_path)
    for folder in ("pred", "gt"):
        Path(folder).mkdir()
    for case in ("case_a", "case_b"):
        write_volume(Path("gt") / f"{case}.nii.gz", _gt(), spacing_mm=SPACING, origin=ORIGIN)
    write_volume(Path("pred/case_a.nii.gz"), _gt(), spacing_mm=SPACING, origin=ORIGIN)
    write_volume(Path("pred/case_b.nrrd"), _gt()[::-1, ::-1].copy(), spacing_mm=SPACING,
                 origin=(ORIGIN[0] + 0.8 * 15, ORIGIN[1] + 0.8 * 11, ORIGIN[2]),
                 direction=(-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0))
    Path("gt/dataset.json").write_text('{"labels": {"background": 0, "liver": 1, "spleen": 2}}')
    return tmp_path


def _add_problems() -> None:
    write_volume(Path("gt/case_c.nii.gz"), _gt(), spacing_mm=SPACING, origin=ORIGIN)
    write_volume(Path("pred/case_c.nii.gz"), _gt(), spacing_mm=(1.0, 0.8, 2.0), origin=ORIGIN)
    image = np.random.default_rng(0).normal(0, 100, (16, 12, 8)).astype(np.float32)
    write_volume(Path("gt/case_d.nii.gz"), _gt(), spacing_mm=SPACING, origin=ORIGIN)
    write_volume(Path("pred/case_d_0000.nii.gz"), image, spacing_mm=SPACING, origin=ORIGIN)
    five = _gt()
    five[0, 0, 0] = 5
    write_volume(Path("gt/case_e.nii.gz"), _gt(), spacing_mm=SPACING, origin=ORIGIN)
    write_volume(Path("pred/case_e.nii.gz"), five, spacing_mm=SPACING, origin=ORIGIN)
    write_volume(Path("gt/case_f.nii.gz"), _gt(), spacing_mm=SPACING, origin=ORIGIN)
    write_volume(Path("pred/extra.nii.gz"), _gt(), spacing_mm=SPACING, origin=ORIGIN)


def test_a_clean_dataset_exits_0_with_the_digest(folders: Path) -> None:
    r = run("pred", "gt")
    assert r.exit_code == 0, r.output
    assert r.stderr == ""
    assert r.stdout.splitlines() == [
        "2 cases paired",
        "label map: gt/dataset.json (values 0, 1, 2)",
        "reoriented exactly when scored (axes flipped or permuted): 1 (case_b)",
        "seen, as value (files):",
        "  GT    shape    16x12x8 (2)",
        "  GT    spacing  0.8x0.8x2 mm (2)",
        "  GT    axes     RAS (2)",
        "  GT    dtype    uint8 (2)",
        "  GT    labels   0 (2), 1 (2), 2 (2)",
        "  pred  shape    16x12x8 (2)",
        "  pred  spacing  0.8x0.8x2 mm (2)",
        "  pred  axes     LPS (1), RAS (1)",
        "  pred  dtype    uint8 (2)",
        "  pred  labels   0 (2), 1 (2), 2 (2)",
        "0 problems",
    ]


def test_problems_one_line_each_then_the_digest_exit_3(folders: Path) -> None:
    _add_problems()
    r = run("pred", "gt")
    assert r.exit_code == 3, r.output
    lines = r.stdout.splitlines()
    assert lines[:6] == [
        ("case_c: geometry: pred/case_c.nii.gz vs gt/case_c.nii.gz: spacing differs (pred (1, 0.8, 2) mm vs gt "
         "(0.8, 0.8, 2) mm, largest difference 0.2 mm); use --resample-pred to resample the prediction onto the "
         "ground truth"),
        ("case_d: not a label map: pred/case_d_0000.nii.gz: looks like an image or probabilities, not a label map "
         "(float32 with non-integer values)"),
        ("case_e: outside the label map: pred/case_e.nii.gz: value 5 not in the label map gt/dataset.json "
         "(not scored)"),
        "case_f: no prediction: gt/case_f.nii.gz: no prediction in pred has case id 'case_f'",
        "extra: no GT: pred/extra.nii.gz: no GT file in gt has case id 'extra'",
        "",
    ]
    assert lines[6] == "5 cases paired, 1 GT case without prediction, 1 prediction without GT case"
    assert "  pred  dtype    uint8 (4), float32 (1)" in lines
    assert lines[-1] == ("5 problems: 1 geometry, 1 not a label map, 1 outside the label map, 1 no prediction, "
                         "1 no GT")


def test_json_format(folders: Path) -> None:
    _add_problems()
    r = run("pred", "gt", "--format", "json")
    assert r.exit_code == 3, r.output
    data = json.loads(r.stdout)
    assert [(p["kind"], p["case"]) for p in data["problems"]] == [
        ("geometry", "case_c"), ("not_labels", "case_d"), ("outside_label_map", "case_e"),
        ("no_prediction", "case_f"), ("no_gt", "extra")]
    digest = data["digest"]
    assert digest["paired"] == 5 and digest["reoriented"] == ["case_b"]
    assert digest["pred"]["spacing_mm"] == [{"value": [0.8, 0.8, 2.0], "files": 4},
                                            {"value": [1.0, 0.8, 2.0], "files": 1}]
    assert digest["gt"]["labels"] == [{"value": 0, "files": 6}, {"value": 1, "files": 6}, {"value": 2, "files": 6}]
    assert data["notes"] == []


def test_quiet_prints_the_problem_lines_only(folders: Path) -> None:
    assert run("pred", "gt", "-q").stdout == ""
    _add_problems()
    r = run("pred", "gt", "-q")
    assert r.exit_code == 3
    assert len(r.stdout.splitlines()) == 5 and r.stderr == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("nope", "gt"), "segeval: error: prediction folder nope: no such folder", id="no-folder"),
        pytest.param(("pred", "gt", "--format", "xml"), "segeval: error: --format: expected table or json; got 'xml'",
                     id="format"),
        pytest.param(("pred", "gt", "--label-names", "missing.json"), "segeval: error: --label-names missing.json: "
                     "cannot read", id="label-names"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(folders: Path, args: tuple[str, ...], message: str) -> None:
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith(message)


def test_swapped_folders_are_warned_on_stderr(folders: Path) -> None:
    Path("labelsTs").mkdir()
    write_volume(Path("labelsTs/case_a.nii.gz"), _gt(), spacing_mm=SPACING, origin=ORIGIN)
    r = run("labelsTs", "gt")
    assert r.exit_code == 3  # case_b has no prediction
    assert "are the folders swapped?" in r.stderr
    assert "are the folders swapped?" not in r.stdout


def test_reader_notes_go_to_stderr(folders: Path) -> None:
    path = Path("pred/case_a.nii.gz")
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()) + b"\0" * 64))  # bytes past the voxels
    r = run("pred", "gt")
    assert r.exit_code == 0, r.output
    assert "segeval: warning: pred/case_a.nii.gz holds" in r.stderr


def test_help_has_the_example_and_the_exit_codes() -> None:
    r = CliRunner(env=_ENV).invoke(app, ["check", "--help"])
    assert r.exit_code == 0
    assert "Example: segeval check" in r.stdout
    assert "Exit 0 when no problem" in r.stdout and "3 when some were, 2 on" in r.stdout


def test_check_pairs_with_the_options_batch_takes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for folder in ("pred", "gt"):
        Path(folder).mkdir()
    for case in ("case_a", "case_b"):
        write_volume(Path("gt") / f"{case}.nii.gz", _gt(), spacing_mm=SPACING, origin=ORIGIN)
        write_volume(Path("pred") / f"{case}_mask.nii.gz", _gt(), spacing_mm=SPACING, origin=ORIGIN)
    r = run("pred", "gt", "--pred-suffix", "_mask")
    assert r.exit_code == 0, r.output
    assert "2 cases paired (--pred-suffix _mask)" in r.stdout
    assert json.loads(run("pred", "gt", "--pred-suffix", "_mask", "-f", "json").stdout)["digest"]["rule"] == \
        "--pred-suffix _mask"
    assert run("pred", "gt").exit_code == 3  # without it nothing pairs: every case is a problem
