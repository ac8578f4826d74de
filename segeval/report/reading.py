"""The one reader of reports and journals: JSON, JSON Lines, CSV and a batch's ``.partial.jsonl``.

``segeval gate`` judges what :func:`read_report` returns and ``batch --resume``
keeps the cases it returns, so both read every format by the same rules:
numbers are checked (a bad value is one line naming the file, case, label and
column), NaN and infinity are decoded from their strict-JSON and CSV spellings,
a case recorded twice counts once (the last record), and a last line cut short
by a killed run is left out with a note instead of failing the read.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segeval.errors import ReadError, ReportError
from segeval.io._gzip import gunzip
from segeval.metrics.overlap import generalized_dice_from_counts
from segeval.metrics.registry import METRICS
from segeval.records import NOT_NUMBERS, REPORT_FORMAT, CaseResult, ClassRecord, decode_number
from segeval.summary import Report

__all__ = ["JOURNAL_KEY", "JOURNAL_SUFFIX", "ReadReport", "label_key", "read_report"]

#: The key of a journal's first line (``{"segeval_journal": 1, "settings": ...}``).
JOURNAL_KEY = "segeval_journal"
#: A batch's journal beside its output: ``results.csv`` -> ``results.csv.partial.jsonl``.
JOURNAL_SUFFIX = ".partial.jsonl"

_INT = re.compile(r"[+-]?\d+")
_COUNTS = ("tp", "fp", "fn", "tn")


@dataclass
class ReadReport:
    """What a report file holds.

    Attributes
    ----------
    source : str
        The file name (or "the report"), for messages.
    kind : {"json", "jsonl", "journal", "csv", "nnunet", "object"}
        How it was written: one JSON document, JSON Lines, a batch's journal,
        a tidy CSV, nnU-Net's summary.json (its metric_per_case), or a Python object.
    cases : list of CaseResult
        In file order; a case recorded twice is where its last record was.
    settings : dict or None
        The settings the report records (a CSV records none).
    columns : list of str
        A CSV's header, lower case (empty for the other kinds).
    notes : list of str
        Things worth a warning: a line cut short, a case recorded twice.
    partial : str or None
        Why the report is incomplete (a journal, a run that has not finished,
        a last line cut short), else None.
    """

    source: str
    kind: str
    cases: list[CaseResult]
    settings: dict[str, Any] | None = None
    columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    partial: str | None = None
    finished: bool = True  # JSON Lines: the summary line a finished batch writes last was found

    def to_report(self) -> Report:
        """The cases as a :class:`~segeval.summary.Report`; a file without settings (a CSV) gets the
        metrics its records hold, in registry order."""
        settings = dict(self.settings or {})
        if "metrics" not in settings:
            held = {k for c in self.cases for r in c.labels for k in r}
            settings["metrics"] = [m for m, spec in METRICS.items()
                                   if m in held and spec.kind not in ("count", "volume", "case")]
        return Report(settings=settings, cases=list(self.cases))


def load_report(path: str | os.PathLike[str], *, allow_partial: bool = False) -> Report:
    """Read a report file into a :class:`~segeval.summary.Report` (``segeval.read_report``).

    Parameters
    ----------
    path : path
        What ``score``/``batch`` wrote with ``-o`` (JSON, JSON Lines or CSV,
        gzip-compressed too), or nnU-Net's ``summary.json``.
    allow_partial : bool
        Read an incomplete report (a batch's journal, or a report still being
        written) instead of refusing it.

    Returns
    -------
    Report
        Its settings (empty for a CSV, which records none) and cases;
        ``to_frame()``, ``summary_frame()`` and ``summary()`` work on it.

    Raises
    ------
    ReportError
        One line naming the file and the problem.

    Examples
    --------
    >>> import tempfile, numpy as np, segeval
    >>> from segeval.report.writers import to_json
    >>> path = Path(tempfile.mkdtemp()) / "r.json"
    >>> gt = np.array([[1, 1, 0], [2, 2, 0]]); pred = np.array([[1, 0, 0], [2, 2, 2]])
    >>> _ = path.write_text(to_json(segeval.score(pred, gt)))
    >>> segeval.read_report(path).to_frame()["dice"].round(4).tolist()
    [0.6667, 0.8]
    """
    read = read_report(Path(path))
    if read.partial is not None and not allow_partial:
        raise ReportError(f"{read.source}: the report is incomplete ({read.partial}); "
                          "pass allow_partial=True to read it anyway")
    return read.to_report()


def read_report(report: Any) -> ReadReport:
    """Read a report: a path (JSON, JSON Lines, journal, CSV; gzip-compressed too), a Report or its dict.

    Raises
    ------
    ReportError
        One line naming the file and the problem (missing, empty, garbled,
        not a segeval report, no cases).
    """
    if isinstance(report, ReadReport):
        return report
    if isinstance(report, (str, Path)):
        read = _read_path(Path(report))
        read.partial = _incomplete(Path(report), read)
        return read
    if isinstance(report, Report):
        return ReadReport("the report", "object", list(report.cases), dict(report.settings))
    if isinstance(report, Mapping):
        return _from_json_obj("the report", report, [], kind="object")
    raise TypeError(f"expected a report path, Report or dict; got {type(report).__name__}")


def _read_path(path: Path) -> ReadReport:
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ReportError(f"{source}: no such report file") from None
    except IsADirectoryError:
        raise ReportError(f"{source}: is a folder; give the report file that score/batch wrote with -o") from None
    except OSError as exc:
        if path.is_dir():
            raise ReportError(f"{source}: is a folder; give the report file that score/batch wrote with -o") from None
        raise ReportError(f"{source}: cannot read ({exc.strerror or exc})") from None
    if raw[:2] == b"\x1f\x8b":
        # A report compresses 10-20 fold; past 64 times its compressed size it is a gzip bomb.
        limit = max(_MIN_REPORT_LIMIT, 64 * len(raw))
        try:
            raw = gunzip(raw, shown=source, limit=limit).tobytes()
        except ReadError as exc:
            raise ReportError(str(exc).replace("corrupt gzip stream", "truncated or corrupt gzip data")) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ReportError(f"{source}: not a text report (not UTF-8); gate reads JSON, JSON Lines or CSV") from None
    if not text.strip():
        raise ReportError(f"{source}: the report is empty")
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    suffix = suffixes[-1] if suffixes else ""
    notes: list[str] = []
    lines = suffix in (".jsonl", ".ndjson")
    if lines or suffix == ".json" or (suffix not in (".csv", ".tsv") and text.lstrip()[:1] in "{["):
        # One JSON document (also accepted under a .jsonl name),
        # else JSON Lines: a header line with the settings, then one case per line.
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            if lines or exc.msg == "Extra data":
                return _from_jsonl(source, text, notes)
            raise ReportError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
        except (RecursionError, ValueError) as exc:
            raise ReportError(f"{source}: not a report segeval reads ({_why(exc)})") from None
        return _from_json_obj(source, obj, notes, kind="jsonl" if lines else "json")
    try:
        return _from_csv(source, text, notes)
    except csv.Error as exc:
        raise ReportError(f"{source}: not a CSV segeval reads ({_why(exc)})") from None


_MIN_REPORT_LIMIT = 64 << 20


def _why(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return " ".join(str(exc).split())[:160] or type(exc).__name__


def _check_format(source: str, obj: Mapping[str, Any]) -> None:
    """A newer (or unknown) report format is one clear line, not a quiet misreading."""
    version = obj.get("report_format", REPORT_FORMAT)
    journal = obj.get(JOURNAL_KEY)
    if journal is not None and journal != 1:
        raise ReportError(f"{source}: a journal of format {journal!r}, which this segeval (format 1) does not "
                          "read; resume with the segeval that wrote it")
    if version != REPORT_FORMAT:
        raise ReportError(f"{source}: written in report format {version!r}, which this segeval (format "
                          f"{REPORT_FORMAT}) does not read; read it with the segeval that wrote it")


def _settings(source: str, settings: Any) -> dict[str, Any] | None:
    """A report's settings, checked for the types the readers rely on."""
    if settings is None:
        return None
    if not isinstance(settings, Mapping):
        raise ReportError(f"{source}: \"settings\" must be an object, got {type(settings).__name__}")
    metrics = settings.get("metrics", [])
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise ReportError(f"{source}: settings.metrics must be a list of metric names, got {metrics!r:.80}")
    for key in ("label_names", "regions"):
        if not isinstance(settings.get(key, {}) or {}, Mapping):
            raise ReportError(f"{source}: settings.{key} must be an object")
    return dict(settings)


def _incomplete(path: Path, read: ReadReport) -> str | None:
    """Why a report read from ``path`` is not the whole of a finished run, or None."""
    if read.kind == "journal":
        return "it is the journal of a batch that did not finish"
    journal = path.with_name(path.name + JOURNAL_SUFFIX)
    if journal.exists():
        return f"the batch writing it has not finished: its journal {journal} is beside it"
    if any("is incomplete" in note for note in read.notes):
        return "its last line is cut short"
    if read.kind == "jsonl" and read.settings is not None and not read.finished:
        # segeval's own JSON Lines (a settings line first) end with the summary line.
        return "it has no summary line, which a batch writes last"
    return None


def _from_json_obj(source: str, obj: Any, notes: list[str], *, kind: str) -> ReadReport:
    if isinstance(obj, Mapping):
        _check_format(source, obj)
    if isinstance(obj, Mapping) and isinstance(obj.get("cases"), list):
        return _from_case_dicts(source, obj["cases"], obj.get("settings"), notes, kind)
    if isinstance(obj, Mapping) and "case" in obj:
        return _from_case_dicts(source, [obj], None, notes, kind)
    if isinstance(obj, list) and all(isinstance(c, Mapping) for c in obj):
        return _from_case_dicts(source, obj, None, notes, kind)
    if isinstance(obj, Mapping) and "metric_per_case" in obj:
        from segeval.report.nnunet import cases_from_nnunet

        cases, settings = cases_from_nnunet(source, dict(obj))
        return _from_case_dicts(source, cases, settings, notes, "nnunet")
    raise ReportError(f"{source}: not a segeval report (no \"cases\" list); give the file score/batch wrote with -o")


def _from_jsonl(source: str, text: str, notes: list[str]) -> ReadReport:
    lines = text.splitlines()
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    cases: list[Any] = []
    settings = None
    kind = "jsonl"
    finished = False
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            if i == last and i > 0:
                notes.append(f"{source}: line {i + 1} is incomplete (an interrupted run?) and was ignored")
                continue
            raise ReportError(f"{source}: line {i + 1} is not valid JSON ({exc.msg} at column {exc.colno})") from None
        except (RecursionError, ValueError) as exc:
            raise ReportError(f"{source}: line {i + 1} is not a record segeval reads ({_why(exc)})") from None
        if isinstance(obj, Mapping) and (JOURNAL_KEY in obj or "report_format" in obj):
            _check_format(source, obj)
        if isinstance(obj, Mapping) and "case" in obj:
            cases.append(obj)
        elif isinstance(obj, Mapping) and isinstance(obj.get("cases"), list):
            cases.extend(obj["cases"])
        elif isinstance(obj, Mapping) and settings is None and isinstance(obj.get("settings"), Mapping):
            settings = obj["settings"]
            if JOURNAL_KEY in obj:
                kind = "journal"
        elif isinstance(obj, Mapping) and "summary" in obj:
            finished = True
    read = _from_case_dicts(source, cases, settings, notes, kind)
    read.finished = finished
    return read


def label_key(value: Any) -> int | str:
    """A record's label as the report means it: an int label, or a region's name.

    Examples
    --------
    >>> label_key("3"), label_key(2.0), label_key("WT")
    (3, 2, 'WT')
    """
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip()
    return int(text) if _INT.fullmatch(text) and len(text) < 20 else text


def _number(value: Any, where: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool):
        raise ReportError(f"{where}: {value!r} is not a number")
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "nan", "null", "none"):
            return math.nan
        if text in ("inf", "+inf", "infinity"):
            return math.inf
        if text in ("-inf", "-infinity"):
            return -math.inf
        try:
            return float(text)
        except ValueError:
            raise ReportError(f"{where}: {value!r} is not a number") from None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ReportError(f"{where}: {value!r} is not a number") from None


def _value(key: str, value: Any, where: str) -> Any:
    """One record field, decoded: metrics and counts checked as numbers (counts stay ints).

    ``where`` names the field in a message (``"r.json: case a, label 1, dice"``).
    """
    if key in NOT_NUMBERS:
        return value
    if key not in METRICS:
        return decode_number(value)
    number = _number(value, where)
    if key in _COUNTS and math.isfinite(number) and number.is_integer():
        return int(number)
    return number


def _case_from_dict(source: str, index: int, c: Any) -> CaseResult:
    if not isinstance(c, Mapping) or c.get("case") is None:
        raise ReportError(f"{source}: case #{index + 1} has no \"case\" id; is this a segeval report?")
    cid = str(c["case"])
    labels = c.get("labels") or []
    if not isinstance(labels, list):
        raise ReportError(f"{source}: case {cid}: \"labels\" must be a list of label records")
    records: list[ClassRecord] = []
    for r in labels:
        if not isinstance(r, Mapping) or "label" not in r or r["label"] is None:
            raise ReportError(f"{source}: case {cid}: a label record has no \"label\"")
        where = f"{source}: case {cid}, label {label_key(r['label'])}"
        records.append({k: _value(k, v, f"{where}, {k}") for k, v in r.items()})
    error = c.get("error")
    return CaseResult(
        case=cid, pred=c.get("pred"), gt=c.get("gt"), shape=list(c.get("shape") or []),
        spacing=list(c.get("spacing") or []), labels=records,
        error=" ".join(str(error).split()) if error else None,
        generalized_dice=_number(c.get("generalized_dice"), f"{source}: case {cid}, generalized_dice"),
        notes=list(c.get("notes") or []),
        voxels=int(c["voxels"]) if isinstance(c.get("voxels"), int) else None,
        unscored=[int(v) for v in c.get("unscored_labels") or [] if isinstance(v, int)],
    )


def _last_wins(source: str, cases: Sequence[CaseResult], notes: list[str], *, quiet: bool) -> list[CaseResult]:
    """One result per case id, where its last record was; a note per repeated id unless ``quiet``."""
    out: dict[str, CaseResult] = {}
    for c in cases:
        if c.case in out:
            if not quiet:
                notes.append(f"{source}: case {c.case} appears more than once; the last entry is used")
            del out[c.case]
        out[c.case] = c
    return list(out.values())


def _from_case_dicts(source: str, cases: Sequence[Any], settings: Any, notes: list[str], kind: str) -> ReadReport:
    parsed = [_case_from_dict(source, i, c) for i, c in enumerate(cases)]
    # A journal records a case tried again after a worker died: not worth a warning.
    unique = _last_wins(source, parsed, notes, quiet=kind == "journal")
    if not unique and kind != "journal":
        raise ReportError(f"{source}: the report has no cases")
    return ReadReport(source, kind, unique, _settings(source, settings), notes=notes)


def _from_csv(source: str, text: str, notes: list[str]) -> ReadReport:
    rows = list(csv.reader(io.StringIO(text)))
    header = [h.strip().lower() for h in rows[0]]
    if "case" not in header:
        if "metric" in header and "mean" in header:
            raise ReportError(f"{source}: is a summary table (--summary); gate needs the per-case report (-o)")
        raise ReportError(f"{source}: not a segeval report: no \"case\" column; gate reads the CSV that "
                          "score/batch write with -o (case,label,name,<metrics>...) or their JSON")
    if "label" not in header:
        raise ReportError(f"{source}: no \"label\" column; gate reads the CSV that score/batch write with -o")
    i_case, i_label = header.index("case"), header.index("label")
    i_name = header.index("name") if "name" in header else None
    i_error = header.index("error") if "error" in header else None
    metric_cols = [(i, h) for i, h in enumerate(header) if h in METRICS]
    last = max((i for i, row in enumerate(rows) if any(cell.strip() for cell in row)), default=0)
    grouped: dict[str, CaseResult] = {}
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            if lineno - 1 == last:
                notes.append(f"{source}: line {lineno} is incomplete (an interrupted run?) and was ignored")
                continue
            raise ReportError(f"{source}: line {lineno} has {len(row)} fields; the header has {len(header)}")
        cid = row[i_case].strip()
        if not cid:
            raise ReportError(f"{source}: line {lineno} has no case id")
        error = row[i_error].strip() if i_error is not None else ""
        if error:
            grouped.pop(cid, None)
            grouped[cid] = CaseResult(case=cid, error=" ".join(error.split()))
            continue
        label_cell = row[i_label].strip()
        if not label_cell:
            raise ReportError(f"{source}: line {lineno} (case {cid}) has no label and no error")
        key = label_key(label_cell)
        name = row[i_name].strip() if i_name is not None else ""
        record: ClassRecord = {"label": key, "name": name or None}
        record.update({m: _value(m, row[i], f"{source}: line {lineno}, column {m}") for i, m in metric_cols})
        case = grouped.pop(cid, None) or CaseResult(case=cid)
        if case.error is not None:
            case = CaseResult(case=cid)
        case.labels = [r for r in case.labels if r["label"] != key] + [record]
        grouped[cid] = case
    for case in grouped.values():
        case.generalized_dice = _generalized_dice(case.labels)
    if not grouped:
        raise ReportError(f"{source}: the report has no cases (only a header)")
    return ReadReport(source, "csv", list(grouped.values()), None, columns=header, notes=notes)


def _generalized_dice(records: Sequence[ClassRecord]) -> float:
    """A case's generalized Dice from its plain labels' counts, as scoring computes it (NaN without counts)."""
    plain = [r for r in records if not isinstance(r["label"], str) and r["label"] != 0]
    if not plain or not all(all(isinstance(r.get(k), int) for k in _COUNTS[:3]) for r in plain):
        return math.nan
    tp, fp, fn = (np.array([r[k] for r in plain], dtype=np.int64) for k in _COUNTS[:3])
    return float(generalized_dice_from_counts(tp, fp, fn))
