"""A rich table of many plain one-line rows (the ranking of 1,000 districts), the same text as rich prints for
it at a small part of the cost: rich measures, wraps, pads and aligns every cell of every row on its own
(0.8 s for 1,000 districts, 1.8 s for 3,000), while a row of plain cells that fit their columns is just its
cells padded and joined by the box's vertical lines.

rich still lays the table out and draws everything but the body: it renders the same table (title, header,
columns) with two stand-in rows that have each column's widest cell and each column's longest word, which is
all rich measures a column by, so the columns come out as wide as for the whole table. The stand-in rows as
rich drew them are compared with the same rows joined here; only when they agree, and every cell of the
table fits its column on one line, are the other rows joined here. Anything else (a cell that would wrap or
be cut, a character that is not printable, a box without column junctions in its bottom line such as ASCII,
padding other than one space) is left to rich."""
from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markup import escape
from rich.segment import Segment
from rich.table import Table

NEW_LINE = "\n"


class PlainRowsTable:
    """`rows` (cells as they are to be read, not rich markup) under the title, header and columns of `table`
    (which has no rows itself)."""

    def __init__(self, table: Table, rows: Sequence[Sequence[str]]):
        self.table = table
        self.rows = [list(row) for row in rows]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        shown = [[shown_text(console, text) for text in row] for row in self.rows]
        if not shown or not left_justified(self.table) or not all(text.isprintable() for row in shown for text in row):
            return self._by_rich(console, options)
        picks = stand_in_rows(shown)
        proxy = self._with_rows([[self.rows[index][column] for column, index in enumerate(pick)] for pick in picks])
        segments = list(console.render(proxy, options))
        stand_ins = [[shown[index][column] for column, index in enumerate(pick)] for pick in picks]
        joined = joined_rows(segments, stand_ins, shown)
        return self._by_rich(console, options) if joined is None else joined

    def _by_rich(self, console: Console, options: ConsoleOptions) -> RenderResult:
        return console.render(self._with_rows(self.rows), options)

    def _with_rows(self, rows: Iterable[Sequence[str]]) -> Table:
        table = copy.deepcopy(self.table)  # the columns collect their cells
        for row in rows:
            table.add_row(*map(escape, row))
        return table


def left_justified(table: Table) -> bool:
    """Every column puts its text on the left (the stand-ins could fill their columns whatever the justification)."""
    return all(column.justify == "left" for column in table.columns)


MARKUP_CHARACTERS = frozenset(":[\\")  # what rich's markup, escaping and emoji codes may change


def shown_text(console: Console, text: str) -> str:
    """What rich shows for `text` added as an escaped cell (rich reads ':name:' as an emoji; escaping a
    trailing backslash doubles it)."""
    if MARKUP_CHARACTERS.isdisjoint(text):
        return text
    return console.render_str(escape(text), highlight=False).plain


def measure(text: str) -> tuple[int, int]:
    """rich's measure of a one-line text: its longest word, and its whole width (Text.__rich_measure__)."""
    width = cell_len(text)
    words = text.split()
    return (max(map(cell_len, words)) if words else width), width


def stand_in_rows(rows: list[list[str]]) -> list[list[int]]:
    """Two rows measuring as all `rows` do, as the index of each column's row: the cell with the longest word,
    and the widest cell."""
    columns = list(zip(*rows))
    return [[max(range(len(column)), key=lambda index: measure(column[index])[part]) for column in columns]
            for part in (0, 1)]


def joined_rows(segments: list[Segment], stand_ins: list[list[str]], rows: list[list[str]]) -> list[Segment] | None:
    """rich's rendering of the stand-in table with its two body lines replaced by every row joined here;
    None when rich drew the stand-ins otherwise than they would be joined, or a cell would not fit."""
    ends = [index for index, segment in enumerate(segments) if segment.text == NEW_LINE]
    if len(ends) < 4:
        return None
    first, second, bottom = ends[-4] + 1, ends[-3] + 1, ends[-2] + 1  # where each of the last three lines begins
    border = "".join(segment.text for segment in segments[bottom:ends[-1]])
    widths = column_widths(border, len(stand_ins[0]))
    drawn = [segments[first:ends[-3]], segments[second:ends[-2]]]
    if widths is None or any(segment.style or NEW_LINE in segment.text for line in drawn for segment in line):
        return None
    lines = ["".join(segment.text for segment in line) for line in drawn]
    edges = lines[0][0], separator(lines[0], stand_ins[0], widths), lines[0][-1]
    if [join_row(row, widths, edges) for row in stand_ins] != lines or not all_fit(rows, widths):
        return None
    body = NEW_LINE.join(join_row(row, widths, edges) for row in rows)
    return [*segments[:first], Segment(body), *segments[ends[-2]:]]


def column_widths(border: str, columns: int) -> list[int] | None:
    """Each column's width (padding included) from the bottom border: runs of one line character between the
    corners, split by a junction character."""
    inner = border[1:-1]
    if not inner:
        return None
    line = inner[0]
    widths, run = [], 0
    for character in inner:
        if character == line:
            run += 1
        else:
            widths.append(run)
            run = 0
    widths.append(run)
    return widths if len(widths) == columns and all(width > 2 for width in widths) else None


def separator(line: str, row: list[str], widths: list[int]) -> str:
    """The character between the first and the second column in a drawn row (the first column's cell is
    ' ' + text + spaces + ' ', in characters rather than cells)."""
    first = row[0]
    index = 1 + len(first) + widths[0] - cell_len(first)
    return line[index] if index < len(line) else ""


def join_row(row: list[str], widths: list[int], edges: tuple[str, str, str]) -> str:
    left, middle, right = edges
    return left + middle.join(f" {text}{' ' * (width - 2 - cell_len(text))} " for text, width in zip(row, widths)) + right


def all_fit(rows: list[list[str]], widths: list[int]) -> bool:
    """Every cell fits its column's text width (the width less a space either side)."""
    room = [width - 2 for width in widths]
    return all(cell_len(text) <= space for row in rows for text, space in zip(row, room))
