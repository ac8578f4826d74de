"""The one number formatter of every report, table and gate message.

:func:`fmt_number` writes a value the way every output needs it: NaN and
infinity spelled out (never ``nan`` from Python's ``format``), integers as
integers, a fixed number of decimals or of significant digits, a sign on
request. The few named presets below only choose its arguments.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["fmt_bar", "fmt_number", "fmt_p", "fmt_reason", "metric_decimals"]


def fmt_number(
    v: Any,
    digits: int | None = 4,
    *,
    signed: bool = False,
    nan: str = "",
    significant: bool = False,
) -> str:
    """Text of a value.

    Parameters
    ----------
    v : number, None or other
        None and NaN give ``nan``; infinities ``inf``/``-inf`` (``+inf`` when
        ``signed``); ints and bools their plain text; anything else ``str``.
    digits : int or None
        Decimals (or significant digits with ``significant``). None: the
        shortest text that reads back to the same float (``repr``), an
        integral float without ``.0`` (as CSV cells are written).
    signed : bool
        A ``+`` before positive values.
    nan : str
        Text of None and NaN: ``""`` in CSV and Markdown cells, ``"NaN"`` in messages.
    significant : bool
        ``digits`` counts significant digits (``%g``), not decimals.

    Examples
    --------
    >>> fmt_number(0.91234), fmt_number(float("nan")), fmt_number(float("inf"), signed=True)
    ('0.9123', '', '+inf')
    >>> fmt_number(3.0, None), fmt_number(0.1 + 0.2, None), fmt_number(-0.5, 2, signed=True)
    ('3', '0.30000000000000004', '-0.50')
    """
    if v is None:
        return nan
    if isinstance(v, (bool, int)):
        return str(v)
    if not isinstance(v, float):
        try:
            v = float(v)  # NumPy scalars
        except (TypeError, ValueError):
            return str(v)
    if math.isnan(v):
        return nan
    if math.isinf(v):
        return ("+inf" if signed else "inf") if v > 0 else "-inf"
    sign = "+" if signed else ""
    if digits is None:
        if v.is_integer() and abs(v) < 1e15:
            return f"{int(v):{sign}d}"
        text = repr(v)
        return f"+{text}" if signed and v >= 0 else text
    return f"{v:{sign}.{digits}{'g' if significant else 'f'}}"


def metric_decimals(unit: str) -> int:
    """Decimals a metric's value gets in gate tables: 2 for mm and ml, 4 for ratios."""
    return 2 if unit in ("mm", "ml") else 4


def fmt_reason(v: float | None, *, signed: bool = False, decimals: int | None = None) -> str:
    """A value inside a sentence: ``NaN`` spelled, 4 decimals under 10, 2 under 1000, none above.

    ``decimals`` fixes the decimals below 1000 instead (a metric's unit decides them in tables).
    """
    if v is None or math.isnan(v) or math.isinf(v):
        return fmt_number(v, signed=signed, nan="NaN")
    if abs(v) >= 1000:
        digits = 0
    elif decimals is not None:
        digits = decimals
    else:
        digits = 4 if abs(v) < 10 else 2
    return fmt_number(v, digits, signed=signed, nan="NaN")


def fmt_bar(v: float) -> str:
    """A bar as the user wrote it (``0.85``, ``5``), without float noise."""
    return fmt_number(v, 6, significant=True) if abs(v) < 1e6 else fmt_number(v, None)


def fmt_p(p: float | None) -> str:
    """A p-value: 3 decimals, or 2 significant digits below 0.001."""
    if p is None:
        return ""
    if not math.isnan(p) and p < 0.001:
        return fmt_number(p, 2, significant=True)
    return fmt_number(p, 3, nan="NaN")
