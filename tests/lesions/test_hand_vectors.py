"""The issue's hand-checkable vectors (64³ grid at 1 mm; "cube n" is n³ voxels), values derived by hand.

Each row was also checked against the official code (BraTS-2023-Metrics,
BraTS-2024-Metrics, panoptica) by ``benchmarks/compare_lesions.py``; the
golden file of that run is compared in ``test_reference.py``.
"""

from __future__ import annotations

import math

import pytest

from segeval.lesions import LESION_METRICS, lesion_metrics
from tests.lesions.cases import hand_vectors

pytest.importorskip("cc3d", reason="lesion metrics need connected-components-3d (segeval[lesions])")

NAN, INF = math.nan, math.inf
T = 2 / 3  # F1 with one lesion found and one error: 2·1·½ / (1 + ½), or 1 / (1 + ½·1)

# (vector, protocol): (lesion_dice, lesion_hd95, tp, fp, fn, recall, precision, f1, sq, pq)
EXPECTED = {
    # cube 10 found exactly, a far cube 3 (27 voxels) predicted: BraTS counts the FP in the
    # denominator, Dice (1 + 0) / (1 + 1), HD95 (0 + 374) / 2; brats2024 keeps it (27 > 20), (0 + 337) / 2;
    # panoptica averages over the matched pair only: Dice 1, HD95 0; the FP shows in F1 = 2/3.
    ("far_fp27", "brats2023"): (0.5, 187.0, 1, 1, 0, 1.0, 0.5, T, 1.0, T),
    ("far_fp27", "brats2023-met"): (0.5, 187.0, 1, 1, 0, 1.0, 0.5, T, 1.0, T),
    ("far_fp27", "brats2024"): (0.5, 168.5, 1, 1, 0, 1.0, 0.5, T, 1.0, T),
    ("far_fp27", "panoptica"): (1.0, 0.0, 1, 1, 0, 1.0, 0.5, T, 1.0, T),
    ("far_fp27", "iou"): (1.0, 0.0, 1, 1, 0, 1.0, 0.5, T, 1.0, T),
    # an 8-voxel FP: still an FP in 2023 (no size filter on predictions); deleted by brats2024 (8 <= 20)
    ("far_fp8", "brats2023"): (0.5, 187.0, 1, 1, 0, 1.0, 0.5, T, 1.0, T),
    ("far_fp8", "brats2024"): (1.0, 0.0, 1, 0, 0, 1.0, 1.0, 1.0, 1.0, 1.0),
    ("far_fp8", "panoptica"): (1.0, 0.0, 1, 1, 0, 1.0, 0.5, T, 1.0, T),
    # two GT cubes 6 two voxels apart, both predicted: 3 dilations (and 1: the dilated cubes then
    # touch) merge them into one lesion; panoptica sees two lesions, two matches
    ("two_close_both", "brats2023"): (1.0, 0.0, 1, 0, 0, 1.0, 1.0, 1.0, 1.0, 1.0),
    ("two_close_both", "brats2023-men"): (1.0, 0.0, 1, 0, 0, 1.0, 1.0, 1.0, 1.0, 1.0),
    ("two_close_both", "panoptica"): (1.0, 0.0, 2, 0, 0, 1.0, 1.0, 1.0, 1.0, 1.0),
    # only the first cube predicted: BraTS's one lesion (432 voxels) against 216 predicted,
    # Dice 2·216 / 648 = 2/3, IoU 1/2; HD95 8: the far face of the second cube (x = 24 on the
    # corner grid, 36 of the lesion's 432 mm² of surface, more than 5 %) is 8 mm from the
    # prediction's face at x = 16. panoptica: one match (Dice 1), one miss, recall 1/2.
    ("two_close_first", "brats2023"): (T, 8.0, 1, 0, 0, 1.0, 1.0, 1.0, 0.5, 0.5),
    ("two_close_first", "panoptica"): (1.0, 0.0, 1, 0, 1, 0.5, 1.0, T, 1.0, T),
    # a 27-voxel GT lesion left unpredicted: under 2023's 50 mm³ it drops out; MET's threshold
    # is 2 and brats2024's 20, so there it is a miss (HD95 penalty 374 / 337 in the mean)
    ("small_missed", "brats2023"): (1.0, 0.0, 1, 0, 0, 1.0, 1.0, 1.0, 1.0, 1.0),
    ("small_missed", "brats2023-met"): (0.5, 187.0, 1, 0, 1, 0.5, 1.0, T, 1.0, T),
    ("small_missed", "brats2024"): (0.5, 168.5, 1, 0, 1, 0.5, 1.0, T, 1.0, T),
    ("small_missed", "panoptica"): (1.0, 0.0, 1, 0, 1, 0.5, 1.0, T, 1.0, T),
    # both empty: BraTS's L + FP = 0 rule gives Dice 1, HD95 0; panoptica has no instance: NaN
    ("both_empty", "brats2023"): (1.0, 0.0, 0, 0, 0, 1.0, 1.0, 1.0, 1.0, 1.0),
    ("both_empty", "panoptica"): (NAN, NAN, 0, 0, 0, NAN, NAN, NAN, NAN, NAN),
    # GT empty, a cube 2 predicted: one FP, Dice 0 / 1, HD95 374 / 1; recall undefined (no GT lesion);
    # brats2024 deletes it (8 <= 20), leaving nothing; panoptica: no pair, Dice 0, HD95 inf
    ("gt_empty_small_fp", "brats2023"): (0.0, 374.0, 0, 1, 0, NAN, 0.0, 0.0, 0.0, 0.0),
    ("gt_empty_small_fp", "brats2024"): (1.0, 0.0, 0, 0, 0, 1.0, 1.0, 1.0, 1.0, 1.0),
    ("gt_empty_small_fp", "panoptica"): (0.0, INF, 0, 1, 0, NAN, 0.0, 0.0, 0.0, 0.0),
    # cube 10 shifted one voxel: overlap 900, Dice 1800 / 2000, IoU 900 / 1100; no surface point
    # is more than 1 mm from the other surface, and the faces across x are exactly 1 apart: HD95 1
    ("shift1", "brats2023"): (0.9, 1.0, 1, 0, 0, 1.0, 1.0, 1.0, 9 / 11, 9 / 11),
    ("shift1", "panoptica"): (0.9, 1.0, 1, 0, 0, 1.0, 1.0, 1.0, 9 / 11, 9 / 11),
    ("shift1", "iou"): (0.9, 1.0, 1, 0, 0, 1.0, 1.0, 1.0, 9 / 11, 9 / 11),
}


@pytest.mark.parametrize(("vector", "protocol"), [pytest.param(*k, id=f"{k[0]}-{k[1]}") for k in EXPECTED])
def test_hand_vector(vector: str, protocol: str) -> None:
    pred, gt = hand_vectors()[vector]
    got = lesion_metrics(pred, gt, protocol=protocol, classes={"WT": (1, 2, 3)})["WT"]
    want = dict(zip(LESION_METRICS, EXPECTED[(vector, protocol)]))
    for key, value in want.items():
        assert got[key] == pytest.approx(value, nan_ok=True, rel=1e-12), key


def test_overrides_change_the_rule() -> None:
    pred, gt = hand_vectors()["small_missed"]
    # the 27-voxel lesion counts once the threshold is under it, and its miss costs the given penalty
    got = lesion_metrics(pred, gt, protocol="brats2023", min_volume_mm3=10, penalty_mm=100.0)[1]
    assert (got["lesion_fn"], got["lesion_dice"], got["lesion_hd95"]) == (1.0, 0.5, 50.0)
    pred, gt = hand_vectors()["two_close_both"]
    # no dilation: the two cubes are two lesions, each found
    got = lesion_metrics(pred, gt, protocol="brats2023", dilation=0)[1]
    assert got["lesion_tp"] == 2.0


def test_connectivity_splits_diagonal_neighbours() -> None:
    import numpy as np

    gt = np.zeros((8, 8, 8), np.uint8)
    gt[1, 1, 1] = gt[2, 2, 2] = 1  # touching by a corner only
    assert lesion_metrics(gt, gt, protocol="panoptica", connectivity=26)[1]["lesion_tp"] == 1.0
    assert lesion_metrics(gt, gt, protocol="panoptica", connectivity=6)[1]["lesion_tp"] == 2.0


def test_iou_threshold() -> None:
    pred, gt = hand_vectors()["shift1"]  # IoU 9/11 = 0.818
    assert lesion_metrics(pred, gt, protocol="iou", iou_threshold=0.8)[1]["lesion_tp"] == 1.0
    assert lesion_metrics(pred, gt, protocol="iou", iou_threshold=0.85)[1]["lesion_tp"] == 0.0
