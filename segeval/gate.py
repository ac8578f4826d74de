"""The quality gate: judge a report against bars and a baseline.

A CI job scores a model's predictions (``segeval score``/``batch``) and then
asks whether they are good enough: :func:`judge` reads the report (JSON,
JSON Lines or CSV), evaluates each :class:`Check` and returns a
:class:`GateResult`. This module never prints and never exits; the CLI renders
the result (:mod:`segeval.report.gate_render`) and turns it into an exit code.

Checks
------
``min``/``max``
    A statistic over cases (mean, median, min, max or a percentile ``pNN``) of
    one metric for one label, or of the macro value (per case, the mean over
    that case's labels, NaN excluded), must be at least / at most a bar. With
    ``per_case`` every case must meet the bar instead, and the failing cases are
    listed.
``max_drop``
    Regression against a baseline report: cases are paired by id, and the mean
    paired change (with a bootstrap 95% confidence interval and a paired
    Wilcoxon signed-rank p-value) must not be a drop larger than D. For metrics
    where lower is better (distances), an increase is the drop.

NaN values (a class absent from both volumes) are excluded from statistics and
counted; a check with no valid value fails with that reason. Cases that failed
to score (``error`` set) are listed and counted, and fail ``per_case`` checks.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import io
import json
import math
import re
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Union

from segeval.errors import ConfigError, OptionError, ReportError, UnknownMetricError
from segeval.metrics.registry import METRICS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

LabelKey = Union[int, str]  # noqa: UP007 - a runtime alias must work on Python 3.10

KINDS: tuple[str, ...] = ("min", "max", "max_drop")
STATS: tuple[str, ...] = ("mean", "median", "min", "max", "pNN")
# Case-level metrics (one value per case, not per label).
CASE_METRICS: tuple[str, ...] = ("generalized_dice",)
# Two-sided Wilcoxon level at which a drop counts as significant.
SIGNIFICANCE = 0.05
BOOTSTRAP_SAMPLES = 10_000
CONFIG_FILE = "segeval.toml"
CONFIG_KEYS: tuple[str, ...] = ("min", "max", "max_drop", "stat", "per_case", "baseline", "significant")

_FLAGS = {"min": "--min", "max": "--max", "max_drop": "--max-drop"}
_PCT = re.compile(r"p(\d+(?:\.\d*)?)")
_INT = re.compile(r"[+-]?\d+")
_REL_TOL = 1e-12


# --------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class Check:
    """One bar the report must meet.

    Attributes
    ----------
    kind : {"min", "max", "max_drop"}
        At least ``value``; at most ``value``; no drop larger than ``value``
        against a baseline.
    metric : str
        A registry metric (``dice``, ``hd95``...) or ``generalized_dice``.
    label : int, str or None
        Label number, label or region name, or None for the macro value.
    value : float
        The bar (for ``max_drop``, the largest allowed drop, >= 0, in the
        metric's unit).
    stat : str or None
        ``mean``, ``median``, ``min``, ``max`` or ``pNN``; None: :func:`judge`'s.
    per_case : bool or None
        Every case must meet the bar (``min``/``max`` only); None: :func:`judge`'s.
    baseline : path, Report, dict or None
        Baseline report of a ``max_drop`` check; None: :func:`judge`'s.
    significant : bool or None
        ``max_drop`` fails only when the drop is also significant; None: :func:`judge`'s.
    source : str
        Where the check was written (``--min``, ``segeval.toml [gate] min``), for messages.
    """

    kind: str
    metric: str
    label: LabelKey | None
    value: float
    stat: str | None = None
    per_case: bool | None = None
    baseline: Any = None
    significant: bool | None = None
    source: str = field(default="", compare=False)

    @property
    def target(self) -> str:
        """``metric`` or ``metric:label`` as written."""
        return self.metric if self.label is None else f"{self.metric}:{self.label}"

    def __str__(self) -> str:
        return f"{self.source or _FLAGS[self.kind]} {self.target}={_fmt_bar(self.value)}"


def parse_check(text: str, *, kind: str = "min", option: str | None = None) -> Check:
    """Parse ``METRIC[:LABEL]=VALUE`` into a :class:`Check`.

    Parameters
    ----------
    text : str
        E.g. ``dice=0.85`` (macro), ``dice:liver=0.9``, ``hd95:2=5``.
    kind : {"min", "max", "max_drop"}
        What the value bounds.
    option : str, optional
        Where the text came from, for messages (default the flag of ``kind``).

    Raises
    ------
    OptionError, UnknownMetricError
        Naming the option and the text.

    Examples
    --------
    >>> parse_check("dice:liver=0.9").label, parse_check("hd95:2=5", kind="max").label
    ('liver', 2)
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    where = option or _FLAGS[kind]
    raw = str(text).strip()
    lhs, sep, rhs = raw.rpartition("=")
    lhs, rhs = lhs.strip(), rhs.strip()
    if not sep or not lhs or not rhs:
        raise OptionError(f"{where} {raw}: expected METRIC[:LABEL]=VALUE, e.g. dice=0.85 or dice:liver=0.9")
    metric, colon, label_text = lhs.partition(":")
    metric, label_text = metric.strip().lower(), label_text.strip()
    _check_metric_name(metric, f"{where} {raw}")
    if colon and not label_text:
        raise OptionError(f"{where} {raw}: empty label after ':'; give a label number or name, or drop ':'")
    label: LabelKey | None = None
    if label_text:
        label = int(label_text) if _INT.fullmatch(label_text) else label_text
    if metric in CASE_METRICS and label is not None:
        raise OptionError(f"{where} {raw}: {metric} is one value per case; give it without a label")
    try:
        value = float(rhs)
    except ValueError:
        raise OptionError(f"{where} {raw}: {rhs!r} is not a number, e.g. {lhs}=0.85") from None
    if not math.isfinite(value):
        raise OptionError(f"{where} {raw}: the bar must be a finite number")
    if kind == "max_drop":
        if value < 0:
            raise OptionError(f"{where} {raw}: the allowed drop must be >= 0")
        if _higher_is_better(metric) is None:
            raise OptionError(f"{where} {raw}: {metric} has no better direction, so it cannot drop; "
                              "use --min/--max on it")
    return Check(kind=kind, metric=metric, label=label, value=value, source=where)


def parse_stat(text: str, option: str = "--stat") -> str:
    """Validate a statistic name: mean, median, min, max or pNN (0 <= NN <= 100)."""
    s = str(text).strip().lower()
    if s in ("mean", "median", "min", "max"):
        return s
    m = _PCT.fullmatch(s)
    if m and 0.0 <= float(m.group(1)) <= 100.0:
        return s
    raise OptionError(f"{option}: expected mean, median, min, max or pNN such as p5 or p95; got {text!r}")


def _check_metric_name(metric: str, where: str) -> None:
    if metric in METRICS or metric in CASE_METRICS:
        return
    known = [*METRICS, *CASE_METRICS]
    close = difflib.get_close_matches(metric, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise UnknownMetricError(f"{where}: unknown metric {metric!r}{hint} Known: {', '.join(known)}")


def _higher_is_better(metric: str) -> bool | None:
    if metric in CASE_METRICS:
        return True
    return METRICS[metric].higher_is_better


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class GateConfig:
    """Gate settings read from ``segeval.toml`` ``[gate]`` or ``pyproject.toml`` ``[tool.segeval.gate]``.

    Attributes
    ----------
    path : Path
        The file.
    section : str
        ``[gate]`` or ``[tool.segeval.gate]``.
    checks : list of Check
        ``min``, ``max`` and ``max_drop`` entries.
    stat, per_case, baseline, significant
        The file's values, None where not set (``baseline`` relative to the file's folder).
    """

    path: Path
    section: str
    checks: list[Check]
    stat: str | None = None
    per_case: bool | None = None
    baseline: Path | None = None
    significant: bool | None = None


def find_config(directory: str | Path | None = None) -> Path | None:
    """The gate configuration in ``directory`` (default the working directory), if any.

    ``segeval.toml`` wins; otherwise ``pyproject.toml`` when it has a
    ``[tool.segeval.gate]`` table.
    """
    folder = Path(directory) if directory is not None else Path.cwd()
    own = folder / CONFIG_FILE
    if own.is_file():
        return own
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        data = _load_toml(pyproject)
        tool = data.get("tool")
        seg = tool.get("segeval") if isinstance(tool, dict) else None
        if isinstance(seg, dict) and "gate" in seg:
            return pyproject
    return None


def read_config(path: str | Path) -> GateConfig:
    """Read and validate a gate configuration file.

    Raises
    ------
    ConfigError
        Naming the file, the key and what is wrong with its value.

    Examples
    --------
    A ``segeval.toml``::

        [gate]
        min = ["dice=0.85", "dice:liver=0.90"]   # or a table: min = { dice = 0.85 }
        max = { "hd95:liver" = 5.0 }
        stat = "mean"
        per_case = false
        baseline = "baseline/results.json"      # relative to this file
        max_drop = ["dice=0.01"]
        significant = true

    In ``pyproject.toml`` the same keys go under ``[tool.segeval.gate]``.
    """
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"--config {p}: no such file")
    if p.is_dir():
        raise ConfigError(f"--config {p}: is a folder; give segeval.toml or pyproject.toml")
    data = _load_toml(p)
    tool = data.get("tool")
    seg = tool.get("segeval") if isinstance(tool, dict) else None
    in_tool = isinstance(seg, dict) and "gate" in seg
    if p.name == "pyproject.toml" or ("gate" not in data and in_tool):
        section = "[tool.segeval.gate]"
        if not in_tool:
            raise ConfigError(f"{p}: no {section} table; put the gate checks there")
        table = seg["gate"]  # type: ignore[index]
    else:
        section = "[gate]"
        if "gate" not in data:
            found = ", ".join(repr(k) for k in data) or "nothing"
            raise ConfigError(f"{p}: no [gate] table (found {found}); put the gate checks under [gate]")
        table = data["gate"]
    where = f"{p} {section}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table of keys such as min = [\"dice=0.85\"]")
    checks: list[Check] = []
    values: dict[str, Any] = {}
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")
        if key not in CONFIG_KEYS:
            close = difflib.get_close_matches(key, CONFIG_KEYS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{where}: unknown key {raw_key!r}{hint} Known keys: {', '.join(CONFIG_KEYS)}")
        if key in values or (key in KINDS and any(c.kind == key for c in checks)):
            raise ConfigError(f"{where}: key {raw_key!r} given twice (as - and _ spellings)")
        if key in KINDS:
            checks.extend(_config_checks(value, key, f"{where} {raw_key}"))
        elif key == "stat":
            if not isinstance(value, str):
                raise ConfigError(f"{where} stat: expected a string such as \"mean\" or \"p5\"; got {value!r}")
            try:
                values["stat"] = parse_stat(value, f"{where} stat")
            except OptionError as exc:
                raise ConfigError(str(exc)) from None
        elif key in ("per_case", "significant"):
            if not isinstance(value, bool):
                raise ConfigError(f"{where} {raw_key}: expected true or false; got {value!r}")
            values[key] = value
        elif key == "baseline":
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{where} baseline: expected the path of a report; got {value!r}")
            base = Path(value)
            values["baseline"] = base if base.is_absolute() else p.parent / base
    return GateConfig(path=p, section=section, checks=checks, **values)


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _config_checks(value: Any, kind: str, where: str) -> list[Check]:
    example = "\"dice:liver=0.9\"" if kind != "max_drop" else "\"dice=0.01\""
    texts: list[str] = []
    if isinstance(value, str):
        texts = [value]
    elif isinstance(value, list):
        for item in value:
            if not isinstance(item, str):
                raise ConfigError(f"{where}: expected strings like {example}; got {item!r}")
            texts.append(item)
    elif isinstance(value, dict):
        for target, bar in value.items():
            if isinstance(bar, bool) or not isinstance(bar, (int, float)):
                raise ConfigError(f"{where}: {target!r} must be a number; got {bar!r}")
            texts.append(f"{target}={bar!r}")
    else:
        raise ConfigError(f"{where}: expected a list like [{example}] or a table; got {value!r}")
    out = []
    for text in texts:
        try:
            out.append(parse_check(text, kind=kind, option=where))
        except (OptionError, UnknownMetricError) as exc:
            raise ConfigError(str(exc)) from None
    return out


def checks_from_options(
    *,
    minimums: Iterable[str] = (),
    maximums: Iterable[str] = (),
    max_drops: Iterable[str] = (),
    stat: str | None = None,
    per_case: bool | None = None,
    baseline: Any = None,
    significant: bool | None = None,
    config: str | Path | None = None,
    discover: bool = False,
    cwd: str | Path | None = None,
    min_option: str = "--fail-under",
) -> list[Check]:
    """Checks from command-line options merged over a configuration file.

    Parameters
    ----------
    minimums, maximums, max_drops : iterable of str
        ``METRIC[:LABEL]=VALUE`` texts. A check given here replaces a
        configuration check of the same kind, metric and label.
    stat, per_case, baseline, significant : optional
        Override the configuration's values; None keeps them (or leaves them to
        :func:`judge`'s defaults).
    config : path, optional
        ``segeval.toml`` or ``pyproject.toml``.
    discover : bool
        Without ``config``, use :func:`find_config` in ``cwd`` (``segeval gate`` does;
        ``score``/``batch`` read a configuration only when given ``--config``).
    min_option : str
        Flag named in messages about ``minimums`` (``--min`` for ``gate``).

    Returns
    -------
    list of Check
        With ``stat``/``per_case``/``baseline``/``significant`` filled in where
        the options or the file set them. Empty when nothing was asked.

    Raises
    ------
    OptionError, ConfigError, UnknownMetricError
    """
    stat_value = parse_stat(stat) if stat is not None else None
    cfg: GateConfig | None = None
    if config is not None:
        cfg = read_config(config)
    elif discover:
        found = find_config(cwd)
        cfg = read_config(found) if found is not None else None
    given = [parse_check(t, kind="min", option=min_option) for t in minimums]
    given += [parse_check(t, kind="max") for t in maximums]
    given += [parse_check(t, kind="max_drop") for t in max_drops]
    seen = {(c.kind, c.metric, c.label) for c in given}
    checks = [c for c in (cfg.checks if cfg else []) if (c.kind, c.metric, c.label) not in seen] + given

    def pick(value: Any, key: str) -> Any:
        return value if value is not None else (getattr(cfg, key) if cfg is not None else None)

    eff_stat = pick(stat_value, "stat")
    eff_per_case = pick(per_case, "per_case")
    eff_baseline = pick(baseline, "baseline")
    eff_significant = pick(significant, "significant")
    has_drop = any(c.kind == "max_drop" for c in checks)
    where_cfg = f"{cfg.path} {cfg.section}" if cfg is not None else ""
    if has_drop and eff_baseline is None:
        raise OptionError("--max-drop needs --baseline OLD_REPORT (or baseline = \"...\" in the config)")
    if eff_baseline is not None and not has_drop:
        where = "--baseline" if baseline is not None else f"{where_cfg} baseline"
        raise OptionError(f"{where}: a baseline needs at least one --max-drop METRIC[:LABEL]=D check")
    if significant and not has_drop:
        raise OptionError("--significant applies to --max-drop checks; none given")
    out = []
    for c in checks:
        if c.kind == "max_drop":
            out.append(replace(c, baseline=eff_baseline, significant=eff_significant))
        else:
            out.append(replace(c, stat=c.stat or eff_stat,
                               per_case=c.per_case if c.per_case is not None else eff_per_case))
    return out


# --------------------------------------------------------------------------- reading reports


@dataclass
class ReportValues:
    """A report reduced to what the gate needs.

    Attributes
    ----------
    source : str
        File name (or "the report"), for messages.
    cases : list of str
        Ids of the scored cases, in report order.
    values : dict
        case -> label -> metric -> float (NaN where the report has none).
    case_values : dict
        case -> case-level metric (``generalized_dice``) -> float.
    labels : list
        Label keys (int labels, str regions) in order of first appearance.
    names : dict
        Label key -> name (or None).
    metrics : set of str
        Metrics the report holds.
    failed : dict
        case -> error, for cases that could not be scored, in report order.
    notes : list of str
        Things worth a warning (a truncated last line, duplicated cases).
    """

    source: str
    cases: list[str] = field(default_factory=list)
    values: dict[str, dict[LabelKey, dict[str, float]]] = field(default_factory=dict)
    case_values: dict[str, dict[str, float]] = field(default_factory=dict)
    labels: list[LabelKey] = field(default_factory=list)
    names: dict[LabelKey, str | None] = field(default_factory=dict)
    metrics: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def n_cases(self) -> int:
        """Scored plus failed cases."""
        return len(self.cases) + len(self.failed)

    def label_text(self, key: LabelKey | None) -> str:
        """``1 (liver)``, ``WT`` or ``macro``."""
        if key is None:
            return "macro"
        name = self.names.get(key)
        return f"{key} ({name})" if name and str(name) != str(key) else str(key)

    def per_case(self, metric: str, label: LabelKey | None) -> list[tuple[str, float]]:
        """(case, value) for every scored case; the macro value (mean over labels, NaN excluded) for None."""
        out = []
        for cid in self.cases:
            if metric in CASE_METRICS:
                v = self.case_values.get(cid, {}).get(metric, math.nan)
            elif label is None:
                vals = [r[metric] for r in self.values[cid].values() if not math.isnan(r.get(metric, math.nan))]
                v = math.fsum(vals) / len(vals) if vals else math.nan
            else:
                v = self.values[cid].get(label, {}).get(metric, math.nan)
            out.append((cid, v))
        return out


def read_report(report: Any) -> ReportValues:
    """Read a report: a path (JSON, JSON Lines, CSV; gzip-compressed too), a Report or its dict.

    Raises
    ------
    ReportError
        One line naming the file and the problem (missing, empty, garbled,
        not a segeval report, no cases).
    """
    if isinstance(report, ReportValues):
        return report
    if isinstance(report, (str, Path)):
        return _read_path(Path(report))
    if hasattr(report, "cases") and hasattr(report, "settings"):  # segeval.report.schema.Report
        return _from_case_dicts("the report", [c.to_dict() for c in report.cases],
                                report.settings, [])
    if isinstance(report, Mapping):
        return _from_json_obj("the report", report, [])
    raise TypeError(f"judge: expected a report path, Report or dict; got {type(report).__name__}")


def _read_path(path: Path) -> ReportValues:
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
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ReportError(f"{source}: truncated or corrupt gzip data ({exc})") from None
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
        return _from_json_obj(source, obj, notes)
    return _from_csv(source, text, notes)


def _from_json_obj(source: str, obj: Any, notes: list[str]) -> ReportValues:
    if isinstance(obj, Mapping) and isinstance(obj.get("cases"), list):
        return _from_case_dicts(source, obj["cases"], obj.get("settings"), notes)
    if isinstance(obj, Mapping) and "case" in obj:
        return _from_case_dicts(source, [obj], None, notes)
    if isinstance(obj, list) and all(isinstance(c, Mapping) for c in obj):
        return _from_case_dicts(source, obj, None, notes)
    if isinstance(obj, Mapping) and "metric_per_case" in obj:
        raise ReportError(f"{source}: is nnU-Net's summary.json; gate reads segeval's report (batch -o results.json)")
    raise ReportError(f"{source}: not a segeval report (no \"cases\" list); give the file score/batch wrote with -o")


def _from_jsonl(source: str, text: str, notes: list[str]) -> ReportValues:
    lines = text.splitlines()
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    cases: list[Any] = []
    settings = None
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            if i == last and cases:
                notes.append(f"{source}: line {i + 1} is incomplete (an interrupted run?) and was ignored")
                continue
            raise ReportError(f"{source}: line {i + 1} is not valid JSON ({exc.msg} at column {exc.colno})") from None
        if isinstance(obj, Mapping) and "case" in obj:
            cases.append(obj)
        elif isinstance(obj, Mapping) and isinstance(obj.get("cases"), list):
            cases.extend(obj["cases"])
        elif isinstance(obj, Mapping) and settings is None and isinstance(obj.get("settings"), Mapping):
            settings = obj["settings"]
    return _from_case_dicts(source, cases, settings, notes)


def _label_key(value: Any) -> LabelKey:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip()
    return int(text) if _INT.fullmatch(text) else text


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


def _add_case(out: ReportValues, cid: str, error: str | None,
              records: list[tuple[LabelKey, str | None, dict[str, float]]],
              case_metrics: dict[str, float], seen: dict[str, int]) -> None:
    seen[cid] = seen.get(cid, 0) + 1
    if seen[cid] == 2:
        out.notes.append(f"{out.source}: case {cid} appears more than once; the last entry is used")
    if cid in out.values:
        out.cases.remove(cid)
        del out.values[cid]
        out.case_values.pop(cid, None)
    out.failed.pop(cid, None)
    if error:
        out.failed[cid] = " ".join(str(error).split())
        return
    out.cases.append(cid)
    out.values[cid] = {}
    for key, name, vals in records:
        if key not in out.names:
            out.labels.append(key)
            out.names[key] = name
        elif out.names[key] is None and name:
            out.names[key] = name
        out.values[cid][key] = vals
        out.metrics.update(vals)
    out.case_values[cid] = case_metrics


def _from_case_dicts(source: str, cases: Sequence[Any], settings: Any, notes: list[str]) -> ReportValues:
    out = ReportValues(source=source, notes=notes)
    seen: dict[str, int] = {}
    for i, c in enumerate(cases):
        if not isinstance(c, Mapping) or c.get("case") is None:
            raise ReportError(f"{source}: case #{i + 1} has no \"case\" id; is this a segeval report?")
        cid = str(c["case"])
        labels = c.get("labels") or []
        if not isinstance(labels, list):
            raise ReportError(f"{source}: case {cid}: \"labels\" must be a list of label records")
        records = []
        for r in labels:
            if not isinstance(r, Mapping) or "label" not in r or r["label"] is None:
                raise ReportError(f"{source}: case {cid}: a label record has no \"label\"")
            key = _label_key(r["label"])
            where = f"{source}: case {cid}, label {key}"
            vals = {m: _number(v, f"{where}, {m}") for m, v in r.items() if m in METRICS}
            name = r.get("name")
            records.append((key, str(name) if name not in (None, "") else None, vals))
        case_metrics = {m: _number(c[m], f"{source}: case {cid}, {m}") for m in CASE_METRICS if m in c}
        _add_case(out, cid, c.get("error"), records, case_metrics, seen)
    if isinstance(settings, Mapping):
        out.metrics.update(m for m in settings.get("metrics") or [] if m in METRICS)
        label_names = settings.get("label_names")
        if isinstance(label_names, Mapping):  # names the records left out
            for k, name in label_names.items():
                key = _label_key(k)
                if key in out.names and out.names[key] is None and name:
                    out.names[key] = str(name)
    if out.n_cases == 0:
        raise ReportError(f"{source}: the report has no cases")
    return out


def _from_csv(source: str, text: str, notes: list[str]) -> ReportValues:
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
    grouped: dict[str, tuple[str | None, list[tuple[LabelKey, str | None, dict[str, float]]]]] = {}
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
            grouped[cid] = (error, [])
            continue
        label_cell = row[i_label].strip()
        if not label_cell:
            raise ReportError(f"{source}: line {lineno} (case {cid}) has no label and no error")
        key = _label_key(label_cell)
        vals = {m: _number(row[i], f"{source}: line {lineno}, column {m}") for i, m in metric_cols}
        name = row[i_name].strip() if i_name is not None else ""
        _, records = grouped.pop(cid, (None, []))
        grouped[cid] = (None, [r for r in records if r[0] != key] + [(key, name or None, vals)])
    out = ReportValues(source=source, notes=notes)
    seen: dict[str, int] = {}
    for cid, (case_error, records) in grouped.items():
        _add_case(out, cid, case_error, records, {}, seen)
    out.metrics.update(m for _, m in metric_cols)
    if out.n_cases == 0:
        raise ReportError(f"{source}: the report has no cases (only a header)")
    return out


# --------------------------------------------------------------------------- judging


@dataclass
class CheckResult:
    """The outcome of one :class:`Check`.

    Attributes
    ----------
    check : Check
        The check, as judged.
    stat : str
        The statistic judged: ``mean``, ``p5``..., ``per case`` (the worst case
        is ``value``) or ``mean change`` (``max_drop``).
    label : int, str or None
        The report's label key the check resolved to (None: macro).
    label_text : str
        ``1 (liver)``, ``WT`` or ``macro``.
    value : float
        The statistic (``max_drop``: the current report's mean over paired cases).
    bar : float
        The check's value.
    passed : bool
    reason : str
        One line saying why it passed or failed.
    n, n_nan : int
        Cases with a value / without one (NaN or label absent); pairs for ``max_drop``.
    failing_cases, failing_values : list
        Cases that miss the bar, worst first (``per_case``; for a failed
        ``max_drop``, the cases whose own drop exceeds the bar).
    change, ci_low, ci_high, p_value : float or None
        ``max_drop``: mean paired change (current - baseline, signed), its bootstrap
        95% interval and the two-sided paired Wilcoxon signed-rank p-value.
    baseline_value : float or None
        ``max_drop``: the baseline's mean over the paired cases.
    significant : bool or None
        ``max_drop``: the change is a drop with p < 0.05.
    """

    check: Check
    stat: str
    label: LabelKey | None
    label_text: str
    value: float
    bar: float
    passed: bool
    reason: str
    n: int = 0
    n_nan: int = 0
    failing_cases: list[str] = field(default_factory=list)
    failing_values: list[float] = field(default_factory=list)
    change: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    baseline_value: float | None = None
    significant: bool | None = None

    @property
    def title(self) -> str:
        """Stable one-line name, e.g. ``dice:liver mean >= 0.85`` (JUnit test names)."""
        c = self.check
        if c.kind == "max_drop":
            tail = " if significant" if c.significant else ""
            return f"{c.target} drop <= {_fmt_bar(c.value)} vs baseline{tail}"
        op = ">=" if c.kind == "min" else "<="
        stat = "every case" if self.stat == "per case" else self.stat
        return f"{c.target} {stat} {op} {_fmt_bar(c.value)}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (non-finite numbers still floats; see :func:`segeval.report.schema.jsonable`)."""
        c = self.check
        return {
            "title": self.title, "kind": c.kind, "metric": c.metric,
            "label": self.label, "label_text": self.label_text, "stat": self.stat,
            "value": self.value, "bar": self.bar, "passed": self.passed, "reason": self.reason,
            "n": self.n, "n_nan": self.n_nan,
            "failing_cases": [{"case": k, "value": v} for k, v in zip(self.failing_cases, self.failing_values)],
            "change": self.change, "ci_low": self.ci_low, "ci_high": self.ci_high,
            "p_value": self.p_value, "baseline_value": self.baseline_value,
            "significant": self.significant,
        }


@dataclass
class GateResult:
    """Every check's outcome, and what the reports held.

    Attributes
    ----------
    checks : list of CheckResult
    report : str
        The judged report.
    n_cases : int
        Cases in the report, failed ones included.
    failed_cases : list of (case, error)
        Cases the report records as failed to score.
    baseline : str or None
    only_in_report, only_in_baseline : list of str
        Case ids that could not be paired with the baseline.
    notes : list of str
        Warnings about the inputs.
    """

    checks: list[CheckResult]
    report: str
    n_cases: int
    failed_cases: list[tuple[str, str]] = field(default_factory=list)
    baseline: str | None = None
    only_in_report: list[str] = field(default_factory=list)
    only_in_baseline: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return all(c.passed for c in self.checks)

    @property
    def n_failed(self) -> int:
        """Number of checks that failed."""
        return sum(not c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (pass through ``jsonable`` for strict JSON)."""
        return {
            "passed": self.passed, "report": self.report, "n_cases": self.n_cases,
            "n_checks": len(self.checks), "n_failed_checks": self.n_failed,
            "failed_cases": [{"case": k, "error": e} for k, e in self.failed_cases],
            "baseline": self.baseline,
            "only_in_report": list(self.only_in_report), "only_in_baseline": list(self.only_in_baseline),
            "checks": [c.to_dict() for c in self.checks],
            "notes": list(self.notes),
        }


def judge(
    report: Any,
    checks: Iterable[object],
    *,
    stat: str = "mean",
    per_case: bool = False,
    baseline: Any = None,
    significant: bool = False,
    seed: int = 0,
) -> GateResult:
    """Judge a report against checks.

    Parameters
    ----------
    report : path, Report, dict or ReportValues
        JSON, JSON Lines or CSV written by ``score``/``batch``, or the objects.
    checks : iterable of Check
        See :func:`parse_check`, :func:`checks_from_options`.
    stat : str
        Statistic over cases for checks that do not set one: mean, median, min, max, pNN.
    per_case : bool
        Every case must meet the bar, for ``min``/``max`` checks that do not say.
    baseline : path, Report or dict, optional
        Earlier report for ``max_drop`` checks that do not name one.
    significant : bool
        ``max_drop`` fails only when the drop is significant (Wilcoxon p < 0.05),
        for checks that do not say.
    seed : int
        Seed of the bootstrap (the output is deterministic).

    Returns
    -------
    GateResult
        ``.passed`` is True when every check passed.

    Raises
    ------
    ReportError
        A report cannot be read.
    OptionError
        A check names a metric or label the report does not have, or a
        ``max_drop`` check has no baseline.

    Examples
    --------
    >>> rep = {"cases": [{"case": "a", "labels": [{"label": 1, "name": "liver", "dice": 0.9}]},
    ...                  {"case": "b", "labels": [{"label": 1, "name": "liver", "dice": 0.8}]}]}
    >>> r = judge(rep, [parse_check("dice:liver=0.8")])
    >>> r.passed, round(r.checks[0].value, 2)
    (True, 0.85)
    """
    default_stat = parse_stat(stat, "stat")
    data = read_report(report)
    results: list[CheckResult] = []
    baselines: dict[Any, ReportValues] = {}
    base_used: ReportValues | None = None
    for c in checks:
        if not isinstance(c, Check):
            raise TypeError(f"judge: checks must be Check objects (see parse_check); got {c!r}")
        if c.kind == "max_drop":
            b = c.baseline if c.baseline is not None else baseline
            if b is None:
                raise OptionError(f"{c}: needs a baseline report (--baseline OLD_REPORT)")
            bkey = str(b) if isinstance(b, (str, Path)) else id(b)
            if bkey not in baselines:
                baselines[bkey] = read_report(b)
            base_used = base_used or baselines[bkey]
            sig = c.significant if c.significant is not None else significant
            results.append(_judge_drop(data, baselines[bkey], c, significant=sig, seed=seed))
        else:
            results.append(_judge_bar(
                data, c, stat=parse_stat(c.stat, "stat") if c.stat else default_stat,
                per_case=c.per_case if c.per_case is not None else per_case,
            ))
    out = GateResult(checks=results, report=data.source, n_cases=data.n_cases,
                     failed_cases=list(data.failed.items()), notes=list(data.notes))
    if base_used is not None:
        new_ids = set(data.cases) | set(data.failed)
        old_ids = set(base_used.cases) | set(base_used.failed)
        out.baseline = base_used.source
        out.only_in_report = [k for k in [*data.cases, *data.failed] if k not in old_ids]
        out.only_in_baseline = [k for k in [*base_used.cases, *base_used.failed] if k not in new_ids]
        out.notes.extend(n for b in baselines.values() for n in b.notes)
    return out


def _resolve(data: ReportValues, check: Check) -> LabelKey | None:
    """The report's label key for a check (None: macro); errors name what the report has."""
    if check.metric not in data.metrics and not (
        check.metric in CASE_METRICS and any(check.metric in v for v in data.case_values.values())
    ):
        have = ", ".join(sorted(data.metrics)) or "none"
        hint = "" if check.metric in CASE_METRICS else f"; score with --metrics including {check.metric}"
        raise OptionError(f"{check}: {data.source} has no {check.metric} values (it has {have}){hint}")
    if check.label is None:
        return None
    labels = ", ".join(data.label_text(k) for k in data.labels) or "none"
    if isinstance(check.label, int):
        if check.label in data.names:
            return check.label
        raise OptionError(f"{check}: label {check.label} is not in {data.source} (labels: {labels})")
    text = str(check.label)
    hits = [k for k in data.labels if str(k) == text or data.names.get(k) == text]
    if not hits:
        low = text.casefold()
        hits = [k for k in data.labels
                if str(k).casefold() == low or (data.names.get(k) or "").casefold() == low]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise OptionError(f"{check}: label {text!r} is ambiguous in {data.source} "
                          f"({', '.join(data.label_text(k) for k in hits)}); give the number")
    raise OptionError(f"{check}: label {text!r} is not in {data.source} (labels: {labels})")


def _meets(value: float, bar: float, kind: str) -> bool:
    if math.isnan(value):
        return False
    if math.isclose(value, bar, rel_tol=_REL_TOL, abs_tol=_REL_TOL):
        return True  # a mean that lands on the bar up to rounding meets it
    return value >= bar if kind == "min" else value <= bar


def statistic(values: Sequence[float], stat: str) -> float:
    """mean, median, min, max or pNN (linear interpolation, as NumPy) of non-NaN values; NaN if none.

    Examples
    --------
    >>> statistic([1.0, 2.0, 3.0, 4.0], "p25"), statistic([1.0, float("inf")], "mean")
    (1.75, inf)
    """
    vals = sorted(v for v in values if not math.isnan(v))
    if not vals:
        return math.nan
    if stat == "mean":
        return math.fsum(vals) / len(vals)
    if stat == "min":
        return vals[0]
    if stat == "max":
        return vals[-1]
    q = 50.0 if stat == "median" else float(stat[1:])
    pos = q / 100.0 * (len(vals) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(vals) - 1)
    frac = pos - lo
    if frac == 0.0 or vals[lo] == vals[hi]:
        return vals[lo]
    return vals[lo] + (vals[hi] - vals[lo]) * frac


def _judge_bar(data: ReportValues, check: Check, *, stat: str, per_case: bool) -> CheckResult:
    op, anti = (">=", "<") if check.kind == "min" else ("<=", ">")
    if not data.cases:
        return CheckResult(check, "per case" if per_case else stat, None, _macro_or(check), math.nan,
                           check.value, False, f"no case was scored ({len(data.failed)} failed)",
                           n_nan=0, failing_cases=list(data.failed),
                           failing_values=[math.nan] * len(data.failed))
    key = _resolve(data, check)
    pairs = data.per_case(check.metric, key)
    valid = [(cid, v) for cid, v in pairs if not math.isnan(v)]
    n, n_nan = len(valid), len(pairs) - len(valid)
    label_text = data.label_text(key)
    failed_note = f"; {plural(len(data.failed), 'case')} failed to score" if data.failed else ""
    if per_case:
        sign = 1.0 if check.kind == "min" else -1.0  # worst first: lowest for min, highest for max
        bad = sorted((p for p in valid if not _meets(p[1], check.value, check.kind)), key=lambda p: sign * p[1])
        failing = bad + [(cid, math.nan) for cid in data.failed]
        value = (min if check.kind == "min" else max)(v for _, v in valid) if valid else math.nan
        if n == 0:
            passed, reason = False, _no_value(check, label_text, n_nan) + failed_note
        elif not failing:
            passed, reason = True, f"all {n} cases {op} {_fmt_bar(check.value)} (worst {_fmt(value)})"
        else:
            passed = False
            parts = []
            if bad:
                parts.append(f"{len(bad)} of {n} cases {anti} {_fmt_bar(check.value)} (worst {_fmt(value)})")
            if data.failed:
                parts.append(f"{plural(len(data.failed), 'case')} failed to score")
            reason = "; ".join(parts)
        if n_nan and n:
            reason += f"; {n_nan} NaN not judged"
        return CheckResult(check, "per case", key, label_text, value, check.value, passed, reason, n, n_nan,
                           [c for c, _ in failing], [v for _, v in failing])
    value = statistic([v for _, v in valid], stat)
    if n == 0:
        passed, reason = False, _no_value(check, label_text, n_nan)
    else:
        passed = _meets(value, check.value, check.kind)
        reason = f"{stat} {_fmt(value)} {op if passed else anti} {_fmt_bar(check.value)} over {n} cases"
        if n_nan:
            reason += f" ({n_nan} NaN excluded)"
    return CheckResult(check, stat, key, label_text, value, check.value, passed, reason + failed_note, n, n_nan)


def _macro_or(check: Check) -> str:
    return "macro" if check.label is None else str(check.label)


def _no_value(check: Check, label_text: str, n_nan: int) -> str:
    return f"no valid value: {check.metric} of {label_text} is NaN or absent in all {n_nan} scored cases"


def _judge_drop(new: ReportValues, old: ReportValues, check: Check, *, significant: bool, seed: int) -> CheckResult:
    better = _higher_is_better(check.metric)
    sign = 1.0 if better else -1.0  # drop = -sign * change
    stat = "mean change"
    if not new.cases or not old.cases:
        which = new.source if not new.cases else old.source
        return CheckResult(check, stat, None, _macro_or(check), math.nan, check.value, False,
                           f"no case was scored in {which}")
    key_new = _resolve(new, check)
    key_old = _resolve(old, check)
    label_text = new.label_text(key_new)
    new_vals = dict(new.per_case(check.metric, key_new))
    old_vals = dict(old.per_case(check.metric, key_old))
    old_ids = set(old.cases) | set(old.failed)
    matched = [k for k in [*new.cases, *new.failed] if k in old_ids]
    pairs = [(k, new_vals[k], old_vals[k]) for k in matched
             if k in new_vals and k in old_vals and not math.isnan(new_vals[k]) and not math.isnan(old_vals[k])]
    n, n_nan = len(pairs), len(matched) - len(pairs)
    if not matched:
        return CheckResult(check, stat, key_new, label_text, math.nan, check.value, False,
                           f"no case id in common with the baseline {old.source}", 0, 0)
    if n == 0:
        return CheckResult(check, stat, key_new, label_text, math.nan, check.value, False,
                           f"no valid value: no matched case has {check.metric} of {label_text} in both reports",
                           0, n_nan)
    diffs = [0.0 if a == b else a - b for _, a, b in pairs]
    change = math.fsum(diffs) / n
    drop = -sign * change
    ci_low, ci_high = bootstrap_ci(diffs, seed=seed)
    p = wilcoxon_p(diffs)
    is_sig = drop > 0 and p < SIGNIFICANCE
    too_big = drop > check.value and not math.isclose(drop, check.value, rel_tol=_REL_TOL, abs_tol=_REL_TOL)
    passed = not too_big or (significant and not is_sig)
    ci = f"95% CI {_fmt(ci_low, signed=True)} to {_fmt(ci_high, signed=True)}, p={_fmt_p(p)}"
    if not too_big:
        reason = f"change {_fmt(change, signed=True)} ({ci}); allowed drop {_fmt_bar(check.value)}"
    elif passed:
        reason = (f"dropped by {_fmt(drop)} > {_fmt_bar(check.value)} but not significantly "
                  f"({ci}; needs p < {SIGNIFICANCE})")
    else:
        reason = f"dropped by {_fmt(drop)} > {_fmt_bar(check.value)} ({ci})"
    reason += f" over {n} paired cases"
    if n_nan:
        reason += f" ({n_nan} without a value in both excluded)"
    failing: list[tuple[str, float]] = []
    if not passed:
        per = [(k, -sign * (0.0 if a == b else a - b)) for k, a, b in pairs]
        failing = sorted((p_ for p_ in per if p_[1] > check.value), key=lambda p_: -p_[1])
    return CheckResult(
        check, stat, key_new, label_text, math.fsum(a for _, a, _ in pairs) / n, check.value, passed, reason,
        n, n_nan, [k for k, _ in failing], [-sign * v for _, v in failing],
        change=change, ci_low=ci_low, ci_high=ci_high, p_value=p,
        baseline_value=math.fsum(b for _, _, b in pairs) / n, significant=is_sig,
    )


def bootstrap_ci(diffs: Sequence[float], *, seed: int = 0, samples: int = BOOTSTRAP_SAMPLES,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of paired differences (deterministic for a seed).

    NaN bounds when a difference is infinite (the mean has no interval then).

    Examples
    --------
    >>> bootstrap_ci([0.5] * 10)
    (0.5, 0.5)
    """
    import numpy as np

    arr = np.asarray(diffs, dtype=np.float64)
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        return (math.nan, math.nan)
    if arr.size == 1 or np.all(arr == arr[0]):
        return (float(arr[0]), float(arr[0]))
    rng = np.random.default_rng(seed)
    chunk = max(1, 4_000_000 // arr.size)  # bounded memory for large reports
    means = np.empty(samples, dtype=np.float64)
    for start in range(0, samples, chunk):
        stop = min(samples, start + chunk)
        idx = rng.integers(0, arr.size, size=(stop - start, arr.size))
        means[start:stop] = arr[idx].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return (float(lo), float(hi))


def wilcoxon_p(diffs: Sequence[float]) -> float:
    """Two-sided paired Wilcoxon signed-rank p-value of differences (SciPy); 1 when all are zero.

    Examples
    --------
    >>> wilcoxon_p([0.0, 0.0, 0.0])
    1.0
    """
    nonzero = [d for d in diffs if d != 0.0 and not math.isnan(d)]
    if not nonzero:
        return 1.0
    from scipy.stats import wilcoxon

    # Zeros are dropped (Wilcoxon's convention). The exact null distribution for
    # small samples without ties; otherwise the normal approximation with the tie
    # correction (SciPy's "auto" can take seconds on tied data).
    exact = len(nonzero) <= 50 and len({abs(d) for d in nonzero}) == len(nonzero)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = wilcoxon(nonzero, method="exact" if exact else "approx")
    p = float(res.pvalue)
    return 1.0 if math.isnan(p) else p


# --------------------------------------------------------------------------- text


def plural(n: int, word: str) -> str:
    """``1 case``, ``2 cases``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _fmt(v: float | None, *, signed: bool = False) -> str:
    """Compact number text for reasons: 4 decimals under 10, fewer above; NaN, inf spelled."""
    if v is None or math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return ("+inf" if signed else "inf") if v > 0 else "-inf"
    digits = 4 if abs(v) < 10 else (2 if abs(v) < 1000 else 0)
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _fmt_bar(v: float) -> str:
    """A bar as the user wrote it (0.85, 5), without float noise."""
    return f"{v:g}" if abs(v) < 1e6 else repr(v)


def _fmt_p(p: float) -> str:
    return "NaN" if math.isnan(p) else (f"{p:.2g}" if p < 0.001 else f"{p:.3f}")
