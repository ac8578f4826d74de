"""The joint histogram compiled with numba: identical counts to :mod:`segeval.metrics._hist_numpy`, faster.

Each kernel reads its arrays once, in memory order, as 8-byte words where it
can (8 uint8 voxels, 4 of 16 bits, ...), in chunks dealt round-robin to as
many threads as :func:`segeval.metrics._numba.cores` allows; each thread has
its own histogram (no atomics), summed at the end.

Counting is run-length. The current (a, b) pair and its length stay in
registers; a 64-byte block that continues the run (background, organ
interiors: the bulk of a medical volume) costs one test of its words against
the run's value repeated in every lane, and the histogram is written only
where the pair changes. The cost so follows the number of boundaries, not of
voxels or classes, and stays near memory bandwidth.

Three kernels, one per way of reading memory: raw bytes of two 1-byte arrays
(bit tricks decode a word's runs), words of two arrays of one width, and
element by element (different widths or alignments). The value counts of one
array (:func:`presence`) are the joint histogram of the array with itself.
numba itself (import, compilation, threads, when it pays) is
:mod:`segeval.metrics._numba`'s business.
"""

from __future__ import annotations

import numpy as np

from segeval.metrics import _numba
from segeval.metrics._hist_numpy import fold

__all__ = ["KERNELS", "joint_hist", "parts", "presence"]

_WORD_CHUNK = 1 << 15  # 8-byte words per compiled chunk (256 KiB per array), dealt round-robin
_MIN_PER_THREAD = 1 << 20  # voxels: below this a thread costs more than it saves


# The kernels below are plain Python until `KERNELS` jit-compiles them. They
# index with unsigned integers: numba wraps negative signed indices, and that
# check alone made the block test several times slower. Each is serial and
# releases the GIL; `_numba.in_threads` runs one per thread (numba's prange compiled
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


KERNELS = _numba.KernelSet(_joint_hist8_part, _joint_hist_part, _joint_hist_words_part)


def parts(n: int, hist_size: int) -> int:
    """Threads (and so per-thread histograms) for ``n`` voxels: the cores allowed, at most one
    per ``_MIN_PER_THREAD`` voxels, and few enough that the histograms stay under ~64 MiB."""
    by_memory = max(1, (1 << 23) // max(hist_size, 1))
    return int(max(1, min(_numba.cores(), n // _MIN_PER_THREAD, by_memory)))


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
    nparts = parts(n, 1 << 16)
    hist = np.zeros((nparts, 256, 256), dtype=np.int64)
    _numba.in_threads(KERNELS.get()._joint_hist8_part, nparts, wa, wb, hist, _WORD_CHUNK)
    raw = hist[0] if nparts == 1 else hist.sum(axis=0)
    for sl in (slice(0, head), slice(end, n)):
        np.add.at(raw, (a8[sl], b8[sl]), 1)
    return raw  # type: ignore[no-any-return]


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
    """:func:`segeval.metrics._hist_numpy.joint_hist` with the compiled kernels: same arguments, same counts.

    Every run, background included, is counted where it ends, through the lookup tables.
    """
    nb = KERNELS.get()
    one_byte = a.dtype.itemsize == 1 and b.dtype.itemsize == 1
    if one_byte and a.flags.c_contiguous and b.flags.c_contiguous:
        raw = _joint_hist8(a, b)
        if raw is not None:
            return fold(raw, a.dtype, lut_a, off_a, b.dtype, lut_b, off_b, ka, kb)
    n = a.shape[0]
    nparts = parts(n, ka * kb)
    hist = np.zeros((nparts, ka, kb), dtype=np.int64)
    split = _word_split((a, b))
    if split is None:
        if n:
            _numba.in_threads(
                nb._joint_hist_part, nparts, a, b, lut_a, off_a, lut_b, off_b, hist, _WORD_CHUNK * 8
            )
        return hist.sum(axis=0)  # type: ignore[no-any-return]
    head, end = split
    per, ones, topshift = _lanes(a.dtype.itemsize)
    am = a[head:end]
    bm = b[head:end]
    _numba.in_threads(
        nb._joint_hist_words_part, nparts, am, bm, am.view(np.uint64), bm.view(np.uint64),
        per, ones, topshift, lut_a, off_a, lut_b, off_b, hist, _WORD_CHUNK,
    )
    out = hist.sum(axis=0)
    for sl in (slice(0, head), slice(end, n)):
        ia = lut_a[a[sl].astype(np.int64) - off_a]
        ib = lut_b[b[sl].astype(np.int64) - off_b]
        np.add.at(out, (ia, ib), 1)
    return out  # type: ignore[no-any-return]


def presence(a: np.ndarray, off: int, size: int) -> np.ndarray:
    """Voxel count of every value ``off .. off + size - 1`` of ``a``: the joint histogram of ``a``
    with itself, every value of the second copy mapped to one code (so the same kernels count it)."""
    codes = np.arange(size, dtype=np.int64)
    one = np.zeros(size, dtype=np.int64)
    return joint_hist(a, a, codes, off, one, off, size, 1)[:, 0]
