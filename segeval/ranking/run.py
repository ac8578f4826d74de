"""``segeval.rank(reports, ...) -> Ranking``: a challenge ranking that says how it was made and how stable it is.

The steps, each defined once: :func:`segeval.ranking.table.value_table` turns
the reports into per-metric submissions x cases values (the missing rule);
:mod:`segeval.ranking.schemes` ranks each metric by the scheme; the final rank
is the mean of the per-metric ranks, ranked again (ties take the minimum
rank); :mod:`segeval.ranking.stability` re-ranks bootstrap resamples of the
cases. :class:`Ranking` records every choice (scheme, aggregate, tie rule,
missing rule and worst values, directions, bootstrap count and seed), so
that the same call on the same reports gives the same ranking.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from segeval._version import __version__
from segeval.errors import OptionError
from segeval.ranking import schemes
from segeval.ranking.stability import Stability, resample_counts, stability
from segeval.ranking.table import MetricChoice, ValueTable, parse_metric, value_table
from segeval.records import jsonable
from segeval.summary import Report

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["P_ADJUST", "RANKING_FORMAT", "Ranking", "rank", "rank_table"]

#: Version of the ranking's JSON shape.
RANKING_FORMAT = 1
P_ADJUST: tuple[str, ...] = ("holm", "none")
TIES = "min"
#: Bootstrap samples ranked at once (bounded memory for large challenges).
_BLOCK = 1000


@dataclass
class Ranking:
    """A ranking of submissions, its settings and its stability.

    Attributes
    ----------
    table : ValueTable
        The values ranked (submissions, metrics, cases, what the missing rule did).
    settings : dict
        scheme, aggregate, ties, missing, worst values, directions, alpha,
        p_adjust, bootstrap, seed: everything needed to make it again.
    scores : ndarray, shape (M, S)
        Per metric: the aggregate value (aggregate-then-rank, in the metric's
        units), the aggregated per-case rank (rank-then-aggregate) or the
        number of significant wins (test-then-rank).
    metric_ranks : ndarray, shape (M, S)
        Per metric, the rank (1 is best; ties take the minimum rank).
    mean_rank : ndarray, shape (S,)
        The mean of the per-metric ranks.
    ranks : ndarray, shape (S,)
        The final rank: ``mean_rank`` ranked, smallest first.
    stability : Stability or None
        The bootstrap's rank intervals, frequencies and Kendall's tau (None with ``bootstrap=0``).
    notes : list of str
        What the missing rule and the bootstrap did, in sentences.
    """

    table: ValueTable
    settings: dict[str, Any]
    scores: np.ndarray
    metric_ranks: np.ndarray
    mean_rank: np.ndarray
    ranks: np.ndarray
    stability: Stability | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """The submissions, in the order given."""
        return self.table.names

    def order(self) -> list[int]:
        """Submission indexes from first to last (rank, then mean rank, then name)."""
        return sorted(range(len(self.names)), key=lambda s: (self.ranks[s], self.mean_rank[s], self.names[s]))

    def score_column(self, m: int) -> str:
        """The name of metric ``m``'s score column: ``dice mean``, ``dice mean rank`` or ``dice wins``."""
        key = self.table.metrics[m].key
        scheme = self.settings["scheme"]
        if scheme == "aggregate-then-rank":
            return f"{key} {self.settings['aggregate']}"
        if scheme == "rank-then-aggregate":
            return f"{key} {self.settings['aggregate']} rank"
        return f"{key} wins"

    def rows(self) -> list[dict[str, Any]]:
        """One dict per submission, best first: :meth:`to_frame`'s rows."""
        out = []
        for s in self.order():
            row: dict[str, Any] = {"rank": int(self.ranks[s]), "submission": self.names[s]}
            if len(self.table.metrics) > 1:
                row["mean_rank"] = float(self.mean_rank[s])
            for m, choice in enumerate(self.table.metrics):
                score = float(self.scores[m, s])
                row[self.score_column(m)] = int(score) if self.settings["scheme"] == "test-then-rank" else score
                if len(self.table.metrics) > 1:
                    row[f"{choice.key} rank"] = int(self.metric_ranks[m, s])
            if self.stability is not None:
                row["median_rank"] = float(self.stability.median[s])
                row["rank_low"] = float(self.stability.low[s])
                row["rank_high"] = float(self.stability.high[s])
            row["n_missing"] = int(self.table.missing[:, s].max())
            out.append(row)
        return out

    def to_frame(self) -> pd.DataFrame:
        """pandas DataFrame, one row per submission, best first.

        Columns: ``rank``, ``submission``, ``mean_rank`` (several metrics),
        per metric its score (:meth:`score_column`) and ``<metric> rank`` (several metrics),
        ``median_rank``, ``rank_low``, ``rank_high`` (the bootstrap's 95%
        interval) and ``n_missing`` (cases filled or missing). The settings
        are in ``frame.attrs["settings"]``.
        """
        import pandas as pd

        frame = pd.DataFrame(self.rows())
        frame.attrs["settings"] = dict(self.settings)
        return frame

    def _repr_html_(self) -> str:
        """Jupyter's view: the scheme in a line, then the table, best first."""
        import html

        head = (f"<p><b>segeval ranking</b>: {len(self.names)} submissions, {len(self.table.cases)} cases, "
                f"{html.escape(self.settings['scheme'])}; ties min; missing {html.escape(self.settings['missing'])}"
                f"; bootstrap {self.settings['bootstrap']} (seed {self.settings['seed']})</p>")
        table: str = self.to_frame().to_html(index=False, float_format=lambda v: f"{v:.4g}")
        return head + table

    def to_dict(self) -> dict[str, Any]:
        """The ranking as strict JSON (NaN as null, inf as ``"inf"``): settings, submissions, stability."""
        subs = []
        for s in self.order():
            entry: dict[str, Any] = {
                "name": self.names[s], "rank": int(self.ranks[s]), "mean_rank": float(self.mean_rank[s]),
                "metrics": {c.key: {"score": float(self.scores[m, s]), "rank": int(self.metric_ranks[m, s]),
                                    "n_missing": int(self.table.missing[m, s]),
                                    "n_inf": int(self.table.n_inf[m, s])}
                            for m, c in enumerate(self.table.metrics)},
            }
            if self.stability is not None:
                st = self.stability
                entry["bootstrap"] = {"median_rank": float(st.median[s]), "rank_low": float(st.low[s]),
                                      "rank_high": float(st.high[s]),
                                      "rank_frequencies": [int(v) for v in st.frequencies[s]]}
            subs.append(entry)
        out: dict[str, Any] = {"segeval_version": __version__, "ranking_format": RANKING_FORMAT,
                               "settings": self.settings, "n_cases": len(self.table.cases),
                               "cases": list(self.table.cases), "dropped_cases": list(self.table.dropped),
                               "submissions": subs}
        if self.stability is not None:
            out["kendall_tau"] = self.stability.tau_summary()
        out["notes"] = list(self.notes)
        result: dict[str, Any] = jsonable(out)
        return result


def _metric_ranks(scores: np.ndarray, counts: np.ndarray | None, settings: Mapping[str, Any]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per metric, the scheme's score and rank: shape (M, B, S) each."""
    scheme = settings["scheme"]
    out_scores, out_ranks = [], []
    for m in range(scores.shape[0]):
        if scheme == "aggregate-then-rank":
            agg, rk = schemes.aggregate_then_rank(scores[m], counts, aggregate=settings["aggregate"])
        elif scheme == "rank-then-aggregate":
            agg, rk = schemes.rank_then_aggregate(scores[m], counts, aggregate=settings["aggregate"])
        else:
            agg, rk = schemes.test_then_rank(scores[m], counts, alpha=settings["alpha"],
                                             p_adjust=settings["p_adjust"])
        out_scores.append(agg)
        out_ranks.append(rk)
    return np.stack(out_scores), np.stack(out_ranks)


def _final(metric_ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the per-metric ranks (M, B, S) -> (mean, final min-rank), shape (B, S) each."""
    total = metric_ranks.sum(axis=0)  # integer ranks: exact, so equal means tie exactly
    return total / metric_ranks.shape[0], schemes.min_rank(-total, axis=1)


def _check_options(scheme: str, aggregate: str, alpha: float, p_adjust: str, bootstrap: int) -> None:
    if scheme not in schemes.SCHEMES:
        raise OptionError(f"--scheme: expected one of {', '.join(schemes.SCHEMES)}; got {scheme!r}")
    if aggregate not in schemes.AGGREGATES:
        raise OptionError(f"--aggregate: expected one of {', '.join(schemes.AGGREGATES)}; got {aggregate!r}")
    if not 0.0 < alpha < 1.0:
        raise OptionError(f"--alpha: expected a level between 0 and 1; got {alpha}")
    if p_adjust not in P_ADJUST:
        raise OptionError(f"--p-adjust: expected one of {', '.join(P_ADJUST)}; got {p_adjust!r}")
    if bootstrap < 0:
        raise OptionError(f"--bootstrap: expected 0 (none) or more samples; got {bootstrap}")


def rank_table(table: ValueTable, *, scheme: str = "rank-then-aggregate", aggregate: str = "mean",
               alpha: float = 0.05, p_adjust: str = "holm", bootstrap: int = 1000, seed: int = 0,
               worst_distance: float | None = None, missing: str = "worst") -> Ranking:
    """Rank the submissions of a :class:`ValueTable` (see :func:`rank` for the options).

    ``worst_distance`` and ``missing`` are only recorded here: the table has applied them.
    """
    _check_options(scheme, aggregate, alpha, p_adjust, bootstrap)
    test = scheme == "test-then-rank"
    settings: dict[str, Any] = {
        "metrics": [m.key for m in table.metrics],
        "scheme": scheme, "aggregate": None if test else aggregate, "ties": TIES,
        "final": "mean of the per-metric ranks, ranked (ties min)",
        "missing": missing, "worst_values": dict(table.worst), "worst_distance": worst_distance,
        "directions": {m.key: m.direction for m in table.metrics},
        "alpha": alpha if test else None, "p_adjust": p_adjust if test else None,
        "bootstrap": bootstrap, "seed": seed, "n_submissions": len(table.names), "n_cases": len(table.cases),
    }
    scores = table.scores()
    agg, metric_ranks = _metric_ranks(scores, None, settings)
    mean_rank, final = _final(metric_ranks)
    shown = agg[:, 0, :]
    if scheme == "aggregate-then-rank":  # back to the metric's own direction (a distance was negated)
        shown = shown * np.array([1.0 if m.higher_is_better else -1.0 for m in table.metrics])[:, None]
    notes = list(table.notes)
    st = None
    n_cases = len(table.cases)
    if bootstrap and n_cases < 2:
        notes.append("no bootstrap: one case cannot be resampled")
        settings["bootstrap"] = 0
    elif bootstrap:
        boot = np.empty((bootstrap, len(table.names)), dtype=np.float64)
        # test-then-rank holds (block, S, S) p-values at once: fewer samples a block for many submissions.
        block = _BLOCK if not test else max(1, min(_BLOCK, 20_000_000 // len(table.names) ** 2))
        for start in range(0, bootstrap, block):
            counts = resample_counts(n_cases, bootstrap, seed=seed, start=start, stop=start + block)
            _, ranks_b = _metric_ranks(scores, counts.astype(np.float64), settings)
            boot[start:start + counts.shape[0]] = _final(ranks_b)[1]
        st = stability(boot, final[0])
        n_nan = int(np.isnan(st.tau).sum())
        if n_nan:
            notes.append(f"Kendall's tau undefined in {n_nan} bootstrap sample{'s' if n_nan != 1 else ''} "
                         "(every submission tied); left out of its summary")
    return Ranking(table=table, settings=settings, scores=shown, metric_ranks=metric_ranks[:, 0, :],
                   mean_rank=mean_rank[0], ranks=final[0], stability=st, notes=notes)


ReportLike = Report | str | os.PathLike[str]


def _named(reports: Mapping[str, ReportLike] | Sequence[ReportLike], allow_partial: bool) -> dict[str, Report]:
    from segeval.report.reading import load_report

    if isinstance(reports, Mapping):
        items = [(str(k), v) for k, v in reports.items()]
    else:
        items = []
        for i, r in enumerate(reports):
            name = Path(r).name if isinstance(r, (str, os.PathLike)) else f"submission {i + 1}"
            items.append((name, r))
    names = [name for name, _ in items]
    for name in names:
        if names.count(name) > 1:
            raise OptionError(f"REPORT: two submissions are named {name!r}; name them NAME=PATH (or pass a mapping)")
    return {name: r if isinstance(r, Report) else load_report(r, allow_partial=allow_partial) for name, r in items}


def rank(
    reports: Mapping[str, ReportLike] | Sequence[ReportLike],
    *,
    metrics: str | MetricChoice | Sequence[str | MetricChoice] = ("dice",),
    scheme: str = "rank-then-aggregate",
    aggregate: str = "mean",
    missing: str = "worst",
    worst_distance: float | None = None,
    alpha: float = 0.05,
    p_adjust: str = "holm",
    bootstrap: int = 1000,
    seed: int = 0,
    allow_partial: bool = False,
) -> Ranking:
    """Rank submissions scored on the same cases, as challengeR defines the schemes.

    Parameters
    ----------
    reports : mapping of name to Report or path, or a sequence of them
        One ``score``/``batch`` report per submission; a sequence of paths
        names each by its file name.
    metrics : str or sequence of str
        ``METRIC[:LABEL]`` each (``"dice"``, ``"hd95:liver"``, or ``"dice,hd95"``):
        no label is the macro over labels. Directions come from the registry.
    scheme : {"rank-then-aggregate", "aggregate-then-rank", "test-then-rank"}
        See :mod:`segeval.ranking.schemes`. With several metrics the final rank
        is the mean of the per-metric ranks, ranked.
    aggregate : {"mean", "median"}
        Over cases: of the values (aggregate-then-rank) or of the per-case
        ranks (rank-then-aggregate); unused by test-then-rank.
    missing : {"worst", "skip"}
        A missing, failed or NaN case takes the metric's worst value, or only
        the cases every submission has are ranked.
    worst_distance : float, optional
        The worst distance in mm (missing cases and infinite distances);
        default the largest finite value seen.
    alpha : float
        test-then-rank: the level of each one-sided Wilcoxon test.
    p_adjust : {"holm", "none"}
        test-then-rank: adjustment of a ranking's S(S-1) p-values.
    bootstrap : int
        Resamples of the cases for the rank intervals and Kendall's tau; 0 for none.
    seed : int
        The bootstrap's seed: the same seed gives the same intervals.
    allow_partial : bool
        Read incomplete reports (a batch still running) instead of refusing them.

    Returns
    -------
    Ranking
        ``.to_frame()``, ``.to_dict()``; ``.settings`` records every choice.

    Raises
    ------
    OptionError, ReportError
        One line naming the option or the report.

    Examples
    --------
    >>> import segeval
    >>> from segeval.records import CaseResult
    >>> def sub(*dice):
    ...     cases = [CaseResult(case=f"c{i}", labels=[{"label": 1, "dice": d}]) for i, d in enumerate(dice)]
    ...     return segeval.Report(settings={"metrics": ["dice"]}, cases=cases)
    >>> ranking = segeval.rank({"a": sub(0.9, 0.8, 0.7), "b": sub(0.6, 0.9, 0.5)}, bootstrap=0)
    >>> ranking.to_frame()[["rank", "submission", "dice mean rank"]].values.tolist()
    [[1, 'a', 1.3333333333333333], [2, 'b', 1.6666666666666667]]
    """
    _check_options(scheme, aggregate, alpha, p_adjust, bootstrap)
    if isinstance(metrics, str):
        items: list[str | MetricChoice] = [m for m in metrics.split(",") if m.strip()]
    else:
        items = [metrics] if isinstance(metrics, MetricChoice) else list(metrics)
    choices = [m if isinstance(m, MetricChoice) else parse_metric(m) for m in items]
    named = _named(reports, allow_partial)
    table = value_table(named, choices, missing=missing, worst_distance=worst_distance)
    return rank_table(table, scheme=scheme, aggregate=aggregate, alpha=alpha, p_adjust=p_adjust,
                      bootstrap=bootstrap, seed=seed, worst_distance=worst_distance, missing=missing)
