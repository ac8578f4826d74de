"""A ranking as CSV, JSON or Markdown, each stating how it was made.

CSV is one row per submission, best first (the columns of
:meth:`~segeval.ranking.run.Ranking.to_frame`), followed by the settings as
columns repeated on every row (``metrics``, ``scheme``, ``aggregate``, ``ties``,
``missing``, ``directions``, ``worst_values``, ``alpha``, ``p_adjust``,
``bootstrap``, ``seed``), so that the file alone says how to make it again.
JSON is :meth:`~segeval.ranking.run.Ranking.to_dict`; Markdown a table, the
settings and the notes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from segeval.ranking.run import Ranking
from segeval.report.numbers import fmt_number

__all__ = ["RANK_FORMATS", "SETTING_COLUMNS", "render_ranking", "setting_text", "to_csv", "to_json", "to_markdown"]

RANK_FORMATS: tuple[str, ...] = ("table", "csv", "json", "md")
#: The settings every CSV row repeats.
SETTING_COLUMNS: tuple[str, ...] = ("metrics", "scheme", "aggregate", "ties", "missing", "directions", "worst_values",
                                    "alpha", "p_adjust", "bootstrap", "seed")


def setting_text(value: Any) -> str:
    """A setting in one cell: ``dice: higher; hd95: lower``, empty for None.

    Examples
    --------
    >>> setting_text({"dice": "higher", "hd95": "lower"}), setting_text(None), setting_text(0.05)
    ('dice: higher; hd95: lower', '', '0.05')
    """
    if value is None:
        return ""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {setting_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(setting_text(v) for v in value)
    if isinstance(value, float):
        return fmt_number(value, None)
    return str(value)


def _cell(value: Any) -> str:
    return fmt_number(value, None) if isinstance(value, float) else str(value)


def to_csv(ranking: Ranking) -> str:
    """One row per submission, best first, then the settings columns (:data:`SETTING_COLUMNS`)."""
    rows = ranking.rows()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = list(rows[0]) if rows else []
    writer.writerow([*header, *SETTING_COLUMNS])
    settings = [setting_text(ranking.settings.get(k)) for k in SETTING_COLUMNS]
    for row in rows:
        writer.writerow([*(_cell(row[k]) for k in header), *settings])
    return buf.getvalue()


def to_json(ranking: Ranking) -> str:
    """:meth:`Ranking.to_dict` as indented strict JSON."""
    return json.dumps(ranking.to_dict(), indent=2, allow_nan=False) + "\n"


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _shown(key: str, value: Any) -> str:
    if isinstance(value, float):
        return fmt_number(value, 2 if key.endswith(("rank", "_low", "_high")) else 4)
    return str(value)


def to_markdown(ranking: Ranking) -> str:
    """A Markdown table, best first, then the settings and notes as a list."""
    rows = ranking.rows()
    header = list(rows[0]) if rows else []
    lines = [_md_row(header), _md_row(["---"] * len(header))]
    lines += [_md_row([_shown(k, row[k]) for k in header]) for row in rows]
    lines += ["", "Settings:", ""]
    lines += [f"- {k}: {setting_text(v)}" for k, v in ranking.settings.items() if v is not None]
    if ranking.stability is not None:
        tau = ranking.stability.tau_summary()
        lines.append(f"- Kendall's tau (bootstrap vs full ranking): median {fmt_number(tau['median'], 3)}, "
                     f"IQR {fmt_number(tau['q25'], 3)} to {fmt_number(tau['q75'], 3)}")
    lines += [f"- note: {n}" for n in ranking.notes]
    return "\n".join(lines) + "\n"


def render_ranking(ranking: Ranking, fmt: str) -> str:
    """The ranking in ``fmt`` (``csv``, ``json`` or ``md``)."""
    if fmt == "csv":
        return to_csv(ranking)
    if fmt == "json":
        return to_json(ranking)
    if fmt == "md":
        return to_markdown(ranking)
    raise ValueError(f"unknown ranking format {fmt!r}")
