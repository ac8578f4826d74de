"""segeval._malloc: the allocator tuning the CLI and batch workers apply."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's (Linux)")
def test_keep_freed_memory_sets_the_thresholds_in_a_fresh_process() -> None:
    # A fresh process, so that the test run's own allocator is left alone.
    code = (
        "import platform, segeval._malloc as m; "
        "print(platform.libc_ver()[0], m.keep_freed_memory(), m.keep_freed_memory())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    if out[0] != "glibc":
        pytest.skip(f"not glibc ({out[0] or 'unknown libc'}): mallopt is ignored there")
    assert out[1:] == ["True", "True"]


def test_import_segeval_does_not_tune_the_allocator() -> None:
    code = (
        "import sys, segeval, segeval.batching; "
        "m = sys.modules.get('segeval._malloc'); print(m is not None and m._done)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
