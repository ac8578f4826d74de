"""Boundary (surface) distance metrics per class: HD, HD95, ASSD, MASD, NSD, in mm.

Every metric here is a reduction of one intermediate, the pair of directed
boundary-distance arrays of a class (:func:`boundary_distances`):

* ``d_pg``: for each boundary voxel of the prediction P, the Euclidean
  distance in mm to the nearest boundary voxel of the ground truth G;
* ``d_gp``: likewise from G's boundary to P's boundary.

A boundary voxel is a mask voxel with at least one face-neighbour (6 in 3-D,
4 in 2-D) outside the mask; voxels beyond the array count as background.
This is ``mask & ~binary_erosion(mask, border_value=0)`` with the
face-connected structuring element, as in MedPy, MONAI and Metrics Reloaded.

How it is fast: no distance transform is computed. One pass over each volume
(numba, parallel; a NumPy fallback gives identical results) lists the
boundary voxels of every label at once; the points are grouped by class with
a counting sort; per class, the nearest boundary voxel of the other volume is
found with a k-d tree in mm coordinates (the directed queries of all classes
share a thread pool; SciPy's k-d tree releases the GIL) and its distance
recomputed from the integer voxel offset, exactly as SciPy's Euclidean
distance transform does. Cost grows with the number of boundary voxels, not
with the volume or the number of classes. Region classes (a union of labels)
get their own pass over a 0/1 mask of the region's bounding box, which comes
free from the first pass. Inputs are read in their own memory order (C,
Fortran or any other), never copied, except non-native byte order.
"""

from __future__ import annotations

import math
import numbers
import operator
import os
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from segeval.errors import InputError, OptionError, UnknownMetricError

# numba is a dependency, but a broken install must not break scoring, and
# SEGEVAL_NO_NUMBA=1 turns it off (as for the overlap kernels); the NumPy
# path gives identical results.
_HAVE_NUMBA = False
if os.environ.get("SEGEVAL_NO_NUMBA", "") in ("", "0"):
    try:
        from numba import njit, prange

        _HAVE_NUMBA = True
    except (ImportError, OSError):  # pragma: no cover - exercised in a subprocess test
        _HAVE_NUMBA = False

#: Use the numba kernels when numba imported; tests flip this to check the
#: NumPy path gives identical results.
_USE_NUMBA = _HAVE_NUMBA

__all__ = [
    "SURFACE_METRICS",
    "assd",
    "boundary_distances",
    "hausdorff",
    "hausdorff_percentile",
    "masd",
    "nsd",
    "surface_metrics",
]

SURFACE_METRICS: tuple[str, ...] = ("hd", "hd95", "hd95_pooled", "assd", "masd", "nsd")
EMPTY_POLICIES: tuple[str, ...] = ("nan", "one", "zero")

# Voxels per NumPy-path slab: about a megavoxel keeps the temporaries in cache.
_SLAB_VOXELS = 1 << 20

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# ---------------------------------------------------------------------------
# Boundary voxels of every label, in one pass
#
# The volume is seen as a 3-D array (a 2-D input gets a trailing axis of
# length 1 that is not tested: ``check_last`` False). A voxel of value v != 0
# is a boundary voxel of label v when a face-neighbour differs from v or lies
# beyond the array. A region (a union of labels) is first mapped to a 0/1
# mask inside its bounding box, whose boundary voxels are then those of
# label 1 (beyond the box is outside the region, as beyond the array).
#
# numba: two passes, parallel over axis 0. The first counts the boundary
# voxels of every (i, j) row, skipping empty rows with a vectorised OR and
# testing the others without branches; the second fills only rows with any,
# at their prefix-sum offsets, so points come out in raster order, exactly as
# the NumPy path's ``np.nonzero`` gives them.
# ---------------------------------------------------------------------------

if _HAVE_NUMBA:

    @njit(cache=True, parallel=True, nogil=True)
    def _nb_row_counts(a: Any, check_last: bool) -> Any:
        n0, n1, n2 = a.shape
        counts = np.zeros((n0, n1), np.int64)
        for i in prange(n0):
            for j in range(n1):
                any_set = a[i, j, 0] != 0
                for k in range(n2):
                    any_set |= a[i, j, k] != 0
                if not any_set:
                    continue
                c = 0
                if i == 0 or i == n0 - 1 or j == 0 or j == n1 - 1:
                    for k in range(n2):
                        c += a[i, j, k] != 0
                elif check_last:
                    c += a[i, j, 0] != 0
                    if n2 > 1:
                        c += a[i, j, n2 - 1] != 0
                    for k in range(1, n2 - 1):
                        v = a[i, j, k]
                        e = (a[i - 1, j, k] != v) | (a[i + 1, j, k] != v)
                        e |= (a[i, j - 1, k] != v) | (a[i, j + 1, k] != v)
                        e |= (a[i, j, k - 1] != v) | (a[i, j, k + 1] != v)
                        c += (v != 0) & e
                else:
                    for k in range(n2):
                        v = a[i, j, k]
                        e = (a[i - 1, j, k] != v) | (a[i + 1, j, k] != v)
                        e |= (a[i, j - 1, k] != v) | (a[i, j + 1, k] != v)
                        c += (v != 0) & e
                counts[i, j] = c
        return counts

    @njit(cache=True, parallel=True, nogil=True)
    def _nb_fill(
        a: Any, check_last: bool, counts: Any, offsets: Any, coords: Any, values: Any
    ) -> None:
        n0, n1, n2 = a.shape
        for i in prange(n0):
            for j in range(n1):
                if counts[i, j] == 0:
                    continue
                p = offsets[i, j]
                row_edge = i == 0 or i == n0 - 1 or j == 0 or j == n1 - 1
                for k in range(n2):
                    v = a[i, j, k]
                    if row_edge or (check_last and (k == 0 or k == n2 - 1)):
                        e = v != 0
                    else:
                        e = (a[i - 1, j, k] != v) | (a[i + 1, j, k] != v)
                        e |= (a[i, j - 1, k] != v) | (a[i, j + 1, k] != v)
                        if check_last:
                            e |= (a[i, j, k - 1] != v) | (a[i, j, k + 1] != v)
                        e &= v != 0
                    if e:
                        coords[p, 0] = i
                        coords[p, 1] = j
                        coords[p, 2] = k
                        values[p] = v
                        p += 1

    @njit(cache=True, nogil=True)
    def _nb_stable_order(keys: Any, n_keys: int) -> Any:
        # Counting sort: O(n), and stable, so it equals np.argsort(kind="stable").
        starts = np.zeros(n_keys + 1, np.int64)
        for x in keys:
            starts[x + 1] += 1
        for t in range(1, n_keys + 1):
            starts[t] += starts[t - 1]
        order = np.empty(keys.shape[0], np.int64)
        for idx in range(keys.shape[0]):
            x = keys[idx]
            order[starts[x]] = idx
            starts[x] += 1
        return order


# numba's default "workqueue" threading layer aborts the process when two
# threads launch parallel kernels at once (e.g. cases scored on a thread pool);
# the kernels take milliseconds, so they simply take turns.
_KERNEL_LOCK = threading.Lock()


def _emit_numba(a: Any, check_last: bool) -> tuple[NDArray[np.int32], Any]:
    # Only equality is tested, so a signed array is read through its unsigned
    # view: one compiled kernel per width, not per dtype.
    u = a.view(a.dtype.str.replace("i", "u")) if a.dtype.kind == "i" else a
    with _KERNEL_LOCK:
        counts = _nb_row_counts(u, check_last)
        flat = counts.reshape(-1)
        offsets = np.zeros(flat.shape[0], np.int64)
        np.cumsum(flat[:-1], out=offsets[1:])
        n = int(flat.sum())
        coords = np.empty((n, 3), np.int32)
        values = np.empty(n, a.dtype)
        _nb_fill(u, check_last, counts, offsets.reshape(counts.shape), coords, values.view(u.dtype))
    return coords, values


def _emit_numpy(a: Any, check_last: bool) -> tuple[NDArray[np.int32], Any]:
    n0 = a.shape[0]
    step = max(1, _SLAB_VOXELS // max(1, a.shape[1] * a.shape[2]))
    all_coords: list[NDArray[np.int32]] = []
    all_values: list[Any] = []
    axes = (0, 1, 2) if check_last else (0, 1)
    for start in range(0, n0, step):
        stop = min(n0, start + step)
        lo, hi = max(0, start - 1), min(n0, stop + 1)
        ext = a[lo:hi]  # the slab plus a one-slice halo on each side
        edge = np.zeros(ext.shape, bool)
        for ax in axes:
            fwd = [slice(None)] * 3
            bwd = [slice(None)] * 3
            fwd[ax], bwd[ax] = slice(1, None), slice(None, -1)
            differs = ext[tuple(fwd)] != ext[tuple(bwd)]
            edge[tuple(fwd)] |= differs
            edge[tuple(bwd)] |= differs
            if ax > 0:
                first = [slice(None)] * 3
                last = [slice(None)] * 3
                first[ax], last[ax] = slice(0, 1), slice(-1, None)
                edge[tuple(first)] = True
                edge[tuple(last)] = True
        if lo == 0:
            edge[0] = True
        if hi == n0:
            edge[-1] = True
        core = ext[start - lo : stop - lo]
        mask = edge[start - lo : stop - lo] & (core != 0)
        idx = np.nonzero(mask)
        c = np.empty((idx[0].shape[0], 3), np.int32)
        c[:, 0] = idx[0] + start
        c[:, 1] = idx[1]
        c[:, 2] = idx[2]
        all_coords.append(c)
        all_values.append(core[mask])
    if not all_coords:
        return np.empty((0, 3), np.int32), np.empty(0, a.dtype)
    return np.concatenate(all_coords), np.concatenate(all_values)


def _emit(a: Any, check_last: bool) -> tuple[NDArray[np.int32], Any]:
    """Coordinates (n, 3) and values (n,) of the boundary voxels of every label != 0."""
    if a.size == 0:
        return np.empty((0, 3), np.int32), np.empty(0, a.dtype)
    if _USE_NUMBA and _HAVE_NUMBA:
        return _emit_numba(a, check_last)
    return _emit_numpy(a, check_last)


def _stable_order(keys: IntArray, n_keys: int) -> IntArray:
    if _USE_NUMBA and _HAVE_NUMBA:
        return np.asarray(_nb_stable_order(keys, n_keys))
    return np.argsort(keys, kind="stable")


# ---------------------------------------------------------------------------
# Validation and normalisation
# ---------------------------------------------------------------------------


def _check_volumes(pred: Any, gt: Any) -> tuple[np.ndarray, np.ndarray]:
    arrays = []
    for name, x in (("pred", pred), ("gt", gt)):
        a = np.asarray(x)
        if a.dtype == np.bool_:
            a = a.view(np.uint8)
        elif not np.issubdtype(a.dtype, np.integer):
            raise InputError(
                f"{name} must be an integer label array, got dtype {a.dtype}; "
                "round or cast float label maps first"
            )
        if a.ndim not in (2, 3):
            raise InputError(f"{name} must be a 2-D or 3-D label array, got {a.ndim}-D")
        if not a.dtype.isnative:
            # numba reads native byte order only; the one whole-volume copy made here.
            a = a.astype(a.dtype.newbyteorder("="))
        arrays.append(a)
    p, g = arrays
    if p.shape != g.shape:
        raise InputError(f"pred and gt shapes differ: {p.shape} vs {g.shape}")
    return p, g


def _check_spacing(spacing_mm: Sequence[float] | None, ndim: int) -> FloatArray:
    if spacing_mm is None:
        return np.ones(ndim)
    try:
        s = np.asarray(spacing_mm, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise OptionError(f"spacing_mm must be {ndim} numbers, got {spacing_mm!r}") from None
    if s.shape[0] != ndim:
        raise OptionError(
            f"spacing_mm has {s.shape[0]} values but the arrays are {ndim}-D; give one per axis"
        )
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise OptionError(f"spacing_mm must be finite and positive, got {tuple(s.tolist())}")
    return s


def _check_options(tolerance_mm: float, percentile: float, empty: str) -> None:
    if not (isinstance(tolerance_mm, numbers.Real) and math.isfinite(tolerance_mm)):
        raise OptionError(f"tolerance_mm must be a finite number, got {tolerance_mm!r}")
    if tolerance_mm < 0:
        raise OptionError(f"tolerance_mm must be >= 0, got {tolerance_mm}")
    if not (isinstance(percentile, numbers.Real) and 0 < percentile <= 100):
        raise OptionError(f"percentile must be in (0, 100], got {percentile!r}")
    if empty not in EMPTY_POLICIES:
        raise OptionError(f"empty must be one of {', '.join(EMPTY_POLICIES)}, got {empty!r}")


def _check_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    if isinstance(metrics, str):
        metrics = (metrics,)
    names = tuple(dict.fromkeys(metrics))
    for m in names:
        if m not in SURFACE_METRICS:
            raise UnknownMetricError(
                f"unknown surface metric {m!r}; choose from {', '.join(SURFACE_METRICS)}"
            )
    return names


def _members(cls: Any, option: str) -> tuple[int, ...]:
    try:
        if isinstance(cls, Sequence) and not isinstance(cls, str):
            members = tuple(operator.index(m) for m in cls)
        else:
            members = (operator.index(cls),)
    except TypeError:
        raise OptionError(
            f"{option}: each class must be an integer label or a sequence of them, got {cls!r}"
        ) from None
    if not members:
        raise OptionError(f"{option}: a class needs at least one label value, got {cls!r}")
    return tuple(dict.fromkeys(members))


def _normalise_classes(classes: Sequence[Any] | None, option: str) -> list[tuple[int, ...]] | None:
    if classes is None:
        return None
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Sequence | np.ndarray):
        raise OptionError(f"{option} must be a sequence of labels, got {classes!r}")
    return [_members(c, option) for c in classes]


def _memory_order(a: np.ndarray) -> tuple[int, ...]:
    """Axes from the slowest- to the fastest-varying in memory."""
    return tuple(int(ax) for ax in np.argsort([-abs(s) for s in a.strides], kind="stable"))


def _view_3d(a: np.ndarray, frame: tuple[int, ...]) -> tuple[np.ndarray, list[int] | None]:
    """``a`` transposed to its memory order, as a 3-D array, with the column
    permutation taking its boundary coordinates into ``frame``'s axis order.

    Each volume is read in its own memory order (a Fortran-ordered gt beside a
    C-ordered pred costs no copy and no slow strided reads); only the point
    coordinates are permuted, into pred's frame.
    """
    order = _memory_order(a)
    view = a.transpose(order)
    cols = [order.index(ax) for ax in frame] + ([2] if a.ndim == 2 else [])
    if a.ndim == 2:
        view = view[:, :, None]
    return view, (None if cols == [0, 1, 2] else cols)


# ---------------------------------------------------------------------------
# Boundary point sets per class, and nearest-boundary distances
# ---------------------------------------------------------------------------


def _present_labels(values: np.ndarray) -> IntArray:
    """Sorted distinct values of ``values`` (the emitted boundary labels)."""
    if values.shape[0] == 0:
        return np.empty(0, np.int64)
    vmin, vmax = int(values.min()), int(values.max())
    if vmax - vmin <= 1 << 22:
        hits = np.bincount((values.astype(np.int64) - vmin), minlength=vmax - vmin + 1)
        return np.nonzero(hits)[0].astype(np.int64) + vmin
    return np.unique(values).astype(np.int64)


def _group_points(
    coords: NDArray[np.int32], values: np.ndarray, wanted: IntArray
) -> dict[int, NDArray[np.int32]]:
    """Boundary coordinates of each wanted label value, raster order kept."""
    if wanted.shape[0] == 0 or values.shape[0] == 0:
        return {}
    vmin, vmax = int(values.min()), int(values.max())
    if vmax - vmin <= 1 << 22:
        lut = np.full(vmax - vmin + 1, -1, np.int64)
        inside = (wanted >= vmin) & (wanted <= vmax)
        lut[wanted[inside] - vmin] = np.nonzero(inside)[0]
        keys = lut[values.astype(np.int64) - vmin]
    else:
        pos = np.clip(np.searchsorted(wanted, values), 0, wanted.shape[0] - 1)
        keys = np.where(wanted[pos] == values, pos, -1).astype(np.int64)
    # Unwanted points get key -1 and sort first, where they are cut off.
    order = _stable_order(keys + 1, wanted.shape[0] + 1)
    bounds = np.searchsorted(keys[order], np.arange(wanted.shape[0] + 1), side="left")
    out = {}
    for t, v in enumerate(wanted.tolist()):
        if bounds[t + 1] > bounds[t]:
            out[v] = coords[order[bounds[t] : bounds[t + 1]]]
    return out


class _Boundaries:
    """The boundary voxels of every class of one volume, found in one pass."""

    def __init__(
        self, a: np.ndarray, check_last: bool, wanted: IntArray | None, cols: list[int] | None
    ) -> None:
        self.a = a
        self.check_last = check_last
        self.cols = cols
        coords, values = _emit(a, check_last)
        self.present = _present_labels(values)
        keep = self.present if wanted is None else np.intersect1d(self.present, wanted)
        self.groups = _group_points(coords, values, keep)

    def points(self, members: tuple[int, ...]) -> NDArray[np.int32]:
        """Boundary voxels of the class, in the common frame."""
        pts = self._points(members)
        return pts if self.cols is None else pts[:, self.cols]

    def _points(self, members: tuple[int, ...]) -> NDArray[np.int32]:
        if len(members) == 1 and members[0] != 0:
            return self.groups.get(members[0], np.empty((0, 3), np.int32))
        if 0 in members:
            box: list[slice] = [slice(None)] * 3
        else:
            parts = [self.groups[m] for m in set(members) if m in self.groups]
            if not parts:
                return np.empty((0, 3), np.int32)
            lo = np.min([q.min(axis=0) for q in parts], axis=0)
            hi = np.max([q.max(axis=0) for q in parts], axis=0) + 1
            box = [slice(int(s), int(e)) for s, e in zip(lo, hi)]
        region = np.isin(self.a[tuple(box)], np.asarray(members)).view(np.uint8)
        coords, _ = _emit(region, self.check_last)
        start = np.asarray([b.start or 0 for b in box], np.int32)
        return coords + start if coords.shape[0] else coords


def _directed(
    src: NDArray[np.int32],
    dst: NDArray[np.int32],
    spacing: FloatArray,
    axis_order: tuple[int, ...],
    workers: int,
) -> FloatArray:
    """Distance in mm from each ``src`` voxel to the nearest ``dst`` voxel."""
    if src.shape[0] == 0:
        return np.empty(0)
    if dst.shape[0] == 0:
        return np.full(src.shape[0], np.inf)
    # Sliding-midpoint trees (balanced_tree=False) build twice as fast on grid
    # points and query as fast; leaves of 32 query ~10% faster than 16 here.
    tree = cKDTree(dst * spacing, leafsize=32, balanced_tree=False, compact_nodes=False)
    _, nearest = tree.query(src * spacing, k=1, workers=workers)
    offset = src - dst[nearest]
    # Recompute from the integer offset, in the original axis order, as SciPy's
    # EDT does, so values equal an EDT of the other boundary, not just nearly.
    d2 = np.zeros(src.shape[0])
    for ax in axis_order:
        term = offset[:, ax] * spacing[ax]
        d2 += term * term
    return np.sqrt(d2)


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _distances(
    point_sets: list[tuple[NDArray[np.int32], NDArray[np.int32]]],
    spacing: FloatArray,
    axis_order: tuple[int, ...],
) -> list[tuple[FloatArray, FloatArray]]:
    """(d_pg, d_gp) of every class; the directed queries run on a thread pool."""
    out: list[list[FloatArray]] = [[np.empty(0), np.empty(0)] for _ in point_sets]
    tasks = []
    for t, (p_pts, g_pts) in enumerate(point_sets):
        if p_pts.shape == g_pts.shape and np.array_equal(p_pts, g_pts):
            out[t] = [np.zeros(p_pts.shape[0]), np.zeros(g_pts.shape[0])]
        else:
            tasks += [(t, 0, p_pts, g_pts), (t, 1, g_pts, p_pts)]
    # Largest first, so the threads finish together. cKDTree releases the GIL
    # while building and querying: one class per thread beats threads per query
    # when there are many classes, and a single class still uses two threads.
    tasks.sort(key=lambda task: -(task[2].shape[0] + task[3].shape[0]))
    n_cpu = _cpu_count()
    n_threads = max(1, min(n_cpu, len(tasks)))
    workers = max(1, n_cpu // n_threads)

    def run(task: tuple[int, int, NDArray[np.int32], NDArray[np.int32]]) -> None:
        t, direction, src, dst = task
        out[t][direction] = _directed(src, dst, spacing, axis_order, workers)

    if n_threads == 1:
        for task in tasks:
            run(task)
    else:
        with ThreadPoolExecutor(n_threads) as pool:
            list(pool.map(run, tasks))
    return [(d[0], d[1]) for d in out]


def _class_distances(
    pred: Any,
    gt: Any,
    classes: list[tuple[int, ...]] | None,
    spacing_mm: Sequence[float] | None,
) -> tuple[list[tuple[int, ...]], list[tuple[FloatArray, FloatArray]]]:
    """Classes (resolved when None) and their directed distances."""
    p, g = _check_volumes(pred, gt)
    spacing = _check_spacing(spacing_mm, p.ndim)
    # The common frame is pred's memory order; distances are summed in the
    # original axis order, as SciPy's EDT does.
    frame = _memory_order(p)
    sp = np.append(spacing[list(frame)], 1.0)[:3]
    axis_order = tuple(frame.index(ax) for ax in range(p.ndim))
    check_last = p.ndim == 3
    wanted = None
    if classes is not None:
        wanted = np.unique(np.asarray([m for c in classes for m in c], np.int64))
    pv, p_cols = _view_3d(p, frame)
    gv, g_cols = _view_3d(g, frame)
    bp = _Boundaries(pv, check_last, wanted, p_cols)
    bg = _Boundaries(gv, check_last, wanted, g_cols)
    if classes is None:
        labels = np.union1d(bp.present, bg.present)
        classes = [(int(v),) for v in labels[labels > 0]]
    point_sets = [(bp.points(members), bg.points(members)) for members in classes]
    return classes, _distances(point_sets, sp, axis_order)


# ---------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------


def _mean(d: FloatArray) -> float:
    """Mean of non-empty ``d``, kept within ``[min d, max d]``.

    The floating-point mean of equal values can come out one ulp above them
    (three distances of 1.7888... averaged to more than their maximum), which
    broke ``assd <= hd``; the exact mean never leaves that range.
    """
    return min(max(float(d.mean()), float(d.min())), float(d.max()))


def _reduce(
    d_pg: FloatArray,
    d_gp: FloatArray,
    metrics: tuple[str, ...],
    tolerance_mm: float,
    percentile: float,
    empty: str,
) -> dict[str, float]:
    n_p, n_g = d_pg.shape[0], d_gp.shape[0]
    if n_p == 0 or n_g == 0:
        if n_p == 0 and n_g == 0 and empty == "nan":
            return {m: math.nan for m in metrics}
        perfect = n_p == 0 and n_g == 0 and empty == "one"
        dist, overlap = (0.0, 1.0) if perfect else (math.inf, 0.0)
        return {m: overlap if m == "nsd" else dist for m in metrics}
    out: dict[str, float] = {}
    for m in metrics:
        if m == "hd":
            out[m] = float(max(d_pg.max(), d_gp.max()))
        elif m == "hd95":
            out[m] = float(max(np.percentile(d_pg, percentile), np.percentile(d_gp, percentile)))
        elif m == "hd95_pooled":
            out[m] = float(np.percentile(np.concatenate([d_pg, d_gp]), percentile))
        elif m == "assd":
            out[m] = _mean(np.concatenate([d_pg, d_gp]))
        elif m == "masd":
            out[m] = (_mean(d_pg) + _mean(d_gp)) / 2
        elif m == "nsd":
            hits = np.count_nonzero(d_pg <= tolerance_mm) + np.count_nonzero(d_gp <= tolerance_mm)
            out[m] = hits / (n_p + n_g)
    return out


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def boundary_distances(
    pred: Any,
    gt: Any,
    *,
    members: Sequence[int],
    spacing_mm: Sequence[float] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Directed boundary-to-boundary distances of one class, in mm.

    The one intermediate every surface metric reduces.

    Parameters
    ----------
    pred, gt : ndarray of int or bool, shape (X, Y) or (X, Y, Z)
        Predicted and ground-truth label maps, same shape, any memory order.
    members : sequence of int
        Label values forming the class; several values form a region (their union).
    spacing_mm : sequence of float, optional
        Voxel size per array axis in mm; default 1 mm.

    Returns
    -------
    d_pred_to_gt : ndarray of float64, shape (n_pred_boundary,)
        For each boundary voxel of P = pred in members, in raster order of the
        array's memory layout, the Euclidean distance in mm to the nearest
        boundary voxel of G = gt in members.
    d_gt_to_pred : ndarray of float64, shape (n_gt_boundary,)
        Likewise from G's boundary to P's boundary.

    Notes
    -----
    Boundary = mask minus its erosion by the face-connected structuring
    element (voxels beyond the array are background). Distances equal a
    Euclidean distance transform of the other boundary read at these voxels
    (MedPy's ``__surface_distances``). When P is empty, ``d_pred_to_gt`` is
    empty and ``d_gt_to_pred`` is all ``inf`` (and symmetrically); when both
    are empty, both arrays are empty.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.zeros((5, 5), np.uint8); gt[1:4, 1:4] = 1
    >>> pred = np.zeros((5, 5), np.uint8); pred[1:4, 2:5] = 1
    >>> d_pg, d_gp = boundary_distances(pred, gt, members=[1], spacing_mm=(1.0, 2.0))
    >>> d_pg.round(2).tolist()
    [0.0, 0.0, 2.0, 1.0, 2.0, 0.0, 0.0, 2.0]
    """
    cls = [_members(members, "members")]
    _, distances = _class_distances(pred, gt, cls, spacing_mm)
    return distances[0]


def surface_metrics(
    pred: Any,
    gt: Any,
    *,
    classes: Sequence[Sequence[int]] | None = None,
    spacing_mm: Sequence[float] | None = None,
    tolerance_mm: float = 1.0,
    percentile: float = 95.0,
    metrics: Sequence[str] = SURFACE_METRICS,
    empty: str = "nan",
) -> dict[str, FloatArray]:
    """Surface distance metrics of every class, from one boundary pass per volume.

    Parameters
    ----------
    pred, gt : ndarray of int or bool, shape (X, Y) or (X, Y, Z)
        Predicted and ground-truth label maps, same shape, any memory order
        (no whole-volume copy is made).
    classes : sequence of sequence of int, optional
        Each class is a tuple of label values (several values: a region, their
        union). Default: every label value > 0 present in either volume, each
        as a 1-tuple, in increasing order.
    spacing_mm : sequence of float, optional
        Voxel size per array axis, in mm. Default 1 mm per axis.
    tolerance_mm : float, default 1.0
        NSD tolerance τ in mm (>= 0).
    percentile : float, default 95.0
        q of ``hd95`` and ``hd95_pooled``, in (0, 100].
    metrics : sequence of str, default all of ``SURFACE_METRICS``
        Which of ``hd, hd95, hd95_pooled, assd, masd, nsd`` to return.
    empty : {"nan", "one", "zero"}, default "nan"
        Score of a class absent from both volumes: NaN; the perfect score
        (distances 0, nsd 1); or the worst (distances inf, nsd 0).

    Returns
    -------
    dict of str to ndarray of float64, shape (n_classes,)
        One entry per requested metric, in the order asked; distances in mm.

    Raises
    ------
    InputError
        Non-integer dtype, not 2-D/3-D, or shapes differ.
    OptionError
        Bad spacing, tolerance, percentile, empty policy or class.
    UnknownMetricError
        A name not in ``SURFACE_METRICS``.

    Notes
    -----
    With d_PG, d_GP the directed distance arrays of :func:`boundary_distances`,
    ∂P, ∂G the boundary voxel sets and perc the linearly interpolated percentile:

    * hd = max(max d_PG, max d_GP)
    * hd95 = max(perc(d_PG, q), perc(d_GP, q)) (MONAI, DeepMind, Metrics Reloaded)
    * hd95_pooled = perc(d_PG ∪ d_GP, q) (MedPy ``hd95``, seg-metrics)
    * assd = mean(d_PG ∪ d_GP) (MedPy ``assd``, MONAI ``symmetric=True``)
    * masd = (mean d_PG + mean d_GP) / 2 (Metrics Reloaded MASD)
    * nsd = (#{d_PG <= τ} + #{d_GP <= τ}) / (|∂P| + |∂G|) (MONAI default,
      Metrics Reloaded; voxel counts, not surface areas)

    Exactly one of P, G empty: nsd 0, every distance ``inf``. Both empty:
    per ``empty``.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.zeros((8, 8, 8), np.uint8); gt[2:6, 2:6, 2:6] = 1
    >>> pred = np.roll(gt, 1, axis=0)
    >>> r = surface_metrics(pred, gt, spacing_mm=(2.0, 1.0, 1.0), metrics=["hd", "nsd"])
    >>> float(r["hd"][0]), round(float(r["nsd"][0]), 4)
    (2.0, 0.7143)
    """
    names = _check_metrics(metrics)
    _check_options(tolerance_mm, percentile, empty)
    cls = _normalise_classes(classes, "classes")
    cls, distances = _class_distances(pred, gt, cls, spacing_mm)
    return _reduce_all(distances, names, tolerance_mm, percentile, empty)


def _reduce_all(
    distances: Iterable[tuple[FloatArray, FloatArray]],
    names: tuple[str, ...],
    tolerance_mm: float,
    percentile: float,
    empty: str,
) -> dict[str, FloatArray]:
    """Every requested metric of every class, from each class's (d_PG, d_GP)."""
    rows = [_reduce(d_pg, d_gp, names, tolerance_mm, percentile, empty) for d_pg, d_gp in distances]
    return {m: np.array([r[m] for r in rows], dtype=np.float64) for m in names}


def _one_metric(
    name: str,
    pred: Any,
    gt: Any,
    labels: Sequence[Any] | None,
    spacing_mm: Sequence[float] | None,
    empty: str,
    tolerance_mm: float = 1.0,
    percentile: float = 95.0,
) -> FloatArray:
    _check_options(tolerance_mm, percentile, empty)
    cls = _normalise_classes(labels, "labels")
    cls, distances = _class_distances(pred, gt, cls, spacing_mm)
    out = np.empty(len(cls))
    for t, (d_pg, d_gp) in enumerate(distances):
        out[t] = _reduce(d_pg, d_gp, (name,), tolerance_mm, percentile, empty)[name]
    return out


def hausdorff(
    pred: Any,
    gt: Any,
    *,
    labels: Sequence[int | Sequence[int]] | None = None,
    spacing_mm: Sequence[float] | None = None,
    empty: str = "nan",
) -> FloatArray:
    """Hausdorff distance between the boundaries of pred and gt, per label, in mm.

    Parameters
    ----------
    pred, gt : ndarray of int or bool, shape (X, Y) or (X, Y, Z)
        Predicted and ground-truth label maps, same shape.
    labels : sequence of int or of tuple of int, optional
        Labels to score; a tuple scores the union of its labels as one class.
        Default: every label > 0 present in either volume, sorted.
    spacing_mm : sequence of float, optional
        Voxel size per array axis in mm; default 1 mm.
    empty : {"nan", "one", "zero"}, default "nan"
        Score when a label is absent from both (NaN, 0.0, inf).

    Returns
    -------
    ndarray of float64, shape (n_labels,)

    Notes
    -----
    hd = max(max d_PG, max d_GP) over the directed boundary distances of
    :func:`boundary_distances`. One of P, G empty: ``inf``.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.zeros((6, 6), np.uint8); gt[1:3, 1:3] = 1
    >>> pred = gt.copy(); pred[5, 5] = 1
    >>> hausdorff(pred, gt, spacing_mm=(1.0, 1.0)).round(3).tolist()
    [4.243]
    """
    return _one_metric("hd", pred, gt, labels, spacing_mm, empty)


def hausdorff_percentile(
    pred: Any,
    gt: Any,
    *,
    labels: Sequence[int | Sequence[int]] | None = None,
    spacing_mm: Sequence[float] | None = None,
    percentile: float = 95.0,
    pooled: bool = False,
    empty: str = "nan",
) -> FloatArray:
    """Percentile Hausdorff distance (HD95 by default) per label, in mm.

    Parameters
    ----------
    pred, gt : ndarray of int or bool, shape (X, Y) or (X, Y, Z)
        Predicted and ground-truth label maps, same shape.
    labels : sequence of int or of tuple of int, optional
        Labels to score; a tuple scores the union of its labels as one class.
        Default: every label > 0 present in either volume, sorted.
    spacing_mm : sequence of float, optional
        Voxel size per array axis in mm; default 1 mm.
    percentile : float, default 95.0
        q in (0, 100]; linear interpolation (NumPy's default).
    pooled : bool, default False
        False: max(perc(d_PG, q), perc(d_GP, q)) (MONAI, DeepMind, Metrics
        Reloaded). True: perc(d_PG ∪ d_GP, q) (MedPy ``hd95``, seg-metrics).
    empty : {"nan", "one", "zero"}, default "nan"
        Score when a label is absent from both (NaN, 0.0, inf).

    Returns
    -------
    ndarray of float64, shape (n_labels,)

    Notes
    -----
    One of P, G empty: ``inf``.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.zeros((12, 12), np.uint8); gt[2:10, 2:10] = 1
    >>> pred = gt.copy(); pred[0, 0] = 1
    >>> hausdorff_percentile(pred, gt, percentile=100).round(3).tolist()
    [2.828]
    >>> hausdorff_percentile(pred, gt).round(3).tolist()
    [0.0]
    """
    name = "hd95_pooled" if pooled else "hd95"
    return _one_metric(name, pred, gt, labels, spacing_mm, empty, percentile=percentile)


def assd(
    pred: Any,
    gt: Any,
    *,
    labels: Sequence[int | Sequence[int]] | None = None,
    spacing_mm: Sequence[float] | None = None,
    empty: str = "nan",
) -> FloatArray:
    """Average symmetric surface distance per label, in mm (both directions pooled).

    Parameters
    ----------
    pred, gt : ndarray of int or bool, shape (X, Y) or (X, Y, Z)
        Predicted and ground-truth label maps, same shape.
    labels : sequence of int or of tuple of int, optional
        Labels to score; a tuple scores the union of its labels as one class.
        Default: every label > 0 present in either volume, sorted.
    spacing_mm : sequence of float, optional
        Voxel size per array axis in mm; default 1 mm.
    empty : {"nan", "one", "zero"}, default "nan"
        Score when a label is absent from both (NaN, 0.0, inf).

    Returns
    -------
    ndarray of float64, shape (n_labels,)

    Notes
    -----
    assd = (Σ d_PG + Σ d_GP) / (|∂P| + |∂G|), as MedPy ``assd`` and MONAI
    ``symmetric=True``. One of P, G empty: ``inf``.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.zeros((6, 6), np.uint8); gt[1:3, 1:3] = 1
    >>> pred = gt.copy(); pred[5, 5] = 1
    >>> assd(pred, gt).round(4).tolist()
    [0.4714]
    """
    return _one_metric("assd", pred, gt, labels, spacing_mm, empty)


def masd(
    pred: Any,
    gt: Any,
    *,
    labels: Sequence[int | Sequence[int]] | None = None,
    spacing_mm: Sequence[float] | None = None,
    empty: str = "nan",
) -> FloatArray:
    """Mean average surface distance per label, in mm (mean of the two directed means).

    Parameters
    ----------
    pred, gt : ndarray of int or bool, shape (X, Y) or (X, Y, Z)
        Predicted and ground-truth label maps, same shape.
    labels : sequence of int or of tuple of int, optional
        Labels to score; a tuple scores the union of its labels as one class.
        Default: every label > 0 present in either volume, sorted.
    spacing_mm : sequence of float, optional
        Voxel size per array axis in mm; default 1 mm.
    empty : {"nan", "one", "zero"}, default "nan"
        Score when a label is absent from both (NaN, 0.0, inf).

    Returns
    -------
    ndarray of float64, shape (n_labels,)

    Notes
    -----
    masd = (mean d_PG + mean d_GP) / 2 (Metrics Reloaded's MASD). It differs
    from :func:`assd` when the two boundaries have different voxel counts.
    One of P, G empty: ``inf``.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.zeros((6, 6), np.uint8); gt[1:3, 1:3] = 1
    >>> pred = gt.copy(); pred[5, 5] = 1
    >>> masd(pred, gt).round(4).tolist()
    [0.4243]
    """
    return _one_metric("masd", pred, gt, labels, spacing_mm, empty)


def nsd(
    pred: Any,
    gt: Any,
    *,
    labels: Sequence[int | Sequence[int]] | None = None,
    spacing_mm: Sequence[float] | None = None,
    tolerance_mm: float = 1.0,
    empty: str = "nan",
) -> FloatArray:
    """Normalised surface distance (surface Dice) at tolerance τ, per label.

    Parameters
    ----------
    pred, gt : ndarray of int or bool, shape (X, Y) or (X, Y, Z)
        Predicted and ground-truth label maps, same shape.
    labels : sequence of int or of tuple of int, optional
        Labels to score; a tuple scores the union of its labels as one class.
        Default: every label > 0 present in either volume, sorted.
    spacing_mm : sequence of float, optional
        Voxel size per array axis in mm; default 1 mm.
    tolerance_mm : float, default 1.0
        τ in mm (>= 0); a distance equal to τ counts as within.
    empty : {"nan", "one", "zero"}, default "nan"
        Score when a label is absent from both (NaN, 1.0, 0.0).

    Returns
    -------
    ndarray of float64 in [0, 1], shape (n_labels,)

    Notes
    -----
    nsd = (#{d_PG <= τ} + #{d_GP <= τ}) / (|∂P| + |∂G|), counting boundary
    voxels as MONAI (default) and Metrics Reloaded do; DeepMind weights by
    surface area instead. One of P, G empty: 0.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.zeros((6, 6), np.uint8); gt[1:3, 1:3] = 1
    >>> pred = gt.copy(); pred[5, 5] = 1
    >>> nsd(pred, gt, tolerance_mm=1.0).tolist()
    [0.8888888888888888]
    """
    return _one_metric("nsd", pred, gt, labels, spacing_mm, empty, tolerance_mm=tolerance_mm)
