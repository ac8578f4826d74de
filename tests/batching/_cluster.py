"""A real Dask cluster on the loopback address for the tests: ``dask scheduler`` and ``dask worker`` processes.

Each process runs in its own session, so that stopping it (SIGKILL to its
process group) takes the nanny and its worker process together; every wait
is bounded, and :meth:`LoopbackCluster.close` always stops whatever is left.
The processes' logs are in the cluster's folder, and a failed start shows
their tails.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

import pytest

distributed = pytest.importorskip("distributed", reason="the cluster tests need segeval[dask] (distributed)")

START_TIMEOUT_S = 30.0
DASK = [sys.executable, "-m", "dask"]


class LoopbackCluster:
    """A scheduler and its workers, each a real process on 127.0.0.1.

    Parameters
    ----------
    root : Path
        Folder for the scheduler file, the logs and the workers' local directories.
    scheduler_env : mapping, optional
        Extra environment of the scheduler (e.g. ``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES``).
    """

    def __init__(self, root: Path, *, scheduler_env: Mapping[str, str] | None = None) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.scheduler_file = root / "scheduler.json"
        self.scheduler_file.unlink(missing_ok=True)  # an earlier cluster's address is not this one's
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []
        self.address = ""
        try:
            self.scheduler = self._start("scheduler", [
                "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                "--scheduler-file", str(self.scheduler_file), "--idle-timeout", "600"], scheduler_env)
            deadline = time.monotonic() + START_TIMEOUT_S
            while not self.address:
                self._check_alive(self.scheduler, "scheduler", deadline)
                with contextlib.suppress(OSError, ValueError):
                    self.address = json.loads(self.scheduler_file.read_text())["address"]
                time.sleep(0.05)
        except BaseException:
            self.close()
            raise

    def _start(self, name: str, args: Sequence[str], env: Mapping[str, str] | None) -> subprocess.Popen[bytes]:
        log = (self.root / f"{name}.log").open("ab")
        self._logs.append(log)
        full_env = {**os.environ, **(env or {})}
        # Started in its own folder: `python -m` puts the working directory first on sys.path, and a
        # worker must import the segeval that is installed (or on its PYTHONPATH), not a checkout's.
        return subprocess.Popen([*DASK, *args], stdout=log, stderr=subprocess.STDOUT, env=full_env,
                                cwd=self.root, start_new_session=True)

    def _check_alive(self, proc: subprocess.Popen[bytes], name: str, deadline: float) -> None:
        if proc.poll() is not None or time.monotonic() > deadline:
            what = f"exited {proc.returncode}" if proc.returncode is not None else "did not start in time"
            raise RuntimeError(f"dask {name} {what}:\n{self.logs()}")

    def start_worker(self, *, env: Mapping[str, str] | None = None,
                     args: Sequence[str] = ()) -> subprocess.Popen[bytes]:
        """Start one worker process (a nanny, one thread) without waiting for it to join."""
        i = len(self.workers)
        proc = self._start(f"worker{i}", [
            "worker", "--scheduler-file", str(self.scheduler_file), "--nworkers", "1", "--nthreads", "1",
            "--no-dashboard", "--name", f"w{i}", "--local-directory", str(self.root / f"w{i}"),
            "--death-timeout", "60", *args], env)
        self.workers.append(proc)
        return proc

    def add_workers(self, n: int = 1, *, env: Mapping[str, str] | None = None,
                    args: Sequence[str] = ()) -> list[subprocess.Popen[bytes]]:
        """Start ``n`` workers at once and wait until every live worker has joined."""
        started = [self.start_worker(env=env, args=args) for _ in range(n)]
        self.wait_for_workers(sum(p.poll() is None for p in self.workers))
        return started

    def wait_for_workers(self, n: int) -> None:
        """Wait (bounded) until ``n`` workers are connected to the scheduler."""
        with distributed.Client(self.address, timeout=START_TIMEOUT_S, set_as_default=False) as client:
            try:
                client.wait_for_workers(n, timeout=START_TIMEOUT_S)
            except TimeoutError:
                raise RuntimeError(f"{n} workers did not join in time:\n{self.logs()}") from None

    def kill(self, proc: subprocess.Popen[bytes] | None) -> None:
        """SIGKILL a process and everything it started (its process group), and reap it."""
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)

    def stop_scheduler(self) -> None:
        """Kill the scheduler (its clients lose their connection at once)."""
        self.kill(self.scheduler)

    def close(self) -> None:
        """Stop every process (workers first), then close the logs."""
        for proc in [*self.workers, self.scheduler]:
            self.kill(proc)
        for log in self._logs:
            log.close()

    def logs(self) -> str:
        """The last lines of every process's log."""
        parts = []
        for path in sorted(self.root.glob("*.log")):
            lines = path.read_text(errors="replace").splitlines()[-15:]
            parts.append(f"--- {path.name}\n" + "\n".join(lines))
        return "\n".join(parts)


@contextlib.contextmanager
def loopback_cluster(root: Path, workers: int = 2, *, worker_env: Mapping[str, str] | None = None,
                     scheduler_env: Mapping[str, str] | None = None,
                     worker_args: Sequence[str] = ()) -> Iterator[LoopbackCluster]:
    """A scheduler and ``workers`` workers, stopped on exit whatever happens."""
    cluster = LoopbackCluster(root, scheduler_env=scheduler_env)
    try:
        if workers:
            cluster.add_workers(workers, env=worker_env, args=worker_args)
        yield cluster
    finally:
        cluster.close()
