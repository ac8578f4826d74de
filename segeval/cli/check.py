"""``segeval check PRED_DIR GT_DIR``: dataset integrity before a long run, one line per problem, then a digest."""

from __future__ import annotations

import contextlib
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from segeval.cli._app import command
from segeval.cli._common import (
    CaseRegexOpt,
    DebugOpt,
    LabelNamesOpt,
    OutsideOpt,
    PredSuffixOpt,
    QuietOpt,
    RecursiveOpt,
    stderr_console,
    warn,
)

if TYPE_CHECKING:  # pragma: no cover
    from segeval.check import Census, CheckResult

#: Exit code of a finished check that found problems (as a batch whose cases failed).
PROBLEMS_FOUND = 3
_SHOWN = 6  # distinct values shown per digest line; JSON has them all
_KINDS = {"no_prediction": "no prediction", "no_gt": "no GT", "unreadable": "unreadable",
          "not_labels": "not a label map", "outside_label_map": "outside the label map", "geometry": "geometry"}


@command("check", short_help="Check two folders before a long run.", epilog="Example: segeval check predictions/ labelsTs/ --format json > check.json")
def check_command(
    pred_dir: Annotated[Path, typer.Argument(
        help="Folder of predicted label volumes.", metavar="PRED_DIR", show_default=False)],
    gt_dir: Annotated[Path, typer.Argument(
        help="Folder of ground-truth label volumes; a dataset.json in it or beside it is the label map.",
        metavar="GT_DIR", show_default=False)],
    pattern: Annotated[str | None, typer.Option(
        "--pattern", help="Glob of the files that are cases, e.g. '*.nii.gz'. Default: every readable volume.")] = None,
    pred_suffix: PredSuffixOpt = None,
    recursive: RecursiveOpt = False,
    case_regex: CaseRegexOpt = None,
    label_names: LabelNamesOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", metavar="[table|json]",
                                     help="table: plain lines; json: everything.")] = "table",
    allow_outside_data_files: OutsideOpt = False,
    debug: DebugOpt = False,
    quiet: QuietOpt = False,
) -> int:
    """Check two folders before a long run: one line per problem, then a digest.

    Cases pair as in segeval batch. Problems: cases that do not pair, unreadable
    files, files that look like images rather than label maps (floats with
    fractions, more than 1000 distinct values, values below -1), values outside
    the label map (dataset.json in or beside GT_DIR, or --label-names), and
    prediction/GT grids that differ (a mere flip or permutation of the axes is
    not one: scoring reorients it exactly). The digest counts the shapes,
    spacings, orientations, dtypes and label values seen; --quiet prints the
    problem lines only. Exit 0 when no problem was found, 3 when some were, 2 on
    bad input.
    """
    from segeval.batching.pairing import argument_order_warnings
    from segeval.check import check_dataset
    from segeval.errors import OptionError

    if fmt not in ("table", "json"):
        raise OptionError(f"--format: expected table or json; got {fmt!r}")
    if not quiet:
        for line in argument_order_warnings(pred_dir, gt_dir):
            warn(line)
    with _progress(enabled=not quiet and sys.stderr.isatty()) as advance:
        result = check_dataset(pred_dir, gt_dir, pattern=pattern, pred_suffix=pred_suffix, recursive=recursive,
                               case_regex=case_regex, label_names=label_names,
                               allow_outside_data_files=allow_outside_data_files, progress=advance)
    for note in dict.fromkeys(result.notes):
        warn(note, quiet=quiet)
    if fmt == "json":
        typer.echo(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    elif quiet:
        for line in render_lines(result)[: len(result.problems)]:
            typer.echo(line)
    else:
        typer.echo("\n".join(render_lines(result)))
    return 0 if result.ok else PROBLEMS_FOUND


def render_lines(result: CheckResult) -> list[str]:
    """The plain-text report: one line per problem (``case: kind: message``), then the digest."""
    lines = [f"{p.case}: {_KINDS.get(p.kind, p.kind)}: {p.message}" for p in result.problems]
    d = result.digest
    if lines:
        lines.append("")
    cases = f"{d.paired} case{'s' if d.paired != 1 else ''} paired"
    if d.gt_without_pred:
        cases += f", {d.gt_without_pred} GT case{'s' if d.gt_without_pred != 1 else ''} without prediction"
    if d.pred_without_gt:
        cases += f", {d.pred_without_gt} prediction{'s' if d.pred_without_gt != 1 else ''} without GT case"
    if d.left_out:
        n = len(d.left_out)
        cases += f", {n} file{'s' if n != 1 else ''} left out beside an image with the same case id"
    lines.append(cases + (f" ({d.rule})" if d.rule else ""))
    if d.label_map is not None:
        lines.append(f"label map: {d.label_map} (values {', '.join(map(str, d.declared or []))})")
    if d.reoriented:
        ids = ", ".join(d.reoriented[:_SHOWN]) + (f" ... and {len(d.reoriented) - _SHOWN} more"
                                                   if len(d.reoriented) > _SHOWN else "")
        lines.append(f"reoriented exactly when scored (axes flipped or permuted): {len(d.reoriented)} ({ids})")
    lines.append("seen, as value (files):")
    for title, census in (("GT", d.gt), ("pred", d.pred)):
        lines.extend(_census_lines(title, census))
    counts = Counter(_KINDS.get(p.kind, p.kind) for p in result.problems)
    lines.append(f"{len(result.problems)} problem{'s' if len(result.problems) != 1 else ''}"
                 + (f": {', '.join(f'{n} {k}' for k, n in counts.items())}" if counts else ""))
    return lines


def _census_lines(title: str, census: Census) -> list[str]:
    if not census.files:
        return [f"  {title:<5} no file read"]
    rows = (("shape", census.shapes, lambda v: "x".join(map(str, v))),
            ("spacing", census.spacings, lambda v: "x".join(f"{s:g}" for s in v) + " mm"),
            ("axes", census.orientations, str),
            ("dtype", census.dtypes, str))
    out = []
    for name, counter, fmt in rows:
        out.append(f"  {title:<5} {name:<8} {_counted(counter, fmt)}")
    labels = sorted(census.labels.items())
    shown = ", ".join(f"{v} ({n})" for v, n in labels[:3 * _SHOWN])
    more = f" ... and {len(labels) - 3 * _SHOWN} more" if len(labels) > 3 * _SHOWN else ""
    out.append(f"  {title:<5} {'labels':<8} {shown or 'none'}{more}")
    return out


def _counted(counter: Counter[Any], fmt: Callable[[Any], str]) -> str:
    common = sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))
    text = ", ".join(f"{fmt(v)} ({n})" for v, n in common[:_SHOWN])
    return text + (f" ... and {len(common) - _SHOWN} more" if len(common) > _SHOWN else "")


@contextlib.contextmanager
def _progress(*, enabled: bool) -> Iterator[Callable[[str], None] | None]:
    """A spinner with the count of cases checked, on stderr when it is a terminal."""
    if not enabled:
        yield None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn

    with Progress(SpinnerColumn(), TextColumn("Checking: {task.completed} cases"), console=stderr_console(),
                  transient=True) as progress:
        task = progress.add_task("check", total=None)
        yield lambda _case: progress.advance(task)
