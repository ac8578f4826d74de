"""Where outputs land: FIFOs and symlinks written into, sockets refused, the umask kept, leftovers removed.

Issue 15, items 1 (special files as outputs), 13 (the umask) and 15 (the
temporary file of a killed write). The special files are made in ``tmp_path``;
the real ``/dev/null`` is never written.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from segeval.batching import journal_path
from segeval.cli import app
from segeval.errors import OutputError
from segeval.report.writers import is_stream, remove_leftovers, write_atomic
from tests.batching._data import make_clean

runner = CliRunner()


class FifoReader:
    """Read everything written into a FIFO, in a thread, until the writer closes it."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path = path
        self.chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with open(self.path, "rb") as fh:
            self.chunks.append(fh.read())

    def text(self) -> str:
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "nothing closed the FIFO"
        return b"".join(self.chunks).decode()


@pytest.fixture
def case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    make_clean(tmp_path, 3)
    yield tmp_path
    # Never leave a reader thread blocked on a FIFO that nothing opened (ENXIO: no reader left).
    for fifo in tmp_path.glob("*.fifo"):
        if stat.S_ISFIFO(fifo.lstat().st_mode):
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def _one_pair(root: Path) -> tuple[Path, Path]:
    pred = min((root / "pred").iterdir())
    return pred, root / "gt" / pred.name


def test_fifo_output_is_written_into_and_stays_a_fifo(case: Path) -> None:
    reader = FifoReader(case / "out.fifo")
    pred, gt = _one_pair(case)
    r = runner.invoke(app, ["score", str(pred), str(gt), "-o", "out.fifo", "--format", "json", "--quiet"])
    assert r.exit_code == 0, r.output
    assert json.loads(reader.text())["cases"][0]["labels"]
    assert stat.S_ISFIFO((case / "out.fifo").lstat().st_mode)
    assert sorted(p.name for p in case.iterdir()) == ["gt", "out.fifo", "pred"]


def test_batch_into_a_fifo_writes_no_journal_and_nothing_beside_it(case: Path) -> None:
    reader = FifoReader(case / "out.fifo")
    r = runner.invoke(app, ["batch", "pred", "gt", "-o", "out.fifo", "--format", "csv", "--jobs", "1", "--quiet"])
    assert r.exit_code == 0, r.output
    assert reader.text().count("\n") > 3
    assert sorted(p.name for p in case.iterdir()) == ["gt", "out.fifo", "pred"]
    assert not journal_path(case / "out.fifo").exists()


@pytest.mark.parametrize("option", ["-o", "--summary"])
def test_symlink_output_is_written_through_to_its_target(case: Path, option: str) -> None:
    (case / "reports").mkdir()
    target = case / "reports" / "real.json"
    (case / "link.json").symlink_to(target)
    args = ["-o", "out.csv"] if option == "--summary" else []
    r = runner.invoke(app, ["batch", "pred", "gt", option, "link.json", *args, "--jobs", "1", "--quiet"])
    assert r.exit_code == 0, r.output
    assert (case / "link.json").is_symlink() and os.readlink(case / "link.json") == str(target)
    assert json.loads(target.read_text())
    assert sorted(p.name for p in (case / "reports").iterdir()) == ["real.json"]


def test_socket_output_is_refused_and_left_alone(case: Path) -> None:
    # A socket's path must be short (108 bytes): made in a short temporary folder.
    with tempfile.TemporaryDirectory(dir="/tmp") as short:
        path = Path(short) / "s"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        try:
            pred, gt = _one_pair(case)
            r = runner.invoke(app, ["score", str(pred), str(gt), "-o", str(path), "--format", "json"])
            assert r.exit_code == 2
            assert r.stderr == f"segeval: error: -o {path}: is not a regular file (a socket or block device?); " \
                               "give a file name\n"
            assert stat.S_ISSOCK(path.lstat().st_mode) and os.listdir(short) == ["s"]
        finally:
            sock.close()


def test_a_character_device_counts_as_a_stream_without_being_written() -> None:
    assert is_stream(os.devnull)  # stat only: nothing is written to the real /dev/null


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_output_follows_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    saved = os.umask(umask)
    try:
        write_atomic(tmp_path / "out.json", "{}\n")
    finally:
        os.umask(saved)
    assert stat.S_IMODE((tmp_path / "out.json").stat().st_mode) == mode


def test_replaced_output_keeps_its_own_mode(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    path.write_text("old")
    path.chmod(0o640)
    write_atomic(path, "new")
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o640


def test_leftovers_of_a_killed_write_are_removed_by_the_next_one(tmp_path: Path) -> None:
    left = [tmp_path / ".out.json.a1b2c3.tmp", tmp_path / ".out.json.zz_9.tmp"]
    others = [tmp_path / ".other.json.a1b2c3.tmp", tmp_path / ".out.json.a.b.tmp", tmp_path / "out.json.tmp"]
    for p in [*left, *others]:
        p.write_text("partial")
    write_atomic(tmp_path / "out.json", "{}")
    assert not any(p.exists() for p in left)
    assert all(p.exists() for p in others)  # another file's, or not one of ours
    assert remove_leftovers(tmp_path / "out.json") == []


def test_batch_and_resume_remove_what_a_killed_final_write_left(case: Path) -> None:
    (case / ".out.json.k1ll3d.tmp").write_text("partial")
    (case / f".{journal_path(Path('out.json')).name}.x7.tmp").write_text("partial")
    r = runner.invoke(app, ["batch", "pred", "gt", "-o", "out.json", "--jobs", "1", "--quiet"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in case.iterdir()) == ["gt", "out.json", "pred"]


def test_unwritable_output_is_one_line_exit_2(case: Path) -> None:
    pred, gt = _one_pair(case)
    r = runner.invoke(app, ["score", str(pred), str(gt), "-o", "no/such/folder/out.json"])
    assert r.exit_code == 2 and r.stderr == "segeval: error: -o no/such/folder/out.json: folder no/such/folder " \
                                            "does not exist\n"
    with pytest.raises(OutputError, match="is a directory"):
        write_atomic(case / "gt", "x")
