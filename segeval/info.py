"""Header summary and label census of a volume, for ``segeval info``."""

from __future__ import annotations

from typing import Any

import numpy as np

from segeval.labels import LabelMap
from segeval.metrics.confusion import value_counts
from segeval.volume import LabelVolume

__all__ = ["describe"]

# About a million voxels: a chunk stays in cache, and the temporaries never
# grow with the volume.
_CHUNK = 1 << 20


def describe(volume: LabelVolume, *, label_map: LabelMap | None = None) -> dict[str, Any]:
    """Summarise a volume: geometry and, for label maps, how many voxels each label has.

    Parameters
    ----------
    volume : LabelVolume
        As returned by :func:`segeval.io.read_volume`.
    label_map : LabelMap, optional
        Names the census rows (``name``), and says which values it does not
        declare (``declared`` False) and which is its ignore label.

    Returns
    -------
    dict
        JSON-ready: ``path``, ``shape``, ``dtype``, ``spacing_mm``,
        ``spacing_given``, ``axcodes`` (None when the file has no
        orientation), ``origin`` and ``direction`` (None likewise) and
        ``kind``. For ``kind == "labels"`` (integer or bool voxels, or floats
        that all hold whole numbers), ``census`` lists every value present,
        background included, in increasing order, as ``{"label": int,
        "voxels": int, "ml": float}``. For ``kind == "soft"`` (floats with
        fractional, NaN or infinite values) there is no census but ``min``
        and ``max`` of the finite values (None when there are none) and
        ``nonfinite_voxels``.

    Notes
    -----
    ``ml = voxels * prod(spacing_mm) / 1000``. The census is
    :func:`segeval.metrics.confusion.value_counts`: the same run-length
    counting as the confusion matrix, one pass in memory order.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((10, 10, 10), np.uint8)
    >>> labels[:2] = 1
    >>> info = describe(LabelVolume(labels, (1.0, 1.0, 2.0), path="gt.nii.gz"))
    >>> info["census"]
    [{'label': 0, 'voxels': 800, 'ml': 1.6}, {'label': 1, 'voxels': 200, 'ml': 0.4}]
    """
    arr = np.asarray(volume.labels)
    axcodes = volume.meta.get("axcodes")
    info: dict[str, Any] = {
        "path": volume.path,
        "shape": list(volume.shape),
        "dtype": arr.dtype.name,
        "spacing_mm": [float(s) for s in volume.spacing_mm],
        "spacing_given": bool(volume.spacing_given),
        "axcodes": list(axcodes) if axcodes else None,
        "origin": [float(v) for v in volume.origin] if volume.origin else None,
        "direction": [float(v) for v in volume.direction] if volume.direction else None,
    }
    # Memory order: a Fortran-ordered NIfTI array flattens without a copy.
    flat = np.ravel(arr, order="K")
    if flat.dtype == np.bool_:
        flat = flat.view(np.uint8)
    if flat.dtype.kind == "f":
        stats = _float_stats(flat)
        if not stats["whole"]:
            info["kind"] = "soft"
            info["min"], info["max"] = stats["min"], stats["max"]
            info["nonfinite_voxels"] = stats["nonfinite"]
            return info
    info["kind"] = "labels"
    voxel_ml = volume.voxel_volume_ml
    values, counts = value_counts(flat, name=volume.path or "volume")
    info["census"] = [
        {"label": int(label), "voxels": int(voxels), "ml": int(voxels) * voxel_ml}
        for label, voxels in zip(values, counts)
    ]
    if label_map is not None:
        info["label_map"] = label_map.path
        for row in info["census"]:
            v = row["label"]
            row["name"] = "ignore" if v == label_map.ignore_label else label_map.names.get(v)
            row["declared"] = v in label_map.names or v == label_map.ignore_label or any(
                v in m for _, m in label_map.regions)
    return info


def _float_stats(flat: np.ndarray[Any, Any]) -> dict[str, Any]:
    """Whether every value is finite and whole, the finite min and max, and the non-finite count."""
    whole = True
    nonfinite = 0
    lo: float | None = None
    hi: float | None = None
    for start in range(0, flat.size, _CHUNK):
        chunk = flat[start : start + _CHUNK]
        finite = np.isfinite(chunk)
        n_finite = int(np.count_nonzero(finite))
        nonfinite += chunk.size - n_finite
        if n_finite < chunk.size:
            whole = False
            chunk = chunk[finite]
        if chunk.size == 0:
            continue
        whole = whole and bool(np.all(chunk == np.floor(chunk)))
        c_lo, c_hi = float(chunk.min()), float(chunk.max())
        lo = c_lo if lo is None else min(lo, c_lo)
        hi = c_hi if hi is None else max(hi, c_hi)
    return {"whole": whole, "min": lo, "max": hi, "nonfinite": nonfinite}
