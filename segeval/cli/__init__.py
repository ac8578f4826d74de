"""The ``segeval`` command: parse options, call the library, render, exit.

One module per command (:mod:`segeval.cli.score`, ``batch``, ``check``, ``gate``,
``info``, ``metrics``, ``report``, ``rank``), each registered on :data:`segeval.cli._app.app`; options shared by
``score`` and ``batch`` are declared once in :mod:`segeval.cli._common`. The
commands import the heavy libraries only when they run, so ``--help`` and
``--version`` stay fast. Only this package imports typer; only it and
:mod:`segeval.report` import rich.
"""

from segeval.cli import batch, check, gate, info, metrics, rank, report, score
from segeval.cli._app import app

__all__ = ["app", "batch", "check", "gate", "info", "metrics", "rank", "report", "score"]
