"""Cases on disk for the batch tests: tiny (pred, gt) pairs, a messy scenario, clean folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from segeval.batching import pair_cases, run_batch
from segeval.io import write_volume
from segeval.records import CaseResult
from segeval.settings import ScoreSettings

SPACING = (0.8, 0.8, 2.0)
SHAPE = (16, 16, 8)


def case_pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A tiny (pred, gt) pair with labels 1..3 that differs from case to case."""
    rng = np.random.default_rng(seed)
    gt = np.zeros(SHAPE, np.uint8)
    gt[2:9, 2:9, 1:6] = 1
    gt[10:14, 3:7, 2:5] = 2
    if seed % 2:
        gt[4:6, 11:14, 2:4] = 3
    pred = gt.copy()
    shift = int(rng.integers(1, 3))
    pred[2:9, 2:9, 1:6] = 0
    pred[2 + shift : 9 + shift, 2:9, 1:6] = 1
    pred[rng.integers(0, 16), rng.integers(0, 16), rng.integers(0, 8)] = 2
    return pred, gt


def make_scenario(root: Path) -> dict[str, Any]:
    """pred/ and gt/ with 8 GT cases: two without prediction, one extra prediction,
    one corrupt prediction, one geometry mismatch, mixed formats and an nnU-Net ``_0000`` tag."""
    pred_dir, gt_dir = root / "pred", root / "gt"
    pred_dir.mkdir(parents=True)
    gt_dir.mkdir(parents=True)
    for i in range(8):
        pred, gt = case_pair(i)
        gt_name = f"case_{i:02d}.nrrd" if i == 1 else f"case_{i:02d}.nii.gz"
        write_volume(gt_dir / gt_name, gt, spacing_mm=SPACING)
        if i >= 6:
            continue  # case_06, case_07: no prediction
        pred_name = f"case_{i:02d}_0000.nii.gz" if i == 2 else f"case_{i:02d}.nii.gz"
        if i == 3:
            (pred_dir / pred_name).write_bytes(b"\x1f\x8b\x08\x00garbage, not a volume")
        elif i == 4:
            write_volume(pred_dir / pred_name, pred, spacing_mm=(1.0, 0.8, 2.0))
        else:
            write_volume(pred_dir / pred_name, pred, spacing_mm=SPACING)
    write_volume(pred_dir / "case_99.nii.gz", case_pair(99)[0], spacing_mm=SPACING)
    return {"pred": pred_dir, "gt": gt_dir, "ok": ["case_00", "case_01", "case_02", "case_05"],
            "corrupt": "case_03", "mismatch": "case_04", "missing": ["case_06", "case_07"]}


def make_clean(root: Path, n: int) -> tuple[Path, Path]:
    """``n`` good cases in pred/ and gt/."""
    pred_dir, gt_dir = root / "pred", root / "gt"
    pred_dir.mkdir(parents=True)
    gt_dir.mkdir(parents=True)
    for i in range(n):
        pred, gt = case_pair(i)
        write_volume(pred_dir / f"case_{i:03d}.nii.gz", pred, spacing_mm=SPACING)
        write_volume(gt_dir / f"case_{i:03d}.nii.gz", gt, spacing_mm=SPACING)
    return pred_dir, gt_dir


def _scored(tmp_path: Path, n: int = 4) -> tuple[list[CaseResult], ScoreSettings]:
    pred_dir, gt_dir = make_clean(tmp_path / "data", n)
    settings = ScoreSettings()
    results = sorted(run_batch(pair_cases(pred_dir, gt_dir).tasks(), settings, jobs=1), key=lambda r: r.case)
    return results, settings
