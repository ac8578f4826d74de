"""Compiled joint-histogram kernels (numba), with pure-NumPy equivalents.

The joint histogram of two label arrays is the whole cost of the overlap
metrics, so it is the one place where segeval compiles code. Each kernel
reads both arrays once, in memory order, in as many slices as there are
threads; each slice has its own small histogram (no atomics), summed at the
end. Runs of background in both arrays (the bulk of a medical volume) are
skipped a block at a time and counted by subtraction, which keeps the kernel
close to memory bandwidth.

Numba is a dependency, but if it cannot be imported (an exotic platform) or
``SEGEVAL_NO_NUMBA=1`` is set, the NumPy functions below give identical counts.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

_BLOCK = 64
_CHUNK = 1 << 20  # voxels per NumPy chunk: fits in cache, bounds temporaries


def _load_numba() -> Any:
    if os.environ.get("SEGEVAL_NO_NUMBA", "") not in ("", "0"):
        return None
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    return numba


_numba = _load_numba()
HAVE_NUMBA = _numba is not None


def _joint_hist_py(
    a: np.ndarray,
    b: np.ndarray,
    lut_a: np.ndarray,
    off_a: int,
    lut_b: np.ndarray,
    off_b: int,
    ka: int,
    kb: int,
    za: int,
    zb: int,
) -> np.ndarray:
    """Joint histogram ``h[lut_a[a - off_a], lut_b[b - off_b]]`` in bounded chunks (NumPy)."""
    hist = np.zeros(ka * kb, dtype=np.int64)
    n = a.shape[0]
    skip = za >= 0 and zb >= 0
    for lo in range(0, n, _CHUNK):
        ca = a[lo : lo + _CHUNK]
        cb = b[lo : lo + _CHUNK]
        if skip:
            keep = (ca != 0) | (cb != 0)
            nz = int(np.count_nonzero(keep))
            hist[za * kb + zb] += ca.shape[0] - nz
            if nz == 0:
                continue
            ca = ca[keep]
            cb = cb[keep]
        ia = lut_a[ca.astype(np.int64, copy=False) - off_a]
        ib = lut_b[cb.astype(np.int64, copy=False) - off_b]
        hist += np.bincount(ia * kb + ib, minlength=ka * kb)
    return hist.reshape(ka, kb)


def _presence_py(a: np.ndarray, off: int, size: int) -> np.ndarray:
    """Voxel count of every value ``off .. off + size - 1`` in ``a`` (NumPy, chunked)."""
    counts = np.zeros(size, dtype=np.int64)
    for lo in range(0, a.shape[0], _CHUNK):
        c = a[lo : lo + _CHUNK].astype(np.int64, copy=False) - off
        counts += np.bincount(c, minlength=size)
    return counts


def _minmax_py(a: np.ndarray) -> tuple[float, float, bool]:
    """(min, max, all_integral_and_finite) of ``a``, chunked."""
    lo_v = np.inf
    hi_v = -np.inf
    ok = True
    for lo in range(0, a.shape[0], _CHUNK):
        c = a[lo : lo + _CHUNK]
        if c.dtype.kind == "f":
            if not np.all(np.isfinite(c)) or not np.all(c == np.floor(c)):
                ok = False
                break
        lo_v = min(lo_v, float(c.min()))
        hi_v = max(hi_v, float(c.max()))
    return lo_v, hi_v, ok


joint_hist: Callable[..., np.ndarray] = _joint_hist_py
presence: Callable[..., np.ndarray] = _presence_py
minmax: Callable[..., tuple[float, float, bool]] = _minmax_py


if _numba is not None:
    njit = _numba.njit
    prange = _numba.prange

    @njit(parallel=True, cache=True, nogil=True)  # type: ignore[untyped-decorator]
    def _joint_hist_nb(a, b, lut_a, off_a, lut_b, off_b, ka, kb, za, zb, nparts):  # type: ignore[no-untyped-def]
        n = a.shape[0]
        step = (n + nparts - 1) // nparts
        hist = np.zeros((nparts, ka, kb), dtype=np.int64)
        skip = za >= 0 and zb >= 0
        for p in prange(nparts):
            lo = p * step
            hi = min(n, lo + step)
            h = hist[p]
            i = lo
            while i + _BLOCK <= hi:
                if skip:
                    acc = 0
                    for k in range(_BLOCK):
                        acc |= int(a[i + k]) | int(b[i + k])
                    if acc == 0:
                        h[za, zb] += _BLOCK
                        i += _BLOCK
                        continue
                for k in range(_BLOCK):
                    h[lut_a[int(a[i + k]) - off_a], lut_b[int(b[i + k]) - off_b]] += 1
                i += _BLOCK
            while i < hi:
                h[lut_a[int(a[i]) - off_a], lut_b[int(b[i]) - off_b]] += 1
                i += 1
        return hist.sum(axis=0)

    @njit(parallel=True, cache=True, nogil=True)  # type: ignore[untyped-decorator]
    def _presence_nb(a, off, size, nparts):  # type: ignore[no-untyped-def]
        n = a.shape[0]
        step = (n + nparts - 1) // nparts
        counts = np.zeros((nparts, size), dtype=np.int64)
        for p in prange(nparts):
            lo = p * step
            hi = min(n, lo + step)
            for i in range(lo, hi):
                counts[p, int(a[i]) - off] += 1
        return counts.sum(axis=0)

    @njit(parallel=True, cache=True, nogil=True)  # type: ignore[untyped-decorator]
    def _minmax_nb(a, nparts):  # type: ignore[no-untyped-def]
        n = a.shape[0]
        step = (n + nparts - 1) // nparts
        los = np.full(nparts, np.inf)
        his = np.full(nparts, -np.inf)
        bad = np.zeros(nparts, dtype=np.bool_)
        for p in prange(nparts):
            lo = p * step
            hi = min(n, lo + step)
            mn = np.inf
            mx = -np.inf
            for i in range(lo, hi):
                v = float(a[i])
                if v != v or v - np.floor(v) != 0.0:  # NaN, inf or fractional
                    bad[p] = True
                    break
                mn = min(mn, v)
                mx = max(mx, v)
            los[p] = mn
            his[p] = mx
        return los.min(), his.max(), not bad.any()

    def _parts(n: int, hist_size: int) -> int:
        """Slices to split ``n`` voxels into: two per thread, none under 64 Ki voxels,
        and few enough that the per-slice histograms stay under ~64 MiB."""
        by_threads = _numba.get_num_threads() * 2
        by_memory = max(1, (1 << 23) // max(hist_size, 1))
        return int(max(1, min(by_threads, n // 65536, by_memory)))

    def _joint_hist_dispatch(
        a: np.ndarray,
        b: np.ndarray,
        lut_a: np.ndarray,
        off_a: int,
        lut_b: np.ndarray,
        off_b: int,
        ka: int,
        kb: int,
        za: int,
        zb: int,
    ) -> np.ndarray:
        nparts = _parts(a.shape[0], ka * kb)
        return _joint_hist_nb(a, b, lut_a, off_a, lut_b, off_b, ka, kb, za, zb, nparts)  # type: ignore[no-any-return]

    def _presence_dispatch(a: np.ndarray, off: int, size: int) -> np.ndarray:
        return _presence_nb(a, off, size, _parts(a.shape[0], size))  # type: ignore[no-any-return]

    def _minmax_dispatch(a: np.ndarray) -> tuple[float, float, bool]:
        if a.dtype.kind != "f":
            # Integers are always whole; the NumPy reductions are already at bandwidth.
            return float(a.min()), float(a.max()), True
        lo_v, hi_v, ok = _minmax_nb(a, _parts(a.shape[0], 1))
        return float(lo_v), float(hi_v), bool(ok)

    joint_hist = _joint_hist_dispatch
    presence = _presence_dispatch
    minmax = _minmax_dispatch
