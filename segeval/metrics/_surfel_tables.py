"""The area of the surface element of every corner code: DeepMind's lookup tables, derived from geometry.

A corner's code is the bit pattern of which of the 2×2×2 (2-D: 2×2) voxels
around it are in the mask (:mod:`segeval.metrics.surfels`); its surfel is the
piece of the marching-cubes surface inside the cell around it.

The area tables are derived in code, per cell configuration
(:func:`_cell_polygons`): the edge-midpoint polygons (marching squares or
cubes), the face whose four corners alternate being split so that it separates
the in-mask corners of a configuration with at most half of the cell inside,
the complement's surface for the others (the same surface seen from outside),
and one convention for the 4-in-4-out configuration "three corners of a face
plus the opposite corner" (the split that separates the in-mask corners when
the corner of the three that touches both others has an even coordinate sum;
else the complement's). Planar polygons have one area. A non-planar polygon
(five or six edge midpoints on no plane) is split into its largest-area
triangulations at unit spacing; these turn out to have one area at every
spacing, not only at unit spacing (a test checks it on random spacings), and
the table takes their mean. The tables equal DeepMind's
lookup tables at every code and spacing tried (to 4e-16, relative; see
``benchmarks/compare_surfels.py``).

:func:`surfel_areas` gives the table at a voxel spacing; the rest builds the
polygons it measures, once per process.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
from numpy.typing import NDArray

__all__ = ["corner_bit", "corners", "surfel_areas"]

FloatArray = NDArray[np.float64]
_Point = tuple[float, ...]


def corner_bit(corner: tuple[int, ...]) -> int:
    """Bit of the cell corner ``corner`` (0/1 per axis) in a code: the first corner is the highest bit."""
    index = int("".join(map(str, corner)), 2)
    return int(1 << (2 ** len(corner) - 1 - index))


def corners(ndim: int) -> list[tuple[int, ...]]:
    """The corners of a cell as 0/1 offsets per axis, in code-bit order (:func:`corner_bit`)."""
    return list(itertools.product((0, 1), repeat=ndim))


def _inside(code: int, ndim: int) -> set[tuple[int, ...]]:
    return {c for c in corners(ndim) if code & corner_bit(c)}


def _face_segments(cycle: list[tuple[int, ...]], inside: set[tuple[int, ...]],
                   separate_inside: bool) -> list[tuple[_Point, _Point]]:
    """Iso-contour segments on one square face, its corners given in cyclic order.

    Two crossings give one segment; four (corners alternating in and out)
    give two segments cutting off either the in-mask corners
    (``separate_inside``) or the others.
    """
    def mid(a: tuple[int, ...], b: tuple[int, ...]) -> _Point:
        return tuple((x + y) / 2 for x, y in zip(a, b, strict=True))

    crossing = {i: mid(cycle[i], cycle[(i + 1) % 4]) for i in range(4)
                if (cycle[i] in inside) != (cycle[(i + 1) % 4] in inside)}
    if len(crossing) == 2:
        a, b = crossing.values()
        return [(a, b)]
    if len(crossing) == 4:
        # corner i lies between edges i - 1 and i; cut off the corners of one kind
        return [(crossing[(i - 1) % 4], crossing[i]) for i in range(4) if (cycle[i] in inside) == separate_inside]
    return []


def _chain(segments: list[tuple[_Point, _Point]]) -> list[list[_Point]]:
    """Closed polygons (vertex lists) from segments that meet end to end."""
    polygons = []
    rest = list(segments)
    while rest:
        start, end = rest.pop()
        polygon = [start, end]
        while polygon[-1] != polygon[0]:
            nxt = next(s for s in rest if polygon[-1] in s)
            rest.remove(nxt)
            polygon.append(nxt[1] if nxt[0] == polygon[-1] else nxt[0])
        polygons.append(polygon[:-1])
    return polygons


def _is_even_elbow_l(inside: set[tuple[int, ...]]) -> bool | None:
    """For "three corners of a face plus the far corner": whether the L's middle corner has an even sum; else None."""
    def adjacent(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1

    degree = {c: sum(adjacent(c, d) for d in inside) for c in inside}
    if len(inside) != 4 or sorted(degree.values()) != [0, 1, 1, 2]:
        return None
    elbow = next(c for c, n in degree.items() if n == 2)
    return sum(elbow) % 2 == 0


def _cell_polygons(code: int, ndim: int) -> list[list[_Point]]:
    """The iso-surface polygons (3-D) or segments (2-D, as 2-vertex lists) of one cell configuration."""
    full = (1 << 2 ** ndim) - 1
    inside = _inside(code, ndim)
    n_in = len(inside)
    separate_inside = True
    if 2 * n_in > 2 ** ndim:
        separate_inside = False  # the complement's surface
    elif ndim == 3 and 2 * n_in == 2 ** ndim:
        even = _is_even_elbow_l(inside)
        if even is False:
            separate_inside = False
    if code in (0, full):
        return []
    if ndim == 2:
        cycle: list[tuple[int, ...]] = [(0, 0), (0, 1), (1, 1), (1, 0)]
        return [list(s) for s in _face_segments(cycle, inside, separate_inside)]
    segments = []
    for axis in range(3):
        a, b = (x for x in range(3) if x != axis)
        for side in (0, 1):
            cycle = []  # the face's corners in cyclic order
            for u, v in ((0, 0), (0, 1), (1, 1), (1, 0)):
                corner = [0, 0, 0]
                corner[axis], corner[a], corner[b] = side, u, v
                cycle.append(tuple(corner))
            segments += _face_segments(cycle, inside, separate_inside)
    return _chain(segments)


@functools.cache
def _triangulations(n: int) -> list[list[tuple[int, int, int]]]:
    """Every triangulation of a convex n-gon with vertices 0..n-1 (as vertex-index triples)."""
    def of(vs: tuple[int, ...]) -> list[list[tuple[int, int, int]]]:
        if len(vs) < 3:
            return [[]]
        out = []
        for k in range(1, len(vs) - 1):
            for left in of(vs[: k + 1]):
                for right in of(vs[k:]):
                    out.append([*left, *right, (vs[0], vs[k], vs[-1])])
        return out
    return of(tuple(range(n)))


def _triangle_normals(polygon: list[_Point], triangles: list[tuple[int, int, int]]) -> FloatArray:
    """Area vectors (half cross products) of the triangles at unit spacing, shape (n, 3)."""
    p = np.asarray(polygon, dtype=np.float64)
    t = np.asarray(triangles, dtype=np.intp).reshape(-1, 3)
    return _cross(p[t[:, 1]] - p[t[:, 0]], p[t[:, 2]] - p[t[:, 0]]) / 2


def _cross(a: FloatArray, b: FloatArray) -> FloatArray:
    """Row-wise cross products of two (n, 3) arrays (``np.cross`` costs far more on a few rows)."""
    i, j = [1, 2, 0], [2, 0, 1]
    return np.asarray(a[:, i] * b[:, j] - a[:, j] * b[:, i], dtype=np.float64)


@functools.cache
def _normals_3d() -> tuple[FloatArray, FloatArray, NDArray[np.intp]]:
    """Every code's triangles: area vectors at unit spacing, weights and code, concatenated.

    A code's area at a spacing is the weighted sum of its triangles' areas
    there; a non-planar polygon contributes each of its largest-area
    triangulations with weight 1 / (their number).
    """
    normals, weights, codes = [], [], []
    for code in range(256):
        for polygon in _cell_polygons(code, 3):
            fan = _triangle_normals(polygon, [(0, i, i + 1) for i in range(1, len(polygon) - 1)])
            if np.abs(_cross(fan, np.broadcast_to(fan[0], fan.shape))).max() < 1e-12:  # planar: every triangulation has its area
                best = [fan]
            else:
                options = [_triangle_normals(polygon, t) for t in _triangulations(len(polygon))]
                areas = np.array([np.linalg.norm(n, axis=1).sum() for n in options])
                best = [n for n, a in zip(options, areas, strict=True) if a >= areas.max() - 1e-12]
            for n in best:
                normals.append(n)
                weights.append(np.full(len(n), 1.0 / len(best)))
                codes.append(np.full(len(n), code, dtype=np.intp))
    return np.concatenate(normals), np.concatenate(weights), np.concatenate(codes)


@functools.cache
def _segments_2d() -> tuple[FloatArray, NDArray[np.intp]]:
    """Every 2-D code's contour segments as (dx, dy) at unit spacing, and their codes."""
    vectors, codes = [], []
    for code in range(16):
        for a, b in _cell_polygons(code, 2):
            vectors.append(np.subtract(b, a))
            codes.append(code)
    return np.asarray(vectors, dtype=np.float64), np.asarray(codes, dtype=np.intp)


@functools.cache
def surfel_areas(spacing_mm: tuple[float, ...]) -> FloatArray:
    """Area in mm² (2-D: length in mm) of the surfel of every corner code at a voxel spacing.

    Parameters
    ----------
    spacing_mm : tuple of float, length 2 or 3
        Voxel size per axis in mm.

    Returns
    -------
    ndarray of float64, shape (16,) or (256,)
        Indexed by the corner code (bit 2**(2**ndim - 1 - i) for the cell
        corner whose 0/1 offsets read as the binary number i); 0 for the
        codes of no surface (0 and all ones).

    Notes
    -----
    A triangle's area vector n at unit spacing becomes
    (n0 s1 s2, n1 s0 s2, n2 s0 s1) at spacing s (the cofactor of the
    scaling); a 2-D segment (d0, d1) has length |(d0 s0, d1 s1)|.

    Examples
    --------
    >>> t = surfel_areas((2.0, 1.0))
    >>> float(t[0b0011]), float(t[0b0101]), round(float(t[0b0001]), 4)
    (1.0, 2.0, 1.118)
    """
    spacing = np.asarray(spacing_mm, dtype=np.float64)
    if spacing.shape == (2,):
        vectors, codes = _segments_2d()
        lengths = np.linalg.norm(vectors * spacing, axis=1)
        return np.bincount(codes, weights=lengths, minlength=16).astype(np.float64)
    normals, weights, codes = _normals_3d()
    s0, s1, s2 = spacing
    scaled = normals * np.array([s1 * s2, s0 * s2, s0 * s1])
    return np.bincount(codes, weights=weights * np.linalg.norm(scaled, axis=1), minlength=256).astype(np.float64)
