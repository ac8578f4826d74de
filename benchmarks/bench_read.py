"""How fast can a ``.nii.gz`` label volume be read? One row per gzip decoder and reader.

Writes (once) a deterministic 512 x 512 x 256 uint8 label volume, mostly
background with twenty organ-like blobs, to ``benchmarks/_data/`` and times
reading it into a NumPy array, best of N (default 3):

* each gzip decoder, file -> bytes -> decompress -> header + zero-copy array
  (segeval's path, with the decoder swapped; zlib-ng both in one call and in
  the 1 MiB pieces that ``segeval.io.nifti.gunzip`` uses): the standard library's
  ``gzip.decompress`` and ``zlib`` (``decompressobj``), python-isal
  (``isal.igzip`` and ``isal.isal_zlib``), python-zlib-ng (``gzip_ng`` and
  ``zlib_ng``) and ``indexed_gzip``;
* nibabel's own path, ``np.asanyarray(nib.load(path).dataobj)``;
* ``SimpleITK.ReadImage`` + ``GetArrayFromImage``;
* ``segeval.io.read_volume``, with the decoder it picks.

Usage: ``python benchmarks/bench_read.py [--repeat N] [--regenerate]``.
Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import os
import platform
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import nibabel as nib
import numpy as np
from scipy import ndimage

from segeval.io import read_volume, write_volume
from segeval.io.nifti import gunzip, gzip_decoder

DATA = Path(__file__).resolve().parent / "_data"
SHAPE = (512, 512, 256)
SPACING_MM = (0.8, 0.8, 1.5)


def make_volume(seed: int = 0) -> np.ndarray:
    """A CT-like label map: 20 bent ellipsoids inside a body ellipse, the rest background."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(SHAPE, np.uint8)
    for label in range(1, 21):
        centre = rng.uniform([140, 150, 30], [372, 362, 226])
        radii = rng.uniform([15, 15, 10], [65, 55, 45])
        lo = np.maximum(np.floor(centre - radii * 1.3).astype(int), 0)
        hi = np.minimum(np.ceil(centre + radii * 1.3).astype(int), SHAPE)
        box = tuple(int(n) for n in hi - lo)
        # Low-resolution noise, upsampled: smooth, organ-like surface bends.
        coarse = rng.standard_normal(tuple(max(2, n // 12) for n in box)).astype(np.float32)
        bend = ndimage.zoom(coarse, [n / c for n, c in zip(box, coarse.shape)], order=1)[
            : box[0], : box[1], : box[2]
        ]
        x, y, z = np.ogrid[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        dist = ((x - centre[0]) / radii[0]) ** 2 + ((y - centre[1]) / radii[1]) ** 2
        dist = dist + ((z - centre[2]) / radii[2]) ** 2 + 0.3 * bend
        view = labels[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        view[dist <= 1.0] = label
    x, y = np.ogrid[: SHAPE[0], : SHAPE[1]]
    outside = ((x - 256) / 235.0) ** 2 + ((y - 256) / 180.0) ** 2 > 1.0
    labels[outside] = 0
    return labels


def data_file(regenerate: bool) -> Path:
    path = DATA / "labels_512x512x256.nii.gz"
    if regenerate or not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        write_volume(path, make_volume(), spacing_mm=SPACING_MM)
    return path


def _array_from(data: bytes | np.ndarray) -> np.ndarray:
    """Header from nibabel, voxels as a zero-copy view: the rest of segeval's NIfTI path."""
    proxy = nib.Nifti1Image.from_bytes(bytes(data[:352])).dataobj
    count = int(np.prod(proxy.shape))
    return np.frombuffer(data, proxy.dtype, count, proxy.offset).reshape(proxy.shape, order="F")


def _one_call(decoder: Any, raw: bytes) -> bytes:
    """The whole stream in one ``decompress`` call: a fresh buffer the size of the volume."""
    return decoder.decompressobj(31).decompress(raw)


def _optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def readers(path: Path) -> list[tuple[str, Callable[[], Any]]]:
    """(name, read function) for every reader that can be imported here."""
    rows: list[tuple[str, Callable[[], Any]]] = [
        ("stdlib gzip.decompress", lambda: _array_from(gzip.decompress(path.read_bytes()))),
        (
            "stdlib zlib decompressobj",
            lambda: _array_from(gunzip(path.read_bytes(), shown="", decoder=zlib)),
        ),
    ]
    igzip, isal_zlib = _optional("isal.igzip"), _optional("isal.isal_zlib")
    if igzip is not None and isal_zlib is not None:
        rows += [
            ("isal igzip.decompress", lambda: _array_from(igzip.decompress(path.read_bytes()))),
            (
                "isal isal_zlib decompressobj",
                lambda: _array_from(gunzip(path.read_bytes(), shown="", decoder=isal_zlib)),
            ),
        ]
    gzip_ng, zlib_ng = _optional("zlib_ng.gzip_ng"), _optional("zlib_ng.zlib_ng")
    if gzip_ng is not None and zlib_ng is not None:
        rows += [
            (
                "zlib-ng gzip_ng.decompress",
                lambda: _array_from(gzip_ng.decompress(path.read_bytes())),
            ),
            (
                "zlib-ng zlib_ng decompressobj, one call",
                lambda: _array_from(_one_call(zlib_ng, path.read_bytes())),
            ),
            (
                "zlib-ng zlib_ng decompressobj, 1 MiB pieces",
                lambda: _array_from(gunzip(path.read_bytes(), shown="", decoder=zlib_ng)),
            ),
        ]
    indexed_gzip = _optional("indexed_gzip")
    if indexed_gzip is not None:

        def read_indexed() -> np.ndarray:
            with indexed_gzip.IndexedGzipFile(str(path)) as fh:
                return _array_from(fh.read())

        rows.append(("indexed_gzip IndexedGzipFile.read", read_indexed))
    rows.append(("nibabel nib.load().dataobj", lambda: np.asanyarray(nib.load(path).dataobj)))
    sitk = _optional("SimpleITK")
    if sitk is not None:
        rows.append(
            ("SimpleITK ReadImage", lambda: sitk.GetArrayFromImage(sitk.ReadImage(str(path))))
        )
    rows.append(
        (f"segeval read_volume ({gzip_decoder().__name__})", lambda: read_volume(path).labels)
    )
    return rows


def best_times(rows: list[tuple[str, Callable[[], Any]]], repeat: int) -> list[float]:
    """Best wall time of each reader over ``repeat`` rounds.

    Rounds go over every reader in turn (rather than all runs of one reader,
    then the next), so that a burst of load on the machine slows every row
    alike instead of one.
    """
    for _, func in rows:
        func()  # warm-up: imports, page cache
    best = [float("inf")] * len(rows)
    for _ in range(repeat):
        for i, (_, func) in enumerate(rows):
            start = time.perf_counter()
            result = func()
            best[i] = min(best[i], time.perf_counter() - start)
            del result
    return best


def versions() -> str:
    names = ["numpy", "nibabel", "SimpleITK", "isal", "zlib_ng", "indexed_gzip"]
    found = []
    for name in names:
        module = _optional(name)
        if module is not None:
            version = getattr(module, "__version__", None)
            if name == "SimpleITK":
                version = module.Version_VersionString()
            found.append(f"{name} {version}")
    return ", ".join(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs per reader (best is kept)"
    )
    parser.add_argument("--regenerate", action="store_true", help="rewrite the data file")
    args = parser.parse_args()

    path = data_file(args.regenerate)
    expected = read_volume(path).labels
    foreground = float(np.count_nonzero(expected)) / expected.size
    print(f"file: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    print(
        f"volume: {SHAPE[0]}x{SHAPE[1]}x{SHAPE[2]} uint8, {expected.nbytes / 2**20:.0f} MiB raw, "
        f"{path.stat().st_size / 2**20:.2f} MiB gzip, {foreground:.1%} foreground"
    )
    print(
        f"python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs; {versions()}"
    )
    print(f"best of {args.repeat}; ratio = stdlib gzip.decompress time / row time\n")

    rows = readers(path)
    checks = []
    for _, func in rows:
        got = np.asarray(func())
        # SimpleITK gives (z, y, x): compare it transposed.
        checks.append(np.array_equal(got.T if got.shape == SHAPE[::-1] else got, expected))
    times = best_times(rows, args.repeat)
    results = [(name, t, same) for (name, _), t, same in zip(rows, times, checks, strict=True)]
    baseline = results[0][1]
    width = max(len(name) for name, _, _ in results)
    print(f"{'reader':<{width}}  {'ms':>8}  {'ratio':>6}  same array")
    print(f"{'-' * width}  {'-' * 8}  {'-' * 6}  ----------")
    for name, seconds, same in results:
        verdict = "yes" if same else "NO"
        print(f"{name:<{width}}  {seconds * 1e3:8.1f}  {baseline / seconds:5.2f}x  {verdict}")
    if not all(same for _, _, same in results):
        sys.exit("some reader returned a different array")


if __name__ == "__main__":
    main()
