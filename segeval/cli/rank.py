"""``segeval rank REPORT...``: rank submissions scored on the same cases, with the ranking's stability."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from segeval.cli._app import command
from segeval.cli._common import (
    CASES,
    METRICS_PANEL,
    OUTPUT,
    RUN,
    DebugOpt,
    QuietOpt,
    named_paths,
    warn,
)

if TYPE_CHECKING:  # pragma: no cover
    from segeval.ranking import Ranking

_RANK_FORMATS = ("table", "csv", "json", "md")


def submission_names(args: list[str]) -> dict[str, Path]:
    """``NAME=PATH`` or ``PATH`` -> submission name to report path.

    A bare path is named by its file name; when every report has the same
    file name (``teams/*/results.json``), by its folder's name instead.
    """
    named = named_paths(args)
    bare = [a for a in args if "=" not in a or Path(a).exists()]
    if len(bare) == len(args) > 1 and len({Path(a).name for a in args}) == 1:
        folders = [Path(a).resolve().parent.name for a in args]
        if len(set(folders)) == len(folders) and all(folders):
            return dict(zip(folders, (Path(a) for a in args)))
    return named


def _format(fmt: str | None, output: Path | None) -> str:
    from segeval.errors import OptionError

    if fmt is not None:
        fmt = fmt.lower()
        if fmt not in _RANK_FORMATS:
            raise OptionError(f"--format: expected one of {', '.join(_RANK_FORMATS)}; got {fmt!r}")
        if fmt == "table" and output is not None:
            raise OptionError("--format table cannot be written to a file; use csv, json or md with -o")
        return fmt
    if output is None:
        return "table"
    ext = output.suffix.lower()
    known = {".csv": "csv", ".json": "json", ".md": "md", ".markdown": "md"}
    if ext not in known:
        raise OptionError(f"-o {output}: cannot tell the format from {ext or 'no extension'!r}; "
                          "use .csv, .json or .md or give --format")
    return known[ext]


def _num(value: float, digits: int) -> str:
    from segeval.report.numbers import fmt_number

    return fmt_number(value, digits, nan="n/a")


def ranking_tables(ranking: Ranking, *, width: int | None) -> list[Any]:
    """The ranking as fitted rich tables (never cutting a number), best first, settings in the caption."""
    from segeval.metrics.registry import METRICS
    from segeval.ranking.writers import setting_text
    from segeval.report.fitting import Column, fitted_tables
    from segeval.report.numbers import fmt_number

    order = ranking.order()
    cols = [Column("Rank", [str(int(ranking.ranks[s])) for s in order], key=True),
            Column("Submission", [ranking.names[s] for s in order], justify="left", key=True, fold=True)]
    scheme = ranking.settings["scheme"]
    for m, choice in enumerate(ranking.table.metrics):
        short = METRICS[choice.metric].short + (f":{choice.label}" if choice.label is not None else "")
        if scheme == "aggregate-then-rank":
            head, digits = f"{short} {ranking.settings['aggregate']}", (2 if choice.unit == "mm" else 4)
        elif scheme == "rank-then-aggregate":
            head, digits = f"{short} {ranking.settings['aggregate']} rank", 2
        else:
            head, digits = f"{short} wins", 0
        cols.append(Column(head, [_num(float(ranking.scores[m, s]), digits) for s in order]))
        if len(ranking.table.metrics) > 1:
            cols.append(Column(f"{short} rank", [str(int(ranking.metric_ranks[m, s])) for s in order]))
    if len(ranking.table.metrics) > 1:
        cols.append(Column("Mean rank", [_num(float(ranking.mean_rank[s]), 2) for s in order]))
    st = ranking.stability
    if st is not None:
        cols.append(Column("Median rank", [_num(float(st.median[s]), 1) for s in order]))
        cols.append(Column("95% rank interval", [f"{_num(float(st.low[s]), 1)} – {_num(float(st.high[s]), 1)}"
                                                 for s in order]))
    if ranking.table.missing.any():
        cols.append(Column("Missing", [str(int(ranking.table.missing[:, s].max())) for s in order]))
    settings = ranking.settings
    parts = [f"{scheme}" + (f" ({settings['aggregate']})" if settings["aggregate"] else
                            f" (Wilcoxon one-sided, alpha {setting_text(settings['alpha'])}, "
                            f"{settings['p_adjust']} adjusted)"),
             "ties min", f"missing {settings['missing']}",
             "worst " + ", ".join(f"{c.key} {fmt_number(settings['worst_values'][c.key], 4, significant=True)}"
                                  f"{' mm' if c.unit else ''}" for c in ranking.table.metrics),
             "directions " + setting_text(settings["directions"]),
             f"{len(ranking.table.cases)} cases"]
    if st is not None:
        tau = st.tau_summary()
        parts.append(f"bootstrap {settings['bootstrap']}, seed {settings['seed']}: Kendall's tau median "
                     f"{_num(tau['median'], 3)} (IQR {_num(tau['q25'], 3)} – {_num(tau['q75'], 3)})")
    else:
        parts.append("no bootstrap")
    return fitted_tables(cols, width=width, caption="; ".join(parts))


@command(
    "rank",
    short_help="Rank submissions on the same cases, with the ranking's stability.",
    epilog="Example: segeval rank teams/*/results.json --metric dice --metric hd95 -o ranking.csv "
    "--html ranking.html",
)
def rank_command(
    reports: Annotated[list[str], typer.Argument(
        help="One score/batch report (.json, .jsonl, .csv) per submission, all on the same cases; "
        "NAME=PATH names one, else its file name (or its folder, when all file names are the same).",
        metavar="REPORT...", show_default=False)],
    metric: Annotated[list[str] | None, typer.Option(
        "--metric", metavar="METRIC[:LABEL]", rich_help_panel=METRICS_PANEL, show_default=False,
        help="Rank by this metric (repeatable; default dice); no LABEL = the macro over labels. "
        "Directions from the registry: higher Dice, lower HD95 is better.")] = None,
    scheme: Annotated[str, typer.Option(
        "--scheme", metavar="[rank-then-aggregate|aggregate-then-rank|test-then-rank]",
        rich_help_panel=METRICS_PANEL,
        help="Rank within each case then average the ranks (as BraTS); rank the aggregates; or count "
        "one-sided paired Wilcoxon wins. Several metrics: the mean of their ranks.")] = "rank-then-aggregate",
    aggregate: Annotated[str, typer.Option(
        "--aggregate", metavar="[mean|median]", rich_help_panel=METRICS_PANEL,
        help="Over cases: of the values (aggregate-then-rank) or of the per-case ranks.")] = "mean",
    alpha: Annotated[float, typer.Option(
        "--alpha", metavar="A", rich_help_panel=METRICS_PANEL,
        help="test-then-rank: the level of each one-sided Wilcoxon test.")] = 0.05,
    p_adjust: Annotated[str, typer.Option(
        "--p-adjust", metavar="[holm|none]", rich_help_panel=METRICS_PANEL,
        help="test-then-rank: adjustment of the pairwise p-values.")] = "holm",
    missing: Annotated[str, typer.Option(
        "--missing", metavar="[worst|skip]", rich_help_panel=CASES,
        help="A missing, failed or NaN case: the metric's worst value (0 for overlap metrics, the worst "
        "distance for distances), or rank only the cases every submission has.")] = "worst",
    worst_distance: Annotated[float | None, typer.Option(
        "--worst-distance", metavar="MM", rich_help_panel=CASES, show_default=False,
        help="Worst distance (missing cases and infinite distances). Default: the largest finite value "
        "seen.")] = None,
    allow_partial: Annotated[bool, typer.Option(
        "--allow-partial", rich_help_panel=CASES,
        help="Read incomplete reports (a batch's journal, or one still being written) instead of refusing "
        "them.")] = False,
    fmt: Annotated[str | None, typer.Option(
        "--format", "-f", metavar="[table|csv|json|md]", rich_help_panel=OUTPUT, show_default=False,
        help="Default: from -o's extension, else table.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FILE", rich_help_panel=OUTPUT, show_default=False,
        help="Write the ranking here (.csv, .json, .md), with every setting that made it.")] = None,
    html: Annotated[Path | None, typer.Option(
        "--html", metavar="FILE", rich_help_panel=OUTPUT, show_default=False,
        help="Also write an offline HTML page: the rank-frequency (blob) plot and each submission's "
        "per-case values.")] = None,
    bootstrap: Annotated[int, typer.Option(
        "--bootstrap", metavar="N", rich_help_panel=RUN,
        help="Resample the cases N times to give rank intervals and Kendall's tau; 0 for none.")] = 1000,
    seed: Annotated[int, typer.Option(
        "--seed", metavar="S", rich_help_panel=RUN, help="The bootstrap's seed.")] = 0,
    debug: DebugOpt = False,
    quiet: QuietOpt = False,
) -> int:
    """Rank challenge submissions scored on the same cases (challengeR's schemes).

    Prints the ranking (or writes it with -o), best first: each submission's
    score and rank per metric, the final rank and, from the bootstrap, its
    median rank and 95% rank interval, with Kendall's tau between the
    bootstrap rankings and the full one. The output records the scheme,
    aggregate, tie rule (min), missing rule, directions, bootstrap count and seed.
    """
    from segeval.cli._common import stdout_console, table_width
    from segeval.cli._feedback import wrote
    from segeval.errors import OptionError
    from segeval.ranking import rank
    from segeval.ranking.writers import render_ranking
    from segeval.report.writers import check_writable, write_atomic

    out_fmt = _format(fmt, output)
    named = submission_names(reports)
    if not named:
        raise OptionError("REPORT: give two submissions' reports or more")
    for path, option in ((output, "-o"), (html, "--html")):
        if path is not None:
            check_writable(path, option)
    if html is not None:  # before the work, not after it
        from segeval.report._plots import require

        require("matplotlib")
        require("jinja2")
    ranking = rank(named, metrics=metric or ["dice"], scheme=scheme, aggregate=aggregate, missing=missing,
                   worst_distance=worst_distance, alpha=alpha, p_adjust=p_adjust, bootstrap=bootstrap,
                   seed=seed, allow_partial=allow_partial)
    for note in ranking.notes:
        warn(note, quiet=quiet)
    what = f"{len(ranking.names)} submissions, {len(ranking.table.cases)} cases"
    if output is not None:
        write_atomic(output, render_ranking(ranking, out_fmt))
        wrote(output, what, quiet=quiet)
    if html is not None:
        from segeval.report.rank_html import write_rank_html

        write_rank_html(html, ranking, option="--html")
        wrote(html, what, quiet=quiet)
    if out_fmt == "table" or output is not None:
        if not quiet:
            console = stdout_console()
            for renderable in ranking_tables(ranking, width=table_width(console)):
                console.print(renderable)
    else:
        typer.echo(render_ranking(ranking, out_fmt), nl=False)
    return 0
