"""Keep freed volume-sized memory in the process for the next case (glibc only).

A batch reads, scores and frees two volumes per case. glibc returns freed
memory at the top of its heap to the OS once more than its trim threshold is
free (by default twice the largest block it has freed, so about one volume),
and the next case then page-faults the same amount back in: about a thousand
faults, a few milliseconds of system time, per case of 8 MiB volumes. Fixing
the thresholds keeps up to :data:`TRIM_MIB` of freed memory for reuse and lets
blocks up to :data:`MMAP_MIB` come from the heap, where they can be reused
(``benchmarks/bench_batch.py`` measures the difference).

Called by the CLI and in each batch worker, never on ``import segeval``: a
library must not retune its host's allocator.
"""

from __future__ import annotations

import sys

__all__ = ["keep_freed_memory"]

#: Freed memory (MiB) kept at the top of the heap before it is given back to the OS.
TRIM_MIB = 256
#: Blocks up to this size (MiB) come from the heap (larger ones are mapped and unmapped).
MMAP_MIB = 64
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


def keep_freed_memory() -> bool:
    """Set glibc's trim and mmap thresholds for this process; True if they were set.

    A no-op (False) off Linux, or where the C library has no ``mallopt``
    (musl accepts the calls and ignores them).
    """
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_MIB << 20)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_MIB << 20))
    return _done
