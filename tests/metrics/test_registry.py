"""The metric registry: every overlap metric has properties and formulas; --metrics parsing."""

from __future__ import annotations

import numpy as np
import pytest

from segeval.errors import SegevalError, UnknownMetricError
from segeval.metrics.overlap import FORMULAS, OVERLAP_METRICS, overlap_from_counts
from segeval.metrics.registry import COUNT_COLUMNS, KINDS, METRICS, OVERLAP_DEFAULT, parse_metrics
from segeval.metrics.surface import REDUCTIONS, SURFACE_METRICS
from tests.metrics import test_overlap

OVERLAP = [name for name, spec in METRICS.items() if spec.kind == "overlap"]


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in OVERLAP])
def test_every_overlap_metric_has_properties(name: str) -> None:
    """A new overlap metric fails here until tests/metrics/test_overlap.py covers it."""
    assert name in test_overlap.BOUNDED, f"{name}: add it to BOUNDED"
    assert name in test_overlap.RELABEL_INVARIANT, f"{name}: add it to RELABEL_INVARIANT"
    assert name in test_overlap.IDENTITIES, f"{name}: add an identity check to IDENTITIES"
    assert name in test_overlap.SWAP_PARTNER, f"{name}: say in SWAP_PARTNER what swapping pred and gt does"


def test_property_lists_name_only_registered_overlap_metrics() -> None:
    listed = {*test_overlap.BOUNDED, *test_overlap.RELABEL_INVARIANT, *test_overlap.IDENTITIES,
              *test_overlap.SWAP_PARTNER, *test_overlap.SYMMETRIC}
    listed |= {p for p in test_overlap.SWAP_PARTNER.values() if p is not None}
    assert listed <= set(OVERLAP)


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in OVERLAP])
def test_every_overlap_metric_is_computed_from_counts(name: str) -> None:
    out = overlap_from_counts(np.array([3]), np.array([1]), np.array([2]), np.array([4]), metrics=[name])
    assert set(out) == {name} and 0.0 <= float(out[name][0]) <= 1.0


def test_registry_tables_agree() -> None:
    assert tuple(OVERLAP) == OVERLAP_DEFAULT == OVERLAP_METRICS == tuple(FORMULAS)
    assert tuple(n for n, s in METRICS.items() if s.kind == "surface") == SURFACE_METRICS == tuple(REDUCTIONS)
    assert all(c in METRICS for c in COUNT_COLUMNS)
    for spec in METRICS.values():
        assert spec.kind in KINDS
        assert spec.description and "\n" not in spec.description
        if spec.kind in ("count", "volume"):
            assert spec.higher_is_better is None
        else:
            assert isinstance(spec.higher_is_better, bool)


COMPUTED = [name for name, spec in METRICS.items() if spec.kind not in ("count", "volume")]


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in COMPUTED])
def test_every_metric_leads_to_its_formula_and_documentation_in_one_hop(name: str) -> None:
    """From a name: the formula the scoring uses, and a public function documenting it."""
    spec = METRICS[name]
    table = {"overlap": FORMULAS, "surface": REDUCTIONS}.get(spec.kind)
    assert spec.reduce is not None and (table is None or spec.reduce is table[name])
    doc = spec.function.__doc__ if spec.function is not None else ""
    assert doc and all(section in doc for section in ("Notes", "References", "Examples")), name
    assert spec.short and len(spec.short) <= 8


@pytest.mark.parametrize(
    "names, expected",
    [
        pytest.param(None, OVERLAP_DEFAULT, id="default-overlap-set"),
        pytest.param("iou,dice", ("dice", "iou"), id="registry-order"),
        pytest.param(" Dice , HD95 ", ("dice", "hd95"), id="case-and-spaces"),
        pytest.param(["nsd", "dice", "dice"], ("dice", "nsd"), id="list-deduplicated"),
        pytest.param("dice,tp,vol_gt_ml", ("dice",), id="counts-always-reported"),
        pytest.param("surface", tuple(n for n, s in METRICS.items() if s.kind == "surface"), id="surface"),
        pytest.param("all", tuple(n for n, s in METRICS.items() if s.kind in ("overlap", "surface")), id="all"),
    ],
)
def test_parse_metrics(names: object, expected: tuple) -> None:
    assert parse_metrics(names) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "names, match",
    [
        pytest.param("dice,hausdorf", "unknown metric 'hausdorf'.* Known: dice", id="typo"),
        pytest.param("jaccard", "unknown metric 'jaccard'; did you mean 'iou'", id="alias"),
        pytest.param("dcie", "unknown metric 'dcie'; did you mean 'dice'", id="did-you-mean"),
        pytest.param("", "no metric given", id="empty"),
        pytest.param(",", "no metric given", id="only-commas"),
        pytest.param("tp", r"^--metrics: tp is in every report already .*name a metric too, e\.g\. dice$",
                     id="a-count"),
        pytest.param("tp,fn", "tp, fn are in every report already", id="counts"),
    ],
)
def test_bad_metrics(names: str, match: str) -> None:
    with pytest.raises(UnknownMetricError, match=match) as info:
        parse_metrics(names)
    assert isinstance(info.value, SegevalError) and "\n" not in str(info.value)
    assert str(info.value).startswith("--metrics")
