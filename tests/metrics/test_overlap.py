"""Overlap metrics on label maps: hand-computed values, every empty case, smoothing,
regions, the ignore label, generalized Dice, agreement with SimpleITK and a per-label
NumPy loop, and Hypothesis properties."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import SimpleITK as sitk
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import segeval
from segeval.errors import OptionError
from segeval.metrics.confusion import joint_counts
from segeval.metrics.overlap import (
    OVERLAP_METRICS,
    generalized_dice,
    generalized_dice_from_counts,
    overlap_from_counts,
)
from tests.metrics.test_confusion import DTYPE_CASES, Case

ALL = ",".join(OVERLAP_METRICS)


def records(pred: object, gt: object, **kw: object) -> list[dict]:
    """Per-class records of segeval.score, every overlap metric."""
    kw.setdefault("metrics", ALL)
    return segeval.score(pred, gt, **kw).cases[0].labels  # type: ignore[arg-type]


# --------------------------------------------------------------------------- hand-computed

# One row of 10 voxels: TP 3, FN 2, FP 1, TN 4 for label 1.
GT_ROW = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
PRED_ROW = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]


def _hand_pair() -> tuple[np.ndarray, np.ndarray]:
    return np.array(PRED_ROW, np.uint8).reshape(1, 2, 5), np.array(GT_ROW, np.uint8).reshape(1, 2, 5)


@pytest.mark.parametrize(
    "key, expected",
    [
        pytest.param("dice", 6 / 9, id="dice-2TP/(2TP+FP+FN)"),
        pytest.param("iou", 3 / 6, id="iou-TP/(TP+FP+FN)"),
        pytest.param("tversky", 3 / (3 + 0.3 * 1 + 0.7 * 2), id="tversky-alpha-on-FP-beta-on-FN"),
        pytest.param("precision", 3 / 4, id="precision"),
        pytest.param("recall", 3 / 5, id="recall"),
        pytest.param("specificity", 4 / 5, id="specificity"),
        pytest.param("volume_similarity", 1 - 1 / 9, id="volume_similarity"),
        pytest.param("tp", 3, id="tp"),
        pytest.param("fp", 1, id="fp"),
        pytest.param("fn", 2, id="fn"),
        pytest.param("tn", 4, id="tn"),
        # 2 x 2 x 3 mm voxels = 12 mm^3 = 0.012 ml
        pytest.param("vol_pred_ml", 4 * 0.012, id="vol_pred_ml-anisotropic"),
        pytest.param("vol_gt_ml", 5 * 0.012, id="vol_gt_ml-anisotropic"),
    ],
)
def test_hand_computed_values(key: str, expected: float) -> None:
    pred, gt = _hand_pair()
    (rec,) = records(pred, gt, spacing_mm=(2.0, 2.0, 3.0))
    assert rec["label"] == 1
    assert rec[key] == pytest.approx(expected, rel=1e-12)
    if key in ("tp", "fp", "fn", "tn"):
        assert isinstance(rec[key], int)


def test_array_functions_match_the_hand_values() -> None:
    pred, gt = _hand_pair()
    np.testing.assert_allclose(segeval.dice(pred, gt), [6 / 9])
    np.testing.assert_allclose(segeval.iou(pred=pred, gt=gt), [0.5])
    np.testing.assert_allclose(segeval.tversky(pred, gt), [3 / 4.7])  # default alpha 0.3, beta 0.7
    # alpha weighs FP (1 voxel), beta FN (2 voxels): swapping them changes the value.
    np.testing.assert_allclose(segeval.tversky(pred, gt, alpha=0.7, beta=0.3), [3 / (3 + 0.7 + 0.6)])
    np.testing.assert_allclose(segeval.tversky(pred, gt, alpha=1.0, beta=0.0), [3 / 4])  # precision
    np.testing.assert_allclose(segeval.tversky(pred, gt, alpha=0.0, beta=1.0), [3 / 5])  # recall


def test_volumes_with_2mm_isotropic_voxels() -> None:
    pred, gt = _hand_pair()
    (rec,) = records(pred, gt, spacing_mm=(2.0, 2.0, 2.0))
    assert rec["vol_pred_ml"] == pytest.approx(4 * 0.008)
    assert rec["vol_gt_ml"] == pytest.approx(5 * 0.008)


def test_overlap_from_counts_is_vectorized() -> None:
    out = overlap_from_counts(np.array([3, 0, 0]), np.array([1, 4, 0]), np.array([2, 0, 0]),
                              np.array([4, 6, 10]), empty="one")
    np.testing.assert_allclose(out["dice"], [6 / 9, 0.0, 1.0])
    np.testing.assert_allclose(out["specificity"], [0.8, 0.6, 1.0])
    assert set(out) == set(OVERLAP_METRICS)
    assert all(v.dtype == np.float64 for v in out.values())


# --------------------------------------------------------------------------- empty cases

_E = {"nan": math.nan, "one": 1.0, "zero": 0.0}
_SCORES = ("dice", "iou", "tversky", "precision", "recall", "volume_similarity")


def _row(ones: int, start: int = 0) -> np.ndarray:
    a = np.zeros((1, 10), np.uint8)
    a[0, start : start + ones] = 1
    return a


EMPTY_CASES = [
    # pred empty, gt not: every ratio 0 (the zero denominators of precision are not "both empty")
    pytest.param(_row(0), _row(5), {**dict.fromkeys(_SCORES, 0.0), "specificity": 1.0},
                 (0, 0, 5, 5), id="pred-empty"),
    # gt empty, pred not: 0 everywhere, recall's 0/0 included; specificity TN/(TN+FP) = 6/10
    pytest.param(_row(4), _row(0), {**dict.fromkeys(_SCORES, 0.0), "specificity": 0.6},
                 (0, 4, 0, 6), id="gt-empty"),
]


@pytest.mark.parametrize("empty", ["nan", "one", "zero"])
@pytest.mark.parametrize("pred, gt, expected, counts", EMPTY_CASES)
def test_one_mask_empty_scores_zero_under_every_policy(pred: np.ndarray, gt: np.ndarray,
                                                       expected: dict, counts: tuple, empty: str) -> None:
    (rec,) = records(pred, gt, labels=[1], empty=empty)
    assert (rec["tp"], rec["fp"], rec["fn"], rec["tn"]) == counts
    for key, value in expected.items():
        assert rec[key] == pytest.approx(value), key


@pytest.mark.parametrize("empty", [pytest.param(e, id=f"empty-{e}") for e in ("nan", "one", "zero")])
def test_both_empty_follows_the_policy(empty: str) -> None:
    z = np.zeros((2, 5), np.uint8)
    (rec,) = records(z, z, labels=[1], empty=empty)
    assert (rec["tp"], rec["fp"], rec["fn"], rec["tn"]) == (0, 0, 0, 10)
    for key in _SCORES:
        np.testing.assert_equal(rec[key], _E[empty], err_msg=key)
    # TN / (TN + FP) has a non-zero denominator: 1, whatever the policy.
    assert rec["specificity"] == 1.0
    np.testing.assert_equal(segeval.dice(z, z, labels=[1], empty=empty), [_E[empty]])
    np.testing.assert_equal(segeval.iou(z, z, labels=[1], empty=empty), [_E[empty]])
    np.testing.assert_equal(segeval.tversky(z, z, labels=[1], empty=empty), [_E[empty]])


def test_zero_denominator_without_both_empty_is_zero() -> None:
    # alpha = 0 and only false positives: TP + 0 FP + beta FN = 0, yet pred is not empty.
    pred, gt = _row(3), _row(0)
    np.testing.assert_equal(segeval.tversky(pred, gt, labels=[1], alpha=0.0, beta=0.7, empty="one"), [0.0])
    # ... and alpha = beta = 0 with overlap is a perfect 1.
    np.testing.assert_equal(segeval.tversky(_row(3), _row(5), labels=[1], alpha=0.0, beta=0.0), [1.0])


def test_all_background_volumes_score_no_label_by_default() -> None:
    z = np.zeros((3, 3), np.int32)
    assert segeval.dice(z, z).shape == (0,)
    assert records(z, z) == []


# --------------------------------------------------------------------------- smoothing


@pytest.mark.parametrize(
    "pred, gt, expected",
    [
        pytest.param(*_hand_pair(), {"dice": 7 / 10, "iou": 4 / 7, "tversky": 4 / 5.7,
                                                  "precision": 3 / 4, "recall": 3 / 5}, id="overlap"),
        pytest.param(_row(0), _row(5), {"dice": 1 / 6, "iou": 1 / 6, "tversky": 1 / (0.7 * 5 + 1),
                                        "precision": 0.0}, id="pred-empty"),
        pytest.param(_row(0), _row(0), {"dice": 1.0, "iou": 1.0, "tversky": 1.0, "precision": math.nan},
                     id="both-empty-smoothed-to-one"),
    ],
)
def test_smoothing(pred: np.ndarray, gt: np.ndarray, expected: dict) -> None:
    (rec,) = records(pred, gt, labels=[1], smooth=1.0)
    for key, value in expected.items():
        np.testing.assert_allclose(rec[key], value, err_msg=key)
    np.testing.assert_allclose(segeval.dice(pred, gt, labels=[1], smooth=1.0), [expected["dice"]])
    np.testing.assert_allclose(segeval.iou(pred, gt, labels=[1], smooth=1.0), [expected["iou"]])


# --------------------------------------------------------------------------- regions, ignore label


def test_regions_are_unions_of_labels(rng: np.random.Generator) -> None:
    gt = rng.integers(0, 4, size=(10, 9, 8)).astype(np.uint8)
    pred = rng.integers(0, 4, size=(10, 9, 8)).astype(np.uint8)
    recs = records(pred, gt, regions={"WT": [1, 2, 3], "TC": [2, 3]}, spacing_mm=(2.0, 2.0, 2.0))
    by_key = {r["label"]: r for r in recs}
    assert [r["label"] for r in recs] == [1, 2, 3, "WT", "TC"]
    for name, members in (("WT", [1, 2, 3]), ("TC", [2, 3])):
        p, g = np.isin(pred, members), np.isin(gt, members)
        (mask_rec,) = records(p, g, spacing_mm=(2.0, 2.0, 2.0))  # bool label maps: label 1
        region = by_key[name]
        assert region["members"] == members and region["name"] == name
        for key in (*OVERLAP_METRICS, "tp", "fp", "fn", "tn", "vol_pred_ml", "vol_gt_ml"):
            assert region[key] == pytest.approx(mask_rec[key]), (name, key)


def test_ignore_label_is_excluded_from_every_count() -> None:
    gt = np.array([[1, 1, 255, 255, 0, 0]], np.uint8)
    pred = np.array([[1, 0, 1, 1, 1, 0]], np.uint8)
    (rec,) = records(pred, gt, ignore_label=255, spacing_mm=(1.0, 1.0))
    # Kept voxels: (gt, pred) = (1, 1) (1, 0) (0, 1) (0, 0).
    assert (rec["tp"], rec["fp"], rec["fn"], rec["tn"]) == (1, 1, 1, 1)
    assert rec["dice"] == 0.5 and rec["specificity"] == 0.5
    assert rec["vol_pred_ml"] == pytest.approx(0.002)
    np.testing.assert_allclose(segeval.dice(pred, gt, ignore_label=255), [0.5])
    # Without it, the two predictions on 255 are false positives and 255 a label.
    unignored = records(pred, gt, spacing_mm=(1.0, 1.0))
    assert [r["label"] for r in unignored] == [1, 255]
    assert (unignored[0]["fp"], unignored[0]["tn"]) == (3, 1)


def test_ignore_label_in_pred_only_is_counted_where_gt_is_not_ignored() -> None:
    gt = np.array([[1, 1, 0, 0]], np.int16)
    pred = np.array([[1, 9, 9, 0]], np.int16)
    (rec,) = records(pred, gt, ignore_label=9)
    assert (rec["tp"], rec["fp"], rec["fn"], rec["tn"]) == (1, 0, 1, 2)


# --------------------------------------------------------------------------- generalized Dice


def test_generalized_dice_hand_computed_with_absent_class() -> None:
    # A: gt 2, TP 2, FP 2 (w = 1/4); B: gt 4, TP 2, FN 2 (w = 1/16);
    # C: absent from gt, FP 1 -> the largest finite weight, 1/4.
    tp, fp, fn = np.array([2, 2, 0]), np.array([2, 0, 1]), np.array([0, 2, 0])
    num = 2 * (2 / 4 + 2 / 16)
    den = (2 * 2 + 2) / 4 + (2 * 2 + 2) / 16 + 1 / 4
    assert float(generalized_dice_from_counts(tp, fp, fn)) == pytest.approx(num / den)
    # The same from label maps (A = 1, B = 2, C = 3) and in the case record.
    gt = np.array([[1, 1, 0, 0, 0, 2, 2, 2, 2, 0]])
    pred = np.array([[1, 1, 1, 1, 3, 2, 2, 0, 0, 0]])
    assert float(generalized_dice(pred, gt)) == pytest.approx(num / den)
    assert segeval.score(pred, gt).cases[0].generalized_dice == pytest.approx(num / den)


def test_generalized_dice_eps_form() -> None:
    tp, fp, fn = np.array([2.0, 2.0, 0.0]), np.array([2.0, 0.0, 1.0]), np.array([0.0, 2.0, 0.0])
    eps = 1e-5
    w = 1 / ((tp + fn) ** 2 + eps)
    want = 2 * np.sum(w * tp) / np.sum(w * (2 * tp + fp + fn))
    assert float(generalized_dice_from_counts(tp, fp, fn, eps=eps)) == pytest.approx(want)


@pytest.mark.parametrize(
    "pred, gt, expected",
    [
        pytest.param(np.array([[1, 2, 0]]), np.array([[1, 2, 0]]), 1.0, id="perfect"),
        pytest.param(np.array([[0, 0, 0]]), np.array([[0, 0, 0]]), math.nan, id="all-background-nan"),
        pytest.param(np.array([[1, 1, 0]]), np.array([[0, 0, 0]]), 0.0, id="no-gt-class-at-all"),
        pytest.param(np.array([[0, 0, 0]]), np.array([[1, 2, 0]]), 0.0, id="pred-empty"),
    ],
)
def test_generalized_dice_edge_cases(pred: np.ndarray, gt: np.ndarray, expected: float) -> None:
    np.testing.assert_equal(float(generalized_dice(pred, gt)), expected)


def test_generalized_dice_with_labels_and_ignore() -> None:
    gt = np.array([[1, 1, 2, 9, 9]])
    pred = np.array([[1, 0, 2, 2, 1]])
    # labels [1, 2] with 9 ignored: class 1 TP 1 FN 1 (w 1/4), class 2 TP 1 (w 1)
    want = 2 * (1 / 4 + 1) / ((2 + 1) / 4 + 2)
    assert float(generalized_dice(pred, gt, labels=[1, 2], ignore_label=9)) == pytest.approx(want)


# --------------------------------------------------------------------------- oracles


def loop_metrics(pred: np.ndarray, gt: np.ndarray, label: int, alpha: float = 0.3,
                 beta: float = 0.7) -> dict[str, float]:
    """DESIGN.md's formulas, one label at a time, in plain Python numbers."""
    p = np.asarray(pred).astype(np.int64) == label
    g = np.asarray(gt).astype(np.int64) == label
    tp, fp = int(np.sum(p & g)), int(np.sum(p & ~g))
    fn, tn = int(np.sum(~p & g)), int(np.sum(~p & ~g))
    if tp + fp + fn == 0:
        nan = math.nan
        return {"dice": nan, "iou": nan, "tversky": nan, "precision": nan, "recall": nan,
                "specificity": 1.0, "volume_similarity": nan, "tp": tp, "fp": fp, "fn": fn, "tn": tn}

    def div(a: float, b: float) -> float:
        return a / b if b else 0.0

    return {
        "dice": 2 * tp / (2 * tp + fp + fn),
        "iou": tp / (tp + fp + fn),
        "tversky": div(tp, tp + alpha * fp + beta * fn),
        "precision": div(tp, tp + fp),
        "recall": div(tp, tp + fn),
        "specificity": div(tn, tn + fp),
        "volume_similarity": 1 - abs((tp + fp) - (tp + fn)) / ((tp + fp) + (tp + fn)),
        "tp": tp, "fp": fp, "fn": fn, "tn": tn,
    }


def _check_against_loop(pred: np.ndarray, gt: np.ndarray, recs: list[dict], labels: list[int]) -> None:
    assert [r["label"] for r in recs] == labels
    for rec, label in zip(recs, labels):
        want = loop_metrics(pred, gt, label)
        for key, value in want.items():
            np.testing.assert_allclose(rec[key], value, rtol=1e-12, err_msg=f"label {label} {key}")


@pytest.mark.parametrize("make", DTYPE_CASES)
def test_per_label_metrics_match_a_numpy_loop(make: Case, rng: np.random.Generator) -> None:
    pred, gt = make(rng)
    union = np.union1d(np.asarray(pred).astype(np.int64), np.asarray(gt).astype(np.int64))
    default = [int(v) for v in union if v > 0]
    _check_against_loop(pred, gt, records(pred, gt), default)
    # Every value, 0 and negatives included, when asked for.
    everything = [int(v) for v in union]
    _check_against_loop(pred, gt, records(pred, gt, labels=everything), everything)
    d = segeval.dice(pred, gt, labels=everything)
    np.testing.assert_allclose(d, [loop_metrics(pred, gt, v)["dice"] for v in everything], rtol=1e-12)


def _itk_case(values: list[int], dtype: object, pred_only: int | None = None,
              gt_only: int | None = None) -> Case:
    def make(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        gt = rng.choice(np.asarray(values + ([gt_only] if gt_only is not None else [])), size=(14, 12, 10))
        pred = rng.choice(np.asarray(values + ([pred_only] if pred_only is not None else [])), size=gt.shape)
        # Blobs, so that overlaps are not all near chance.
        pred[:7] = gt[:7]
        return pred.astype(dtype), gt.astype(dtype)
    return make


ITK_CASES = [
    pytest.param(_itk_case([0, 1, 2, 3], np.uint8), id="uint8"),
    pytest.param(_itk_case([0, 1, 7, 1000, 65535], np.uint16), id="uint16-sparse"),
    pytest.param(_itk_case([-300, -1, 0, 5], np.int16), id="int16-negative"),
    pytest.param(_itk_case([0, 10**6, 10**6 + 1], np.int32), id="int32-1e6"),
    pytest.param(_itk_case([0, 5, 2**32 - 1], np.uint32), id="uint32-large"),
    pytest.param(_itk_case([0, 3, 5_000_000], np.int64), id="int64-range-over-4M"),
    pytest.param(_itk_case([0, 1, 2], np.uint8, pred_only=9, gt_only=4), id="labels-in-one-volume-only"),
]


@pytest.mark.parametrize("make", ITK_CASES)
def test_agreement_with_simpleitk_label_overlap(make: Case, rng: np.random.Generator) -> None:
    """ITK (source = pred, target = gt): FalseNegativeError = 1 - recall, FalsePositiveError =
    FP / |not gt| = 1 - specificity, FalseDiscoveryRate = 1 - precision, and a SIGNED
    VolumeSimilarity 2 (Vp - Vg) / (Vp + Vg), where ours is 1 - |Vp - Vg| / (Vp + Vg)."""
    pred, gt = make(rng)
    f = sitk.LabelOverlapMeasuresImageFilter()
    f.Execute(sitk.GetImageFromArray(pred), sitk.GetImageFromArray(gt))
    every = [int(v) for v in np.union1d(pred, gt)]  # 0 and negative labels included
    recs = records(pred, gt, labels=every)
    for rec in recs:
        label = rec["label"]
        assert rec["dice"] == pytest.approx(f.GetDiceCoefficient(label), abs=1e-12)
        assert rec["iou"] == pytest.approx(f.GetJaccardCoefficient(label), abs=1e-12)
        vs = f.GetVolumeSimilarity(label)
        assert rec["volume_similarity"] == pytest.approx(1 - abs(vs) / 2, abs=1e-12)
        vp, vg = rec["tp"] + rec["fp"], rec["tp"] + rec["fn"]
        assert math.copysign(1, vs) == math.copysign(1, vp - vg) or vs == 0
        if vg:  # ITK divides by zero otherwise
            assert 1 - rec["recall"] == pytest.approx(f.GetFalseNegativeError(label), abs=1e-12)
        if vp:
            assert 1 - rec["precision"] == pytest.approx(f.GetFalseDiscoveryRate(label), abs=1e-12)
        assert 1 - rec["specificity"] == pytest.approx(f.GetFalsePositiveError(label), abs=1e-12)


# --------------------------------------------------------------------------- properties

# Every overlap metric must be listed in each table below (tests/metrics/test_registry.py checks
# it against the registry), so that a new metric cannot ship without properties.
BOUNDED: tuple[str, ...] = ("dice", "iou", "tversky", "precision", "recall", "specificity",
                            "volume_similarity")
RELABEL_INVARIANT: tuple[str, ...] = BOUNDED
SYMMETRIC: tuple[str, ...] = ("dice", "iou", "volume_similarity")
# metric(pred, gt) == partner(gt, pred); tversky's partner swaps alpha and beta; None: no partner.
SWAP_PARTNER: dict[str, str | None] = {
    **{m: m for m in SYMMETRIC},
    "precision": "recall",
    "recall": "precision",
    "tversky": "tversky",
    "specificity": None,
}


def _identity_dice(m: dict, inv: dict, alpha: float, beta: float) -> None:
    # dice == tversky(0.5, 0.5)
    np.testing.assert_allclose(m["dice"], inv["tversky_half"], rtol=1e-12)


def _identity_iou(m: dict, inv: dict, alpha: float, beta: float) -> None:
    # iou == tversky(1, 1) == dice / (2 - dice)
    np.testing.assert_allclose(m["iou"], inv["tversky_one"], rtol=1e-12)
    np.testing.assert_allclose(m["iou"], m["dice"] / (2 - m["dice"]), rtol=1e-12)


def _identity_tversky(m: dict, inv: dict, alpha: float, beta: float) -> None:
    # tversky == TP / (TP + alpha FP + beta FN), from the counts
    tp, fp, fn = (m[k].astype(float) for k in ("tp", "fp", "fn"))
    den = tp + alpha * fp + beta * fn
    both = tp + fp + fn == 0
    want = np.where(both, np.nan, np.divide(tp, den, out=np.zeros_like(tp), where=den > 0))
    np.testing.assert_allclose(m["tversky"], want, rtol=1e-12)


def _identity_precision(m: dict, inv: dict, alpha: float, beta: float) -> None:
    # precision == tversky(alpha=1, beta=0) wherever something is predicted
    has = (m["tp"] + m["fp"]) > 0
    np.testing.assert_allclose(m["precision"][has], inv["tversky_10"][has], rtol=1e-12)


def _identity_recall(m: dict, inv: dict, alpha: float, beta: float) -> None:
    # recall == tversky(alpha=0, beta=1) wherever gt is present
    has = (m["tp"] + m["fn"]) > 0
    np.testing.assert_allclose(m["recall"][has], inv["tversky_01"][has], rtol=1e-12)


def _identity_specificity(m: dict, inv: dict, alpha: float, beta: float) -> None:
    # specificity of c == recall of "not c" (where there are negatives at all)
    has = (m["tn"] + m["fp"]) > 0
    np.testing.assert_allclose(m["specificity"][has], inv["complement_recall"][has], rtol=1e-12)


def _identity_volume_similarity(m: dict, inv: dict, alpha: float, beta: float) -> None:
    # 1 - |Vp - Vg| / (Vp + Vg)
    vp, vg = m["tp"] + m["fp"], m["tp"] + m["fn"]
    with np.errstate(invalid="ignore", divide="ignore"):
        want = 1 - np.abs(vp - vg) / (vp + vg)
    np.testing.assert_allclose(m["volume_similarity"], want, rtol=1e-12)


IDENTITIES: dict[str, Callable[[dict, dict, float, float], None]] = {
    "dice": _identity_dice,
    "iou": _identity_iou,
    "tversky": _identity_tversky,
    "precision": _identity_precision,
    "recall": _identity_recall,
    "specificity": _identity_specificity,
    "volume_similarity": _identity_volume_similarity,
}


def _metrics(pred: np.ndarray, gt: np.ndarray, labels: list[int], alpha: float = 0.3,
             beta: float = 0.7, empty: str = "nan") -> dict[str, np.ndarray]:
    recs = records(pred, gt, labels=labels, alpha=alpha, beta=beta, empty=empty)
    return {k: np.array([r[k] for r in recs]) for k in (*OVERLAP_METRICS, "tp", "fp", "fn", "tn")}


@st.composite
def label_maps(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=5))
    pred = draw(hnp.arrays(np.uint8, shape, elements=st.integers(0, 4)))
    gt = draw(hnp.arrays(np.uint8, shape, elements=st.integers(0, 4)))
    return pred, gt


weights = st.floats(0.0, 2.0, allow_nan=False)
LABELS = [1, 2, 3, 4]


@settings(max_examples=40, deadline=None)
@given(pair=label_maps(), alpha=weights, beta=weights)
def test_property_swap_symmetry(pair: tuple[np.ndarray, np.ndarray], alpha: float, beta: float) -> None:
    pred, gt = pair
    fwd = _metrics(pred, gt, LABELS, alpha, beta)
    back = _metrics(gt, pred, LABELS, beta, alpha)
    for name, partner in SWAP_PARTNER.items():
        if partner is not None:
            np.testing.assert_allclose(fwd[name], back[partner], rtol=1e-12, err_msg=name)
    for name in SYMMETRIC:
        assert SWAP_PARTNER[name] == name
    np.testing.assert_allclose(segeval.dice(pred, gt, labels=LABELS), segeval.dice(gt, pred, labels=LABELS))


@settings(max_examples=40, deadline=None)
@given(pair=label_maps(), alpha=weights, beta=weights, empty=st.sampled_from(["nan", "one", "zero"]))
def test_property_bounds(pair: tuple[np.ndarray, np.ndarray], alpha: float, beta: float, empty: str) -> None:
    pred, gt = pair
    m = _metrics(pred, gt, LABELS, alpha, beta, empty)
    both_empty = (m["tp"] + m["fp"] + m["fn"]) == 0
    no_negatives = (m["tn"] + m["fp"]) == 0  # the class fills the image: specificity is undefined
    for name in BOUNDED:
        v = m[name]
        finite = v[~np.isnan(v)]
        assert np.all((finite >= 0) & (finite <= 1)), name
        undefined = no_negatives if name == "specificity" else np.zeros_like(no_negatives)
        if empty != "nan":
            assert not np.isnan(v[~undefined]).any(), name
        else:
            assert np.all((both_empty | undefined)[np.isnan(v)]), f"{name}: NaN only when both are empty"
    assert np.all(np.isnan(m["specificity"][no_negatives]))


@settings(max_examples=40, deadline=None)
@given(pair=label_maps(), alpha=weights, beta=weights)
def test_property_identities(pair: tuple[np.ndarray, np.ndarray], alpha: float, beta: float) -> None:
    pred, gt = pair
    m = _metrics(pred, gt, LABELS, alpha, beta)

    def tversky(a: float, b: float) -> np.ndarray:
        return overlap_from_counts(m["tp"], m["fp"], m["fn"], alpha=a, beta=b, metrics=["tversky"])["tversky"]

    # "not c" as a region of every other value, scored in one call
    others = {f"not{c}": [v for v in range(5) if v != c] for c in LABELS}
    complements = records(pred, gt, labels=[], regions=others)
    inv = {
        "tversky_half": tversky(0.5, 0.5),
        "tversky_one": tversky(1.0, 1.0),
        "tversky_10": tversky(1.0, 0.0),
        "tversky_01": tversky(0.0, 1.0),
        "complement_recall": np.array([r["recall"] for r in complements]),
    }
    for check in IDENTITIES.values():
        check(m, inv, alpha, beta)
    np.testing.assert_allclose(segeval.dice(pred, gt, labels=LABELS),
                               segeval.tversky(pred, gt, labels=LABELS, alpha=0.5, beta=0.5), rtol=1e-12)
    np.testing.assert_allclose(segeval.iou(pred, gt, labels=LABELS),
                               segeval.tversky(pred, gt, labels=LABELS, alpha=1.0, beta=1.0), rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    pair=label_maps(),
    targets=st.lists(st.integers(0, 2**20), min_size=5, max_size=5, unique=True),
    alpha=weights,
    beta=weights,
)
def test_property_relabelling_permutes_the_results(pair: tuple[np.ndarray, np.ndarray], targets: list[int],
                                                   alpha: float, beta: float) -> None:
    pred, gt = pair
    lut = np.asarray(targets, dtype=np.int32)  # value v becomes targets[v], in both volumes
    before = _metrics(pred, gt, [0, 1, 2, 3, 4], alpha, beta)
    after = _metrics(lut[pred], lut[gt], [int(t) for t in targets], alpha, beta)
    for name in (*RELABEL_INVARIANT, "tp", "fp", "fn", "tn"):
        np.testing.assert_allclose(after[name], before[name], rtol=1e-12, err_msg=name)
    # Default labels (> 0 present) come back in sorted order of the new values.
    present = sorted(set(np.union1d(pred, gt).tolist()) - {0})
    if present:
        d_before = dict(zip(present, segeval.dice(pred, gt)))
        new = sorted(int(lut[v]) for v in present if lut[v] > 0)
        d_after = dict(zip(new, segeval.dice(lut[pred], lut[gt], labels=new)))
        for v in present:
            if lut[v] > 0:
                np.testing.assert_allclose(d_after[int(lut[v])], d_before[v], rtol=1e-12)


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    "kwargs, match",
    [
        pytest.param({"alpha": -0.1}, "alpha", id="negative-alpha"),
        pytest.param({"beta": -1.0}, "beta", id="negative-beta"),
        pytest.param({"alpha": math.nan}, "alpha", id="nan-alpha"),
        pytest.param({"smooth": -1.0}, "smooth", id="negative-smooth"),
        pytest.param({"smooth": math.inf}, "smooth", id="inf-smooth"),
        pytest.param({"empty": "maybe"}, "empty", id="empty-maybe"),
    ],
)
def test_bad_options_are_option_errors(kwargs: dict, match: str) -> None:
    pred, gt = _hand_pair()
    with pytest.raises(OptionError, match=match) as info:
        segeval.tversky(pred, gt, **kwargs)
    assert "\n" not in str(info.value)
    with pytest.raises(OptionError, match=match):
        overlap_from_counts(np.array([1]), np.array([1]), np.array([0]), **kwargs)


def test_specificity_without_tn_is_an_option_error() -> None:
    with pytest.raises(OptionError, match="tn"):
        overlap_from_counts(np.array([1]), np.array([0]), np.array([0]), metrics=["specificity"])
    with pytest.raises(OptionError, match="not an overlap metric"):
        overlap_from_counts(np.array([1]), np.array([0]), np.array([0]), metrics=["hd95"])


def test_label_maps_from_nested_lists() -> None:
    np.testing.assert_allclose(segeval.dice([[1, 1, 0], [2, 2, 0]], [[1, 0, 0], [2, 2, 2]]), [2 / 3, 0.8])
    assert joint_counts([[1, 0]], [[1, 1]]).total == 2
