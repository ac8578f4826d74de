"""Write segeval's sample data: abdominal-style label phantoms and flawed predictions.

Run from anywhere (``python sample_data/make_sample_data.py``); the files are
written beside this script. The output is deterministic: every random draw
comes from a seeded generator, and ``.nii.gz`` files carry no timestamp.

Each ground truth holds four organs inside a body outline (the body itself
is background 0): 1 liver, 2 spleen, 3 kidney_left, 4 kidney_right, as
ellipsoids whose surfaces are bent by smooth noise. Geometry is RAS+ with
identity direction, so voxel x runs towards the patient's right (the
liver's side) and y towards anterior (kidneys sit at low y). Each
prediction is its ground truth with the kind of errors models make; see
``CASES`` and ``README.md``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import ndimage

from segeval.io import write_volume

HERE = Path(__file__).resolve().parent
SPACING_MM = (0.8, 0.8, 2.5)
ORIGIN_MM = (-51.2, -51.2, -80.0)  # the volume centred in x and y
LABELS = {"background": 0, "liver": 1, "spleen": 2, "kidney_left": 3, "kidney_right": 4}

# Organ centre and semi-axes as fractions of the volume's shape, so that the
# smaller NumPy case has the same anatomy.
ORGANS = {
    1: ((0.64, 0.56, 0.58), (0.26, 0.21, 0.32)),  # liver: patient's right, large
    2: ((0.28, 0.50, 0.62), (0.10, 0.13, 0.20)),  # spleen: patient's left
    3: ((0.32, 0.30, 0.42), (0.07, 0.09, 0.20)),  # kidney_left: left, posterior
    4: ((0.68, 0.30, 0.36), (0.07, 0.09, 0.20)),  # kidney_right: right, posterior, lower
}

Error = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def phantom(shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """A ground-truth label map: four organs, each cut to the body outline."""
    x, y, z = (np.arange(n, dtype=np.float32)[idx] for n, idx in zip(shape, _AXES))
    body = ((x / shape[0] - 0.5) / 0.46) ** 2 + ((y / shape[1] - 0.5) / 0.36) ** 2 <= 1.0
    labels = np.zeros(shape, np.uint8)
    for label, (centre, radii) in ORGANS.items():
        c = [(f + rng.uniform(-0.02, 0.02)) * n for f, n in zip(centre, shape)]
        r = [f * rng.uniform(0.9, 1.1) * n for f, n in zip(radii, shape)]
        # Smooth noise bends the ellipsoid into a blob, like real organ surfaces.
        bend = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma=4.0)
        bend *= 0.5 / max(float(np.abs(bend).max()), 1e-6)
        inside = ((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + (
            (z - c[2]) / r[2]
        ) ** 2 + bend <= 1.0
        labels[inside & body] = label
    return labels


_AXES = (np.s_[:, None, None], np.s_[None, :, None], np.s_[None, None, :])


# --------------------------------------------------------------------------- prediction errors


def shift_boundary(label: int, axis: int, voxels: int = 1) -> Error:
    """The organ's whole mask shifted by ``voxels`` along ``axis``: a boundary off by a voxel."""

    def apply(pred: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        mask = pred == label
        moved = ndimage.shift(
            mask.astype(np.uint8), [voxels if a == axis else 0 for a in range(3)], order=0
        )
        pred = pred.copy()
        pred[mask] = 0
        pred[(moved > 0) & (pred == 0)] = label  # other organs keep their voxels
        return pred

    return apply


def undersegment(label: int, iterations: int = 2) -> Error:
    """The organ eroded: its border voxels predicted as background."""

    def apply(pred: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        mask = pred == label
        pred = pred.copy()
        pred[mask & ~ndimage.binary_erosion(mask, iterations=iterations)] = 0
        return pred

    return apply


def oversegment(label: int) -> Error:
    """The organ dilated by one voxel into the background."""

    def apply(pred: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        grown = ndimage.binary_dilation(pred == label) & (pred == 0)
        pred = pred.copy()
        pred[grown] = label
        return pred

    return apply


def cut_slices(label: int, fraction: float) -> Error:
    """The top ``fraction`` of the organ's slices missed (a partial detection)."""

    def apply(pred: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        slices = np.flatnonzero((pred == label).any(axis=(0, 1)))
        top = slices[-max(1, int(len(slices) * fraction)) :]
        pred = pred.copy()
        region = pred[:, :, top]  # a copy (fancy index): write it back
        pred[:, :, top] = np.where(region == label, 0, region)
        return pred

    return apply


def false_positive_island(label: int, size: tuple[int, int, int] = (3, 3, 2)) -> Error:
    """A small blob of ``label`` inside another organ, more than 12 voxels from its own."""

    def apply(pred: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        far = ndimage.distance_transform_edt(pred != label) > 12
        room = tuple(slice(0, n - s) for n, s in zip(pred.shape, size))
        candidates = np.argwhere(far[room] & (pred[room] > 0))
        corner = candidates[rng.integers(len(candidates))]
        pred = pred.copy()
        pred[tuple(slice(int(c), int(c) + s) for c, s in zip(corner, size))] = label
        return pred

    return apply


def miss(label: int) -> Error:
    """The organ not predicted at all."""

    def apply(pred: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        pred = pred.copy()
        pred[pred == label] = 0
        return pred

    return apply


# case id -> (folder, suffix, shape, seed, errors and what they are, for the README)
CASES: dict[str, tuple[str, str, tuple[int, int, int], int, list[Error]]] = {
    "case_001": (
        "",
        ".nii.gz",
        (128, 128, 64),
        1,
        [shift_boundary(1, axis=0), undersegment(2), false_positive_island(3)],
    ),
    "case_002": (
        "",
        ".nii.gz",
        (128, 128, 64),
        2,
        [miss(4), cut_slices(1, 0.25), shift_boundary(2, axis=1)],
    ),
    "case_003": (
        "",
        ".nii.gz",
        (128, 128, 64),
        3,
        [oversegment(1), false_positive_island(4), shift_boundary(3, axis=2)],
    ),
    "case_004": (
        "nrrd",
        ".nrrd",
        (128, 128, 64),
        4,
        [shift_boundary(4, axis=0, voxels=-1), undersegment(1, iterations=1)],
    ),
    "case_005": (
        "npy",
        ".npy",
        (96, 96, 48),
        5,
        [undersegment(3), false_positive_island(2, size=(2, 2, 2))],
    ),
}


def dataset_json() -> dict[str, object]:
    """nnU-Net v2's dataset.json for the NIfTI cases."""
    return {
        "name": "segeval_sample_abdomen",
        "description": "Synthetic abdominal label phantoms and flawed predictions, to try segeval.",
        "channel_names": {"0": "CT"},
        "labels": LABELS,
        "numTraining": 0,
        "numTest": 3,
        "file_ending": ".nii.gz",
        "licence": "CC0-1.0",
        "reference": "sample_data/make_sample_data.py in the segeval repository",
    }


def main() -> None:
    for case, (folder, suffix, shape, seed, errors) in CASES.items():
        rng = np.random.default_rng(seed)
        gt = phantom(shape, rng)
        pred = gt
        for error in errors:
            pred = error(pred, rng)
        for kind, labels in (("gt", gt), ("pred", pred)):
            # nnU-Net's layout for the NIfTI cases: gt/ and pred/ side by side;
            # the other formats get a folder each with the same two subfolders.
            out = HERE / folder / kind if folder else HERE / kind
            out.mkdir(parents=True, exist_ok=True)
            write_volume(out / f"{case}{suffix}", labels, spacing_mm=SPACING_MM, origin=ORIGIN_MM)
        present = {int(v): int(n) for v, n in zip(*np.unique(gt, return_counts=True))}
        print(f"{case}{suffix}: shape {shape}, gt voxels per label {present}")
    (HERE / "gt" / "dataset.json").write_text(json.dumps(dataset_json(), indent=2) + "\n")


if __name__ == "__main__":
    main()
