"""gzip decompression for NIfTI: the fastest decoder importable, reading only as far as asked.

Decompressing ``.nii.gz`` is most of the time spent reading a case, so the
file is inflated by the fastest zlib-compatible decoder that is importable.
Measured with ``benchmarks/bench_read.py`` on a 512 x 512 x 256 label map:
zlib-ng about 4x and ISA-L about 3x faster than the standard library's zlib.
(ISA-L wins on poorly compressible data such as CT intensities, but label
maps compress 100-fold or more, and there zlib-ng is ahead.)
"""

from __future__ import annotations

import functools
import importlib
import io
from types import ModuleType
from typing import Any

import numpy as np

from segeval.errors import ReadError

__all__ = ["GZIP_DECODERS", "GzipStream", "gunzip", "gzip_decoder"]

#: zlib-compatible modules tried in order, fastest first (see the module docstring).
GZIP_DECODERS: tuple[str, ...] = ("zlib_ng.zlib_ng", "isal.isal_zlib", "zlib")

_GZIP_MAGIC = b"\x1f\x8b"


@functools.cache
def gzip_decoder() -> ModuleType:
    """Return the fastest importable zlib-compatible module (``decompressobj``, ``error``).

    Imported on first use, so that ``import segeval`` does not load it and a
    platform without the optional wheels falls back to the standard library.
    """
    for name in GZIP_DECODERS[:-1]:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return importlib.import_module(GZIP_DECODERS[-1])


# Decompressed bytes asked of the decoder per call, and compressed bytes given
# to it per call. Each piece is copied into the volume's array at once, so the
# pieces are small, short-lived allocations that the C allocator hands out
# again from memory the process already has. Decompressing the whole stream in
# one call instead returns a fresh buffer the size of the volume, and the
# kernel then has to zero every 4 KiB page of it: measured on 200 label maps of
# 8 MiB, that page faulting took 0.9 s of system time against 0.3 s of
# inflating (``benchmarks/bench_read.py`` shows both).
_OUT_PIECE = 1 << 20
_IN_PIECE = 1 << 16


class GzipStream:
    """The decompressed content of a gzip file, read as far as asked and no further.

    Compressed bytes are read from ``fh`` 64 KiB at a time, and every member
    in turn (bgzip and ``pigz -i`` write several; a single-shot decompress
    would stop after the first); the zero padding some writers add between
    members is skipped, as ``gzip.decompress`` does. Decompressing only what
    is asked for bounds memory by what the caller needs (a NIfTI header's
    declared size), whatever the stream would inflate to: a gzip bomb is
    never inflated past it.

    Raises
    ------
    ReadError
        The stream is corrupt (bad data or checksum) or ends early.
    """

    def __init__(self, fh: io.BufferedIOBase, *, shown: str, decoder: ModuleType | None = None) -> None:
        self._zlib = decoder if decoder is not None else gzip_decoder()
        self._fh = fh
        self._shown = shown
        self._pending = b""  # compressed bytes read but not yet given to a decoder
        self._inflater: Any = None
        self._tail: bytes = b""

    def _input(self, at_least: int = 1) -> bytes:
        while len(self._pending) < at_least:
            more = self._fh.read(_IN_PIECE)
            if not more:
                break
            self._pending += more
        return self._pending

    def _next_member(self) -> bool:
        """Start the next member after any zero padding; False at the end of the file."""
        while True:
            data = self._input()
            if not data:
                return False
            kept = data.lstrip(b"\0")
            self._pending = kept
            if kept:
                break
        if self._input(2)[:2] != _GZIP_MAGIC:
            return False  # trailing bytes that are not gzip: ignored, as before
        self._inflater = self._zlib.decompressobj(31)
        return True

    def _piece(self, max_length: int) -> bytes:
        """Up to ``max_length`` decompressed bytes; ``b""`` at the end of the last member."""
        while True:
            if self._inflater is None and not self._next_member():
                return b""
            inflater = self._inflater
            data = self._tail or self._pending or self._fh.read(_IN_PIECE)
            self._pending = b"" if data is self._pending else self._pending
            if not data:
                raise ReadError(
                    f"{self._shown}: truncated gzip stream (the compressed data ends early); "
                    "the file was not copied or written completely, re-copy or re-export it"
                )
            try:
                piece = inflater.decompress(data, max_length)
            except self._zlib.error as exc:
                raise ReadError(
                    f"{self._shown}: corrupt gzip stream ({exc}); the file is damaged, re-copy or re-export it"
                ) from None
            self._tail = bytes(inflater.unconsumed_tail)
            if inflater.eof:
                self._pending = bytes(inflater.unused_data) + self._pending
                self._inflater, self._tail = None, b""
            if piece:
                return bytes(piece)

    def readinto(self, out: np.ndarray[Any, Any]) -> int:
        """Fill the uint8 array ``out`` (or as much as the stream holds); the bytes written."""
        filled = 0
        while filled < out.size:
            piece = self._piece(min(_OUT_PIECE, out.size - filled))
            if not piece:
                break
            out[filled : filled + len(piece)] = np.frombuffer(piece, dtype=np.uint8)
            filled += len(piece)
        return filled

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer at the end)."""
        out = np.empty(max(n, 0), dtype=np.uint8)
        return out[: self.readinto(out)].tobytes()

    def has_more(self) -> bool:
        """Whether the stream holds any byte past what was read."""
        return bool(self._piece(1))


def gunzip(
    raw: bytes, *, shown: str, decoder: ModuleType | None = None, limit: int | None = None
) -> np.ndarray[Any, Any]:
    """Decompress a gzip file held in memory (every member) into one uint8 array.

    Parameters
    ----------
    raw : bytes
        The file's bytes, starting with the gzip magic.
    shown : str
        The file name for messages.
    decoder : module, optional
        A zlib-compatible module; default :func:`gzip_decoder`.
    limit : int, optional
        Decompress at most this many bytes; :class:`ReadError` when the
        stream holds more (a gzip bomb).

    Raises
    ------
    ReadError
        The stream is corrupt, ends early, or inflates past ``limit``.
    """
    stream = GzipStream(io.BytesIO(raw), shown=shown, decoder=decoder)
    out = np.empty(1 << 20, dtype=np.uint8)
    filled = 0
    while True:
        if limit is not None and out.size > limit + 1:
            out = out[: limit + 1]
        got = stream.readinto(out[filled:])
        filled += got
        if filled < out.size:
            return out[:filled]
        if limit is not None and filled > limit:
            raise ReadError(f"{shown}: decompresses to more than {limit} bytes (a gzip bomb?); refused")
        out = _grown(out, filled, 2 * out.size)


def _grown(out: np.ndarray[Any, Any], filled: int, needed: int) -> np.ndarray[Any, Any]:
    """A larger array holding ``out[:filled]`` (at least ``needed`` bytes, doubling)."""
    bigger = np.empty(max(needed, 2 * out.size), dtype=np.uint8)
    bigger[:filled] = out[:filled]
    return bigger
