"""Results on disk as cases finish, and the cases an earlier run kept, for ``--resume``.

:class:`ResultStream` appends every finished case to a JSON Lines journal
beside the output (``results.json.partial.jsonl``) and, for a CSV or JSON
Lines output, to the output itself, so an interrupted run keeps every
finished case. :func:`load_finished` reads them back through the one report
reader (:mod:`segeval.report.reading`), refusing a run made with other settings.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from segeval._version import __version__
from segeval.errors import OutputError, ReportError
from segeval.records import CaseResult, jsonable
from segeval.report.reading import JOURNAL_KEY, JOURNAL_SUFFIX, ReadReport, read_report
from segeval.report.writers import (
    is_stream,
    jsonl_header,
    jsonl_line,
    remove_leftovers,
    render,
    to_csv,
    write_atomic,
)
from segeval.summary import Report

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Self

__all__ = ["JOURNAL_SUFFIX", "STREAMED_FORMATS", "ResultStream", "journal_path", "load_finished"]

#: Outputs that grow as cases finish (a JSON or Markdown output is written at the end).
STREAMED_FORMATS = ("csv", "jsonl")
_JOURNAL_FORMAT = 1


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

    An output that is a FIFO or a character device (``-o /dev/stdout``) gets
    no journal and no streaming: nothing but the named output is written, at
    the end. Temporary files that a killed earlier write left beside the
    output or the journal are removed.

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

    Raises
    ------
    OutputError
        A write fails (a full disk): the message names the file and the cause.
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
        self._files: list[TextIO] = []
        self.only_at_the_end = is_stream(self.output)
        if self.only_at_the_end:
            return
        remove_leftovers(self.output)
        remove_leftovers(self.journal)
        header = {JOURNAL_KEY: _JOURNAL_FORMAT, "segeval_version": __version__, "settings": settings}
        # Rewritten whole (atomically) rather than appended to: a half-written last
        # line from a killed run, or a case tried again, never survives into it.
        write_atomic(self.journal, jsonl_line(header) + "".join(jsonl_line(c.to_dict()) for c in kept),
                     option="the journal of -o")
        try:
            self._files.append(self.journal.open("a", encoding="utf-8"))
            if fmt == "csv":
                write_atomic(self.output, _csv_text(settings, kept, header=True))
            elif fmt == "jsonl":
                write_atomic(self.output, jsonl_header(settings) + "".join(jsonl_line(c.to_dict()) for c in kept))
            if fmt in STREAMED_FORMATS:
                self._files.append(self.output.open("a", encoding="utf-8", newline=""))
        except OutputError:
            self.close()
            raise
        except OSError as exc:
            self.close()
            raise OutputError(f"-o {self.output}: cannot write ({exc.strerror or exc})") from None
        self._last_sync = time.monotonic()

    @property
    def kept_in(self) -> Path | None:
        """The file that holds every finished case so far (what ``--resume`` reads), if any."""
        if self.only_at_the_end:
            return None
        return self.output if self.fmt in STREAMED_FORMATS else self.journal

    def add(self, result: CaseResult) -> None:
        """Append one finished case (journal first, then the CSV rows or the JSON line)."""
        if self.only_at_the_end:
            return
        line = jsonl_line(result.to_dict())
        texts = [line]
        if self.fmt == "csv":
            texts.append(_csv_text(self.settings, [result], header=False))
        elif self.fmt == "jsonl":
            texts.append(line)
        try:
            for fh, text in zip(self._files, texts):
                fh.write(text)
                fh.flush()
            if time.monotonic() - self._last_sync >= self._fsync_interval:
                self._sync()
        except OSError as exc:
            raise OutputError(f"cannot write {fh.name} ({exc.strerror or exc})") from None

    def _sync(self) -> None:
        for fh in self._files:
            if not fh.closed:
                os.fsync(fh.fileno())
        self._last_sync = time.monotonic()

    def close(self) -> None:
        """Flush, sync and close; the journal stays for ``--resume``. Never raises (a full disk)."""
        for fh in self._files:
            if not fh.closed:
                with contextlib.suppress(OSError):
                    fh.flush()
                    os.fsync(fh.fileno())
                with contextlib.suppress(OSError):
                    fh.close()

    def finish(self, report: Report) -> None:
        """Write the whole report to the output atomically, then remove the journal."""
        self.close()
        write_atomic(self.output, render(report, self.fmt))
        if not self.only_at_the_end:
            self.journal.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _normalised(settings: Any) -> Any:
    return json.loads(json.dumps(jsonable(settings)))


#: What a finished report adds to the settings after the run (not an option to compare).
_AFTER_THE_RUN = ("unscored_labels",)


def _check_settings(found: Any, expected: dict[str, Any], source: Path) -> None:
    then, now = _normalised(found), _normalised(expected)
    for d in (then, now):
        if isinstance(d, dict):
            for key in _AFTER_THE_RUN:
                d.pop(key, None)
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


_WHAT = {"json": "JSON report", "jsonl": "JSON Lines report", "journal": "journal", "csv": "CSV report"}


def _read(path: Path, fmt: str) -> ReadReport:
    """The earlier run's file, read by the one report reader; its errors say to start over."""
    try:
        read = read_report(path)
    except ReportError as exc:
        raise ReportError(f"--resume: {exc}; delete it or run without --resume to start over") from None
    expected = "journal" if path.name.endswith(JOURNAL_SUFFIX) else fmt
    if read.kind != expected and not (expected == "jsonl" and read.kind == "json"):
        raise ReportError(f"--resume: {path} is not a segeval {_WHAT.get(expected, expected)}; "
                          "run without --resume to start over")
    return read


def load_finished(output: str | os.PathLike[str], settings: dict[str, Any], *, fmt: str) -> list[CaseResult]:
    """The cases an earlier run already scored into ``output`` (for ``--resume``).

    Reads the journal of an interrupted run, or else a finished JSON or JSON
    Lines report (a finished CSV records no settings to check, and is
    refused). Failed cases are not returned (they are tried again), and a
    case recorded twice counts once (the last record).

    Raises
    ------
    ReportError
        The earlier run used other settings (every option that changes a
        number or the set of cases: ``--missing`` and ``--resample-pred``
        too), or its file cannot be read back.
    """
    out = Path(output)
    journal = journal_path(out)
    if journal.exists():
        read = _read(journal, fmt)
        _check_settings(read.settings, settings, journal)
    elif not out.exists():
        return []
    elif fmt not in ("json", "jsonl", "csv"):
        raise ReportError(
            f"--resume: a finished {fmt} report ({out}) cannot be read back; "
            "write -o as .csv, .json or .jsonl to resume"
        )
    elif fmt == "csv":
        # A finished CSV records no settings, so nothing says it was scored as this run would be.
        raise ReportError(
            f"--resume: {out} is a finished CSV, which records no settings to check against this run's; "
            "resume from a .json or .jsonl output, or run without --resume to start over"
        )
    else:
        read = _read(out, fmt)
        if read.settings is None:
            raise ReportError(f"--resume: {out} is not a segeval {_WHAT[fmt]}; run without --resume to start over")
        else:
            _check_settings(read.settings, settings, out)
    return [c for c in read.cases if c.error is None]
