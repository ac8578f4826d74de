"""Score cases on a Dask distributed cluster: the local pool's results, from many machines.

:func:`run_on_cluster` is :func:`segeval.batching.pool.run_batch` on a
``distributed.Client`` (``segeval[dask]``): one task per case, submitted as
the case's two file paths (the workers read them from storage they share
with this machine), ``pure=False``, its key named after the case id, at
most a bounded number of cases in flight, results as they complete. It
gives the same :class:`~segeval.batching.pool.BatchRun` as the local pool,
so that :func:`segeval.batching.run.run_resumable` streams, resumes and
summarises a cluster run exactly as a local one, and writes the same files.

* Where: ``--scheduler ADDRESS``, ``--scheduler-file FILE`` (what ``dask
  scheduler --scheduler-file`` and dask-jobqueue write), or the
  ``DASK_SCHEDULER_ADDRESS`` environment variable that Dask's own config
  reads (:func:`cluster_options`).
* Versions: before the first case, every worker's segeval version must equal
  this one's (:func:`check_versions`); a worker that joins later and differs
  fails the cases it takes, naming both versions.
* Failures: a task that raised is re-run ``retries`` times by Dask; a case
  whose workers keep dying (Dask's ``KilledWorker``, after
  ``distributed.scheduler.allowed-failures`` deaths) is a failed case naming
  that, never a score; a lost scheduler connection raises
  :class:`SchedulerLost`, which the resumable run handles as Ctrl-C.
* Threads and memory: a case on a worker runs its kernels on
  ``OMP_NUM_THREADS`` threads (Dask's nanny sets 1 for every worker process,
  so a machine's cores are shared by its worker threads), else one; a worker
  that has scored a case keeps up to 256 MiB of freed memory for the next
  one (:func:`segeval._malloc.keep_freed_memory`, as in the local pool's
  workers; Dask counts it as unmanaged memory).

* Paths: the workers get them absolute (their working directory is not
  this one's); results carry them as given, in their messages too.

Nothing here prints; distributed itself is imported only when a cluster is used.
One cohesive module rather than several: the options, the connection, the
version check and the run share one client and its failure modes.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segeval._malloc import keep_freed_memory
from segeval._optional import import_optional
from segeval._version import __version__
from segeval.backends import Backend
from segeval.batching.pool import BatchRun, failed_result, split_missing
from segeval.errors import OptionError
from segeval.metrics import _numba
from segeval.records import CaseResult, CaseTask
from segeval.scoring import describe_error, score_task
from segeval.settings import ScoreSettings

__all__ = ["KILLED_WORKER", "SCHEDULER_ENV", "ClusterOptions", "SchedulerLost", "check_versions", "cluster_options",
           "connect", "parse_resources", "run_on_cluster", "score_on_worker"]

#: The environment variable Dask's config reads for the scheduler's address.
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"

#: A case whose workers kept dying ({detail}: what Dask said).
KILLED_WORKER = (
    "the Dask workers running this case died each time (out of memory, or a crash in a file reader; "
    "{detail}); score it alone with `segeval score` to see why"
)

_IN_FLIGHT_PER_THREAD = 16  # the scheduler's CPU per case falls as more finish per round trip (8.9 -> 6.4 ms here)
_MIN_IN_FLIGHT = 8  # cases queued when the cluster has no worker yet
_RECOUNT_S = 2.0  # how often the bound on cases in flight follows workers that join or leave


class SchedulerLost(Exception):
    """The connection to the Dask scheduler was lost mid-run (it stopped, or the network failed).

    The resumable run (:func:`segeval.batching.run.run_resumable`) stops on it
    as on Ctrl-C: the finished cases are kept for ``--resume``.
    """

    def __init__(self, where: str) -> None:
        self.where = where
        super().__init__(f"lost the connection to the Dask scheduler ({where})")


@dataclass(frozen=True)
class ClusterOptions:
    """Where and how a batch runs on a Dask cluster.

    Attributes
    ----------
    address : str or None
        The scheduler's address (``tcp://host:8786``).
    scheduler_file : str or None
        A scheduler file (JSON with the address) instead of ``address``.
    option : str
        Where the address came from, for messages: ``"--scheduler"`` or
        :data:`SCHEDULER_ENV`.
    retries : int
        Times Dask re-runs a task that raised (a machine reason: the case's
        own errors are results, never raised).
    resources : tuple of (str, float)
        Dask worker resources each case needs (``(("GPU", 1.0),)``): it runs
        only on workers started with ``--resources GPU=1``.
    in_flight : int or None
        Cases submitted but not collected, at most; default 16 per worker thread (at least 8),
        counted again every 2 s as workers join or leave. Cases are submitted in batches as
        half of them finish, and finished results fetched together.
    client : distributed.Client or None
        An existing client to use (and leave open) instead of connecting.
    """

    address: str | None = None
    scheduler_file: str | None = None
    option: str = "--scheduler"
    retries: int = 1
    resources: tuple[tuple[str, float], ...] = ()
    in_flight: int | None = None
    client: Any = field(default=None, compare=False, repr=False)

    @property
    def where(self) -> str:
        """The option and value that named the cluster (``--scheduler tcp://...``)."""
        if self.scheduler_file is not None:
            return f"--scheduler-file {self.scheduler_file}"
        if self.address is not None:
            return f"{self.option} {self.address}"
        return "the given Dask client"


def parse_resources(text: str | None) -> tuple[tuple[str, float], ...]:
    """``--resources GPU=1,MEMORY=8e9`` as ``(("GPU", 1.0), ("MEMORY", 8e9))``.

    Examples
    --------
    >>> parse_resources("GPU=1, MEMORY=8e9")
    (('GPU', 1.0), ('MEMORY', 8000000000.0))
    """
    if text is None or not text.strip():
        return ()
    found: list[tuple[str, float]] = []
    for item in text.split(","):
        name, eq, value = item.strip().partition("=")
        try:
            amount = float(value)
        except ValueError:
            amount = float("nan")
        if not eq or not name.strip() or not amount > 0 or amount == float("inf"):
            raise OptionError(f"--resources: expected NAME=AMOUNT[,NAME=AMOUNT] with amounts > 0, "
                              f"as the workers' --resources give them (e.g. GPU=1); got {item.strip()!r}")
        found.append((name.strip(), amount))
    return tuple(found)


def cluster_options(
    scheduler: str | None = None,
    scheduler_file: str | os.PathLike[str] | None = None,
    *,
    retries: int = 1,
    resources: str | Sequence[tuple[str, float]] | None = None,
    in_flight: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> ClusterOptions | None:
    """The cluster a batch runs on, or None for the local pool.

    ``scheduler`` or ``scheduler_file`` when given, else the
    :data:`SCHEDULER_ENV` variable of ``environ`` (default ``os.environ``;
    pass ``{}`` to ignore it).

    Raises
    ------
    OptionError
        Both given, a bad ``retries``, ``resources`` or ``in_flight``, or
        ``retries``/``resources`` without a cluster.
    MissingDependencyError
        A cluster is asked for and distributed is not installed (the message
        says ``pip install 'segeval[dask]'``).
    """
    env = os.environ if environ is None else environ
    if scheduler is not None and scheduler_file is not None:
        raise OptionError("--scheduler and --scheduler-file both name the scheduler; give one of them")
    if retries < 0:
        raise OptionError(f"--retries: must be 0 or more (got {retries})")
    if in_flight is not None and in_flight < 1:
        raise OptionError(f"in_flight: must be at least 1 (got {in_flight})")
    needs = parse_resources(resources) if isinstance(resources, str) or resources is None else tuple(
        (str(k), float(v)) for k, v in resources)
    options: ClusterOptions | None = None
    common: dict[str, Any] = {"retries": retries, "resources": needs, "in_flight": in_flight}
    if scheduler is not None:
        if not scheduler.strip():
            raise OptionError("--scheduler: give the scheduler's address, e.g. tcp://10.0.0.5:8786")
        options = ClusterOptions(address=scheduler.strip(), **common)
    elif scheduler_file is not None:
        options = ClusterOptions(scheduler_file=str(scheduler_file), **common)
    elif env.get(SCHEDULER_ENV, "").strip():
        options = ClusterOptions(address=env[SCHEDULER_ENV].strip(), option=SCHEDULER_ENV, **common)
    if options is None:
        return None
    import_optional("distributed")  # fail now, not after the pairing, when the extra is missing
    return options


def connect(options: ClusterOptions) -> tuple[Any, bool]:
    """A ``distributed.Client`` for ``options`` and whether this call opened it (and must close it).

    Parameters
    ----------
    options : ClusterOptions
        The scheduler's address or file, or a client to use as it is.

    Returns
    -------
    client : distributed.Client
        Connected (not set as Dask's default client).
    owned : bool
        True when this call opened the client: the caller closes it.

    Raises
    ------
    OptionError
        No scheduler answers at the address (within Dask's connect timeout,
        ``distributed.comm.timeouts.connect``), or the scheduler file is missing.
    """
    if options.client is not None:
        return options.client, False
    distributed = import_optional("distributed")
    if options.scheduler_file is not None and not Path(options.scheduler_file).is_file():
        # Client would wait for the file forever.
        raise OptionError(f"{options.where}: no such file (`dask scheduler --scheduler-file FILE` writes it "
                          "when the scheduler starts)")
    try:
        if options.scheduler_file is not None:
            client = distributed.Client(scheduler_file=options.scheduler_file, set_as_default=False)
        else:
            client = distributed.Client(options.address, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise OptionError(f"{options.where}: cannot connect to the Dask scheduler ({_one_line(exc)}); "
                          "is it running, and is the address right?") from None
    return client, True


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def check_versions(client: Any, where: str) -> dict[str, str]:
    """Every connected worker's segeval version, refusing any that differs from this one's.

    Parameters
    ----------
    client : distributed.Client
        Connected to the cluster.
    where : str
        The option that named the cluster (:attr:`ClusterOptions.where`), for the message.

    Returns
    -------
    dict
        Worker address -> segeval version (empty when no worker is connected yet).

    Raises
    ------
    OptionError
        A worker runs another segeval version, or cannot import segeval.
    """

    def worker_version() -> str:  # defined here, so that it travels by value, not by module name
        from segeval._version import __version__ as version

        return str(version)

    try:
        found: dict[str, str] = client.run(worker_version)
    except ImportError as exc:
        raise OptionError(f"{where}: a Dask worker cannot import segeval ({_one_line(exc)}); install "
                          f"segeval=={__version__} on every worker") from None
    other = {addr: v for addr, v in sorted(found.items()) if v != __version__}
    if other:
        addr, version = next(iter(other.items()))
        more = f" (and {len(other) - 1} more workers)" if len(other) > 1 else ""
        raise OptionError(f"{where}: the Dask worker {addr}{more} runs segeval {version}, this is segeval "
                          f"{__version__}; install segeval=={__version__} on every worker")
    return found


def _worker_threads() -> int:
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "1")))
    except ValueError:
        return 1


def score_on_worker(task: CaseTask, settings: ScoreSettings, resample_pred: bool, allow_outside_data_files: bool,
                    device: str, version: str) -> CaseResult:
    """One case on a Dask worker: :func:`segeval.scoring.score_task`, once the worker's segeval is the client's.

    Parameters
    ----------
    task : CaseTask
        The case: its id and its two paths, read from the worker's file system.
    settings : ScoreSettings
        The run's settings.
    resample_pred, allow_outside_data_files : bool
        As :func:`segeval.scoring.score_task`.
    device : {"cpu", "gpu", "auto"}
        Where the worker computes.
    version : str
        The client's segeval version: a worker with another one fails the case, naming both.

    Returns
    -------
    CaseResult
        The scored case, or a failed one whose ``error`` says why; never raises for a bad case.
    """
    if __version__ != version:
        return failed_result(task, f"the Dask worker that took this case runs segeval {__version__}, the client "
                                   f"segeval {version}; install segeval=={version} on every worker")
    _numba.set_thread_budget(_worker_threads())
    # Dask's nanny makes glibc give every freed block back (MALLOC_TRIM_THRESHOLD_=65536): each case then
    # faults its volumes in again, 31 ms a 128x128x64 case instead of 11.5 ms. Keep them, as the pool does.
    keep_freed_memory()
    return score_task(task, settings, resample_pred=resample_pred, device=device,
                      allow_outside_data_files=allow_outside_data_files)


def run_on_cluster(
    tasks: Iterable[CaseTask],
    settings: ScoreSettings,
    *,
    cluster: ClusterOptions,
    resample_pred: bool = False,
    allow_outside_data_files: bool = False,
    missing: str = "error",
    device: str | Backend = "cpu",
    on_result: Callable[[CaseResult], None] | None = None,
    say: Callable[[str], None] | None = None,
) -> BatchRun:
    """Score cases on a Dask cluster; iterate over the result for each case as it finishes.

    As :func:`segeval.batching.pool.run_batch`, with the cluster instead of
    ``jobs``. Connects (and checks the workers' versions) before returning,
    unless no case needs scoring; closing the run cancels the cases not yet
    collected and closes the client this call opened.

    Parameters
    ----------
    tasks, settings, resample_pred, allow_outside_data_files, missing, on_result
        As :func:`segeval.batching.pool.run_batch`.
    cluster : ClusterOptions
        Where to run (:func:`cluster_options`).
    device : {"cpu", "gpu", "auto"} or Backend
        Where each worker computes (by name: the workers choose their own device).
    say : callable, optional
        Receives one line naming the cluster, its workers and threads.

    Raises
    ------
    OptionError
        The scheduler does not answer, or a worker's segeval version differs.

    Notes
    -----
    Iterating raises :class:`SchedulerLost` when the connection to the
    scheduler is lost; the results yielded before it are final.
    """
    early, todo = split_missing(tasks, missing)
    device_name = device.name if isinstance(device, Backend) else str(device)
    if not todo:
        return BatchRun(early, iter(()), on_result)
    client, owned = connect(cluster)
    try:
        workers = check_versions(client, cluster.where)
        if say is not None:
            threads = sum(client.nthreads().values())
            say(f"scoring on the Dask cluster at {client.scheduler.address}: {len(workers)} workers, "
                f"{threads} threads")
            lacking = _resources_no_worker_has(client, cluster.resources)
            if lacking:
                say(f"no worker of the cluster has the resources {', '.join(lacking)} (--resources): the cases "
                    "wait until a worker started with them joins")
        source = _ClusterRun(todo, settings, client=client, owned=owned, options=cluster,
                             resample_pred=resample_pred, allow_outside_data_files=allow_outside_data_files,
                             device=device_name)
    except BaseException:
        if owned:
            _close_client(client)
        raise
    return BatchRun(early, source, on_result)


def _resources_no_worker_has(client: Any, needs: Sequence[tuple[str, float]]) -> list[str]:
    """The resources of ``needs`` that no connected worker has enough of (``GPU=1``)."""
    if not needs:
        return []
    workers = client.scheduler_info().get("workers", {}).values()
    return [f"{name}={amount:g}" for name, amount in needs
            if not any(w.get("resources", {}).get(name, 0) >= amount for w in workers)]


def _absolute(task: CaseTask) -> CaseTask:
    """``task`` with absolute paths: a worker's working directory is not this process's."""
    return CaseTask(task.case, None if task.pred is None else os.path.abspath(task.pred), os.path.abspath(task.gt))


def _as_given(result: CaseResult, task: CaseTask) -> CaseResult:
    """A worker's result with the paths as this run was given them (in its fields and its messages),
    so that it is the local pool's result exactly."""
    for given in (task.pred, task.gt):
        if given is not None and os.path.abspath(given) != given:
            full = os.path.abspath(given)
            result.error = result.error.replace(full, given) if result.error is not None else None
            result.notes = [note.replace(full, given) for note in result.notes]
    result.pred, result.gt = task.pred, task.gt
    return result


def _close_client(client: Any) -> None:
    try:
        client.close(timeout=5)
    except Exception:  # noqa: BLE001,S110 - a client that lost its scheduler may not close cleanly
        pass


def _killed_worker_detail(exc: BaseException) -> str:
    tries = getattr(exc, "allowed_failures", None)
    if isinstance(tries, int):
        n = tries + 1
        return f"Dask's KilledWorker after {n} worker{'s' if n != 1 else ''} died running it"
    return f"Dask's KilledWorker: {_one_line(exc)}"


class _ClusterRun(Iterator[CaseResult]):
    """Cases as Dask tasks, a bounded number in flight, results in the order they complete."""

    def __init__(self, tasks: Sequence[CaseTask], settings: ScoreSettings, *, client: Any, owned: bool,
                 options: ClusterOptions, resample_pred: bool, allow_outside_data_files: bool,
                 device: str) -> None:
        distributed = import_optional("distributed")
        self._killed_worker = distributed.KilledWorker
        self._client = client
        self._owned = owned
        self._options = options
        self._queue: deque[CaseTask] = deque(tasks)
        self._pending: dict[Any, CaseTask] = {}
        self._ready: deque[CaseResult] = deque()
        self._args = (settings, resample_pred, allow_outside_data_files, device, __version__)
        # Keys unique to this run, so that two runs on one scheduler never share a task.
        self._token = uuid.uuid4().hex
        self._resources = dict(options.resources) or None
        self._completed = distributed.as_completed(loop=client.loop)
        self._limit = 0
        self._counted = -float("inf")
        self._closed = False
        self._direct = True
        self._fill()

    def _bound(self) -> int:
        if self._options.in_flight is not None:
            return self._options.in_flight
        now = time.monotonic()
        if now - self._counted >= _RECOUNT_S:
            self._counted = now
            try:
                threads = sum(self._client.nthreads().values())
            except Exception:  # noqa: BLE001 - keep the last count; a lost scheduler shows in the results
                threads = self._limit // _IN_FLIGHT_PER_THREAD
            self._limit = max(_MIN_IN_FLIGHT, _IN_FLIGHT_PER_THREAD * threads)
        return self._limit

    def _fill(self) -> None:
        # Submitted in batches (one message to the scheduler each) once half the bound has finished.
        bound = self._bound()
        room = bound - len(self._pending)
        if not self._queue or (room < max(1, bound // 2) and self._pending):
            return
        batch = [self._queue.popleft() for _ in range(min(room, len(self._queue)))]
        futures = self._client.map(score_on_worker, [_absolute(t) for t in batch],
                                   *[[arg] * len(batch) for arg in self._args],
                                   key=[f"{task.case}-{self._token}" for task in batch], pure=False,
                                   retries=self._options.retries, resources=self._resources)
        for task, fut in zip(batch, futures):
            self._pending[fut.key] = task
        self._completed.update(futures)

    def _collect(self, done: list[Any]) -> None:
        """The results of ``done`` (finished futures), fetched together."""
        if any(fut.status == "cancelled" for fut in done) or self._client.status != "running":
            # Dask cancels every future when the scheduler connection drops.
            raise SchedulerLost(self._options.where)
        finished = [fut for fut in done if fut.status == "finished"]
        try:
            values = dict(zip((fut.key for fut in finished), self._gather(finished)))
        except Exception:
            if self._client.status != "running":
                raise SchedulerLost(self._options.where) from None
            raise
        for fut in done:
            task = self._pending.pop(fut.key)
            value = values[fut.key] if fut.key in values else fut.exception()
            if isinstance(value, CaseResult):
                self._ready.append(_as_given(value, task))
            elif isinstance(value, self._killed_worker):
                self._ready.append(failed_result(task, KILLED_WORKER.format(detail=_killed_worker_detail(value))))
            elif isinstance(value, BaseException):
                self._ready.append(failed_result(task, f"on the Dask cluster: {describe_error(value)}"))
            else:
                self._ready.append(failed_result(task, "on the Dask cluster: unexpected result "
                                                       f"{type(value).__name__}"))

    def _gather(self, finished: list[Any]) -> list[Any]:
        """The results of ``finished``, fetched from the workers directly (no hop through the scheduler,
        whose CPU is the cluster's per-case overhead), or through the scheduler once a worker is out of
        this machine's reach (a cluster behind a gateway): then for the rest of the run."""
        if self._direct:
            try:
                return list(self._client.gather(finished, direct=True))
            except OSError:  # CommClosedError and connection failures; a lost scheduler shows in the status
                if self._client.status != "running":
                    raise
                self._direct = False
        return list(self._client.gather(finished, direct=False))

    def __next__(self) -> CaseResult:
        try:
            while not self._ready:
                if not self._pending and not self._queue:
                    self._shutdown()
                    raise StopIteration
                self._fill()
                self._collect(self._completed.next_batch(block=True))
        except StopIteration:
            raise
        except BaseException:
            self.close()
            raise
        return self._ready.popleft()

    def close(self) -> None:
        """Cancel the cases not yet collected and close the client this run opened."""
        if self._pending and self._client.status == "running":
            try:
                self._client.cancel(list(self._completed.futures))
            except Exception:  # noqa: BLE001,S110 - closing the client releases them anyway
                pass
        self._shutdown()

    def _shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pending.clear()
        self._queue.clear()
        self._completed.clear()
        if self._owned:
            _close_client(self._client)
