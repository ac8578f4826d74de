"""segeval against the official code's numbers, stored by a development run of ``benchmarks/compare_lesions.py``.

``tests/golden/lesions/reference.json`` holds, for every case of
``tests/lesions/cases.py`` (hand vectors and seeded metastasis-like cases with
tens of lesions), what BraTS-2023-Metrics (GLI, MEN, MET), BraTS-2024-Metrics
(GLI, every region it reports: WT, TC, NETC, SNFH, ET, RC) and panoptica
(MaxBipartiteMatching on Dice) gave; for the cases of ``relabel_vectors``
(labels 1-4, lesions joined across touching sub-regions), BraTS 2024's only.
The peers are not needed here: only their stored numbers.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from segeval.lesions import lesion_metrics
from tests.lesions.cases import (
    BRATS2024_REGIONS,
    BRATS_REGIONS,
    METASTASIS_SEEDS,
    hand_vectors,
    metastasis_case,
    relabel_vectors,
)

pytest.importorskip("cc3d", reason="lesion metrics need connected-components-3d (segeval[lesions])")

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "lesions" / "reference.json"


@cache
def _reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return data


def _case(name: str, protocol: str) -> tuple[Any, Any, dict[str, tuple[int, ...]]]:
    """The case's arrays and the regions the peer was run on (BraTS 2024's code: all it reports)."""
    if name.startswith("metastasis_"):
        pred, gt = metastasis_case(int(name.split("_")[1]))
        classes = dict(BRATS_REGIONS)
    elif name in RELABEL:
        pred, gt = relabel_vectors()[name]
        classes = {}
    else:
        pred, gt = hand_vectors()[name]
        classes = {"WT": (1, 2, 3)}
    return pred, gt, dict(BRATS2024_REGIONS) if protocol == "brats2024" else classes


RELABEL = tuple(relabel_vectors())
NAMES = [*hand_vectors(), *(f"metastasis_{s}" for s in METASTASIS_SEEDS), *RELABEL]
PROTOCOLS = ("brats2023", "brats2023-men", "brats2023-met", "brats2024", "panoptica")


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("name", NAMES)
def test_same_numbers_as_the_official_code(name: str, protocol: str) -> None:
    want = _reference()[name].get(protocol)
    if want is None and name in RELABEL:
        pytest.skip(f"{name} is a BraTS 2024 relabelling case: only BraTS 2024's code was run on it")
    if want is None:
        pytest.skip(f"{protocol} not in the reference run for {name}")
    pred, gt, classes = _case(name, protocol)
    got = lesion_metrics(pred, gt, protocol=protocol, classes=classes)
    for cls, values in want.items():
        for key, value in values.items():
            mine = got[cls][key]
            if protocol == "panoptica" and key == "lesion_hd95" and value is None:
                value = math.inf  # panoptica has no HD95 without a matched pair; segeval says inf
            value = math.nan if value is None else value
            assert mine == pytest.approx(value, rel=1e-9, abs=1e-9, nan_ok=True), (cls, key)


@pytest.mark.parametrize("name", NAMES)
def test_brats2024_reference_covers_every_region(name: str) -> None:
    """Every case BraTS 2024's code scored is compared on all six regions it reports."""
    want = _reference()[name].get("brats2024")
    if want is None:
        pytest.skip(f"BraTS 2024's code was not run on {name} (its run is slow on many lesions)")
    assert set(want) == set(BRATS2024_REGIONS)
    assert all(set(v) == {"lesion_dice", "lesion_hd95", "lesion_tp", "lesion_fp", "lesion_fn"} for v in want.values())


def test_the_reference_holds_multi_lesion_cases() -> None:
    """The realistic cases are what they claim: tens of GT lesions of mixed size, errors of every kind."""
    ref = _reference()
    for seed in METASTASIS_SEEDS:
        wt = ref[f"metastasis_{seed}"]["panoptica"]["WT"]
        assert wt["lesion_tp"] + wt["lesion_fn"] >= 10
        assert wt["lesion_fp"] >= 1 and wt["lesion_fn"] >= 1
