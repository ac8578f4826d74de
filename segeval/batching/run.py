"""The resumable run: score what an earlier run did not, stream it to disk, return the whole report.

:func:`run_resumable` is ``segeval batch`` without the terminal: it keeps the
cases an interrupted (or finished) run already wrote (``resume=True``),
scores the rest on :func:`segeval.batching.pool.run_batch`, appends each case to
the output as it finishes (:class:`segeval.batching.journal.ResultStream`) and,
at the end, writes the output sorted by case id. Ctrl-C raises
:class:`BatchInterrupted`, saying where the finished cases are.

Examples
--------
>>> import os, tempfile, numpy as np
>>> from segeval.batching import pair_cases
>>> from segeval.io import write_volume
>>> from segeval.settings import build_settings
>>> top = tempfile.mkdtemp(); gt = np.zeros((4, 4, 2), np.uint8); gt[:2] = 1
>>> for d in ("pred", "gt"):
...     os.mkdir(os.path.join(top, d))
...     _ = write_volume(os.path.join(top, d, "a.nii.gz"), gt)
>>> tasks = pair_cases(os.path.join(top, "pred"), os.path.join(top, "gt")).tasks()
>>> out = os.path.join(top, "results.csv")
>>> report = run_resumable(tasks, build_settings(), output=out, fmt="csv", jobs=1)
>>> [c.case for c in report.cases], os.path.exists(out)
(['a'], True)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from segeval.backends import Backend
from segeval.batching.cluster import ClusterOptions, SchedulerLost, run_on_cluster
from segeval.batching.journal import ResultStream, journal_path, load_finished
from segeval.batching.pool import run_batch
from segeval.errors import OutputError
from segeval.records import CaseResult, CaseTask
from segeval.scoring import complete_label_set, report_settings
from segeval.settings import ScoreSettings
from segeval.summary import Report

__all__ = ["BatchInterrupted", "Progress", "run_resumable", "run_settings"]

#: Called with the number of cases to score once the workers run; gives what is
#: called with each result (a progress bar: ``rich.progress`` in the CLI).
Progress = Callable[[int], AbstractContextManager[Callable[[CaseResult], None]]]


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run; the finished cases are kept.

    Attributes
    ----------
    scored : int
        Cases scored in this run before the interruption.
    total : int
        Cases this run had to score.
    kept_in : Path or None
        The file holding every finished case (for ``--resume``); None without ``-o``.
    signum : int
        The signal that stopped it (2 for Ctrl-C, 15 for SIGTERM, 1 for SIGHUP); 2 too
        when the connection to a Dask scheduler was lost.
    cause : str or None
        What stopped it when it was not a signal (a lost Dask scheduler), for the message.
    """

    def __init__(self, scored: int, total: int, n_finished: int, kept_in: Path | None, signum: int = 2,
                 cause: str | None = None) -> None:
        self.scored = scored
        self.total = total
        self.kept_in = kept_in
        self.signum = signum
        self.cause = cause
        if kept_in is None:
            where = "nothing was saved (give -o FILE to keep results)"
        else:
            where = (f"the {n_finished} finished cases are in {kept_in}; run the same command with --resume "
                     "to score the rest")
        stopped = "interrupted" if cause is None else f"{cause}: stopped"
        super().__init__(f"{stopped} after {scored} of {total} cases; {where}")


def _run_options(missing: str, resample_pred: bool, pairing: str) -> dict[str, Any]:
    # The pairing rule is recorded only when it is not the plain one, so that the
    # reports of plain runs stay as they were.
    return {"missing": missing, "resample_pred": bool(resample_pred), **({"pairing": pairing} if pairing else {})}


def run_settings(settings: ScoreSettings, *, missing: str = "error", resample_pred: bool = False,
                 pairing: str = "") -> dict[str, Any]:
    """What a batch records and ``--resume`` checks: every option that changes a number or the set of
    cases (the settings, ``--missing``, ``--resample-pred`` and a pairing rule other than the plain one,
    :attr:`segeval.batching.pairing.Pairing.rule`)."""
    return {**settings.to_dict(), **_run_options(missing, resample_pred, pairing)}


def _no_progress(total: int) -> AbstractContextManager[Callable[[CaseResult], None]]:
    return contextlib.nullcontext(lambda result: None)


def run_resumable(
    tasks: Sequence[CaseTask],
    settings: ScoreSettings,
    *,
    output: str | os.PathLike[str] | None = None,
    fmt: str = "json",
    resume: bool = False,
    jobs: int | None = None,
    resample_pred: bool = False,
    allow_outside_data_files: bool = False,
    missing: str = "error",
    pairing: str = "",
    device: str | Backend = "cpu",
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
    say: Callable[[str], None] | None = None,
    cluster: ClusterOptions | None = None,
) -> Report:
    """Score ``tasks`` not already in ``output``, streaming each result there; the whole report.

    Parameters
    ----------
    tasks : sequence of CaseTask
        Every case of the run (``pairing.tasks(missing)``).
    settings : ScoreSettings
        Shared by every case; recorded in the output and checked by ``resume``.
    output : path, optional
        The ``-o`` file (``fmt`` its format); without it nothing is written.
    resume : bool
        Keep the cases ``output`` (or its journal) already holds and score the rest.
    jobs, resample_pred, missing, device, allow_outside_data_files
        As :func:`segeval.batching.pool.run_batch`.
    pairing : str
        The rule that paired the files (:attr:`segeval.batching.pairing.Pairing.rule`; empty for
        the plain rule): recorded, so that ``resume`` refuses a run paired another way.
    progress : callable, optional
        See :data:`Progress`; started after the worker processes.
    warn, say : callable, optional
        Receive warnings and progress messages (one line each).
    cluster : ClusterOptions, optional
        Score on this Dask cluster instead of local processes (``jobs`` is then
        unused): :func:`segeval.batching.cluster.run_on_cluster`. A lost scheduler
        connection stops the run as Ctrl-C does.

    Returns
    -------
    Report
        Every case, kept and scored, sorted by case id, each with a row for
        every label of the run's label set
        (:func:`segeval.scoring.complete_label_set`).

    Raises
    ------
    BatchInterrupted
        On Ctrl-C, or when a Dask scheduler's connection is lost; the finished
        cases are in ``output`` (or its journal).
    ReportError
        ``resume`` found an output written with other settings.
    """
    run_options = _run_options(missing, resample_pred, pairing)
    settings_dict = run_settings(settings, missing=missing, resample_pred=resample_pred, pairing=pairing)
    by_case = {t.case: t for t in tasks}
    kept: list[CaseResult] = []
    out = Path(output) if output is not None else None
    if resume and out is not None:
        finished = load_finished(out, settings_dict, fmt=fmt)
        kept = [c for c in finished if c.case in by_case]
        for c in kept:  # a CSV does not hold the file names
            c.pred = c.pred if c.pred is not None else by_case[c.case].pred
            c.gt = c.gt if c.gt is not None else by_case[c.case].gt
        if len(kept) < len(finished) and warn is not None:
            warn(f"--resume: {len(finished) - len(kept)} cases in {out} are not in this run's pairing "
                 "and are left out")
        if say is not None:
            say(f"resuming: {len(kept)} cases already scored in {out}; {len(tasks) - len(kept)} to score")
    elif out is not None and journal_path(out).exists() and warn is not None:
        warn(f"{journal_path(out)} holds the cases of an interrupted run; they are replaced "
             "(use --resume to keep them)")
    done = {c.case for c in kept}
    todo = [t for t in tasks if t.case not in done]
    results: dict[str, CaseResult] = {c.case: c for c in kept}
    stream = ResultStream(out, fmt, settings_dict, kept=kept) if out is not None else None
    try:
        # run_batch starts the workers before the progress bar starts its thread.
        if cluster is None:
            runner = run_batch(todo, settings, jobs=jobs, resample_pred=resample_pred, missing=missing,
                               device=device, allow_outside_data_files=allow_outside_data_files)
        else:
            runner = run_on_cluster(todo, settings, cluster=cluster, resample_pred=resample_pred, missing=missing,
                                    device=device, allow_outside_data_files=allow_outside_data_files, say=say)
        with runner as run, (progress or _no_progress)(len(todo)) as advance:
            for result in run:
                if stream is not None:
                    stream.add(result)
                results[result.case] = result
                advance(result)
    except OutputError as exc:
        raise _stopped_by_output(exc, stream, len(results)) from None
    except (KeyboardInterrupt, SchedulerLost) as exc:
        kept_in = None
        if stream is not None:
            stream.close()
            kept_in = stream.kept_in
        raise BatchInterrupted(len(results) - len(kept), len(todo), len(results), kept_in,
                               getattr(exc, "signum", 2),
                               cause=str(exc) if isinstance(exc, SchedulerLost) else None) from None
    cases = sorted(results.values(), key=lambda c: c.case)
    complete_label_set(cases, settings)
    report = Report(settings=report_settings(settings, cases, **run_options), cases=cases)
    if stream is not None:
        try:
            stream.finish(report)
        except OutputError as exc:
            raise _stopped_by_output(exc, stream, len(results)) from None
    return report


def _stopped_by_output(exc: OutputError, stream: ResultStream | None, n_finished: int) -> OutputError:
    """A write failed mid-run (a full disk): one line saying what was kept and how to go on."""
    if stream is not None:
        stream.close()
    kept_in = stream.kept_in if stream is not None else None
    if kept_in is None or not kept_in.exists():
        return OutputError(f"{exc}; the run stopped, its results could not be saved")
    return OutputError(f"{exc}; the run stopped: the {n_finished} cases finished so far are in {kept_in}; "
                       "make room and run the same command with --resume")
