"""Two small nnU-Net datasets, built the same way by the tests and by ``benchmarks/compare_nnunet.py``.

* ``labels``: liver 1, spleen 2, pancreas 3 (declared, absent from every
  volume) and ``"ignore": 4`` (the highest label, as nnU-Net requires),
  five cases: one prediction holds a stray label 8 the dataset does not
  declare, one prediction is empty.
* ``regions``: BraTS-style, ``"whole tumor": [1, 2, 3]``, ``"tumor core": [2, 3]``,
  ``"enhancing tumor": [3]``, four cases, one empty prediction.

Each is nnU-Net's layout: ``<root>/<name>/dataset.json`` beside ``labelsTs/``
(ground truth) and ``predictions/``. The expected ``summary.json`` that
nnU-Net's own evaluation writes for each is in ``tests/golden/nnunet/``
(``python benchmarks/compare_nnunet.py --update`` writes it anew, with nnU-Net
installed in a peers venv).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from segeval.io import write_volume

SHAPE = (24, 20, 16)
SPACING = (1.0, 1.2, 2.0)

LABEL_DATASET = {
    "channel_names": {"0": "CT"},
    "labels": {"background": 0, "liver": 1, "spleen": 2, "pancreas": 3, "ignore": 4},
    "numTraining": 0,
    "file_ending": ".nii.gz",
}
REGION_DATASET = {
    "channel_names": {"0": "FLAIR"},
    "labels": {"background": 0, "whole tumor": [1, 2, 3], "tumor core": [2, 3], "enhancing tumor": [3]},
    "regions_class_order": [1, 2, 3],
    "numTraining": 0,
    "file_ending": ".nii.gz",
}


def _blob(rng: np.random.Generator, centre: tuple[float, ...], radii: tuple[float, ...]) -> np.ndarray:
    grid = np.indices(SHAPE).astype(np.float64)
    noise = rng.normal(0, 0.08, SHAPE)
    d = sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii))
    return d + noise < 1.0


def _write_case(root: Path, case: str, pred: np.ndarray, gt: np.ndarray) -> None:
    write_volume(root / "labelsTs" / f"{case}.nii.gz", gt, spacing_mm=SPACING)
    write_volume(root / "predictions" / f"{case}.nii.gz", pred, spacing_mm=SPACING)


def _folders(root: Path, dataset: dict[str, object]) -> Path:
    for sub in ("labelsTs", "predictions"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "dataset.json").write_text(json.dumps(dataset, indent=2))
    return root


def make_label_dataset(root: Path) -> Path:
    """The ``labels`` dataset under ``root``; returns ``root``."""
    _folders(root, LABEL_DATASET)
    rng = np.random.default_rng(14)
    for i in range(5):
        gt = np.zeros(SHAPE, np.uint8)
        gt[_blob(rng, (8 + i, 9, 7), (6, 5, 4))] = 1
        gt[_blob(rng, (17, 11 - i % 2, 9), (3.5, 3, 3))] = 2
        gt[:, :3, :][gt[:, :3, :] == 0] = 4  # an ignored slab (e.g. outside the field of view)
        pred = np.zeros(SHAPE, np.uint8)
        pred[_blob(rng, (9 + i, 9, 7), (6, 5.5, 4))] = 1
        pred[_blob(rng, (17, 11, 9), (3, 3 + i % 3, 3))] = 2
        pred[:, :2, :4] = 1  # false positives, some inside the ignored slab
        if i == 2:
            pred[3:6, 15:18, 12:15] = 8  # a label the dataset does not declare
        if i == 4:
            pred[:] = 0  # an empty prediction
        _write_case(root, f"case_{i:03d}", pred, gt)
    return root


def make_region_dataset(root: Path) -> Path:
    """The ``regions`` dataset under ``root``; returns ``root``."""
    _folders(root, REGION_DATASET)
    rng = np.random.default_rng(2023)
    for i in range(4):
        gt = np.zeros(SHAPE, np.uint8)
        gt[_blob(rng, (12, 10, 8), (8, 7, 5))] = 2  # edema
        gt[_blob(rng, (12, 10, 8), (4.5, 4, 3))] = 1  # necrosis
        gt[_blob(rng, (13, 11, 8), (3, 2.5, 2)) & (i != 1)] = 3  # enhancing (absent from case 1)
        pred = np.zeros(SHAPE, np.uint8)
        pred[_blob(rng, (12 + i % 2, 10, 8), (8, 6.5, 5))] = 2
        pred[_blob(rng, (12, 10, 8), (4, 4, 3))] = 1
        pred[_blob(rng, (13, 11, 8), (2.5, 2.5, 2))] = 3
        if i == 3:
            pred[:] = 0
        _write_case(root, f"brats_{i:03d}", pred, gt)
    return root


DATASETS = {"labels": make_label_dataset, "regions": make_region_dataset}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    return bool(a == b)


def compare(ours: dict[str, Any], theirs: dict[str, Any]) -> tuple[int, list[str], list[str]]:
    """(numbers compared, differences, documented differences) between two summary.json dicts."""
    n = 0
    diffs: list[str] = []
    documented: list[str] = []
    by_file = {Path(c["reference_file"]).name: c for c in ours["metric_per_case"]}
    if sorted(by_file) != sorted(Path(c["reference_file"]).name for c in theirs["metric_per_case"]):
        diffs.append("the cases differ")
    for c in theirs["metric_per_case"]:
        mine = by_file.get(Path(c["reference_file"]).name, {"metrics": {}})
        if sorted(mine["metrics"]) != sorted(c["metrics"]):
            diffs.append(f"{Path(c['reference_file']).name}: keys {sorted(mine['metrics'])} vs {sorted(c['metrics'])}")
        for key, metrics in c["metrics"].items():
            for m, v in metrics.items():
                n += 1
                got = mine["metrics"].get(key, {}).get(m)
                if not _same(got, v):
                    diffs.append(f"{Path(c['reference_file']).name} {key} {m}: segeval {got}, nnU-Net {v}")
    for key, metrics in theirs["mean"].items():
        for m, v in metrics.items():
            n += 1
            got = ours["mean"].get(key, {}).get(m)
            if not _same(got, v):
                diffs.append(f"mean {key} {m}: segeval {got}, nnU-Net {v}")
    for m, v in theirs["foreground_mean"].items():
        n += 1
        got = ours["foreground_mean"].get(m)
        if not _same(got, v):
            # nnU-Net's np.mean over classes is NaN when one class is NaN in every case
            # (a label declared but absent from every volume); segeval leaves it out.
            nan_class = any(all(math.isnan(c["metrics"][k][m]) for c in theirs["metric_per_case"])
                            for k in theirs["mean"] if isinstance(v, float) and math.isnan(v))
            (documented if nan_class else diffs).append(f"foreground_mean {m}: segeval {got}, nnU-Net {v}")
    return n, diffs, documented
