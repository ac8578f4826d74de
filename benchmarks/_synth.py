"""Deterministic synthetic label volumes for benchmarks: organ-like blobs, a perturbed prediction.

``organ_pair(shape, k, seed)`` returns ``(pred, gt)``, two C-ordered uint8 arrays
holding labels ``0 .. k - 1`` (``k`` counts background):

* ``gt``: smooth, lumpy blobs (ellipsoids whose surface is bent by low-frequency
  waves) packed inside an elliptic-cylinder "body". ``k=5``: three large organs
  (about 25-30 % of the volume together) plus one small lesion. ``k=118``: a
  TotalSegmentator-like census, a few large organs and many small structures
  (log-normal sizes), about 25-30 % foreground in all.
* ``pred``: ``gt`` with the errors a real model makes: boundaries moved by one
  voxel (some classes dilated, some eroded, some shifted), part of one organ
  given a neighbour's label, false-positive islands in the body, and one small
  class missed entirely (label 4 for ``k=5``, the smallest label otherwise).

Everything is vectorised over bounding boxes and whole-volume shifts, so a
512 x 512 x 256 pair takes a few seconds. The same arguments always give the
same arrays (``numpy.random.default_rng(seed)``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["describe", "organ_pair"]


def _axes(shape: tuple[int, int, int]) -> list[np.ndarray]:
    return [np.arange(n, dtype=np.float32) for n in shape]


def _paint_blob(
    vol: np.ndarray,
    label: int,
    center: np.ndarray,
    radii: np.ndarray,
    rng: np.random.Generator,
    *,
    wobble: float = 0.12,
    only_into: np.ndarray | None = None,
) -> int:
    """Paint one lumpy ellipsoid; returns the voxels painted.

    Inside where ``sum(((x - c) / r) ** 2) + waves <= 1``; the waves are separable
    sinusoids (one per axis and a product term), so the test costs a few
    broadcast operations over the bounding box. ``only_into``: a lookup table of
    the labels the blob may overwrite (others are left as they are).
    """
    shape = vol.shape
    lo = [max(0, int(np.floor(c - r * (1 + wobble))) - 1) for c, r in zip(center, radii)]
    hi = [min(n, int(np.ceil(c + r * (1 + wobble))) + 2) for n, c, r in zip(shape, center, radii)]
    if any(h <= l for l, h in zip(lo, hi)):
        return 0
    terms = []
    waves = []
    for ax in range(3):
        x = np.arange(lo[ax], hi[ax], dtype=np.float32) - np.float32(center[ax])
        x /= np.float32(radii[ax])
        f = rng.uniform(1.5, 4.0)
        ph = rng.uniform(0, 2 * np.pi)
        sl: list[slice | None] = [None, None, None]
        sl[ax] = slice(None)
        terms.append((x * x)[tuple(sl)])
        wave = np.float32(wobble) * np.sin(np.float32(f) * x + np.float32(ph)).astype(np.float32)
        waves.append(wave[tuple(sl)])
    inside = terms[0] + terms[1]
    inside = inside + terms[2]
    inside += waves[0] * waves[1] * (1.0 / wobble) + waves[2]
    mask = inside <= 1.0
    box = vol[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    if only_into is not None:
        mask &= only_into[box]
    box[mask] = label
    return int(np.count_nonzero(mask))


def _body(shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Center and semi-axes of the elliptic-cylinder body (axes 0, 1), full length on axis 2."""
    c = np.array([shape[0] / 2, shape[1] / 2, shape[2] / 2])
    r = np.array([shape[0] * 0.46, shape[1] * 0.36, shape[2] * 0.5])
    return c, r


def _in_body(
    rng: np.random.Generator, shape: tuple[int, int, int], margin: np.ndarray, n: int
) -> np.ndarray:
    """``n`` random points inside the body, at least ``margin`` (per axis, scaled) from its edge."""
    c, r = _body(shape)
    pts: list[np.ndarray] = []
    while len(pts) < n:
        u = rng.uniform(-1, 1, size=(4 * n, 3))
        ok = (u[:, 0] ** 2 + u[:, 1] ** 2) <= 1
        for v in u[ok]:
            pts.append(c + v * np.maximum(r - margin, 1))
            if len(pts) == n:
                break
    return np.array(pts)


def _ground_truth(shape: tuple[int, int, int], k: int, rng: np.random.Generator) -> np.ndarray:
    gt = np.zeros(shape, dtype=np.uint8)
    n_vox = float(np.prod(shape))
    s = np.array(shape, dtype=np.float64)
    if k == 5:
        # Liver-, spleen- and kidney-like organs; label 4 a small lesion inside organ 1.
        specs = [
            (1, [0.38, 0.36, 0.52], [0.29, 0.24, 0.46]),
            (2, [0.64, 0.66, 0.48], [0.22, 0.18, 0.42]),
            (3, [0.68, 0.34, 0.55], [0.16, 0.13, 0.36]),
            (3, [0.30, 0.70, 0.50], [0.15, 0.13, 0.34]),
        ]
        for label, cf, rf in specs:
            _paint_blob(gt, label, s * np.array(cf), s * np.array(rf), rng)
        into = np.zeros(256, dtype=bool)
        into[1] = True
        _paint_blob(gt, 4, s * np.array([0.40, 0.34, 0.50]), s * 0.035, rng, only_into=into)
        return gt
    # k labels incl. background: a few large organs first, then many small structures.
    n_lab = k - 1
    target = 0.31 * n_vox
    sizes = np.exp(rng.normal(0.0, 1.1, size=n_lab))
    sizes[: min(6, n_lab)] *= 25.0  # the large organs
    sizes *= target * 1.15 / sizes.sum()  # overlaps eat some of it
    order = np.argsort(-sizes)  # paint large first, small structures on top
    for idx in order:
        label = int(idx) + 1
        vol = sizes[idx]
        aspect = rng.uniform(0.6, 1.6, size=3)
        aspect /= np.cbrt(aspect.prod())
        radius = np.cbrt(vol / (4.0 / 3.0 * np.pi))
        radii = np.maximum(radius * aspect, 1.5)
        center = _in_body(rng, shape, radii * 0.6, 1)[0]
        _paint_blob(gt, label, center, radii, rng, wobble=0.15)
    return gt


def _shift(a: np.ndarray, axis: int, step: int) -> np.ndarray:
    """``out[x] = a[x - step]`` along ``axis``, edge replicated."""
    out = np.empty_like(a)
    src = [slice(None)] * 3
    dst = [slice(None)] * 3
    if step > 0:
        dst[axis] = slice(step, None)
        src[axis] = slice(None, -step)
        edge_d = [slice(None)] * 3
        edge_d[axis] = slice(0, step)
        edge_s = [slice(None)] * 3
        edge_s[axis] = slice(0, 1)
    else:
        dst[axis] = slice(None, step)
        src[axis] = slice(-step, None)
        edge_d = [slice(None)] * 3
        edge_d[axis] = slice(step, None)
        edge_s = [slice(None)] * 3
        edge_s[axis] = slice(-1, None)
    out[tuple(dst)] = a[tuple(src)]
    out[tuple(edge_d)] = a[tuple(edge_s)]
    return out


def _prediction(gt: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    pred = gt.copy()
    # Boundary errors of one voxel: role 1 dilate, 2 erode, 3 shift along +axis, 0 exact.
    role = np.zeros(256, dtype=np.uint8)
    role[1:k] = rng.choice([0, 1, 2, 3], size=k - 1, p=[0.25, 0.3, 0.25, 0.2])
    moves = [(0, 1), (0, -1), (1, 1), (1, -1), (2, 1), (2, -1)]
    flat_gt = gt.reshape(-1)
    flat_pred = pred.reshape(-1)
    for axis, step in moves:
        nb = _shift(gt, axis, step).reshape(-1)  # the neighbour on the -step side
        idx = np.flatnonzero(nb != flat_gt)  # boundary voxels only: a few percent
        v_nb = nb[idx]
        r_nb = role[v_nb]
        r_me = role[flat_gt[idx]]
        along = step == 1 and axis == 0
        grow = (r_nb == 1) | ((r_nb == 3) & along)
        lose = (r_me == 2) | ((r_me == 3) & along)
        hit = grow | lose
        flat_pred[idx[hit]] = v_nb[hit]
    s = np.array(gt.shape, dtype=np.float64)
    # Part of one organ labelled as its neighbour (class confusion).
    a, b = (1, 2) if k == 5 else (int(rng.integers(1, k)), int(rng.integers(1, k)))
    box = tuple(slice(int(n * 0.40), int(n * 0.52)) for n in gt.shape)
    sub = pred[box]
    sub[gt[box] == a] = b
    # False-positive islands inside the body (over background or another organ).
    n_isl = 12 if k == 5 else 60
    pts = _in_body(rng, gt.shape, s * 0.05, n_isl)
    for p in pts:
        label = int(rng.integers(1, k))
        _paint_blob(pred, label, p, np.full(3, rng.uniform(2.0, 6.0)), rng, wobble=0.2)
    # One small class missed entirely.
    if k == 5:
        missed = 4
    else:
        counts = np.bincount(gt.reshape(-1), minlength=k)[1:k]
        present = np.flatnonzero(counts) + 1
        missed = int(present[np.argmin(counts[present - 1])])
    pred[pred == missed] = 0
    return pred


def organ_pair(
    shape: tuple[int, int, int] = (512, 512, 256), k: int = 5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic (pred, gt) pair of uint8 label volumes, ``k`` classes counting background.

    Parameters
    ----------
    shape : (int, int, int)
        Volume shape (C order; the last axis is contiguous).
    k : int
        Number of classes counting background, 2 .. 256 (5 and 118 are the benchmark cases).
    seed : int
        Random seed; the same arguments give the same arrays.

    Returns
    -------
    pred, gt : ndarray of uint8, shape ``shape``
    """
    if not 2 <= k <= 256:
        raise ValueError(f"k must be in 2..256, got {k}")
    shape = tuple(int(n) for n in shape)  # type: ignore[assignment]
    if len(shape) != 3:
        raise ValueError(f"shape must be 3-D, got {shape}")
    rng = np.random.default_rng([seed, k])
    gt = _ground_truth(shape, k, rng)
    pred = _prediction(gt, k, rng)
    return pred, gt


def describe(pred: np.ndarray, gt: np.ndarray) -> str:
    """One line: foreground fractions, labels present, voxel agreement."""
    n = gt.size
    fg_gt = np.count_nonzero(gt) / n
    fg_pred = np.count_nonzero(pred) / n
    agree_fg = np.count_nonzero((pred == gt) & (gt != 0)) / max(1, int(np.count_nonzero(gt)))
    diff = np.count_nonzero(pred != gt) / n
    lg = np.unique(gt).size
    lp = np.unique(pred).size
    return (
        f"foreground gt {fg_gt:.1%} pred {fg_pred:.1%}; labels present gt {lg} pred {lp} "
        f"(background included); voxels differing {diff:.2%}; gt foreground kept {agree_fg:.1%}"
    )


if __name__ == "__main__":  # pragma: no cover - manual inspection
    import sys
    import time

    shp = (512, 512, 256) if "--quick" not in sys.argv else (256, 256, 128)
    for kk in (5, 118):
        t0 = time.perf_counter()
        pp, gg = organ_pair(shp, kk)
        dt = time.perf_counter() - t0
        print(f"k={kk}: {dt:.2f} s; {describe(pp, gg)}")
