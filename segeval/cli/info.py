"""``segeval info FILE...``: header fields and label census of volumes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from segeval.cli._app import command
from segeval.cli._common import DebugOpt, OutsideOpt, QuietOpt, SpacingOpt, stdout_console, warn


@command("info", short_help="Header fields and label census of volumes.", epilog="Example: segeval info gt/case_001.nii.gz pred/case_001.nii.gz --format json")
def info_command(
    files: Annotated[list[Path], typer.Argument(help="Volumes to describe.", metavar="FILE...",
                                                show_default=False)],
    fmt: Annotated[str, typer.Option("--format", "-f", metavar="[table|json]", help="Output format.")] = "table",
    spacing: SpacingOpt = None,
    allow_outside_data_files: OutsideOpt = False,
    debug: DebugOpt = False,
    quiet: QuietOpt = False,
) -> int:
    """Shape, dtype, spacing, orientation, origin and label census (voxels, ml) of volumes.

    A dataset.json beside or above a file names its labels and says which
    values it does not declare.
    """
    from segeval.errors import OptionError
    from segeval.info import describe
    from segeval.io import read_volume
    from segeval.records import jsonable
    from segeval.settings import parse_spacing

    if fmt not in ("table", "json"):
        raise OptionError(f"--format: expected table or json; got {fmt!r}")
    sp = parse_spacing(spacing)
    volumes = [read_volume(f, spacing_mm=sp, allow_outside_data_files=allow_outside_data_files) for f in files]
    for v in volumes:
        for note in v.meta.get("notes", ()):
            warn(note, quiet=quiet)
    descs = [describe(v, label_map=_label_map(f)) for v, f in zip(volumes, files)]
    if fmt == "json":
        typer.echo(json.dumps(jsonable(descs), indent=2, allow_nan=False))
        return 0
    from segeval.report.terminal import info_header, info_table

    console = stdout_console()
    for d in descs:
        console.print(info_header(d))
        if d.get("census") is not None:
            console.print(info_table({**d, "path": ""}))
        else:
            console.print(f"  soft values in [{d.get('min')}, {d.get('max')}]; no label census")
    return 0


def _label_map(path: Path) -> Any:
    from segeval.labels import find_dataset_json, read_label_map

    found = find_dataset_json(path)
    return read_label_map(found) if found is not None else None
