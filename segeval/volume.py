"""A label volume with its voxel geometry, and the geometry check between two."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class LabelVolume:
    """A label (or soft) array plus the geometry needed to measure it in mm.

    Attributes
    ----------
    labels : ndarray
        The voxel array, in NIfTI voxel order (x, y, z), in its stored dtype
        (never widened on read).
    spacing_mm : tuple of float
        Voxel size per array axis, in mm.
    origin : tuple of float
        World position of voxel (0, 0, 0), in mm (LPS for ITK files, RAS for NIfTI
        as stored in the header; only compared between files of one case).
    direction : tuple of float
        Row-major ``ndim x ndim`` direction cosines.
    path : str or None
        Where the volume was read from, for messages.
    spacing_given : bool
        False when the file carried no spacing (``.npy``) and 1 mm was assumed.
    meta : dict
        Reader-specific extras (e.g. ``axcodes`` for orientation, the on-disk dtype).
    """

    labels: Any
    spacing_mm: tuple[float, ...]
    origin: tuple[float, ...] = ()
    direction: tuple[float, ...] = ()
    path: str | None = None
    spacing_given: bool = True
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        """Array shape."""
        return tuple(int(s) for s in self.labels.shape)

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in millilitres (1 ml = 1000 mm^3)."""
        return float(np.prod(self.spacing_mm)) / 1000.0
