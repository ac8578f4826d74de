"""What a run tells a CI log as it goes: plain progress lines, and a line per file written.

A terminal gets rich's progress bar (:mod:`segeval.cli.batch`); a log file
or a CI runner's pipe gets a line every tenth of the run or every 30 s,
whichever comes first, as pip and tqdm do there::

    segeval: scored 120/500 (24%), 3 failed, 4m12s left
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from segeval.records import CaseResult

#: Seconds between two progress lines at most, and the fraction of the run between two at most.
LOG_INTERVAL_S = 30.0
LOG_STEP = 0.1


def _duration(seconds: float) -> str:
    """``4m12s``, ``1h03m``, ``12s``."""
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


@contextlib.contextmanager
def log_progress(total: int, *, write: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 interval_s: float = LOG_INTERVAL_S, step: float = LOG_STEP) -> Iterator[Callable[[CaseResult], None]]:
    """Progress as plain lines on stderr (for logs); yields what to call with each finished case.

    Parameters
    ----------
    total : int
        Cases to score.
    write : callable, optional
        Receives each line (default: stderr).
    clock : callable
        Seconds, monotonic (a test gives its own).
    interval_s, step : float
        A line at least every ``interval_s`` seconds and every ``step`` of the run, and at the end.
    """
    out = write or (lambda line: sys.stderr.write(line + "\n"))
    start = last_time = clock()
    done = failed = 0
    next_mark = step

    def advance(result: CaseResult) -> None:
        nonlocal done, failed, last_time, next_mark
        done += 1
        failed += result.error is not None
        now = clock()
        fraction = done / total if total else 1.0
        if fraction < next_mark and now - last_time < interval_s and done < total:
            return
        while next_mark <= fraction:
            next_mark += step
        last_time = now
        line = f"segeval: scored {done}/{total} ({100 * fraction:.0f}%)"
        if failed:
            line += f", {failed} failed"
        if done < total:
            elapsed = now - start
            line += f", {_duration(elapsed / done * (total - done))} left"
        else:
            line += f" in {_duration(now - start)}"
        out(line)

    yield advance


def wrote(path: object, what: str, *, quiet: bool) -> None:
    """One line on stderr for a file written: ``segeval: wrote results.csv (50 cases)``."""
    if not quiet:
        sys.stderr.write(f"segeval: wrote {path} ({what})\n")


def cases(n: int) -> str:
    """``1 case``, ``50 cases``."""
    return f"{n} case{'s' if n != 1 else ''}"
