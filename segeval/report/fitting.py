"""Tables that never cut a number: columns measured from their content, folded into blocks to fit.

A table is a list of :class:`Column` (key columns such as Label and Name
repeated in every block, then value columns). :func:`fitted_tables` measures
every column from its header and cells, and when the whole table is wider
than the terminal, it folds the value columns into blocks that fit, each
block repeating the key columns. Only a foldable column (a name) may wrap
inside its cell; a number is never cropped, and no column is ever dropped.
Built here, printed only by the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

__all__ = ["GAP", "Column", "fitted_tables", "table_width"]

#: Spaces between two columns (padding 1 on each side, none at the edges).
GAP = 2
#: A foldable (name) column is never folded narrower than this.
_MIN_FOLD = 8


@dataclass
class Column:
    """One column: its header, one cell per row, and how it may be laid out.

    Attributes
    ----------
    header : str
        Header text (bold).
    cells : list of Text or str
        One cell per row, in row order.
    justify : {"left", "right"}
        Alignment of the header and cells.
    key : bool
        Repeated in every block when the table is folded (Label, Name, Case).
    fold : bool
        May wrap inside its cell when space is short (names only; never numbers).
    """

    header: str
    cells: list[Text | str] = field(default_factory=list)
    justify: Literal["left", "right"] = "right"
    key: bool = False
    fold: bool = False

    def width(self) -> int:
        """The widest of the header and the cells' lines, in terminal cells."""
        texts = [self.header, *(c.plain if isinstance(c, Text) else c for c in self.cells)]
        return max(cell_len(line) for t in texts for line in (t.split("\n") or [""]))


def table_width(widths: Sequence[int]) -> int:
    """The width of a table whose columns are ``widths`` wide (:data:`GAP` between them)."""
    return sum(widths) + GAP * max(len(widths) - 1, 0)


def _blocks(values: Sequence[int], room: int) -> list[list[int]]:
    """Indexes of value columns packed greedily, in order, into blocks at most ``room`` wide (one at least)."""
    blocks: list[list[int]] = []
    used = room + 1
    for i, w in enumerate(values):
        need = w + GAP
        if blocks and used + need <= room:
            blocks[-1].append(i)
            used += need
        else:
            blocks.append([i])
            used = need
    return blocks


def _table(columns: Sequence[Column], widths: Sequence[int], rows: int, sections: Sequence[int]) -> Table:
    table = Table(header_style="bold", show_edge=False, pad_edge=False, box=None, expand=False)
    for col, w in zip(columns, widths):
        if col.fold:
            table.add_column(col.header, justify=col.justify, overflow="fold", min_width=w, max_width=w)
        else:
            # As wide as its widest cell, so never cut; "fold" only acts on a terminal narrower than
            # one block, where splitting a number across lines beats cropping it or an ellipsis.
            table.add_column(col.header, justify=col.justify, no_wrap=True, overflow="fold", min_width=w)
    for r in range(rows):
        if r in sections:
            table.add_section()
        table.add_row(*[col.cells[r] for col in columns])
    return table


def fitted_tables(
    columns: Sequence[Column],
    *,
    width: int | None,
    title: str | None = None,
    caption: str | None = None,
    sections: Sequence[int] = (),
) -> list[Any]:
    """Rich tables showing every cell of ``columns`` whole, within ``width`` terminal cells where they can.

    Parameters
    ----------
    columns : sequence of Column
        Key columns first (repeated in each block), then value columns; all with the same number of cells.
    width : int or None
        The terminal's width; None (stdout is a file or a pipe): one table, as wide as its content.
    title, caption : str, optional
        Above the first block, below the last.
    sections : sequence of int
        Row indexes before which a section line (the macro rows) goes.

    Returns
    -------
    list
        One table when it fits (or ``width`` is None); else one per block of
        value columns, each repeating the key columns, with a blank line between.
        A block holds one value column at least, so a terminal narrower than
        that wraps lines rather than lose a digit.
    """
    rows = len(columns[0].cells) if columns else 0
    widths = [c.width() for c in columns]
    # Title and caption are lines of their own: a table would wrap them to its width.
    head: list[Any] = [Text(title, style="table.title")] if title else []
    tail: list[Any] = [Text(caption, style="table.caption")] if caption else []
    if width is None or table_width(widths) <= width:
        return [*head, _table(columns, widths, rows, sections), *tail]
    keys = [i for i, c in enumerate(columns) if c.key]
    values = [i for i, c in enumerate(columns) if not c.key]
    widest = max((widths[i] for i in values), default=0)
    # Fold names (never numbers) until the key columns leave room for the widest value column.
    for i in keys:
        over = table_width([widths[k] for k in keys]) + GAP + widest - width
        if columns[i].fold and over > 0:
            floor = max(_MIN_FOLD, cell_len(columns[i].header))
            widths[i] = max(floor, widths[i] - over)
    room = width - table_width([widths[k] for k in keys])
    out: list[Any] = list(head)
    packed = _blocks([widths[i] for i in values], room) if values else [[]]
    for n, block in enumerate(packed):
        chosen = sorted([*keys, *(values[b] for b in block)])
        if n:
            out.append(Text(""))
        out.append(_table([columns[i] for i in chosen], [widths[i] for i in chosen], rows, sections))
    return out + tail
