"""The one-pass K x K confusion matrix: hand-computed cases, an oracle over dtypes and
memory layouts, numba == NumPy, properties, refusals and bounded extra memory."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import segeval
from segeval.errors import InputError, SegevalError
from segeval.metrics import _hist_jit, _hist_numpy, _numba, confusion
from segeval.metrics.confusion import JointCounts, confusion_matrix, joint_counts

# --------------------------------------------------------------------------- reference


def reference_joint(pred: np.ndarray, gt: np.ndarray, ignore_label: int | None = None) -> JointCounts:
    """The obvious joint count: every voxel added to its (gt, pred) cell, one at a time."""
    g = np.asarray(gt).astype(np.int64).ravel()
    p = np.asarray(pred).astype(np.int64).ravel()
    if ignore_label is not None:
        keep = g != ignore_label
        g, p = g[keep], p[keep]
    values = np.union1d(g, p)
    counts = np.zeros((values.size, values.size), dtype=np.int64)
    np.add.at(counts, (np.searchsorted(values, g), np.searchsorted(values, p)), 1)
    return JointCounts(values, counts)


def assert_same_joint(got: JointCounts, want: JointCounts) -> None:
    np.testing.assert_array_equal(got.values, want.values)
    np.testing.assert_array_equal(got.counts, want.counts)
    assert got.counts.dtype == np.int64


# --------------------------------------------------------------------------- hand-computed


def test_confusion_matrix_hand_computed() -> None:
    gt = np.array([[0, 1, 1], [2, 2, 0]])
    pred = np.array([[0, 1, 2], [2, 0, 0]])
    # rows gt 0, 1, 2; columns pred 0, 1, 2
    want = np.array([[2, 0, 0], [0, 1, 1], [1, 0, 1]])
    np.testing.assert_array_equal(confusion_matrix(pred, gt), want)
    np.testing.assert_array_equal(segeval.confusion_matrix(pred=pred, gt=gt), want)


def test_confusion_matrix_labels_order_absent_and_unlisted() -> None:
    gt = np.array([[0, 1, 1], [2, 2, 0]])
    pred = np.array([[0, 1, 2], [2, 0, 0]])
    # Reordered, with 5 (absent from both): a zero row and column.
    cm = confusion_matrix(pred, gt, labels=[2, 5, 1])
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 0, 0], [1, 0, 1]])
    # Voxels whose values are not listed are not counted.
    assert confusion_matrix(pred, gt, labels=[1]).tolist() == [[1]]


def test_confusion_matrix_ignore_label() -> None:
    gt = np.array([[9, 9, 1], [1, 0, 0]])
    pred = np.array([[1, 0, 1], [9, 9, 0]])
    joint = joint_counts(pred, gt, ignore_label=9)
    # gt == 9 voxels vanish (their pred 1 and 0 included); pred == 9 elsewhere is counted.
    np.testing.assert_array_equal(joint.values, [0, 1, 9])
    np.testing.assert_array_equal(joint.counts, [[1, 0, 1], [0, 1, 1], [0, 0, 0]])
    assert joint.total == 4
    np.testing.assert_array_equal(
        confusion_matrix(pred, gt, ignore_label=9, labels=[0, 1, 9]), joint.counts
    )


def test_class_counts_labels_and_regions_from_one_matrix() -> None:
    gt = np.array([[0, 1, 1, 2], [2, 3, 3, 0]])
    pred = np.array([[1, 1, 2, 2], [3, 3, 0, 0]])
    joint = joint_counts(pred, gt)
    c = joint.class_counts([(1,), (2,), (3,), (2, 3), (1, 2, 3), (7,)])
    for i, members in enumerate([(1,), (2,), (3,), (2, 3), (1, 2, 3), (7,)]):
        p, g = np.isin(pred, members), np.isin(gt, members)
        assert c["tp"][i] == np.sum(p & g)
        assert c["fp"][i] == np.sum(p & ~g)
        assert c["fn"][i] == np.sum(~p & g)
        assert c["tn"][i] == np.sum(~p & ~g)
        assert c["n_pred"][i] == p.sum() and c["n_gt"][i] == g.sum()
    # By hand, region 2|3: pred covers (0,2) (0,3) (1,0) (1,1), gt (0,3) (1,0) (1,1) (1,2).
    assert (c["tp"][3], c["fp"][3], c["fn"][3], c["tn"][3]) == (3, 1, 1, 3)


def test_empty_volumes_give_an_empty_matrix() -> None:
    for dtype in (np.uint8, np.uint16, np.int32, np.float64):
        z = np.zeros((0, 4), dtype=dtype)
        joint = joint_counts(z, z)
        assert joint.values.size == 0 and joint.counts.shape == (0, 0) and joint.total == 0


# --------------------------------------------------------------------------- oracle over dtypes

Case = Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]
SHAPE = (9, 8, 7)


def _draw(rng: np.random.Generator, values: list[int] | list[float], dtype: object, shape: tuple[int, ...] = SHAPE,
          background: float = 0.5) -> np.ndarray:
    """Random labels from ``values``, about ``background`` of the voxels 0, every value present."""
    arr = rng.choice(np.asarray(values), size=shape)
    arr[rng.random(shape) < background] = 0
    arr.flat[: len(values)] = values  # every value present at least once
    return arr.astype(dtype)


def _pair(values: list, dtype: object, pred_values: list | None = None, pred_dtype: object = None,
          background: float = 0.5) -> Case:
    def make(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        gt = _draw(rng, values, dtype, background=background)
        pred = _draw(rng, pred_values if pred_values is not None else values, pred_dtype or dtype,
                     background=background)
        return np.ascontiguousarray(pred[::-1]), gt  # shuffle which voxels carry the forced values
    return make


def _all_256(dtype: object) -> Case:
    def make(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        vals = np.arange(256).astype(np.uint8).view(dtype)
        gt = rng.choice(vals, size=(16, 16, 8))
        pred = rng.choice(vals, size=(16, 16, 8))
        gt.flat[:256] = vals
        pred.flat[-256:] = vals
        return pred, gt
    return make


def _layout(kind: str) -> Case:
    def make(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        base_p = _draw(rng, [0, 1, 2, 5], np.int16, shape=(12, 10, 8))
        base_g = _draw(rng, [0, 1, 2, 3], np.uint8, shape=(12, 10, 8))
        if kind == "fortran":
            return np.asfortranarray(base_p), np.asfortranarray(base_g)
        if kind == "c_pred_f_gt":
            return base_p, np.asfortranarray(base_g)
        if kind == "f_pred_c_gt":
            return np.asfortranarray(base_p), base_g
        if kind == "slices":
            return base_p[::2, 1:, ::-1], base_g[1::2, :-1, :]
        if kind == "transposed":  # SimpleITK-derived arrays are transposed views
            return base_p.transpose(2, 1, 0), base_g.transpose(2, 1, 0)
        if kind == "slice_and_fortran":
            return base_p[:, ::3, :], np.asfortranarray(base_g[:, :4, :])
        raise AssertionError(kind)
    return make


def _big_endian(dtype: str) -> Case:
    def make(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        gt = _draw(rng, [0, 1, 2, 300], np.int64).astype(dtype)
        pred = _draw(rng, [0, 1, 2, 301], np.int64).astype(dtype)
        return pred, gt
    return make


DTYPE_CASES = [
    pytest.param(_all_256(np.uint8), id="uint8-all-256-values"),
    pytest.param(_all_256(np.int8), id="int8-all-256-values"),
    pytest.param(_pair([0, 1, 7, 1000, 65535], np.uint16), id="uint16-sparse-0-1-7-1000-65535"),
    pytest.param(_pair([-32768, -5, -1, 0, 3, 32767], np.int16), id="int16-negative"),
    pytest.param(_pair([0, 1, 10**6, 10**6 + 3], np.int32), id="int32-1e6"),
    pytest.param(_pair([0, 1, 5_000_000, -3_000_000], np.int64), id="int64-range-over-4M-sparse"),
    pytest.param(_pair([0, 17, 2**31, 2**32 - 1], np.uint32), id="uint32-large"),
    pytest.param(_pair([0, 2**60 + 1, 2**60 + 3, 2**60 + 8], np.int64), id="int64-beyond-2**53-sparse"),
    # No background: a narrow range of huge values takes the lookup-table path
    # (float min/max used to round 2**60 + 1 and the kernel read out of bounds).
    pytest.param(_pair([2**60 + 1, 2**60 + 3, 2**60 + 8], np.int64, background=0.0),
                 id="int64-beyond-2**53-lookup-table"),
    pytest.param(_pair([0, 4, 9, 2**40], np.uint64), id="uint64"),
    pytest.param(_pair([0.0, 1.0, 2.0, 255.0, -4.0], np.float32), id="float32-whole"),
    pytest.param(_pair([0.0, 1.0, 3.0, 1e6, 1e7], np.float64), id="float64-whole-sparse"),
    pytest.param(_pair([0.0, 1.0, 2.0, -3.0], np.float16), id="float16-whole"),
    pytest.param(_pair([0, 1], np.bool_), id="bool"),
    pytest.param(_pair([0, 1, 2, 3], np.int32, pred_dtype=np.uint8), id="mixed-uint8-pred-int32-gt"),
    pytest.param(_pair([0, 1, 1000, 65535], np.uint16, pred_values=[0, 1], pred_dtype=np.bool_),
                 id="mixed-bool-pred-uint16-gt"),
    pytest.param(_pair([0, 1, -2, 5], np.int16, pred_dtype=np.float32), id="mixed-float32-pred-int16-gt"),
    pytest.param(_pair([0, 1, 2], np.uint8, pred_values=[0, 1, 2, 9_000_000], pred_dtype=np.int64),
                 id="mixed-sparse-int64-pred-uint8-gt"),
    pytest.param(_pair([0, 1, 4], np.uint8, pred_values=[0, 1, 9]), id="labels-in-one-volume-only"),
    pytest.param(_pair([3, 4], np.int32, pred_values=[5, 6]), id="no-background-disjoint"),
    pytest.param(_layout("fortran"), id="fortran-both"),
    pytest.param(_layout("c_pred_f_gt"), id="mixed-order-c-pred-f-gt"),
    pytest.param(_layout("f_pred_c_gt"), id="mixed-order-f-pred-c-gt"),
    pytest.param(_layout("slices"), id="non-contiguous-slices"),
    pytest.param(_layout("transposed"), id="transposed-views"),
    pytest.param(_layout("slice_and_fortran"), id="slice-vs-fortran"),
    pytest.param(_big_endian(">i2"), id="big-endian-int16"),
    pytest.param(_big_endian(">i4"), id="big-endian-int32"),
    pytest.param(_big_endian(">f8"), id="big-endian-float64"),
]


@pytest.mark.parametrize("make", DTYPE_CASES)
def test_joint_counts_match_reference(make: Case, rng: np.random.Generator, kernels: str) -> None:
    pred, gt = make(rng)
    assert_same_joint(joint_counts(pred, gt), reference_joint(pred, gt))


@pytest.mark.parametrize("make", DTYPE_CASES)
def test_joint_counts_with_ignore_label_match_reference(make: Case, rng: np.random.Generator) -> None:
    pred, gt = make(rng)
    ignore = int(np.asarray(gt).ravel()[5])  # a value that occurs in gt
    assert_same_joint(joint_counts(pred, gt, ignore_label=ignore), reference_joint(pred, gt, ignore))


def test_wide_value_range_uses_the_sparse_fallback(monkeypatch: pytest.MonkeyPatch,
                                                   rng: np.random.Generator) -> None:
    calls = []
    real = confusion._joint_sparse

    def spy(*args: object) -> JointCounts:
        calls.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(confusion, "_joint_sparse", spy)
    pred, gt = _pair([0, 1, 5_000_000, -3_000_000], np.int64)(rng)
    assert_same_joint(joint_counts(pred, gt), reference_joint(pred, gt))
    assert calls, "a value range > 4 Mi should take the sparse path"


def test_too_many_distinct_values_is_an_input_error() -> None:
    gt = (np.arange(5000, dtype=np.int64) * 1000).reshape(50, 100)  # 5000 values over 5 M
    with pytest.raises(InputError, match="distinct label values"):
        joint_counts(gt, gt)


# --------------------------------------------------------------------------- numba == NumPy

needs_numba = pytest.mark.skipif(not _numba.HAVE_NUMBA, reason="numba not importable")


def _codes_input(rng: np.random.Generator, dtype: object, n: int, values: list[int]) -> tuple:
    """A flat array with long background runs, and its lookup table."""
    a = rng.choice(np.asarray(values), size=n)
    if 0 in values:
        runs = rng.random(n // 100) < 0.7
        a[: runs.size * 100].reshape(-1, 100)[runs] = 0  # runs of 100 zeros
    a = a.astype(dtype)
    off = min(values)
    lut = np.full(max(values) - off + 1, -1, dtype=np.int64)
    present = sorted(set(values))
    lut[np.asarray(present) - off] = np.arange(len(present))
    return a, lut, off, len(present)


@needs_numba
@pytest.mark.parametrize("n", [pytest.param(n, id=f"n{n}") for n in (37, 200_003, 1_000_001)])
@pytest.mark.parametrize(
    "dtype_a, values_a, dtype_b, values_b, shift",
    [
        pytest.param(np.uint8, [0, 1, 2, 200], np.uint8, [0, 3, 255], 0, id="uint8-uint8"),
        pytest.param(np.uint8, [0, 1, 2, 200], np.uint8, [0, 3, 255], 1, id="uint8-uint8-misaligned"),
        pytest.param(np.int8, [-128, -1, 0, 5], np.uint8, [0, 1], 0, id="int8-uint8"),
        pytest.param(np.uint16, [0, 7, 65535], np.uint8, [0, 1], 0, id="uint16-uint8"),
        pytest.param(np.int32, [-7, 0, 10**6], np.int64, [0, 5, 9], 0, id="int32-int64"),
        pytest.param(np.float64, [0, 2, 3], np.float32, [0, 1, 4], 0, id="float64-float32"),
        pytest.param(np.int16, [1, 2, 3], np.int16, [4, 5], 0, id="no-zero-code"),
    ],
)
def test_joint_hist_numba_equals_numpy(rng: np.random.Generator, n: int, dtype_a: object,
                                       values_a: list[int], dtype_b: object, values_b: list[int],
                                       shift: int) -> None:
    a, lut_a, off_a, ka = _codes_input(rng, dtype_a, n + shift, values_a)
    b, lut_b, off_b, kb = _codes_input(rng, dtype_b, n, values_b)
    a = a[shift:]  # shift=1: the two arrays are not 8-byte aligned alike
    want = _hist_numpy.joint_hist(a, b, lut_a, off_a, lut_b, off_b, ka, kb)
    got = _hist_jit.joint_hist(a, b, lut_a, off_a, lut_b, off_b, ka, kb)
    np.testing.assert_array_equal(got, want)
    assert want.sum() == n


@needs_numba
@pytest.mark.parametrize("n", [pytest.param(n, id=f"n{n}") for n in (11, 300_001)])
def test_presence_numba_equals_numpy_and_minmax_refuses_non_whole(rng: np.random.Generator, n: int) -> None:
    a = rng.choice(np.array([-3, 0, 2, 1000]), size=n).astype(np.int32)
    a[:4] = [-3, 0, 2, 1000]
    for dtype in (np.int32, np.int16, np.uint16, np.int64):  # word widths 4, 2, 2, 8
        b = a.astype(dtype) if dtype != np.uint16 else (a + 3).astype(dtype)
        off = -3 if dtype != np.uint16 else 0
        np.testing.assert_array_equal(_hist_jit.presence(b, off, 1004), _hist_numpy.presence(b, off, 1004))
    f = a.astype(np.float64)
    assert _hist_numpy.minmax(f) == (-3.0, 1000.0, True)
    for bad in (0.5, np.nan, np.inf, -np.inf):
        g = f.copy()
        g[n // 2] = bad
        assert not _hist_numpy.minmax(g)[2]


# --------------------------------------------------------------------------- properties

# Few dtypes here: dtype coverage is DTYPE_CASES' job, and every new (gt, pred) dtype pair
# costs a numba compilation (seconds) on a cold cache.
DTYPES = [np.uint8, np.int32, np.bool_]


@st.composite
def label_pairs(draw: st.DrawFn, max_label: int = 5) -> tuple[np.ndarray, np.ndarray]:
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=6))
    out = []
    for _ in range(2):
        dtype = draw(st.sampled_from(DTYPES))
        arr = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, max_label)))
        if dtype is np.bool_:
            arr = arr % 2
        if draw(st.booleans()):
            arr = np.asfortranarray(arr)
        out.append(arr.astype(dtype, order="K"))
    return out[0], out[1]


@settings(max_examples=60, deadline=None)
@given(pair=label_pairs(), ignore=st.one_of(st.none(), st.integers(0, 5)))
def test_property_totals_rows_and_columns(pair: tuple[np.ndarray, np.ndarray], ignore: int | None) -> None:
    pred, gt = pair
    joint = joint_counts(pred, gt, ignore_label=ignore)
    kept = np.ones(gt.shape, bool) if ignore is None else gt.astype(np.int64) != ignore
    assert joint.total == np.count_nonzero(kept)
    rows, cols = joint.counts.sum(axis=1), joint.counts.sum(axis=0)
    for i, v in enumerate(joint.values):
        assert rows[i] == np.count_nonzero((gt.astype(np.int64) == v) & kept)
        assert cols[i] == np.count_nonzero((pred.astype(np.int64) == v) & kept)
    assert_same_joint(joint, reference_joint(pred, gt, ignore))


@settings(max_examples=40, deadline=None)
@given(pair=label_pairs(max_label=300), ignore=st.one_of(st.none(), st.integers(0, 3)))
def test_property_numba_path_equals_numpy_path(pair: tuple[np.ndarray, np.ndarray], ignore: int | None) -> None:
    pred, gt = pair
    with _numba.forced(True):
        first = joint_counts(pred, gt, ignore_label=ignore)
    with _numba.forced(False):
        second = joint_counts(pred, gt, ignore_label=ignore)
    assert_same_joint(first, second)


# --------------------------------------------------------------------------- refusals

BAD_ARRAYS = [
    pytest.param(np.zeros((3, 4)), np.zeros((4, 3)), "shapes differ", id="shapes-differ"),
    pytest.param(np.full((2, 2), 0.5), np.zeros((2, 2)), "whole numbers", id="fractional-float"),
    pytest.param(np.array([[0.0, np.nan]]), np.zeros((1, 2)), "whole numbers", id="nan"),
    pytest.param(np.array([[0.0, np.inf]], np.float32), np.zeros((1, 2)), "whole numbers", id="inf"),
    pytest.param(np.array([[0.0, 1e7, 0.25]]), np.zeros((1, 3)), "whole numbers", id="fraction-wide-range"),
    pytest.param(np.array(3), np.array(3), "2-D or 3-D", id="0-d"),
    pytest.param(np.arange(4), np.arange(4), "2-D or 3-D", id="1-d"),
    pytest.param(np.zeros((2, 2), complex), np.zeros((2, 2)), "complex", id="complex"),
    pytest.param(np.zeros((2, 2), object), np.zeros((2, 2)), "object", id="object"),
    pytest.param(np.array([["a", "b"]]), np.zeros((1, 2)), "<U1", id="string"),
    pytest.param(np.zeros((2, 2), "datetime64[s]"), np.zeros((2, 2)), "datetime64", id="datetime"),
    pytest.param([[1, 2], [3]], [[1, 2], [3, 4]], "cannot be read as an array", id="ragged-list"),
    pytest.param(np.full((2, 2), 2**63, np.uint64), np.zeros((2, 2)), "64-bit", id="uint64-over-int64"),
    pytest.param(np.full((2, 2), 1e30), np.zeros((2, 2)), "64-bit", id="float-over-int64"),
]


@pytest.mark.parametrize("pred, gt, match", BAD_ARRAYS)
def test_bad_arrays_are_one_line_input_errors(pred: object, gt: object, match: str, kernels: str) -> None:
    for call in (confusion_matrix, joint_counts):
        with pytest.raises(InputError, match=match) as info:
            call(pred, gt)
        assert isinstance(info.value, SegevalError)
        assert "\n" not in str(info.value)
        assert "pred" in str(info.value) or "gt" in str(info.value)


def test_bad_gt_is_named_in_the_message() -> None:
    with pytest.raises(InputError, match=r"^labels/case_1\.nii\.gz: label values must be whole"):
        joint_counts(np.zeros((2, 2)), np.full((2, 2), 1.5), names=("pred/case_1.nii.gz", "labels/case_1.nii.gz"))


# --------------------------------------------------------------------------- bounded memory

_MIB = 1 << 20
_BIG = (512, 512, 256)  # 64 Mi voxels


def _big_pair(dtype: object, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """np.zeros plus blocks: ``n_labels`` foreground labels (K = n_labels + 1)."""
    gt = np.zeros(_BIG, dtype=dtype)
    pred = np.zeros(_BIG, dtype=dtype)
    top = 65535 if np.dtype(dtype).itemsize == 2 else 255
    labels = np.linspace(1, top, n_labels).astype(np.int64)
    for i, lab in enumerate(labels):
        x, y, z = (i * 37) % 480, (i * 53) % 480, (i * 11) % 230
        gt[x : x + 24, y : y + 24, z : z + 20] = lab
        pred[x + 3 : x + 27, y : y + 24, z + 2 : z + 22] = lab
    return pred, gt


@pytest.mark.parametrize("path", [pytest.param("numba", id="numba"), pytest.param("numpy", id="numpy")])
@pytest.mark.parametrize(
    "dtype, n_labels, mixed_order",
    [
        pytest.param(np.uint8, 4, False, id="uint8-K5"),
        pytest.param(np.uint8, 117, False, id="uint8-K118"),
        pytest.param(np.uint16, 4, False, id="uint16-K5"),
        # C pred vs Fortran gt: one volume is copied into the other's order (64 MiB here).
        pytest.param(np.uint8, 4, True, id="uint8-K5-mixed-order"),
    ],
)
def test_extra_memory_is_bounded_on_64M_voxels(path: str, dtype: object, n_labels: int, mixed_order: bool) -> None:
    """At most 128 MiB beyond the inputs (which alone are 128 or 256 MiB).

    tracemalloc sees every NumPy allocation, so the pure-NumPy path is measured in
    full. Allocations made inside numba's njit functions (the per-thread histograms)
    go through numba's own allocator and are NOT tracked; for the numba path this
    measures only what confusion.py allocates around the kernels (lookup tables,
    the final matrix), and the NumPy path stands in for the whole.
    """
    if path == "numba" and not _numba.HAVE_NUMBA:
        pytest.skip("numba not importable")
    with _numba.forced(path == "numba"):
        _measure_extra_memory(dtype, n_labels, mixed_order)


def _measure_extra_memory(dtype: object, n_labels: int, mixed_order: bool) -> None:
    pred, gt = _big_pair(dtype, n_labels)
    if mixed_order:
        gt = np.asfortranarray(gt)
    small_p, small_g = pred[:64, :64, :16].copy(order="K"), gt[:64, :64, :16].copy(order="K")
    joint_counts(small_p, small_g)  # compile / load the kernels outside the measurement
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        joint = joint_counts(pred, gt)
        cm = confusion_matrix(pred, gt, labels=[0, 1])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (peak - base) / _MIB <= 128, f"{(peak - base) / _MIB:.0f} MiB beyond the inputs"
    assert joint.total == pred.size and joint.values.size == n_labels + 1
    assert cm.shape == (2, 2)


# --- the NumPy run-counting kernels against a plain per-voxel count ---------------------

_EDGE_SIZES = [1, 2, 7, 8, 9, 63, 64, 65, _hist_numpy.CHUNK - 1, _hist_numpy.CHUNK, _hist_numpy.CHUNK + 1,
               2 * _hist_numpy.CHUNK + 9]


@pytest.mark.parametrize("n", [pytest.param(n, id=f"n{n}") for n in _EDGE_SIZES])
@pytest.mark.parametrize(
    "dtype_a, values_a, dtype_b, values_b",
    [
        pytest.param(np.uint8, [0, 1, 2, 200], np.uint8, [0, 3, 255], id="uint8-uint8"),
        pytest.param(np.int8, [-128, -1, 0, 5], np.uint8, [0, 1], id="int8-uint8"),
        pytest.param(np.uint16, [0, 7, 65535], np.uint8, [0, 1], id="uint16-uint8"),
        pytest.param(np.int32, [-7, 0, 10**6], np.int64, [0, 5, 9], id="int32-int64"),
    ],
)
def test_numpy_joint_hist_equals_a_voxel_count(rng: np.random.Generator, n: int, dtype_a: object,
                                               values_a: list[int], dtype_b: object,
                                               values_b: list[int]) -> None:
    # Sizes at the word (8) and chunk boundaries, where runs are cut and masks padded.
    a, lut_a, off_a, ka = _codes_input(rng, dtype_a, n, values_a)
    b, lut_b, off_b, kb = _codes_input(rng, dtype_b, n, values_b)
    want = np.zeros((ka, kb), dtype=np.int64)
    np.add.at(want, (lut_a[a.astype(np.int64) - off_a], lut_b[b.astype(np.int64) - off_b]), 1)
    got = _hist_numpy.joint_hist(a, b, lut_a, off_a, lut_b, off_b, ka, kb)
    np.testing.assert_array_equal(got, want)
    # A strided view (every other voxel) takes the same path through views, not copies.
    got2 = _hist_numpy.joint_hist(a[::2], b[::2], lut_a, off_a, lut_b, off_b, ka, kb)
    want2 = np.zeros((ka, kb), dtype=np.int64)
    np.add.at(want2, (lut_a[a[::2].astype(np.int64) - off_a], lut_b[b[::2].astype(np.int64) - off_b]), 1)
    np.testing.assert_array_equal(got2, want2)


@pytest.mark.parametrize("n", [pytest.param(n, id=f"n{n}") for n in _EDGE_SIZES])
def test_numpy_presence_equals_bincount(rng: np.random.Generator, n: int) -> None:
    a = rng.choice(np.array([-3, 0, 2, 1000]), size=n).astype(np.int32)
    a[: n // 2] = 0  # one long run as well as short ones
    want = np.bincount(a.astype(np.int64) + 3, minlength=1004)
    np.testing.assert_array_equal(_hist_numpy.presence(a, -3, 1004), want)


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.bool_, st.integers(0, 40).map(lambda k: 8 * k)), st.integers(0, 5))
def test_true_at_equals_flatnonzero(mask: np.ndarray, base: int) -> None:
    np.testing.assert_array_equal(_hist_numpy._true_at(mask, base), np.flatnonzero(mask) + base)
