"""``--lesions PROTOCOL`` on ``score`` and ``batch``: keys, settings, records, maps, summary, errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from segeval.cli import app
from segeval.io import read_volume, write_volume
from segeval.lesions import LESION_METRICS, PROTOCOLS
from segeval.lesions.outputs import RECORD_COLUMNS
from tests.lesions.cases import hand_vectors

pytest.importorskip("cc3d", reason="lesion metrics need connected-components-3d (segeval[lesions])")

runner = CliRunner()


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """Two cases: far_fp27 (a lesion found, a 27-voxel FP) and small_missed (a 27-voxel GT lesion missed)."""
    pred_dir, gt_dir = tmp_path / "pred", tmp_path / "gt"
    pred_dir.mkdir()
    gt_dir.mkdir()
    vectors = hand_vectors()
    for name in ("far_fp27", "small_missed"):
        pred, gt = vectors[name]
        write_volume(pred_dir / f"{name}.nii.gz", pred)
        write_volume(gt_dir / f"{name}.nii.gz", gt)
    return pred_dir, gt_dir


def test_help_lists_every_protocol() -> None:
    from segeval.cli._common import LESION_PROTOCOLS

    assert tuple(PROTOCOLS) == LESION_PROTOCOLS


def test_score_json_has_the_keys_and_the_settings(folders: tuple[Path, Path], tmp_path: Path) -> None:
    pred_dir, gt_dir = folders
    out = tmp_path / "r.json"
    r = run("score", pred_dir / "far_fp27.nii.gz", gt_dir / "far_fp27.nii.gz", "--lesions", "brats2023",
            "--lesion-penalty-mm", "300", "-o", out, "-q")
    assert r.exit_code == 0, r.output
    report = json.loads(out.read_text())
    row = report["cases"][0]["labels"][0]
    # one lesion found (Dice 1, HD95 0) and one FP: (1 + 0) / 2 and (0 + 300) / 2
    assert (row["lesion_dice"], row["lesion_hd95"], row["lesion_tp"], row["lesion_fp"]) == (0.5, 150.0, 1.0, 1.0)
    assert all(k in row for k in LESION_METRICS)
    assert report["settings"]["lesions"]["protocol"] == "brats2023"
    assert report["settings"]["lesions"]["penalty_mm"] == 300.0
    assert report["settings"]["lesions"]["connectivity"] == 26


def test_table_shows_the_lesion_columns(folders: tuple[Path, Path]) -> None:
    pred_dir, gt_dir = folders
    r = run("score", pred_dir / "far_fp27.nii.gz", gt_dir / "far_fp27.nii.gz", "--lesions", "panoptica")
    assert r.exit_code == 0, r.output
    for word in ("LDice", "LHD95", "LTP", "LFP", "LF1", "SQ", "PQ"):
        assert word in r.stdout


def test_batch_csv_records_maps_and_summary(folders: tuple[Path, Path], tmp_path: Path) -> None:
    pred_dir, gt_dir = folders
    out, records, maps, summary = tmp_path / "r.csv", tmp_path / "lesions.csv", tmp_path / "maps", tmp_path / "s.json"
    r = run("batch", pred_dir, gt_dir, "--lesions", "brats2023-met", "-o", out, "--lesion-records", records,
            "--lesion-maps", maps, "--summary", summary, "--jobs", "1", "-q")
    assert r.exit_code == 0, r.output
    rows = {row["case"]: row for row in csv.DictReader(io.StringIO(out.read_text()))}
    # MET keeps lesions over 2 mm³: small_missed's 27-voxel lesion is a miss, (1 + 0) / 2, (0 + 374) / 2
    assert float(rows["small_missed"]["lesion_dice"]) == 0.5
    assert float(rows["small_missed"]["lesion_hd95"]) == 187.0
    assert float(rows["far_fp27"]["lesion_fp"]) == 1.0
    recs = list(csv.DictReader(io.StringIO(records.read_text())))
    kinds = sorted((r["case"], r["kind"], r["gt_voxels"], r["pred_voxels"]) for r in recs)
    assert kinds == [("far_fp27", "fp", "0", "27"), ("far_fp27", "tp", "1000", "1000"),
                     ("small_missed", "fn", "27", "0"), ("small_missed", "tp", "1000", "1000")]
    assert sorted(p.name for p in maps.iterdir()) == ["far_fp27_1.nii.gz", "small_missed_1.nii.gz"]
    m = read_volume(maps / "small_missed_1.nii.gz").labels
    assert np.bincount(m.reshape(-1), minlength=4).tolist()[1:] == [1000, 27, 0]  # found, missed, FP
    m = read_volume(maps / "far_fp27_1.nii.gz").labels
    assert np.bincount(m.reshape(-1), minlength=4).tolist()[1:] == [1000, 0, 27]
    written = json.loads(summary.read_text())
    assert written["summary"]["lesions"][0]["lesion_tp"] == 2


def test_summary_pools_the_detection_counts(folders: tuple[Path, Path], tmp_path: Path) -> None:
    pred_dir, gt_dir = folders
    out = tmp_path / "r.json"
    r = run("batch", pred_dir, gt_dir, "--lesions", "brats2023-met", "-o", out, "--jobs", "1", "-q")
    assert r.exit_code == 0, r.output
    report = json.loads(out.read_text())
    pooled = report["summary"]["lesions"][0]
    # 2 found (one per case), 1 FP (far_fp27), 1 missed (small_missed): F1 = 4 / (4 + 1 + 1)
    assert (pooled["lesion_tp"], pooled["lesion_fp"], pooled["lesion_fn"]) == (2, 1, 1)
    assert pooled["lesion_f1"] == pytest.approx(4 / 6)
    per_label = report["summary"]["per_label"][0]
    assert per_label["lesion_dice"]["mean"] == pytest.approx((0.5 + 0.5) / 2)


def test_the_summary_table_shows_the_pooled_counts(folders: tuple[Path, Path]) -> None:
    pred_dir, gt_dir = folders
    r = run("batch", pred_dir, gt_dir, "--lesions", "brats2023-met", "--metrics", "dice", "--jobs", "1")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    head = next(line.split() for line in lines if line.startswith("Label"))
    row = next(line.split() for line in lines if line.lstrip().startswith("1 "))
    # the row reads: 1, (no name), the mean ± std cells (three words each), the counts as plain totals
    cells = dict(zip(head[2:], _cells(row[1:])))
    assert (cells["LTP"], cells["LFP"], cells["LFN"]) == ("2", "1", "1")
    assert "LTP, LFP, LFN: lesions summed over cases" in r.stdout


def _cells(words: list[str]) -> list[str]:
    """Table words joined back into cells: ``0.500 ± 0.000`` is one cell."""
    cells: list[str] = []
    i = 0
    while i < len(words):
        if i + 2 < len(words) and words[i + 1] == "±":
            cells.append(" ".join(words[i:i + 3]))
            i += 3
        else:
            cells.append(words[i])
            i += 1
    return cells


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--lesions", "brats2025"], "--lesions: unknown protocol 'brats2025'", id="unknown-protocol"),
        pytest.param(["--lesion-dilation", "2"], "--lesion-dilation: needs --lesions", id="override-alone"),
        pytest.param(["--lesions", "panoptica", "--lesion-dilation", "2"], "brats protocols only", id="not-brats"),
        pytest.param(["--lesions", "brats2023", "--lesion-iou", "0.3"], "--lesions iou only", id="iou-only"),
        pytest.param(["--lesions", "iou", "--lesion-iou", "1.5"], "--lesion-iou: a threshold", id="bad-iou"),
        pytest.param(["--lesions", "iou", "--lesion-connectivity", "8"], "--lesion-connectivity: 6, 18 or 26",
                     id="bad-connectivity"),
        pytest.param(["--lesion-records", "x.csv"], "--lesion-records: needs --lesions", id="records-alone"),
    ],
)
def test_bad_lesion_options_exit_2_on_one_line(folders: tuple[Path, Path], args: list[str], message: str) -> None:
    pred_dir, gt_dir = folders
    r = run("score", pred_dir / "far_fp27.nii.gz", gt_dir / "far_fp27.nii.gz", *args)
    assert r.exit_code == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], r.stderr


def test_maps_folder_that_is_a_file_is_refused_before_scoring(folders: tuple[Path, Path], tmp_path: Path) -> None:
    pred_dir, gt_dir = folders
    blocker = tmp_path / "maps"
    blocker.write_text("")
    r = run("batch", pred_dir, gt_dir, "--lesions", "brats2023", "--lesion-maps", blocker, "--jobs", "1", "-q")
    assert r.exit_code == 2 and "not a folder" in r.stderr


def test_api_matches_the_cli(folders: tuple[Path, Path], tmp_path: Path) -> None:
    import segeval

    pred_dir, gt_dir = folders
    report = segeval.score(pred_dir / "far_fp27.nii.gz", gt_dir / "far_fp27.nii.gz", lesions="iou")
    out = tmp_path / "r.json"
    assert run("score", pred_dir / "far_fp27.nii.gz", gt_dir / "far_fp27.nii.gz", "--lesions", "iou", "-o", out,
               "-q").exit_code == 0
    cli_row = json.loads(out.read_text())["cases"][0]["labels"][0]
    api_row = report.cases[0].labels[0]
    assert {k: api_row[k] for k in LESION_METRICS} == {k: cli_row[k] for k in LESION_METRICS}


def test_resume_says_which_cases_have_no_lesion_rows(folders: tuple[Path, Path], tmp_path: Path) -> None:
    pred_dir, gt_dir = folders
    out, records = tmp_path / "r.jsonl", tmp_path / "lesions.csv"
    assert run("batch", pred_dir, gt_dir, "--lesions", "brats2023", "-o", out, "--jobs", "1", "-q").exit_code == 0
    r = run("batch", pred_dir, gt_dir, "--lesions", "brats2023", "-o", out, "--resume", "--lesion-records", records,
            "--jobs", "1")
    assert r.exit_code == 0, r.output
    assert "no rows for 2 case(s) kept from the earlier run" in r.stderr
    assert records.read_text().splitlines() == [",".join(RECORD_COLUMNS)]  # the header alone


def test_a_lesion_metric_without_lesions_is_refused_not_ignored(folders: tuple[Path, Path]) -> None:
    pred, gt = folders
    case = "far_fp27.nii.gz"
    r = run("score", pred / case, gt / case, "--metrics", "dice,lesion_dice")
    assert r.exit_code == 2 and "lesion_dice is a lesion-wise metric; give --lesions PROTOCOL" in r.stderr
    r = run("score", pred / case, gt / case, "--metrics", "dice,lesion_dice", "--lesions", "panoptica", "-f", "json")
    assert r.exit_code == 0, r.output
    entry = json.loads(r.stdout)["cases"][0]["labels"][0]
    assert "dice" in entry and "lesion_dice" in entry and "hd95" not in entry
