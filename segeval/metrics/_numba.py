"""The only numba runtime of segeval: availability, compilation, threads, when to use it, fork safety.

One policy for every compiled kernel (the joint histogram of
:mod:`segeval.metrics._hist_jit`, the boundary pass of
:mod:`segeval.metrics.boundaries`):

* **Lazy.** numba is found without being imported (``import numba`` costs
  about 0.3 s, with SciPy's BLAS registries about 0.5 s, which ``segeval
  --help`` must not pay) and kernels are compiled on their first call, with
  ``cache=True`` so that later processes load the machine code from disk. A
  broken install, or ``SEGEVAL_NO_NUMBA=1``, leaves every caller on its NumPy
  path, which gives identical results.
* **Pool-free.** Kernels are serial, compiled with ``nogil=True``, and
  :func:`in_threads` runs one per plain thread, started per call. numba's
  own thread pool (``prange``) is never started: it is not fork-safe
  (``batch --jobs`` forks), its default layer aborts when two threads launch
  kernels at once, and here it compiled the same loops about 3x slower.
* **Threads follow the budget.** :func:`cores` is what this process may use:
  its CPU affinity, or the share a batch worker was given
  (:func:`set_thread_budget`), so that ``--jobs N`` does not oversubscribe
  the machine.
* **Rent or buy.** numba's start-up (about 0.6 s in a new process) is paid
  only when the work repays it; see :func:`use_jit`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import threading
from collections.abc import Callable, Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

__all__ = [
    "HAVE_NUMBA",
    "KernelSet",
    "cores",
    "forced",
    "fork_is_safe",
    "in_threads",
    "numba_module",
    "prewarm",
    "set_thread_budget",
    "use_jit",
]


def _numba_wanted() -> bool:
    """numba is installed and not turned off (found without importing it)."""
    if os.environ.get("SEGEVAL_NO_NUMBA", "") not in ("", "0"):
        return False
    return importlib.util.find_spec("numba") is not None


#: numba is installed and not turned off by ``SEGEVAL_NO_NUMBA``.
HAVE_NUMBA = _numba_wanted()

_lock = threading.Lock()
_numba: ModuleType | None = None
_broken = False


def numba_module() -> ModuleType | None:
    """The numba module, imported on the first call; None when it is missing, off or broken."""
    global _numba, _broken
    if _numba is not None or _broken or not HAVE_NUMBA:
        return _numba
    with _lock:
        if _numba is None and not _broken:
            try:
                import numba
            except (ImportError, OSError):  # pragma: no cover - a broken install
                _broken = True
                return None
            _numba = numba
    return _numba


class KernelSet:
    """Plain Python kernels that numba compiles together on first use.

    Parameters
    ----------
    *functions : callable
        The kernels, written in the subset of Python numba compiles. They
        stay callable as Python (slowly) for reading and debugging.

    Attributes of :meth:`compiled` are the jit-compiled kernels, by name.
    """

    def __init__(self, *functions: Callable[..., Any]) -> None:
        self._functions = functions
        self._compiled: SimpleNamespace | None = None

    def compiled(self) -> SimpleNamespace | None:
        """The compiled kernels (``cache=True, nogil=True``); None without a usable numba."""
        if self._compiled is not None:
            return self._compiled
        numba = numba_module()
        if numba is None:
            return None
        with _lock:
            if self._compiled is None:
                jit = numba.njit(cache=True, nogil=True)
                self._compiled = SimpleNamespace(**{fn.__name__: jit(fn) for fn in self._functions})
        return self._compiled

    def get(self) -> SimpleNamespace:
        """:meth:`compiled`, for callers that already checked :func:`use_jit`."""
        ns = self.compiled()
        if ns is None:  # pragma: no cover - use_jit said numba works
            raise RuntimeError("numba kernels requested but numba is not usable")
        return ns


# --------------------------------------------------------------------------- threads

_budget: int | None = None


def set_thread_budget(n: int | None) -> None:
    """Cap the threads this process's kernels and k-d tree queries use (None: all its cores).

    A batch worker gets ``cores // jobs``, so that ``--jobs`` workers share
    the machine instead of each taking all of it.
    """
    global _budget
    _budget = None if n is None else max(1, int(n))


def _affinity() -> int:
    counter = getattr(os, "process_cpu_count", None)  # Python >= 3.13
    if counter is not None:
        return int(counter() or 1)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1  # pragma: no cover - not Linux


def cores() -> int:
    """CPU cores this process may use: its affinity mask, capped by :func:`set_thread_budget`."""
    n = _affinity()
    return n if _budget is None else max(1, min(n, _budget))


def in_threads(kernel: Callable[..., None], nparts: int, *args: Any) -> None:
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


# --------------------------------------------------------------------------- when to use it

# numba's first kernel call in a process costs about 0.6 s (its import and typing
# registries, SciPy's BLAS among them), while the NumPy joint histogram counts runs
# at about 0.5 ns a voxel pair and numba at about 0.2. So a process starts on
# NumPy and switches to numba once the voxels it has counted would have paid for
# the start-up (a rent-or-buy rule: never more than twice the better choice made
# in hindsight). One case of 512x512x256 stays on NumPy; a batch of large cases
# moves to numba after about a gigavoxel.
JIT_AFTER_VOXELS = 1 << 30
_voxels_on_numpy = 0
_jit_started = False
_forced: bool | None = None


def use_jit(n_voxels: int | None = None) -> bool:
    """Whether the next kernel call should run compiled.

    Parameters
    ----------
    n_voxels : int, optional
        The voxels the call will count, for the rent-or-buy rule of the joint
        histogram. None (the boundary pass of distance metrics, where numba
        is many times faster from the first case): whenever numba is usable.
    """
    global _voxels_on_numpy, _jit_started
    if _forced is not None:
        return _forced and numba_module() is not None
    if _jit_started:
        return True
    if not HAVE_NUMBA or _broken:
        return False
    if n_voxels is not None:
        _voxels_on_numpy += n_voxels
        if _voxels_on_numpy < JIT_AFTER_VOXELS:
            return False
    _jit_started = numba_module() is not None
    return _jit_started


@contextlib.contextmanager
def forced(jit: bool) -> Iterator[None]:
    """Inside the block, every kernel runs compiled (``True``, when numba is usable) or on NumPy.

    For tests, which check that both paths give identical results.
    """
    global _forced
    saved, _forced = _forced, jit
    try:
        yield
    finally:
        _forced = saved


# --------------------------------------------------------------------------- processes

# Modules numba imports when it starts its thread pool (the first parallel kernel).
_NUMBA_POOLS = ("numba.np.ufunc.omppool", "numba.np.ufunc.tbbpool", "numba.np.ufunc.workqueue")


def fork_is_safe() -> bool:
    """True when forking this process cannot copy a lock held by another thread.

    No other Python thread, and no numba thread pool (GNU OpenMP aborts a
    forked child that uses it; segeval never starts one, but its host might).
    The idle OpenBLAS threads NumPy starts at import re-initialise after a
    fork (they register ``pthread_atfork`` handlers).
    """
    return threading.active_count() == 1 and not any(m in sys.modules for m in _NUMBA_POOLS)


def prewarm() -> None:
    """Import numba and load its typing registries now, so that forked workers share them.

    Costs about 0.5 s once instead of in every worker; starts no thread pool,
    so forking stays safe.
    """
    if numba_module() is None:
        return
    from numba.core.registry import cpu_target

    cpu_target.target_context.refresh()
