"""Score whole folders of cases: pair files, score cases in worker processes, stream, resume.

The pieces of ``segeval batch``, usable from Python:

* :func:`pair_cases` (two folders) and :func:`read_pairs_csv` (a ``case,pred,gt``
  CSV) say which files make a case, as a :class:`Pairing`: the matched cases,
  the GT cases without a prediction and the predictions without a GT case.
* :func:`run_batch` scores :class:`CaseTask` s in worker processes (or in this
  process with ``jobs=1``) and yields one :class:`~segeval.report.schema.CaseResult`
  per case as it finishes. A case that cannot be scored yields a result whose
  ``error`` says why; the other cases go on. Only a bounded number of cases is
  in flight, so memory does not grow with the number of cases.
* :class:`ResultStream` writes each result to disk as it arrives (a JSON Lines
  journal beside ``-o``, plus the rows of a CSV ``-o``), so an interrupted run
  keeps every finished case; :func:`load_finished` reads them back for ``--resume``.

Nothing here prints or exits; the CLI (``segeval.cli.batch``) does that.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from segeval._malloc import keep_freed_memory
from segeval._version import __version__
from segeval.errors import InputError, OptionError, ReportError, SegevalError
from segeval.io import case_id, read_volume, volume_suffix
from segeval.report.schema import CaseResult, Report, jsonable
from segeval.report.writers import (
    fmt_number,
    jsonl_header,
    jsonl_line,
    render,
    summary_markdown,
    to_csv,
    write_atomic,
)
from segeval.scoring import ScoreSettings, score_case
from segeval.volume import LabelVolume, check_same_geometry, resample_to

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Self

__all__ = [
    "MISSING_POLICIES",
    "BatchRun",
    "CaseTask",
    "Pairing",
    "ResultStream",
    "available_cores",
    "find_dataset_json",
    "journal_path",
    "load_finished",
    "pair_cases",
    "read_pairs_csv",
    "render_summary",
    "run_batch",
    "score_task",
    "worst_cases",
]

#: What ``--missing`` may say a GT case without a prediction becomes.
MISSING_POLICIES: tuple[str, ...] = ("error", "zero", "skip")

MISSING_MESSAGE = (
    "no prediction for this case (--missing zero scores it as an empty prediction, "
    "--missing skip leaves it out)"
)
WORKER_DIED = (
    "the worker process died while scoring this case (out of memory, or a crash in a file "
    "reader); score it alone with `segeval score` to see why"
)
#: Test-only hook: seconds each case sleeps before it is read, so that tests can
#: interrupt a running batch deterministically. Not for users.
TEST_DELAY_ENV = "SEGEVAL_TEST_CASE_DELAY"

JOURNAL_SUFFIX = ".partial.jsonl"
# Outputs that grow as cases finish (a JSON or Markdown output is written at the end).
STREAMED_FORMATS = ("csv", "jsonl")
_JOURNAL_FORMAT = 1
# Files of these suffixes lose to an image file with the same case id in the same
# folder: nnU-Net's --save_probabilities writes case.npz beside case.nii.gz.
_ARRAY_SUFFIXES = (".npy", ".npz")


# --------------------------------------------------------------------------- pairing


@dataclass(frozen=True)
class CaseTask:
    """One case to score.

    Attributes
    ----------
    case : str
        Case id (file name minus its volume suffix and a trailing ``_0000``).
    pred : str or None
        Prediction file; None when the case has none (see ``--missing``).
    gt : str
        Ground-truth file.
    """

    case: str
    pred: str | None
    gt: str


@dataclass(frozen=True)
class Pairing:
    """Which files make a case.

    Attributes
    ----------
    matched : tuple of CaseTask
        Cases with a prediction and a GT file, sorted by case id.
    missing_pred : tuple of CaseTask
        GT cases without a prediction (``pred`` is None), sorted by case id.
    extra_pred : tuple of str
        Prediction files whose case id has no GT file.
    shadowed : tuple of str
        Files left out because an image file in the same folder has the same
        case id (``case.npz`` probabilities beside ``case.nii.gz``).
    """

    matched: tuple[CaseTask, ...]
    missing_pred: tuple[CaseTask, ...] = ()
    extra_pred: tuple[str, ...] = ()
    shadowed: tuple[str, ...] = ()

    def tasks(self, missing: str = "error") -> list[CaseTask]:
        """The cases to run, sorted by case id: every matched case, plus the GT cases
        without a prediction unless ``missing`` is ``"skip"``."""
        _check_missing(missing)
        chosen = list(self.matched)
        if missing != "skip":
            chosen += self.missing_pred
        return sorted(chosen, key=lambda t: t.case)


def _check_missing(missing: str) -> None:
    if missing not in MISSING_POLICIES:
        raise OptionError(f"--missing: expected one of {', '.join(MISSING_POLICIES)}; got {missing!r}")


def _volumes(folder: Path, pattern: str | None, role: str) -> tuple[dict[str, Path], list[Path]]:
    """Case id -> file of every volume in ``folder`` (matching ``pattern``), and the shadowed files."""
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "no such folder"
        raise InputError(f"{role} {folder}: {what}; give the folder that holds the label volumes")
    try:
        candidates = sorted(folder.glob(pattern or "*"))
    except (ValueError, NotImplementedError) as exc:
        raise OptionError(f"--pattern {pattern!r}: {exc}; give a glob relative to the folder, e.g. '*.nii.gz'") from None
    by_case: dict[str, list[Path]] = {}
    for path in candidates:
        # Dot files are never cases (macOS writes ._case.nii.gz copies on foreign disks).
        if path.name.startswith(".") or volume_suffix(path) is None or not path.is_file():
            continue
        by_case.setdefault(case_id(path), []).append(path)
    chosen: dict[str, Path] = {}
    shadowed: list[Path] = []
    for cid, paths in by_case.items():
        images = [p for p in paths if volume_suffix(p) not in _ARRAY_SUFFIXES] or paths
        if len(images) > 1:
            names = ", ".join(p.name for p in images)
            raise InputError(
                f"{role} {folder}: {len(images)} files have case id {cid!r} ({names}); "
                "keep one, or choose which with --pattern"
            )
        chosen[cid] = images[0]
        shadowed += [p for p in paths if p is not images[0]]
    return chosen, shadowed


def pair_cases(
    pred_dir: str | os.PathLike[str], gt_dir: str | os.PathLike[str], *, pattern: str | None = None
) -> Pairing:
    """Pair the volumes of two folders by case id.

    Parameters
    ----------
    pred_dir, gt_dir : path
        Folders of predicted and ground-truth label volumes (any formats
        segeval reads; a ``.nii.gz`` prediction pairs with an ``.nrrd`` GT).
    pattern : str, optional
        Glob (relative to each folder, e.g. ``"*.nii.gz"`` or ``"**/*.nrrd"``)
        choosing which files are cases; default every readable volume.

    Returns
    -------
    Pairing

    Raises
    ------
    InputError
        A folder is missing, the GT folder has no volume, or two files in one
        folder have the same case id (an ``.npy``/``.npz`` beside an image of the
        same case loses to the image instead, and is listed as shadowed).

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from segeval.io import write_volume
    >>> top = tempfile.mkdtemp(); p, g = os.path.join(top, "pred"), os.path.join(top, "gt")
    >>> os.mkdir(p); os.mkdir(g)
    >>> for name in ("a_0000.nii.gz", "b.nii.gz"):
    ...     _ = write_volume(os.path.join(p, name), np.zeros((2, 2, 2), np.uint8))
    >>> for name in ("a.nrrd", "c.nii.gz"):
    ...     _ = write_volume(os.path.join(g, name), np.zeros((2, 2, 2), np.uint8))
    >>> pairing = pair_cases(p, g)
    >>> [t.case for t in pairing.matched], [t.case for t in pairing.missing_pred], len(pairing.extra_pred)
    (['a'], ['c'], 1)
    """
    gts, gt_shadowed = _volumes(Path(gt_dir), pattern, "GT folder")
    preds, pred_shadowed = _volumes(Path(pred_dir), pattern, "prediction folder")
    if not gts:
        which = f" matching --pattern {pattern!r}" if pattern else ""
        raise InputError(
            f"GT folder {gt_dir}: no volume files{which} (segeval reads .nii.gz, .nii, .nrrd, .nhdr, "
            ".mha, .mhd, .npy, .npz)"
        )
    return Pairing(
        matched=tuple(CaseTask(c, str(preds[c]), str(gts[c])) for c in sorted(gts) if c in preds),
        missing_pred=tuple(CaseTask(c, None, str(gts[c])) for c in sorted(gts) if c not in preds),
        extra_pred=tuple(str(preds[c]) for c in sorted(preds) if c not in gts),
        shadowed=tuple(str(p) for p in sorted(gt_shadowed + pred_shadowed)),
    )


def read_pairs_csv(path: str | os.PathLike[str]) -> Pairing:
    """Read a ``--pairs`` CSV with columns ``case,pred,gt``.

    Relative paths are taken from the CSV's folder. An empty ``case`` cell
    takes the GT file's case id; an empty ``pred`` cell, or a prediction file
    that does not exist, makes a GT case without a prediction (``--missing``).

    Raises
    ------
    InputError
        Naming the file and line: missing columns, an empty ``gt`` cell, a case
        id listed twice.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"--pairs {p}: cannot read ({exc.strerror or exc})") from None
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "pred" not in fields or "gt" not in fields:
        raise InputError(f"--pairs {p}: needs a header with columns case,pred,gt (found {', '.join(fields) or 'none'})")
    reader.fieldnames = fields
    base = p.parent
    matched: list[CaseTask] = []
    missing: list[CaseTask] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        gt = (row.get("gt") or "").strip()
        pred = (row.get("pred") or "").strip()
        if not gt and not pred and not (row.get("case") or "").strip():
            continue
        if not gt:
            raise InputError(f"--pairs {p} line {line}: the gt cell is empty; every case needs a GT file")
        gt_path = str(base / gt)
        case = (row.get("case") or "").strip() or case_id(gt)
        if case in seen:
            raise InputError(f"--pairs {p} line {line}: case {case!r} is already on line {seen[case]}")
        seen[case] = line
        pred_path = str(base / pred) if pred else None
        if pred_path is None or not Path(pred_path).exists():
            missing.append(CaseTask(case, None, gt_path))
        else:
            matched.append(CaseTask(case, pred_path, gt_path))
    if not matched and not missing:
        raise InputError(f"--pairs {p}: no cases listed")
    return Pairing(
        matched=tuple(sorted(matched, key=lambda t: t.case)),
        missing_pred=tuple(sorted(missing, key=lambda t: t.case)),
    )


def find_dataset_json(gt_dir: str | os.PathLike[str]) -> Path | None:
    """The nnU-Net ``dataset.json`` of a GT folder: in it, or beside it (``labelsTs/`` next to it)."""
    folder = Path(gt_dir)
    for candidate in (folder / "dataset.json", folder.parent / "dataset.json"):
        if candidate.is_file():
            return candidate
    return None


# --------------------------------------------------------------------------- scoring


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _failed(task: CaseTask, error: str) -> CaseResult:
    return CaseResult(case=task.case, pred=task.pred, gt=task.gt, error=error)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SegevalError):
        return _one_line(str(exc))
    text = _one_line(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def score_task(
    task: CaseTask, settings: ScoreSettings, *, resample_pred: bool = False, device: str = "cpu"
) -> CaseResult:
    """Read and score one case; never raises for a bad case (the result's ``error`` says why).

    Each file is read once. A task without a prediction (``pred`` None) is
    scored as an empty prediction on the GT grid (``--missing zero``).

    Parameters
    ----------
    task : CaseTask
    settings : ScoreSettings
    resample_pred : bool
        Resample the prediction onto the GT grid instead of refusing a mismatch.
    """
    delay = os.environ.get(TEST_DELAY_ENV)
    if delay:
        time.sleep(float(delay))
    try:
        gt = read_volume(task.gt, spacing_mm=settings.spacing_mm)
        if task.pred is None:
            pred = LabelVolume(
                np.zeros(gt.shape, dtype=np.uint8), gt.spacing_mm, gt.origin, gt.direction,
                path=None, spacing_given=gt.spacing_given,
            )
        else:
            pred = read_volume(task.pred, spacing_mm=settings.spacing_mm)
            if resample_pred:
                pred = resample_to(pred, gt)
            else:
                check_same_geometry(pred, gt)
        result = score_case(pred, gt, settings, case=task.case, device=device)
    except Exception as exc:  # noqa: BLE001 - a bad case is recorded, the batch goes on
        return _failed(task, _describe(exc))
    if task.pred is None:
        result.notes = ["no prediction: scored as an empty prediction (--missing zero)", *result.notes]
    return result


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    counter = getattr(os, "process_cpu_count", None)
    if counter is not None:
        return int(counter() or 1)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def run_batch(
    tasks: Iterable[CaseTask],
    settings: ScoreSettings,
    *,
    jobs: int | None = None,
    resample_pred: bool = False,
    missing: str = "error",
    on_result: Callable[[CaseResult], None] | None = None,
    device: str = "cpu",
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
    >>> top = tempfile.mkdtemp(); gt = np.zeros((4, 4, 2), np.uint8); gt[:2] = 1
    >>> for d in ("pred", "gt"):
    ...     os.mkdir(os.path.join(top, d))
    ...     _ = write_volume(os.path.join(top, d, "a.nii.gz"), gt)
    >>> tasks = pair_cases(os.path.join(top, "pred"), os.path.join(top, "gt")).tasks()
    >>> [(r.case, r.labels[0]["dice"]) for r in run_batch(tasks, ScoreSettings(), jobs=1)]
    [('a', 1.0)]
    """
    _check_missing(missing)
    n_jobs = available_cores() if jobs is None else int(jobs)
    if n_jobs < 1:
        raise OptionError(f"--jobs: must be at least 1 (got {jobs})")
    early: list[CaseResult] = []
    todo: list[CaseTask] = []
    for task in tasks:
        if task.pred is None and missing == "skip":
            continue
        if task.pred is None and missing == "error":
            early.append(_failed(task, MISSING_MESSAGE))
        else:
            todo.append(task)
    n_jobs = min(n_jobs, max(1, len(todo)))
    source: Iterator[CaseResult]
    if device == "gpu":
        # One process owns the GPU (a CUDA context does not survive fork); the GPU
        # does the counting, so parallel workers would only contend for it.
        n_jobs = 1
    if n_jobs == 1:
        source = (score_task(t, settings, resample_pred=resample_pred, device=device) for t in todo)
    else:
        source = _PoolRun(todo, settings, jobs=n_jobs, resample_pred=resample_pred)
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


# Modules numba imports when it starts its thread pool (the first parallel kernel).
_NUMBA_POOLS = ("numba.np.ufunc.omppool", "numba.np.ufunc.tbbpool", "numba.np.ufunc.workqueue")


def _fork_is_safe() -> bool:
    """True when forking this process cannot copy a lock held by another thread.

    No other Python thread, and no numba thread pool yet (GNU OpenMP aborts a
    forked child that uses it). The idle OpenBLAS threads NumPy starts at import
    re-initialise after a fork (they register ``pthread_atfork`` handlers).
    """
    return threading.active_count() == 1 and not any(m in sys.modules for m in _NUMBA_POOLS)


def _mp_context() -> Any:
    """Fork where that is safe (instant start, nothing to re-import), else a forkserver."""
    import multiprocessing as mp

    methods = mp.get_all_start_methods()
    if "fork" in methods and sys.platform.startswith("linux") and _fork_is_safe():
        return mp.get_context("fork")
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        # The server imports the scoring stack once; each worker is a fork of it.
        ctx.set_forkserver_preload(["segeval.batch", "segeval.io.nifti"])
        return ctx
    return mp.get_context("spawn")


def _prewarm(numba_too: bool) -> None:
    """Import, once before forking, what each worker would otherwise import on its first case.

    With distance metrics, numba is needed from the first case: its typing
    registries (NumPy and SciPy's BLAS among them) cost about 0.5 s to load;
    done here, every fork shares them. Overlap metrics alone count with NumPy
    until a worker has seen enough voxels to repay numba's start-up (see
    ``segeval.metrics._kernels``). Nothing here starts a numba thread pool, so
    forking stays safe.
    """
    with contextlib.suppress(Exception):
        import segeval.io.nifti  # noqa: F401 - nibabel and the gzip decoder

        if numba_too:
            from numba.core.registry import cpu_target

            cpu_target.target_context.refresh()


def _init_worker(threads: int) -> None:
    """Worker set-up: Ctrl-C is the main process's business; share the cores; die with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A worker is segeval's own process: let it reuse freed volumes (segeval._malloc).
    keep_freed_memory()
    # GNU OpenMP (numba's "omp" layer) spins idle threads by default, which on a
    # small machine slows the next case's decompression about 2x; the variable is
    # read when the layer is first loaded, which in a worker is still to come.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency
        pass
    else:
        numba.set_num_threads(max(1, min(threads, int(getattr(numba.config, "NUMBA_NUM_THREADS", threads)))))
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

    def __init__(self, tasks: Sequence[CaseTask], settings: ScoreSettings, *, jobs: int, resample_pred: bool) -> None:
        self._queue: deque[CaseTask] = deque(tasks)
        self._retry: deque[CaseTask] = deque()
        self._attempts: Counter[str] = Counter()
        self._pending: dict[Future[CaseResult], CaseTask] = {}
        self._ready: deque[CaseResult] = deque()
        self._settings = settings
        self._resample = resample_pred
        self._jobs = jobs
        self._executor: Executor | None = self._new_executor()
        try:
            # Submitting starts the workers now, before the caller starts threads
            # of its own (a progress bar), so that they can be forked cheaply.
            with warnings.catch_warnings():
                # Python >= 3.12 warns on any fork of a process with several OS
                # threads; _fork_is_safe has checked the threads there are.
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
        fut = self._executor.submit(score_task, task, self._settings, resample_pred=self._resample)
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
                self._ready.append(_failed(task, _describe(exc)))
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


# --------------------------------------------------------------------------- streaming and resume


def journal_path(output: str | os.PathLike[str]) -> Path:
    """The journal of a run writing ``output``: ``results.csv`` -> ``results.csv.partial.jsonl``."""
    p = Path(output)
    return p.with_name(p.name + JOURNAL_SUFFIX)


def _csv_text(settings: dict[str, Any], cases: Sequence[CaseResult], *, header: bool) -> str:
    # The same writer as the final report, so that streamed rows equal the final ones.
    text = to_csv(Report(settings=settings, cases=list(cases)))
    return text if header else text.split("\n", 1)[1]


class ResultStream:
    """Results written to disk as cases finish, so that an interrupted run loses nothing.

    Every result goes to a JSON Lines journal beside the output
    (``results.json.partial.jsonl``: a header line with the settings, then one
    case per line) and, for a CSV output, also as rows appended to the CSV
    itself, or for a JSON Lines output as the same line appended to it. Each
    write is flushed at once (a killed process loses nothing) and
    fsynced at most every ``fsync_interval_s`` (a lost machine loses at most that).
    :meth:`finish` writes the whole output atomically and removes the journal.

    Parameters
    ----------
    output : path
        The ``-o`` file.
    fmt : {"csv", "json", "jsonl", "md"}
        Its format.
    settings : dict
        ``ScoreSettings.to_dict()``: recorded in the journal, checked by ``--resume``.
    kept : sequence of CaseResult
        Cases kept from an earlier run (``--resume``), written first.
    """

    def __init__(
        self,
        output: str | os.PathLike[str],
        fmt: str,
        settings: dict[str, Any],
        *,
        kept: Sequence[CaseResult] = (),
        fsync_interval_s: float = 1.0,
    ) -> None:
        self.output = Path(output)
        self.fmt = fmt
        self.settings = settings
        self.journal = journal_path(self.output)
        self._fsync_interval = fsync_interval_s
        header = {"segeval_journal": _JOURNAL_FORMAT, "segeval_version": __version__, "settings": settings}
        # Rewritten whole (atomically) rather than appended to: a half-written last
        # line from a killed run, or a case tried again, never survives into it.
        write_atomic(self.journal, jsonl_line(header) + "".join(jsonl_line(c.to_dict()) for c in kept),
                     option="the journal of -o")
        self._files: list[TextIO] = [self.journal.open("a", encoding="utf-8")]
        if fmt == "csv":
            write_atomic(self.output, _csv_text(settings, kept, header=True))
        elif fmt == "jsonl":
            write_atomic(self.output, jsonl_header(settings) + "".join(jsonl_line(c.to_dict()) for c in kept))
        if fmt in STREAMED_FORMATS:
            self._files.append(self.output.open("a", encoding="utf-8", newline=""))
        self._last_sync = time.monotonic()

    def add(self, result: CaseResult) -> None:
        """Append one finished case (journal first, then the CSV rows or the JSON line)."""
        line = jsonl_line(result.to_dict())
        texts = [line]
        if self.fmt == "csv":
            texts.append(_csv_text(self.settings, [result], header=False))
        elif self.fmt == "jsonl":
            texts.append(line)
        for fh, text in zip(self._files, texts):
            fh.write(text)
            fh.flush()
        if time.monotonic() - self._last_sync >= self._fsync_interval:
            self._sync()

    def _sync(self) -> None:
        for fh in self._files:
            if not fh.closed:
                os.fsync(fh.fileno())
        self._last_sync = time.monotonic()

    def close(self) -> None:
        """Flush, sync and close; the journal stays for ``--resume``."""
        for fh in self._files:
            if not fh.closed:
                fh.flush()
                os.fsync(fh.fileno())
                fh.close()

    def finish(self, report: Report) -> None:
        """Write the whole report to the output atomically, then remove the journal."""
        self.close()
        write_atomic(self.output, render(report, self.fmt))
        self.journal.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _normalised(settings: Any) -> Any:
    return json.loads(json.dumps(jsonable(settings)))


def _check_settings(found: Any, expected: dict[str, Any], source: Path) -> None:
    then, now = _normalised(found), _normalised(expected)
    if then == now:
        return
    if not isinstance(then, dict):
        raise ReportError(f"--resume: {source} has no settings; run without --resume to start over")
    keys = sorted(k for k in set(then) | set(now) if then.get(k) != now.get(k))
    detail = "; ".join(f"{k} {json.dumps(then.get(k))} there, {json.dumps(now.get(k))} now" for k in keys[:4])
    raise ReportError(
        f"--resume: {source} was scored with other settings ({detail}); give the same options, "
        "or run without --resume to start over"
    )


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"--resume: cannot read {path} ({getattr(exc, 'strerror', None) or exc})") from None


def _read_journal(path: Path, settings: dict[str, Any]) -> list[CaseResult]:
    lines = _read_text(path).split("\n")
    # Every record ends with a newline; what follows the last one is a line a
    # killed process did not finish writing, and is ignored.
    complete = lines[:-1]
    if not complete:
        return []
    try:
        header = json.loads(complete[0])
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or "segeval_journal" not in header:
        raise ReportError(f"--resume: {path} is not a segeval journal; delete it to start over")
    _check_settings(header.get("settings"), settings, path)
    cases: dict[str, CaseResult] = {}
    for number, line in enumerate(complete[1:], start=2):
        if not line.strip():
            continue
        try:
            case = CaseResult.from_dict(json.loads(line))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            raise ReportError(f"--resume: {path} line {number} is damaged; delete the file to start over") from None
        cases[case.case] = case  # a case tried again: the last record wins
    return list(cases.values())


def _read_report_jsonl(path: Path, settings: dict[str, Any]) -> list[CaseResult]:
    not_ours = ReportError(f"--resume: {path} is not a segeval JSON Lines report; run without --resume to start over")
    lines = [line for line in _read_text(path).split("\n") if line.strip()]
    try:
        header = json.loads(lines[0]) if lines else None
        records = [json.loads(line) for line in lines[1:]]
        cases = [CaseResult.from_dict(d) for d in records if isinstance(d, dict) and "case" in d]
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        raise not_ours from None
    if not isinstance(header, dict) or "settings" not in header:
        raise not_ours
    _check_settings(header["settings"], settings, path)
    return cases


def _read_report_json(path: Path, settings: dict[str, Any]) -> list[CaseResult]:
    try:
        data = json.loads(_read_text(path))
        cases = [CaseResult.from_dict(d) for d in data["cases"]]
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        raise ReportError(f"--resume: {path} is not a segeval JSON report; run without --resume to start over") from None
    _check_settings(data.get("settings"), settings, path)
    return cases


def _csv_value(column: str, text: str) -> Any:
    if column in ("tp", "fp", "fn", "tn"):
        return int(text)
    if text == "":
        return float("nan")
    return float(text)  # also "inf" / "-inf"


def _read_report_csv(path: Path, settings: dict[str, Any]) -> list[CaseResult]:
    from segeval.metrics.overlap import generalized_dice_from_counts

    rows = list(csv.reader(io.StringIO(_read_text(path))))
    if not rows:
        return []
    expected = next(csv.reader(io.StringIO(_csv_text(settings, [], header=True))))
    if rows[0] != expected:
        raise ReportError(
            f"--resume: {path} has columns {','.join(rows[0])} but these options write "
            f"{','.join(expected)}; give the same --metrics, or run without --resume to start over"
        )
    columns = expected[3:-1]
    regions = settings.get("regions") or {}
    cases: dict[str, CaseResult] = {}
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(expected):
            if number == len(rows):
                continue  # a row cut short by a killed process
            raise ReportError(f"--resume: {path} line {number} is damaged; run without --resume to start over")
        case, label, name, *values, error = row
        result = cases.setdefault(case, CaseResult(case=case))
        if error or label == "":
            result.error = error or "failed"
            continue
        key: int | str = int(label) if label.lstrip("-").isdigit() else label
        record: dict[str, Any] = {"label": key, "name": name or None}
        if isinstance(key, str) and key in regions:
            record["members"] = list(regions[key])  # as score_case records a region
        try:
            record.update({c: _csv_value(c, v) for c, v in zip(columns, values)})
        except ValueError:
            raise ReportError(f"--resume: {path} line {number} has a value that is not a number") from None
        result.labels.append(record)
    for result in cases.values():
        # Not in the CSV: recomputed from the counts exactly as score_case does.
        plain = [r for r in result.labels if not isinstance(r["label"], str) and r["label"] != 0]
        if plain:
            tp, fp, fn = (np.array([r[k] for r in plain], dtype=np.int64) for k in ("tp", "fp", "fn"))
            result.generalized_dice = float(generalized_dice_from_counts(tp, fp, fn))
    return list(cases.values())


def load_finished(output: str | os.PathLike[str], settings: dict[str, Any], *, fmt: str) -> list[CaseResult]:
    """The cases an earlier run already scored into ``output`` (for ``--resume``).

    Reads the journal of an interrupted run, or else a finished CSV, JSON or JSON Lines report.
    Failed cases are not returned (they are tried again), and a case recorded
    twice counts once (the last record).

    Raises
    ------
    ReportError
        The earlier run used other settings (for a finished CSV, which holds no
        settings: other metric columns), or its file cannot be read back.
    """
    out = Path(output)
    journal = journal_path(out)
    if journal.exists():
        cases = _read_journal(journal, settings)
    elif not out.exists():
        cases = []
    elif fmt == "json":
        cases = _read_report_json(out, settings)
    elif fmt == "jsonl":
        cases = _read_report_jsonl(out, settings)
    elif fmt == "csv":
        cases = _read_report_csv(out, settings)
    else:
        raise ReportError(
            f"--resume: a finished {fmt} report ({out}) cannot be read back; "
            "write -o as .csv, .json or .jsonl to resume"
        )
    return [c for c in cases if c.error is None]


# --------------------------------------------------------------------------- summaries


def worst_cases(cases: Iterable[CaseResult], *, metric: str = "dice", n: int = 5) -> list[tuple[CaseResult, float]]:
    """The ``n`` scored cases with the lowest macro ``metric`` (mean over classes, NaN left out).

    Ties go by case id; cases whose macro value is NaN (every class empty) are not ranked.
    """
    from segeval.report.writers import report_macro

    ranked = []
    for case in cases:
        if case.error is not None:
            continue
        value = report_macro(case.labels, [metric])[metric]
        if not math.isnan(value):
            ranked.append((value, case.case, case))
    ranked.sort(key=lambda t: (t[0], t[1]))
    return [(case, value) for value, _, case in ranked[:n]]


_SUMMARY_COLUMNS = ("label", "name", "metric", "mean", "std", "median", "min", "max", "n", "n_nan")


def render_summary(report: Report, fmt: str) -> str:
    """The per-label statistics of a batch (``--summary``) as ``csv``, ``json`` or ``md``.

    CSV: one row per (label, metric) with mean, std, median, min, max, n,
    n_nan, then a ``generalized_dice`` row (label empty) over cases. JSON: the
    report's ``summary`` block with the version and settings. Markdown: the
    per-label table plus the generalized Dice line.
    """
    summary = report.summary()
    metrics = report.metrics
    gd = summary["generalized_dice"]
    if fmt == "json":
        return json.dumps(
            jsonable({"segeval_version": __version__, "settings": report.settings, "summary": summary}),
            indent=2, allow_nan=False,
        ) + "\n"
    if fmt == "md":
        stats = ", ".join(f"{k} {fmt_number(gd[k])}" for k in ("mean", "std", "median", "min", "max"))
        return (
            summary_markdown(summary, metrics)
            + f"\nGeneralized Dice per case: {stats} (n {gd['n']}, n_nan {gd['n_nan']}); "
            + f"{summary['n_cases']} cases, {summary['n_failed']} failed.\n"
        )
    if fmt != "csv":
        raise ValueError(f"unknown summary format {fmt!r}")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(_SUMMARY_COLUMNS)
    stat_keys = _SUMMARY_COLUMNS[3:]
    for entry in summary["per_label"]:
        for m in metrics:
            s = entry[m]
            writer.writerow([entry["label"], entry.get("name") or "", m,
                             *[fmt_number(s[k], digits=None) for k in stat_keys]])
    writer.writerow(["", "", "generalized_dice", *[fmt_number(gd[k], digits=None) for k in stat_keys]])
    return buf.getvalue()
