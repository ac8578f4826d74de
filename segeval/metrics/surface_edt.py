"""Surface distances through distance transforms, for array libraries with an ``ndimage``.

The CPU path (:func:`segeval.metrics.surface.surface_metrics`) measures
boundary-to-boundary distances with KD-trees over boundary point sets, which
is fastest on a CPU but has no GPU counterpart. This module computes the same
directed distances the way MedPy and MONAI do (erosion, then a Euclidean
distance transform of the other boundary, read at this boundary), inside
each class's bounding box, written once for NumPy + ``scipy.ndimage`` and
CuPy + ``cupyx.scipy.ndimage``. Both transforms are exact, so both paths give
the same numbers; the tests check that on the CPU, and on the GPU when one is
present. Only the directed distance arrays (boundary voxels, not the volume)
come back to the host, for the shared reductions.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np

from segeval.errors import InputError
from segeval.metrics.surface import (
    SURFACE_METRICS,
    _check_metrics,
    _check_options,
    _check_spacing,
    _normalise_classes,
    _reduce_all,
)


def _modules(x: Any) -> tuple[ModuleType, ModuleType]:
    """(array module, ndimage module) for the library ``x`` lives in."""
    if type(x).__module__.startswith("cupy"):
        import cupy
        import cupyx.scipy.ndimage as cndi

        return cupy, cndi
    import scipy.ndimage as ndi

    return np, ndi


def _host(x: Any) -> np.ndarray:
    return np.asarray(x.get() if hasattr(x, "get") else x, dtype=np.float64)


def _bbox(mask: Any, xp: ModuleType) -> tuple[slice, ...] | None:
    """Bounding box of ``mask`` grown by one voxel (clipped), or None when empty."""
    box = []
    for ax in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != ax)
        hit = np.flatnonzero(_host(xp.any(mask, axis=other)))
        if hit.size == 0:
            return None
        box.append(slice(max(int(hit[0]) - 1, 0), min(int(hit[-1]) + 2, mask.shape[ax])))
    return tuple(box)


def class_distances_edt(
    pred: Any, gt: Any, members: Sequence[int], spacing: np.ndarray, xp: ModuleType, ndi: ModuleType
) -> tuple[np.ndarray, np.ndarray]:
    """(d_pred_to_gt, d_gt_to_pred) of one class, in mm, via distance transforms in its box."""
    members_arr = xp.asarray(list(members))
    p_all = xp.isin(pred, members_arr)
    g_all = xp.isin(gt, members_arr)
    box = _bbox(p_all | g_all, xp)
    if box is None:
        return np.zeros(0), np.zeros(0)
    p, g = p_all[box], g_all[box]
    cross = ndi.generate_binary_structure(p.ndim, 1)
    # Voxels outside the array are background (border_value=0); the one-voxel
    # margin of the box is background too, so cropping changes no boundary.
    bp = p & ~ndi.binary_erosion(p, structure=cross, border_value=0)
    bg = g & ~ndi.binary_erosion(g, structure=cross, border_value=0)
    n_p, n_g = int(bp.sum()), int(bg.sum())
    if n_p == 0 or n_g == 0:
        return np.full(n_p, np.inf) if n_g == 0 else np.zeros(0), (
            np.full(n_g, np.inf) if n_p == 0 else np.zeros(0)
        )
    sampling = tuple(float(s) for s in spacing)
    d_pg = ndi.distance_transform_edt(~bg, sampling=sampling)[bp]
    d_gp = ndi.distance_transform_edt(~bp, sampling=sampling)[bg]
    return _host(d_pg), _host(d_gp)


def surface_metrics_edt(
    pred: Any,
    gt: Any,
    *,
    classes: Sequence[Sequence[int]] | None = None,
    spacing_mm: Sequence[float] | None = None,
    tolerance_mm: float = 1.0,
    percentile: float = 95.0,
    metrics: Sequence[str] = SURFACE_METRICS,
    empty: str = "nan",
) -> dict[str, np.ndarray]:
    """The numbers of :func:`segeval.metrics.surface.surface_metrics`, by distance transforms.

    Parameters are those of :func:`~segeval.metrics.surface.surface_metrics`;
    ``pred`` and ``gt`` may be NumPy or CuPy arrays (both of one library). The
    result is on the host (one value per class).

    Notes
    -----
    For each class: the union mask's bounding box (plus one voxel), the two
    boundaries by erosion with the face-connected element, one exact
    Euclidean distance transform per boundary with the voxel spacing, read at
    the other boundary. Empty-mask rules as in ``surface_metrics``.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.zeros((8, 8, 8), np.uint8); gt[2:6, 2:6, 2:6] = 1
    >>> pred = np.roll(gt, 1, axis=0)
    >>> r = surface_metrics_edt(pred, gt, spacing_mm=(2.0, 1.0, 1.0), metrics=["hd", "nsd"])
    >>> float(r["hd"][0]), round(float(r["nsd"][0]), 4)
    (2.0, 0.7143)
    """
    names = _check_metrics(metrics)
    _check_options(tolerance_mm, percentile, empty)
    xp, ndi = _modules(pred)
    if tuple(pred.shape) != tuple(gt.shape):
        raise InputError(f"pred and gt shapes differ: {tuple(pred.shape)} vs {tuple(gt.shape)}")
    if pred.ndim not in (2, 3):
        raise InputError(f"pred must be a 2-D or 3-D label array, got {pred.ndim}-D")
    spacing = _check_spacing(spacing_mm, pred.ndim)
    cls = _normalise_classes(classes, "classes")
    if cls is None:
        present = np.union1d(_host(xp.unique(pred)), _host(xp.unique(gt))).astype(np.int64)
        cls = [(int(v),) for v in present if v > 0]
    distances = (class_distances_edt(pred, gt, members, spacing, xp, ndi) for members in cls)
    return _reduce_all(distances, names, tolerance_mm, percentile, empty)
