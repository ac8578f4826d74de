"""``segeval rank --html``: one offline page with the ranking, its blob plot and per-case plots.

The page shows what challengeR's report shows for one task: the ranking
table with every setting that made it; the rank-frequency ("blob") plot of
the bootstrap (a circle per submission and rank, its area the share of
samples in which the submission took that rank, the median rank marked
with a cross and the 95% rank interval as a line); Kendall's tau between
the bootstrap rankings and the full one, as a histogram; and per metric a
dot-and-box plot of every submission's per-case values (the values ranked,
after the missing rule; hover a point for its case id). Figures are inline
SVG from :mod:`segeval.report._plots`' helpers; the page names no external
resource. matplotlib and Jinja2 come from ``segeval[report]``.
"""

from __future__ import annotations

import html
import os
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np

from segeval._version import __version__
from segeval.metrics.registry import METRICS
from segeval.ranking.writers import setting_text
from segeval.report import _plots
from segeval.report.numbers import fmt_number

if TYPE_CHECKING:  # pragma: no cover
    from segeval.ranking.run import Ranking

__all__ = ["blob_plot_svg", "rank_html", "tau_histogram_svg", "write_rank_html"]

_BLOB = "#0072B2"  # Okabe-Ito blue
_MEDIAN = "#D55E00"  # vermillion


def blob_plot_svg(names: list[str], frequencies: np.ndarray, median: np.ndarray, low: np.ndarray,
                  high: np.ndarray, full: np.ndarray) -> str:
    """The rank-frequency plot: submissions left to right (best first), ranks 1 to S downwards.

    Parameters
    ----------
    names : list of str
        Submissions in the order drawn.
    frequencies : ndarray, shape (S, S), int
        ``frequencies[s, r - 1]``: bootstrap samples in which submission s took rank r.
    median, low, high : ndarray, shape (S,)
        Median bootstrap rank and the 95% rank interval.
    full : ndarray, shape (S,)
        The full-data rank, marked with a small black dot.

    Returns
    -------
    str
        An ``<svg>``; each circle's ``<title>`` says the submission, the rank and its share.
    """
    n = len(names)
    width = min(3.0 + 0.55 * n, 14.0)
    height = min(2.2 + 0.32 * n, 12.0)
    fig = _plots._figure(width, height)
    ax = fig.add_axes((1.0 / width, 1.4 / height, 1.0 - 1.4 / width, 1.0 - 1.7 / height))
    total = max(1, int(frequencies[0].sum()) if frequencies.size else 1)
    xs, ys, shares = [], [], []
    for s in range(n):
        for r in range(frequencies.shape[1]):
            if frequencies[s, r]:
                xs.append(s + 1)
                ys.append(r + 1)
                shares.append(frequencies[s, r] / total)
    ax.vlines(np.arange(1, n + 1), low, high, color="#555555", linewidth=1.2, zorder=1)
    ax.scatter(xs, ys, s=np.array(shares) * 300.0 + 2.0, color=_BLOB, alpha=0.55, linewidths=0, zorder=2)
    ax.scatter(np.arange(1, n + 1), median, marker="x", color=_MEDIAN, s=30, zorder=3, label="median rank")
    ax.scatter(np.arange(1, n + 1), full, marker=".", color="#000000", s=12, zorder=4, label="full-data rank")
    ax.set_xlim(0.4, n + 0.6)
    ax.set_ylim(n + 0.6, 0.4)
    ax.set_xticks(range(1, n + 1), names, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(1, n + 1) if n <= 30 else range(1, n + 1, max(1, n // 15)))
    ax.set_ylabel("rank")
    ax.grid(color="#EEEEEE", linewidth=0.6)
    ax.legend(loc="lower left", fontsize=7, frameon=False)
    svg = _plots._svg(fig)
    pts = _plots._to_svg_coords(fig, ax, np.column_stack([xs, ys])) if xs else np.empty((0, 2))
    items = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5"><title>{html.escape(names[int(sx) - 1])}: rank {int(ry)} in '
        f"{share:.1%} of samples</title></circle>"
        for (x, y), sx, ry, share in zip(pts, xs, ys, shares))
    return svg.replace("</svg>", f'<g class="pts" fill="#000" fill-opacity="0">{items}</g></svg>')


def tau_histogram_svg(tau: np.ndarray) -> str:
    """A histogram of Kendall's tau between the bootstrap rankings and the full ranking (NaN left out)."""
    fig = _plots._figure(5.0, 2.6)
    ax = fig.add_axes((0.14, 0.22, 0.82, 0.7))
    valid = tau[~np.isnan(tau)]
    if valid.size:
        ax.hist(valid, bins=np.linspace(min(-0.0, float(valid.min())), 1.0, 41), color=_BLOB, alpha=0.8)
    ax.set_xlabel("Kendall's tau (bootstrap vs full ranking)")
    ax.set_ylabel("samples")
    ax.grid(axis="y", color="#EEEEEE", linewidth=0.6)
    return _plots._svg(fig)


def _cell(value: Any, key: str) -> str:
    if isinstance(value, float):
        return fmt_number(value, 2 if "rank" in key else 4, nan="n/a")
    return str(value)


def rank_html(ranking: Ranking) -> str:
    """The ranking's page: self-contained, offline, printable.

    Raises
    ------
    MissingDependencyError
        matplotlib or Jinja2 is not installed (``pip install 'segeval[report]'``).
    """
    jinja2 = _plots.require("jinja2")
    _plots.require("matplotlib")
    order = ranking.order()
    rows = ranking.rows()
    header = list(rows[0]) if rows else []
    table = [[_cell(row[k], k) for k in header] for row in rows]
    names = [ranking.names[s] for s in order]
    blob = tau = None
    st = ranking.stability
    if st is not None:
        blob = blob_plot_svg(names, st.frequencies[order], st.median[order], st.low[order], st.high[order],
                             ranking.ranks[order])
        tau = tau_histogram_svg(st.tau)
    per_metric = []
    for m, choice in enumerate(ranking.table.metrics):
        values = ranking.table.values[m]
        groups = [(ranking.names[s], list(zip(ranking.table.cases, values[s].tolist()))) for s in order]
        spec = METRICS.get(choice.metric)
        per_metric.append({
            "key": choice.key, "direction": f"{choice.direction} is better",
            "worst": fmt_number(ranking.settings["worst_values"][choice.key], 4, significant=True),
            "unit": choice.unit, "description": spec.description if spec is not None else "",
            "svg": _plots.box_plot_svg(groups, metric=choice.key, unit=choice.unit),
        })
    settings = [(k, setting_text(v)) for k, v in ranking.settings.items() if v is not None]
    template = resources.files("segeval.report").joinpath("templates/rank.html.j2").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    page: str = env.from_string(template).render(
        title="segeval rank: " + ", ".join(names[:3]) + (" ..." if len(names) > 3 else ""),
        version=__version__, header=header, table=table, settings=settings, notes=ranking.notes,
        blob=blob, tau=tau, tau_summary=st.tau_summary() if st is not None else None, metrics=per_metric,
        n_cases=len(ranking.table.cases), n_subs=len(names), dropped=ranking.table.dropped,
        scheme=ranking.settings["scheme"], fmt=lambda v: fmt_number(v, 3, nan="n/a"))
    return page


def write_rank_html(path: str | os.PathLike[str], ranking: Ranking, *, option: str = "--html") -> None:
    """Write :func:`rank_html` to ``path`` whole or not at all.

    Raises
    ------
    OutputError
        ``path`` cannot be written (naming ``option``).
    """
    from segeval.report.writers import write_atomic

    write_atomic(os.fspath(path), rank_html(ranking), option=option)
