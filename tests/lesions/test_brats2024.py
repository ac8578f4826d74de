"""BraTS 2024 GLI's relabelling (lesions of a sub-region touching the same lesion of another join).

The hand-made cases of :func:`tests.lesions.cases.relabel_vectors` with their
numbers derived by hand (and the same numbers from the official code, stored
in ``tests/golden/lesions/reference.json``), and the building blocks checked
against the whole-volume operations the official code runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from segeval.lesions import LesionSettings, lesion_metrics
from segeval.lesions.brats2024 import (
    PARTNERS,
    CaseTissues,
    dilation_first_voxel,
    join_touching,
    partner_lesions,
    relabels,
    touching_pairs,
)
from segeval.lesions.components import grow, label_components, merge_by_dilation
from tests.lesions.cases import BRATS2024_REGIONS, relabel_vectors

cc3d = pytest.importorskip("cc3d", reason="lesion metrics need connected-components-3d (segeval[lesions])")

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "lesions" / "reference.json"
KEYS = ("lesion_dice", "lesion_hd95", "lesion_tp", "lesion_fp", "lesion_fn")

# By hand (boxes of tests/lesions/cases.py: x, y 4 voxels wide, lengths along z):
#  et_joined_by_netc: GT ET 8+8 long on both ends of one NETC lesion -> one lesion of 256 voxels;
#    the prediction has one end (128): Dice 2*128/384 = 2/3, one TP (without the relabelling: 2 lesions, Dice 1/2).
#  netc_joined_by_et: NETC A (16 long) and B (8) with ET Q (12) between, ET P beside A with Q first in scan order:
#    A and B both take Q -> one lesion of 384; the prediction has A (256): Dice 512/640 = 0.8, TP 1, FN 0;
#    ET: P and Q both take A -> one lesion of 64 + 192; prediction Q: Dice 384/448 = 6/7.
#  netc_kept_apart: the same with P first: A takes P, B takes Q: two lesions, B missed: Dice (1 + 0)/2,
#    HD95 (0 + 337)/2 = 168.5, TP 1, FN 1.
#  snfh_joined_by_rc: SNFH lesions (128 each) on both ends of an RC lesion join (second partner, RC):
#    prediction one of them: Dice 2/3, TP 1; in WT (no RC) they stay two lesions: Dice 1/2, FN 1.
HAND: dict[tuple[str, str], tuple[float, float, float, float]] = {
    # (case, region): (lesion_dice, lesion_tp, lesion_fp, lesion_fn)
    ("et_joined_by_netc", "ET"): (2 / 3, 1, 0, 0),
    ("et_joined_by_netc", "NETC"): (1.0, 1, 0, 0),
    ("netc_joined_by_et", "NETC"): (0.8, 1, 0, 0),
    ("netc_joined_by_et", "ET"): (6 / 7, 1, 0, 0),
    ("netc_kept_apart", "NETC"): (0.5, 1, 0, 1),
    ("netc_kept_apart", "ET"): (6 / 7, 1, 0, 0),
    ("snfh_joined_by_rc", "SNFH"): (2 / 3, 1, 0, 0),
    ("snfh_joined_by_rc", "WT"): (0.5, 1, 0, 1),
    ("snfh_joined_by_rc", "RC"): (1.0, 1, 0, 0),
}


@pytest.mark.parametrize(("name", "region"), list(HAND))
def test_hand_derived_numbers(name: str, region: str) -> None:
    pred, gt = relabel_vectors()[name]
    got = lesion_metrics(pred, gt, protocol="brats2024", classes=BRATS2024_REGIONS)[region]
    dice, tp, fp, fn = HAND[name, region]
    assert got["lesion_dice"] == pytest.approx(dice, rel=1e-12)
    assert (got["lesion_tp"], got["lesion_fp"], got["lesion_fn"]) == (tp, fp, fn)
    if name == "netc_kept_apart" and region == "NETC":
        assert got["lesion_hd95"] == 168.5  # the found lesion's 0 and a missed lesion's 337


@pytest.mark.parametrize(("name", "region"), list(HAND))
def test_the_official_code_gave_the_hand_numbers(name: str, region: str) -> None:
    """The stored run of metrics_GLI.py on the same cases says what the hand derivation says."""
    ref = json.loads(GOLDEN.read_text(encoding="utf-8"))
    official = ref[name]["brats2024"][region]
    dice, tp, fp, fn = HAND[name, region]
    assert official["lesion_dice"] == pytest.approx(dice, rel=1e-12)
    assert (official["lesion_tp"], official["lesion_fp"], official["lesion_fn"]) == (tp, fp, fn)


def test_without_the_relabelling_the_numbers_differ() -> None:
    """The cases do test the step: scoring the ET mask alone (no other sub-region) gives the 2023-style split."""
    pred, gt = relabel_vectors()["et_joined_by_netc"]
    alone = lesion_metrics(np.where(pred == 3, 3, 0), np.where(gt == 3, 3, 0), protocol="brats2024", classes=[3])[3]
    assert (alone["lesion_dice"], alone["lesion_tp"], alone["lesion_fn"]) == (0.5, 1.0, 1.0)


def test_only_brats2024_single_labels_relabel() -> None:
    s = LesionSettings("brats2024")
    assert all(relabels(s, (k,)) for k in PARTNERS)
    assert not relabels(s, (1, 3)) and not relabels(s, (1, 2, 3)) and not relabels(s, (5,))
    assert not relabels(LesionSettings("brats2023"), (3,))
    pred, gt = relabel_vectors()["et_joined_by_netc"]
    r = lesion_metrics(pred, gt, protocol="brats2023", classes={"ET": (3,)})["ET"]
    assert (r["lesion_tp"], r["lesion_fn"]) == (1.0, 1.0)  # BraTS 2023 keeps the two ET lesions


def _random_components(seed: int, shape: tuple[int, int, int] = (24, 22, 20)) -> np.ndarray:
    """Blobs scattered over a small volume, some touching its edges."""
    rng = np.random.default_rng(seed)
    m = rng.random(shape) > 0.992
    return np.asarray(ndimage.binary_dilation(m, iterations=1))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("d", [0, 1, 3, 5])
def test_first_voxel_of_each_dilation_is_the_official_id_order(seed: int, d: int) -> None:
    """Against the whole-volume dilation the official code labels: per lesion, the first voxel in C order of
    its dilation; and cc3d's ids of the dilated mask (the official lesion ids) follow that order."""
    mask = _random_components(seed)
    mask[:, :, :3] = False  # a box that does not start at the origin on every side
    (found,) = ndimage.find_objects(mask.view(np.uint8))
    box = grow(found, d + 2, mask.shape)
    comps = merge_by_dilation(label_components(mask[box]), d)
    keys = dilation_first_voxel(comps, d, [s.start for s in box], mask.shape)
    cross = ndimage.generate_binary_structure(3, 2)
    for j in range(1, comps.n + 1):
        lesion = np.zeros(mask.shape, bool)
        lesion[box] = comps.labels == j
        dil = ndimage.binary_dilation(lesion, cross, iterations=d) if d else lesion
        assert keys[j] == int(np.flatnonzero(dil.ravel())[0])
    if d:
        official = cc3d.connected_components(ndimage.binary_dilation(mask, cross, iterations=d), connectivity=26)
        assert int(official.max()) == comps.n
        order = [int(official.ravel()[k]) for k in sorted(keys[1:].tolist())]
        assert order == list(range(1, comps.n + 1))


@pytest.mark.parametrize("seed", range(4))
def test_touching_pairs_are_get_touching_labels(seed: int) -> None:
    """Every pair whose one-voxel 18-dilation meets the other, as the official double loop finds them."""
    a = label_components(_random_components(seed, (12, 11, 10))).labels.astype(np.int64)
    b = label_components(_random_components(seed + 100, (12, 11, 10)) & (a == 0)).labels.astype(np.int64)
    cross = ndimage.generate_binary_structure(3, 2)
    want = set()
    for i in np.unique(a)[1:]:
        for j in np.unique(b)[1:]:
            if np.any(ndimage.binary_dilation(a == i, cross) & (b == j)):
                want.add((int(i), int(j)))
    got = {(int(x), int(y)) for x, y in touching_pairs(a, b)}
    assert got == want


def test_nothing_touching_keeps_the_components() -> None:
    _, gt = relabel_vectors()["et_joined_by_netc"]
    tissues = CaseTissues(gt, gt, LesionSettings("brats2024"), (1.0, 1.0, 1.0))
    whole = tuple(slice(0, n) for n in gt.shape)
    comps = merge_by_dilation(label_components(gt == 2), 3)  # no SNFH at all: nothing to join
    assert join_touching(comps, whole, tissues, 2, prediction=False) is comps
    netc = merge_by_dilation(label_components(gt == 1), 5)
    assert join_touching(netc, whole, tissues, 1, prediction=False) is netc  # one NETC lesion: nothing changes


def test_joined_components_are_consistent() -> None:
    _, gt = relabel_vectors()["et_joined_by_netc"]
    tissues = CaseTissues(gt, gt, LesionSettings("brats2024"), (1.0, 1.0, 1.0))
    whole = tuple(slice(0, n) for n in gt.shape)
    et = merge_by_dilation(label_components(gt == 3), 3)
    joined = join_touching(et, whole, tissues, 3, prediction=False)
    assert (et.n, joined.n) == (2, 1)
    assert joined.sizes.tolist() == [gt.size - 256, 256]
    assert np.array_equal(joined.labels > 0, gt == 3)
    assert joined.boxes == [(slice(10, 14), slice(10, 14), slice(12, 48))]


def test_small_predicted_partners_are_deleted_first() -> None:
    """A predicted partner lesion of at most its threshold (NETC: 20 voxels) is deleted before it can join
    anything; a GT one is kept."""
    pred, _ = relabel_vectors()["et_joined_by_netc"]
    p = pred.copy()
    p[p == 1] = 0
    p[10:12, 10:12, 20:25] = 1  # 20 voxels of NETC touching the first ET lesion only
    comps, _, _ = partner_lesions(p, 1, LesionSettings("brats2024"), (1.0, 1.0, 1.0), prediction=True)
    assert comps.n == 1 and int(comps.sizes[1]) == 0
    comps, _, _ = partner_lesions(p, 1, LesionSettings("brats2024"), (1.0, 1.0, 1.0), prediction=False)
    assert int(comps.sizes[1]) == 20


def test_score_api_relabels_too() -> None:
    """``segeval.score(..., lesions="brats2024")`` (the scoring pipeline's lesion hook) gives the same numbers."""
    import segeval

    pred, gt = relabel_vectors()["netc_joined_by_et"]
    report = segeval.score(pred, gt, regions={k: list(v) for k, v in BRATS2024_REGIONS.items()},
                           lesions="brats2024", metrics="dice")
    rows = {r.get("name"): r for r in report.to_dict()["cases"][0]["labels"]}
    want = lesion_metrics(pred, gt, protocol="brats2024", classes=BRATS2024_REGIONS)
    for region in BRATS2024_REGIONS:
        for key in KEYS:
            assert rows[region][key] == pytest.approx(want[region][key], rel=1e-12), (region, key)
    assert rows["NETC"]["lesion_dice"] == pytest.approx(0.8)
