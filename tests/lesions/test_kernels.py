"""The lesion kernels: compiled and NumPy paths agree, and no memory layout changes an id or a number."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("cc3d", reason="lesion-wise metrics need connected-components-3d (segeval[lesions])")

from segeval.lesions import LesionSettings, lesion_metrics
from segeval.lesions import _kernels as K
from segeval.lesions.aggregate import class_masks, score_class
from segeval.lesions.components import label_components, merge_by_dilation
from segeval.metrics import _numba
from tests.lesions.cases import BRATS_REGIONS, metastasis_case

needs_numba = pytest.mark.skipif(not _numba.HAVE_NUMBA, reason="numba is not installed or is turned off")


def _random_labels(seed: int, shape: tuple[int, ...], density: float = 0.08) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.zeros(shape, np.uint8)
    fg = rng.random(shape) < density
    out[fg] = rng.integers(1, 4, size=int(fg.sum()))
    return out


def _as_tuples(boxes: list) -> list:
    return [None if b is None else tuple((s.start, s.stop) for s in b) for b in boxes]


@needs_numba
@pytest.mark.parametrize("shape", [(9, 11, 13), (17, 19), (1, 7, 5)])
@pytest.mark.parametrize("layout", ["C", "F"])
def test_compiled_and_numpy_paths_agree(shape: tuple[int, ...], layout: str) -> None:
    g = np.asarray(_random_labels(1, shape), order=layout)
    p = np.asarray(_random_labels(2, shape), order=layout)
    classes = [(1, 2, 3), (1, 3), (3,), (7,)]
    results = {}
    for jit in (True, False):
        with _numba.forced(jit):
            boxes = K.class_boxes(p, g, classes)
            box = boxes[0]
            assert box is not None
            mp, mg = K.masks_in_box(p, g, (1, 3), box)
            comps = label_components(mg, 26)
            pcomps = label_components(mp, 26)
            pairs = K.overlap_pairs(comps.labels, pcomps.labels, pcomps.n, comps.boxes, mg.size)
            merged = merge_by_dilation(comps, 1)
            results[jit] = (_as_tuples(boxes), mp.tobytes(), mg.tobytes(), comps.labels.tobytes(),
                            comps.sizes.tolist(), _as_tuples(comps.boxes), [a.tolist() for a in pairs],
                            merged.labels.tobytes(), merged.sizes.tolist(), _as_tuples(merged.boxes))
    assert results[True] == results[False]
    assert results[True][0][3] is None  # label 7 is nowhere


def test_class_boxes_by_hand() -> None:
    g = np.zeros((6, 7, 8), np.uint8)
    p = np.zeros_like(g)
    g[1, 2, 3] = 3
    p[4, 5, 6] = 1
    p[2, 0, 7] = 2
    boxes = _as_tuples(K.class_boxes(p, g, [(1, 2, 3), (3,), (1,), (4,)]))
    assert boxes == [((1, 5), (0, 6), (3, 8)), ((1, 2), (2, 3), (3, 4)), ((4, 5), (5, 6), (6, 7)), None]


@pytest.mark.parametrize("jit", [True, False] if _numba.HAVE_NUMBA else [False])
def test_ids_follow_c_order_whatever_the_layout(jit: bool) -> None:
    m = np.zeros((6, 6, 6), bool)
    m[5, 0, 0] = True  # first in Fortran order (x fastest), last in C order
    m[0, 0, 5] = True
    m[0, 5, 0] = True
    with _numba.forced(jit):
        for layout in ("C", "F"):
            comps = label_components(np.asarray(m, order=layout), 6)
            assert comps.labels[0, 0, 5] == 1 and comps.labels[0, 5, 0] == 2 and comps.labels[5, 0, 0] == 3
            assert comps.sizes.tolist() == [213, 1, 1, 1]
            assert _as_tuples(comps.boxes) == [((0, 1), (0, 1), (5, 6)), ((0, 1), (5, 6), (0, 1)),
                                               ((5, 6), (0, 1), (0, 1))]


@pytest.mark.parametrize("protocol", ["brats2023", "brats2024", "panoptica", "iou"])
def test_layout_and_path_change_no_number(protocol: str) -> None:
    pred, gt = metastasis_case(3, shape=(48, 40, 32), n=12)
    want = lesion_metrics(pred, gt, protocol=protocol, classes=BRATS_REGIONS)
    got_f = lesion_metrics(np.asfortranarray(pred), np.asfortranarray(gt), protocol=protocol, classes=BRATS_REGIONS)
    assert got_f == want
    settings = LesionSettings(protocol)
    for (name, members), (pm, gm, box) in zip(BRATS_REGIONS.items(), class_masks(pred, gt, list(BRATS_REGIONS.values()),
                                                                                    settings)):
        # the whole-volume masks cropped by score_class itself give the same numbers and the same box
        whole = score_class(np.isin(pred, members), np.isin(gt, members), settings, members=members)
        cut = score_class(pm, gm, settings, members=members, box=box, shape=gt.shape)
        assert cut.values == whole.values
        assert cut.box == whole.box
        if protocol != "brats2024":  # brats2024's single labels also need the label maps; its regions do not
            assert cut.values == want[name]
