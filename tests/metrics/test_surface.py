"""Tests of segeval.metrics.surface: hand-derived cases, a brute-force oracle, MedPy,
SimpleITK, Hypothesis properties, and the numba path against the NumPy path."""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.ndimage import binary_erosion, gaussian_filter, generate_binary_structure
from scipy.spatial.distance import cdist

from segeval.errors import InputError, OptionError, SegevalError, UnknownMetricError
from segeval.metrics import _numba
from segeval.metrics.surface import (
    SURFACE_METRICS,
    assd,
    boundary_distances,
    hausdorff,
    hausdorff_percentile,
    masd,
    nsd,
    surface_metrics,
)

# ---------------------------------------------------------------------------
# Helpers: the numba/NumPy switch and a brute-force oracle
# ---------------------------------------------------------------------------


@pytest.fixture
def path(kernels: str) -> str:
    """Run a test on the numba kernels and on the NumPy fallback (the shared ``kernels`` fixture)."""
    return kernels


def _Kernels(use_numba: bool) -> contextlib.AbstractContextManager[None]:
    """Choose a path inside a Hypothesis test (no fixtures there)."""
    return _numba.forced(use_numba)


def oracle_distances(
    pred: np.ndarray, gt: np.ndarray, members: Sequence[int], spacing: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Boundaries by scipy binary_erosion (border_value=0), distances by brute-force cdist."""
    p, g = np.isin(pred, members), np.isin(gt, members)
    footprint = generate_binary_structure(p.ndim, 1)
    bp = p & ~binary_erosion(p, footprint, border_value=0)
    bg = g & ~binary_erosion(g, footprint, border_value=0)
    cp = np.argwhere(bp) * np.asarray(spacing, float)
    cg = np.argwhere(bg) * np.asarray(spacing, float)
    if len(cp) == 0 or len(cg) == 0:
        return np.full(len(cp), np.inf), np.full(len(cg), np.inf)
    d = cdist(cp, cg)
    return d.min(axis=1), d.min(axis=0)


def oracle_metrics(
    d_pg: np.ndarray, d_gp: np.ndarray, *, q: float, tol: float, empty: str
) -> dict[str, float]:
    """The DESIGN.md definitions, written out the obvious way."""
    if len(d_pg) == 0 and len(d_gp) == 0:
        if empty == "nan":
            return {m: math.nan for m in SURFACE_METRICS}
        best = empty == "one"
        return {
            m: (1.0 if best else 0.0) if m == "nsd" else (0.0 if best else math.inf)
            for m in SURFACE_METRICS
        }
    if len(d_pg) == 0 or len(d_gp) == 0:
        return {m: 0.0 if m == "nsd" else math.inf for m in SURFACE_METRICS}
    both = np.concatenate([d_pg, d_gp])
    return {
        "hd": max(d_pg.max(), d_gp.max()),
        "hd95": max(np.percentile(d_pg, q), np.percentile(d_gp, q)),
        "hd95_pooled": np.percentile(both, q),
        "assd": both.mean(),
        "masd": (d_pg.mean() + d_gp.mean()) / 2,
        "nsd": (np.sum(d_pg <= tol) + np.sum(d_gp <= tol)) / len(both),
    }


def random_labels(rng: np.random.Generator, shape: tuple[int, ...], k: int) -> np.ndarray:
    """Blobby multi-label map: smoothed noise per label, argmax, some background."""
    field = gaussian_filter(rng.normal(size=(k + 1, *shape)), sigma=(0, *[1.2] * len(shape)))
    return np.argmax(field, axis=0).astype(np.uint8)


def blob(rng: np.random.Generator, shape: tuple[int, ...], sigma: float = 2.0) -> np.ndarray:
    """One smooth random binary blob (uint8 0/1), away from nothing in particular."""
    field = gaussian_filter(rng.normal(size=shape), sigma)
    return (field > np.quantile(field, 0.7)).astype(np.uint8)


# ---------------------------------------------------------------------------
# Hand-derived cases
# ---------------------------------------------------------------------------


def cube_pair(axis: int, n: int, k: int, size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    gt = np.zeros((size,) * 3, np.uint8)
    gt[2 : 2 + n, 2 : 2 + n, 2 : 2 + n] = 1
    return np.roll(gt, k, axis=axis), gt


@pytest.mark.parametrize("axis", [pytest.param(a, id=f"axis{a}") for a in range(3)])
def test_cubes_shifted_apart(axis: int, path: str) -> None:
    # 4-voxel cubes, the prediction shifted by 4 voxels along `axis` (faces touch),
    # 1.5 mm along `axis`, 0.8 mm across. A prediction slice m (0..3) lies
    # (1 + m) * 1.5 mm from the gt's near face; its boundary voxels number 16 on
    # the caps and 12 on the others. Distances: 16 x 1.5, 12 x 3.0, 12 x 4.5,
    # 16 x 6.0 (56 in all) in each direction.
    pred, gt = cube_pair(axis, n=4, k=4)
    spacing = [0.8, 0.8, 0.8]
    spacing[axis] = 1.5
    d_pg, d_gp = boundary_distances(pred, gt, members=[1], spacing_mm=spacing)
    expected = np.repeat([1.5, 3.0, 4.5, 6.0], [16, 12, 12, 16])
    np.testing.assert_array_equal(np.sort(d_pg), expected)
    np.testing.assert_array_equal(np.sort(d_gp), expected)
    r = surface_metrics(pred, gt, spacing_mm=spacing, tolerance_mm=1.5, percentile=50)
    assert r["hd"][0] == 6.0
    assert r["hd95"][0] == pytest.approx(3.75)  # rank 27.5 of 56: halfway 3.0 -> 4.5
    assert r["hd95_pooled"][0] == pytest.approx(3.75)
    assert r["assd"][0] == pytest.approx(210 / 56)  # (16*1.5 + 12*3 + 12*4.5 + 16*6) / 56
    assert r["masd"][0] == pytest.approx(210 / 56)
    assert r["nsd"][0] == pytest.approx(2 / 7)  # 16 of 56 within 1.5 mm, each way
    assert hausdorff_percentile(pred, gt, spacing_mm=spacing)[0] == 6.0  # rank 52.25: 6.0


@pytest.mark.parametrize("axis", [pytest.param(a, id=f"axis{a}") for a in range(3)])
def test_cubes_overlapping(axis: int, path: str) -> None:
    # 3-voxel cubes shifted by 1: every voxel but the centre is a boundary voxel
    # (26 each). Of the prediction's: 16 coincide with gt boundary voxels (0 mm);
    # the centre of its near cap sits on the gt's (non-boundary) centre, one step
    # from six gt boundary voxels: min(spacing) = 0.5 mm; the 9 of its far cap are
    # one step along `axis` past the gt: 2.0 mm. The gt side mirrors this.
    pred, gt = cube_pair(axis, n=3, k=1)
    spacing = [1.0, 0.5, 1.0]
    spacing[axis], spacing[(axis + 1) % 3] = 2.0, 0.5
    r = surface_metrics(pred, gt, spacing_mm=spacing, percentile=62.0)
    assert r["hd"][0] == 2.0
    assert r["hd95"][0] == pytest.approx(0.25)  # rank 15.5 of 26: halfway 0 -> 0.5
    assert r["assd"][0] == pytest.approx(18.5 / 26)
    assert r["masd"][0] == pytest.approx(18.5 / 26)
    assert r["nsd"][0] == pytest.approx(17 / 26)  # tolerance 1 mm
    assert hausdorff_percentile(pred, gt, spacing_mm=spacing, percentile=95)[0] == 2.0


def ball(shape: tuple[int, int, int], radius: float) -> np.ndarray:
    grid = np.indices(shape) - (np.asarray(shape) // 2)[:, None, None, None]
    return (np.sum(grid**2, axis=0) <= radius**2).astype(np.uint8)


@pytest.mark.parametrize(
    ("r_gt", "r_pred"),
    [pytest.param(8.0, 12.0, id="r8-r12"), pytest.param(10.0, 13.0, id="r10-r13")],
)
def test_concentric_spheres(r_gt: float, r_pred: float, path: str) -> None:
    # Digital balls {|x| <= r}: a boundary voxel has |x| <= r and a face-neighbour
    # beyond r, so |x| lies in (r - 1, r]. Every boundary-to-boundary distance is
    # thus within 1 voxel of the radius difference; its mean within 0.25.
    shape = (32, 32, 32)
    gt, pred = ball(shape, r_gt), ball(shape, r_pred)
    gap = r_pred - r_gt
    d_pg, d_gp = boundary_distances(pred, gt, members=[1])
    for d in (d_pg, d_gp):
        assert np.all(d > gap - 1) and np.all(d < gap + 1)
    r = surface_metrics(pred, gt)
    assert abs(r["assd"][0] - gap) < 0.25
    assert abs(r["masd"][0] - gap) < 0.25
    assert gap - 1 < r["hd95"][0] <= r["hd"][0] < gap + 1
    assert r["nsd"][0] == 0.0  # nothing within 1 mm when the gap is >= 3 mm


def test_single_voxels(path: str) -> None:
    pred = np.zeros((6, 8, 5), np.int16)
    gt = np.zeros((6, 8, 5), np.int16)
    pred[1, 2, 3] = 7
    gt[4, 6, 3] = 7
    spacing = (1.0, 2.0, 3.0)
    expected = math.sqrt((3 * 1.0) ** 2 + (4 * 2.0) ** 2)  # sqrt(73)
    r = surface_metrics(pred, gt, spacing_mm=spacing)
    for m in ("hd", "hd95", "hd95_pooled", "assd", "masd"):
        assert r[m].tolist() == [pytest.approx(expected, rel=1e-15)]
    assert r["nsd"].tolist() == [0.0]
    assert nsd(pred, gt, spacing_mm=spacing, tolerance_mm=expected).tolist() == [1.0]


def test_identical_masks(path: str) -> None:
    gt = random_labels(np.random.default_rng(1), (20, 18, 16), 4)
    r = surface_metrics(gt, gt.copy(), spacing_mm=(0.7, 1.0, 2.5))
    assert np.all(r["nsd"] == 1.0)
    for m in ("hd", "hd95", "hd95_pooled", "assd", "masd"):
        assert np.all(r[m] == 0.0)


def _one_empty_cases() -> Iterator[object]:
    full = np.zeros((6, 6, 6), np.uint8)
    full[1:4, 1:4, 1:4] = 1
    empty = np.zeros_like(full)
    yield pytest.param(empty, full, id="pred-empty")
    yield pytest.param(full, empty, id="gt-empty")


@pytest.mark.parametrize(("pred", "gt"), list(_one_empty_cases()))
@pytest.mark.parametrize("policy", [pytest.param(p, id=p) for p in ("nan", "one", "zero")])
def test_one_empty(pred: np.ndarray, gt: np.ndarray, policy: str, path: str) -> None:
    r = surface_metrics(pred, gt, classes=[(1,)], empty=policy)
    assert r["nsd"].tolist() == [0.0]
    for m in ("hd", "hd95", "hd95_pooled", "assd", "masd"):
        assert r[m].tolist() == [math.inf]
    d_pg, d_gp = boundary_distances(pred, gt, members=[1])
    assert (len(d_pg) == 0) != (len(d_gp) == 0)
    assert np.all(np.isinf(np.concatenate([d_pg, d_gp])))


@pytest.mark.parametrize(
    ("policy", "distance", "nsd_value"),
    [
        pytest.param("nan", math.nan, math.nan, id="nan"),
        pytest.param("one", 0.0, 1.0, id="one"),
        pytest.param("zero", math.inf, 0.0, id="zero"),
    ],
)
def test_both_empty(policy: str, distance: float, nsd_value: float, path: str) -> None:
    pred = np.zeros((5, 5, 5), np.uint8)
    gt = np.zeros((5, 5, 5), np.uint8)
    gt[1:3, 1:3, 1:3] = 1
    pred[1:3, 1:3, 1:3] = 1
    r = surface_metrics(pred, gt, classes=[(2,), (1,)], empty=policy)
    np.testing.assert_array_equal(r["nsd"], [nsd_value, 1.0])
    for m in ("hd", "hd95", "hd95_pooled", "assd", "masd"):
        np.testing.assert_array_equal(r[m], [distance, 0.0])
    assert hausdorff(pred, gt, labels=[2], empty=policy).tolist()[0] == pytest.approx(
        distance, nan_ok=True
    )
    d_pg, d_gp = boundary_distances(pred, gt, members=[2])
    assert d_pg.shape == d_gp.shape == (0,)


def test_peers_fixture(path: str) -> None:
    # PEERS.md: 12^3 grid, 1 mm; GT an 8x8x2 slab, pred an 8x8x1 plate plus a
    # 2x2x6 spike. Dice 0.6296 everywhere; HD 5.0 (all); HD95 4.0 (MONAI,
    # DeepMind, Metrics Reloaded) vs 3.0 (MedPy, seg-metrics); ASSD 0.5556
    # (MedPy, MONAI symmetric); NSD@1mm 0.9259 (MONAI default, Metrics Reloaded).
    gt = np.zeros((12, 12, 12), np.uint8)
    gt[2:10, 2:10, 2:4] = 1
    pred = np.zeros_like(gt)
    pred[2:10, 2:10, 2] = 1
    pred[4:6, 4:6, 3:9] = 1
    tp = np.sum((pred == 1) & (gt == 1))
    assert round(2 * tp / (pred.sum() + gt.sum()), 4) == 0.6296
    r = surface_metrics(pred, gt)
    assert r["hd"][0] == 5.0
    assert r["hd95"][0] == 4.0
    assert r["hd95_pooled"][0] == 3.0
    assert r["assd"][0] == pytest.approx(120 / 216)  # 0.5556
    assert round(r["assd"][0], 4) == 0.5556
    assert r["nsd"][0] == pytest.approx(200 / 216)  # 0.9259
    assert round(r["nsd"][0], 4) == 0.9259
    assert r["masd"][0] == pytest.approx((60 / 88 + 60 / 128) / 2)  # 0.5753


# ---------------------------------------------------------------------------
# Brute-force oracle
# ---------------------------------------------------------------------------

ORACLE_CASES = [
    pytest.param((14, 12, 10), (1.0, 1.0, 1.0), [(1,), (2,), (3,)], id="3d-iso"),
    pytest.param((14, 12, 10), (0.7, 1.3, 2.5), [(1,), (2,), (3,)], id="3d-aniso"),
    pytest.param((15, 11, 9), (0.5, 0.9, 3.0), [(1, 2), (2, 3), (1, 2, 3), (3,)], id="3d-regions"),
    pytest.param((15, 11, 9), (1.1, 0.6, 2.0), [(0,), (0, 1), (4,)], id="3d-background-absent"),
    pytest.param((30, 26), (1.0, 1.0), [(1,), (2,), (3,)], id="2d-iso"),
    pytest.param((30, 26), (0.4, 1.7), [(1,), (1, 3), (2, 3)], id="2d-aniso-regions"),
]


@pytest.mark.parametrize(("shape", "spacing", "classes"), ORACLE_CASES)
@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed{s}") for s in range(3)])
def test_oracle(
    shape: tuple[int, ...],
    spacing: tuple[float, ...],
    classes: list[tuple[int, ...]],
    seed: int,
    path: str,
) -> None:
    rng = np.random.default_rng(seed)
    gt = random_labels(rng, shape, 3)
    pred = random_labels(rng, shape, 3)
    q, tol = 90.0, 1.5
    r = surface_metrics(
        pred, gt, classes=classes, spacing_mm=spacing, tolerance_mm=tol, percentile=q, empty="one"
    )
    for t, members in enumerate(classes):
        d_pg, d_gp = oracle_distances(pred, gt, members, spacing)
        ours = boundary_distances(pred, gt, members=members, spacing_mm=spacing)
        # Same voxels in the same (raster) order: compare elementwise.
        if len(d_pg) and len(d_gp):
            np.testing.assert_allclose(ours[0], d_pg, rtol=1e-12)
            np.testing.assert_allclose(ours[1], d_gp, rtol=1e-12)
        want = oracle_metrics(d_pg, d_gp, q=q, tol=tol, empty="one")
        for m in SURFACE_METRICS:
            assert r[m][t] == pytest.approx(want[m], rel=1e-12), (members, m)


def test_default_classes_are_present_positive_labels(path: str) -> None:
    pred = np.zeros((8, 8), np.int16)
    gt = np.zeros((8, 8), np.int16)
    pred[1:3, 1:3] = 5
    gt[4:6, 4:6] = 2
    gt[0, 7] = -3  # not a class by default (> 0 only)
    pred[6:8, 0:2] = 9
    gt[6:8, 0:2] = 9
    r = surface_metrics(pred, gt)
    assert r["hd"][0] == math.inf and r["hd"][1] == math.inf  # labels 2 and 5
    assert r["hd"][2] == 0.0  # label 9
    assert len(r["hd"]) == 3
    assert hausdorff(pred, gt).shape == (3,)


@pytest.mark.parametrize(
    "transform",
    [
        pytest.param(lambda a: np.asfortranarray(a), id="fortran"),
        pytest.param(lambda a: a.astype(np.int16), id="int16"),
        pytest.param(lambda a: a.astype(np.int64), id="int64"),
        pytest.param(lambda a: a.astype(">i2"), id="big-endian"),
        pytest.param(lambda a: np.pad(a, ((0, 0), (0, 0), (0, 3)))[:, :, :-3], id="strided"),
        pytest.param(lambda a: a.transpose(1, 0, 2).copy().transpose(1, 0, 2), id="permuted"),
    ],
)
def test_memory_layouts_and_dtypes(transform: object, path: str) -> None:
    rng = np.random.default_rng(5)
    gt = random_labels(rng, (13, 11, 9), 3)
    pred = random_labels(rng, (13, 11, 9), 3)
    spacing = (0.6, 1.1, 2.3)
    want = surface_metrics(pred, gt, spacing_mm=spacing)
    got = surface_metrics(transform(pred), transform(gt), spacing_mm=spacing)  # type: ignore[operator]
    for m in SURFACE_METRICS:
        np.testing.assert_allclose(got[m], want[m], rtol=1e-12)


def test_bool_inputs_and_mixed_orders(path: str) -> None:
    rng = np.random.default_rng(11)
    gt, pred = blob(rng, (12, 10, 8)), blob(rng, (12, 10, 8))
    want = surface_metrics(pred, gt, spacing_mm=(1, 2, 3))
    got = surface_metrics(pred.astype(bool), np.asfortranarray(gt), spacing_mm=(1, 2, 3))
    for m in SURFACE_METRICS:
        np.testing.assert_allclose(got[m], want[m], rtol=1e-12)


def test_per_label_functions_match_surface_metrics() -> None:
    rng = np.random.default_rng(3)
    gt = random_labels(rng, (12, 12, 12), 3)
    pred = random_labels(rng, (12, 12, 12), 3)
    kw = {"spacing_mm": (0.8, 0.8, 1.5)}
    r = surface_metrics(pred, gt, tolerance_mm=2.0, percentile=80, **kw)  # type: ignore[arg-type]
    np.testing.assert_array_equal(hausdorff(pred, gt, **kw), r["hd"])  # type: ignore[arg-type]
    np.testing.assert_array_equal(
        hausdorff_percentile(pred, gt, percentile=80, **kw),
        r["hd95"],  # type: ignore[arg-type]
    )
    np.testing.assert_array_equal(
        hausdorff_percentile(pred, gt, percentile=80, pooled=True, **kw),  # type: ignore[arg-type]
        r["hd95_pooled"],
    )
    np.testing.assert_array_equal(assd(pred, gt, **kw), r["assd"])  # type: ignore[arg-type]
    np.testing.assert_array_equal(masd(pred, gt, **kw), r["masd"])  # type: ignore[arg-type]
    np.testing.assert_array_equal(nsd(pred, gt, tolerance_mm=2.0, **kw), r["nsd"])  # type: ignore[arg-type]
    # A tuple in labels is a region.
    region = hausdorff(pred, gt, labels=[(1, 2)], **kw)  # type: ignore[arg-type]
    np.testing.assert_array_equal(region, surface_metrics(pred, gt, classes=[(1, 2)], **kw)["hd"])  # type: ignore[arg-type]


def test_concurrent_calls_from_threads() -> None:
    # Batch scoring may run cases on a thread pool; the parallel kernels must cope.
    rng = np.random.default_rng(21)
    gt = random_labels(rng, (24, 20, 16), 3)
    pred = random_labels(rng, (24, 20, 16), 3)
    want = surface_metrics(pred, gt)["hd95"]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: surface_metrics(pred, gt)["hd95"], range(8)))
    for g in got:
        np.testing.assert_array_equal(g, want)


def test_repeated_members_are_one_label() -> None:
    rng = np.random.default_rng(4)
    gt = random_labels(rng, (10, 10, 10), 3)
    pred = random_labels(rng, (10, 10, 10), 3)
    a = surface_metrics(pred, gt, classes=[(2, 2)])
    b = surface_metrics(pred, gt, classes=[(2,)])
    for m in SURFACE_METRICS:
        np.testing.assert_array_equal(a[m], b[m])


def test_metric_subset_and_order() -> None:
    gt = np.zeros((6, 6), np.uint8)
    gt[1:4, 1:4] = 1
    r = surface_metrics(gt, gt, metrics=["nsd", "hd"])
    assert list(r) == ["nsd", "hd"]
    assert r["hd"].dtype == np.float64


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------

_A = np.zeros((4, 4, 4), np.uint8)


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        pytest.param(
            {"gt": np.zeros((4, 4, 5), np.uint8)}, InputError, "shapes differ", id="shape"
        ),
        pytest.param({"pred": _A.astype(float)}, InputError, "integer", id="float-dtype"),
        pytest.param(
            {"pred": np.zeros(4, np.uint8), "gt": np.zeros(4, np.uint8)},
            InputError,
            "2-D or 3-D",
            id="1d",
        ),
        pytest.param({"spacing_mm": (1.0, 1.0)}, OptionError, "spacing_mm", id="spacing-length"),
        pytest.param({"spacing_mm": (1.0, 0.0, 1.0)}, OptionError, "spacing_mm", id="spacing-zero"),
        pytest.param(
            {"spacing_mm": (1.0, -1.0, 1.0)}, OptionError, "spacing_mm", id="spacing-negative"
        ),
        pytest.param(
            {"spacing_mm": (1.0, math.nan, 1.0)}, OptionError, "spacing_mm", id="spacing-nan"
        ),
        pytest.param({"tolerance_mm": -0.5}, OptionError, "tolerance_mm", id="tolerance"),
        pytest.param({"percentile": 0}, OptionError, "percentile", id="percentile-0"),
        pytest.param({"percentile": 100.5}, OptionError, "percentile", id="percentile-high"),
        pytest.param({"metrics": ["hd", "hd99"]}, UnknownMetricError, "hd99", id="metric"),
        pytest.param({"empty": "skip"}, OptionError, "empty", id="empty"),
        pytest.param({"classes": [()]}, OptionError, "classes", id="class-empty"),
        pytest.param({"classes": [("a",)]}, OptionError, "classes", id="class-str"),
    ],
)
def test_validation(kwargs: dict[str, object], error: type[Exception], needle: str) -> None:
    args = {"pred": _A, "gt": _A, **kwargs}
    with pytest.raises(error, match=needle) as info:
        surface_metrics(args.pop("pred"), args.pop("gt"), **args)  # type: ignore[arg-type]
    assert isinstance(info.value, SegevalError)
    assert "\n" not in str(info.value)


def test_percentile_100_is_hd() -> None:
    rng = np.random.default_rng(8)
    gt, pred = blob(rng, (14, 14, 14)), blob(rng, (14, 14, 14))
    r = surface_metrics(pred, gt, percentile=100)
    assert r["hd95"][0] == r["hd"][0] == r["hd95_pooled"][0]


# ---------------------------------------------------------------------------
# Peers: MedPy and SimpleITK
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "spacing"),
    [
        pytest.param((40, 36, 30), (1.0, 1.0, 1.0), id="iso"),
        pytest.param((40, 36, 30), (0.7, 1.1, 2.0), id="aniso"),
        pytest.param((48, 40), (0.5, 1.5), id="2d"),
    ],
)
@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed{s}") for s in range(3)])
def test_medpy_agreement(shape: tuple[int, ...], spacing: tuple[float, ...], seed: int) -> None:
    # MedPy 0.5.2: hd = max of both directed maxima, hd95 = 95th percentile of both
    # directions pooled (our hd95_pooled), assd = mean of both pooled (our assd),
    # all from an EDT of the other boundary (6-connected erosion, as ours). We read
    # the same voxels and compute each distance as the EDT does, so the only
    # difference is rounding: a tie between equidistant nearest voxels may resolve
    # to offsets whose float sums differ in the last bit (rtol 1e-12).
    medpy = pytest.importorskip("medpy.metric.binary")
    rng = np.random.default_rng(100 + seed)
    gt, pred = blob(rng, shape), blob(rng, shape)
    r = surface_metrics(pred, gt, spacing_mm=spacing)
    assert r["hd"][0] == pytest.approx(medpy.hd(pred, gt, voxelspacing=spacing), rel=1e-12)
    assert r["hd95_pooled"][0] == pytest.approx(
        medpy.hd95(pred, gt, voxelspacing=spacing), rel=1e-12
    )
    assert r["assd"][0] == pytest.approx(medpy.assd(pred, gt, voxelspacing=spacing), rel=1e-12)


def _sitk_hd(a: np.ndarray, b: np.ndarray, spacing: Sequence[float]) -> float:
    sitk = pytest.importorskip("SimpleITK")
    images = []
    for x in (a, b):
        # SimpleITK's array order is (z, y, x): reverse the axes and the spacing.
        img = sitk.GetImageFromArray(np.ascontiguousarray(x.astype(np.uint8).transpose()))
        img.SetSpacing([float(s) for s in spacing])
        images.append(img)
    f = sitk.HausdorffDistanceImageFilter()
    f.Execute(images[0], images[1])
    return float(f.GetHausdorffDistance())


def _boundary(mask: np.ndarray) -> np.ndarray:
    footprint = generate_binary_structure(mask.ndim, 1)
    return mask & ~binary_erosion(mask, footprint, border_value=0)


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed{s}") for s in range(4)])
def test_simpleitk_hausdorff_on_boundary_images(seed: int) -> None:
    # ITK's HausdorffDistanceImageFilter measures between ALL voxels of its two
    # masks. Given the boundary images (mask minus 6-connected erosion) it
    # measures exactly our boundary-to-boundary HD.
    rng = np.random.default_rng(200 + seed)
    shape, spacing = (30, 28, 24), (0.8, 1.2, 2.0)
    gt, pred = blob(rng, shape).astype(bool), blob(rng, shape).astype(bool)
    itk = _sitk_hd(_boundary(pred), _boundary(gt), spacing)
    assert hausdorff(pred, gt, spacing_mm=spacing)[0] == pytest.approx(itk, rel=1e-9)


def test_simpleitk_on_masks_differs_for_nested_shapes() -> None:
    # On the masks themselves ITK's directed distance from a voxel inside the
    # other mask is 0, whereas a boundary voxel inside the other mask is still
    # measured to the other's boundary. For nested masks (a small cube deep in a
    # large one) both give the large cube's corners to the small cube; for a
    # hollow shell around a solid cube, ITK sees the solid's centre far from the
    # shell while every boundary voxel is on or next to the other's boundary.
    big = np.zeros((21, 21, 21), bool)
    big[2:19, 2:19, 2:19] = True
    small = np.zeros_like(big)
    small[9:12, 9:12, 9:12] = True
    ones = (1.0, 1.0, 1.0)
    assert hausdorff(small, big)[0] == pytest.approx(_sitk_hd(small, big, ones), rel=1e-9)
    shell = big & ~binary_erosion(big, iterations=2)
    filled = big.copy()
    ours = hausdorff(filled, shell)[0]
    itk = _sitk_hd(filled, shell, ones)
    assert ours == 1.0  # the shell's inner face is one voxel inside filled's boundary
    assert itk == pytest.approx(7.0)  # filled's centre (10,10,10) to the shell (depth 2 to 3)


# ---------------------------------------------------------------------------
# Hypothesis properties
# ---------------------------------------------------------------------------


@st.composite
def label_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    ndim = draw(st.sampled_from([2, 3]))
    shape = tuple(draw(st.lists(st.integers(1, 7), min_size=ndim, max_size=ndim)))
    values = st.integers(0, 3)
    pred = draw(arrays(np.uint8, shape, elements=values))
    gt = draw(arrays(np.uint8, shape, elements=values))
    spacing = tuple(
        draw(st.lists(st.sampled_from([0.5, 0.8, 1.0, 1.5, 3.0]), min_size=ndim, max_size=ndim))
    )
    return pred, gt, spacing


PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
CLASSES = [(1,), (2,), (3,), (1, 2)]


@PROPERTY_SETTINGS
@given(label_pairs(), st.floats(1.0, 100.0), st.sampled_from([0.0, 0.5, 1.0, 2.0]))
def test_property_symmetric(
    case: tuple[np.ndarray, np.ndarray, tuple[float, ...]], q: float, tol: float
) -> None:
    pred, gt, spacing = case
    kw = {"classes": CLASSES, "spacing_mm": spacing, "percentile": q, "tolerance_mm": tol}
    a = surface_metrics(pred, gt, **kw)  # type: ignore[arg-type]
    b = surface_metrics(gt, pred, **kw)  # type: ignore[arg-type]
    for m in SURFACE_METRICS:
        np.testing.assert_allclose(a[m], b[m], rtol=1e-12, err_msg=m)


@PROPERTY_SETTINGS
@given(label_pairs(), st.floats(1.0, 100.0), st.sampled_from([0.0, 1.0, 2.0]))
def test_property_bounds(
    case: tuple[np.ndarray, np.ndarray, tuple[float, ...]], q: float, tol: float
) -> None:
    pred, gt, spacing = case
    r = surface_metrics(
        pred, gt, classes=CLASSES, spacing_mm=spacing, percentile=q, tolerance_mm=tol, empty="zero"
    )
    assert np.all((r["nsd"] >= 0) & (r["nsd"] <= 1))
    assert np.all(r["hd95"] <= r["hd"])
    assert np.all(r["hd95_pooled"] <= r["hd"])
    assert np.all(r["assd"] <= r["hd"])
    assert np.all(r["masd"] <= r["hd"])
    finite = np.isfinite(r["hd"])
    assert np.all(r["hd"][finite] >= 0)


@PROPERTY_SETTINGS
@given(label_pairs())
def test_property_identical_is_perfect(
    case: tuple[np.ndarray, np.ndarray, tuple[float, ...]],
) -> None:
    _, gt, spacing = case
    r = surface_metrics(gt, gt.copy(), spacing_mm=spacing)
    assert np.all(r["nsd"] == 1.0)
    for m in ("hd", "hd95", "hd95_pooled", "assd", "masd"):
        assert np.all(r[m] == 0.0)


@PROPERTY_SETTINGS
@given(label_pairs(), st.booleans())
def test_property_numba_equals_numpy(
    case: tuple[np.ndarray, np.ndarray, tuple[float, ...]], fortran: bool
) -> None:
    pred, gt, spacing = case
    if fortran:
        pred, gt = np.asfortranarray(pred), np.asfortranarray(gt)
    results = []
    for use_numba in (True, False):
        with _Kernels(use_numba):
            results.append(surface_metrics(pred, gt, classes=CLASSES + [(0,)], spacing_mm=spacing))
            results.append(boundary_distances(pred, gt, members=(1, 3), spacing_mm=spacing))
    for m in SURFACE_METRICS:
        np.testing.assert_array_equal(results[0][m], results[2][m])  # type: ignore[call-overload]
    for a, b in zip(results[1], results[3]):
        np.testing.assert_array_equal(a, b)


def test_numpy_path_when_numba_cannot_import() -> None:
    # A broken numba must not break scoring: block the import, get the NumPy path.
    code = (
        "import sys; sys.modules['numba'] = None\n"
        "import numpy as np\n"
        "from segeval.metrics import _numba, surface\n"
        "assert _numba.numba_module() is None\n"
        "g = np.zeros((12, 12, 12), np.uint8); g[2:10, 2:10, 2:4] = 1\n"
        "p = np.zeros_like(g); p[2:10, 2:10, 2] = 1; p[4:6, 4:6, 3:9] = 1\n"
        "r = surface.surface_metrics(p, g)\n"
        "print(r['hd'][0], r['hd95'][0], r['hd95_pooled'][0], round(r['nsd'][0], 4))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "SEGEVAL_NO_NUMBA"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["5.0", "4.0", "3.0", "0.9259"]


def test_mean_distances_never_exceed_hd_by_rounding() -> None:
    # Found by hypothesis: every boundary distance is 1.7888... mm, and the
    # floating-point mean of them came out one ulp above the maximum.
    pred = np.array([[0, 0, 0, 0, 0], [0, 0, 1, 0, 0]], dtype=np.uint8)
    gt = np.array([[1, 0, 0, 0, 1], [0, 0, 0, 0, 0]], dtype=np.uint8)
    r = surface_metrics(pred, gt, classes=[1], spacing_mm=(0.8, 0.8))
    assert r["assd"][0] <= r["hd"][0] and r["masd"][0] <= r["hd"][0]
    assert r["assd"][0] == pytest.approx(r["hd"][0], rel=1e-15)
