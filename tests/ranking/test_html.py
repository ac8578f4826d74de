"""The ranking's HTML page: the blob plot's circles, Kendall's tau, per-case plots, no external resource."""

from __future__ import annotations

import re

import numpy as np
import pytest

import segeval
from tests.ranking.test_stability import spread_reports

pytest.importorskip("matplotlib")
pytest.importorskip("jinja2")


def test_blob_plot_has_one_titled_circle_per_rank_taken() -> None:
    from segeval.report.rank_html import blob_plot_svg

    freq = np.array([[8, 2, 0], [2, 6, 2], [0, 2, 8]])
    svg = blob_plot_svg(["a", "b", "c"], freq, np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 2.0]),
                        np.array([2.0, 3.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    titles = re.findall(r"<title>([^<]*)</title>", svg)
    assert len(titles) == 7  # the non-zero frequencies
    assert "a: rank 1 in 80.0% of samples" in titles and "b: rank 3 in 20.0% of samples" in titles
    assert svg.startswith("<svg") and "http" not in svg


def test_page_shows_the_ranking_settings_and_plots() -> None:
    from segeval.report.rank_html import rank_html

    ranking = segeval.rank(spread_reports(), metrics=["dice"], bootstrap=50, seed=2)
    page = rank_html(ranking)
    assert not re.search(r"https?://", page)
    assert page.count("<svg") == 3
    assert "<th class=\"l\">seed</th><td class=\"l\">2</td>" in page
    for name in ranking.names:
        assert f"<td class=\"l\">{name}</td>" in page
    none = rank_html(segeval.rank(spread_reports(), bootstrap=0))
    assert none.count("<svg") == 1 and "Stability" not in none
