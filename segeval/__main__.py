"""The ``segeval`` command's entry point: signals first, then the command line.

Ctrl-C (or SIGTERM, SIGHUP) while the command is still importing its
libraries ends it with one line and 128 + the signal's number, never a
traceback; once the command runs, SIGTERM and SIGHUP stop it the way Ctrl-C
does (a batch saves what it finished and says so).
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType


def _before_start(signum: int, frame: FrameType | None) -> None:
    sys.stderr.write("segeval: interrupted\n")
    sys.stderr.flush()
    os._exit(128 + signum)


def _stop(signum: int, frame: FrameType | None) -> None:
    from segeval.errors import Interrupted

    raise Interrupted(signum)


_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def main() -> None:
    """Run ``segeval`` (the console script, and ``python -m segeval``)."""
    for sig in _SIGNALS:
        signal.signal(sig, _before_start)
    from segeval.cli import app

    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in _SIGNALS:
        if sig != signal.SIGINT:
            signal.signal(sig, _stop)
    app()


if __name__ == "__main__":
    main()
