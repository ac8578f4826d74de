"""``segeval metrics``: every metric, its unit and direction, and what the peer tools call it."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from segeval.cli._app import command
from segeval.cli._common import DebugOpt, stdout_console


@command("metrics", short_help="List the metrics and what other tools call them.",
         epilog="Example: segeval metrics --format json")
def metrics_command(
    fmt: Annotated[str, typer.Option("--format", "-f", metavar="[table|json|md]", help="Output format.")] = "table",
    debug: DebugOpt = False,
) -> int:
    """List every metric --metrics takes: its unit, which way is better, its formula, and the
    name MedPy, MONAI, seg-metrics, nnU-Net, Metrics Reloaded and DeepMind's surface-distance
    give it (~: that tool's number differs by its convention; see the README's metric table).
    """
    from segeval.errors import OptionError

    if fmt not in ("table", "json", "md"):
        raise OptionError(f"--format: expected table, json or md; got {fmt!r}")
    rows = metric_rows()
    if fmt == "json":
        typer.echo(json.dumps(rows, indent=2))
    elif fmt == "md":
        typer.echo("| metric | unit | better | definition | elsewhere |\n| --- | --- | --- | --- | --- |")
        for r in rows:
            elsewhere = "; ".join(f"{tool} `{name}`" for tool, name in r["peers"])
            typer.echo(f"| `{r['metric']}` | {r['unit']} | {r['better']} | {r['definition']} | {elsewhere} |")
    else:
        from rich.table import Table

        table = Table(header_style="bold", box=None, pad_edge=False, show_edge=False)
        for name in ("Metric", "Unit", "Better", "Definition", "Elsewhere"):
            table.add_column(name, overflow="fold")
        for r in rows:
            table.add_row(r["metric"], r["unit"], r["better"], r["definition"],
                          "\n".join(f"{tool}: {name}" for tool, name in r["peers"]))
        console = stdout_console()
        if not console.is_terminal:
            console.width = max(console.width, 140)
        console.print(table)
    return 0


def metric_rows() -> list[dict[str, Any]]:
    """One row per metric of the registry that a report can hold (the ones --metrics takes, and the case ones)."""
    from segeval.metrics.registry import METRICS, PEER_NAMES

    rows = []
    for name, spec in METRICS.items():
        if spec.kind in ("count", "volume"):
            continue
        better = {True: "higher", False: "lower", None: ""}[spec.higher_is_better]
        rows.append({"metric": name, "unit": spec.unit or "ratio", "better": better, "definition": spec.description,
                     "peers": [list(p) for p in PEER_NAMES.get(name, ())]})
    return rows
