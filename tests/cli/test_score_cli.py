"""``segeval score`` and ``segeval info`` through the CLI: options, formats, exit codes, errors."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from segeval.cli import app
from tests.cli.conftest import case_arrays, check_golden

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def err_lines(result) -> list[str]:
    text = result.stderr if hasattr(result, "stderr") else result.output
    return [line for line in text.splitlines() if line.strip()]


def test_score_table_lists_every_label_and_macro(case_files: dict[str, Path]) -> None:
    r = run("score", case_files["pred"], case_files["gt"], "--label-names", case_files["names"])
    assert r.exit_code == 0, r.output
    out = r.stdout
    for word in ("liver", "spleen", "tumour", "macro", "Dice"):
        assert word in out


def test_score_json_numbers_match_hand_computed(case_files: dict[str, Path]) -> None:
    r = run("score", case_files["pred"], case_files["gt"], "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    labels = {row["label"]: row for row in data["cases"][0]["labels"]}
    # label 1: 6x6x4 block shifted by one voxel along x: TP = 5*6*4, FP = FN = 6*4
    assert labels[1]["tp"] == 120 and labels[1]["fp"] == 24 and labels[1]["fn"] == 24
    assert labels[1]["dice"] == pytest.approx(240 / 288)
    # label 2: 18 voxels in gt, 9 predicted, all inside
    assert labels[2]["dice"] == pytest.approx(18 / 27)
    assert labels[2]["vol_gt_ml"] == pytest.approx(18 * 0.8 * 0.8 * 2.0 / 1000)
    # label 3 only in pred: scored, Dice 0 (not NaN)
    assert labels[3]["dice"] == 0.0
    assert data["settings"]["alpha"] == 0.3 and data["cases"][0]["spacing"] == [0.8, 0.8, 2.0]


@pytest.mark.parametrize("ext", ["csv", "json", "md"])
def test_output_file_format_from_extension(case_files: dict[str, Path], ext: str) -> None:
    r = run("score", case_files["pred"], case_files["gt"], "-o", f"out.{ext}", "--quiet")
    assert r.exit_code == 0, r.output
    text = Path(f"out.{ext}").read_text()
    if ext == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [row["label"] for row in rows] == ["1", "2", "3"]
    elif ext == "json":
        assert json.loads(text)["cases"][0]["case"] == "gt"
    else:
        assert text.startswith("### gt") and "| **macro** |" in text


def test_labels_regions_ignore_and_background(case_files: dict[str, Path]) -> None:
    r = run("score", case_files["pred"], case_files["gt"], "--labels", "liver=1,9", "--region", "organs=1,2",
            "--include-background", "--empty", "one", "--format", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["cases"][0]["labels"]
    assert [row["label"] for row in rows] == [0, 1, 9, "organs"]
    assert rows[1]["name"] == "liver"
    assert rows[2]["dice"] == 1.0  # absent from both, --empty one
    assert rows[3]["members"] == [1, 2]
    r = run("score", case_files["pred"], case_files["gt"], "--ignore-label", "2", "--format", "json")
    rows = json.loads(r.stdout)["cases"][0]["labels"]
    assert [row["label"] for row in rows] == [1, 3]


def test_tversky_smooth_metrics_options(case_files: dict[str, Path]) -> None:
    r = run("score", case_files["pred"], case_files["gt"], "--metrics", "dice,tversky", "--alpha", "0.5",
            "--beta", "0.5", "--smooth", "1", "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    row = data["cases"][0]["labels"][0]
    # Smoothing is added to TP-form numerators: Tversky(0.5, 0.5) equals Dice only when S = 0.
    assert row["tversky"] == pytest.approx((120 + 1) / (120 + 12 + 12 + 1))
    assert row["dice"] == pytest.approx((240 + 1) / (288 + 1))
    assert "iou" not in row and data["settings"]["smooth"] == 1.0


def test_nifti_pred_against_nrrd_gt(case_files: dict[str, Path]) -> None:
    a = json.loads(run("score", case_files["pred"], case_files["gt"], "-f", "json").stdout)
    b = json.loads(run("score", case_files["pred"], case_files["gt_nrrd"], "-f", "json").stdout)
    assert a["cases"][0]["labels"] == b["cases"][0]["labels"]


def test_npy_needs_spacing_note_and_takes_spacing(case_files: dict[str, Path]) -> None:
    r = run("score", case_files["pred_npy"], case_files["gt_npy"], "-f", "json")
    assert r.exit_code == 0
    assert "1 mm assumed" in r.stderr
    r = run("score", case_files["pred_npy"], case_files["gt_npy"], "-f", "json", "--spacing", "0.8,0.8,2")
    data = json.loads(r.stdout)
    assert data["cases"][0]["spacing"] == [0.8, 0.8, 2.0] and "assumed" not in r.stderr


def test_geometry_mismatch_and_resample(case_files: dict[str, Path]) -> None:
    r = run("score", case_files["pred"], case_files["gt_coarse"])
    assert r.exit_code == 2
    lines = err_lines(r)
    assert len(lines) == 1 and "spacing" in lines[0] and "--resample-pred" in lines[0]
    r = run("score", case_files["pred"], case_files["gt_coarse"], "--resample-pred", "-f", "json")
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        pytest.param(["missing.nii.gz", "gt.nii.gz"], "missing.nii.gz", id="missing-file"),
        pytest.param(["pred.nii.gz", "gt.nii.gz", "--labels", "1,x"], "--labels", id="bad-labels"),
        pytest.param(["pred.nii.gz", "gt.nii.gz", "--metrics", "dice,hd99"], "hd99", id="unknown-metric"),
        pytest.param(["pred.nii.gz", "gt.nii.gz", "--empty", "maybe"], "--empty", id="bad-empty"),
        pytest.param(["pred.nii.gz", "gt.nii.gz", "-o", "nodir/out.csv"], "nodir", id="unwritable-output"),
        pytest.param(["pred.nii.gz", "gt.nii.gz", "-o", "out.xlsx"], "out.xlsx", id="unknown-extension"),
        pytest.param(["pred.nii.gz", "gt.nii.gz", "--region", "WT"], "--region", id="bad-region"),
        pytest.param(["pred.nii.gz", "gt.nii.gz", "--spacing", "a,b"], "--spacing", id="bad-spacing"),
        pytest.param(["pred.nii.gz", "gt.nii.gz", "--device", "tpu"], "--device", id="bad-device"),
        pytest.param(["pred.npy", "gt.nii.gz"], "shape", id="shape-mismatch"),
    ],
)
def test_bad_input_one_line_exit_2(case_files: dict[str, Path], args: list[str], needle: str) -> None:
    if "shape" == needle:
        np.save("pred.npy", np.zeros((3, 3, 3), np.uint8))
    r = run("score", *args)
    assert r.exit_code == 2, r.output
    lines = err_lines(r)
    assert len(lines) == 1, lines
    assert needle in lines[0] and "Traceback" not in r.output
    assert not Path("nodir").exists()


def test_non_integral_float_labels(case_files: dict[str, Path]) -> None:
    _, gt = case_arrays()
    np.save("soft.npy", gt.astype(np.float32) * 0.5)
    r = run("score", "soft.npy", "gt.npy")
    assert r.exit_code == 2 and "soft.npy" in r.stderr and "whole numbers" in r.stderr
    nan = gt.astype(np.float32)
    nan[0, 0, 0] = np.nan
    np.save("nan.npy", nan)
    r = run("score", "nan.npy", "gt.npy")
    assert r.exit_code == 2 and len(err_lines(r)) == 1


def test_corrupt_gzip_error_and_debug_traceback(case_files: dict[str, Path]) -> None:
    raw = Path("gt.nii.gz").read_bytes()
    Path("broken.nii.gz").write_bytes(raw[: len(raw) // 2])
    r = run("score", "pred.nii.gz", "broken.nii.gz")
    assert r.exit_code == 2 and "broken.nii.gz" in r.stderr and len(err_lines(r)) == 1
    r = run("score", "pred.nii.gz", "broken.nii.gz", "--debug")
    assert r.exit_code != 0 and r.exception is not None  # --debug lets the exception through


def test_no_partial_output_on_error(case_files: dict[str, Path]) -> None:
    r = run("score", "missing.nii.gz", "gt.nii.gz", "-o", "out.json")
    assert r.exit_code == 2 and not Path("out.json").exists()
    assert not [p for p in Path(".").iterdir() if p.name.startswith(".out.json")]


def test_fail_under_inline_gate(case_files: dict[str, Path]) -> None:
    ok = run("score", "pred.nii.gz", "gt.nii.gz", "--fail-under", "dice:1=0.8", "-q")
    assert ok.exit_code == 0, ok.output
    bad = run("score", "pred.nii.gz", "gt.nii.gz", "--fail-under", "dice:1=0.9", "-q")
    assert bad.exit_code == 1, bad.output


def test_info_table_and_json(case_files: dict[str, Path]) -> None:
    r = run("info", "gt.nii.gz", "pred.npy")
    assert r.exit_code == 0, r.output
    assert "gt.nii.gz" in r.stdout and "pred.npy" in r.stdout
    data = json.loads(run("info", "gt.nii.gz", "--format", "json").stdout)
    census = {row["label"]: row["voxels"] for row in data[0]["census"]}
    assert census == {0: 16 * 12 * 8 - 144 - 18, 1: 144, 2: 18}
    assert data[0]["spacing_mm"] == [0.8, 0.8, 2.0]


def test_every_command_has_help_with_example() -> None:
    for cmd in ("score", "info", "batch", "gate"):
        r = run(cmd, "--help")
        if r.exit_code == 2 and "No such command" in r.output:
            pytest.fail(f"command {cmd} is missing")
        assert r.exit_code == 0 and "Example" in r.stdout, cmd


_golden = check_golden


def _report():
    import segeval

    pred, gt = case_arrays()
    return segeval.score(pred, gt, spacing_mm=(0.8, 0.8, 2.0),
                         label_names={1: "liver", 2: "spleen", 3: "tumour"},
                         metrics="dice,iou,tversky,precision,recall,specificity,volume_similarity,hd95,nsd")


def test_golden_table(update_golden: bool) -> None:
    from segeval.report.terminal import report_tables

    buf = io.StringIO()
    console = Console(file=buf, width=100, color_system=None)
    for r in report_tables(_report()):
        console.print(r)
    _golden("score_table.txt", buf.getvalue(), update_golden)


@pytest.mark.parametrize("fmt", ["csv", "json", "md"])
def test_golden_files(fmt: str, update_golden: bool) -> None:
    from segeval.report.writers import render

    text = render(_report(), fmt)
    text = text.replace(f'"segeval_version": "{__import__("segeval").__version__}"', '"segeval_version": "X"')
    _golden(f"score.{fmt}", text, update_golden)


def test_installed_command_runs() -> None:
    exe = Path(sys.executable).parent / "segeval"
    if not exe.exists():
        pytest.skip("the segeval script is not installed next to this Python (pip install . first)")
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("segeval ")


def test_help_and_version_import_no_heavy_modules() -> None:
    code = (
        "import sys; from segeval.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pandas', 'SimpleITK', 'scipy') if m in sys.modules]\n"
        "sys.stderr.write(repr(heavy))"
    )
    env = {**os.environ, "COLUMNS": "100"}
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env)
    assert out.stderr.strip().endswith("[]"), out.stderr


def test_a_scoring_run_does_not_load_pydantic(tmp_path: Path) -> None:
    # Typer 0.29 validates every option through pydantic, about 0.3 s of every run;
    # pyproject.toml keeps Typer below it, and this catches a Typer that brings it back.
    pred, gt = case_arrays()
    np.save(tmp_path / "pred.npy", pred)
    np.save(tmp_path / "gt.npy", gt)
    code = (
        "import sys; from segeval.cli import app\n"
        f"try:\n    app(['score', {str(tmp_path / 'pred.npy')!r}, {str(tmp_path / 'gt.npy')!r}, '-f', 'csv'])\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "sys.stderr.write(repr('pydantic' in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "label" in out.stdout  # the run scored and printed its table
    assert out.stderr.strip().endswith("False"), out.stderr
