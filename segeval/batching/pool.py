"""Score cases in parallel: worker processes (or this process), a bounded number in flight.

:func:`run_batch` scores :class:`~segeval.records.CaseTask` s and yields one
:class:`~segeval.records.CaseResult` per case as it finishes. A case that
cannot be scored yields a result whose ``error`` says why; the other cases go
on. At most two cases per worker are in flight, so memory does not grow with
the number of cases. A worker that dies (killed for memory, a crash in a
reader) is replaced and its cases are tried again one at a time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import warnings
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from segeval._malloc import keep_freed_memory
from segeval.backends import Backend, get_backend
from segeval.batching.pairing import check_missing
from segeval.errors import OptionError
from segeval.metrics import _numba
from segeval.records import CaseResult, CaseTask
from segeval.scoring import describe_error, score_task
from segeval.settings import ScoreSettings

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Self

__all__ = ["MISSING_MESSAGE", "WORKER_DIED", "BatchRun", "available_cores", "failed_result", "run_batch",
           "split_missing"]

MISSING_MESSAGE = (
    "no prediction for this case (--missing zero scores it as an empty prediction, "
    "--missing skip leaves it out)"
)
WORKER_DIED = (
    "the worker process died while scoring this case (out of memory, or a crash in a file "
    "reader); score it alone with `segeval score` to see why"
)


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    return _numba.cores()


def _failed(task: CaseTask, error: str) -> CaseResult:
    return CaseResult(case=task.case, pred=task.pred, gt=task.gt, error=error)


def failed_result(task: CaseTask, error: str) -> CaseResult:
    """The result of a case that could not be scored: its files and ``error`` (one line)."""
    return _failed(task, error)


def split_missing(tasks: Iterable[CaseTask], missing: str) -> tuple[list[CaseResult], list[CaseTask]]:
    """The results that need no work (a missing prediction under ``--missing error``) and the cases to score.

    ``missing="skip"`` leaves cases without a prediction out; ``"zero"`` scores them.
    """
    check_missing(missing)
    early: list[CaseResult] = []
    todo: list[CaseTask] = []
    for task in tasks:
        if task.pred is None and missing == "skip":
            continue
        if task.pred is None and missing == "error":
            early.append(_failed(task, MISSING_MESSAGE))
        else:
            todo.append(task)
    return early, todo


def run_batch(
    tasks: Iterable[CaseTask],
    settings: ScoreSettings,
    *,
    jobs: int | None = None,
    resample_pred: bool = False,
    allow_outside_data_files: bool = False,
    missing: str = "error",
    on_result: Callable[[CaseResult], None] | None = None,
    device: str | Backend = "cpu",
) -> BatchRun:
    """Score cases in parallel; iterate over the result for each case as it finishes.

    Parameters
    ----------
    tasks : iterable of CaseTask
        The cases (e.g. ``pairing.tasks(missing)``).
    settings : ScoreSettings
        Shared by every case.
    jobs : int, optional
        Worker processes; default :func:`available_cores`. ``1`` scores in this
        process. Each worker's numba kernels get ``cores // jobs`` threads so
        that the machine is not oversubscribed.
    resample_pred : bool
        Resample predictions onto the GT grid instead of refusing a mismatch.
    allow_outside_data_files : bool
        Read detached MetaImage/NRRD headers' data files outside their folders.
    missing : {"error", "zero", "skip"}
        A task without a prediction: a failed case, scored as an empty
        prediction, or left out.
    on_result : callable, optional
        Called with each result just before it is yielded.

    Returns
    -------
    BatchRun
        An iterator of CaseResult, in the order cases finish (sort by ``case``
        for a stable order). Failed cases carry ``error``: the one-line message
        of the SegevalError, or ``"TypeName: message"`` for an unexpected
        exception. Worker processes are started by this call; iterate to the
        end or ``close()`` the iterator (it is closed, and its workers stopped,
        when iteration raises, e.g. on Ctrl-C). Workers ignore SIGINT, so
        Ctrl-C reaches only this process.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from segeval.io import write_volume
    >>> from segeval.batching import pair_cases
    >>> top = tempfile.mkdtemp(); gt = np.zeros((4, 4, 2), np.uint8); gt[:2] = 1
    >>> for d in ("pred", "gt"):
    ...     os.mkdir(os.path.join(top, d))
    ...     _ = write_volume(os.path.join(top, d, "a.nii.gz"), gt)
    >>> tasks = pair_cases(os.path.join(top, "pred"), os.path.join(top, "gt")).tasks()
    >>> [(r.case, r.labels[0]["dice"]) for r in run_batch(tasks, ScoreSettings(), jobs=1)]
    [('a', 1.0)]
    """
    check_missing(missing)
    n_jobs = available_cores() if jobs is None else int(jobs)
    if n_jobs < 1:
        raise OptionError(f"--jobs: must be at least 1 (got {jobs})")
    early, todo = split_missing(tasks, missing)
    n_jobs = min(n_jobs, max(1, len(todo)))
    source: Iterator[CaseResult]
    backend = get_backend(device)
    if backend.is_gpu:
        # One process owns the GPU (a CUDA context does not survive fork); the GPU
        # does the counting, so parallel workers would only contend for it.
        n_jobs = 1
    if n_jobs == 1:
        source = (score_task(t, settings, resample_pred=resample_pred, device=backend,
                             allow_outside_data_files=allow_outside_data_files) for t in todo)
    else:
        source = _PoolRun(todo, settings, jobs=n_jobs, resample_pred=resample_pred,
                          allow_outside_data_files=allow_outside_data_files)
    return BatchRun(early, source, on_result)


class BatchRun(Iterator[CaseResult]):
    """What :func:`run_batch` returns: an iterator of results that can be closed (or used in ``with``).

    Results that need no work (a missing prediction under ``--missing error``)
    come first, then the scored cases as they finish; ``on_result`` sees each.
    """

    def __init__(
        self,
        early: list[CaseResult],
        source: Iterator[CaseResult],
        on_result: Callable[[CaseResult], None] | None,
    ) -> None:
        self._early = deque(early)
        self._source = source
        self._on_result = on_result

    def __next__(self) -> CaseResult:
        result = self._early.popleft() if self._early else next(self._source)
        if self._on_result is not None:
            self._on_result(result)
        return result

    def close(self) -> None:
        """Stop: cancel what has not started and stop the worker processes."""
        close = getattr(self._source, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _mp_context() -> Any:
    """Fork where that is safe (instant start, nothing to re-import), else a forkserver."""
    import multiprocessing as mp

    methods = mp.get_all_start_methods()
    if "fork" in methods and sys.platform.startswith("linux") and _numba.fork_is_safe():
        return mp.get_context("fork")
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        # The server imports the scoring stack once; each worker is a fork of it.
        ctx.set_forkserver_preload(["segeval.batching.pool", "segeval.io.nifti"])
        return ctx
    return mp.get_context("spawn")


def _prewarm(numba_too: bool) -> None:
    """Import, once before forking, what each worker would otherwise import on its first case.

    With distance metrics, numba is needed from the first case (see
    :func:`segeval.metrics._numba.prewarm`); done here, every fork shares it.
    Overlap metrics alone count with NumPy until a worker has seen enough
    voxels to repay numba's start-up (:func:`segeval.metrics._numba.use_jit`).
    """
    with contextlib.suppress(Exception):
        import segeval.io.nifti  # noqa: F401 - nibabel and the gzip decoder

        if numba_too:
            _numba.prewarm()


def _init_worker(threads: int) -> None:
    """Worker set-up: Ctrl-C is the main process's business; share the cores; die with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A worker is segeval's own process: let it reuse freed volumes (segeval._malloc).
    keep_freed_memory()
    _numba.set_thread_budget(threads)
    watcher = threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True)
    watcher.start()


def _exit_with_parent(ppid: int) -> None:
    """Exit when the parent is gone (the main process was killed): no orphans keep scoring."""
    while True:
        time.sleep(0.5)
        if os.getppid() != ppid:
            os._exit(1)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """A second Ctrl-C while workers are being stopped must not interrupt the stopping."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)


class _PoolRun(Iterator[CaseResult]):
    """Cases on a process pool, at most ``2 * jobs`` in flight, results as they finish.

    A worker that dies (killed for memory, a crash in a reader) breaks the pool:
    a new pool takes over, and the cases that were in flight are tried again one
    at a time, so that a second death names the case that causes it.
    """

    def __init__(self, tasks: Sequence[CaseTask], settings: ScoreSettings, *, jobs: int, resample_pred: bool,
                 allow_outside_data_files: bool = False) -> None:
        self._queue: deque[CaseTask] = deque(tasks)
        self._retry: deque[CaseTask] = deque()
        self._attempts: Counter[str] = Counter()
        self._pending: dict[Future[CaseResult], CaseTask] = {}
        self._ready: deque[CaseResult] = deque()
        self._settings = settings
        self._resample = resample_pred
        self._allow_outside = allow_outside_data_files
        self._jobs = jobs
        self._executor: Executor | None = self._new_executor()
        try:
            # Submitting starts the workers now, before the caller starts threads
            # of its own (a progress bar), so that they can be forked cheaply.
            with warnings.catch_warnings():
                # Python >= 3.12 warns on any fork of a process with several OS
                # threads; _numba.fork_is_safe has checked the threads there are.
                warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
                self._fill()
        except BaseException:
            self.close()
            raise

    def _new_executor(self) -> Executor:
        threads = max(1, available_cores() // self._jobs)
        context = _mp_context()
        if context.get_start_method() == "fork":
            _prewarm(numba_too=bool(self._settings.surface_metrics))
        return ProcessPoolExecutor(
            max_workers=self._jobs, mp_context=context, initializer=_init_worker, initargs=(threads,)
        )

    def _submit(self, task: CaseTask) -> None:
        assert self._executor is not None
        fut = self._executor.submit(score_task, task, self._settings, resample_pred=self._resample,
                                    allow_outside_data_files=self._allow_outside)
        self._pending[fut] = task

    def _fill(self) -> None:
        if self._retry:
            if not self._pending:
                self._submit(self._retry.popleft())
            return
        while self._queue and len(self._pending) < 2 * self._jobs:
            self._submit(self._queue.popleft())

    def _lost(self, task: CaseTask) -> None:
        self._attempts[task.case] += 1
        if self._attempts[task.case] >= 2:
            self._ready.append(_failed(task, WORKER_DIED))
        else:
            self._retry.append(task)

    def _collect(self, done: Iterable[Future[CaseResult]]) -> None:
        broken = False
        for fut in done:
            task = self._pending.pop(fut)
            try:
                self._ready.append(fut.result())
            except BrokenProcessPool:
                broken = True
                self._lost(task)
            except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot be pickled
                self._ready.append(_failed(task, describe_error(exc)))
        if broken:
            for task in self._pending.values():
                self._lost(task)
            self._pending.clear()
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = self._new_executor()

    def __next__(self) -> CaseResult:
        try:
            while not self._ready:
                if not self._pending and not self._queue and not self._retry:
                    self._shutdown(kill=False)
                    raise StopIteration
                if self._pending:
                    done, _ = wait(self._pending, return_when=FIRST_COMPLETED)
                    self._collect(done)
                self._fill()
        except StopIteration:
            raise
        except BaseException:
            self.close()
            raise
        return self._ready.popleft()

    def close(self) -> None:
        """Cancel queued cases and stop the workers at once (cases in flight are dropped)."""
        self._shutdown(kill=True)

    def _shutdown(self, *, kill: bool) -> None:
        executor, self._executor = self._executor, None
        self._pending.clear()
        self._queue.clear()
        self._retry.clear()
        if executor is None:
            return
        if not kill:
            executor.shutdown(wait=True)
            return
        with _sigint_ignored():
            _terminate(executor)


def _terminate(executor: Executor) -> None:
    procs = list((getattr(executor, "_processes", None) or {}).values())
    terminate = getattr(executor, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
    else:
        executor.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
    for proc in procs:
        proc.join(timeout=5)
    executor.shutdown(wait=True)
