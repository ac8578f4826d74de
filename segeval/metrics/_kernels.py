"""Compiled joint-histogram kernels (numba), with pure-NumPy equivalents.

The joint histogram of two label arrays is the whole cost of the overlap
metrics, so it is the one place where segeval compiles code. Each kernel reads
its arrays once, in memory order, as 8-byte words where it can (8 uint8
voxels, 4 of 16 bits, ...), in chunks dealt round-robin to as many threads as
numba is allowed; each thread has its own histogram (no atomics), summed at
the end.

Counting is run-length. The current (a, b) pair and its length stay in
registers; a 64-byte block that continues the run (background, organ
interiors: the bulk of a medical volume) costs one test of its words against
the run's value repeated in every lane, and the histogram is written only
where the pair changes. The cost so follows the number of boundaries, not of
voxels or classes, and stays near memory bandwidth.

numba is imported on first use, not with segeval (``segeval --help`` does not
pay for it). If it is missing or ``SEGEVAL_NO_NUMBA=1`` is set, the NumPy
functions below give identical counts.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

_CHUNK = 1 << 20  # voxels per NumPy chunk: fits in cache, bounds temporaries
_WORD_CHUNK = 1 << 15  # 8-byte words per compiled chunk (256 KiB per array), dealt round-robin
_MIN_PER_THREAD = 1 << 20  # voxels: below this a thread costs more than it saves


def _numba_wanted() -> bool:
    """numba is installed and not turned off (found without importing it: importing numba
    costs about half a second, and SciPy with it, which `segeval --help` must not pay)."""
    if os.environ.get("SEGEVAL_NO_NUMBA", "") not in ("", "0"):
        return False
    return importlib.util.find_spec("numba") is not None


HAVE_NUMBA = _numba_wanted()


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
        size = min(_CHUNK, max(n, 1))
        self._changed = np.zeros(size + 8, dtype=np.bool_)  # room to pad to a whole word
        self._other = np.empty(size, dtype=np.bool_) if arrays > 1 else None

    def runs(self, *chunks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start index (0 first) and length of every run in ``chunks`` (same length, at most ``_CHUNK``)."""
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
    """Joint histogram ``h[lut_a[a - off_a], lut_b[b - off_b]]`` in bounded chunks (NumPy).

    Counts runs of equal (a, b) pairs, weighted by their length; ``za``/``zb``
    (the background codes) need no special case here. Two 1-byte arrays are
    counted by raw byte pair (``a << 8 | b``, fewer steps per run) and mapped
    through the tables once at the end, as the compiled kernel does.
    """
    n = a.shape[0]
    finder = _RunFinder(n, 2)
    if a.dtype.itemsize == 1 and b.dtype.itemsize == 1:
        a8 = a.view(np.uint8)
        b8 = b.view(np.uint8)
        raw = np.zeros(1 << 16, dtype=np.int64)
        for lo in range(0, n, _CHUNK):
            ca = a8[lo : lo + _CHUNK]
            cb = b8[lo : lo + _CHUNK]
            starts, lengths = finder.runs(ca, cb)
            keys = ca[starts].astype(np.intp)
            keys <<= 8
            keys |= cb[starts]
            _add_counts(raw, keys, lengths)
        return _fold(raw.reshape(256, 256), a.dtype, lut_a, off_a, b.dtype, lut_b, off_b, ka, kb)
    hist = np.zeros(ka * kb, dtype=np.int64)
    for lo in range(0, n, _CHUNK):
        ca = a[lo : lo + _CHUNK]
        cb = b[lo : lo + _CHUNK]
        starts, lengths = finder.runs(ca, cb)
        ia = lut_a[ca[starts].astype(np.int64) - off_a]
        ib = lut_b[cb[starts].astype(np.int64) - off_b]
        ia *= kb
        ia += ib
        _add_counts(hist, ia, lengths)
    return hist.reshape(ka, kb)


def _presence_py(a: np.ndarray, off: int, size: int) -> np.ndarray:
    """Voxel count of every value ``off .. off + size - 1`` in ``a`` (NumPy, chunked, by runs)."""
    counts = np.zeros(size, dtype=np.int64)
    finder = _RunFinder(a.shape[0], 1)
    for lo in range(0, a.shape[0], _CHUNK):
        c = a[lo : lo + _CHUNK]
        starts, lengths = finder.runs(c)
        _add_counts(counts, c[starts].astype(np.int64) - off, lengths)
    return counts


def _minmax_py(a: np.ndarray) -> tuple[float, float, bool]:
    """(min, max, all_integral_and_finite) of ``a``, chunked."""
    lo_v = np.inf
    hi_v = -np.inf
    ok = True
    for lo in range(0, a.shape[0], _CHUNK):
        c = a[lo : lo + _CHUNK]
        if c.dtype.kind == "f" and not (np.all(np.isfinite(c)) and np.all(c == np.floor(c))):
            ok = False
            break
        lo_v = min(lo_v, float(c.min()))
        hi_v = max(hi_v, float(c.max()))
    return lo_v, hi_v, ok


joint_hist: Callable[..., np.ndarray] = _joint_hist_py
presence: Callable[..., np.ndarray] = _presence_py
minmax: Callable[..., tuple[float, float, bool]] = _minmax_py


def _in_threads(kernel: Callable[..., None], nparts: int, *args: Any) -> None:
    """Call ``kernel(*args, p, nparts)`` for every part ``p``, one thread each (part 0 here).

    The kernels are compiled with ``nogil=True``, so plain threads run them in
    parallel. Threads are started per call rather than kept in a pool: a few
    tens of microseconds against milliseconds of work, and nothing left behind
    to break in a forked child (``batch --jobs``).
    """
    if nparts == 1:
        kernel(*args, 0, 1)
        return
    errors: list[Exception] = []

    def work(p: int) -> None:
        try:
            kernel(*args, p, nparts)
        except Exception as exc:  # noqa: BLE001  # pragma: no cover - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,), daemon=True) for p in range(1, nparts)]
    for t in threads:
        t.start()
    work(0)
    for t in threads:
        t.join()
    if errors:  # pragma: no cover
        raise errors[0]


# The kernels below are plain Python until `_compiled` jit-compiles them. They
# index with unsigned integers: numba wraps negative signed indices, and that
# check alone made the block test several times slower. Each is serial and
# releases the GIL; `_in_threads` runs one per thread (numba's prange compiled
# the same loops about 3x slower here).


def _joint_hist8_part(wa, wb, hist, chunk, p, nparts):  # type: ignore[no-untyped-def]
    """Joint histogram of part ``p`` of two uint8 arrays read as uint64 words, into ``hist[p]``.

    ``hist[p]`` is 256 x 256 (int64), indexed by the raw bytes (a, b). The part is the
    chunks ``p, p + nparts, ...`` of ``chunk`` words, so foreground-heavy regions
    are shared between threads. Counting is run-length: the current (a, b) pair
    and its length live in registers, a 64-voxel block that continues the run
    costs one test (16 loads, xor, or), a word inside a mixed block decodes its
    byte runs with bit tricks, and the histogram is written only when the pair
    changes, so the cost follows the number of boundaries, not of voxels.
    """
    n = np.uint64(wa.shape[0])
    uchunk = np.uint64(chunk)
    nchunks = (wa.shape[0] + chunk - 1) // chunk
    ones = np.uint64(0x0101010101010101)
    low7 = np.uint64(0x7F7F7F7F7F7F7F7F)
    highs = np.uint64(0x8080808080808000)  # byte 0 never starts a run within a word
    bytepos = np.uint64(0x0001020304050607)
    u0 = np.uint64(0)
    u1 = np.uint64(1)
    u7 = np.uint64(7)
    u8 = np.uint64(8)
    u56 = np.uint64(56)
    u64 = np.uint64(64)
    m8 = np.uint64(0xFF)
    h = hist[p]
    ra = u0  # current run: bytes (ra, rb), rn voxels; fa, fb its pattern as words
    rb = u0
    rn = u0
    fa = u0
    fb = u0
    for c in range(p, nchunks, nparts):
        lo = np.uint64(c) * uchunk
        hi = min(n, lo + uchunk)
        i = lo
        while i < hi:
            if i + u8 <= hi:
                acc = u0
                for k in range(8):
                    acc |= (wa[i + np.uint64(k)] ^ fa) | (wb[i + np.uint64(k)] ^ fb)
                if acc == u0:
                    rn += u64
                    i += u8
                    continue
                top = i + u8
            else:
                top = hi
            j = i
            while j < top:
                x = wa[j]
                y = wb[j]
                j += u1
                if (x ^ fa) | (y ^ fb) == u0:
                    rn += u8
                    continue
                # Byte k >= 1 of d is non-zero where a or b changes value at byte k;
                # m keeps the high bit of each such byte. The open run is closed, the
                # word's inner runs are counted directly, and its last run stays open.
                d = (x ^ (x << u8)) | (y ^ (y << u8))
                m = (((d & low7) + low7) | d) & highs
                h[ra, rb] += np.int64(rn)
                pos = u0
                while m != u0:
                    bit = m & (~m + u1)
                    nxt = ((bit >> u7) * bytepos) >> u56  # index of that byte
                    m ^= bit
                    sh = pos * u8
                    h[(x >> sh) & m8, (y >> sh) & m8] += np.int64(nxt - pos)
                    pos = nxt
                sh = pos * u8
                ra = (x >> sh) & m8
                rb = (y >> sh) & m8
                rn = u8 - pos
                fa = ra * ones
                fb = rb * ones
            i = top
    h[ra, rb] += np.int64(rn)


def _joint_hist_part(  # type: ignore[no-untyped-def]
    a, b, lut_a, off_a, lut_b, off_b, hist, chunk, p, nparts
):
    """Count ``hist[p, lut_a[a - off_a], lut_b[b - off_b]]`` over part ``p`` (any dtypes).

    Run-length as the 8-bit kernel, element by element: a 32-element block that
    continues the current run of raw (a, b) values costs one test; the lookup
    tables are read only when the pair changes. Used when the two arrays cannot
    be read as words together (different widths or alignments).
    """
    n = np.uint64(a.shape[0])
    uchunk = np.uint64(chunk)
    nchunks = (a.shape[0] + chunk - 1) // chunk
    u1 = np.uint64(1)
    ublk = np.uint64(32)
    if p >= nchunks:
        return
    h = hist[p]
    first = np.uint64(p) * uchunk
    fa = a[first]
    fb = b[first]
    rn = 0
    for c in range(p, nchunks, nparts):
        lo = np.uint64(c) * uchunk
        hi = min(n, lo + uchunk)
        i = lo
        while i < hi:
            if i + ublk <= hi:
                same = True
                for k in range(32):
                    same &= (a[i + np.uint64(k)] == fa) & (b[i + np.uint64(k)] == fb)
                if same:
                    rn += 32
                    i += ublk
                    continue
                top = i + ublk
            else:
                top = hi
            j = i
            while j < top:
                x = a[j]
                y = b[j]
                j += u1
                if x == fa and y == fb:
                    rn += 1
                else:
                    h[lut_a[np.int64(fa) - off_a], lut_b[np.int64(fb) - off_b]] += rn
                    fa = x
                    fb = y
                    rn = 1
            i = top
    h[lut_a[np.int64(fa) - off_a], lut_b[np.int64(fb) - off_b]] += rn


def _joint_hist_words_part(  # type: ignore[no-untyped-def]
    a, b, wa, wb, per, ones, topshift, lut_a, off_a, lut_b, off_b, hist, chunk, p, nparts
):
    """As :func:`_joint_hist_part`, for two arrays of one width (2, 4 or 8 bytes) that
    are also given as uint64 words over the same memory (``per`` elements a word).

    A block of 8 words per array that continues the current run is recognised
    by comparing the words with the run's values repeated in every lane
    (``value bits * ones``), as in the 8-bit kernel; in a mixed block each word
    gets the same test, and only mixed words go element by element. The run's
    lane pattern is taken from the raw bits of the last element counted, so
    floats compare by bits here and by value in the element loop (-0.0 and 0.0
    just take the slower path).
    """
    nw = np.uint64(wa.shape[0])
    uchunk = np.uint64(chunk)
    nchunks = (wa.shape[0] + chunk - 1) // chunk
    u0 = np.uint64(0)
    u1 = np.uint64(1)
    u8 = np.uint64(8)
    uper = np.uint64(per)
    if p >= nchunks:
        return
    h = hist[p]
    first = np.uint64(p) * uchunk
    fa = a[first * uper]
    fb = b[first * uper]
    pa = ((wa[first] << topshift) >> topshift) * ones  # lane 0 = that first element
    pb = ((wb[first] << topshift) >> topshift) * ones
    rn = 0
    for c in range(p, nchunks, nparts):
        lo = np.uint64(c) * uchunk
        hi = min(nw, lo + uchunk)
        w = lo
        while w < hi:
            if w + u8 <= hi:
                acc = u0
                for k in range(8):
                    acc |= (wa[w + np.uint64(k)] ^ pa) | (wb[w + np.uint64(k)] ^ pb)
                if acc == u0:
                    rn += 8 * per
                    w += u8
                    continue
                top = w + u8
            else:
                top = hi
            while w < top:
                if (wa[w] ^ pa) | (wb[w] ^ pb) == u0:
                    rn += per
                    w += u1
                    continue
                j = w * uper
                end = j + uper
                while j < end:
                    x = a[j]
                    y = b[j]
                    j += u1
                    if x == fa and y == fb:
                        rn += 1
                    else:
                        h[lut_a[np.int64(fa) - off_a], lut_b[np.int64(fb) - off_b]] += rn
                        fa = x
                        fb = y
                        rn = 1
                pa = (wa[w] >> topshift) * ones  # the top lane: the last element
                pb = (wb[w] >> topshift) * ones
                w += u1
    h[lut_a[np.int64(fa) - off_a], lut_b[np.int64(fb) - off_b]] += rn


def _presence_part(a, off, counts_all, chunk, p, nparts):  # type: ignore[no-untyped-def]
    """Count every value of part ``p`` of ``a`` into ``counts_all[p, value - off]`` (run-length)."""
    n = np.uint64(a.shape[0])
    uchunk = np.uint64(chunk)
    nchunks = (a.shape[0] + chunk - 1) // chunk
    u1 = np.uint64(1)
    ublk = np.uint64(32)
    if p >= nchunks:
        return
    counts = counts_all[p]
    fa = a[np.uint64(p) * uchunk]
    rn = 0
    for c in range(p, nchunks, nparts):
        lo = np.uint64(c) * uchunk
        hi = min(n, lo + uchunk)
        i = lo
        while i < hi:
            if i + ublk <= hi:
                same = True
                for k in range(32):
                    same &= a[i + np.uint64(k)] == fa
                if same:
                    rn += 32
                    i += ublk
                    continue
                top = i + ublk
            else:
                top = hi
            j = i
            while j < top:
                x = a[j]
                j += u1
                if x == fa:
                    rn += 1
                else:
                    counts[np.int64(fa) - off] += rn
                    fa = x
                    rn = 1
            i = top
    counts[np.int64(fa) - off] += rn


def _presence_words_part(  # type: ignore[no-untyped-def]
    a, wa, per, ones, topshift, off, counts_all, chunk, p, nparts
):
    """As :func:`_presence_part`, with the block test on uint64 words (see
    :func:`_joint_hist_words_part`)."""
    nw = np.uint64(wa.shape[0])
    uchunk = np.uint64(chunk)
    nchunks = (wa.shape[0] + chunk - 1) // chunk
    u0 = np.uint64(0)
    u1 = np.uint64(1)
    u8 = np.uint64(8)
    uper = np.uint64(per)
    if p >= nchunks:
        return
    counts = counts_all[p]
    first = np.uint64(p) * uchunk
    fa = a[first * uper]
    pa = ((wa[first] << topshift) >> topshift) * ones
    rn = 0
    for c in range(p, nchunks, nparts):
        lo = np.uint64(c) * uchunk
        hi = min(nw, lo + uchunk)
        w = lo
        while w < hi:
            if w + u8 <= hi:
                acc = u0
                for k in range(8):
                    acc |= wa[w + np.uint64(k)] ^ pa
                if acc == u0:
                    rn += 8 * per
                    w += u8
                    continue
                top = w + u8
            else:
                top = hi
            while w < top:
                if wa[w] ^ pa == u0:
                    rn += per
                    w += u1
                    continue
                j = w * uper
                end = j + uper
                while j < end:
                    x = a[j]
                    j += u1
                    if x == fa:
                        rn += 1
                    else:
                        counts[np.int64(fa) - off] += rn
                        fa = x
                        rn = 1
                pa = (wa[w] >> topshift) * ones
                w += u1
    counts[np.int64(fa) - off] += rn


def _minmax_part(a, out, chunk, p, nparts):  # type: ignore[no-untyped-def]
    """``out[p] = (min, max, bad)`` over part ``p`` of a float array (bad: NaN, inf, fraction)."""
    n = a.shape[0]
    nchunks = (n + chunk - 1) // chunk
    mn = np.inf
    mx = -np.inf
    bad = 0.0
    for c in range(p, nchunks, nparts):
        lo = c * chunk
        hi = min(n, lo + chunk)
        for i in range(lo, hi):
            v = float(a[i])
            if np.isnan(v) or v - np.floor(v) != 0.0:  # NaN, inf or fractional
                bad = 1.0
                break
            mn = min(mn, v)
            mx = max(mx, v)
        if bad:
            break
    out[p, 0] = mn
    out[p, 1] = mx
    out[p, 2] = bad


def _minmax_words_part(  # type: ignore[no-untyped-def]
    a, wa, per, ones, topshift, out, chunk, p, nparts
):
    """As :func:`_minmax_part`, checking and comparing a value only where a new run
    of raw bits starts (word block test as in :func:`_presence_words_part`)."""
    nw = np.uint64(wa.shape[0])
    uchunk = np.uint64(chunk)
    nchunks = (wa.shape[0] + chunk - 1) // chunk
    u0 = np.uint64(0)
    u1 = np.uint64(1)
    u8 = np.uint64(8)
    uper = np.uint64(per)
    mn = np.inf
    mx = -np.inf
    bad = 0.0
    if p < nchunks:
        first = np.uint64(p) * uchunk
        fa = a[first * uper]
        pa = ((wa[first] << topshift) >> topshift) * ones
        v = float(fa)
        if np.isnan(v) or v - np.floor(v) != 0.0:
            bad = 1.0
        else:
            mn = v
            mx = v
        for c in range(p, nchunks, nparts):
            if bad:
                break
            lo = np.uint64(c) * uchunk
            hi = min(nw, lo + uchunk)
            w = lo
            while w < hi:
                if w + u8 <= hi:
                    acc = u0
                    for k in range(8):
                        acc |= wa[w + np.uint64(k)] ^ pa
                    if acc == u0:
                        w += u8
                        continue
                    top = w + u8
                else:
                    top = hi
                while w < top:
                    if wa[w] ^ pa != u0:
                        j = w * uper
                        end = j + uper
                        while j < end:
                            v = float(a[j])
                            j += u1
                            if np.isnan(v) or v - np.floor(v) != 0.0:  # NaN, inf or fractional
                                bad = 1.0
                            mn = min(mn, v)
                            mx = max(mx, v)
                        pa = (wa[w] >> topshift) * ones
                    w += u1
    out[p, 0] = mn
    out[p, 1] = mx
    out[p, 2] = bad


_compiled_kernels: SimpleNamespace | None = None
_numba_broken = False
_compile_lock = threading.Lock()
_KERNELS = (
    _joint_hist8_part,
    _joint_hist_part,
    _joint_hist_words_part,
    _presence_part,
    _presence_words_part,
    _minmax_part,
    _minmax_words_part,
)


def _compiled() -> SimpleNamespace | None:
    """The kernels above, jit-compiled; None when numba fails to import (then the NumPy
    versions are used). numba is imported on the first call, not with segeval.

    ``cache=True`` keeps the machine code on disk (one entry per argument types), so
    later processes load it instead of compiling. ``.numba`` is the module.
    """
    global _compiled_kernels, _numba_broken
    if _compiled_kernels is not None or _numba_broken:
        return _compiled_kernels
    with _compile_lock:
        if _compiled_kernels is None and not _numba_broken:
            try:
                import numba
            except (ImportError, OSError):  # pragma: no cover - a broken install
                _numba_broken = True
                return None
            jit = numba.njit(cache=True, nogil=True)
            ns = SimpleNamespace(numba=numba)
            for fn in _KERNELS:
                setattr(ns, fn.__name__, jit(fn))
            _compiled_kernels = ns
    return _compiled_kernels


def _nb() -> SimpleNamespace:
    nb = _compiled()
    assert nb is not None  # the callers checked
    return nb


def _numba_threads() -> int:
    """numba's thread count (``NUMBA_NUM_THREADS``; ``numba.set_num_threads`` once its pool runs).

    ``numba.get_num_threads()`` would start numba's own thread pool (OpenMP or
    workqueue), which these kernels do not use and which makes forking unsafe
    (``batch --jobs``); it is asked only when the pool is already running.
    """
    numba = _nb().numba
    try:
        from numba.np.ufunc import parallel
    except ImportError:  # pragma: no cover - numba moved it
        started = False
    else:
        started = bool(getattr(parallel, "_is_initialized", False))
    if started:
        return int(numba.get_num_threads())
    return int(numba.config.NUMBA_NUM_THREADS)


def _threads(n: int, hist_size: int) -> int:
    """Threads for ``n`` voxels: numba's thread count, at most one per ``_MIN_PER_THREAD``
    voxels, and few enough that the per-thread histograms stay under ~64 MiB."""
    by_memory = max(1, (1 << 23) // max(hist_size, 1))
    return int(max(1, min(_numba_threads(), n // _MIN_PER_THREAD, by_memory)))


def _parts(n: int, hist_size: int) -> int:
    """Per-thread histograms :func:`joint_hist` allocates for ``n`` voxels (memory estimates)."""
    return _threads(n, hist_size)


def _byte_codes(values: np.ndarray, dtype: np.dtype[Any], lut: np.ndarray, off: int) -> np.ndarray:
    """``lut[value - off]`` for raw byte values read as ``dtype``, as the NumPy path indexes."""
    v = values.astype(np.uint8).view(dtype).astype(np.int64) - off
    return lut[v]


def _joint_hist8(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """256 x 256 histogram of the raw bytes of two 1-byte arrays (int64), or None when
    they cannot be read as 8-byte words from the same index (different alignment)."""
    a8 = a.view(np.uint8)
    b8 = b.view(np.uint8)
    n = a8.shape[0]
    head = (-a8.ctypes.data) % 8
    if (b8.ctypes.data + head) % 8 or n < head + 64:
        return None
    end = head + (n - head) // 8 * 8
    wa = a8[head:end].view(np.uint64)
    wb = b8[head:end].view(np.uint64)
    nparts = _threads(n, 1 << 16)
    hist = np.zeros((nparts, 256, 256), dtype=np.int64)
    _in_threads(_nb()._joint_hist8_part, nparts, wa, wb, hist, _WORD_CHUNK)
    raw = hist[0] if nparts == 1 else hist.sum(axis=0)
    for sl in (slice(0, head), slice(end, n)):
        np.add.at(raw, (a8[sl], b8[sl]), 1)
    return raw  # type: ignore[no-any-return]


def _fold(
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


def _word_split(arrays: tuple[np.ndarray, ...]) -> tuple[int, int] | None:
    """``(head, end)``: the element range ``[head, end)`` that every array (one width of
    2, 4 or 8 bytes, contiguous, native order) can also read as uint64 words from the
    same index; None when they cannot (or the range would be too short to matter)."""
    first = arrays[0]
    size = first.dtype.itemsize
    if size not in (2, 4, 8) or first.shape[0] < 64:
        return None
    for x in arrays:
        if (
            x.dtype.itemsize != size or not x.flags.c_contiguous
            or not x.dtype.isnative or x.ctypes.data % size
        ):
            return None
    head_bytes = (-first.ctypes.data) % 8
    if any((x.ctypes.data + head_bytes) % 8 for x in arrays):
        return None
    head = head_bytes // size
    per = 8 // size
    end = head + (first.shape[0] - head) // per * per
    return head, end


def _lanes(size: int) -> tuple[int, np.uint64, np.uint64]:
    """(elements a word, the lane-broadcast multiplier, the shift that isolates the top lane)."""
    bits = 8 * size
    ones = sum(1 << (bits * k) for k in range(8 // size))
    return 8 // size, np.uint64(ones), np.uint64(64 - bits)


def _joint_hist_nb(
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
    """:func:`_joint_hist_py` with the compiled kernels: same arguments, same counts.

    ``za``/``zb`` are not needed: every run, background included, is counted where it
    ends, through the lookup tables.
    """
    nb = _compiled()
    if nb is None:  # pragma: no cover - numba installed but broken
        return _joint_hist_py(a, b, lut_a, off_a, lut_b, off_b, ka, kb, za, zb)
    one_byte = a.dtype.itemsize == 1 and b.dtype.itemsize == 1
    if one_byte and a.flags.c_contiguous and b.flags.c_contiguous:
        raw = _joint_hist8(a, b)
        if raw is not None:
            return _fold(raw, a.dtype, lut_a, off_a, b.dtype, lut_b, off_b, ka, kb)
    n = a.shape[0]
    nparts = _threads(n, ka * kb)
    hist = np.zeros((nparts, ka, kb), dtype=np.int64)
    split = _word_split((a, b))
    if split is None:
        if n:
            _in_threads(
                nb._joint_hist_part, nparts, a, b, lut_a, off_a, lut_b, off_b, hist, _WORD_CHUNK * 8
            )
        return hist.sum(axis=0)  # type: ignore[no-any-return]
    head, end = split
    per, ones, topshift = _lanes(a.dtype.itemsize)
    am = a[head:end]
    bm = b[head:end]
    _in_threads(
        nb._joint_hist_words_part, nparts, am, bm, am.view(np.uint64), bm.view(np.uint64),
        per, ones, topshift, lut_a, off_a, lut_b, off_b, hist, _WORD_CHUNK,
    )
    out = hist.sum(axis=0)
    for sl in (slice(0, head), slice(end, n)):
        ia = lut_a[a[sl].astype(np.int64) - off_a]
        ib = lut_b[b[sl].astype(np.int64) - off_b]
        np.add.at(out, (ia, ib), 1)
    return out  # type: ignore[no-any-return]


def _presence_nb(a: np.ndarray, off: int, size: int) -> np.ndarray:
    """:func:`_presence_py` with the compiled kernels."""
    nb = _compiled()
    if nb is None:  # pragma: no cover - numba installed but broken
        return _presence_py(a, off, size)
    n = a.shape[0]
    nparts = _threads(n, size)
    counts = np.zeros((nparts, size), dtype=np.int64)
    split = _word_split((a,))
    if split is None:
        if n:
            _in_threads(nb._presence_part, nparts, a, off, counts, _WORD_CHUNK * 8)
        return counts.sum(axis=0)  # type: ignore[no-any-return]
    head, end = split
    per, ones, topshift = _lanes(a.dtype.itemsize)
    am = a[head:end]
    _in_threads(
        nb._presence_words_part, nparts, am, am.view(np.uint64), per, ones, topshift, off, counts,
        _WORD_CHUNK,
    )
    out = counts.sum(axis=0)
    for sl in (slice(0, head), slice(end, n)):
        np.add.at(out, a[sl].astype(np.int64) - off, 1)
    return out  # type: ignore[no-any-return]


def _minmax_nb(a: np.ndarray) -> tuple[float, float, bool]:
    """:func:`_minmax_py` with the compiled kernels (floats; integers go to NumPy)."""
    if a.dtype.kind != "f":
        # Integers are always whole; the NumPy reductions are already at bandwidth.
        return float(a.min()), float(a.max()), True
    nb = _compiled()
    if nb is None:  # pragma: no cover - numba installed but broken
        return _minmax_py(a)
    nparts = _threads(a.shape[0], 1)
    out = np.zeros((nparts, 3))
    split = _word_split((a,))
    if split is None:
        _in_threads(nb._minmax_part, nparts, a, out, _WORD_CHUNK * 8)
        return float(out[:, 0].min()), float(out[:, 1].max()), not out[:, 2].any()
    head, end = split
    per, ones, topshift = _lanes(a.dtype.itemsize)
    am = a[head:end]
    _in_threads(
        nb._minmax_words_part, nparts, am, am.view(np.uint64), per, ones, topshift, out, _WORD_CHUNK
    )
    edges = np.concatenate([a[:head], a[end:]])
    if edges.size:
        lo_e, hi_e, ok_e = _minmax_py(edges)
        if not ok_e:
            out[0, 2] = 1.0
        else:
            out[0, 0] = min(out[0, 0], lo_e)
            out[0, 1] = max(out[0, 1], hi_e)
    return float(out[:, 0].min()), float(out[:, 1].max()), not out[:, 2].any()


# numba's first kernel call in a process costs about 0.6 s (its import and typing
# registries, SciPy's BLAS among them), while the NumPy path counts runs at
# about 0.5 ns a voxel pair and numba at about 0.2. So a process starts on
# NumPy and switches to numba once the voxels it has counted would have paid
# for the start-up (a rent-or-buy rule: never more than twice the better
# choice made in hindsight). One case of 512x512x256 stays on NumPy; a batch
# of large cases moves to numba after about a gigavoxel. Both paths give
# identical counts.
_NUMBA_MIN_VOXELS = 1 << 30
_numba_ready = False
_voxels_on_numpy = 0


def warm_up() -> bool:
    """Load numba and its kernels now (e.g. before forking batch workers); True if it is usable."""
    global _numba_ready
    if _numba_ready:
        return True
    if not HAVE_NUMBA or _compiled() is None:
        return False
    tiny = np.zeros(16, dtype=np.uint8)
    _joint_hist_nb(tiny, tiny, np.arange(256, dtype=np.int64), 0, np.arange(256, dtype=np.int64), 0,
                   256, 256, 0, 0)
    _numba_ready = True
    return True


def _use_numba(n_voxels: int) -> bool:
    global _voxels_on_numpy
    if _numba_ready:
        return True
    if not HAVE_NUMBA or _numba_broken:
        return False
    _voxels_on_numpy += n_voxels
    return _voxels_on_numpy >= _NUMBA_MIN_VOXELS and warm_up()


def _joint_hist_auto(
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
    """Joint histogram on numba when it is up (or worth starting), else NumPy."""
    kernel = _joint_hist_nb if _use_numba(a.shape[0]) else _joint_hist_py
    return kernel(a, b, lut_a, off_a, lut_b, off_b, ka, kb, za, zb)


def _presence_auto(a: np.ndarray, off: int, size: int) -> np.ndarray:
    """Value counts on numba when it is up (or worth starting), else NumPy."""
    return (_presence_nb if _use_numba(a.shape[0]) else _presence_py)(a, off, size)


def _minmax_auto(a: np.ndarray) -> tuple[float, float, bool]:
    """(min, max, whole and finite) on numba when it is up (or worth starting), else NumPy."""
    return (_minmax_nb if _use_numba(a.shape[0]) else _minmax_py)(a)


if HAVE_NUMBA:
    joint_hist = _joint_hist_auto
    presence = _presence_auto
    minmax = _minmax_auto
