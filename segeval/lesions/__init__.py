"""Lesion-wise (instance) metrics: the BraTS 2023/2024, panoptica and panoptic-quality protocols, exactly.

``segeval.lesions.lesion_metrics(pred, gt, protocol="brats2023")`` scores
label arrays; ``segeval.score(..., lesions="brats2023")`` and
``segeval score/batch --lesions PROTOCOL`` add the same keys
(:data:`LESION_METRICS`) to every scored class. Components come from
``connected-components-3d`` (``pip install 'segeval[lesions]'``).

Modules: :mod:`~segeval.lesions.protocols` (names, parameters),
:mod:`~segeval.lesions.components` (components, dilation merging),
:mod:`~segeval.lesions.brats2024` (BraTS 2024's joining of lesions across touching sub-regions),
:mod:`~segeval.lesions.matching` (the two matching rules, per-lesion scores),
:mod:`~segeval.lesions.aggregate` (per-case numbers),
:mod:`~segeval.lesions.outputs` (records and lesion maps).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from segeval.errors import InputError
from segeval.lesions.aggregate import ClassLesions, case_values, class_masks, score_class
from segeval.lesions.brats2024 import CaseTissues
from segeval.lesions.protocols import LESION_METRICS, PROTOCOLS, LesionSettings, parse_lesions

__all__ = ["LESION_METRICS", "PROTOCOLS", "ClassLesions", "LesionSettings", "case_values", "lesion_metrics",
           "parse_lesions", "score_class"]


def lesion_metrics(
    pred: Any,
    gt: Any,
    *,
    protocol: str = "brats2023",
    classes: Mapping[str, Sequence[int]] | Sequence[int] | None = None,
    spacing_mm: Sequence[float] | None = None,
    connectivity: int = 26,
    dilation: int | None = None,
    min_volume_mm3: float | None = None,
    penalty_mm: float | None = None,
    iou_threshold: float | None = None,
    empty: str = "nan",
) -> dict[Any, dict[str, float]]:
    """Lesion-wise numbers of every class of a label-map pair, by a named protocol.

    Parameters
    ----------
    pred, gt : array of int or bool, same shape (2-D or 3-D)
        Label maps (NumPy, or anything ``np.asarray`` takes).
    protocol : str
        One of :data:`PROTOCOLS`: ``brats2023``, ``brats2023-men``,
        ``brats2023-met``, ``brats2024``, ``panoptica``, ``iou``.
    classes : mapping of name to labels, or sequence of int, optional
        What is scored: ``{"WT": [1, 2, 3], "TC": [1, 3], "ET": [3]}`` (BraTS's
        regions), or label numbers; default every label > 0 in either map.
    spacing_mm : sequence of float, optional
        Voxel size per axis; default 1 mm (BraTS's grid).
    connectivity, dilation, min_volume_mm3, penalty_mm, iou_threshold
        Overrides of the protocol's parameters (see :class:`LesionSettings`).
    empty : {"nan", "one", "zero"}
        Value of the panoptica/iou scores when neither map has a lesion of the class.

    Returns
    -------
    dict
        Class key (name or label) -> ``{lesion_dice, lesion_hd95, lesion_tp, ...}``.

    Notes
    -----
    The formulas of every key, per protocol, are in
    :func:`segeval.lesions.aggregate.case_values`; each protocol's rules in
    :mod:`segeval.lesions.protocols`. Object recall is found GT lesions / GT
    lesions and object precision matched predicted components / predicted
    components (MedPy's ``obj_tpr`` is the latter and ``obj_fpr`` one minus the
    former: the names are swapped there).

    References
    ----------
    .. [1] BraTS 2023 lesion-wise metrics, github.com/rachitsaluja/BraTS-2023-Metrics (``metrics.py``).
    .. [2] BraTS 2024 metrics, github.com/rachitsaluja/BraTS-2024-Metrics (``metrics_GLI.py``).
    .. [3] F. Kofler et al., "Panoptica -- instance-wise evaluation of 3D semantic and instance
       segmentation maps", arXiv:2312.02608, 2023.
    .. [4] A. Kirillov et al., "Panoptic segmentation", CVPR 2019 (PQ = SQ x RQ).

    Examples
    --------
    >>> gt = np.zeros((20, 20, 20), np.uint8); gt[2:6, 2:6, 2:6] = 1
    >>> pred = gt.copy(); pred[15:18, 15:18, 15:18] = 1   # a far false positive
    >>> r = lesion_metrics(pred, gt, protocol="panoptica")[1]
    >>> r["lesion_dice"], r["lesion_fp"], round(r["lesion_f1"], 4)
    (1.0, 1.0, 0.6667)
    """
    settings = LesionSettings(protocol, connectivity=connectivity, dilation=dilation, min_volume_mm3=min_volume_mm3,
                              penalty_mm=penalty_mm, iou_threshold=iou_threshold)
    p, g = np.asarray(pred), np.asarray(gt)
    if p.shape != g.shape:
        raise InputError(f"pred and gt shapes differ: pred {p.shape} vs gt {g.shape}")
    spacing = tuple(float(s) for s in spacing_mm) if spacing_mm is not None else (1.0,) * g.ndim
    if classes is None:
        values = np.union1d(np.unique(p), np.unique(g))
        chosen: dict[Any, tuple[int, ...]] = {int(v): (int(v),) for v in values if v > 0}
    elif isinstance(classes, Mapping):
        chosen = {k: tuple(int(m) for m in v) for k, v in classes.items()}
    else:
        chosen = {int(v): (int(v),) for v in classes}
    out = {}
    tissues = CaseTissues(p, g, settings, spacing)  # brats2024's sub-region lesions, shared by the classes
    for (key, members), (pm, gm, box) in zip(chosen.items(), class_masks(p, g, list(chosen.values()), settings)):
        res = score_class(pm, gm, settings, members=members, spacing_mm=spacing, empty=empty, box=box,
                          shape=g.shape, tissues=tissues)
        out[key] = res.values
    return out
