"""``segeval report REPORT... -o report.html``: one offline HTML page of plots, worst cases and comparisons."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from segeval.cli._app import command
from segeval.cli._common import DebugOpt, QuietOpt, named_paths


@command(
    "report",
    short_help="Write one offline HTML page of plots, worst cases and comparisons.",
    epilog="Example: segeval report baseline=main/results.json new=results.json -o report.html --worst 10",
)
def report_command(
    reports: Annotated[list[str], typer.Argument(
        help="Reports written by score/batch -o (.json, .jsonl, .csv); NAME=PATH names one. "
        "Several compare models, the first as the baseline.", metavar="REPORT...", show_default=False)],
    output: Annotated[Path, typer.Option(
        "--output", "-o", metavar="FILE", rich_help_panel="Output", help="The HTML file to write.",
        show_default=False)],
    metric: Annotated[str, typer.Option(
        "--metric", metavar="METRIC", rich_help_panel="Metrics",
        help="Main metric: the heat map's, and the one that ranks the worst cases (macro over labels) "
        "and the paired change.")] = "dice",
    worst: Annotated[int, typer.Option(
        "--worst", metavar="N", rich_help_panel="Output", help="Show the N worst cases of each report.")] = 5,
    overlays: Annotated[bool, typer.Option(
        "--overlays/--no-overlays", rich_help_panel="Output",
        help="Slice overlays of the worst cases, from the volumes the report names (relative to its folder).")] = True,
    allow_partial: Annotated[bool, typer.Option(
        "--allow-partial", rich_help_panel="Cases",
        help="Read an incomplete report (a batch's journal, or one still being written) instead of refusing it.")] = False,
    debug: DebugOpt = False,
    quiet: QuietOpt = False,
) -> int:
    """Write one self-contained HTML page (no external resource; readable offline and printed):
    the run, per-label box plots and statistics of every metric, a case x label heat map of
    --metric, the worst cases with slice overlays and, given several reports, the paired change
    per case with its bootstrap interval.
    """
    from segeval.errors import OptionError
    from segeval.report.html import write_html_report
    from segeval.report.reading import load_report
    from segeval.report.writers import check_writable

    named = named_paths(reports)
    if not named:
        raise OptionError("REPORT: give at least one report")
    check_writable(output, "-o")
    loaded = {name: load_report(path, allow_partial=allow_partial) for name, path in named.items()}
    bases = {name: path.parent for name, path in named.items()}
    write_html_report(output, loaded, metric=metric, worst=worst, overlays=overlays, base_dirs=bases)
    if not quiet:
        n = sum(len(r.cases) for r in loaded.values())
        typer.echo(f"segeval: wrote {output} ({len(loaded)} report{'s' if len(loaded) != 1 else ''}, "
                   f"{n} case{'s' if n != 1 else ''})", err=True)
    return 0
