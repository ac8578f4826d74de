"""Header summary and label census of a volume, for ``segeval info``."""

from __future__ import annotations

from typing import Any

import numpy as np

from segeval.volume import LabelVolume

__all__ = ["describe"]

# About a million voxels: a chunk and its int64 copy stay in cache, and
# the temporaries never grow with the volume.
_CHUNK = 1 << 20
# Labels spanning at most this many values are counted with bincount
# (one pass, no sort); wider ranges fall back to np.unique.
_BINCOUNT_RANGE = 1 << 16


def describe(volume: LabelVolume) -> dict[str, Any]:
    """Summarise a volume: geometry and, for label maps, how many voxels each label has.

    Parameters
    ----------
    volume : LabelVolume
        As returned by :func:`segeval.io.read_volume`.

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
    ``ml = voxels * prod(spacing_mm) / 1000``. Counting is one pass of
    ``bincount`` over chunks of about a million voxels when the labels span
    at most 65536 values, so a 512 x 512 x 256 uint8 volume takes well
    under a second; ``np.unique`` (a sort) otherwise.

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
    info["census"] = [
        {"label": label, "voxels": voxels, "ml": voxels * voxel_ml}
        for label, voxels in _census(flat)
    ]
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


def _census(flat: np.ndarray[Any, Any]) -> list[tuple[int, int]]:
    """(label, voxel count) for every value of a 1-D integer or whole-float array, ascending."""
    if flat.size == 0:
        return []
    lo, hi = flat.min(), flat.max()
    if float(hi) - float(lo) >= _BINCOUNT_RANGE:
        values, counts = np.unique(flat, return_counts=True)
        return [(int(v), int(c)) for v, c in zip(values, counts, strict=True)]
    # Python ints: int8 127 - (-128) would overflow as NumPy scalars.
    first = int(lo)
    n_bins = int(hi) - first + 1
    counts = np.zeros(n_bins, dtype=np.int64)
    narrow = flat.dtype.kind in "iu" and flat.dtype.itemsize < 8
    for start in range(0, flat.size, _CHUNK):
        chunk = flat[start : start + _CHUNK]
        if narrow and flat.dtype.kind == "u" and first == 0:
            keys = chunk  # already non-negative bin indices
        elif narrow:
            # Widen before shifting, for the same overflow reason.
            keys = chunk.astype(np.int64) - first
        else:
            # 64-bit ints and whole floats: the range is small, so the
            # difference cannot overflow, and floats below 2**53 are exact.
            keys = (chunk - lo).astype(np.intp)
        counts += np.bincount(keys, minlength=n_bins)
    present = np.flatnonzero(counts)
    return [(first + int(i), int(counts[i])) for i in present]
