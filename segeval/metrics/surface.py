"""Surface distance metrics per class, in mm: HD, HD95, HD95 pooled, ASSD, MASD, NSD.

Every metric is a reduction (:data:`REDUCTIONS`) of one intermediate per
class, its :class:`~segeval.metrics.boundaries.ClassDistances` (the two
directed boundary-to-boundary distance arrays, from
:mod:`segeval.metrics.boundaries`). With d_PG, d_GP those arrays, ∂P, ∂G the
boundary voxel sets and perc the linearly interpolated percentile (NumPy's
default):

* hd = max(max d_PG, max d_GP)
* hd95 = max(perc(d_PG, q), perc(d_GP, q)) (MONAI, Metrics Reloaded; DeepMind's definition on its own boundary)
* hd95_pooled = perc(d_PG ∪ d_GP, q) (MedPy ``hd95``, seg-metrics)
* assd = mean(d_PG ∪ d_GP) (MedPy ``assd``, MONAI ``symmetric=True``)
* masd = (mean d_PG + mean d_GP) / 2 (Metrics Reloaded's MASD)
* nsd = (#{d_PG <= τ} + #{d_GP <= τ}) / (|∂P| + |∂G|) (MONAI's default and
  Metrics Reloaded: voxel counts; DeepMind weights by surface area instead)

``weights="area"`` (``--surface-weights area``) uses DeepMind's surface elements weighted by their
areas instead (:mod:`segeval.metrics.surfels`); hd95 is then DeepMind's robust Hausdorff.

Empty masks: exactly one of P, G empty gives nsd 0 and every distance
``inf``; both empty follow ``empty`` (NaN; the perfect score, distances 0 and
nsd 1; or the worst, distances inf and nsd 0).

One cohesive module: the reductions, their empty-mask rules and the
one-metric functions share the definitions above and change together.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from segeval.errors import UnknownMetricError
from segeval.metrics import surfels
from segeval.metrics._checks import (
    Array,
    as_classes,
    check_empty,
    check_percentile,
    check_tolerance,
    members_of,
)
from segeval.metrics.boundaries import ClassDistances, FloatArray, class_distances

__all__ = [
    "REDUCTIONS",
    "SURFACE_METRICS",
    "assd",
    "boundary_distances",
    "hausdorff",
    "hausdorff_percentile",
    "masd",
    "nsd",
    "reduce_distances",
    "surface_metrics",
]


@dataclass(frozen=True)
class Options:
    """What the reductions read besides the distances: τ (mm) and q."""

    tolerance_mm: float = 1.0
    percentile: float = 95.0


def _mean(d: FloatArray) -> float:
    """Mean of non-empty ``d``, kept within ``[min d, max d]``.

    The floating-point mean of equal values can come out one ulp above them
    (three distances of 1.7888... averaged to more than their maximum), which
    broke ``assd <= hd``; the exact mean never leaves that range.
    """
    return min(max(float(d.mean()), float(d.min())), float(d.max()))


def _hd(d: ClassDistances, o: Options) -> float:
    return float(max(d.d_pg.max(), d.d_gp.max()))


def _hd95(d: ClassDistances, o: Options) -> float:
    return float(max(np.percentile(d.d_pg, o.percentile), np.percentile(d.d_gp, o.percentile)))


def _hd95_pooled(d: ClassDistances, o: Options) -> float:
    return float(np.percentile(np.concatenate([d.d_pg, d.d_gp]), o.percentile))


def _assd(d: ClassDistances, o: Options) -> float:
    return _mean(np.concatenate([d.d_pg, d.d_gp]))


def _masd(d: ClassDistances, o: Options) -> float:
    return (_mean(d.d_pg) + _mean(d.d_gp)) / 2


def _nsd(d: ClassDistances, o: Options) -> float:
    hits = np.count_nonzero(d.d_pg <= o.tolerance_mm) + np.count_nonzero(d.d_gp <= o.tolerance_mm)
    return float(hits / (d.n_pred + d.n_gt))


#: Each surface metric's reduction of a class's distances (both boundaries non-empty), by name.
REDUCTIONS: dict[str, Callable[[ClassDistances, Options], float]] = {
    "hd": _hd,
    "hd95": _hd95,
    "hd95_pooled": _hd95_pooled,
    "assd": _assd,
    "masd": _masd,
    "nsd": _nsd,
}
SURFACE_METRICS: tuple[str, ...] = tuple(REDUCTIONS)
_DISTANCE = (0.0, math.inf)  # (perfect, worst) of a distance in mm
#: Each metric's perfect and worst value: what an empty boundary gives (module docstring).
BOUNDS: dict[str, tuple[float, float]] = {**dict.fromkeys(REDUCTIONS, _DISTANCE), "nsd": (1.0, 0.0)}


def _empty_case(d: ClassDistances | surfels.SurfelDistances, name: str, empty: str) -> float:
    """The value of ``name`` when a boundary is empty: ``empty``'s rule when both are, else the worst."""
    perfect, worst = BOUNDS[name]
    if d.n_pred == 0 and d.n_gt == 0:
        if empty == "nan":
            return math.nan
        if empty == "one":
            return perfect
    return worst


def reduce_distances(
    distances: Sequence[ClassDistances | surfels.SurfelDistances],
    metrics: Sequence[str],
    *,
    tolerance_mm: float = 1.0,
    percentile: float = 95.0,
    empty: str = "nan",
) -> dict[str, FloatArray]:
    """Every requested metric of every class from its distances (boundary voxels or surfels), with the empty-mask rules."""
    names = _check_metrics(metrics)
    options = Options(check_tolerance(tolerance_mm), check_percentile(percentile))
    check_empty(empty)
    out = {m: np.empty(len(distances), dtype=np.float64) for m in names}
    for i, d in enumerate(distances):
        for m in names:
            if d.n_pred == 0 or d.n_gt == 0:
                out[m][i] = _empty_case(d, m, empty)
            elif isinstance(d, surfels.SurfelDistances):
                out[m][i] = surfels.reduce_surfels(d, m, tolerance_mm=options.tolerance_mm, percentile=options.percentile)
            else:
                out[m][i] = REDUCTIONS[m](d, options)
    return out


def _check_metrics(metrics: Sequence[str] | str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys((metrics,) if isinstance(metrics, str) else metrics))
    for m in names:
        if m not in REDUCTIONS:
            raise UnknownMetricError(f"unknown surface metric {m!r}; choose from {', '.join(SURFACE_METRICS)}")
    return names


def surface_metrics(
    pred: Array,
    gt: Array,
    *,
    classes: Sequence[Sequence[int]] | None = None,
    spacing_mm: Sequence[float] | None = None,
    tolerance_mm: float = 1.0,
    percentile: float = 95.0,
    metrics: Sequence[str] = SURFACE_METRICS,
    empty: str = "nan",
    method: str = "auto",
    weights: str = "voxels",
) -> dict[str, FloatArray]:
    """Surface distance metrics of every class, from one boundary pass per volume.

    Parameters
    ----------
    pred, gt : array of int or bool, shape (X, Y) or (X, Y, Z)
        Predicted and ground-truth label maps, same shape, any memory order
        (no whole-volume copy is made). NumPy, or CuPy (computed on its GPU).
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
    method : {"auto", "kdtree", "edt"}
        How the distances are found (same numbers): k-d trees over boundary
        points, or distance transforms; ``"auto"`` picks k-d trees on the CPU
        and distance transforms on a GPU.
    weights : {"voxels", "area"}, default "voxels"
        Boundary voxels alike, or DeepMind's surface elements by area (on the host; no ``method``).

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
    The formulas and empty-mask rules are in the module docstring
    (:mod:`segeval.metrics.surface`).

    References
    ----------
    .. [1] D. P. Huttenlocher, G. A. Klanderman and W. J. Rucklidge, "Comparing
       images using the Hausdorff distance", IEEE TPAMI 15(9), 1993.
    .. [2] S. Nikolov et al., "Clinically applicable segmentation of head and
       neck anatomy for radiotherapy", J Med Internet Res 23(7), 2021 (NSD).
    .. [3] L. Maier-Hein et al., "Metrics reloaded: recommendations for image
       analysis validation", Nature Methods 21, 2024 (HD95, MASD, NSD).

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
    check_tolerance(tolerance_mm)
    check_percentile(percentile)
    check_empty(empty)
    if surfels.check_surface_weights(weights) == "area":
        _, found = surfels.class_surfels(pred, gt, as_classes(classes, "classes"), spacing_mm)
        return reduce_distances(found, names, tolerance_mm=tolerance_mm, percentile=percentile, empty=empty)
    _, distances = class_distances(pred, gt, as_classes(classes, "classes"), spacing_mm, method=method)
    return reduce_distances(distances, names, tolerance_mm=tolerance_mm, percentile=percentile, empty=empty)


def boundary_distances(
    pred: Array,
    gt: Array,
    *,
    members: Sequence[int],
    spacing_mm: Sequence[float] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Directed boundary-to-boundary distances of one class, in mm: the intermediate of every metric here.

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
    _, (d,) = class_distances(pred, gt, [members_of(members, "members")], spacing_mm, method="kdtree")
    return d.d_pg, d.d_gp


# --------------------------------------------------------------------------- one metric at a time

_F = TypeVar("_F", bound=Callable[..., Any])

_PARAMETERS = """Parameters
    ----------
    pred, gt : ndarray of int or bool, shape (X, Y) or (X, Y, Z)
        Predicted and ground-truth label maps, same shape.
    labels : sequence of int or of tuple of int, optional
        Labels to score; a tuple scores the union of its labels as one class.
        Default: every label > 0 present in either volume, sorted.
    spacing_mm : sequence of float, optional
        Voxel size per array axis in mm; default 1 mm.
    empty : {"nan", "one", "zero"}, default "nan"
        Score when a label is absent from both (see the module docstring).
    weights : {"voxels", "area"}, default "voxels"
        Boundary voxels, or DeepMind's area-weighted surface elements."""

_REFERENCES = """References
    ----------
    .. [1] A. A. Taha and A. Hanbury, "Metrics for evaluating 3D medical image
       segmentation: analysis, selection, and tool", BMC Medical Imaging 15, 2015.
    .. [2] L. Maier-Hein et al., "Metrics reloaded: recommendations for image
       analysis validation", Nature Methods 21, 2024."""


def _shared_doc(fn: _F) -> _F:
    """Fill the shared Parameters and References sections into ``fn``'s docstring."""
    fn.__doc__ = (fn.__doc__ or "").replace("{parameters}", _PARAMETERS).replace("{references}", _REFERENCES)
    return fn


def _one(
    name: str, pred: Array, gt: Array, labels: Sequence[Any] | None, spacing_mm: Sequence[float] | None,
    empty: str, weights: str, **options: float,
) -> FloatArray:
    classes = as_classes(labels, "labels")
    return surface_metrics(pred, gt, classes=classes, spacing_mm=spacing_mm, metrics=(name,), empty=empty,
                           weights=weights, **options)[name]  # type: ignore[arg-type]


@_shared_doc
def hausdorff(
    pred: Array,
    gt: Array,
    *,
    labels: Sequence[int | Sequence[int]] | None = None,
    spacing_mm: Sequence[float] | None = None,
    empty: str = "nan",
    weights: str = "voxels",
) -> FloatArray:
    """Hausdorff distance between the boundaries of pred and gt, per label, in mm.

    {parameters}

    Returns
    -------
    ndarray of float64, shape (n_labels,)

    Notes
    -----
    hd = max(max d_PG, max d_GP) over the directed boundary distances of
    :func:`boundary_distances`. One of P, G empty: ``inf``.

    {references}

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.zeros((6, 6), np.uint8); gt[1:3, 1:3] = 1
    >>> pred = gt.copy(); pred[5, 5] = 1
    >>> hausdorff(pred, gt, spacing_mm=(1.0, 1.0)).round(3).tolist()
    [4.243]
    """
    return _one("hd", pred, gt, labels, spacing_mm, empty, weights)


@_shared_doc
def hausdorff_percentile(
    pred: Array,
    gt: Array,
    *,
    labels: Sequence[int | Sequence[int]] | None = None,
    spacing_mm: Sequence[float] | None = None,
    percentile: float = 95.0,
    pooled: bool = False,
    empty: str = "nan",
    weights: str = "voxels",
) -> FloatArray:
    """Percentile Hausdorff distance (HD95 by default) per label, in mm.

    {parameters}
    percentile : float, default 95.0
        q in (0, 100]; linear interpolation (NumPy's default).
    pooled : bool, default False
        False: max(perc(d_PG, q), perc(d_GP, q)) (MONAI, Metrics
        Reloaded). True: perc(d_PG ∪ d_GP, q) (MedPy ``hd95``, seg-metrics).

    Returns
    -------
    ndarray of float64, shape (n_labels,)

    Notes
    -----
    One of P, G empty: ``inf``.

    {references}

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
    return _one(name, pred, gt, labels, spacing_mm, empty, weights, percentile=percentile)


@_shared_doc
def assd(
    pred: Array,
    gt: Array,
    *,
    labels: Sequence[int | Sequence[int]] | None = None,
    spacing_mm: Sequence[float] | None = None,
    empty: str = "nan",
    weights: str = "voxels",
) -> FloatArray:
    """Average symmetric surface distance per label, in mm (both directions pooled).

    {parameters}

    Returns
    -------
    ndarray of float64, shape (n_labels,)

    Notes
    -----
    assd = (Σ d_PG + Σ d_GP) / (|∂P| + |∂G|), as MedPy ``assd`` and MONAI
    ``symmetric=True``. One of P, G empty: ``inf``.

    {references}

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.zeros((6, 6), np.uint8); gt[1:3, 1:3] = 1
    >>> pred = gt.copy(); pred[5, 5] = 1
    >>> assd(pred, gt).round(4).tolist()
    [0.4714]
    """
    return _one("assd", pred, gt, labels, spacing_mm, empty, weights)


@_shared_doc
def masd(
    pred: Array,
    gt: Array,
    *,
    labels: Sequence[int | Sequence[int]] | None = None,
    spacing_mm: Sequence[float] | None = None,
    empty: str = "nan",
    weights: str = "voxels",
) -> FloatArray:
    """Mean average surface distance per label, in mm (mean of the two directed means).

    {parameters}

    Returns
    -------
    ndarray of float64, shape (n_labels,)

    Notes
    -----
    masd = (mean d_PG + mean d_GP) / 2 (Metrics Reloaded's MASD). It differs
    from :func:`assd` when the two boundaries have different voxel counts.
    One of P, G empty: ``inf``.

    {references}

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.zeros((6, 6), np.uint8); gt[1:3, 1:3] = 1
    >>> pred = gt.copy(); pred[5, 5] = 1
    >>> masd(pred, gt).round(4).tolist()
    [0.4243]
    """
    return _one("masd", pred, gt, labels, spacing_mm, empty, weights)


@_shared_doc
def nsd(
    pred: Array,
    gt: Array,
    *,
    labels: Sequence[int | Sequence[int]] | None = None,
    spacing_mm: Sequence[float] | None = None,
    tolerance_mm: float = 1.0,
    empty: str = "nan",
    weights: str = "voxels",
) -> FloatArray:
    """Normalised surface distance (surface Dice) at tolerance τ, per label.

    {parameters}
    tolerance_mm : float, default 1.0
        τ in mm (>= 0); a distance equal to τ counts as within.

    Returns
    -------
    ndarray of float64 in [0, 1], shape (n_labels,)

    Notes
    -----
    nsd = (#{d_PG <= τ} + #{d_GP <= τ}) / (|∂P| + |∂G|), counting boundary
    voxels as MONAI (default) and Metrics Reloaded do; DeepMind weights by
    surface area instead. One of P, G empty: 0. Both empty, with
    ``empty="one"``: 1.

    References
    ----------
    .. [1] S. Nikolov et al., "Clinically applicable segmentation of head and
       neck anatomy for radiotherapy", J Med Internet Res 23(7), 2021.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.zeros((6, 6), np.uint8); gt[1:3, 1:3] = 1
    >>> pred = gt.copy(); pred[5, 5] = 1
    >>> nsd(pred, gt, tolerance_mm=1.0).tolist()
    [0.8888888888888888]
    """
    return _one("nsd", pred, gt, labels, spacing_mm, empty, weights, tolerance_mm=tolerance_mm)
