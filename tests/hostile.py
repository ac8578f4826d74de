"""Run the ``segeval`` command in a subprocess under an address-space limit, and read its peak memory.

Hostile-input tests use this: a reader that allocated what a forged header
or a gzip bomb asks for would hit the limit (a ``MemoryError`` traceback or
a kill) instead of ending with segeval's own one line.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: Address space given to the child: the command itself needs about 250 MiB of
#: it (Python, NumPy, numba's LLVM); what it reads must fit in the rest.
ADDRESS_SPACE = 768 << 20

# The child writes its own peak resident size (KiB) to the file named by
# SEGEVAL_TEST_PEAK as it exits, whichever way it exits: VmHWM, the high-water
# mark of its own memory map. (ru_maxrss would not do: Linux carries it across
# exec, so a child of a 200 MB pytest process would start at 200 MB.)
_CHILD = (
    "import atexit, os\n"
    "def _peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            open(os.environ['SEGEVAL_TEST_PEAK'], 'w').write(line.split()[1])\n"
    "atexit.register(_peak)\n"
    "import sys; sys.argv[0] = 'segeval'\n"
    "from segeval.__main__ import main; main()\n"
)


@dataclass
class Ran:
    """What a ``segeval`` run did: exit status, output, its stderr's lines, its peak RSS in MiB."""

    returncode: int
    stdout: str
    stderr: str
    peak_mib: float

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def segeval_limited(*args: str | Path, cwd: Path, env: dict[str, str] | None = None,
                    timeout: float = 120) -> Ran:
    """Run ``segeval ARGS`` in ``cwd`` under :data:`ADDRESS_SPACE`; return what it did."""
    if not sys.platform.startswith("linux"):
        import pytest

        pytest.skip("the child's peak memory is read from /proc/self/status (Linux)")
    peak_file = cwd / ".segeval_test_peak"
    child_env = {**os.environ, **(env or {}), "SEGEVAL_TEST_PEAK": str(peak_file)}
    proc = subprocess.run([sys.executable, "-c", _CHILD, *map(str, args)], cwd=cwd, env=child_env,
                          preexec_fn=_limit, capture_output=True, text=True, timeout=timeout, check=False)
    assert peak_file.exists(), f"the child did not report its peak memory: {proc.stderr[-500:]}"
    peak = float(peak_file.read_text()) / 1024
    peak_file.unlink(missing_ok=True)
    return Ran(proc.returncode, proc.stdout, proc.stderr, peak)
