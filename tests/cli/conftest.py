"""Fixtures for CLI tests: a small two-organ case written to disk in every format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segeval.io import write_volume

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/ from the current output")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def check_golden(name: str, text: str, update: bool) -> None:
    """``text`` must equal ``tests/golden/<name>``; with ``--update-golden`` it replaces the file."""
    path = GOLDEN / name
    if update:
        path.write_text(text)
    assert path.exists(), f"{path} missing: run pytest --update-golden"
    assert text == path.read_text(), f"{name} differs from the golden file (pytest --update-golden to accept)"


def case_arrays() -> tuple[np.ndarray, np.ndarray]:
    """gt: a 6x6x4 block (label 1) and a 3x3x2 block (label 2); pred: shifted by one voxel, label 2 halved."""
    gt = np.zeros((16, 12, 8), np.uint8)
    gt[2:8, 2:8, 2:6] = 1
    gt[10:13, 6:9, 3:5] = 2
    pred = np.zeros_like(gt)
    pred[3:9, 2:8, 2:6] = 1
    pred[10:13, 6:9, 3:4] = 2
    pred[14, 1, 1] = 3  # a false-positive class
    return pred, gt


@pytest.fixture
def case_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """The case in NIfTI (gz), NRRD and NumPy, with a label-name file; cwd is tmp_path."""
    monkeypatch.chdir(tmp_path)
    pred, gt = case_arrays()
    files = {
        "pred": write_volume(Path("pred.nii.gz"), pred, spacing_mm=(0.8, 0.8, 2.0)),
        "gt": write_volume(Path("gt.nii.gz"), gt, spacing_mm=(0.8, 0.8, 2.0)),
        "gt_nrrd": write_volume(Path("gt.nrrd"), gt, spacing_mm=(0.8, 0.8, 2.0)),
        "pred_npy": write_volume(Path("pred.npy"), pred),
        "gt_npy": write_volume(Path("gt.npy"), gt),
        "gt_coarse": write_volume(Path("gt_coarse.nii.gz"), gt, spacing_mm=(1.0, 0.8, 2.0)),
    }
    names = tmp_path / "names.json"
    names.write_text('{"labels": {"background": 0, "liver": 1, "spleen": 2, "tumour": 3}}')
    files["names"] = Path("names.json")
    return files
