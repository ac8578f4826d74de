"""The lesion test cases, built in code: the issue's hand-checkable vectors and seeded multi-lesion cases.

``benchmarks/compare_lesions.py`` scores the same cases with the official
BraTS code and panoptica and writes ``tests/golden/lesions/reference.json``;
the tests compare segeval with that file, so they never need the peers.
"""

from __future__ import annotations

import numpy as np

#: BraTS's regions (labels 1 NETC, 2 SNFH/ED, 3 ET).
BRATS_REGIONS: dict[str, tuple[int, ...]] = {"WT": (1, 2, 3), "TC": (1, 3), "ET": (3,)}

#: The regions BraTS 2024 GLI's code reports (labels 1 NETC, 2 SNFH, 3 ET, 4 RC).
BRATS2024_REGIONS: dict[str, tuple[int, ...]] = {"WT": (1, 2, 3), "TC": (1, 3), "NETC": (1,), "SNFH": (2,),
                                                 "ET": (3,), "RC": (4,)}

SHAPE = (64, 64, 64)


def cube(a: np.ndarray, corner: tuple[int, int, int], n: int, value: int = 1) -> None:
    """Paint the cube of side ``n`` voxels (n³ voxels) with its lowest corner at ``corner``."""
    x, y, z = corner
    a[x:x + n, y:y + n, z:z + n] = value


def _empty() -> np.ndarray:
    return np.zeros(SHAPE, np.uint8)


def hand_vectors() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The issue's vectors on a 64³ grid at 1 mm: name -> (pred, gt), label 1 only."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    gt = _empty(); cube(gt, (10, 10, 10), 10)
    pred = gt.copy(); cube(pred, (40, 40, 40), 3)
    out["far_fp27"] = (pred, gt)                      # one lesion found exactly + a 27-voxel FP
    pred = gt.copy(); cube(pred, (40, 40, 40), 2)
    out["far_fp8"] = (pred, gt)                       # the same with an 8-voxel FP
    gt2 = _empty(); cube(gt2, (10, 10, 10), 6); cube(gt2, (18, 10, 10), 6)   # x 10-15 and 18-23: 2 voxels apart
    out["two_close_both"] = (gt2.copy(), gt2)         # both cubes predicted exactly
    p1 = _empty(); cube(p1, (10, 10, 10), 6)
    out["two_close_first"] = (p1, gt2)                # only the first cube predicted
    gt3 = _empty(); cube(gt3, (10, 10, 10), 10); cube(gt3, (40, 40, 40), 3)
    p3 = _empty(); cube(p3, (10, 10, 10), 10)
    out["small_missed"] = (p3, gt3)                   # a 27-voxel GT lesion left unpredicted
    out["both_empty"] = (_empty(), _empty())
    p4 = _empty(); cube(p4, (30, 30, 30), 2)
    out["gt_empty_small_fp"] = (p4, _empty())         # GT empty, an 8-voxel prediction
    p5 = _empty(); cube(p5, (11, 10, 10), 10)
    out["shift1"] = (p5, gt)                          # the cube shifted one voxel along x
    return out


def _box(a: np.ndarray, lo: tuple[int, int, int], hi: tuple[int, int, int], value: int) -> None:
    """Paint the box ``lo <= index <= hi`` (inclusive corners) with ``value``."""
    a[lo[0]:hi[0] + 1, lo[1]:hi[1] + 1, lo[2]:hi[2] + 1] = value


def relabel_vectors() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Hand-made BraTS 2024 cases where lesions of a sub-region touching the same lesion of another join.

    Boxes along z at x, y 10-13 (a 32 x 24 x 56 grid): NETC (1) lesions 12
    voxels apart stay apart under their 5 dilations, ET (3) and SNFH (2)
    lesions 8 or more apart under their 3. name -> (pred, gt).
    """
    shape = (32, 24, 56)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    # Two ET lesions on either end of one NETC lesion: the ET lesions join; the prediction has one of them.
    gt = np.zeros(shape, np.uint8)
    _box(gt, (10, 10, 20), (13, 13, 39), 1)
    _box(gt, (10, 10, 12), (13, 13, 19), 3)
    _box(gt, (10, 10, 40), (13, 13, 47), 3)
    pred = gt.copy()
    pred[pred == 3] = 0
    _box(pred, (10, 10, 12), (13, 13, 19), 3)
    out["et_joined_by_netc"] = (pred, gt)
    # NETC A (z 10-25) and B (z 38-45) with ET Q between them (z 26-37) touching both, and ET P touching A only.
    # A takes the first ET lesion it touches, B takes Q: with Q first the NETC lesions join, with P first not.
    for name, p_lo in (("netc_joined_by_et", 14), ("netc_kept_apart", 6)):
        gt = np.zeros(shape, np.uint8)
        _box(gt, (10, 10, 10), (13, 13, 25), 1)               # A
        _box(gt, (10, 10, 38), (13, 13, 45), 1)               # B
        _box(gt, (10, 10, 26), (13, 13, 37), 3)               # Q
        _box(gt, (p_lo, 10, 10), (p_lo + 3, 13, 13), 3)       # P, beside A (x 14-17 or 6-9)
        pred = gt.copy()
        _box(pred, (10, 10, 38), (13, 13, 45), 0)             # B missed
        _box(pred, (p_lo, 10, 10), (p_lo + 3, 13, 13), 0)     # P missed
        out[name] = (pred, gt)
    # Two SNFH lesions touching one RC lesion (4, outside WT): they join in SNFH, not in WT.
    gt = np.zeros(shape, np.uint8)
    _box(gt, (10, 10, 10), (13, 13, 41), 4)
    _box(gt, (14, 10, 10), (17, 13, 17), 2)
    _box(gt, (14, 10, 34), (17, 13, 41), 2)
    pred = gt.copy()
    _box(pred, (14, 10, 34), (17, 13, 41), 0)
    out["snfh_joined_by_rc"] = (pred, gt)
    return out


def _ball(shape: tuple[int, ...], centre: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Ellipsoid mask, computed in its bounding box."""
    mask = np.zeros(shape, bool)
    lo = np.maximum(np.floor(centre - radii).astype(int), 0)
    hi = np.minimum(np.ceil(centre + radii).astype(int) + 1, shape)
    grids = np.ogrid[tuple(slice(a, b) for a, b in zip(lo, hi))]
    inside = sum(((g - c) / r) ** 2 for g, c, r in zip(grids, centre, radii)) <= 1.0
    mask[tuple(slice(a, b) for a, b in zip(lo, hi))] = inside
    return mask


def _tumour(labels: np.ndarray, centre: np.ndarray, r: float, rng: np.random.Generator) -> None:
    """A BraTS-like lesion: edema (2) around enhancing tumour (3) around necrosis (1), for larger ones."""
    shape = labels.shape
    aniso = rng.uniform(0.7, 1.3, 3)
    edema = _ball(shape, centre, r * 1.6 * aniso)
    et = _ball(shape, centre, r * aniso)
    labels[edema & (labels == 0)] = 2
    labels[et] = 3
    if r >= 3:
        labels[_ball(shape, centre, r * 0.5 * aniso)] = 1


def metastasis_case(seed: int, shape: tuple[int, int, int] = (96, 96, 64), n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """A seeded metastasis-like pair: tens of lesions of mixed size; the prediction misses some,
    grows, shrinks or shifts others, and adds false positives of several sizes.

    Returns (pred, gt), uint8 label maps with BraTS's labels.
    """
    rng = np.random.default_rng(seed)
    gt = np.zeros(shape, np.uint8)
    pred = np.zeros(shape, np.uint8)
    lo, hi = np.array([6, 6, 6]), np.array(shape) - 6
    for _ in range(n):
        centre = rng.uniform(lo, hi)
        r = float(rng.choice([0.8, 1.2, 1.8, 2.5, 3.5, 5.0, 7.0], p=[.15, .15, .15, .15, .15, .15, .10]))
        _tumour(gt, centre, r, rng)
        fate = rng.uniform()
        if fate < 0.15:
            continue                                   # missed
        if fate < 0.30:
            centre = centre + rng.integers(-2, 3, 3)  # shifted
        elif fate < 0.45:
            r = r * rng.uniform(0.6, 0.9)             # too small
        elif fate < 0.60:
            r = r * rng.uniform(1.1, 1.5)             # too large
        _tumour(pred, centre, r, np.random.default_rng(rng.integers(1 << 30)))
    for _ in range(int(rng.integers(3, 8))):              # false positives
        centre = rng.uniform(lo, hi)
        r = float(rng.choice([0.8, 1.5, 2.5, 4.0]))
        _tumour(pred, centre, r, rng)
    return pred, gt


#: The seeded multi-lesion cases the golden file holds.
METASTASIS_SEEDS: tuple[int, ...] = (11, 12, 13)
