"""Components, merging and matching against slow, obvious whole-volume versions; settings round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from segeval.errors import OptionError
from segeval.lesions import LESION_METRICS, LesionSettings, parse_lesions
from segeval.lesions.components import drop_small, label_components, merge_by_dilation
from segeval.lesions.matching import match_brats
from segeval.settings import ScoreSettings, build_settings

cc3d = pytest.importorskip("cc3d", reason="lesion metrics need connected-components-3d (segeval[lesions])")

CROSS = ndimage.generate_binary_structure(3, 2)


def _blobs(rng: np.random.Generator, shape: tuple[int, int, int] = (30, 30, 20), n: int = 12) -> np.ndarray:
    m = np.zeros(shape, bool)
    for _ in range(n):
        c = rng.integers(0, shape)
        r = rng.integers(0, 3, 3)
        m[tuple(slice(max(a - b, 0), a + b + 1) for a, b in zip(c, r))] = True
    return m


def _merged_whole_volume(mask: np.ndarray, d: int) -> np.ndarray:
    """The official code's merging: dilate the whole mask, label it, give each component its dilated id."""
    cc = cc3d.connected_components(mask, connectivity=26)
    dil = cc3d.connected_components(ndimage.binary_dilation(mask, structure=CROSS, iterations=d), connectivity=26)
    return np.where(cc > 0, dil, 0)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_merging_in_boxes_equals_the_whole_volume_dilation(rng: np.random.Generator, d: int) -> None:
    for _ in range(5):
        mask = _blobs(rng)
        merged = merge_by_dilation(label_components(mask), d)
        assert np.array_equal(merged.labels, _merged_whole_volume(mask, d))
        assert merged.sizes[1:].tolist() == np.bincount(merged.labels.ravel(), minlength=merged.n + 1)[1:].tolist()


def test_matching_equals_the_official_loop(rng: np.random.Generator) -> None:
    """BraTS 2023's per-lesion loop, written over whole volumes: hits, Dice, FPs."""
    settings = LesionSettings("brats2023", min_volume_mm3=5)
    rules = settings.rules((1,))
    for _ in range(5):
        gt_mask, pred_mask = _blobs(rng), _blobs(rng)
        gt = merge_by_dilation(label_components(gt_mask), rules.dilation)
        pred = label_components(pred_mask)
        m = match_brats(gt, pred, rules, (1.0, 1.0, 1.0))
        touched: set[int] = set()
        for row in m.lesions:
            lesion = gt.labels == row.lesion
            dil = ndimage.binary_dilation(lesion, structure=CROSS, iterations=rules.dilation)
            hits = sorted(set(np.unique(pred.labels[dil]).tolist()) - {0})
            touched.update(hits)
            p = np.isin(pred.labels, hits)
            assert row.pred_ids == hits
            assert row.dice == pytest.approx(2 * np.count_nonzero(p & lesion) / (p.sum() + lesion.sum()))
            assert row.counted == (lesion.sum() > 5)
        assert m.fp_ids == sorted(set(range(1, pred.n + 1)) - touched)


def test_drop_small_keeps_ids() -> None:
    m = np.zeros((10, 10, 10), bool)
    m[0:2, 0:2, 0:2] = True  # 8 voxels
    m[5:8, 5:8, 5:8] = True  # 27 voxels
    kept = drop_small(label_components(m), 8)
    assert kept.sizes[1:].tolist() == [0, 27] and int(np.count_nonzero(kept.labels)) == 27


def test_settings_round_trip_through_the_report() -> None:
    s = build_settings(lesions=parse_lesions("brats2023-met", dilation="2", penalty_mm="300"))
    assert s.metrics[-len(LESION_METRICS):] == LESION_METRICS
    d = s.to_dict()
    assert d["lesions"]["protocol"] == "brats2023-met" and d["lesions"]["dilation"] == 2
    back = ScoreSettings.from_dict(d)
    assert back.lesions is not None and back.lesions.rules((3,)).dilation == 2
    assert back.lesions.rules((3,)).penalty_mm == 300.0
    assert "lesions" not in build_settings().to_dict()  # reports without --lesions are unchanged


def test_brats2024_rules_by_label() -> None:
    s = LesionSettings("brats2024")
    assert (s.rules((3,)).min_volume_mm3, s.rules((3,)).dilation) == (10.0, 3)
    assert (s.rules((1,)).min_volume_mm3, s.rules((1,)).dilation) == (20.0, 5)
    assert (s.rules((2,)).dilation, s.rules((4,)).dilation, s.rules((1, 3)).dilation) == (3, 5, 3)
    assert s.rules((1, 2, 3)).penalty_mm == 337.0 and s.rules((1,)).delete_small_pred
    assert math.isinf(LesionSettings("panoptica").rules((1,)).penalty_mm)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"protocol": "brats"}, "unknown protocol", id="protocol"),
        pytest.param({"protocol": "iou", "connectivity": 4}, "6, 18 or 26", id="connectivity"),
        pytest.param({"protocol": "brats2023", "dilation": -1}, "iterations >= 0", id="dilation"),
        pytest.param({"protocol": "brats2023", "min_volume_mm3": -1.0}, "mm3 >= 0", id="volume"),
        pytest.param({"protocol": "iou", "iou_threshold": 1.0}, r"in \[0, 1\)", id="iou"),
    ],
)
def test_bad_settings_name_the_option(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(OptionError, match=message):
        LesionSettings(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("protocol", ["brats2023", "brats2023-met", "brats2024", "panoptica", "iou"])
def test_working_in_the_bounding_box_changes_no_number(protocol: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lesions touching the image's edges too: the crop's sides are the image's or out of reach."""
    from segeval.lesions import aggregate, lesion_metrics
    from tests.lesions.cases import BRATS_REGIONS, metastasis_case

    pred, gt = metastasis_case(5, shape=(40, 40, 30), n=15)
    cropped = lesion_metrics(pred, gt, protocol=protocol, classes=BRATS_REGIONS)
    monkeypatch.setattr(aggregate, "_crop", lambda p, g, margin: tuple(slice(0, n) for n in g.shape))
    whole = lesion_metrics(pred, gt, protocol=protocol, classes=BRATS_REGIONS)
    assert cropped.keys() == whole.keys()
    for cls in whole:
        for key, value in whole[cls].items():
            assert cropped[cls][key] == pytest.approx(value, rel=1e-12, nan_ok=True), (cls, key)
