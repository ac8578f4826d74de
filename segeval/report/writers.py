"""CSV, TSV, JSON, JSON Lines and Markdown renderings of a report, and atomic file writes.

CSV is tidy (one row per case and label; NaN as an empty cell, infinity as
``inf``); JSON is strict RFC 8259 (NaN -> null, inf -> "inf"). JSON Lines
holds the same values as JSON, one record a line: the settings, then one case
a line, then the summary, so that a batch can append cases as they finish.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import io
import json
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from segeval._version import __version__
from segeval.errors import OptionError, OutputError
from segeval.records import REPORT_FORMAT, jsonable
from segeval.report.numbers import fmt_number
from segeval.summary import Report, macro


def to_csv(report: Report) -> str:
    """Tidy CSV: ``case,label,name,<metrics>,tp,fp,fn,tn,vol_pred_ml,vol_gt_ml,error``."""
    buf = io.StringIO()
    cols = report.columns()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["case", "label", "name", *cols, "error"])
    for case in report.cases:
        if case.error is not None:
            writer.writerow([case.case, "", "", *[""] * len(cols), case.error])
            continue
        for r in case.labels:
            writer.writerow(
                [case.case, r["label"], r.get("name") or "",
                 *[fmt_number(r.get(c), digits=None) for c in cols], ""]
            )
    return buf.getvalue()


def to_json(report: Report) -> str:
    """Strict JSON of :meth:`Report.to_dict`, indented."""
    return json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n"


def jsonl_line(obj: Any) -> str:
    """One JSON Lines record: strict compact JSON of ``obj`` and a newline."""
    return json.dumps(jsonable(obj), allow_nan=False, separators=(",", ":")) + "\n"


def jsonl_header(settings: dict[str, Any]) -> str:
    """The first line of a JSON Lines report: the version, the report format and the settings."""
    return jsonl_line({"segeval_version": __version__, "report_format": REPORT_FORMAT, "settings": settings})


def to_jsonl(report: Report) -> str:
    """JSON Lines: the header line, one line per case (as in JSON's ``cases``), then ``{"summary": ...}``."""
    lines = [jsonl_header(report.settings)]
    lines += [jsonl_line(c.to_dict()) for c in report.cases]
    lines.append(jsonl_line({"summary": report.summary()}))
    return "".join(lines)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_markdown(report: Report) -> str:
    """Markdown: one table per case (label rows plus a macro row), then the summary when several cases."""
    metrics = report.metrics
    out: list[str] = []
    for case in report.cases:
        out.append(f"### {case.case}\n")
        if case.error is not None:
            out.append(f"Failed: {case.error}\n")
            continue
        rows = [
            [str(r["label"]), r.get("name") or "", *[fmt_number(r.get(m)) for m in metrics],
             fmt_number(r["vol_gt_ml"], 2), fmt_number(r["vol_pred_ml"], 2)]
            for r in case.labels
        ]
        rows.append(["**macro**", "", *[f"**{fmt_number(macro(case.labels, m))}**" for m in metrics], "", ""])
        out.append(_md_table(["label", "name", *metrics, "vol_gt_ml", "vol_pred_ml"], rows))
    if len(report.cases) > 1:
        out.append(summary_markdown(report.summary(), metrics, report))
    return "\n".join(out)


def to_tsv(report: Report) -> str:
    """Tab-separated, for ``cut`` and ``awk``: one row per label (per case and label when several cases).

    Columns ``[case,]label,name,<metrics>,tp,fp,fn,tn,vol_pred_ml,vol_gt_ml[,error]``: the case and
    error columns only for a batch. Numbers as in CSV; tabs and newlines in names become spaces.
    """
    cols = report.columns()
    batch = len(report.cases) != 1 or report.cases[0].error is not None

    def clean(text: str) -> str:
        return " ".join(str(text).replace("\t", " ").splitlines())

    lines = ["\t".join([*(["case"] if batch else []), "label", "name", *cols, *(["error"] if batch else [])])]
    for case in report.cases:
        if case.error is not None:
            lines.append("\t".join([clean(case.case), "", "", *[""] * len(cols), clean(case.error)]))
            continue
        for r in case.labels:
            row = [str(r["label"]), clean(r.get("name") or ""), *[fmt_number(r.get(c), digits=None) for c in cols]]
            lines.append("\t".join([clean(case.case), *row, ""] if batch else row))
    return "\n".join(lines) + "\n"


def _stat_text(s: dict[str, Any], decimals: int = 4) -> str:
    """``mean ± std`` of one summary cell; a distance's finite mean with ``(k inf)``."""
    text = fmt_number(s["mean"], decimals)
    if text and fmt_number(s.get("std"), decimals):
        text += f" ± {fmt_number(s['std'], decimals)}"
    if s.get("n_inf"):
        text += f" ({s['n_inf']} inf)"
    return text


def summary_rows(report: Report, summary: dict[str, Any], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """Per label and metric, the summary's statistics; a distance's ``mean``/``std`` over its finite values
    with ``n_inf`` (0 for scores) beside them."""
    from segeval.metrics.registry import METRICS
    from segeval.report.overview import distance_stats, label_values

    values = label_values(report)
    rows = []
    for entry in summary["per_label"]:
        row: dict[str, Any] = {"label": entry["label"], "name": entry.get("name")}
        for m in metrics:
            s = {**entry[m], "n_inf": 0}
            if m in METRICS and METRICS[m].unit == "mm":
                d = distance_stats(values.get(entry["label"], {}).get(m, []))
                s.update(mean_finite=d["mean"], std_finite=d["std"], n_inf=d["n_inf"])
            row[m] = s
        rows.append(row)
    return rows


def summary_markdown(summary: dict[str, Any], metrics: Sequence[str], report: Report | None = None) -> str:
    """The batch summary as Markdown: one row per label, per metric ``mean ± std``, median, min and n;
    then macro and micro rows. With ``report``, a distance's mean is over its finite values, ``(k inf)`` beside it."""
    per_label = summary_rows(report, summary, metrics) if report is not None else summary["per_label"]
    head = ["label", "name"]
    for m in metrics:
        head += [f"{m} mean ± std", f"{m} median", f"{m} min", f"{m} n"]
    rows = []
    for e in per_label:
        row = [str(e["label"]), e.get("name") or ""]
        for m in metrics:
            s = e[m]
            shown = {**s, "mean": s.get("mean_finite", s["mean"]), "std": s.get("std_finite", s["std"])}
            row += [_stat_text(shown), fmt_number(s["median"]), fmt_number(s["min"]), str(s["n"])]
        rows.append(row)
    for kind in ("macro", "micro"):
        row = [f"**{kind}**", ""]
        for m in metrics:
            value = _macro_of(per_label, m) if kind == "macro" else summary["micro"].get(m)
            n_inf = sum(e[m].get("n_inf", 0) for e in per_label) if kind == "macro" else 0
            text = f"**{fmt_number(value)}**" if fmt_number(value) else ""
            row += [text + (f" ({n_inf} inf)" if n_inf else ""), "", "", ""]
        rows.append(row)
    return "### summary\n\n" + _md_table(head, rows)


def _macro_of(per_label: Sequence[dict[str, Any]], metric: str) -> float:
    """The macro of the per-label means (a distance's finite means where known)."""
    return macro(({metric: e[metric].get("mean_finite", e[metric]["mean"])} for e in per_label), metric)


def render(report: Report, fmt: str) -> str:
    """The report as text in ``fmt`` (csv, json, jsonl, md or tsv)."""
    if fmt == "csv":
        return to_csv(report)
    if fmt == "json":
        return to_json(report)
    if fmt == "jsonl":
        return to_jsonl(report)
    if fmt == "md":
        return to_markdown(report)
    if fmt == "tsv":
        return to_tsv(report)
    raise ValueError(f"unknown format {fmt!r}")


_SUMMARY_COLUMNS = ("label", "name", "metric", "mean", "std", "median", "min", "max", "n", "n_nan")
#: ``--summary`` formats by file extension.
SUMMARY_FORMATS = {".csv": "csv", ".json": "json", ".md": "md", ".markdown": "md"}


def render_summary(report: Report, fmt: str, *, worst: int = 5, by: str | None = None) -> str:
    """The batch summary (``--summary``) as ``csv``, ``json`` or ``md``.

    CSV: one row per (label, metric) with mean, std, median, min, max, n,
    n_nan (the exact values: a distance's mean is inf when a case's is); then
    ``macro`` and ``micro`` rows (label ``macro``/``micro``, the value in mean),
    a ``failed_as_zero`` row when cases failed (the macro Dice with them as 0),
    one ``worst`` row per worst case (name: the case id; metric: ``--by``;
    mean: its value), and last a ``generalized_dice`` row (label empty) over cases.
    JSON: the report's ``summary`` block with the version, the settings and
    ``worst_cases``. Markdown: the per-label table (:func:`summary_markdown`),
    the generalized Dice line, the failed cases and the worst cases.

    Parameters
    ----------
    report : Report
        The batch's report.
    fmt : {"csv", "json", "md"}
        The file's format.
    worst : int
        Worst cases listed (0: none).
    by : str or None
        ``METRIC[:LABEL]`` they are ranked by; default the macro Dice.
    """
    from segeval.report.overview import dice_with_failed_as_zero, parse_by, worst_by

    summary = report.summary()
    metrics = report.metrics
    gd = summary["generalized_dice"]
    spec = parse_by(by, metrics)
    ranked = worst_by(report, spec, worst) if worst > 0 else []
    by_text = spec.metric + (f":{spec.label}" if spec.label else "")
    failed_zero = dice_with_failed_as_zero(report, summary)
    if fmt == "json":
        worst_list = [{"case": c.case, "by": by_text, "value": v} for c, v, _ in ranked]
        return json.dumps(
            jsonable({"segeval_version": __version__, "settings": report.settings, "summary": summary,
                      "worst_cases": worst_list, "dice_with_failed_as_zero": failed_zero}),
            indent=2, allow_nan=False,
        ) + "\n"
    if fmt == "md":
        stats = ", ".join(f"{k} {fmt_number(gd[k])}" for k in ("mean", "std", "median", "min", "max"))
        text = (
            summary_markdown(summary, metrics, report)
            + f"\nGeneralized Dice per case: {stats} (n {gd['n']}, n_nan {gd['n_nan']}); "
            + f"{summary['n_cases']} cases, {summary['n_failed']} failed.\n"
        )
        if failed_zero is not None:
            text += (f"\nWith the {summary['n_failed']} failed cases counted as 0 for every label, the mean Dice "
                     f"would be {fmt_number(failed_zero)}.\n")
        if ranked:
            text += f"\n### worst cases by {spec.title()}\n\n" + _md_table(
                ["case", by_text], [[c.case, fmt_number(v)] for c, v, _ in ranked])
        return text
    if fmt != "csv":
        raise ValueError(f"unknown summary format {fmt!r}")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(_SUMMARY_COLUMNS)
    stat_keys = _SUMMARY_COLUMNS[3:]
    for entry in summary["per_label"]:
        for m in metrics:
            s = entry[m]
            writer.writerow([entry["label"], entry.get("name") or "", m,
                             *[fmt_number(s[k], digits=None) for k in stat_keys]])
    blank = [""] * (len(stat_keys) - 1)
    for kind in ("macro", "micro"):
        for m in metrics:
            if m in summary[kind]:
                writer.writerow([kind, "", m, fmt_number(summary[kind][m], digits=None), *blank])
    if failed_zero is not None:
        writer.writerow(["failed_as_zero", "", "dice", fmt_number(failed_zero, digits=None), *blank])
    for c, v, _ in ranked:
        writer.writerow(["worst", c.case, by_text, fmt_number(v, digits=None), *blank])
    writer.writerow(["", "", "generalized_dice", *[fmt_number(gd[k], digits=None) for k in stat_keys]])
    return buf.getvalue()


#: Output file extensions and the format each means.
OUTPUT_EXTENSIONS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".md": "md",
                     ".markdown": "md"}


def format_of_output(path: str | os.PathLike[str], option: str = "-o") -> str:
    """The report format an output's extension means (``results.csv`` -> ``"csv"``).

    Raises
    ------
    OptionError
        The extension is not one of :data:`OUTPUT_EXTENSIONS`.

    Examples
    --------
    >>> format_of_output("out/results.jsonl"), format_of_output("summary.MD")
    ('jsonl', 'md')
    """
    ext = Path(path).suffix.lower()
    if ext not in OUTPUT_EXTENSIONS:
        raise OptionError(
            f"{option} {path}: cannot tell the format from {ext or 'no extension'!r}; use .csv, .json, .jsonl or "
            ".md or give --format"
        )
    return OUTPUT_EXTENSIONS[ext]


def _special(p: Path) -> str | None:
    """``"stream"`` for a FIFO or character device (written straight into), ``"refused"`` for another
    non-regular file, None for a regular file or a path that does not exist yet."""
    try:
        mode = p.stat().st_mode  # follows a symlink to what it points at
    except FileNotFoundError:
        return None
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return "stream"
    return "refused"


def _target(p: Path) -> Path:
    """Where writing ``p`` lands: through a symlink, its target (which may not exist yet)."""
    return Path(os.path.realpath(p)) if p.is_symlink() else p


def is_stream(path: str | Path) -> bool:
    """True when ``path`` is a FIFO or a character device (``/dev/stdout``): written straight
    into, never replaced, and never given a journal or temporary file beside it."""
    return _special(_target(Path(path))) == "stream"


def check_writable(path: str | Path, option: str = "-o") -> Path:
    """Fail early, naming ``option`` and ``path``, when ``path`` cannot be written; return its folder.

    A FIFO or a character device (``-o /dev/stdout``) is written into; a
    symlink is written through, to its target; any other file that is not a
    regular file is refused, never replaced.

    Raises
    ------
    OutputError
        The folder is missing or not writable, or ``path`` is a directory or
        another kind of special file.
    """
    p = Path(path)
    target = _target(p)
    kind = _special(target)
    if target.is_dir():
        raise OutputError(f"{option} {p}: is a directory; give a file name")
    if kind == "refused":
        raise OutputError(f"{option} {p}: is not a regular file (a socket or block device?); give a file name")
    folder = target.parent if str(target.parent) else Path(".")
    if kind == "stream":
        return folder
    if not folder.is_dir():
        raise OutputError(f"{option} {p}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{option} {p}: folder {folder} is not writable")
    return folder


_TMP_SUFFIX = ".tmp"


def _temporary_prefix(target: Path) -> str:
    return f".{target.name}."


def remove_leftovers(path: str | Path) -> list[Path]:
    """Remove the temporary files a killed write of ``path`` left beside it (``.NAME.XXXX.tmp``)."""
    target = _target(Path(path))
    folder = target.parent if str(target.parent) else Path(".")
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    prefix = _temporary_prefix(target)
    for leftover in folder.glob(f"{glob.escape(prefix)}*{_TMP_SUFFIX}"):
        middle = leftover.name[len(prefix):-len(_TMP_SUFFIX)]
        if leftover.is_file() and not leftover.is_symlink() and middle and "." not in middle:
            with contextlib.suppress(OSError):
                leftover.unlink()
                removed.append(leftover)
    return removed


def _new_file_mode(target: Path) -> int:
    """The mode the output gets: an existing file keeps its own; a new one follows the umask."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def write_atomic(path: str | Path, text: str, *, option: str = "-o") -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file beside it, then a rename).

    A symlink is written through (its target is replaced, the link kept); a
    FIFO or a character device is written straight into; nothing that is not
    a regular file is ever renamed over. A new file's mode follows the umask,
    a replaced file keeps its own. Temporary files that a killed earlier
    write of the same path left are removed once this one is in place.

    Parameters
    ----------
    path : path
        The file to write.
    text : str
        Its whole content.
    option : str
        What the user gave the path as (``-o``, ``--summary``, ...): errors start with it.

    Raises
    ------
    OutputError
        Naming the option and the path when it cannot be written (missing or
        read-only folder, a directory, a full disk).
    """
    p = Path(path)
    folder = check_writable(p, option)
    target = _target(p)
    try:
        if _special(target) == "stream":
            with open(target, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
            return
        fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(target), suffix=_TMP_SUFFIX, dir=folder)
    except OSError as exc:
        raise OutputError(f"{option} {p}: cannot write ({exc.strerror or exc})") from None
    try:
        os.fchmod(fd, _new_file_mode(target))
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"{option} {p}: cannot write ({exc.strerror or exc})") from None
    remove_leftovers(target)
