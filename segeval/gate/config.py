"""Gate settings from ``segeval.toml`` ``[gate]`` or ``pyproject.toml`` ``[tool.segeval.gate]``,
and the merge of command-line checks over them (:func:`checks_from_options`)."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from segeval.errors import ConfigError, OptionError, UnknownMetricError
from segeval.gate.checks import KINDS, Check, parse_check, parse_stat

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["CONFIG_FILE", "CONFIG_KEYS", "GateConfig", "checks_from_options", "find_config", "read_config"]

CONFIG_FILE = "segeval.toml"
CONFIG_KEYS: tuple[str, ...] = ("min", "max", "max_drop", "stat", "per_case", "baseline", "significant")


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
        raise ConfigError(f"{path}: not valid TOML ({' '.join(str(exc).split())[:160]})") from None
    except RecursionError:
        raise ConfigError(f"{path}: not a configuration segeval reads (nested too deeply)") from None
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
