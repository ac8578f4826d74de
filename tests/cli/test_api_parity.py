"""segeval.score, ``segeval score`` and ``segeval batch`` give the same numbers for the same inputs and options.

All three build their settings with :func:`segeval.settings.build_settings` and
read a case with :func:`segeval.scoring.load_case`; these tests hold them to
it, the spacing override included (it once was honoured for arrays and
ignored for files).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import segeval
from segeval.cli import app
from segeval.io import read_volume, write_volume
from tests.cli.conftest import case_arrays

# (CLI arguments, segeval.score keywords) meaning the same thing.
CASES = [
    pytest.param([], {}, id="defaults"),
    pytest.param(["--spacing", "1,1,1"], {"spacing_mm": (1.0, 1.0, 1.0)}, id="spacing-override"),
    pytest.param(["--spacing", "2x0.5x3", "--metrics", "dice,hd95,assd,nsd", "--tolerance", "1.5"],
                 {"spacing_mm": "2x0.5x3", "metrics": ["dice", "hd95", "assd", "nsd"], "tolerance_mm": 1.5},
                 id="spacing-override-distances"),
    pytest.param(["--labels", "liver=1,2,7", "--empty", "one"], {"labels": "liver=1,2,7", "empty": "one"},
                 id="labels-empty-one"),
    pytest.param(["--labels", "liver=1,spleen=2"], {"labels": {"liver": 1, "spleen": 2}}, id="labels-mapping"),
    pytest.param(["--region", "both=1,2", "--ignore-label", "2", "--include-background"],
                 {"regions": {"both": [1, 2]}, "ignore_label": 2, "include_background": True}, id="regions-ignore"),
    pytest.param(["--metrics", "all", "--alpha", "0.5", "--beta", "0.5", "--smooth", "1", "--percentile", "90",
                  "--inf-distance", "diagonal"],
                 {"metrics": "all", "alpha": 0.5, "beta": 0.5, "smooth": 1.0, "percentile": 90.0,
                  "inf_distance": "diagonal"}, id="all-metrics"),
]


@pytest.fixture
def case(tmp_path: Path) -> tuple[Path, Path]:
    pred, gt = case_arrays()
    spacing = (0.8, 0.7, 2.5)
    return (write_volume(tmp_path / "pred.nii.gz", pred, spacing_mm=spacing),
            write_volume(tmp_path / "gt.nii.gz", gt, spacing_mm=spacing))


def _numbers(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records with NaN as None and inf as "inf", as the JSON report writes them."""
    def norm(v: Any) -> Any:
        if isinstance(v, float) and math.isnan(v):
            return None
        if isinstance(v, float) and math.isinf(v):
            return "inf"
        return v
    return [{k: norm(v) for k, v in r.items() if k != "name"} for r in records]


def _cli(pred: Path, gt: Path, args: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["score", str(pred), str(gt), "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize(("args", "kwargs"), CASES)
def test_cli_and_api_give_the_same_numbers(case: tuple[Path, Path], args: list[str], kwargs: dict[str, Any]) -> None:
    pred, gt = case
    cli = _cli(pred, gt, args)
    report = segeval.score(pred, gt, **kwargs)
    api = json.loads(json.dumps(report.to_dict()))
    assert _numbers(cli["cases"][0]["labels"]) == _numbers(api["cases"][0]["labels"])
    assert cli["cases"][0]["spacing"] == api["cases"][0]["spacing"]
    assert cli["cases"][0]["generalized_dice"] == api["cases"][0]["generalized_dice"]
    assert cli["summary"] == api["summary"]
    for key in ("metrics", "alpha", "beta", "smooth", "empty", "tolerance_mm", "percentile", "spacing_mm",
                "inf_distance", "regions", "ignore_label", "include_background"):
        assert cli["settings"][key] == api["settings"][key], key


@pytest.mark.parametrize(("args", "kwargs"), CASES)
def test_paths_and_loaded_volumes_give_the_same_numbers(case: tuple[Path, Path], args: list[str],
                                                        kwargs: dict[str, Any]) -> None:
    pred, gt = case
    from_paths = segeval.score(pred, gt, **kwargs)
    from_volumes = segeval.score(read_volume(pred), read_volume(gt), **kwargs)
    assert _numbers(from_paths.cases[0].labels) == _numbers(from_volumes.cases[0].labels)
    assert from_paths.cases[0].spacing == from_volumes.cases[0].spacing


def test_spacing_override_replaces_a_file_header_everywhere(case: tuple[Path, Path]) -> None:
    pred, gt = case
    header = segeval.score(pred, gt, metrics="dice,hd").cases[0]
    forced = segeval.score(pred, gt, metrics="dice,hd", spacing_mm=(1.0, 1.0, 1.0)).cases[0]
    arrays = segeval.score(np.asarray(read_volume(pred).labels), np.asarray(read_volume(gt).labels),
                           metrics="dice,hd", spacing_mm=(1.0, 1.0, 1.0)).cases[0]
    assert header.spacing == [0.8, 0.7, 2.5] and forced.spacing == arrays.spacing == [1.0, 1.0, 1.0]
    assert [r["hd"] for r in forced.labels] == [r["hd"] for r in arrays.labels]
    assert [r["hd"] for r in forced.labels] != [r["hd"] for r in header.labels]
    assert [r["vol_gt_ml"] for r in forced.labels] == [r["vol_gt_ml"] for r in arrays.labels]
    assert any("--spacing (1, 1, 1) mm replaces the voxel spacing the file header gives, (0.8, 0.7, 2.5) mm" in n for n in forced.notes) and not arrays.notes
    cli = CliRunner().invoke(app, ["score", str(pred), str(gt), "--metrics", "dice,hd", "--spacing", "1,1,1",
                                   "--format", "json"])
    assert cli.exit_code == 0 and "--spacing (1, 1, 1) mm replaces the voxel spacing the file header gives" in cli.stderr
    from_cli = [r["hd"] for r in json.loads(cli.stdout)["cases"][0]["labels"]]
    assert from_cli == [r["hd"] for r in _numbers(forced.labels)]


def test_batch_gives_the_numbers_of_score(case: tuple[Path, Path], tmp_path: Path) -> None:
    pred, gt = case
    for folder, src in (("p", pred), ("g", gt)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "case.nii.gz").write_bytes(src.read_bytes())
    args = ["--metrics", "dice,hd95,nsd", "--spacing", "1,1,2", "--region", "both=1,2"]
    out = tmp_path / "batch.json"
    result = CliRunner().invoke(app, ["batch", str(tmp_path / "p"), str(tmp_path / "g"), "-o", str(out),
                                      "--jobs", "1", "-q", *args])
    assert result.exit_code == 0, result.output
    batch = json.loads(out.read_text())
    single = segeval.score(pred, gt, metrics="dice,hd95,nsd", spacing_mm="1,1,2", regions={"both": [1, 2]})
    assert _numbers(batch["cases"][0]["labels"]) == _numbers(json.loads(json.dumps(
        single.to_dict()))["cases"][0]["labels"])


@pytest.mark.parametrize(("args", "kwargs"), CASES)
def test_segeval_batch_is_the_batch_command(case: tuple[Path, Path], tmp_path: Path, args: list[str],
                                            kwargs: dict[str, Any]) -> None:
    """``segeval.batch(pred_dir, gt_dir, ...)`` writes the file ``segeval batch ... -o`` writes, byte for byte."""
    pred, gt = case
    for folder, src in (("p", pred), ("g", gt)):
        (tmp_path / folder).mkdir()
        for name in ("a.nii.gz", "b.nii.gz"):
            (tmp_path / folder / name).write_bytes(src.read_bytes())
    (tmp_path / "g" / "dataset.json").write_text('{"labels": {"background": 0, "liver": 1, "spleen": 2, '
                                                 '"tumour": 3}}')
    result = CliRunner().invoke(app, ["batch", str(tmp_path / "p"), str(tmp_path / "g"), "-o",
                                      str(tmp_path / "cli.json"), "--jobs", "1", "-q", *args])
    assert result.exit_code == 0, result.output
    report = segeval.batch(tmp_path / "p", tmp_path / "g", jobs=1, output=tmp_path / "api.json", **kwargs)
    assert [c.case for c in report.cases] == ["a", "b"]
    assert (tmp_path / "api.json").read_bytes() == (tmp_path / "cli.json").read_bytes()
    frame = report.to_frame(wide=True)
    assert list(frame.index) == ["a", "b"]
