"""The joint histogram in plain NumPy: the path every process starts on, and the reference.

Counting is run-length: label volumes are long runs (background, the inside
of organs, agreeing voxels), so the runs of equal (a, b) pairs are found with
two streaming comparisons per array and counted weighted by their length;
the cost follows the number of boundaries, not of voxels or classes. Work is
done in chunks of about a million voxels (:data:`CHUNK`), which keeps the
temporaries in cache and bounds memory. :mod:`segeval.metrics._hist_jit`
gives identical counts with numba.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["CHUNK", "fold", "joint_hist", "minmax", "presence"]

CHUNK = 1 << 20  # voxels per chunk: fits in cache, bounds temporaries


def _true_at(mask: np.ndarray, base: int) -> np.ndarray:
    """Indices (plus ``base``) of the True entries of a bool array whose length is a multiple of 8.

    Found a word at a time: the 8-byte words holding a True, then the bytes
    inside them. Label volumes change value in only a few words in a hundred,
    so this reads the mask once and looks closer only there (2-3x faster than
    ``np.flatnonzero`` on the whole mask).
    """
    words = mask.view(np.uint64)
    hit = np.flatnonzero(words != 0)
    inner = np.flatnonzero(words[hit].view(np.bool_))
    pos: np.ndarray = hit[inner >> 3]
    pos <<= 3
    pos += inner & 7
    pos += base
    return pos


class _RunFinder:
    """Where runs of equal values (equal tuples across arrays) start, a chunk at a time.

    Label volumes are long runs (background, the inside of organs, agreeing
    voxels), so counting runs instead of voxels makes the NumPy path several
    times faster: two streaming comparisons per array, then work per run only.
    The comparison buffers are allocated once and reused for every chunk.
    """

    def __init__(self, n: int, arrays: int) -> None:
        size = min(CHUNK, max(n, 1))
        self._changed = np.zeros(size + 8, dtype=np.bool_)  # room to pad to a whole word
        self._other = np.empty(size, dtype=np.bool_) if arrays > 1 else None

    def runs(self, *chunks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start index (0 first) and length of every run in ``chunks`` (same length, at most ``CHUNK``)."""
        m = chunks[0].shape[0]
        changed = self._changed[: m - 1]
        np.not_equal(chunks[0][1:], chunks[0][:-1], out=changed)
        for c in chunks[1:]:
            assert self._other is not None
            other = self._other[: m - 1]
            np.not_equal(c[1:], c[:-1], out=other)
            changed |= other
        padded = (m + 6) // 8 * 8  # m - 1 entries, rounded up to whole words
        self._changed[m - 1 : padded] = False
        starts = np.concatenate((np.zeros(1, dtype=np.intp), _true_at(self._changed[:padded], 1)))
        lengths = np.empty_like(starts)
        np.subtract(starts[1:], starts[:-1], out=lengths[:-1])
        lengths[-1] = m - starts[-1]
        return starts, lengths


def _add_counts(total: np.ndarray, keys: np.ndarray, lengths: np.ndarray) -> None:
    """``total[k] += sum of lengths with key k`` (float64 weights are exact below 2**53)."""
    part = np.bincount(keys, weights=lengths)
    total[: part.shape[0]] += np.rint(part).astype(np.int64)


def joint_hist(
    a: np.ndarray,
    b: np.ndarray,
    lut_a: np.ndarray,
    off_a: int,
    lut_b: np.ndarray,
    off_b: int,
    ka: int,
    kb: int,
) -> np.ndarray:
    """Joint histogram ``h[lut_a[a - off_a], lut_b[b - off_b]]`` (shape ``(ka, kb)``), in chunks.

    Counts runs of equal (a, b) pairs, weighted by their length. Two 1-byte arrays are
    counted by raw byte pair (``a << 8 | b``, fewer steps per run) and mapped
    through the tables once at the end, as the compiled kernel does.
    """
    n = a.shape[0]
    finder = _RunFinder(n, 2)
    if a.dtype.itemsize == 1 and b.dtype.itemsize == 1:
        a8 = a.view(np.uint8)
        b8 = b.view(np.uint8)
        raw = np.zeros(1 << 16, dtype=np.int64)
        for lo in range(0, n, CHUNK):
            ca = a8[lo : lo + CHUNK]
            cb = b8[lo : lo + CHUNK]
            starts, lengths = finder.runs(ca, cb)
            keys = ca[starts].astype(np.intp)
            keys <<= 8
            keys |= cb[starts]
            _add_counts(raw, keys, lengths)
        return fold(raw.reshape(256, 256), a.dtype, lut_a, off_a, b.dtype, lut_b, off_b, ka, kb)
    hist = np.zeros(ka * kb, dtype=np.int64)
    for lo in range(0, n, CHUNK):
        ca = a[lo : lo + CHUNK]
        cb = b[lo : lo + CHUNK]
        starts, lengths = finder.runs(ca, cb)
        ia = lut_a[ca[starts].astype(np.int64) - off_a]
        ib = lut_b[cb[starts].astype(np.int64) - off_b]
        ia *= kb
        ia += ib
        _add_counts(hist, ia, lengths)
    return hist.reshape(ka, kb)


def presence(a: np.ndarray, off: int, size: int) -> np.ndarray:
    """Voxel count of every value ``off .. off + size - 1`` in ``a`` (NumPy, chunked, by runs)."""
    counts = np.zeros(size, dtype=np.int64)
    finder = _RunFinder(a.shape[0], 1)
    for lo in range(0, a.shape[0], CHUNK):
        c = a[lo : lo + CHUNK]
        starts, lengths = finder.runs(c)
        _add_counts(counts, c[starts].astype(np.int64) - off, lengths)
    return counts


def minmax(a: np.ndarray) -> tuple[float, float, bool]:
    """(min, max, all_integral_and_finite) of ``a``, chunked."""
    lo_v = np.inf
    hi_v = -np.inf
    ok = True
    for lo in range(0, a.shape[0], CHUNK):
        c = a[lo : lo + CHUNK]
        if c.dtype.kind == "f" and not (np.all(np.isfinite(c)) and np.all(c == np.floor(c))):
            ok = False
            break
        lo_v = min(lo_v, float(c.min()))
        hi_v = max(hi_v, float(c.max()))
    return lo_v, hi_v, ok


def _byte_codes(values: np.ndarray, dtype: np.dtype[Any], lut: np.ndarray, off: int) -> np.ndarray:
    """``lut[value - off]`` for raw byte values read as ``dtype``, as the NumPy path indexes."""
    v = values.astype(np.uint8).view(dtype).astype(np.int64) - off
    return lut[v]


def fold(
    raw: np.ndarray,
    dtype_a: np.dtype[Any],
    lut_a: np.ndarray,
    off_a: int,
    dtype_b: np.dtype[Any],
    lut_b: np.ndarray,
    off_b: int,
    ka: int,
    kb: int,
) -> np.ndarray:
    """Map a raw byte histogram through the lookup tables: ``out[lut_a[x - off_a], lut_b[...]]``."""
    rows = np.flatnonzero(raw.any(axis=1))
    cols = np.flatnonzero(raw.any(axis=0))
    ca = _byte_codes(rows, dtype_a, lut_a, off_a)
    cb = _byte_codes(cols, dtype_b, lut_b, off_b)
    if ka == 256 and kb == 256 and np.array_equal(ca, rows) and np.array_equal(cb, cols):
        return raw  # identity (joint_counts' 8-bit path)
    keys = (ca.astype(np.int64)[:, None] * kb + cb.astype(np.int64)[None, :]).reshape(-1)
    if keys.size and keys.min() < 0:
        raise ValueError("joint_hist: a lookup table maps a present value to a negative code")
    flat = np.zeros(ka * kb, dtype=np.int64)
    np.add.at(flat, keys, raw[np.ix_(rows, cols)].reshape(-1))
    return flat.reshape(ka, kb)
