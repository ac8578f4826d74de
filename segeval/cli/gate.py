"""``segeval gate REPORT``: judge a report against bars and a baseline; exit 1 when one is missed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from segeval.cli._app import command
from segeval.cli._common import DebugOpt, stdout_console, table_width, warn
from segeval.cli._feedback import wrote

_CHECK = "METRIC[:LABEL]=V"


@command(
    "gate",
    short_help="Judge a report: exit 1 when quality is under a bar.",
    epilog=(
        "Example: segeval gate results.json --min dice=0.85 --max hd95:liver=5 "
        "--baseline main/results.json --max-drop dice=0.01 --junit gate.xml"
    ),
)
def gate_command(
    report: Annotated[Path, typer.Argument(
        help="Report written by score/batch -o (.json, .jsonl, .csv), or nnU-Net's summary.json.",
        metavar="REPORT", show_default=False)],
    minimum: Annotated[list[str] | None, typer.Option(
        "--min", metavar=_CHECK, rich_help_panel="Checks",
        help="Bar: the statistic must be >= V. LABEL by number or name; none = macro. Repeatable.")] = None,
    maximum: Annotated[list[str] | None, typer.Option(
        "--max", metavar=_CHECK, rich_help_panel="Checks", help="Bar: the statistic must be <= V, e.g. hd95:liver=5. Repeatable.")] = None,
    stat: Annotated[str | None, typer.Option(
        "--stat", metavar="STAT", rich_help_panel="Checks", help="Statistic over cases: mean, median, min, max or pNN (e.g. p5). "
        "Default: mean.")] = None,
    per_case: Annotated[bool | None, typer.Option(
        "--per-case/--no-per-case", rich_help_panel="Checks", help="Every case must meet --min/--max; failing cases are listed.")] = None,
    baseline: Annotated[Path | None, typer.Option(
        "--baseline", metavar="OLD_REPORT", rich_help_panel="Baseline", help="Earlier report to compare with, case by case.")] = None,
    max_drop: Annotated[list[str] | None, typer.Option(
        "--max-drop", metavar="METRIC[:LABEL]=D", rich_help_panel="Baseline",
        help="Fail when the mean paired change vs --baseline is a drop larger than D "
        "(an increase, for distances). Repeatable.")] = None,
    significant: Annotated[bool | None, typer.Option(
        "--significant/--no-significant", rich_help_panel="Baseline",
        help="With --max-drop: fail only when the drop is also significant (Wilcoxon p < 0.05).")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", metavar="FILE", rich_help_panel="Checks",
        help="Checks from segeval.toml [gate] or pyproject.toml [tool.segeval.gate]. "
        "Default: either one in the working directory.")] = None,
    no_config: Annotated[bool, typer.Option(
        "--no-config", rich_help_panel="Checks", help="Ignore segeval.toml / pyproject.toml in the working directory.")] = False,
    allow_partial: Annotated[bool, typer.Option(
        "--allow-partial", rich_help_panel="Checks", help="Judge an incomplete report (a batch's journal, or one still being "
        "written) instead of refusing it.")] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", metavar="[table|json|md]", rich_help_panel="Output",
                                     help="What stdout gets.")] = "table",
    junit: Annotated[Path | None, typer.Option(
        "--junit", metavar="FILE", rich_help_panel="Output", help="Also write JUnit XML, one test per check, for CI dashboards.")] = None,
    debug: DebugOpt = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No table: one line per failing check, and errors on stderr.")] = False,
) -> int:
    """Judge a report from score/batch: exit 1 when quality is under a bar or dropped against a baseline.

    Prints a table of checks (value, bar, pass/fail; change, 95% CI and p-value
    against a baseline). When GITHUB_STEP_SUMMARY is set, the table is appended
    there as Markdown. Exit 0 when every check passes, 1 when one fails, 2 on
    bad input, 3 when every check passes but the report has cases that failed
    to score.
    """
    from segeval.errors import OptionError
    from segeval.gate import checks_from_options, find_config, judge

    fmt = fmt.lower()
    if fmt not in ("table", "json", "md"):
        raise OptionError(f"--format: expected table, json or md; got {fmt!r}")
    if no_config and config is not None:
        raise OptionError("--config and --no-config: give one of them")
    config_path = config if config is not None else (None if no_config else find_config(Path.cwd()))
    checks = checks_from_options(
        minimums=minimum or [], maximums=maximum or [], max_drops=max_drop or [], stat=stat,
        per_case=per_case, baseline=baseline, significant=significant, config=config_path,
        min_option="--min",
    )
    if not checks:
        where = f"; {config_path} sets none" if config_path is not None else ""
        raise OptionError(
            f"no checks given: add --min/--max {_CHECK} or --baseline OLD --max-drop METRIC=D, "
            f"or a [gate] table in segeval.toml{where}"
        )
    result = judge(report, checks, allow_partial=allow_partial)
    # Said once the report has been judged: an error before this is the only stderr line.
    if config_path is not None and config is None and not quiet:
        typer.echo(f"segeval: gate checks from {config_path}", err=True)
    for note in result.notes:
        warn(note, quiet=quiet)

    from segeval.report.gate_render import gate_json, gate_markdown, gate_table, junit_xml

    if junit is not None:
        _write_junit(junit, junit_xml(result))
        n = len(result.checks)
        wrote(junit, f"{n} check{'s' if n != 1 else ''}", quiet=quiet)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as fh:
                fh.write(gate_markdown(result) + "\n")
        except OSError as exc:
            warn(f"GITHUB_STEP_SUMMARY {summary}: cannot append ({exc.strerror or exc})", quiet=quiet)
    if fmt == "json":
        typer.echo(gate_json(result), nl=False)
    elif fmt == "md":
        typer.echo(gate_markdown(result), nl=False)
    elif quiet:
        # As `pytest -q` still prints its failures: one line per failing check.
        for c in result.checks:
            if not c.passed:
                typer.echo(f"FAIL {c.title}: {c.reason}")
    else:
        console = stdout_console()  # a CI log is no terminal: the table comes out whole
        console.print(gate_table(result, width=table_width(console)))
    if not result.passed:
        return 1
    return 3 if result.failed_cases else 0


def _write_junit(path: Path, text: str) -> None:
    from segeval.report.writers import write_atomic

    write_atomic(path, text, option="--junit")
