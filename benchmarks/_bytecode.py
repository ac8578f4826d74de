"""Time commands as an installed segeval runs: with its modules' bytecode cached.

``pip install`` compiles a package's ``.pyc`` files, so an installed ``segeval``
never compiles its modules at start-up. A development shell that sets
``PYTHONDONTWRITEBYTECODE`` (or an editable install in a read-only tree) makes
every timed process compile them from source instead: about 50 ms of each
``segeval batch`` run on the benchmark machine, which is not the tool's cost.
The benchmarks call :func:`keep_bytecode` first; the cache goes under
``benchmarks/_data/pycache`` (git-ignored), never into the source tree.
"""

from __future__ import annotations

import os
from pathlib import Path


def keep_bytecode(data: Path) -> None:
    """Let this process and its children write and reuse bytecode under ``data / "pycache"``."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ.setdefault("PYTHONPYCACHEPREFIX", str(data / "pycache"))
